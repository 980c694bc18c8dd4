-- What each run changed per model, counted in the transaction of each write (so a run killed
-- half-way is counted too); up to which run sync webhooks have announced those changes; and the
-- webhooks queued until they are delivered (a process killed before sending leaves them for the
-- next one).
CREATE TABLE run_changes (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    added INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (run, model)
);
CREATE TABLE webhook_announcements (
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    model TEXT NOT NULL,
    last_run INTEGER NOT NULL,
    PRIMARY KEY (connection, sync, model)
);
CREATE TABLE webhook_queue (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    body BLOB NOT NULL,
    queued_at INTEGER NOT NULL,
    done_at INTEGER
);
CREATE INDEX webhook_queue_pending ON webhook_queue (id) WHERE done_at IS NULL;
