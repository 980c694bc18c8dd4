//! The store on real SQLite files and real PostgreSQL databases (every test that is not about
//! SQLite's files or schema history runs on both: `on_both_backends!`): change detection and counts, duplicates, deletion
//! detection generations, record pages and cursors, pruning, encrypted credentials (of
//! connections and integrations), what Nango's API keeps besides (metadata of several connections
//! at once, tags, background action results), and databases made by earlier versions (the
//! `PRAGMA user_version` schema).

use nango_runtime::crypto::{CryptoError, Sealer};
use nango_runtime::store::*;
use nango_runtime::{Connection, Credentials, RecordChange, Secret};
use nango_types::text::error_chain;
use serde_json::{Value, json};

#[macro_use]
#[path = "support/db.rs"]
mod db;
use db::{Backend, TestDb};

on_both_backends!(
    counts_follow_what_changed,
    duplicates_in_a_run_count_once_and_the_last_wins,
    a_record_unchanged_then_changed_in_one_run_is_one_update,
    batch_update_deep_merges,
    unseen_records_are_deleted_only_for_the_current_generation,
    pages_return_every_record_once_with_filters,
    credentials_are_encrypted_at_rest,
    pruned_records_keep_their_id_and_come_back_when_saved_again,
    integrations_are_sealed_renamed_and_deleted,
    metadata_of_several_connections_changes_at_once_or_not_at_all,
    connections_are_read_with_their_keys,
    console_sessions_are_kept_found_by_digest_and_expire,
    keys_and_run_ids_of_deleted_connections_are_never_handed_out_again,
    one_key_per_store_checked_on_save_isolated_on_read_and_rotated_at_once,
    integrations_app_credentials_share_the_store_key_and_its_rotation,
    a_lease_has_one_holder_until_it_lapses_and_only_then_its_run_is_closed,
    pages_neither_skip_nor_repeat_while_writers_overwrite_the_same_records,
    a_batch_its_checkpoint_and_the_run_s_progress_commit_together_or_not_at_all,
    page_validators_are_kept_per_url_forgotten_when_unused_and_cleared_by_a_reset,
    pages_by_name_are_the_pages_by_key_and_the_api_body_is_their_text,
);

async fn store(db: &TestDb, sealer: Sealer) -> Store {
    Store::open(&db.url(), sealer).await.unwrap()
}

async fn connection(store: &Store) -> ConnectionKey {
    store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap()
}

fn records_of(values: &[Value]) -> Vec<PreparedRecord> {
    values.iter().map(|v| PreparedRecord::new("Ticket", v.clone()).unwrap()).collect()
}

/// The end of a successful full run: its date advanced, its checkpoint cleared.
fn succeeded() -> RunEnd {
    RunEnd {
        status: RunStatus::Success,
        counts: Default::default(),
        error: None,
        advance_last_sync_date: true,
        clear_checkpoint: true,
    }
}

fn counts(added: u64, updated: u64, deleted: u64) -> ChangeCounts {
    ChangeCounts { added, updated, deleted }
}

async fn all(store: &Store, conn: ConnectionKey, mut query: RecordQuery) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    loop {
        let page = store.records(conn, &query).await.unwrap();
        out.extend(page.records);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
}

fn query(limit: u32) -> RecordQuery {
    RecordQuery { model: "Ticket".into(), limit, ..Default::default() }
}

async fn counts_follow_what_changed(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;

    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let first = [json!({"id": 1, "title": "a"}), json!({"id": 2, "title": "b"}), json!({"id": "3", "title": "c"})];
    let c = store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&first)).await.unwrap();
    assert_eq!(c, counts(3, 0, 0));

    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    // Same content, keys in another order: unchanged.
    let same = [json!({"title": "a", "id": 1}), json!({"id": 2, "title": "b"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&same)).await.unwrap(), counts(0, 0, 0));
    let changed = [json!({"id": 2, "title": "B"})];
    assert_eq!(
        store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&changed)).await.unwrap(),
        counts(0, 1, 0)
    );
    let gone = [json!({"id": 3}), json!({"id": 99})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Delete, records_of(&gone)).await.unwrap(), counts(0, 0, 1));

    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let back = [json!({"id": "3", "title": "c"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&back)).await.unwrap(), counts(1, 0, 0));

    let stored = all(&store, conn, query(100)).await;
    let actions: Vec<(&str, &str)> = stored.iter().map(|r| (r.id.as_str(), r.metadata.last_action.as_str())).collect();
    assert_eq!(actions, [("1", "ADDED"), ("2", "UPDATED"), ("3", "ADDED")]);
    assert_eq!(store.record_counts(conn).await.unwrap()["Ticket"], 3);
}

async fn duplicates_in_a_run_count_once_and_the_last_wins(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let batch = [json!({"id": 1, "title": "first"}), json!({"id": 1, "title": "second"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&batch)).await.unwrap(), counts(1, 0, 0));
    // Again in a later batch of the same run: still one added record, with the last content.
    let later = [json!({"id": 1, "title": "third"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&later)).await.unwrap(), counts(0, 0, 0));
    let stored = all(&store, conn, query(10)).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data()["title"], "third");
    assert_eq!(stored[0].metadata.last_action, "ADDED");
}

/// With deletion detection a run marks the unchanged records it sees; a record it saw unchanged
/// and then changed in a later batch (it changed at the provider while the run paged) is still
/// this run's update: counted once, stored as `UPDATED`, not as the `ADDED` of an earlier run.
async fn a_record_unchanged_then_changed_in_one_run_is_one_update(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let first = store.begin_run(conn, "tickets", true).await.unwrap();
    let base = [json!({"id": 1, "title": "first"}), json!({"id": 2, "title": "first"})];
    store.apply(first.ids, "Ticket", RecordChange::Save, records_of(&base)).await.unwrap();
    store.finish_run(&first, "tickets", &succeeded()).await.unwrap();

    let run = store.begin_run(conn, "tickets", true).await.unwrap();
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&base)).await.unwrap(), counts(0, 0, 0));
    let changed = [json!({"id": 1, "title": "second"})];
    assert_eq!(
        store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&changed)).await.unwrap(),
        counts(0, 1, 0)
    );
    // Once more in the same run: already counted.
    let again = [json!({"id": 1, "title": "third"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&again)).await.unwrap(), counts(0, 0, 0));
    // Marked seen, then seen unchanged again: nothing to count, and it is not swept.
    assert_eq!(
        store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&base[1..])).await.unwrap(),
        counts(0, 0, 0)
    );
    assert_eq!(store.sweep_unseen(run.ids, "Ticket").await.unwrap(), 0);
    let stored = all(&store, conn, query(10)).await;
    let one = stored.iter().find(|r| r.id == "1").unwrap();
    assert_eq!(one.data()["title"], "third");
    assert_eq!(one.metadata.last_action, "UPDATED");
    let two = stored.iter().find(|r| r.id == "2").unwrap();
    assert_eq!(two.metadata.last_action, "ADDED");
    assert_eq!(stored.len(), 2);
}

async fn batch_update_deep_merges(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let base = [json!({"id": 1, "user": {"login": "a", "id": 7}, "labels": ["x", "y"]})];
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&base)).await.unwrap();
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let patch = [json!({"id": 1, "user": {"login": "b"}, "labels": ["z"]}), json!({"id": 2, "title": "not stored"})];
    assert_eq!(
        store.apply(run.ids, "Ticket", RecordChange::Update, records_of(&patch)).await.unwrap(),
        counts(0, 1, 0)
    );
    let stored = all(&store, conn, query(10)).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data(), json!({"id": 1, "user": {"login": "b", "id": 7}, "labels": ["z"]}));
}

async fn unseen_records_are_deleted_only_for_the_current_generation(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", true).await.unwrap();
    let three = [json!({"id": 1}), json!({"id": 2}), json!({"id": 3})];
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&three)).await.unwrap();
    assert_eq!(store.sweep_unseen(run.ids, "Ticket").await.unwrap(), 0);
    store.finish_run(&run, "tickets", &succeeded()).await.unwrap();

    // A run sees 1 and saves a checkpoint, then dies (stays RUNNING).
    let interrupted = store.begin_run(conn, "tickets", true).await.unwrap();
    store.apply(interrupted.ids, "Ticket", RecordChange::Save, records_of(&[json!({"id": 1})])).await.unwrap();
    store.save_checkpoint(conn, "tickets", Some(&json!({"page": 2}))).await.unwrap();

    // The next run resumes: same generation, so record 1 (seen before the crash) survives.
    let resumed = store.begin_run(conn, "tickets", true).await.unwrap();
    assert_eq!(resumed.ids.epoch, interrupted.ids.epoch);
    assert_eq!(resumed.checkpoint, Some(json!({"page": 2})));
    assert!(resumed.last_sync_date.is_some());
    store.apply(resumed.ids, "Ticket", RecordChange::Save, records_of(&[json!({"id": 2})])).await.unwrap();
    assert_eq!(store.sweep_unseen(resumed.ids, "Ticket").await.unwrap(), 1);
    let live: Vec<String> = store.live_ids(conn, "Ticket").await.unwrap();
    assert_eq!(live.len(), 2);
    assert!(!live.contains(&"3".to_string()));

    let history = store.runs(Some(conn), Some("tickets"), 10).await.unwrap();
    assert_eq!(history[1].status, RunStatus::Failed);
    assert!(history[1].error.as_deref().unwrap().contains("interrupted"));
}

async fn pages_return_every_record_once_with_filters(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let many: Vec<Value> = (0..250).map(|i| json!({"id": i, "n": i})).collect();
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&many)).await.unwrap();
    let before_changes = chrono::Utc::now();
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let changed: Vec<Value> = (0..10).map(|i| json!({"id": i, "n": -i - 1})).collect();
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&changed)).await.unwrap();
    store.apply(run.ids, "Ticket", RecordChange::Delete, records_of(&[json!({"id": 20})])).await.unwrap();

    let every = all(&store, conn, query(33)).await;
    let mut ids: Vec<String> = every.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((every.len(), ids.len()), (250, 250));
    // Modification order: the changed and deleted records come last.
    assert_eq!(every.last().unwrap().id, "20");

    let mut recent = query(100);
    recent.modified_after = Some(before_changes);
    assert_eq!(all(&store, conn, recent).await.len(), 11);
    let mut updated = query(100);
    updated.filter = Some(ActionFilter::parse("updated").unwrap());
    assert_eq!(all(&store, conn, updated).await.len(), 10);
    let mut deleted = query(100);
    deleted.filter = Some(ActionFilter::parse("deleted").unwrap());
    let deleted = all(&store, conn, deleted).await;
    assert_eq!(deleted[0].to_json()["_nango_metadata"]["last_action"], "DELETED");
    let mut some = query(100);
    some.ids = vec!["5".into(), "6".into(), "nope".into()];
    assert_eq!(all(&store, conn, some).await.len(), 2);

    // A record's own cursor resumes just after it.
    let mut after = query(1000);
    after.cursor = Some(every[99].metadata.cursor.clone());
    assert_eq!(store.records(conn, &after).await.unwrap().records.len(), 150);
    let mut bad = query(10);
    bad.cursor = Some("bm9wZQ==".into());
    assert!(store.records(conn, &bad).await.unwrap_err().to_string().contains("invalid cursor"));
}

async fn credentials_are_encrypted_at_rest(db: TestDb) {
    let key = Sealer::generate_key();
    let token = "ghp_THIS_IS_A_VERY_SECRET_TOKEN";
    {
        let store = store(&db, Sealer::from_base64(&key).unwrap()).await;
        let mut c = Connection::new("github", "acme", "github");
        c.credentials = Credentials::Bearer { token: Secret::new(token) };
        store.save_connection(&c).await.unwrap();
        let back = store.connection("github", "acme").await.unwrap().unwrap();
        assert_eq!(back.connection.credentials, c.credentials);
        assert!(!format!("{back:?}").contains(token));
        store.close().await;
    }
    assert!(!db.contains(token.as_bytes()).await, "the token is stored in clear");
    let wrong = store(&db, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await;
    let e = wrong.connection("github", "acme").await.unwrap_err();
    assert!(matches!(e, StoreError::Unseal { source: CryptoError::WrongKey, .. }), "{e:?}");
    assert!(error_chain(&e).contains("not the key"), "{}", error_chain(&e));
    let none = store(&db, Sealer::NoKey).await;
    let mut c = Connection::new("github", "other", "github");
    c.credentials = Credentials::Bearer { token: Secret::new("x") };
    let e = none.save_connection(&c).await.unwrap_err();
    assert!(matches!(e, StoreError::Seal { source: CryptoError::NoKey, .. }), "{e:?}");
    assert!(error_chain(&e).contains("NANGO_ENCRYPTION_KEY"), "{}", error_chain(&e));
}

async fn pruned_records_keep_their_id_and_come_back_when_saved_again(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let first = [json!({"id": 1, "title": "a"}), json!({"id": 2, "title": "b"}), json!({"id": 3, "title": "c"})];
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&first)).await.unwrap();
    let records = all(&store, conn, query(10)).await;
    let cursor = |i: usize| records[i].metadata.cursor.clone();

    // Up to the second record, one at a time, oldest first.
    let pruned = store.prune(conn, "Ticket", &cursor(1), 1).await.unwrap();
    assert_eq!((pruned.count, pruned.last_cursor), (1, Some(cursor(0))));
    let pruned = store.prune(conn, "Ticket", &cursor(1), 1000).await.unwrap();
    assert_eq!((pruned.count, pruned.last_cursor), (1, Some(cursor(1))));
    assert_eq!(store.prune(conn, "Ticket", &cursor(1), 1000).await.unwrap().count, 0);
    assert!(matches!(store.prune(conn, "Ticket", "nope", 1).await, Err(StoreError::InvalidCursor { .. })));

    let after = all(&store, conn, query(10)).await;
    assert_eq!(after[0].data(), json!({"id": "1"}), "only the id stays");
    assert!(after[0].metadata.pruned_at.is_some() && after[1].metadata.pruned_at.is_some());
    assert_eq!((after[2].data()["title"].as_str(), after[2].metadata.pruned_at), (Some("c"), None));
    assert_eq!(after[0].to_json()["_nango_metadata"]["last_action"], "ADDED", "pruning is not a change");
    assert_eq!(after[0].metadata.cursor, cursor(0), "nor does it move the record");

    // Saving a pruned record again restores it, even with the same content.
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let c = store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&first[..1])).await.unwrap();
    assert_eq!(c, counts(0, 1, 0));
    let restored = all(&store, conn, query(10)).await;
    let one = restored.iter().find(|r| r.id == "1").unwrap();
    assert_eq!((one.data()["title"].as_str(), one.metadata.pruned_at), (Some("a"), None));
}

async fn integrations_are_sealed_renamed_and_deleted(db: TestDb) {
    let key = Sealer::generate_key();
    let store = store(&db, Sealer::from_base64(&key).unwrap()).await;
    let mut github = Integration::new("github-prod", "github");
    github.display_name = Some("GitHub (prod)".into());
    github.credentials = Some(IntegrationCredentials::OAuth2(OAuthApp {
        client_id: "Iv1.app".into(),
        client_secret: Secret::new("client-s3cret"),
        scopes: Some("repo,user".into()),
        webhook_secret: None,
    }));
    store.save_integration(&github, None).await.unwrap();
    assert!(!db.contains(b"client-s3cret").await, "the client secret is stored in clear");
    assert_eq!(store.integration("github-prod").await.unwrap().unwrap().credentials, github.credentials);

    // A rename moves the sealed credentials to the new key in one step.
    let mut renamed = github.clone();
    renamed.unique_key = "github-main".into();
    store.save_integration(&renamed, Some("github-prod")).await.unwrap();
    let keys: Vec<String> = store.integrations().await.unwrap().into_iter().map(|i| i.unique_key).collect();
    assert_eq!(keys, ["github-main"]);
    assert_eq!(store.integration("github-main").await.unwrap().unwrap().credentials, github.credentials);
    store.close().await;

    // Another key does not open them.
    let wrong = self::store(&db, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await;
    let e = wrong.integration("github-main").await.unwrap_err();
    assert!(matches!(e, StoreError::UnsealIntegration { .. }), "{e:?}");
    assert!(wrong.delete_integration("github-main").await.unwrap());
    assert!(!wrong.delete_integration("github-main").await.unwrap());
}

async fn metadata_of_several_connections_changes_at_once_or_not_at_all(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let mut keys = Vec::new();
    for id in ["a", "b"] {
        let mut c = Connection::new("github", id, "github");
        c.metadata = json!({"owner": id, "nested": {"x": 1}});
        keys.push(store.save_connection(&c).await.unwrap());
    }
    store.merge_metadata(&keys, &json!({"repo": "r", "nested": {"y": 2}})).await.unwrap();
    let a = store.connection("github", "a").await.unwrap().unwrap();
    assert_eq!(a.connection.metadata, json!({"owner": "a", "nested": {"y": 2}, "repo": "r"}));
    store.replace_metadata(&keys, &json!({"only": true})).await.unwrap();
    assert_eq!(store.connection("github", "b").await.unwrap().unwrap().connection.metadata, json!({"only": true}));
    // One unknown key: nothing changes.
    let gone = ConnectionKey::new(9999);
    let e = store.replace_metadata(&[keys[0], gone], &json!({"x": 1})).await.unwrap_err();
    assert!(matches!(e, StoreError::UnknownConnectionKey { .. }), "{e:?}");
    assert_eq!(store.connection("github", "a").await.unwrap().unwrap().connection.metadata, json!({"only": true}));

    // Tags and end users, and when credentials were last handed out.
    let profile = store.connection_profile(keys[0]).await.unwrap().unwrap();
    assert_eq!(profile, ConnectionProfile::default());
    let tags = std::collections::BTreeMap::from([("team".to_owned(), "core".to_owned())]);
    let user: EndUser = serde_json::from_value(json!({"id": "u1", "email": "u1@acme.test"})).unwrap();
    store.set_connection_profile(keys[0], &tags, Some(&user)).await.unwrap();
    store.mark_fetched(keys[0]).await.unwrap();
    let profiles = store.connection_profiles().await.unwrap();
    let profile = &profiles[&keys[0]];
    assert_eq!((&profile.tags, profile.end_user.as_ref()), (&tags, Some(&user)));
    assert!(profile.last_fetched_at.is_some());
    assert_eq!(profiles[&keys[1]], ConnectionProfile::default());
    assert!(store.connection_profile(gone).await.unwrap().is_none());

    // Results of background actions.
    store.start_action("0f0e0d0c-0000-4000-8000-000000000001", keys[0], "close-issue").await.unwrap();
    let running = store.action_result("0f0e0d0c-0000-4000-8000-000000000001").await.unwrap().unwrap();
    assert_eq!((running.status, running.output, running.action.as_str()), (ActionStatus::Running, None, "close-issue"));
    store.finish_action(&running.id, ActionStatus::Success, &json!({"number": 2})).await.unwrap();
    let done = store.action_result(&running.id).await.unwrap().unwrap();
    assert_eq!((done.status, done.output), (ActionStatus::Success, Some(json!({"number": 2}))));
    assert!(done.ended_at.is_some());
    assert!(store.action_result("unknown").await.unwrap().is_none());
}

#[test]
fn jsonl_cache_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = JsonlCache::create(dir.path(), "github", "acme/1").unwrap();
    cache.append("Ticket", &json!({"id": 1})).unwrap();
    cache.append("Ticket", &json!({"id": 2})).unwrap();
    cache.flush().unwrap();
    assert_eq!(JsonlCache::read(dir.path(), "github", "acme/1", "Ticket").unwrap().len(), 2);
    std::fs::write(cache.folder().join("Ticket.jsonl"), "{\"id\": 1}\n{oops\n").unwrap();
    let e = JsonlCache::read(dir.path(), "github", "acme/1", "Ticket").unwrap_err().to_string();
    assert!(e.contains("Ticket.jsonl:2:"), "{e}");
}

/// The schema of the `PRAGMA user_version` scheme, as versions 1 and 2 wrote it (copied here so
/// the test does not depend on today's migration files).
const OLD_SCHEMA: [&str; 2] = [
    r#"
CREATE TABLE connections (
    pk INTEGER PRIMARY KEY,
    provider_config_key TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    credentials BLOB NOT NULL,
    credentials_kind TEXT NOT NULL,
    connection_config TEXT NOT NULL,
    metadata TEXT NOT NULL,
    base_url TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (provider_config_key, connection_id)
);
CREATE TABLE records (
    pk INTEGER PRIMARY KEY,
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    hash BLOB NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_modified_at INTEGER NOT NULL,
    last_action TEXT NOT NULL,
    deleted_at INTEGER,
    seq INTEGER NOT NULL,
    seen_run INTEGER NOT NULL,
    seen_epoch INTEGER NOT NULL,
    UNIQUE (connection, model, id)
);
CREATE INDEX records_by_seq ON records (connection, model, seq);
CREATE INDEX records_seq ON records (seq);
CREATE TABLE sync_state (
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    last_sync_date INTEGER,
    checkpoint TEXT,
    epoch INTEGER,
    PRIMARY KEY (connection, sync)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    status TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    error TEXT
);
CREATE INDEX runs_by_sync ON runs (connection, sync, id);
"#,
    r#"
ALTER TABLE sync_state ADD COLUMN paused INTEGER;
ALTER TABLE sync_state ADD COLUMN frequency_secs INTEGER;
ALTER TABLE sync_state ADD COLUMN next_run_at INTEGER;
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    url TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_run ON webhook_deliveries (run);
CREATE TABLE run_logs (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX run_logs_by_run ON run_logs (run, id);
"#,
];

/// A database as an earlier version left it: the first `version` schema scripts, `user_version`
/// set, a connection with sealed credentials, a record, a finished run and a checkpoint.
async fn old_database(path: &std::path::Path, version: usize, sealer: &Sealer) {
    use sqlx::{ConnectOptions, Connection as _};
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true);
    let mut db = options.connect().await.unwrap();
    for script in &OLD_SCHEMA[..version] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*script)).execute(&mut db).await.unwrap();
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PRAGMA user_version = {version}"))).execute(&mut db).await.unwrap();
    let credentials = serde_json::to_vec(&json!({"type": "bearer", "token": "ghp_old"})).unwrap();
    let sealed = sealer.seal(&credentials, b"github\0acme").unwrap();
    let t = chrono::Utc::now().timestamp_micros();
    sqlx::query(
        "INSERT INTO connections VALUES (7, 'github', 'acme', 'github', ?, 'bearer', '{\"subdomain\":\"x\"}', \
         '{\"owner\":\"o\"}', NULL, ?, ?)",
    )
    .bind(sealed)
    .bind(t)
    .bind(t)
    .execute(&mut db)
    .await
    .unwrap();
    let record = json!({"id": "1", "title": "kept"});
    sqlx::query("INSERT INTO records VALUES (1, 7, 'Ticket', '1', ?, ?, ?, ?, 'ADDED', NULL, 1, 1, 1)")
        .bind(record.to_string())
        .bind(&canonical_hash(&record)[..])
        .bind(t)
        .bind(t)
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO runs VALUES (1, 7, 'tickets', ?, ?, 'SUCCESS', '{\"Ticket\":{\"added\":1,\"updated\":0,\"deleted\":0}}', NULL)")
        .bind(t)
        .bind(t)
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO sync_state (connection, sync, last_sync_date, checkpoint, epoch) VALUES (7, 'tickets', ?, '{\"page\":3}', 1)")
        .bind(t)
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
}

async fn schema_versions(path: &std::path::Path) -> (Vec<i64>, i64) {
    use sqlx::{ConnectOptions, Connection as _};
    let mut db = sqlx::sqlite::SqliteConnectOptions::new().filename(path).connect().await.unwrap();
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let user_version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut db).await.unwrap();
    db.close().await.unwrap();
    (applied, user_version)
}

#[tokio::test]
async fn databases_of_the_user_version_scheme_open_and_keep_their_data() {
    let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
    for version in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nango.db");
        old_database(&path, version, &sealer).await;
        let url = format!("sqlite://{}", path.display());
        let store = Store::open(&url, sealer.clone()).await.unwrap();

        let stored = store.connection("github", "acme").await.unwrap().unwrap();
        assert_eq!(stored.key, ConnectionKey::new(7), "version {version}");
        assert_eq!(stored.connection.credentials, Credentials::Bearer { token: Secret::new("ghp_old") });
        assert_eq!(stored.connection.metadata, json!({"owner": "o"}));
        assert_eq!(stored.connection.connection_config["subdomain"], "x");
        let records = all(&store, stored.key, query(10)).await;
        assert_eq!((records.len(), records[0].data()["title"].as_str()), (1, Some("kept")));
        let runs = store.runs(Some(stored.key), None, 10).await.unwrap();
        assert_eq!((runs.len(), runs[0].status, runs[0].counts["Ticket"].added), (1, RunStatus::Success, 1));
        let state = store.sync_state(stored.key, "tickets").await.unwrap();
        assert_eq!(state.checkpoint, Some(json!({"page": 3})));

        // What version 2 added works on both.
        store.set_paused(stored.key, "tickets", Some(true)).await.unwrap();
        assert_eq!(store.sync_state(stored.key, "tickets").await.unwrap().paused, Some(true));
        store
            .append_logs(1, &[LogLine { at: chrono::Utc::now(), level: "info".into(), message: "hi".into() }])
            .await
            .unwrap();
        assert_eq!(store.run_logs(1).await.unwrap().len(), 1);
        // Writes go on where the old program left off: the resumed generation is kept.
        let run = store.begin_run(stored.key, "tickets", true).await.unwrap();
        assert_eq!(run.checkpoint, Some(json!({"page": 3})));
        let c = store
            .apply(run.ids, "Ticket", RecordChange::Save, records_of(&[json!({"id": "1", "title": "kept"})]))
            .await;
        assert_eq!(c.unwrap(), counts(0, 0, 0));
        // The rebuilt tables keep their rows and hand out no key or run id twice.
        assert!(run.ids.run > 1, "run {}", run.ids.run);
        assert!(store.delete_connection("github", "acme").await.unwrap());
        let next = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        assert!(next.get() > 7, "key {next}");
        store.close().await;

        // The migrations are recorded as applied (none ran twice), and `user_version` still
        // tells older programs the schema version.
        let latest = latest_version();
        assert_eq!(schema_versions(&path).await, ((1..=latest).collect(), latest), "version {version}");
        // Opening again is a no-op.
        let again = Store::open(&url, sealer.clone()).await.unwrap();
        assert_eq!(again.connections().await.unwrap().len(), 1);
        again.close().await;
    }
}

/// The newest schema version: one per file of the migrations folder.
fn latest_version() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
        .count() as i64
}

#[tokio::test]
async fn a_new_database_records_its_migrations_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nango.db");
    let url = format!("sqlite://{}", path.display());
    Store::open(&url, Sealer::InsecureClear).await.unwrap().close().await;
    let latest = latest_version();
    assert_eq!(schema_versions(&path).await, ((1..=latest).collect(), latest));

    let newer = dir.path().join("newer.db");
    old_database(&newer, 2, &Sealer::InsecureClear).await;
    {
        use sqlx::{ConnectOptions, Connection as _};
        let mut db = sqlx::sqlite::SqliteConnectOptions::new().filename(&newer).connect().await.unwrap();
        let newer_version = format!("PRAGMA user_version = {}", latest + 1);
        sqlx::raw_sql(sqlx::AssertSqlSafe(newer_version)).execute(&mut db).await.unwrap();
        db.close().await.unwrap();
    }
    let e = Store::open(&format!("sqlite://{}", newer.display()), Sealer::InsecureClear).await.unwrap_err();
    assert!(matches!(e, StoreError::SchemaTooNew { found, known } if found == latest + 1 && known == latest), "{e:?}");
    assert!(e.to_string().contains("use a newer nango-runtime"), "{e}");
}

/// The migrator of an earlier version of this program: the first `version` files of the
/// migrations folder (a file never changes once it shipped), run as sqlx's migrator runs them,
/// so the database records them (with their checksums) as that version did.
fn earlier_migrator(version: i64) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let migrations = files
        .iter()
        .take(version as usize)
        .enumerate()
        .map(|(i, file)| {
            let name = file.file_stem().unwrap().to_string_lossy();
            let description = name.split_once('_').unwrap().1.replace('_', " ");
            let sql = sqlx::AssertSqlSafe(std::fs::read_to_string(file).unwrap()).into_sql_str();
            sqlx::migrate::Migration::new(
                i as i64 + 1,
                description.into(),
                sqlx::migrate::MigrationType::Simple,
                sql,
                false,
            )
        })
        .collect();
    sqlx::migrate::Migrator::with_migrations(migrations)
}

/// Every table, index and trigger of a database as SQLite keeps their definitions.
async fn schema_of(path: &std::path::Path) -> Vec<(String, String, Option<String>)> {
    use sqlx::{ConnectOptions, Connection as _};
    let mut db = sqlx::sqlite::SqliteConnectOptions::new().filename(path).connect().await.unwrap();
    let schema = sqlx::query_as("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .fetch_all(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    schema
}

/// A database made by an earlier version (migrations up to 3: before integrations; up to 4:
/// before leases and keys never reused; up to 7: before webhook announcements) ends with exactly
/// the schema of a new one, and keeps everything: the rebuilt connections table keeps the tags,
/// end user and last fetch that migration 4 added, the references to it (records, action results)
/// still hold, and so do those of migration 8's tables to the rebuilt connections and runs.
#[tokio::test]
async fn a_database_of_an_earlier_version_ends_with_the_schema_of_a_new_one_and_keeps_its_data() {
    use sqlx::{ConnectOptions, Connection as _};
    let dir = tempfile::tempdir().unwrap();
    let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
    let fresh = dir.path().join("fresh.db");
    Store::open(&format!("sqlite://{}", fresh.display()), sealer.clone()).await.unwrap().close().await;
    let new_schema = schema_of(&fresh).await;
    assert!(new_schema.iter().any(|(_, name, _)| name == "sync_leases"), "{new_schema:?}");

    for version in [3, 4, 7] {
        let path = dir.path().join(format!("v{version}.db"));
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        let mut db = options.connect().await.unwrap();
        earlier_migrator(version).run(&mut db).await.unwrap();
        let credentials = serde_json::to_vec(&json!({"type": "bearer", "token": "ghp_old"})).unwrap();
        let t = chrono::Utc::now().timestamp_micros();
        sqlx::query(
            "INSERT INTO connections (pk, provider_config_key, connection_id, provider, credentials, credentials_kind, \
             connection_config, metadata, base_url, created_at, updated_at) \
             VALUES (7, 'github', 'acme', 'github', ?, 'bearer', '{}', '{\"owner\":\"o\"}', NULL, ?, ?)",
        )
        .bind(sealer.seal(&credentials, b"github\0acme").unwrap())
        .bind(t)
        .bind(t)
        .execute(&mut db)
        .await
        .unwrap();
        let record = json!({"id": "1", "title": "kept"});
        sqlx::query(
            "INSERT INTO records (pk, connection, model, id, json, hash, first_seen_at, last_modified_at, \
             last_action, deleted_at, seq, seen_run, seen_epoch) \
             VALUES (1, 7, 'Ticket', '1', ?, ?, ?, ?, 'ADDED', NULL, 1, 1, 1)",
        )
        .bind(record.to_string())
        .bind(&canonical_hash(&record)[..])
        .bind(t)
        .bind(t)
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::query("INSERT INTO runs (id, connection, sync, started_at, ended_at, status) VALUES (3, 7, 'tickets', ?, ?, 'SUCCESS')")
            .bind(t)
            .bind(t)
            .execute(&mut db)
            .await
            .unwrap();
        if version >= 4 {
            let user = r#"{"id":"u1","email":"u1@example.com"}"#;
            sqlx::query(
                "UPDATE connections SET tags = '{\"team\":\"core\"}', end_user = ?, last_fetched_at = ? WHERE pk = 7",
            )
            .bind(user)
            .bind(t)
            .execute(&mut db)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO action_results VALUES ('a1', 7, 'create-issue', 'SUCCESS', '{\"ok\":true}', ?, ?)",
            )
            .bind(t)
            .bind(t)
            .execute(&mut db)
            .await
            .unwrap();
            sqlx::query("INSERT INTO sync_state (connection, sync, frequency_secs, frequency_text) VALUES (7, 'tickets', 3600, 'every hour')")
                .execute(&mut db)
                .await
                .unwrap();
        }
        db.close().await.unwrap();

        let store = Store::open(&format!("sqlite://{}", path.display()), sealer.clone()).await.unwrap();
        let stored = store.connection("github", "acme").await.unwrap().unwrap();
        assert_eq!(stored.key, ConnectionKey::new(7), "version {version}");
        assert_eq!(stored.connection.credentials, Credentials::Bearer { token: Secret::new("ghp_old") });
        assert_eq!(all(&store, stored.key, query(10)).await.len(), 1, "version {version}");
        assert_eq!(store.runs(Some(stored.key), None, 10).await.unwrap()[0].id, 3, "version {version}");
        if version >= 4 {
            let profile = store.connection_profile(stored.key).await.unwrap().unwrap();
            assert_eq!(profile.tags.get("team").map(String::as_str), Some("core"));
            assert_eq!(profile.end_user.unwrap().email.as_deref(), Some("u1@example.com"));
            assert_eq!(profile.last_fetched_at.map(|at| at.timestamp_micros()), Some(t));
            assert_eq!(store.action_result("a1").await.unwrap().unwrap().output, Some(json!({"ok": true})));
            assert_eq!(
                store.sync_state(stored.key, "tickets").await.unwrap().frequency_text.as_deref(),
                Some("every hour")
            );
        }
        // Migration 8's tables on the rebuilt ones: a new run's writes are counted and announced
        // (the run from before the migration counted nothing), the webhook queued.
        let run = store.begin_run(stored.key, "tickets", false).await.unwrap();
        store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&[json!({"id": "2"})])).await.unwrap();
        let compose = |unannounced: &[Unannounced]| {
            assert_eq!(unannounced[0].counts, counts(1, 0, 0), "version {version}");
            vec![OutgoingWebhook { model: "Ticket".into(), body: b"{}".to_vec() }]
        };
        store.announce(stored.key, "tickets", run.ids.run, &["Ticket"], &compose).await.unwrap();
        assert_eq!(store.pending_webhooks(10).await.unwrap().len(), 1, "version {version}");
        // References to the rebuilt tables hold: deleting the connection takes its rows along
        // (its runs, and with them their counts and queued webhooks), and neither its key nor
        // its run's id is given again.
        assert!(store.delete_connection("github", "acme").await.unwrap());
        assert!(store.action_result("a1").await.unwrap().is_none(), "version {version}");
        assert!(store.pending_webhooks(10).await.unwrap().is_empty(), "version {version}");
        let next = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        assert!(next.get() > 7, "key {next}");
        assert!(store.begin_run(next, "tickets", false).await.unwrap().ids.run > 3);
        store.close().await;

        assert_eq!(schema_of(&path).await, new_schema, "version {version}");
    }
}

#[tokio::test]
async fn the_url_chooses_the_backend() {
    let e = Store::open("mysql://localhost/nango", Sealer::InsecureClear).await.unwrap_err();
    assert!(matches!(e, StoreError::UnsupportedUrl { .. }), "{e:?}");
    assert!(e.to_string().contains("sqlite://path/to/file.db") && e.to_string().contains("postgres://"), "{e}");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let store = Store::open(&db.url(), Sealer::InsecureClear).await.unwrap();
        let expected = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
        assert_eq!(store.backend().name(), expected);
        store.close().await;
    }
    // `postgresql://` is the other spelling libpq takes.
    let db = TestDb::new(Backend::Postgres).await;
    let store = Store::open(&db.url().replacen("postgres://", "postgresql://", 1), Sealer::InsecureClear).await;
    assert_eq!(store.unwrap().backend().name(), "postgres");
}

/// A `postgres://` URL naming a database the server does not have creates it (as a `sqlite://`
/// URL creates its file); a server that does not answer is an error naming the URL without its
/// password.
#[tokio::test]
async fn a_postgres_database_is_created_when_missing_and_a_dead_server_is_named() {
    let db = TestDb::new(Backend::Postgres).await;
    let missing = format!("{}_created", db.url());
    let store = Store::open(&missing, Sealer::InsecureClear).await.unwrap();
    store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    store.close().await;
    // Drop what the test made: the guard drops only its own database.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&db::postgres_admin_url()).await.unwrap();
    let name = missing.rsplit('/').next().unwrap().to_owned();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)")))
        .execute(&mut admin)
        .await
        .unwrap();

    // Port 9 (discard) on loopback: nothing listens there.
    let e = Store::open("postgres://nango:s3cret@127.0.0.1:9/nango", Sealer::InsecureClear).await.unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }), "{e:?}");
    assert!(e.to_string().contains("postgres://nango:***@127.0.0.1:9/nango"), "{e}");
    assert!(!error_chain(&e).contains("s3cret"), "{}", error_chain(&e));
}

async fn connections_are_read_with_their_keys(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let a = store.save_connection(&Connection::new("github", "a", "github")).await.unwrap();
    let b = store.save_connection(&Connection::new("linear", "a", "linear")).await.unwrap();
    assert_ne!(a, b);
    // Saving again keeps the key.
    assert_eq!(store.save_connection(&Connection::new("github", "a", "github")).await.unwrap(), a);
    let listed: Vec<(ConnectionKey, String)> = store
        .connections()
        .await
        .unwrap()
        .readable
        .into_iter()
        .map(|c| (c.key, c.connection.provider_config_key))
        .collect();
    assert_eq!(listed, [(a, "github".to_owned()), (b, "linear".to_owned())]);
    assert_eq!(store.connection_by_key(b).await.unwrap().unwrap().connection.provider_config_key, "linear");
    assert_eq!(store.connection_key("linear", "a").await.unwrap(), Some(b));
    assert!(store.delete_connection("linear", "a").await.unwrap());
    assert_eq!(store.connection_by_key(b).await.unwrap(), None);
}

async fn console_sessions_are_kept_found_by_digest_and_expire(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let now = chrono::Utc::now();
    let session = |digest: u8, expires_in: chrono::Duration| ConsoleSession {
        digest: vec![digest; 32],
        csrf_token: format!("token-{digest}"),
        created_at: now,
        expires_at: now + expires_in,
    };
    let live = session(1, chrono::Duration::hours(1));
    let expired = session(2, chrono::Duration::seconds(-1));
    store.create_session(&live).await.unwrap();
    store.create_session(&expired).await.unwrap();
    // Found by digest with what it was saved with (times to the microsecond, as stored).
    let found = store.session(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(
        (found.csrf_token.as_str(), found.expires_at.timestamp_micros()),
        ("token-1", live.expires_at.timestamp_micros())
    );
    assert!(store.session(&[3; 32]).await.unwrap().is_none());
    // The same digest twice is a database error, not a silent overwrite.
    assert!(store.create_session(&live).await.is_err());
    // The token stays out of debug output.
    assert!(!format!("{found:?}").contains("token-1"), "{found:?}");

    // Sweeping removes only the expired one; a second process on the same file sees the same.
    assert_eq!(store.delete_expired_sessions(now).await.unwrap(), 1);
    assert!(store.session(&[2; 32]).await.unwrap().is_none());
    let other = Store::open(&db.url(), Sealer::InsecureClear).await.unwrap();
    assert!(other.session(&[1; 32]).await.unwrap().is_some());
    assert!(other.delete_session(&[1; 32]).await.unwrap());
    assert!(!store.delete_session(&[1; 32]).await.unwrap());
    assert!(store.session(&[1; 32]).await.unwrap().is_none());
}

/// A key is handed out once: a deleted connection's key and its runs' ids never come back (so
/// run history, deliveries and logs filed under them cannot mix two connections), also after the
/// database is opened again.
async fn keys_and_run_ids_of_deleted_connections_are_never_handed_out_again(db: TestDb) {
    let mut store = store(&db, Sealer::InsecureClear).await;
    let mut last_key = ConnectionKey::new(0);
    let mut last_run = 0;
    for (round, id) in ["a", "b", "c"].into_iter().enumerate() {
        let key = store.save_connection(&Connection::new("github", id, "github")).await.unwrap();
        assert!(key > last_key, "round {round}: key {key} after {last_key}");
        let run = store.begin_run(key, "tickets", false).await.unwrap();
        assert!(run.ids.run > last_run, "round {round}: run {} after {last_run}", run.ids.run);
        (last_key, last_run) = (key, run.ids.run);
        // The newest connection goes, with its runs: the highest key and run id are free again.
        assert!(store.delete_connection("github", id).await.unwrap());
        store.close().await;
        store = self::store(&db, Sealer::InsecureClear).await;
    }
}

fn sealer(key: &str) -> Sealer {
    Sealer::from_base64(key).unwrap()
}

fn bearer(id: &str, token: &str) -> Connection {
    let mut c = Connection::new("github", id, "github");
    c.credentials = Credentials::Bearer { token: Secret::new(token) };
    c
}

/// A connection row whose credentials were sealed under `key` by other means than this store (an
/// older version, a row copied from another database).
fn sealed_under(key: &str, id: &str) -> backend::SealedConnection {
    let plain = serde_json::to_vec(&json!({"type": "bearer", "token": "token-elsewhere"})).unwrap();
    let sealed = sealer(key).seal(&plain, format!("github\0{id}").as_bytes()).unwrap();
    let now = chrono::Utc::now();
    backend::SealedConnection {
        provider_config_key: "github".into(),
        connection_id: id.into(),
        provider: "github".into(),
        credentials: backend::SealedCredentials { sealed, kind: "bearer".into() },
        connection_config: Default::default(),
        metadata: json!({}),
        base_url: None,
        created_at: now,
        updated_at: now,
    }
}

/// One key per store: secrets under another key are refused before anything is written; a row
/// sealed under another key anyway is listed as unreadable, alone; `rotate_key` re-seals every
/// secret (in clear or under an old key) in one transaction, or none when one cannot be opened.
async fn one_key_per_store_checked_on_save_isolated_on_read_and_rotated_at_once(db: TestDb) {
    let (a, b, new) = (Sealer::generate_key(), Sealer::generate_key(), Sealer::generate_key());
    let under_a = store(&db, sealer(&a)).await;
    under_a.save_connection(&bearer("one", "token-one")).await.unwrap();
    let e = store(&db, sealer(&b)).await.save_connection(&bearer("two", "token-two")).await.unwrap_err();
    assert!(matches!(e, StoreError::KeyMismatch { .. }), "{e:?}");
    assert!(error_chain(&e).contains("another encryption key"), "{}", error_chain(&e));
    assert!(under_a.connection("github", "two").await.unwrap().is_none());
    // Development secrets in clear, and a row sealed under b by other means.
    store(&db, Sealer::InsecureClear).await.save_connection(&bearer("three", "token-three")).await.unwrap();
    under_a.backend().save_connection(&sealed_under(&b, "four")).await.unwrap();

    let list = under_a.connections().await.unwrap();
    let ids = |l: &ConnectionList| -> (Vec<String>, Vec<String>) {
        (
            l.readable.iter().map(|c| c.connection.connection_id.clone()).collect(),
            l.unreadable.iter().map(|c| c.connection.connection_id.clone()).collect(),
        )
    };
    assert_eq!(ids(&list), (vec!["one".into(), "three".into()], vec!["four".into()]));
    assert!(list.unreadable[0].reason.contains("not the key"), "{}", list.unreadable[0].reason);
    assert_eq!(list.unreadable[0].auth_mode, "bearer");

    let under_new = store(&db, sealer(&new)).await;
    // Without b's key nothing changes, and what cannot be opened is named.
    let e = under_new.rotate_key(&[sealer(&a)], false).await.unwrap_err();
    assert!(error_chain(&e).contains("`four`"), "{}", error_chain(&e));
    assert!(under_a.connection("github", "one").await.unwrap().is_some());
    // A dry run counts and writes nothing.
    let rotation = under_new.rotate_key(&[sealer(&a), sealer(&b)], true).await.unwrap();
    assert_eq!((rotation.from_old_keys, rotation.from_clear, rotation.already_sealed), (2, 1, 0));
    assert!(under_a.connection("github", "one").await.unwrap().is_some());
    let rotation = under_new.rotate_key(&[sealer(&a), sealer(&b)], false).await.unwrap();
    assert_eq!((rotation.from_old_keys, rotation.from_clear, rotation.already_sealed), (2, 1, 0));
    assert_eq!(ids(&under_new.connections().await.unwrap()).0, ["four", "one", "three"]);
    assert_eq!(ids(&under_a.connections().await.unwrap()).1, ["four", "one", "three"]);
    // The store's key is the new one now.
    let e = under_a.save_connection(&bearer("five", "token-five")).await.unwrap_err();
    assert!(matches!(e, StoreError::KeyMismatch { .. }), "{e:?}");
    under_new.save_connection(&bearer("five", "token-five")).await.unwrap();
    let again = under_new.rotate_key(&[sealer(&a), sealer(&b)], false).await.unwrap();
    assert_eq!((again.from_old_keys, again.from_clear, again.already_sealed), (0, 0, 4));
}

fn github_app(secret: &str) -> Integration {
    let mut github = Integration::new("github-prod", "github");
    github.credentials = Some(IntegrationCredentials::OAuth2(OAuthApp {
        client_id: "Iv1.app".into(),
        client_secret: Secret::new(secret),
        scopes: None,
        webhook_secret: None,
    }));
    github
}

/// An integration row whose app credentials were sealed under `key` by other means than this
/// store (a row copied from another database).
fn integration_sealed_under(key: &str, unique_key: &str) -> backend::SealedIntegration {
    let plain = serde_json::to_vec(github_app("elsewhere").credentials.as_ref().unwrap()).unwrap();
    let sealed = sealer(key).seal(&plain, format!("\0integration\0{unique_key}").as_bytes()).unwrap();
    let now = chrono::Utc::now();
    backend::SealedIntegration {
        unique_key: unique_key.into(),
        provider: "github".into(),
        display_name: None,
        credentials: Some(backend::SealedCredentials { sealed, kind: "OAUTH2".into() }),
        forward_webhooks: false,
        created_at: now,
        updated_at: now,
    }
}

/// Integrations' app credentials are secrets of the store like connections' credentials: sealed
/// under the store's one key (another key is refused before anything is written, and one found
/// under another key keeps a store from taking a key check), and re-sealed by `rotate_key` with
/// the connections, in the same transaction.
async fn integrations_app_credentials_share_the_store_key_and_its_rotation(db: TestDb) {
    let (a, b, new) = (Sealer::generate_key(), Sealer::generate_key(), Sealer::generate_key());
    let under_a = store(&db, sealer(&a)).await;
    under_a.save_integration(&github_app("app-secret"), None).await.unwrap();
    under_a.save_connection(&bearer("one", "token-one")).await.unwrap();
    let mut other = github_app("other-secret");
    other.unique_key = "github-other".into();
    let e = store(&db, sealer(&b)).await.save_integration(&other, None).await.unwrap_err();
    assert!(matches!(e, StoreError::KeyMismatch { .. }), "{e:?}");
    assert_eq!(under_a.integration_providers().await.unwrap().len(), 1, "nothing was written");

    // A store without a key check yet takes none while an app is sealed under another key.
    let elsewhere = TestDb::new(db.backend()).await;
    let unchecked = store(&elsewhere, sealer(&b)).await;
    unchecked.backend().save_integration(&integration_sealed_under(&a, "github-copied"), None).await.unwrap();
    let e = unchecked.save_connection(&bearer("two", "token-two")).await.unwrap_err();
    assert!(error_chain(&e).contains("integration `github-copied`"), "{}", error_chain(&e));

    // Rotation: the app and the connection under a, one app under a key nobody gives.
    under_a.backend().save_integration(&integration_sealed_under(&b, "github-b"), None).await.unwrap();
    let under_new = store(&db, sealer(&new)).await;
    let e = under_new.rotate_key(&[sealer(&a)], false).await.unwrap_err();
    assert!(error_chain(&e).contains("integration `github-b`"), "{}", error_chain(&e));
    assert!(under_a.integration("github-prod").await.unwrap().is_some(), "nothing changed");
    let rotation = under_new.rotate_key(&[sealer(&a), sealer(&b)], false).await.unwrap();
    assert_eq!((rotation.from_old_keys, rotation.integrations, rotation.already_sealed), (3, 2, 0));
    let app = under_new.integration("github-prod").await.unwrap().unwrap();
    assert_eq!(app.credentials, github_app("app-secret").credentials);
    assert!(under_new.integration("github-b").await.unwrap().is_some());
    assert!(matches!(under_a.integration("github-prod").await.unwrap_err(), StoreError::UnsealIntegration { .. }));
}

/// The lease of a (connection, sync): one holder at a time, named to whoever else asks, taken
/// over only once it lapsed; the runs it covered are closed as interrupted only then, ended when
/// their holder was last known alive and with the counts of what they wrote before they died
/// (by the stale-run sweep and by the next run alike).
async fn a_lease_has_one_holder_until_it_lapses_and_only_then_its_run_is_closed(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let key = connection(&store).await;
    let other = store.save_connection(&Connection::new("github", "other", "github")).await.unwrap();
    let backend = store.backend();
    let (a, b) = (LeaseOwner::new("process a"), LeaseOwner::new("process b"));
    // Whole seconds: the store keeps microseconds.
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let secs = |s: i64| t0 + chrono::Duration::seconds(s);
    assert_eq!(backend.acquire_lease(key, "tickets", &a, t0, secs(10)).await.unwrap(), Ok(()));
    // Another (connection, sync) is another lease.
    assert_eq!(backend.acquire_lease(other, "tickets", &b, t0, secs(10)).await.unwrap(), Ok(()));
    let held = backend.acquire_lease(key, "tickets", &b, secs(1), secs(11)).await.unwrap().unwrap_err();
    assert_eq!((held.label.as_str(), held.since, held.expires_at), ("process a", t0, secs(10)));
    // Its holder may take it again (the process keeps its own runs apart).
    assert_eq!(backend.acquire_lease(key, "tickets", &a, secs(1), secs(10)).await.unwrap(), Ok(()));
    // Its holder renews it, with the heartbeat of its run.
    let run = store.begin_run(key, "tickets", false).await.unwrap();
    let written = [json!({"id": "1"}), json!({"id": "2"})];
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&written)).await.unwrap();
    store.apply(run.ids, "Ticket", RecordChange::Delete, records_of(&written[1..])).await.unwrap();
    assert!(backend.renew_lease(key, "tickets", &a, Some(run.ids.run), secs(5), secs(15)).await.unwrap());
    // While it is live, nobody closes its run.
    assert_eq!(backend.close_stale_runs(secs(14)).await.unwrap(), 0);
    assert_eq!(store.run(run.ids.run).await.unwrap().unwrap().status, RunStatus::Running);
    // Lapsed: the run is closed as interrupted, ended at its last heartbeat; b takes the lease
    // over, and a learns it lost it.
    assert_eq!(backend.close_stale_runs(secs(16)).await.unwrap(), 1);
    let closed = store.run(run.ids.run).await.unwrap().unwrap();
    assert_eq!((closed.status, closed.ended_at), (RunStatus::Failed, Some(secs(5))));
    assert!(closed.error.unwrap().contains("interrupted"));
    assert_eq!(closed.counts, [("Ticket".to_owned(), counts(2, 0, 1))].into());
    assert_eq!(backend.acquire_lease(key, "tickets", &b, secs(16), secs(26)).await.unwrap(), Ok(()));
    assert!(!backend.renew_lease(key, "tickets", &a, None, secs(17), secs(27)).await.unwrap());
    // b's run writes a record and dies too.
    let dies = store.begin_run(key, "tickets", false).await.unwrap();
    store.apply(dies.ids, "Ticket", RecordChange::Save, records_of(&[json!({"id": "3"})])).await.unwrap();
    // Released, it is free at once; the next run closes the run b left with what it wrote.
    backend.release_lease(key, "tickets", &b).await.unwrap();
    assert_eq!(backend.acquire_lease(key, "tickets", &a, secs(18), secs(28)).await.unwrap(), Ok(()));
    let next = store.begin_run(key, "tickets", false).await.unwrap();
    let closed = store.run(dies.ids.run).await.unwrap().unwrap();
    assert_eq!(closed.status, RunStatus::Failed);
    assert_eq!(closed.counts, [("Ticket".to_owned(), counts(1, 0, 0))].into());
    // A run that wrote nothing is closed with no counts, as it started.
    store.begin_run(key, "tickets", false).await.unwrap();
    assert_eq!(store.run(next.ids.run).await.unwrap().unwrap().counts, Default::default());
}

/// The records cursor while several writers overwrite the same records at once (each on a
/// connection of its own from the pool): a reader paging from its last cursor until the writers
/// are done never gets one version of a record twice, and ends with the last version of every
/// record (a write that committed under a position the reader had already passed would be
/// missed for good).
async fn pages_neither_skip_nor_repeat_while_writers_overwrite_the_same_records(db: TestDb) {
    const IDS: u64 = 120;
    const WRITERS: u64 = 4;
    const ROUNDS: u64 = 12;
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for round in 0..ROUNDS {
                    let run = store.begin_run(conn, &format!("writer-{w}"), false).await.unwrap();
                    // Overlapping windows: every writer rewrites records the others write too.
                    let batch: Vec<Value> = (0..30)
                        .map(|i| json!({"id": (w * 29 + round * 17 + i) % IDS, "version": format!("{w}.{round}")}))
                        .collect();
                    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&batch)).await.unwrap();
                }
            })
        })
        .collect();
    let mut last_seen = std::collections::HashMap::<String, String>::new();
    let mut versions = std::collections::HashSet::<(String, String)>::new();
    let mut cursor: Option<String> = None;
    loop {
        // Known before the pass: if they were done then, this pass reads everything they wrote.
        let writers_done = writers.iter().all(|w| w.is_finished());
        loop {
            let mut q = query(25);
            q.cursor = cursor.clone();
            let page = store.records(conn, &q).await.unwrap();
            for record in &page.records {
                let version = record.data()["version"].as_str().unwrap().to_owned();
                assert!(versions.insert((record.id.clone(), version.clone())), "{} {version} came twice", record.id);
                last_seen.insert(record.id.clone(), version);
                cursor = Some(record.metadata.cursor.clone());
            }
            if page.next_cursor.is_none() {
                break;
            }
        }
        if writers_done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let stored = all(&store, conn, query(1000)).await;
    assert_eq!(stored.len(), IDS as usize);
    for record in &stored {
        let last = record.data()["version"].as_str().unwrap().to_owned();
        assert_eq!(last_seen.get(&record.id), Some(&last), "the reader missed the last version of {}", record.id);
    }
    assert!(versions.len() > IDS as usize, "the reader saw records change while it paged");
}

/// Makes the database refuse any checkpoint containing `refused` (a trigger on `sync_state`):
/// a write that fails inside the batch's transaction, after its records were written.
async fn refuse_some_checkpoints(db: &TestDb) {
    use sqlx::Connection as _;
    match db.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
            for event in ["INSERT", "UPDATE"] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE TRIGGER refuse_checkpoint_{event} BEFORE {event} ON sync_state \
                     WHEN NEW.checkpoint LIKE '%refused%' BEGIN SELECT RAISE(ABORT, 'checkpoint refused by the test'); END"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
            }
            conn.close().await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url()).await.unwrap();
            sqlx::raw_sql(
                "CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                   IF NEW.checkpoint LIKE '%refused%' THEN RAISE EXCEPTION 'checkpoint refused by the test'; END IF; \
                   RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_checkpoint BEFORE INSERT OR UPDATE ON sync_state \
                   FOR EACH ROW EXECUTE FUNCTION refuse_checkpoint();",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// A batch saved with a checkpoint (what `save_checkpoint` after `batch_save` does): records,
/// the run's counts and progress (it was alive then) and the checkpoint commit in one
/// transaction. When the checkpoint's write fails after the records were written, none of them
/// is kept; a run that lost its lease writes neither records nor checkpoint.
async fn a_batch_its_checkpoint_and_the_run_s_progress_commit_together_or_not_at_all(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let key = connection(&store).await;
    refuse_some_checkpoints(&db).await;
    let checkpoint = |v: &Value| -> Option<Value> { Some(v.clone()) };
    let run = store.begin_run(key, "tickets", false).await.unwrap();
    // Whole microseconds are kept: compare against a time truncated the same way.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before_first_batch = chrono::Utc::now() - chrono::Duration::microseconds(1);
    let page1 = json!({"page": 1});
    let first = RunCheckpoint { sync: "tickets", checkpoint: Some(&page1) };
    let batch = records_of(&[json!({"id": "1"}), json!({"id": "2"})]);
    let c = store.apply_with_checkpoint(run.ids, "Ticket", RecordChange::Save, batch, first).await.unwrap();
    assert_eq!(c, counts(2, 0, 0));
    assert_eq!(store.sync_state(key, "tickets").await.unwrap().checkpoint, checkpoint(&page1));
    // The checkpoint's write fails after the batch's records were written: neither is kept.
    let refused = json!({"page": "refused"});
    let failing = RunCheckpoint { sync: "tickets", checkpoint: Some(&refused) };
    let batch = records_of(&[json!({"id": "3"}), json!({"id": "1", "title": "changed"})]);
    let e = store.apply_with_checkpoint(run.ids, "Ticket", RecordChange::Save, batch, failing).await.unwrap_err();
    assert!(error_chain(&e).contains("checkpoint refused by the test"), "{}", error_chain(&e));
    let stored = all(&store, key, query(10)).await;
    assert_eq!(stored.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(stored[0].data(), json!({"id": "1"}));
    assert_eq!(store.sync_state(key, "tickets").await.unwrap().checkpoint, checkpoint(&page1));
    // Another process takes the sync over (its lease lapsed): it closes the run, which counts
    // what the run committed and ends when the run last committed progress.
    let next = store.begin_run(key, "tickets", false).await.unwrap();
    let closed = store.run(run.ids.run).await.unwrap().unwrap();
    assert_eq!(closed.status, RunStatus::Failed);
    assert_eq!(closed.counts, [("Ticket".to_owned(), counts(2, 0, 0))].into());
    assert!(closed.ended_at.unwrap() >= before_first_batch, "{closed:#?} ended before {before_first_batch}");
    // The closed run's late batch and checkpoint are refused, together and apart.
    let page2 = json!({"page": 2});
    let late = RunCheckpoint { sync: "tickets", checkpoint: Some(&page2) };
    let batch = records_of(&[json!({"id": "4"})]);
    let e = store.apply_with_checkpoint(run.ids, "Ticket", RecordChange::Save, batch, late).await.unwrap_err();
    assert!(matches!(e, StoreError::RunFenced { .. }), "{e:?}");
    let e = store.save_run_checkpoint(run.ids, "tickets", Some(&page2)).await.unwrap_err();
    assert!(matches!(e, StoreError::RunFenced { .. }), "{e:?}");
    let e = store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&[json!({"id": "4"})])).await.unwrap_err();
    assert!(matches!(e, StoreError::RunFenced { .. }), "{e:?}");
    assert_eq!(all(&store, key, query(10)).await.len(), 2);
    assert_eq!(store.sync_state(key, "tickets").await.unwrap().checkpoint, checkpoint(&page1));
    // The run holding the sync now writes both.
    let batch = records_of(&[json!({"id": "4"})]);
    store.apply_with_checkpoint(next.ids, "Ticket", RecordChange::Save, batch, late).await.unwrap();
    assert_eq!(all(&store, key, query(10)).await.len(), 3);
    assert_eq!(store.sync_state(key, "tickets").await.unwrap().checkpoint, checkpoint(&page2));
    // An empty batch with a checkpoint saves the checkpoint alone; clearing it is a checkpoint too.
    let cleared = RunCheckpoint { sync: "tickets", checkpoint: None };
    assert_eq!(
        store.apply_with_checkpoint(next.ids, "Ticket", RecordChange::Save, Vec::new(), cleared).await.unwrap(),
        counts(0, 0, 0)
    );
    assert_eq!(store.sync_state(key, "tickets").await.unwrap().checkpoint, None);
}

/// Conditional requests' validators: one per (connection, sync, URL), replaced when saved
/// again, forgotten when a run ended without using them, by a reset (records kept) and with the
/// connection.
async fn page_validators_are_kept_per_url_forgotten_when_unused_and_cleared_by_a_reset(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let v = |url: &str, etag: &str, led_to: Option<Value>| PageValidator { url: url.into(), etag: etag.into(), led_to };
    let first = [v("/issues?page=1", "W/\"a\"", Some(json!({"page": 2}))), v("/issues?page=2", "W/\"b\"", None)];
    store.save_page_validators(conn, "issues", 1, &first).await.unwrap();
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=1").await.unwrap(), Some(first[0].clone()));
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=2").await.unwrap(), Some(first[1].clone()));
    assert_eq!(store.page_validator(conn, "other-sync", "/issues?page=1").await.unwrap(), None);
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=3").await.unwrap(), None);

    // Run 2 fetched page 1 again (a new ETag, now the last page) and did not ask for page 2.
    let changed = v("/issues?page=1", "W/\"c\"", None);
    store.save_page_validators(conn, "issues", 2, std::slice::from_ref(&changed)).await.unwrap();
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=1").await.unwrap(), Some(changed.clone()));
    assert_eq!(store.forget_unused_validators(conn, "issues", 2).await.unwrap(), 1);
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=2").await.unwrap(), None);
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=1").await.unwrap(), Some(changed));

    // A reset fetches everything again, records kept or not.
    let run = store.begin_run(conn, "issues", false).await.unwrap();
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&[json!({"id": 1})])).await.unwrap();
    store.reset_sync(conn, "issues", &["Ticket"], false).await.unwrap();
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=1").await.unwrap(), None);
    assert_eq!(store.record_counts(conn).await.unwrap().get("Ticket"), Some(&1));

    // They go with their connection.
    store.save_page_validators(conn, "issues", 3, &first).await.unwrap();
    assert!(store.delete_connection("github", "acme").await.unwrap());
    assert_eq!(store.page_validator(conn, "issues", "/issues?page=1").await.unwrap(), None);
}

/// What the records API reads (a page by integration key and connection id, and that page
/// written as the response body by the backend) is the page by key, and the body is
/// `RecordPage::to_api_json` of it: on SQLite the name's pages are read on other connections
/// (read-only, on blocking threads) and written straight from the rows.
async fn pages_by_name_are_the_pages_by_key_and_the_api_body_is_their_text(db: TestDb) {
    let store = store(&db, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    store.save_connection(&Connection::new("github", "other", "github")).await.unwrap();
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let tickets: Vec<Value> = (0..12).map(|i| json!({"id": i, "title": format!("\"{i}\" é\n"), "n": i})).collect();
    store.apply(run.ids, "Ticket", RecordChange::Save, records_of(&tickets)).await.unwrap();
    store.apply(run.ids, "Ticket", RecordChange::Delete, records_of(&[json!({"id": 5})])).await.unwrap();
    let mut queries = vec![
        query(5),
        query(100),
        RecordQuery { model: "Nothing".into(), ..query(5) },
        RecordQuery { ids: vec!["2".into(), "5".into()], ..query(5) },
        RecordQuery { filter: Some(ActionFilter { added: false, updated: false, deleted: true }), ..query(5) },
    ];
    let mut paging = query(5);
    while let Some(cursor) = store.records(conn, &paging).await.unwrap().next_cursor {
        paging.cursor = Some(cursor);
        queries.push(paging.clone());
    }
    for q in &queries {
        let page = store.records(conn, q).await.unwrap();
        assert_eq!(store.records_of("github", "acme", q).await.unwrap().as_ref(), Some(&page), "{q:?}");
        let body = store.records_json_of("github", "acme", q).await.unwrap();
        assert_eq!(body, Some(page.to_api_json()), "{q:?}");
        // The other connection has no records, and a connection that does not exist has no page.
        let empty = store.records_json_of("github", "other", q).await.unwrap();
        assert_eq!(empty.as_deref(), Some(r#"{"records":[],"next_cursor":null}"#));
        assert_eq!(store.records_of("github", "nobody", q).await.unwrap(), None);
        assert_eq!(store.records_json_of("github", "nobody", q).await.unwrap(), None);
        assert_eq!(store.records_json_of("gitlab", "acme", q).await.unwrap(), None);
    }
    let bad = RecordQuery { cursor: Some("nope".into()), ..query(5) };
    assert!(matches!(store.records_json_of("github", "acme", &bad).await, Err(StoreError::InvalidCursor { .. })));
    store.close().await;
}
