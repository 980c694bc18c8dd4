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
//! `Arc<dyn Backend>` chosen at run time from the database URL: [`SqliteBackend`] (the embedded
//! default) or [`PostgresBackend`] (many processes on many machines). The store tests run on
//! both, so a behaviour described here holds for each.
//!
//! Two promises every backend keeps, which the runtime builds on:
//! - **Keys are handed out once.** A connection's key and a run's id are never given again, also
//!   after the row is deleted (SQLite: `AUTOINCREMENT`; PostgreSQL: identity columns), so
//!   history filed under a key never mixes two connections.
//! - **Leases are exclusive.** [`LeaseBackend::acquire_lease`] gives a (connection, sync) to one
//!   owner at a time, in one statement that takes a lapsed lease over or fails (an
//!   `INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at <= now` works in both SQLite and
//!   PostgreSQL); runs are closed as interrupted only once their lease lapsed.
//!
//! [`SqliteBackend`]: super::SqliteBackend
//! [`PostgresBackend`]: super::PostgresBackend

use super::DeliveryRecord;
use super::deploy::{DeployOutcome, Deployment, DeploymentWrite, QueuedDeployWebhook, RecordFilter, RecordVisitor};
use super::{
    ActionResult, ActionStatus, ChangeCounts, ConnectSession, ConnectionKey, ConnectionProfile, ConsoleSession,
    EndUser, ExistingRecord, LeaseHolder, LeaseOwner, LogLine, OAuthFlow, OutgoingWebhook, PageValidator,
    PreparedRecord, Pruned, QueuedWebhook, RecordChange, RecordPage, RecordQuery, RunEnd, RunIds, RunRecord, RunStart,
    StoreResult, SyncState, Unannounced,
};
use super::{ClaimedTask, NewTask, NodeBeat, QueueStats, RunCheckpoint, TaskClaim};
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

/// A connection's sealed credentials with what they are bound to, for a key check or rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedRow {
    /// The connection's key.
    pub key: ConnectionKey,
    /// Integration key.
    pub provider_config_key: String,
    /// Connection id.
    pub connection_id: String,
    /// The credentials as stored.
    pub credentials: SealedCredentials,
}

/// One connection's credentials re-sealed by a key rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reseal {
    /// The row as it was read (compared again when written: a change meanwhile aborts).
    pub before: SealedRow,
    /// The credentials sealed under the new key.
    pub after: SealedCredentials,
}

/// An integration's app credentials re-sealed by a key rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationReseal {
    /// The integration's key.
    pub unique_key: String,
    /// Its credentials as they were read (compared again when written: a change meanwhile
    /// aborts).
    pub before: SealedCredentials,
    /// The credentials sealed under the new key.
    pub after: SealedCredentials,
}

/// Connections, with sealed credentials.
#[async_trait]
pub trait ConnectionBackend: Send + Sync {
    /// Creates or replaces a connection (by integration key and connection id); its key. A new
    /// connection never gets a key an earlier (deleted) one had.
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
    /// Replaces (or with `merge`, merges into: [`merge_metadata`](super::merge_metadata)) the
    /// metadata of several connections, in one transaction.
    async fn update_metadata(&self, connections: &[ConnectionKey], metadata: &Value, merge: bool) -> StoreResult<()>;
    /// A connection's tags, end user and last credentials fetch (`None`: no such connection).
    async fn connection_profile(&self, connection: ConnectionKey) -> StoreResult<Option<ConnectionProfile>>;
    /// The profiles of every connection.
    async fn connection_profiles(&self) -> StoreResult<HashMap<ConnectionKey, ConnectionProfile>>;
    /// Replaces a connection's tags and end user.
    async fn set_connection_profile(
        &self,
        connection: ConnectionKey,
        tags: &BTreeMap<String, String>,
        end_user: Option<&EndUser>,
    ) -> StoreResult<()>;
    /// Records that the API returned a connection's credentials at `at`.
    async fn mark_fetched(&self, connection: ConnectionKey, at: DateTime<Utc>) -> StoreResult<()>;
    /// Every connection's sealed credentials.
    async fn sealed_credentials(&self) -> StoreResult<Vec<SealedRow>>;
    /// The store's sealing key check (a known text sealed under the store's key), if set.
    async fn key_check(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Sets the key check unless one is set; the one stored afterwards (of two processes setting
    /// it at once, one wins, and the other learns which).
    async fn establish_key_check(&self, sealed: &[u8]) -> StoreResult<Vec<u8>>;
    /// Writes re-sealed credentials (of connections and of integrations' apps) and the new key
    /// check in one transaction; a row whose credentials are no longer `before` aborts it all
    /// with [`StoreError::ChangedDuringRotation`](super::StoreError::ChangedDuringRotation).
    /// Freed space is overwritten, so no old value stays readable in the database files.
    async fn reseal_credentials(
        &self,
        changes: &[Reseal],
        integrations: &[IntegrationReseal],
        key_check: &[u8],
    ) -> StoreResult<()>;
}

/// Leases: which process runs a (connection, sync) now. Times come from the caller (the
/// facade passes the clock), so the rules can be tested without waiting.
#[async_trait]
pub trait LeaseBackend: Send + Sync {
    /// Takes the lease for `owner` until `expires_at` when it is free, lapsed (`expires_at <=
    /// now`) or already `owner`'s (left by a run of the same process that was dropped: the
    /// process keeps its own runs apart itself); otherwise who holds it.
    async fn acquire_lease(
        &self,
        connection: ConnectionKey,
        sync: &str,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Result<(), LeaseHolder>>;
    /// Extends `owner`'s lease to `expires_at` and records `run` as alive at `now`; `false` when
    /// `owner` no longer holds it (it lapsed and someone took it over, or the connection is gone).
    async fn renew_lease(
        &self,
        connection: ConnectionKey,
        sync: &str,
        owner: &LeaseOwner,
        run: Option<i64>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Gives `owner`'s lease up (nothing when someone else holds it).
    async fn release_lease(&self, connection: ConnectionKey, sync: &str, owner: &LeaseOwner) -> StoreResult<()>;
    /// Closes the runs left `RUNNING` whose (connection, sync) has no live lease: failed, as
    /// interrupted, ended when they were last known alive. How many.
    async fn close_stale_runs(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// The record cache.
#[async_trait]
pub trait RecordBackend: Send + Sync {
    /// Applies one batch of one model in one write transaction: reads the stored state of the
    /// batch's ids, plans with [`Batch::plan`](super::policy::Batch::plan), writes the plan and
    /// adds its counts to the run's (for [`DeliveryBackend::announce`]); returns its counts.
    ///
    /// The same transaction records the run's progress (it is alive now: its `heartbeat_at`)
    /// and, when given, saves `checkpoint`: records, counts, progress and checkpoint commit
    /// together or not at all, so a crash (of the process or the database) never leaves the
    /// batch's records without the checkpoint saved after them, nor the checkpoint without its
    /// records. An empty batch with a checkpoint saves the checkpoint alone. Fenced like every
    /// write of a run (see [`TaskBackend`]).
    async fn apply(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<RunCheckpoint<'_>>,
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
    /// Empties the payload (all but the `id`) of at most `limit` records of `model`, oldest
    /// first, up to and including the record of the cursor `until`, skipping those already
    /// pruned; their `pruned_at` is set and their hash cleared, so that saving one again
    /// restores it.
    async fn prune(&self, connection: ConnectionKey, model: &str, until: &str, limit: u32) -> StoreResult<Pruned>;
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
    /// Forgets `last_sync_date`, the checkpoint, the deletion-detection generation and the
    /// pages' validators; with `clear_records`, also hard-deletes the records of `models`.
    async fn reset_sync(
        &self,
        connection: ConnectionKey,
        sync: &str,
        models: &[&str],
        clear_records: bool,
    ) -> StoreResult<()>;
    /// Starts a run, by the holder of the (connection, sync) lease: closes the runs left
    /// `RUNNING` (their lease lapsed, or the caller could not hold it) as failed, ended when they
    /// were last known alive; records the new run; takes the pending trigger; and chooses the
    /// run's deletion-detection generation (a run resuming an interrupted enumeration keeps that
    /// enumeration's).
    async fn begin_run(&self, connection: ConnectionKey, sync: &str, track_deletes: bool) -> StoreResult<RunStart>;
    /// Ends a run, unless another process already closed it (it lost its lease): then its
    /// verdict stands and the sync's state is left alone.
    async fn finish_run(&self, run: &RunStart, sync: &str, end: &RunEnd) -> StoreResult<()>;
    /// Records (`Some`) or withdraws (`None`) a trigger: the next run that starts takes it.
    async fn set_triggered(&self, connection: ConnectionKey, sync: &str, at: Option<DateTime<Utc>>) -> StoreResult<()>;
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
    /// Sets when the scheduler runs a sync next, only if the next run time is still `seen`
    /// (`None`: none stored); whether it was set.
    async fn set_next_run_if(
        &self,
        connection: ConnectionKey,
        sync: &str,
        seen: Option<DateTime<Utc>>,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
    /// Keeps (or with `None` forgets) the text the connection's own frequency was set with.
    async fn set_frequency_text(&self, connection: ConnectionKey, sync: &str, text: Option<&str>) -> StoreResult<()>;
}

/// An integration as a backend stores it: its app's credentials sealed by the facade.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedIntegration {
    /// Its key.
    pub unique_key: String,
    /// The provider in the catalog.
    pub provider: String,
    /// Its own name.
    pub display_name: Option<String>,
    /// The sealed credentials of its app, if it has any.
    pub credentials: Option<SealedCredentials>,
    /// Whether provider webhooks are forwarded.
    pub forward_webhooks: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Integrations, with sealed app credentials.
#[async_trait]
pub trait IntegrationBackend: Send + Sync {
    /// Creates or replaces an integration by its key; with `replacing`, the integration of that
    /// key is removed in the same transaction (a rename).
    async fn save_integration(&self, integration: &SealedIntegration, replacing: Option<&str>) -> StoreResult<()>;
    /// One integration.
    async fn integration(&self, unique_key: &str) -> StoreResult<Option<SealedIntegration>>;
    /// Every integration, by key.
    async fn integrations(&self) -> StoreResult<Vec<SealedIntegration>>;
    /// Deletes an integration (not its connections); whether it existed.
    async fn delete_integration(&self, unique_key: &str) -> StoreResult<bool>;
}

/// Results of actions run in the background.
#[async_trait]
pub trait ActionResultBackend: Send + Sync {
    /// Records that an action started for a connection.
    async fn start_action(
        &self,
        id: &str,
        connection: ConnectionKey,
        action: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Records how it ended: its output, or the error its caller gets.
    async fn finish_action(&self, id: &str, status: ActionStatus, output: &Value, at: DateTime<Utc>)
    -> StoreResult<()>;
    /// One result.
    async fn action_result(&self, id: &str) -> StoreResult<Option<ActionResult>>;
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

/// Connect sessions and OAuth authorizations in progress (see [`super::ConnectSession`]),
/// shared by every process on the database.
#[async_trait]
pub trait ConnectBackend: Send + Sync {
    /// Keeps a connect session (one with the same digest is replaced).
    async fn create_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
    /// The connect session with this digest, expired or not.
    async fn connect_session(&self, digest: &[u8]) -> StoreResult<Option<ConnectSession>>;
    /// Deletes a connect session and the authorizations it started; whether it existed.
    async fn delete_connect_session(&self, digest: &[u8]) -> StoreResult<bool>;
    /// Keeps an authorization sent to the provider.
    async fn start_oauth_flow(&self, flow: &OAuthFlow) -> StoreResult<()>;
    /// Takes the authorization with this state digest out (a second call finds nothing).
    async fn take_oauth_flow(&self, state_digest: &[u8]) -> StoreResult<Option<OAuthFlow>>;
    /// Deletes the sessions and authorizations that expired at or before `now`.
    async fn delete_expired_connect(&self, now: DateTime<Utc>) -> StoreResult<()>;
    /// Marks a connection as needing re-authorization (`Some`: why), or clears the mark.
    async fn set_auth_error(&self, connection: ConnectionKey, error: Option<(&str, DateTime<Utc>)>) -> StoreResult<()>;
    /// The connections marked as needing re-authorization, with why.
    async fn auth_errors(&self) -> StoreResult<HashMap<ConnectionKey, String>>;
}

/// The task queue of `serve --roles`, the processes of the cluster, the claims of the webhook
/// outbox, and the checkpoint write of a run, fenced.
///
/// The rules every backend keeps (the runtime's guarantees rest on them):
/// - **One live task per (connection, sync).** [`TaskBackend::enqueue_task`] inserts nothing
///   when one is `queued` or `running`: a unique index over live tasks decides, not a read
///   before the write, so two schedulers at once enqueue one task.
/// - **A claim is exclusive.** Two runners never claim the same task: SQLite serializes the
///   claim in a write transaction; PostgreSQL selects with `FOR UPDATE SKIP LOCKED`.
/// - **A task is claimed with its lease.** A task is claimable when its (connection, sync) has
///   no live lease in `sync_leases`, and the claim takes that lease for the runner in the same
///   transaction: a `queued` task whose sync runs outside the queue (`nango run`) waits, and a
///   `running` task whose runner died or froze (its lease lapsed) comes back to another runner.
///   The task's end ([`TaskBackend::finish_task`], [`TaskBackend::release_task`]) gives the lease
///   up in its own transaction, so nobody claims a task between its run's end and its
///   bookkeeping.
/// - **Fencing.** A run's writes ([`RecordBackend::apply`], [`RecordBackend::sweep_unseen`],
///   [`TaskBackend::save_run_checkpoint`], [`ScheduleBackend::finish_run`]) check in their own
///   transaction that the run is still `RUNNING`: the next holder of the lease closes it in
///   [`ScheduleBackend::begin_run`] (and [`LeaseBackend::close_stale_runs`] closes it once its
///   lease lapsed), so a runner that lost its lease has its late writes refused with
///   [`StoreError::RunFenced`](super::StoreError::RunFenced). The check is an update of the
///   run's row where it is still `RUNNING` (which also records it alive), so on PostgreSQL the
///   closing update and the write cannot interleave: one waits for the other's row lock.
/// - **A batch commits whole.** [`RecordBackend::apply`] writes a batch's records, the run's
///   counts and progress, and the checkpoint saved with it in one transaction.
/// - **Versions, in the claim.** A task is claimed only by a runner whose binary has its sync
///   ([`TaskClaim::syncs`]) at the run version the last deployment recorded (table
///   `deployed_syncs`, replaced in the deployment's transaction), and only a deployed sync gets
///   a task: the filter is in the claim's and the enqueue's SQL, so old and new binaries share a
///   database during a rolling deploy. Until a deployment recorded versions, every sync a runner
///   has is claimable.
#[async_trait]
pub trait TaskBackend: Send + Sync {
    /// Enqueues a task unless the (connection, sync) has a live one; for a scheduled task, only
    /// if the stored next run time is still [`NewTask::seen_next_run`] or a trigger is pending.
    /// Whether it was enqueued.
    async fn enqueue_task(&self, task: &NewTask, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Claims the oldest available task within the limits (see [`TaskClaim`]) and takes its
    /// lease, with the schedule's next run time read in the same transaction.
    async fn claim_task(&self, claim: &TaskClaim, now: DateTime<Utc>) -> StoreResult<Option<ClaimedTask>>;
    /// Deletes a task `owner` holds and, in the same transaction, gives its lease up and moves
    /// the schedule's next run time to `next_run.1` if it is still `next_run.0`. `false` (and
    /// nothing written) when
    /// `owner` no longer holds it (another runner claimed it after its lease lapsed).
    async fn finish_task(
        &self,
        id: i64,
        owner: &str,
        next_run: Option<(Option<DateTime<Utc>>, DateTime<Utc>)>,
    ) -> StoreResult<bool>;
    /// Hands a task `owner` holds back to the queue, claimable from `available_at` (a graceful
    /// shutdown), and gives its lease up. Whether `owner` held it.
    async fn release_task(&self, id: i64, owner: &str, available_at: DateTime<Utc>) -> StoreResult<bool>;
    /// Asks the runner of the (connection, sync)'s running task to stop it; whether one runs.
    async fn request_task_cancel(&self, connection: ConnectionKey, sync: &str, now: DateTime<Utc>)
    -> StoreResult<bool>;
    /// Whether a stop was asked for the task.
    async fn task_cancel_requested(&self, id: i64) -> StoreResult<bool>;
    /// Whether the (connection, sync) has a `running` task.
    async fn task_running(&self, connection: ConnectionKey, sync: &str) -> StoreResult<bool>;
    /// Counts of the queue (a `running` task is live while its lease is) and of the processes
    /// that beat since `alive_since`.
    async fn queue_stats(&self, now: DateTime<Utc>, alive_since: DateTime<Utc>) -> StoreResult<QueueStats>;
    /// Saves (`Some`) or clears (`None`) a run's checkpoint, refused when the run was closed
    /// (it lost its lease).
    async fn save_run_checkpoint(&self, run: RunIds, sync: &str, checkpoint: Option<&Value>) -> StoreResult<()>;
    /// Records that a process is alive (creating its row the first time).
    async fn node_beat(&self, beat: &NodeBeat, now: DateTime<Utc>) -> StoreResult<()>;
    /// Removes a process's row (it stops).
    async fn node_gone(&self, owner: &str) -> StoreResult<()>;
    /// Claims up to `limit` queued webhooks for `owner` until `until`, oldest first: those
    /// nobody holds, whose claim lapsed, or whose holder stopped beating in the cluster table
    /// (no beat since `alive_since`: it died or froze).
    async fn claim_webhooks(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        alive_since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<QueuedWebhook>>;
    /// A channel that receives a message when a task is enqueued by any process (PostgreSQL:
    /// `LISTEN`); `None` when the backend has none (runners then look every tick).
    async fn task_wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<()>> {
        None
    }
}

/// Deployments: what is deployed, the history, and applying one in one transaction (see
/// [`super::deploy`]).
#[async_trait]
pub trait DeployBackend: Send + Sync {
    /// The deployment history, newest first (the first is what is deployed).
    async fn deployments(&self, limit: u32) -> StoreResult<Vec<Deployment>>;
    /// Calls `visit` with every live record of `models` (with its connection's identity).
    async fn scan_records(&self, models: &[&str], visit: RecordVisitor<'_>) -> StoreResult<()>;
    /// Applies a deployment in one write transaction that also excludes other deployments: checks
    /// that the deployed fingerprint is still `deployment.expected` (it is already
    /// `deployment.fingerprint`: [`DeployOutcome::AlreadyDeployed`], nothing written; another
    /// one: [`StoreError::DeploymentChanged`](super::StoreError::DeploymentChanged)), runs the
    /// record checks with `accepts` (a failing record aborts it with
    /// [`StoreError::IncompatibleRecords`](super::StoreError::IncompatibleRecords) unless its
    /// check deletes it), the steps in order, queues the webhooks and records the deployment.
    /// Any error leaves the store as it was.
    async fn apply_deployment(
        &self,
        deployment: &DeploymentWrite,
        accepts: RecordFilter<'_>,
    ) -> StoreResult<DeployOutcome>;
    /// Deployment webhooks not delivered yet, oldest first.
    async fn pending_deploy_webhooks(&self, limit: u32) -> StoreResult<Vec<QueuedDeployWebhook>>;
    /// Takes a deployment webhook off the queue.
    async fn deploy_webhook_done(&self, id: i64) -> StoreResult<()>;
}

/// The validators of the pages syncs fetched, for conditional requests (see
/// [`PageValidator`]). Resetting a sync (`reset_sync`), deleting the connection, and deployment
/// steps that delete records or re-sync forget them too.
#[async_trait]
pub trait ValidatorBackend: Send + Sync {
    /// The validator stored for the page at `url` of the (connection, sync), if any.
    async fn page_validator(
        &self,
        connection: ConnectionKey,
        sync: &str,
        url: &str,
    ) -> StoreResult<Option<PageValidator>>;
    /// Whether the (connection, sync) has any validator stored: a run of a sync with none (its
    /// first, or one after a reset) asks for no page's.
    async fn has_page_validators(&self, connection: ConnectionKey, sync: &str) -> StoreResult<bool>;
    /// Stores (or replaces) the validators of pages by their URL, as fetched or used by `run`.
    async fn save_page_validators(
        &self,
        connection: ConnectionKey,
        sync: &str,
        run: i64,
        validators: &[PageValidator],
    ) -> StoreResult<()>;
    /// Forgets the validators of the (connection, sync) that `run` neither saved nor used; how
    /// many.
    async fn forget_unused_validators(&self, connection: ConnectionKey, sync: &str, run: i64) -> StoreResult<u64>;
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
    ConnectionBackend
    + RecordBackend
    + ScheduleBackend
    + LeaseBackend
    + DeliveryBackend
    + SessionBackend
    + ConnectBackend
    + IntegrationBackend
    + ActionResultBackend
    + TaskBackend
    + DeployBackend
    + ValidatorBackend
    + std::fmt::Debug
{
    /// Which backend (`sqlite` or `postgres`), for logs and errors.
    fn name(&self) -> &'static str;
    /// A page of records of the connection `connection_id` of integration
    /// `provider_config_key`; `None` when there is no such connection. The records API asks
    /// this on every request: a backend may answer it in one statement instead of looking up
    /// the connection's key first (what this default does).
    async fn records_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<RecordPage>> {
        match self.connection_key(provider_config_key, connection_id).await? {
            Some(key) => self.records(key, query).await.map(Some),
            None => Ok(None),
        }
    }
    /// [`Backend::records_of`] as the records API's response body (see
    /// [`RecordPage::to_api_json`]); `None` when there is no such connection. A backend may
    /// write the body straight from its rows (what this default does not).
    async fn records_json_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<String>> {
        Ok(self.records_of(provider_config_key, connection_id, query).await?.map(|page| page.to_api_json()))
    }
    /// Waits for running statements and closes the database (files are complete afterwards).
    async fn close(&self);
}
