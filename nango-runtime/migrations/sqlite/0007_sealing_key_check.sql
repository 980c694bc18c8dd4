-- The key the store's secrets are sealed under, as a known text sealed under it: a process with
-- another key is refused before it stores a secret the others cannot open.
CREATE TABLE sealing_key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
