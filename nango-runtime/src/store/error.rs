//! What can go wrong in the store, with the failing operation named and the cause kept as the
//! error's source.
//!
//! Messages say what failed and how to fix it without naming command-line flags: they reach HTTP
//! responses as well as the CLI, which adds its own hints by matching the variant.

use super::ConnectionKey;
use std::path::PathBuf;

/// What went wrong in the store.
///
/// The cause (the database's error, the sealer's, the JSON decoder's) is the [`source`]
/// of the error, so `error_chain` and `{:#}`-style reporters print the whole story:
///
/// ```
/// use nango_runtime::store::StoreError;
/// let e = StoreError::InvalidCursor { cursor: "nope".into() };
/// assert!(e.to_string().contains("pass a cursor returned by an earlier call"));
/// ```
///
/// [`source`]: std::error::Error::source
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL names a store this program does not have.
    #[error("unsupported database URL `{url}`: {reason}")]
    UnsupportedUrl {
        /// The URL as given.
        url: String,
        /// What is supported instead.
        reason: &'static str,
    },
    /// The URL is malformed for its backend.
    #[cfg(feature = "runtime")]
    #[error("invalid database URL `{url}`")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why the backend refused it.
        #[source]
        source: sqlx::Error,
    },
    /// The database could not be opened.
    #[cfg(feature = "runtime")]
    #[error("cannot open the database `{url}`")]
    Open {
        /// The URL as given.
        url: String,
        /// The database's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[cfg(feature = "runtime")]
    #[error("cannot bring the database schema up to date")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The database was written by a newer program.
    #[error(
        "the database has schema version {found}, newer than this program knows ({known}); use a newer nango-runtime"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest version this program knows.
        known: i64,
    },
    /// A migration left rows that refer to rows that do not exist (the transaction is rolled
    /// back: the database is as it was).
    #[error(
        "the schema migration would leave rows of `{table}` referring to missing rows of `{parent}`; the database was left unchanged"
    )]
    BrokenReferences {
        /// The table with the broken reference.
        table: String,
        /// The table it refers to.
        parent: String,
    },
    /// A statement failed.
    #[cfg(feature = "runtime")]
    #[error("database error while {operation}")]
    Database {
        /// What the store was doing (`reading records`, `saving the connection`...).
        operation: &'static str,
        /// The database's error.
        #[source]
        source: sqlx::Error,
    },
    /// A read on the SQLite store's own read-only connections failed (pages of records are read
    /// there, on a blocking thread, rather than through the pool).
    #[error("database error while {operation}")]
    Read {
        /// What the store was doing.
        operation: &'static str,
        /// The database's error (or why the read could not run).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A write on the SQLite store's own connection for record batches failed (a run's batches
    /// are written there, on a blocking thread, rather than through the pool).
    #[error("database error while {operation}")]
    Write {
        /// What the store was doing.
        operation: &'static str,
        /// The database's error (or why the write could not run).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A connection's credentials could not be sealed before they were stored.
    #[cfg(feature = "runtime")]
    #[error("cannot seal the credentials of connection `{connection_id}` of `{provider_config_key}`")]
    Seal {
        /// Integration key.
        provider_config_key: String,
        /// Connection id.
        connection_id: String,
        /// Why.
        #[source]
        source: crate::crypto::CryptoError,
    },
    /// A connection's stored credentials could not be opened.
    #[cfg(feature = "runtime")]
    #[error("cannot open the stored credentials of connection `{connection_id}` of `{provider_config_key}`")]
    Unseal {
        /// Integration key.
        provider_config_key: String,
        /// Connection id.
        connection_id: String,
        /// Why.
        #[source]
        source: crate::crypto::CryptoError,
    },
    /// Secrets were to be sealed under another key than the one the store's secrets are sealed
    /// under: saving them would leave a connection (or an integration's app) the other processes
    /// cannot open.
    #[cfg(feature = "runtime")]
    #[error(
        "the credentials in this store are sealed under another encryption key than the one given{}; use the key they were sealed with, or re-seal them under this one first",
        found_in(.connections)
    )]
    KeyMismatch {
        /// Connections (`` `acme` of `github` ``) and integrations (`` integration `github` ``)
        /// found sealed under another key, when known.
        connections: Vec<String>,
    },
    /// A key rotation found credentials that open under none of the keys given: nothing was
    /// changed.
    #[error(
        "cannot re-seal the credentials of {}: they open under none of the keys given (nor the new one); give the key they were sealed with too, or remove them; nothing was changed",
        .connections.join(", ")
    )]
    RotationBlocked {
        /// The connections (`` `acme` of `github` ``) and integrations (`` integration `github` ``).
        connections: Vec<String>,
    },
    /// Credentials changed while a key rotation ran (a token refresh, an integration updated):
    /// nothing was changed.
    #[error(
        "the credentials of {owner} changed during the key rotation (a token was refreshed or the integration updated); nothing was changed: run it again"
    )]
    ChangedDuringRotation {
        /// Whose: `` connection `acme` of `github` `` or `` integration `github` ``.
        owner: String,
    },
    /// A run that lost its lease tried to write: another process closed the run (it took the
    /// lease over, or found it lapsed), so the write was refused.
    #[error(
        "run {run} no longer holds its sync: its lease lapsed and the run was closed (another process may run the sync now), so its write was refused"
    )]
    RunFenced {
        /// The run.
        run: i64,
    },
    /// Another deployment was applied since the plan was computed (or is being applied now).
    #[error(
        "the deployed state changed since this plan was computed: it was {}, it is now {found} (deployment #{deployment}, applied by {applied_by}); nothing was changed: compute the plan again",
        .expected.as_deref().unwrap_or("nothing deployed")
    )]
    DeploymentChanged {
        /// The fingerprint the plan was computed against.
        expected: Option<String>,
        /// The fingerprint found.
        found: String,
        /// The deployment that holds it.
        deployment: i64,
        /// Who applied it.
        applied_by: String,
    },
    /// Stored records would no longer match their model's new schema.
    #[error(
        "{count} stored record(s) of model {model} no longer match its new schema (record `{example}` of connection `{connection_id}`, for one); nothing was changed: make the new schema accept the stored values, or allow the deployment to delete those records"
    )]
    IncompatibleRecords {
        /// The model.
        model: String,
        /// How many fail.
        count: u64,
        /// The id of one.
        example: String,
        /// Its connection.
        connection_id: String,
    },
    /// The lease of a sync changed hands again and again while it was asked for.
    #[error("the lease of sync `{sync}` changed hands while it was asked for; try again")]
    LeaseContended {
        /// The sync.
        sync: String,
    },
    /// An integration's app credentials could not be sealed before they were stored.
    #[cfg(feature = "runtime")]
    #[error("cannot seal the credentials of integration `{unique_key}`")]
    SealIntegration {
        /// The integration's key.
        unique_key: String,
        /// Why.
        #[source]
        source: crate::crypto::CryptoError,
    },
    /// An integration's stored app credentials could not be opened.
    #[cfg(feature = "runtime")]
    #[error("cannot open the stored credentials of integration `{unique_key}`")]
    UnsealIntegration {
        /// The integration's key.
        unique_key: String,
        /// Why.
        #[source]
        source: crate::crypto::CryptoError,
    },
    /// An integration's opened app credentials are not the JSON they should be.
    #[error("the stored credentials of integration `{unique_key}` are unreadable")]
    UnreadableIntegration {
        /// The integration's key.
        unique_key: String,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored value of a connection is not the JSON it should be.
    #[error("the stored {what} of connection `{connection_id}` of `{provider_config_key}` is unreadable")]
    UnreadableConnection {
        /// Which value (`credentials`, `metadata`, `connection_config`).
        what: &'static str,
        /// Integration key.
        provider_config_key: String,
        /// Connection id.
        connection_id: String,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A stored record is not JSON (a `batch_update` needs to merge into it).
    #[error("the stored record `{id}` of model {model} is unreadable")]
    UnreadableRecord {
        /// The model.
        model: String,
        /// The record's id.
        id: String,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// No connection has this key (it was removed meanwhile).
    #[error("no connection has the key {key}")]
    UnknownConnectionKey {
        /// The key.
        key: ConnectionKey,
    },
    /// A records cursor that no page or record gave out.
    #[error("invalid cursor `{cursor}`: pass a cursor returned by an earlier call")]
    InvalidCursor {
        /// The cursor as given.
        cursor: String,
    },
    /// A file of a JSON Lines cache could not be created, written or read.
    #[error("cannot {action} {}", .path.display())]
    File {
        /// `create`, `write` or `read`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a JSON Lines file is not JSON.
    #[error("{}:{line}:{column}: invalid JSON", .path.display())]
    JsonLine {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
}

/// ` (found under another key: `a` of `github`, ...)`, or nothing.
#[cfg(feature = "runtime")]
fn found_in(connections: &[String]) -> String {
    if connections.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = connections.iter().take(5).map(String::as_str).collect();
    let more = if connections.len() > 5 { format!(" and {} more", connections.len() - 5) } else { String::new() };
    format!(" (those of {}{more})", shown.join(", "))
}

/// `Result` of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Names the operation a database error happened in: `query.await.during("reading records")?`.
#[cfg(feature = "runtime")]
pub(crate) trait During<T> {
    /// The error as [`StoreError::Database`] with `operation`.
    fn during(self, operation: &'static str) -> StoreResult<T>;
}

#[cfg(feature = "runtime")]
impl<T> During<T> for Result<T, sqlx::Error> {
    fn during(self, operation: &'static str) -> StoreResult<T> {
        self.map_err(|source| StoreError::Database { operation, source })
    }
}
