-- Which process runs a (connection, sync): one lease row, held by a random owner token, renewed
-- by its holder's heartbeat and lapsed at `expires_at`. Another process takes it only once it
-- lapsed, and only then closes the runs it covered. `label` names the holder in messages.
CREATE TABLE sync_leases (
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    owner TEXT NOT NULL,
    label TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (connection, sync)
);
-- When a run was last known alive: the honest end of a run whose process died.
ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
-- A trigger not yet taken by a run, kept here so that a restart does not lose it.
ALTER TABLE sync_state ADD COLUMN triggered_at INTEGER;
