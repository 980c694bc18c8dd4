-- The schema of SQLite's migrations 0001 to 0010 in one step: a PostgreSQL database starts where
-- an SQLite one is after 0010, so a later migration has the same number in both folders.
--
-- What differs from SQLite, and why:
-- - Keys are identity columns: a sequence never hands a value out twice, also after the row with
--   the largest key was deleted (SQLite needed AUTOINCREMENT for that).
-- - Times stay integer microseconds since the epoch (BIGINT), as in SQLite: the records cursor
--   carries them, and one encoding keeps both backends' answers byte for byte the same.
-- - A record's JSON is TEXT, not JSONB: the records API returns it as it was written (JSONB
--   would reorder keys and drop duplicates).
-- - `records.seq` comes from the sequence `records_seq`, taken while the writer holds the
--   (connection, model) lock (see `store/postgres/records.rs`), so within one (connection,
--   model) a larger seq always commits later: a reader paging by (seq, pk) never skips a row.

CREATE TABLE connections (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_config_key TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    credentials BYTEA NOT NULL,
    credentials_kind TEXT NOT NULL,
    connection_config TEXT NOT NULL,
    metadata TEXT NOT NULL,
    base_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    end_user TEXT,
    last_fetched_at BIGINT,
    UNIQUE (provider_config_key, connection_id)
);

CREATE SEQUENCE records_seq;
CREATE TABLE records (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    hash BYTEA NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_action TEXT NOT NULL,
    deleted_at BIGINT,
    seq BIGINT NOT NULL,
    seen_run BIGINT NOT NULL,
    seen_epoch BIGINT NOT NULL,
    pruned_at BIGINT,
    UNIQUE (connection, model, id)
);
-- The records API's order: one index range scan per page, from the cursor on.
CREATE INDEX records_by_seq ON records (connection, model, seq, pk);

CREATE TABLE sync_state (
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    last_sync_date BIGINT,
    checkpoint TEXT,
    epoch BIGINT,
    paused BOOLEAN,
    frequency_secs BIGINT,
    next_run_at BIGINT,
    frequency_text TEXT,
    triggered_at BIGINT,
    PRIMARY KEY (connection, sync)
);

CREATE TABLE runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    status TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    heartbeat_at BIGINT
);
CREATE INDEX runs_by_sync ON runs (connection, sync, id);
-- The stale-run sweep looks only at runs still running.
CREATE INDEX runs_running ON runs (connection, sync) WHERE status = 'RUNNING';

CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    url TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_run ON webhook_deliveries (run);

CREATE TABLE run_logs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX run_logs_by_run ON run_logs (run, id);

CREATE TABLE console_sessions (
    digest BYTEA PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);

CREATE TABLE integrations (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unique_key TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    display_name TEXT,
    credentials BYTEA,
    credentials_kind TEXT,
    forward_webhooks BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE action_results (
    id TEXT PRIMARY KEY,
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    output TEXT,
    created_at BIGINT NOT NULL,
    ended_at BIGINT
);

CREATE TABLE sync_leases (
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    owner TEXT NOT NULL,
    label TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (connection, sync)
);

CREATE TABLE sealing_key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE run_changes (
    run BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    added BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    PRIMARY KEY (run, model)
);

CREATE TABLE webhook_announcements (
    connection BIGINT NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    model TEXT NOT NULL,
    last_run BIGINT NOT NULL,
    PRIMARY KEY (connection, sync, model)
);

CREATE TABLE webhook_queue (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    body BYTEA NOT NULL,
    queued_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX webhook_queue_pending ON webhook_queue (id) WHERE done_at IS NULL;
CREATE INDEX webhook_queue_by_run ON webhook_queue (run);

CREATE TABLE connect_sessions (
    digest BYTEA PRIMARY KEY,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX connect_sessions_by_expiry ON connect_sessions (expires_at);

CREATE TABLE oauth_flows (
    state_digest BYTEA PRIMARY KEY,
    session_digest BYTEA NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_flows_by_expiry ON oauth_flows (expires_at);
CREATE INDEX oauth_flows_by_session ON oauth_flows (session_digest);

CREATE TABLE connection_auth_errors (
    connection BIGINT PRIMARY KEY REFERENCES connections (pk) ON DELETE CASCADE,
    message TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX action_results_by_connection ON action_results (connection);
