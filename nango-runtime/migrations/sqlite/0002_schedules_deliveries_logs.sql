-- Schedules (pause, own frequency, next run), webhook delivery attempts and run logs.
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
