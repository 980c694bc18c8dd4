-- The task queue of `serve --roles`: a due schedule becomes a task, a runner claims it, runs it
-- under the (connection, sync) lease of `sync_leases` and deletes it when done (its history is
-- in `runs`). At most one live task per (connection, sync), enforced here, so two schedulers
-- enqueuing the same schedule at once are harmless. A `running` task whose lease lapsed is
-- claimed again by another runner, which resumes from the checkpoint.
CREATE TABLE sync_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    -- The connection's provider, for the per-provider concurrency limit.
    provider TEXT NOT NULL,
    -- `schedule` or `trigger`.
    reason TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running')),
    queued_at INTEGER NOT NULL,
    -- Not claimed before (a task handed back because another process runs the sync waits).
    available_at INTEGER NOT NULL,
    owner TEXT,
    label TEXT,
    claimed_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- An api node asked the runner to stop it (a reset).
    cancel_requested_at INTEGER
);
CREATE UNIQUE INDEX sync_tasks_one_live ON sync_tasks (connection, sync) WHERE state IN ('queued', 'running');
CREATE INDEX sync_tasks_claimable ON sync_tasks (state, available_at, id);
-- The processes serving the store, with their roles, for the runner count of `/health` and
-- `/metrics`; a process beats while it runs and is gone once it stops beating.
CREATE TABLE cluster_nodes (
    owner TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    roles TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
);
-- The webhook queue is an outbox: a node of the webhooks role claims a row before delivering
-- it, so one node delivers each; a claim of a node that died lapses and another delivers.
ALTER TABLE webhook_queue ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_queue ADD COLUMN claimed_until INTEGER;
