-- Connections whose provider refused a token refresh: they need their end user to authorize
-- again (a reconnect session clears the mark); the message says why.
CREATE TABLE connection_auth_errors (
    connection INTEGER PRIMARY KEY REFERENCES connections (pk) ON DELETE CASCADE,
    message TEXT NOT NULL,
    at INTEGER NOT NULL
);
