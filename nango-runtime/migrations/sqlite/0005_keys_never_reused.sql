-- Keys handed out once: SQLite gives a new row the largest rowid plus one, so after the newest
-- connection was deleted its key went to the next connection (and its runs' ids to the next
-- runs), and history filed under a key could mix two connections. AUTOINCREMENT keeps the
-- largest key ever given in `sqlite_sequence` instead. A column cannot gain it in place, so both
-- tables are rebuilt (SQLite's documented procedure: the migrator runs with foreign-key
-- enforcement off and checks every reference before it commits); rows keep their keys, and the
-- connections table keeps the columns migration 4 added (tags, end user, last credentials fetch).
CREATE TABLE connections_rebuilt (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
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
    tags TEXT NOT NULL DEFAULT '{}',
    end_user TEXT,
    last_fetched_at INTEGER,
    UNIQUE (provider_config_key, connection_id)
);
INSERT INTO connections_rebuilt (pk, provider_config_key, connection_id, provider, credentials, credentials_kind,
    connection_config, metadata, base_url, created_at, updated_at, tags, end_user, last_fetched_at)
SELECT pk, provider_config_key, connection_id, provider, credentials, credentials_kind,
    connection_config, metadata, base_url, created_at, updated_at, tags, end_user, last_fetched_at
FROM connections;
DROP TABLE connections;
ALTER TABLE connections_rebuilt RENAME TO connections;

CREATE TABLE runs_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    status TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    error TEXT
);
INSERT INTO runs_rebuilt (id, connection, sync, started_at, ended_at, status, counts, error)
SELECT id, connection, sync, started_at, ended_at, status, counts, error FROM runs;
DROP TABLE runs;
ALTER TABLE runs_rebuilt RENAME TO runs;
CREATE INDEX runs_by_sync ON runs (connection, sync, id);
