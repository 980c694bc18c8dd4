-- Connections (credentials sealed), the record cache, per-sync state and the run history.
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
