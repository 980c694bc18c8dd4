// Drives Nango's official Node SDK against a nango-rs `serve` (started by tests/node_sdk.rs with
// the mock provider): every method of the `Nango` class whose feature the service has, with the
// shapes and values of the answers checked, not only their status. Run from the folder where
// the SDK line is installed; the test passes its setup in NANGO_SDK_CHECK_CONFIG.
//
// Prints `ok <check>` per check; on the first failure prints `FAILED <check>` with the reason
// and exits with 1.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Nango } from '@nangohq/node';

const cfg = JSON.parse(process.env.NANGO_SDK_CHECK_CONFIG);
const sdkVersion = JSON.parse(readFileSync(new URL('./node_modules/@nangohq/node/package.json', import.meta.url))).version;
const nango = new Nango({ secretKey: cfg.secretKey, host: cfg.host });
const ACME = { providerConfigKey: 'github-full', connectionId: 'acme' };

// The whole run may not hang the test.
setTimeout(() => {
    console.log('FAILED: the checks did not finish within 120 s');
    process.exit(1);
}, 120_000).unref();

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

/** JavaScript's toISOString: what Nango writes for connection, integration and sync times. */
const MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Postgres' to_json of a timestamptz: what Nango writes in `_nango_metadata`. */
const MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Awaits a call that must fail with `status` (and `code`); gives the error body. */
async function fails(promise, status, code) {
    let response;
    try {
        const value = await promise;
        assert.fail(`expected ${status} ${code ?? ''}, got a success: ${JSON.stringify(value?.data ?? value)}`);
    } catch (e) {
        if (!e.response) throw e;
        response = e.response;
    }
    assert.equal(response.status, status, `status of ${JSON.stringify(response.data)}`);
    if (code) assert.equal(response.data?.error?.code, code, JSON.stringify(response.data));
    return response.data;
}

const sortedKeys = (o) => Object.keys(o).sort();

async function mock(path, init) {
    const res = await fetch(`${cfg.mockUrl}${path}`, init);
    return res.status === 204 ? null : res.json();
}

/** Every record of a model through listRecords, page by page. */
async function allRecords(extra = {}) {
    const out = [];
    let cursor;
    for (let pages = 0; pages < 100; pages++) {
        const page = await nango.listRecords({ ...ACME, model: 'Issue', limit: 40, ...extra, ...(cursor ? { cursor } : {}) });
        assert.deepEqual(sortedKeys(page), ['next_cursor', 'records']);
        out.push(...page.records);
        if (page.next_cursor === null) return out;
        cursor = page.next_cursor;
    }
    assert.fail('more than 100 pages');
}

// ---- Records ----------------------------------------------------------------------------------

let records;
check('listRecords pages to the end (GET /records/ with a trailing slash)', async () => {
    records = await allRecords();
    assert.equal(records.length, cfg.records.total);
    assert.equal(new Set(records.map((r) => r.id)).size, records.length, 'every record once');
    for (const r of records) {
        assert.deepEqual(sortedKeys(r), ['_nango_metadata', 'id', 'number', 'state', 'title', 'updated_at']);
        const m = r._nango_metadata;
        assert.deepEqual(sortedKeys(m), ['cursor', 'deleted_at', 'first_seen_at', 'last_action', 'last_modified_at', 'pruned_at']);
        assert.match(m.first_seen_at, MICROS);
        assert.match(m.last_modified_at, MICROS);
        assert.ok(['ADDED', 'UPDATED', 'DELETED'].includes(m.last_action), m.last_action);
        assert.equal(m.pruned_at, null);
        assert.equal(typeof m.cursor, 'string');
        if (m.last_action === 'DELETED') assert.match(m.deleted_at, MICROS);
        else assert.equal(m.deleted_at, null);
    }
    const updated = records.find((r) => r.id === cfg.records.updatedId);
    assert.equal(updated._nango_metadata.last_action, 'UPDATED');
    assert.equal(updated.title, cfg.records.updatedTitle);
    assert.equal(records.find((r) => r.id === cfg.records.deletedId)._nango_metadata.last_action, 'DELETED');
});

check('listRecords filter (added, updated, deleted, combined, any case)', async () => {
    const ids = async (filter) => (await allRecords({ filter })).map((r) => r.id);
    assert.equal((await ids('added')).length, cfg.records.total - 2);
    assert.deepEqual(await ids('updated'), [cfg.records.updatedId]);
    assert.deepEqual(await ids('UPDATED'), [cfg.records.updatedId]);
    assert.deepEqual(await ids('deleted'), [cfg.records.deletedId]);
    assert.equal((await ids('added,updated')).length, cfg.records.total - 1);
    assert.deepEqual((await ids('updated,deleted')).sort(), [cfg.records.deletedId, cfg.records.updatedId].sort());
});

check('listRecords modifiedAfter and the deprecated delta', async () => {
    const since = records.find((r) => r.id === cfg.records.updatedId)._nango_metadata.last_modified_at;
    const after = await allRecords({ modifiedAfter: since });
    assert.ok(after.length >= 1 && after.length < records.length, `${after.length} records`);
    assert.ok(after.every((r) => r._nango_metadata.last_modified_at >= since));
    assert.ok(after.some((r) => r.id === cfg.records.updatedId));
    assert.deepEqual((await allRecords({ delta: since })).map((r) => r.id), after.map((r) => r.id));
});

check('listRecords ids, cursor and variant', async () => {
    const some = await nango.listRecords({ ...ACME, model: 'Issue', ids: ['1000003', '1000004'] });
    assert.deepEqual(some.records.map((r) => r.id).sort(), ['1000003', '1000004']);
    assert.equal(some.next_cursor, null);
    const next = await nango.listRecords({ ...ACME, model: 'Issue', limit: 1, cursor: records[9]._nango_metadata.cursor });
    assert.equal(next.records[0].id, records[10].id, 'a record cursor resumes after that record');
    assert.equal((await nango.listRecords({ ...ACME, model: 'Issue', variant: 'base', limit: 2 })).records.length, 2);
    await fails(nango.listRecords({ ...ACME, model: 'Issue', variant: 'eu' }), 400, 'invalid_query_params');
});

check('listRecords errors: unknown model, unknown connection', async () => {
    await fails(nango.listRecords({ ...ACME, model: 'Nope' }), 404, 'unknown_model');
    await fails(nango.listRecords({ ...ACME, connectionId: 'nobody', model: 'Issue' }), 404, 'unknown_connection');
});

check('pruneRecords empties payloads up to a cursor', async () => {
    const untilCursor = records[2]._nango_metadata.cursor;
    const prune = (limit) => nango.pruneRecords({ ...ACME, model: 'Issue', untilCursor, ...(limit ? { limit } : {}) });
    assert.deepEqual(await prune(2), { count: 2, has_more: true });
    assert.deepEqual(await prune(), { count: 1, has_more: false });
    assert.deepEqual(await prune(), { count: 0, has_more: false });
    const page = await nango.listRecords({ ...ACME, model: 'Issue', limit: 4 });
    for (const r of page.records.slice(0, 3)) {
        assert.deepEqual(sortedKeys(r), ['_nango_metadata', 'id'], 'only the id stays');
        assert.match(r._nango_metadata.pruned_at, MICROS);
    }
    assert.equal(page.records[3]._nango_metadata.pruned_at, null);
    assert.equal(page.records[3].title, records[3].title);
    await fails(nango.pruneRecords({ ...ACME, model: 'Issue', untilCursor: 'not-a-cursor' }), 400, 'invalid_cursor_value');
});

// ---- Syncs ------------------------------------------------------------------------------------

check('syncStatus', async () => {
    const { syncs } = await nango.syncStatus('github-full', ['issues-full'], 'acme');
    assert.equal(syncs.length, 1);
    const s = syncs[0];
    assert.equal(s.name, 'issues-full');
    assert.equal(s.connection_id, 'acme');
    assert.equal(s.variant, 'base');
    assert.equal(s.status, 'SUCCESS');
    assert.equal(s.type, 'INCREMENTAL');
    assert.equal(s.frequency, 'every hour');
    assert.match(s.finishedAt, MS_Z);
    assert.match(s.nextScheduledSyncAt, MS_Z);
    assert.equal(s.latestExecutionStatus, 'SUCCESS');
    assert.deepEqual(s.recordCount, { Issue: cfg.records.total - 1 });
    assert.deepEqual(sortedKeys(s.latestResult.Issue), ['added', 'deleted', 'updated']);
    const all = await nango.syncStatus('github-full', '*');
    assert.deepEqual(all.syncs.map((x) => x.connection_id).sort(), ['acme', 'other']);
    const named = await nango.syncStatus('github-full', [{ name: 'issues-full', variant: 'base' }], 'acme');
    assert.equal(named.syncs.length, 1);
    await fails(nango.syncStatus('github-full', ['nope'], 'acme'), 404, 'unknown_sync');
});

check('updateSyncConnectionFrequency reports the frequency as it was set', async () => {
    assert.deepEqual(await nango.updateSyncConnectionFrequency('github-full', 'issues-full', 'acme', 'every 2 hours'), {
        frequency: 'every 2 hours',
    });
    assert.equal((await nango.syncStatus('github-full', ['issues-full'], 'acme')).syncs[0].frequency, 'every 2 hours');
    await nango.updateSyncConnectionFrequency('github-full', { name: 'issues-full', variant: 'base' }, 'acme', null);
    assert.equal((await nango.syncStatus('github-full', ['issues-full'], 'acme')).syncs[0].frequency, 'every hour');
    await fails(nango.updateSyncConnectionFrequency('github-full', 'issues-full', 'acme', 'every 10s'), 400, 'invalid_body');
});

check('pauseSync, startSync and triggerSync', async () => {
    const status = async () => (await nango.syncStatus('github-full', ['issues-full'], 'other')).syncs[0].status;
    assert.deepEqual((await nango.pauseSync('github-full', ['issues-full'], 'other')).data, { success: true });
    assert.equal(await status(), 'PAUSED');
    assert.deepEqual((await nango.startSync('github-full', ['issues-full'], 'other')).data, { success: true });
    assert.notEqual(await status(), 'PAUSED');
    assert.deepEqual((await nango.triggerSync('github-full', ['issues-full'], 'other')).data, { success: true });
    assert.deepEqual((await nango.triggerSync('github-full', ['issues-full'], 'other', { reset: false })).data, { success: true });
    assert.deepEqual((await nango.triggerSync('github-full', ['issues-full'], 'other', 'incremental')).data, { success: true });
    await fails(nango.triggerSync('github-full', ['issues-full'], 'other', { emptyCache: true }), 400, 'invalid_body');
    // Quiet from here on: pausing every connection drops pending triggers, and PAUSED shows
    // once no run is going (the proxy checks below count the mock provider's requests).
    await nango.pauseSync('github-full', ['issues-full']);
    for (let i = 0; ; i++) {
        const { syncs } = await nango.syncStatus('github-full', '*');
        if (syncs.every((x) => x.status === 'PAUSED')) break;
        assert.ok(i < 400, `syncs still running: ${JSON.stringify(syncs.map((x) => x.status))}`);
        await new Promise((r) => setTimeout(r, 25));
    }
});

// ---- Connections ------------------------------------------------------------------------------

const SUMMARY_KEYS = ['connection_id', 'created', 'end_user', 'errors', 'id', 'metadata', 'provider', 'provider_config_key', 'tags'];
const FULL_KEYS = [
    'connection_config', 'connection_id', 'created_at', 'credentials', 'end_user', 'errors', 'id', 'last_fetched_at', 'metadata',
    'provider', 'provider_config_key', 'tags', 'updated_at', 'webhook_url_override',
];

check('listConnections', async () => {
    const { connections } = await nango.listConnections();
    const names = connections.map((c) => `${c.provider_config_key}/${c.connection_id}`).sort();
    assert.deepEqual(names, ['github-actions/acme', 'github-actions/oauth-user', 'github-actions/to-delete', 'github-full/acme', 'github-full/other']);
    for (const c of connections) {
        assert.deepEqual(sortedKeys(c), SUMMARY_KEYS);
        assert.equal(typeof c.id, 'number');
        assert.equal(c.provider, 'github');
        assert.deepEqual(c.errors, []);
        assert.match(c.created, MS_Z);
    }
    assert.ok(!JSON.stringify(connections).includes(cfg.token), 'no credentials in lists');
});

check('listConnections filters (both signatures)', async () => {
    assert.deepEqual((await nango.listConnections('nobody')).connections, []);
    const acme = (await nango.listConnections('acme')).connections;
    assert.deepEqual(acme.map((c) => c.provider_config_key).sort(), ['github-actions', 'github-full']);
    assert.equal((await nango.listConnections({ connectionId: 'acme', integrationId: 'github-full' })).connections.length, 1);
    const both = await nango.listConnections({ integrationId: ['github-full', 'github-actions'] });
    assert.equal(both.connections.length, 5);
    assert.equal((await nango.listConnections({ integrationId: 'github-full', limit: 1, page: 1 })).connections[0].connection_id, 'other');
    assert.equal((await nango.listConnections(undefined, 'oauth')).connections[0].connection_id, 'oauth-user');
});

check('patchConnection sets tags and the end user; filters find them', async () => {
    const patched = await nango.patchConnection(
        { connectionId: 'other', provider_config_key: 'github-full' },
        { tags: { team: 'core' }, end_user: { id: 'user-1', email: 'one@acme.test', display_name: 'User One' } },
    );
    assert.deepEqual(patched, { success: true });
    const byTag = (await nango.listConnections({ tags: { team: 'core' } })).connections;
    assert.deepEqual(byTag.map((c) => c.connection_id), ['other']);
    assert.deepEqual(byTag[0].end_user, { id: 'user-1', email: 'one@acme.test', display_name: 'User One', tags: null, organization: null });
    assert.deepEqual(byTag[0].tags, {
        team: 'core', end_user_id: 'user-1', end_user_email: 'one@acme.test', end_user_display_name: 'User One',
    });
    assert.equal((await nango.listConnections({ userId: 'user-1' })).connections[0].connection_id, 'other');
    assert.equal((await nango.listConnections({ tags: { email: 'one@acme.test', displayName: 'User One' } })).connections.length, 1);
    assert.equal((await nango.listConnections(undefined, 'user one')).connections[0].connection_id, 'other');
    assert.equal((await nango.listConnections(undefined, undefined, { endUserId: 'user-1' })).connections.length, 1);
    assert.equal((await nango.waitForConnection('github-full', 'user-1')).connection_id, 'other');
    await fails(
        nango.patchConnection({ connectionId: 'other', provider_config_key: 'github-full' }, { webhook_url_override: 'https://x.test' }),
        400,
        'invalid_body',
    );
    const bad = await fails(nango.patchConnection({ connectionId: 'other', provider_config_key: 'github-full' }, { tagz: {} }), 400, 'invalid_body');
    assert.match(bad.error.message, /tagz/);
    await fails(nango.patchConnection({ connectionId: 'other', provider_config_key: 'github-actions' }, { tags: {} }), 404, 'unknown_connection');
});

check('getConnection: Nango\'s shape, credentials, another integration\'s connection is 404', async () => {
    const c = await nango.getConnection('github-full', 'acme');
    assert.deepEqual(sortedKeys(c), FULL_KEYS);
    assert.deepEqual(c.credentials, { type: 'API_KEY', apiKey: cfg.token });
    assert.match(c.created_at, MS_Z);
    assert.match(c.updated_at, MS_Z);
    assert.match(c.last_fetched_at, MS_Z);
    assert.deepEqual(c.connection_config, {});
    assert.equal(c.metadata.owner, 'octocat');
    assert.equal(c.webhook_url_override, null);
    await fails(nango.getConnection('github-actions', 'other'), 404, 'unknown_connection');
    await fails(nango.getConnection('github-full', 'nobody'), 404, 'unknown_connection');
});

check('getToken and getRawTokenResponse', async () => {
    assert.deepEqual(await nango.getToken('github-full', 'acme'), { type: 'API_KEY', apiKey: cfg.token });
    assert.equal(await nango.getToken('github-actions', 'oauth-user'), cfg.token);
    const raw = await nango.getRawTokenResponse('github-actions', 'oauth-user');
    assert.equal(raw.access_token, cfg.token);
    assert.equal(raw.token_type, 'bearer');
    assert.equal(raw.refresh_token, undefined, 'no refresh token unless asked for');
});

check('getConnection with forceRefresh and refreshToken refreshes through the provider', async () => {
    const before = (await mock('/_mock/stats')).token_refreshes;
    const c = await nango.getConnection('github-actions', 'oauth-user', true, true);
    assert.equal(c.credentials.type, 'OAUTH2');
    assert.notEqual(c.credentials.access_token, cfg.token);
    assert.equal(typeof c.credentials.refresh_token, 'string');
    assert.match(c.credentials.expires_at, MS_Z);
    assert.deepEqual(c.credentials.config_override, { client_id: 'app-client', client_secret: 'app-secret' });
    assert.equal((await mock('/_mock/stats')).token_refreshes, before + 1);
    const again = await nango.getConnection('github-actions', 'oauth-user');
    assert.equal(again.credentials.access_token, c.credentials.access_token, 'the new tokens were kept');
    assert.equal(again.credentials.refresh_token, undefined);
    assert.equal((await mock('/_mock/stats')).token_refreshes, before + 1, 'no refresh without a reason');
});

check('getMetadata, setMetadata (replace) and updateMetadata (merge), one connection or several', async () => {
    const repo = { owner: 'octocat', repo: 'hello-world', per_page: 50 };
    const set = await nango.setMetadata('github-full', 'other', { ...repo, note: 'first' });
    assert.equal(set.status, 201);
    assert.deepEqual(set.data, { metadata: { ...repo, note: 'first' }, connection_id: 'other', provider_config_key: 'github-full' });
    assert.deepEqual(await nango.getMetadata('github-full', 'other'), { ...repo, note: 'first' });
    const updated = await nango.updateMetadata('github-full', ['acme', 'other'], { label: 'shared' });
    assert.equal(updated.status, 200);
    assert.deepEqual(await nango.getMetadata('github-full', 'acme'), { ...repo, label: 'shared' });
    assert.deepEqual(await nango.getMetadata('github-full', 'other'), { ...repo, note: 'first', label: 'shared' });
    await fails(nango.setMetadata('github-full', ['acme', 'nobody'], { x: 1 }), 404, 'unknown_connection');
    assert.deepEqual(await nango.getMetadata('github-full', 'acme'), { ...repo, label: 'shared' }, 'nothing changed');
    await nango.setMetadata('github-full', ['acme', 'other'], repo);
    assert.deepEqual(await nango.getMetadata('github-full', 'other'), repo);
});

check('deleteConnection', async () => {
    const res = await nango.deleteConnection('github-actions', 'to-delete');
    assert.equal(res.status, 200);
    assert.deepEqual(res.data, { success: true });
    await fails(nango.getConnection('github-actions', 'to-delete'), 404, 'unknown_connection');
    await fails(nango.deleteConnection('github-actions', 'to-delete'), 404, 'unknown_connection');
});

// ---- Integrations and providers ---------------------------------------------------------------

const INTEGRATION_KEYS = ['created_at', 'display_name', 'forward_webhooks', 'logo', 'provider', 'unique_key', 'updated_at'];

check('listIntegrations lists those nango.yaml declares', async () => {
    const { configs } = await nango.listIntegrations();
    const keys = configs.map((i) => i.unique_key);
    for (const key of ['github', 'github-actions', 'github-full']) assert.ok(keys.includes(key), `${key} in ${keys}`);
    for (const i of configs) {
        assert.deepEqual(sortedKeys(i), INTEGRATION_KEYS);
        assert.match(i.created_at, MS_Z);
    }
    const full = configs.find((i) => i.unique_key === 'github-full');
    assert.equal(full.provider, 'github', 'the provider of its connections');
    assert.equal(full.display_name, 'GitHub (User OAuth)', "the catalog's name of the provider");
});

check('createIntegration, getIntegration, updateIntegration, deleteIntegration', async () => {
    const credentials = { type: 'OAUTH2', client_id: 'client-1', client_secret: 'secret-1', scopes: 'repo,user' };
    const created = await nango.createIntegration({ provider: 'github', unique_key: 'github-app', display_name: 'GitHub app', credentials });
    assert.deepEqual(sortedKeys(created.data), INTEGRATION_KEYS);
    assert.equal(created.data.display_name, 'GitHub app');
    const plain = await nango.getIntegration({ uniqueKey: 'github-app' });
    assert.equal(plain.data.credentials, undefined, 'credentials only when included');
    const withCredentials = await nango.getIntegration({ uniqueKey: 'github-app' }, { include: ['credentials'] });
    assert.deepEqual(withCredentials.data.credentials, { ...credentials, webhook_secret: null });
    const webhook = await nango.getIntegration({ uniqueKey: 'github-app' }, { include: ['webhook'] });
    assert.equal(webhook.data.webhook_url, null);

    const changed = await nango.updateIntegration(
        { uniqueKey: 'github-app' },
        { display_name: 'Renamed app', credentials: { ...credentials, client_secret: 'secret-2' } },
    );
    assert.equal(changed.data.display_name, 'Renamed app');
    const after = await nango.getIntegration({ uniqueKey: 'github-app' }, { include: ['credentials'] });
    assert.equal(after.data.credentials.client_secret, 'secret-2');
    const moved = await nango.updateIntegration({ uniqueKey: 'github-app' }, { unique_key: 'github-app-2' });
    assert.equal(moved.data.unique_key, 'github-app-2');
    await fails(nango.getIntegration({ uniqueKey: 'github-app' }), 404, 'not_found');

    await fails(nango.createIntegration({ provider: 'github', unique_key: 'github-app-2', credentials }), 400, 'invalid_body');
    await fails(nango.createIntegration({ provider: 'no-such-provider', unique_key: 'x', credentials }), 400, 'invalid_body');
    await fails(nango.createIntegration({ provider: 'github', unique_key: 'y' }), 400, 'invalid_body');
    const typed = await fails(nango.createIntegration({ provider: 'github', unique_key: 'z', credentials: { ...credentials, type: 'OAUTH1' } }), 400, 'invalid_body');
    assert.match(typed.error.message, /OAUTH2/);
    const unknown = await fails(nango.createIntegration({ provider: 'github', unique_key: 'w', credentials, colour: 'red' }), 400, 'invalid_body');
    assert.match(unknown.error.message, /colour/);
    await fails(nango.updateIntegration({ uniqueKey: 'github-full' }, { unique_key: 'renamed' }), 400, 'invalid_body');

    const deleted = await nango.deleteIntegration('github-app-2');
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.data, { success: true });
    await fails(nango.getIntegration({ uniqueKey: 'github-app-2' }), 404, 'not_found');
    const declared = await nango.getIntegration({ uniqueKey: 'github-actions' }, { include: ['credentials'] });
    assert.equal(declared.data.credentials, null);
});

check('listProviders and getProvider', async () => {
    const { data } = await nango.listProviders();
    const github = data.find((p) => p.name === 'github');
    assert.equal(github.auth_mode, 'OAUTH2');
    assert.equal(github.proxy.base_url, 'https://api.github.com');
    assert.deepEqual((await nango.listProviders({ search: 'personal access' })).data.map((p) => p.name), ['github-pat']);
    assert.equal((await nango.getProvider({ provider: 'github-pat' })).data.auth_mode, 'API_KEY');
    await fails(nango.getProvider({ provider: 'nope' }), 404, 'not_found');
});

check('getScriptsConfig (nango and openai formats)', async () => {
    const configs = await nango.getScriptsConfig();
    assert.ok(Array.isArray(configs));
    const full = configs.find((c) => c.providerConfigKey === 'github-full');
    assert.equal(full.provider, 'github');
    assert.deepEqual(full.actions, []);
    assert.deepEqual(full['on-events'], []);
    const sync = full.syncs.find((s) => s.name === 'issues-full');
    assert.equal(sync.type, 'sync');
    assert.equal(sync.runs, 'every hour');
    assert.equal(sync.sync_type, 'full');
    assert.equal(sync.track_deletes, true);
    assert.deepEqual(sync.returns, ['Issue']);
    assert.equal(sync.input, 'Repo');
    assert.deepEqual(sync.endpoints, [{ method: 'GET', path: '/issues/full' }]);
    assert.equal(sync.json_schema.definitions.Issue.type, 'object');
    const action = configs.find((c) => c.providerConfigKey === 'github-actions').actions[0];
    assert.equal(action.name, 'create-issue');
    assert.deepEqual(action.endpoints, [{ method: 'POST', path: '/issues' }]);
    const openai = await nango.getScriptsConfig('openai');
    const names = openai.data.map((f) => f.name);
    assert.ok(names.includes('issues-full') && names.includes('create-issue'), `${names}`);
    assert.deepEqual(openai.data.find((f) => f.name === 'create-issue').parameters.type, 'object');
});

// ---- Actions ----------------------------------------------------------------------------------

const issueInput = (title, fail) => ({ owner: 'octocat', repo: 'hello-world', title, ...(fail ? { fail } : {}) });

check('triggerAction: the output, or Nango\'s error shapes', async () => {
    const out = await nango.triggerAction('github-actions', 'acme', 'create-issue', issueInput('Made by an action'));
    assert.deepEqual(sortedKeys(out), ['number', 'state', 'title']);
    assert.deepEqual([out.title, out.state], ['Made by an action', 'open']);
    const failed = await fails(nango.triggerAction('github-actions', 'acme', 'create-issue', issueInput('x', true)), 500, 'action_script_runtime_error');
    assert.deepEqual(failed.error.payload, { code: 'refused', title: 'x' });
    const invalid = await fails(nango.triggerAction('github-actions', 'acme', 'create-issue', { owner: 'o' }), 400, 'invalid_action_input');
    assert.ok(invalid.error.message.includes('repo'), invalid.error.message);
    await fails(nango.triggerAction('github-actions', 'acme', 'nope', {}), 404, 'unknown_action');
});

/** Polls an async action's result until it is not a 404 any more. */
async function settle(props) {
    for (let i = 0; i < 200; i++) {
        try {
            return { status: 200, data: await nango.getAsyncActionResult(props) };
        } catch (e) {
            if (e.response?.status !== 404) return { status: e.response?.status, data: e.response?.data };
            assert.equal(e.response.data.error.code, 'not_found');
        }
        await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail('the action did not complete');
}

check('triggerActionAsync and getAsyncActionResult', async () => {
    const started = await nango.triggerActionAsync('github-actions', 'acme', 'create-issue', issueInput('Made in the background'));
    assert.deepEqual(sortedKeys(started), ['id', 'statusUrl']);
    assert.match(started.id, UUID);
    assert.equal(started.statusUrl, `/action/${started.id}`);
    const byId = await settle({ id: started.id });
    assert.equal(byId.status, 200);
    assert.deepEqual([byId.data.title, byId.data.state], ['Made in the background', 'open']);
    assert.deepEqual(await nango.getAsyncActionResult({ statusUrl: started.statusUrl }), byId.data);

    const failing = await nango.triggerActionAsync('github-actions', 'acme', 'create-issue', issueInput('no', true));
    const failed = await settle({ id: failing.id });
    assert.equal(failed.status, 500);
    assert.equal(failed.data.error.code, 'action_script_runtime_error');
    assert.deepEqual(failed.data.error.payload, { code: 'refused', title: 'no' });

    await fails(nango.getAsyncActionResult({ id: '00000000-0000-4000-8000-000000000000' }), 404, 'not_found');
    await fails(nango.getAsyncActionResult({ id: 'not-a-uuid' }), 400, 'invalid_uri_params');
});

// ---- Proxy ------------------------------------------------------------------------------------

check('proxy GET with query parameters, the provider\'s headers passed on', async () => {
    const res = await nango.get({ ...ACME, endpoint: '/repos/octocat/hello-world/issues', params: { per_page: '5', state: 'all' } });
    assert.equal(res.status, 200);
    assert.equal(res.data.length, 5);
    assert.match(res.headers.link, /rel="next"/);
    assert.match(res.headers['content-type'], /application\/json/);
});

check('proxy forwards Nango-Proxy-* headers and never gives the credentials back', async () => {
    const res = await nango.get({ ...ACME, endpoint: '/echo/seen', headers: { 'X-Custom': 'v1' } });
    assert.equal(res.data.path, '/echo/seen');
    assert.equal(res.data.headers['x-custom'], 'v1');
    assert.equal(res.data.headers.authorization, 'Bearer ***', 'the token the proxy put on is taken out');
    assert.ok(!JSON.stringify(res.data).includes(cfg.token));
    assert.ok(!JSON.stringify(res.headers).includes(cfg.token));
    assert.equal(res.data.headers['nango-is-sync'], undefined, 'Nango\'s own headers stay here');
});

check('proxy PUT, PATCH, DELETE with bodies', async () => {
    for (const [call, method] of [[nango.put, 'PUT'], [nango.patch, 'PATCH'], [nango.delete, 'DELETE']]) {
        const res = await call.call(nango, { ...ACME, endpoint: '/echo', data: { a: 1 } });
        assert.equal(res.data.method, method);
        assert.deepEqual(JSON.parse(res.data.body), { a: 1 });
        assert.match(res.data.headers['content-type'], /application\/json/);
    }
});

check('proxy retries a 429 when asked (GET and POST), and passes it on when not', async () => {
    await mock('/_mock/faults', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rate_limit_rate: 1, max_consecutive: 1, retry_after: { seconds: 0 } }),
    });
    try {
        await mock('/_mock/reset-stats', { method: 'POST' });
        const user = await nango.get({ ...ACME, endpoint: '/user', retries: 2 });
        assert.deepEqual(user.data, { login: 'octocat', id: 1 });
        let stats = await mock('/_mock/stats');
        assert.equal(stats.injected_429, 1);
        const created = await nango.post({ ...ACME, endpoint: '/repos/octocat/hello-world/issues', data: { title: 'Through the proxy' }, retries: 2 });
        assert.equal(created.status, 201);
        assert.equal(created.data.title, 'Through the proxy');
        stats = await mock('/_mock/stats');
        assert.equal(stats.injected_429, 2);
        const limited = await fails(nango.get({ ...ACME, endpoint: '/user' }), 429);
        assert.match(JSON.stringify(limited), /rate limit/i);
        await fails(nango.get({ ...ACME, endpoint: '/user', retries: 11 }), 400, 'invalid_headers');
    } finally {
        await mock('/_mock/faults', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    }
});

check('proxy baseUrlOverride, retryOn and an OAuth connection', async () => {
    const res = await nango.get({ ...ACME, endpoint: '/repos/octocat/hello-world/issues', baseUrlOverride: `${cfg.mockUrl}/offset`, params: { limit: '3' } });
    assert.equal(res.data.issues.length, 3);
    await mock('/_mock/reset-stats', { method: 'POST' });
    await fails(nango.get({ ...ACME, endpoint: '/repos/octocat/hello-world/issues/999999', retryOn: [404], retries: 1 }), 404);
    assert.equal((await mock('/_mock/stats')).requests, 2, 'Retry-On retried the 404 once');
    const user = await nango.get({ endpoint: '/user', providerConfigKey: 'github-actions', connectionId: 'oauth-user' });
    assert.equal(user.data.login, 'octocat');
});

check('proxy never follows a redirect, refuses unknown connections', async () => {
    const refused = await fails(nango.get({ ...ACME, endpoint: '/redirect', params: { to: `${cfg.elsewhereUrl}/steal` } }), 502, 'redirect_not_followed');
    assert.ok(refused.error.message.includes(cfg.elsewhereUrl), refused.error.message);
    await fails(nango.get({ ...ACME, connectionId: 'nobody', endpoint: '/user' }), 404, 'unknown_connection');
    await fails(nango.get({ providerConfigKey: 'github-actions', connectionId: 'other', endpoint: '/user' }), 404, 'unknown_connection');
});

// ---- Auth, webhooks, what is not supported ----------------------------------------------------

check('a wrong key is 401 on every route, known or not', async () => {
    const wrong = new Nango({ secretKey: 'not-the-key', host: cfg.host });
    await fails(wrong.listRecords({ ...ACME, model: 'Issue' }), 401, 'unknown_account');
    await fails(wrong.getConnection('github-full', 'acme'), 401, 'unknown_account');
    await fails(wrong.listIntegrations(), 401, 'unknown_account');
    await fails(wrong.get({ ...ACME, endpoint: '/user' }), 401, 'unknown_account');
    await fails(wrong.getEnvironmentVariables(), 401, 'unknown_account');
    if (sdkVersion.startsWith('0.71.')) {
        const byApiKey = new Nango({ apiKey: cfg.secretKey, host: cfg.host });
        assert.ok((await byApiKey.listIntegrations()).configs.length > 0, 'apiKey is the secret key too');
    }
});

check('webhook signatures verify with the SDK', async () => {
    const { headers, body } = cfg.webhook;
    const verifier = new Nango({ secretKey: cfg.secretKey, host: cfg.host });
    assert.equal(verifier.verifyIncomingWebhookRequest(body, headers), true);
    assert.equal(verifier.verifyIncomingWebhookRequest(body.replace('"sync"', '"syncx"'), headers), false);
    assert.equal(verifier.verifyWebhookSignature(headers['x-nango-signature'], JSON.parse(body)), true);
    assert.equal(JSON.parse(body).type, 'sync');
});

check('createConnectSession and createReconnectSession give session tokens', async () => {
    const session = await nango.createConnectSession({ end_user: { id: 'sdk-user', email: 'sdk@example.com' }, allowed_integrations: ['github-actions'] });
    assert.match(session.data.token, /^nango_connect_session_/);
    assert.ok(new Date(session.data.expires_at) > new Date());
    assert.ok(session.data.connect_link.includes('/connect/ui?session_token='));
    const reconnect = await nango.createReconnectSession({ connection_id: 'acme', integration_id: 'github-actions' });
    assert.match(reconnect.data.token, /^nango_connect_session_/);
    await fails(nango.createConnectSession({ end_user: { id: 'u' }, allowed_integrations: ['nope'] }), 400, 'invalid_body');
    await fails(nango.createReconnectSession({ connection_id: 'nobody', integration_id: 'github-actions' }), 404, 'unknown_connection');
});

check('methods without a feature here answer 404 unknown_route (or 405)', async () => {
    await fails(nango.getEnvironmentVariables(), 404, 'unknown_route');
    await fails(nango.createSyncVariant({ provider_config_key: 'github-full', connection_id: 'acme', name: 'issues-full', variant: 'eu' }), 404, 'unknown_route');
    if (sdkVersion.startsWith('0.71.')) {
        await fails(nango.listFunctions({ uniqueKey: 'github-full' }), 404, 'unknown_route');
        // POST on an integration's path: no quick-start integrations (Nango's shared apps) here.
        await fails(nango.createQuickstartIntegration({ provider: 'github', unique_key: 'q' }), 405, 'method_not_allowed');
    }
});

// ---- Run --------------------------------------------------------------------------------------

console.log(`@nangohq/node ${sdkVersion} against ${cfg.host}`);
for (const { name, fn } of checks) {
    try {
        await fn();
        console.log(`ok ${name}`);
    } catch (e) {
        console.log(`FAILED ${name}`);
        console.log(e?.stack ?? String(e));
        if (e?.response) console.log(`answer: ${e.response.status} ${JSON.stringify(e.response.data)}`);
        process.exit(1);
    }
}
console.log(`all checks passed (${checks.length})`);
