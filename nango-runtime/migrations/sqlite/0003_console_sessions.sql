-- Console sessions: a digest of each session id (never the id itself), its CSRF token and when it
-- expires; shared by every process on the database.
CREATE TABLE console_sessions (
    digest BLOB PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
