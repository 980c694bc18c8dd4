-- What Nango's API keeps besides connections and records: integrations with their OAuth app
-- (client secret sealed), the results of actions run in the background, a connection's tags,
-- end user and last credentials fetch, the frequency text a connection's schedule was set with,
-- and when a record's payload was pruned.
CREATE TABLE integrations (
    pk INTEGER PRIMARY KEY,
    unique_key TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    display_name TEXT,
    credentials BLOB,
    credentials_kind TEXT,
    forward_webhooks INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE action_results (
    id TEXT PRIMARY KEY,
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    output TEXT,
    created_at INTEGER NOT NULL,
    ended_at INTEGER
);
ALTER TABLE connections ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
ALTER TABLE connections ADD COLUMN end_user TEXT;
ALTER TABLE connections ADD COLUMN last_fetched_at INTEGER;
ALTER TABLE sync_state ADD COLUMN frequency_text TEXT;
ALTER TABLE records ADD COLUMN pruned_at INTEGER;
