//! SQL that SQLite and PostgreSQL run alike, written once. Each file holds one concern's
//! backend traits as a macro that each backend invokes for its own type: the statements, the
//! row handling and the errors are the same text on both, and only the pool, row and
//! transaction types differ (sqlx has no type that is both, and code generic over
//! `sqlx::Database` would need a bound for every type bound or decoded). A statement that
//! differs between the two stays in the backend's own folder.

pub(super) mod connect;
pub(super) mod connections;
pub(super) mod integrations;
pub(super) mod validators;
