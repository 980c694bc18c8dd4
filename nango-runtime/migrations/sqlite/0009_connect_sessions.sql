-- Connect sessions (Nango's `POST /connect/sessions`): a digest of each session token (never the
-- token), what the session allows as JSON, and when it expires; and the OAuth authorizations in
-- progress, by a digest of their `state`, taken out (once) when the provider redirects back.
CREATE TABLE connect_sessions (
    digest BLOB PRIMARY KEY,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX connect_sessions_by_expiry ON connect_sessions (expires_at);

CREATE TABLE oauth_flows (
    state_digest BLOB PRIMARY KEY,
    session_digest BLOB NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX oauth_flows_by_expiry ON oauth_flows (expires_at);
