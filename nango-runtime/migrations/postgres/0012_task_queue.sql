-- The task queue of `serve --roles` (as SQLite's 0012): a due schedule becomes a task, a runner
-- claims it (`FOR UPDATE SKIP LOCKED`) with its (connection, sync) lease, runs it and deletes it
-- when done (its history is in `runs`). At most one live task per (connection, sync), enforced
-- here. A `running` task whose lease lapsed is claimed again by another runner.
CREATE TABLE sync_tasks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    provider TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running')),
    queued_at BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    owner TEXT,
    label TEXT,
    claimed_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested_at BIGINT
);
CREATE UNIQUE INDEX sync_tasks_one_live ON sync_tasks (connection, sync) WHERE state IN ('queued', 'running');
CREATE INDEX sync_tasks_claimable ON sync_tasks (available_at, id);
CREATE INDEX sync_tasks_running_by_provider ON sync_tasks (provider) WHERE state = 'running';
-- The processes serving the database, with their roles (the runner count).
CREATE TABLE cluster_nodes (
    owner TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    roles TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
-- The webhook queue is an outbox claimed by one node of the webhooks role at a time.
ALTER TABLE webhook_queue ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until BIGINT;
