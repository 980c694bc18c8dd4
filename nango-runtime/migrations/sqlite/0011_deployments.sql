-- Deployments: the manifest of each binary that applied one (syncs, actions, on-event scripts,
-- the schemas of stored models), newest last; the newest is what is deployed. `fingerprint` is
-- the manifest's digest, `previous` the one it replaced (what its plan was computed against).
CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployed_at INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    previous TEXT,
    applied_by TEXT NOT NULL,
    manifest TEXT NOT NULL,
    changes TEXT NOT NULL
);
-- Webhooks telling consumers of removed models, queued in the deployment's transaction and
-- taken off once delivered (or given up).
CREATE TABLE deploy_webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment INTEGER NOT NULL REFERENCES deployments (id),
    model TEXT NOT NULL,
    body BLOB NOT NULL,
    queued_at INTEGER NOT NULL,
    done_at INTEGER
);
CREATE INDEX deploy_webhooks_pending ON deploy_webhooks (id) WHERE done_at IS NULL;
