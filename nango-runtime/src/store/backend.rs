//! What a database must provide: the backend traits behind [`Store`](super::Store), split by
//! concern.
//!
//! A backend stores and returns what it is given: credentials arrive sealed
//! ([`SealedCredentials`]) and leave sealed, so a backend never sees a secret or the key
//! (the facade seals and opens them). A backend's [`RecordBackend::apply`] reads the stored
//! state of the batch's ids, asks the [record policy](super::policy) for the plan and writes it,
//! all in one write transaction; it decides nothing about records itself.
//!
//! The traits are object-safe (through `async-trait`) so the facade holds an
//! `Arc<dyn Backend>` chosen at run time from the database URL. [`SqliteBackend`] is the one
//! implementation today; a PostgreSQL backend is another implementation of the same five
//! traits.
//!
//! [`SqliteBackend`]: super::SqliteBackend

use super::DeliveryRecord;
use super::{
    ChangeCounts, ConnectionKey, ConsoleSession, ExistingRecord, LogLine, OutgoingWebhook, PreparedRecord,
    QueuedWebhook, RecordChange, RecordPage, RecordQuery, RunEnd, RunIds, RunRecord, RunStart, StoreResult, SyncState,
    Unannounced,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A connection's credentials as the store keeps them: sealed by the facade.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredentials {
    /// [`Sealer::seal`](crate::crypto::Sealer::seal) of the credentials' JSON, bound to the
    /// connection's identity.
    pub sealed: Vec<u8>,
    /// [`Credentials::kind`](crate::Credentials::kind), kept in clear for listings.
    pub kind: String,
}

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedCredentials({}, {} bytes)", self.kind, self.sealed.len())
    }
}

/// A connection as a backend stores it: everything of a [`Connection`](crate::Connection) but
/// its credentials, which are sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedConnection {
    /// The integration's key in nango.yaml.
    pub provider_config_key: String,
    /// The connection's id.
    pub connection_id: String,
    /// The provider in the catalog.
    pub provider: String,
    /// The sealed credentials.
    pub credentials: SealedCredentials,
    /// Values for `${connectionConfig.x}` templates.
    pub connection_config: BTreeMap<String, String>,
    /// The connection's metadata.
    pub metadata: Value,
    /// Replaces the provider's base URL.
    pub base_url: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Connections, with sealed credentials.
#[async_trait]
pub trait ConnectionBackend: Send + Sync {
    /// Creates or replaces a connection (by integration key and connection id); its key.
    async fn save_connection(&self, connection: &SealedConnection) -> StoreResult<ConnectionKey>;
    /// One connection by integration key and connection id.
    async fn connection(
        &self,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<(ConnectionKey, SealedConnection)>>;
    /// One connection by key.
    async fn connection_by_key(&self, key: ConnectionKey) -> StoreResult<Option<(ConnectionKey, SealedConnection)>>;
    /// Every connection, ordered by integration key and connection id.
    async fn connections(&self) -> StoreResult<Vec<(ConnectionKey, SealedConnection)>>;
    /// The key of a connection, without reading its credentials.
    async fn connection_key(
        &self,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<ConnectionKey>>;
    /// Deletes a connection with its records, state, runs, logs and deliveries; whether it
    /// existed.
    async fn delete_connection(&self, provider_config_key: &str, connection_id: &str) -> StoreResult<bool>;
    /// Replaces a connection's metadata.
    async fn set_metadata(&self, connection: ConnectionKey, metadata: &Value) -> StoreResult<()>;
    /// Replaces a connection's sealed credentials.
    async fn set_credentials(&self, connection: ConnectionKey, credentials: &SealedCredentials) -> StoreResult<()>;
}

/// The record cache.
#[async_trait]
pub trait RecordBackend: Send + Sync {
    /// Applies one batch of one model in one write transaction: reads the stored state of the
    /// batch's ids, plans with [`Batch::plan`](super::policy::Batch::plan), writes the plan and
    /// adds its counts to the run's (for [`DeliveryBackend::announce`]); returns its counts.
    async fn apply(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> StoreResult<ChangeCounts>;
    /// Soft-deletes live records of `model` not seen since the run's epoch (adding them to the
    /// run's counts in the same transaction); how many.
    async fn sweep_unseen(&self, run: RunIds, model: &str) -> StoreResult<u64>;
    /// The stored state of some records, as seen outside any run (`seen_in_run` is false); with
    /// their JSON when `with_json`.
    async fn existing(
        &self,
        connection: ConnectionKey,
        model: &str,
        ids: &[&str],
        with_json: bool,
    ) -> StoreResult<HashMap<String, ExistingRecord>>;
    /// Ids of the live records of a model.
    async fn live_ids(&self, connection: ConnectionKey, model: &str) -> StoreResult<Vec<String>>;
    /// A page of records.
    async fn records(&self, connection: ConnectionKey, query: &RecordQuery) -> StoreResult<RecordPage>;
    /// Number of live records per model of a connection.
    async fn record_counts(&self, connection: ConnectionKey) -> StoreResult<BTreeMap<String, u64>>;
}

/// Per-sync state, runs and their logs.
#[async_trait]
pub trait ScheduleBackend: Send + Sync {
    /// The state of a sync for a connection (defaults when none is stored).
    async fn sync_state(&self, connection: ConnectionKey, sync: &str) -> StoreResult<SyncState>;
    /// Saves (`Some`) or clears (`None`) a sync's checkpoint, at once and durably.
    async fn save_checkpoint(
        &self,
        connection: ConnectionKey,
        sync: &str,
        checkpoint: Option<&Value>,
    ) -> StoreResult<()>;
    /// Forgets `last_sync_date`, the checkpoint and the deletion-detection generation; with
    /// `clear_records`, also hard-deletes the records of `models`.
    async fn reset_sync(
        &self,
        connection: ConnectionKey,
        sync: &str,
        models: &[&str],
        clear_records: bool,
    ) -> StoreResult<()>;
    /// Starts a run: marks runs left `RUNNING` by a dead process as failed, records the new run,
    /// and chooses its deletion-detection generation (a run resuming an interrupted enumeration
    /// keeps that enumeration's).
    async fn begin_run(&self, connection: ConnectionKey, sync: &str, track_deletes: bool) -> StoreResult<RunStart>;
    /// Ends a run.
    async fn finish_run(&self, run: &RunStart, sync: &str, end: &RunEnd) -> StoreResult<()>;
    /// Recent runs, newest first (all connections and syncs when `None`).
    async fn runs(
        &self,
        connection: Option<ConnectionKey>,
        sync: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RunRecord>>;
    /// One run.
    async fn run(&self, id: i64) -> StoreResult<Option<RunRecord>>;
    /// Appends lines to a run's log.
    async fn append_logs(&self, run: i64, lines: &[LogLine]) -> StoreResult<()>;
    /// A run's log, oldest first.
    async fn run_logs(&self, run: i64) -> StoreResult<Vec<LogLine>>;
    /// Pauses (`Some(true)`), starts (`Some(false)`) or returns to `auto_start` (`None`).
    async fn set_paused(&self, connection: ConnectionKey, sync: &str, paused: Option<bool>) -> StoreResult<()>;
    /// Sets (or with `None` removes) the connection's own frequency of a sync.
    async fn set_frequency(
        &self,
        connection: ConnectionKey,
        sync: &str,
        frequency_secs: Option<u64>,
    ) -> StoreResult<()>;
    /// Sets when the scheduler runs a sync next.
    async fn set_next_run(&self, connection: ConnectionKey, sync: &str, at: Option<DateTime<Utc>>) -> StoreResult<()>;
}

/// Makes the sync webhooks of one announcement from what is still unannounced, per model; see
/// [`DeliveryBackend::announce`].
pub type ComposeWebhooks<'a> = &'a (dyn Fn(&[Unannounced]) -> Vec<OutgoingWebhook> + Send + Sync);

/// Sync webhooks: what they announced so far, the queue of those not delivered yet, and every
/// delivery attempt.
///
/// What runs changed is counted by [`RecordBackend::apply`] and [`RecordBackend::sweep_unseen`]
/// per (run, model), in the transaction of the write, so a run killed half-way has its changes
/// counted as well as one that ended.
#[async_trait]
pub trait DeliveryBackend: Send + Sync {
    /// Announces the changes of `sync` for a connection, in one write transaction: for each of
    /// `models`, sums the changes of the sync's runs after the last announced one up to `run`
    /// (crashed and failed runs included), hands the sums to `compose`, queues the webhooks it
    /// makes and records `run` as announced for every model. Returns the queued webhooks.
    async fn announce(
        &self,
        connection: ConnectionKey,
        sync: &str,
        run: i64,
        models: &[&str],
        compose: ComposeWebhooks<'_>,
    ) -> StoreResult<Vec<QueuedWebhook>>;
    /// Queues webhooks that announce nothing (a failed run's), for delivery.
    async fn queue_webhooks(&self, run: i64, webhooks: &[OutgoingWebhook]) -> StoreResult<Vec<QueuedWebhook>>;
    /// Queued webhooks not delivered yet, oldest first.
    async fn pending_webhooks(&self, limit: u32) -> StoreResult<Vec<QueuedWebhook>>;
    /// Takes a webhook off the queue: delivered, or given up after its retries.
    async fn webhook_done(&self, id: i64) -> StoreResult<()>;
    /// Keeps delivery attempts.
    async fn record_deliveries(&self, attempts: &[DeliveryRecord]) -> StoreResult<()>;
    /// Recent delivery attempts, newest first (of one run when given).
    async fn deliveries(&self, run: Option<i64>, limit: u32) -> StoreResult<Vec<DeliveryRecord>>;
}

/// Signed-in console sessions, kept in the database so every process serving the same store
/// shares them. The backend stores and finds them; whether one is still valid is decided by the
/// console, from its expiry.
#[async_trait]
pub trait SessionBackend: Send + Sync {
    /// Keeps a new session.
    async fn create_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    /// The session with this digest, expired or not.
    async fn session(&self, digest: &[u8]) -> StoreResult<Option<ConsoleSession>>;
    /// Deletes a session (sign-out); whether it existed.
    async fn delete_session(&self, digest: &[u8]) -> StoreResult<bool>;
    /// Deletes the sessions that expired at or before `now`; how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// A complete backend: every concern, and a way to close it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use nango_runtime::store::{SqliteBackend, backend::Backend};
/// let dir = std::env::temp_dir().join(format!("nango-doc-backend-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let url = format!("sqlite://{}", dir.join("nango.db").display());
/// let backend: std::sync::Arc<dyn Backend> = std::sync::Arc::new(SqliteBackend::open(&url).await.unwrap());
/// assert_eq!(backend.name(), "sqlite");
/// assert!(backend.connections().await.unwrap().is_empty());
/// backend.close().await;
/// # });
/// ```
#[async_trait]
pub trait Backend:
    ConnectionBackend + RecordBackend + ScheduleBackend + DeliveryBackend + SessionBackend + std::fmt::Debug
{
    /// Which backend (`sqlite`), for logs and errors.
    fn name(&self) -> &'static str;
    /// Waits for running statements and closes the database (files are complete afterwards).
    async fn close(&self);
}
