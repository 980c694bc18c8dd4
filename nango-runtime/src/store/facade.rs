//! [`Store`]: what the runtime, the scheduler, the server and the CLI use.

use super::backend::{Backend, IntegrationReseal, Reseal, SealedConnection, SealedCredentials, SealedIntegration};
use super::deploy::{DeployOutcome, Deployment, DeploymentWrite, QueuedDeployWebhook, RecordFilter, RecordVisitor};
use super::*;
use crate::Credentials;
use crate::crypto::{CryptoError, Sealer};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The store: a backend chosen from the database URL, with credentials sealed around it.
///
/// Cheap to clone (the clones share the backend and the sealer). All methods are safe to call
/// concurrently.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use nango_runtime::{Connection, Credentials, Secret, crypto::Sealer, store::Store};
/// let dir = std::env::temp_dir().join(format!("nango-doc-store-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let url = format!("sqlite://{}", dir.join("nango.db").display());
/// let store = Store::open(&url, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await.unwrap();
///
/// let mut connection = Connection::new("github", "acme", "github");
/// connection.credentials = Credentials::Bearer { token: Secret::new("ghp_x") };
/// let key = store.save_connection(&connection).await.unwrap();
///
/// // Reads come back with their key and opened credentials.
/// let stored = store.connection("github", "acme").await.unwrap().unwrap();
/// assert_eq!(stored.key, key);
/// assert_eq!(stored.connection.credentials, connection.credentials);
///
/// // A store this program does not have: the error names the ones it has.
/// let e = Store::open("mysql://localhost/nango", Sealer::InsecureClear).await.unwrap_err();
/// assert!(e.to_string().contains("postgres://"));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    sealer: Arc<Sealer>,
}

/// What sealed credentials are bound to: the connection's identity, so a sealed value copied onto
/// another connection's row does not open.
fn sealing_context(provider_config_key: &str, connection_id: &str) -> Vec<u8> {
    format!("{provider_config_key}\0{connection_id}").into_bytes()
}

/// The known text of the store's key check, and what it is bound to.
const KEY_CHECK_TEXT: &[u8] = b"nango-rs sealing key check";
const KEY_CHECK_CONTEXT: &[u8] = b"nango-rs sealing key check";

/// `` `acme` of `github` ``, for messages.
fn named(provider_config_key: &str, connection_id: &str) -> String {
    format!("`{connection_id}` of `{provider_config_key}`")
}

/// `` integration `github` ``, for messages.
fn named_integration(unique_key: &str) -> String {
    format!("integration `{unique_key}`")
}

/// A time `ttl` after `now`, saturating (a lease never overflows a date).
fn after(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What an integration's sealed app credentials are bound to: its key, after a NUL that no
/// connection's context starts with (integration keys are never empty), so neither kind of
/// sealed value opens as the other.
fn integration_context(unique_key: &str) -> Vec<u8> {
    format!("\0integration\0{unique_key}").into_bytes()
}

impl Store {
    /// Opens the store a URL names, creating the database if needed and bringing its schema up
    /// to date: `sqlite://path/to/file.db` (or `sqlite:file.db`), the embedded default, or
    /// `postgres://user[:password]@host[:port]/database` for many processes on many machines
    /// (the database is created when the server has none of that name).
    pub async fn open(url: &str, sealer: Sealer) -> StoreResult<Store> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        let backend: Arc<dyn Backend> = match scheme.as_str() {
            "sqlite" => Arc::new(SqliteBackend::open(url).await?),
            "postgres" | "postgresql" => Arc::new(PostgresBackend::open(url).await?),
            _ => {
                return Err(StoreError::UnsupportedUrl {
                    url: url.to_owned(),
                    reason: "use sqlite://path/to/file.db (one machine) or postgres://user@host:5432/database (many)",
                });
            }
        };
        Ok(Store::from_backend(backend, sealer))
    }

    /// A store over a backend opened by other means.
    pub fn from_backend(backend: Arc<dyn Backend>, sealer: Sealer) -> Store {
        Store { backend, sealer: Arc::new(sealer) }
    }

    /// The backend (`store.backend().name()` says which).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Waits for running statements and closes the database.
    pub async fn close(&self) {
        self.backend.close().await;
    }

    fn seal(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        credentials: &Credentials,
    ) -> StoreResult<SealedCredentials> {
        let seal_error = |source| StoreError::Seal {
            provider_config_key: provider_config_key.to_owned(),
            connection_id: connection_id.to_owned(),
            source,
        };
        // Serializing `Credentials` (strings and a timestamp) cannot fail.
        let plain = serde_json::to_vec(credentials).unwrap_or_default();
        let context = sealing_context(provider_config_key, connection_id);
        // Nothing secret (no credentials) needs no key.
        let sealer = if credentials.is_secret() { &*self.sealer } else { &Sealer::InsecureClear };
        let sealed = sealer.seal(&plain, &context).map_err(seal_error)?;
        Ok(SealedCredentials { sealed, kind: credentials.kind().to_owned() })
    }

    /// Opens sealed credentials of a connection.
    fn open_credentials(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        credentials: &SealedCredentials,
    ) -> StoreResult<Credentials> {
        let plain = self
            .sealer
            .open(&credentials.sealed, &sealing_context(provider_config_key, connection_id))
            .map_err(|source| StoreError::Unseal {
                provider_config_key: provider_config_key.to_owned(),
                connection_id: connection_id.to_owned(),
                source,
            })?;
        serde_json::from_slice(&plain).map_err(|source| StoreError::UnreadableConnection {
            what: "credentials",
            provider_config_key: provider_config_key.to_owned(),
            connection_id: connection_id.to_owned(),
            source,
        })
    }

    /// A connection as stored, with `credentials` in place of the sealed ones.
    fn connection_of(sealed: SealedConnection, credentials: Credentials) -> Connection {
        let SealedConnection {
            provider_config_key,
            connection_id,
            provider,
            credentials: _,
            connection_config,
            metadata,
            base_url,
            created_at,
            updated_at,
        } = sealed;
        Connection {
            provider_config_key,
            connection_id,
            provider,
            credentials,
            connection_config,
            metadata,
            base_url,
            created_at,
            updated_at,
        }
    }

    fn open_sealed(&self, key: ConnectionKey, sealed: SealedConnection) -> StoreResult<StoredConnection> {
        let credentials =
            self.open_credentials(&sealed.provider_config_key, &sealed.connection_id, &sealed.credentials)?;
        Ok(StoredConnection { key, connection: Self::connection_of(sealed, credentials) })
    }

    /// Refuses to seal secrets under a key other than the one the store's secrets are sealed
    /// under. A store without a key check yet (new, or made before key checks) gets one once
    /// every secret it holds under a key (connections' credentials and integrations' apps) opens
    /// under this one.
    async fn check_key(&self) -> StoreResult<()> {
        let check = match self.backend.key_check().await? {
            Some(check) => check,
            None => {
                let foreign_to_this_key = |sealed: &[u8], context: &[u8]| {
                    !crate::crypto::is_clear(sealed) && self.sealer.open(sealed, context).is_err()
                };
                let mut foreign: Vec<String> = self
                    .backend
                    .sealed_credentials()
                    .await?
                    .iter()
                    .filter(|row| {
                        let context = sealing_context(&row.provider_config_key, &row.connection_id);
                        foreign_to_this_key(&row.credentials.sealed, &context)
                    })
                    .map(|row| named(&row.provider_config_key, &row.connection_id))
                    .collect();
                for integration in self.backend.integrations().await? {
                    let Some(credentials) = &integration.credentials else { continue };
                    if foreign_to_this_key(&credentials.sealed, &integration_context(&integration.unique_key)) {
                        foreign.push(named_integration(&integration.unique_key));
                    }
                }
                if !foreign.is_empty() {
                    return Err(StoreError::KeyMismatch { connections: foreign });
                }
                let sealed = self.sealer.seal(KEY_CHECK_TEXT, KEY_CHECK_CONTEXT).map_err(|source| {
                    StoreError::Seal { provider_config_key: String::new(), connection_id: String::new(), source }
                })?;
                self.backend.establish_key_check(&sealed).await?
            }
        };
        match self.sealer.open(&check, KEY_CHECK_CONTEXT) {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::KeyMismatch { connections: Vec::new() }),
        }
    }

    /// Creates or replaces a connection (credentials sealed); its key. Secrets sealed under
    /// another key than the store's are refused ([`StoreError::KeyMismatch`]) before anything
    /// is written.
    pub async fn save_connection(&self, connection: &Connection) -> StoreResult<ConnectionKey> {
        let credentials =
            self.seal(&connection.provider_config_key, &connection.connection_id, &connection.credentials)?;
        if connection.credentials.is_secret() && self.sealer.has_key() {
            self.check_key().await?;
        }
        let sealed = SealedConnection {
            provider_config_key: connection.provider_config_key.clone(),
            connection_id: connection.connection_id.clone(),
            provider: connection.provider.clone(),
            credentials,
            connection_config: connection.connection_config.clone(),
            metadata: connection.metadata.clone(),
            base_url: connection.base_url.clone(),
            created_at: connection.created_at,
            updated_at: Utc::now(),
        };
        self.backend.save_connection(&sealed).await
    }

    /// One connection with its key, credentials opened.
    pub async fn connection(
        &self,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<StoredConnection>> {
        match self.backend.connection(provider_config_key, connection_id).await? {
            Some((key, sealed)) => Ok(Some(self.open_sealed(key, sealed)?)),
            None => Ok(None),
        }
    }

    /// The connection with a key, credentials opened.
    pub async fn connection_by_key(&self, key: ConnectionKey) -> StoreResult<Option<StoredConnection>> {
        match self.backend.connection_by_key(key).await? {
            Some((key, sealed)) => Ok(Some(self.open_sealed(key, sealed)?)),
            None => Ok(None),
        }
    }

    /// Every connection with its key, ordered by integration key and connection id: those whose
    /// credentials opened, and apart those whose credentials did not (with the reason), so one
    /// bad connection never hides the others.
    pub async fn connections(&self) -> StoreResult<ConnectionList> {
        let mut list = ConnectionList::default();
        for (key, sealed) in self.backend.connections().await? {
            match self.open_or_list(key, sealed) {
                ListedConnection::Readable(readable) => list.readable.push(readable),
                ListedConnection::Unreadable(unreadable) => list.unreadable.push(unreadable),
            }
        }
        Ok(list)
    }

    /// The provider of a connection, without opening its credentials.
    pub async fn provider_of(&self, key: ConnectionKey) -> StoreResult<Option<String>> {
        Ok(self.backend.connection_by_key(key).await?.map(|(_, sealed)| sealed.provider))
    }

    /// One connection by key, its credentials opened or listed as unreadable (a runner's view
    /// of the connection of a task it claimed).
    pub async fn listed_connection_by_key(&self, key: ConnectionKey) -> StoreResult<Option<ListedConnection>> {
        Ok(self.backend.connection_by_key(key).await?.map(|(key, sealed)| self.open_or_list(key, sealed)))
    }

    /// One connection with its key, its credentials opened or listed as unreadable with the
    /// reason (for listings and statuses, which must not fail because one connection's
    /// credentials do not open).
    pub async fn listed_connection(
        &self,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<ListedConnection>> {
        let Some((key, sealed)) = self.backend.connection(provider_config_key, connection_id).await? else {
            return Ok(None);
        };
        Ok(Some(self.open_or_list(key, sealed)))
    }

    /// Opens a connection's credentials, or lists it as unreadable with the reason.
    fn open_or_list(&self, key: ConnectionKey, sealed: SealedConnection) -> ListedConnection {
        match self.open_credentials(&sealed.provider_config_key, &sealed.connection_id, &sealed.credentials) {
            Ok(credentials) => ListedConnection::Readable(StoredConnection {
                key,
                connection: Self::connection_of(sealed, credentials),
            }),
            Err(e) => {
                let reason = nango_types::text::error_chain(&e);
                let auth_mode = sealed.credentials.kind.clone();
                let connection = Self::connection_of(sealed, Credentials::None);
                ListedConnection::Unreadable(UnreadableConnection { key, connection, auth_mode, reason })
            }
        }
    }

    /// Re-seals every secret of the store (connections' credentials and integrations' app
    /// credentials) under this store's key (the new one), in one transaction: those under one of
    /// the `old` keys and those stored in clear; those already under the new key stay. When a
    /// secret opens under none of the keys, nothing is changed ([`StoreError::RotationBlocked`]
    /// names it). With `dry_run`, only counts. Afterwards the store accepts secrets under the new
    /// key only.
    pub async fn rotate_key(&self, old: &[Sealer], dry_run: bool) -> StoreResult<KeyRotation> {
        if !self.sealer.has_key() {
            return Err(StoreError::Seal {
                provider_config_key: String::new(),
                connection_id: String::new(),
                source: CryptoError::NoKey,
            });
        }
        let mut rotation = KeyRotation::default();
        let mut changes = Vec::new();
        let mut blocked = Vec::new();
        for row in self.backend.sealed_credentials().await? {
            let context = sealing_context(&row.provider_config_key, &row.connection_id);
            let sealed = &row.credentials.sealed;
            let plain = if crate::crypto::is_clear(sealed) {
                let plain = self.sealer.open(sealed, &context).unwrap_or_default();
                // Nothing secret (no credentials) is kept in clear on purpose.
                let secret = serde_json::from_slice::<Credentials>(&plain).map_or(true, |c| c.is_secret());
                if !secret {
                    continue;
                }
                rotation.from_clear += 1;
                plain
            } else if self.sealer.open(sealed, &context).is_ok() {
                rotation.already_sealed += 1;
                continue;
            } else if let Some(plain) = old.iter().find_map(|key| key.open(sealed, &context).ok()) {
                rotation.from_old_keys += 1;
                plain
            } else {
                blocked.push(named(&row.provider_config_key, &row.connection_id));
                continue;
            };
            let resealed = self.sealer.seal(&plain, &context).map_err(|source| StoreError::Seal {
                provider_config_key: row.provider_config_key.clone(),
                connection_id: row.connection_id.clone(),
                source,
            })?;
            let after = SealedCredentials { sealed: resealed, kind: row.credentials.kind.clone() };
            changes.push(Reseal { before: row, after });
        }
        // Integrations' app credentials: every one is secret (a client secret, a private key).
        let mut integration_changes = Vec::new();
        for integration in self.backend.integrations().await? {
            let Some(before) = integration.credentials else { continue };
            let context = integration_context(&integration.unique_key);
            let sealed = &before.sealed;
            let plain = if crate::crypto::is_clear(sealed) {
                rotation.from_clear += 1;
                self.sealer.open(sealed, &context).unwrap_or_default()
            } else if self.sealer.open(sealed, &context).is_ok() {
                rotation.already_sealed += 1;
                continue;
            } else if let Some(plain) = old.iter().find_map(|key| key.open(sealed, &context).ok()) {
                rotation.from_old_keys += 1;
                plain
            } else {
                blocked.push(named_integration(&integration.unique_key));
                continue;
            };
            let resealed = self
                .sealer
                .seal(&plain, &context)
                .map_err(|source| StoreError::SealIntegration { unique_key: integration.unique_key.clone(), source })?;
            let after = SealedCredentials { sealed: resealed, kind: before.kind.clone() };
            rotation.integrations += 1;
            integration_changes.push(IntegrationReseal { unique_key: integration.unique_key, before, after });
        }
        if !blocked.is_empty() {
            return Err(StoreError::RotationBlocked { connections: blocked });
        }
        if !dry_run {
            let check = self.sealer.seal(KEY_CHECK_TEXT, KEY_CHECK_CONTEXT).map_err(|source| StoreError::Seal {
                provider_config_key: String::new(),
                connection_id: String::new(),
                source,
            })?;
            self.backend.reseal_credentials(&changes, &integration_changes, &check).await?;
        }
        Ok(rotation)
    }

    /// Takes the lease of a (connection, sync) for `ttl` (see [`LeaseBackend`](super::backend::LeaseBackend)):
    /// `Err(holder)` when another process holds it.
    pub async fn acquire_lease(
        &self,
        connection: ConnectionKey,
        sync: &str,
        owner: &LeaseOwner,
        ttl: Duration,
    ) -> StoreResult<Result<(), LeaseHolder>> {
        let now = Utc::now();
        self.backend.acquire_lease(connection, sync, owner, now, after(now, ttl)).await
    }

    /// Extends a lease by `ttl` from now, recording `run` as alive; `false` when it was lost.
    pub async fn renew_lease(
        &self,
        connection: ConnectionKey,
        sync: &str,
        owner: &LeaseOwner,
        run: Option<i64>,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        self.backend.renew_lease(connection, sync, owner, run, now, after(now, ttl)).await
    }

    /// Gives a lease up.
    pub async fn release_lease(&self, connection: ConnectionKey, sync: &str, owner: &LeaseOwner) -> StoreResult<()> {
        self.backend.release_lease(connection, sync, owner).await
    }

    /// Closes the runs left `RUNNING` by processes whose lease lapsed (failed, interrupted,
    /// ended when last known alive); how many.
    pub async fn close_stale_runs(&self) -> StoreResult<u64> {
        self.backend.close_stale_runs(Utc::now()).await
    }

    /// Enqueues a task (see [`TaskBackend::enqueue_task`](super::backend::TaskBackend::enqueue_task));
    /// whether it was enqueued (`false`: the (connection, sync) has a live task, or a run ended
    /// since the schedule was found due).
    pub async fn enqueue_task(&self, task: &NewTask) -> StoreResult<bool> {
        self.backend.enqueue_task(task, Utc::now()).await
    }

    /// Claims the next task for a runner, if any.
    pub async fn claim_task(&self, claim: &TaskClaim) -> StoreResult<Option<ClaimedTask>> {
        self.backend.claim_task(claim, Utc::now()).await
    }

    /// Deletes a task the runner holds, moving the schedule's next run time from `seen` to `at`
    /// in the same transaction; `false` when the runner no longer held it.
    pub async fn finish_task(
        &self,
        id: i64,
        owner: &LeaseOwner,
        next_run: Option<(Option<DateTime<Utc>>, DateTime<Utc>)>,
    ) -> StoreResult<bool> {
        self.backend.finish_task(id, owner.token(), next_run).await
    }

    /// Hands a task back to the queue, claimable from `available_at`.
    pub async fn release_task(&self, id: i64, owner: &LeaseOwner, available_at: DateTime<Utc>) -> StoreResult<bool> {
        self.backend.release_task(id, owner.token(), available_at).await
    }

    /// Asks whichever runner runs the (connection, sync) to stop; whether one runs it.
    pub async fn request_task_cancel(&self, connection: ConnectionKey, sync: &str) -> StoreResult<bool> {
        self.backend.request_task_cancel(connection, sync, Utc::now()).await
    }

    /// Whether a stop was asked for a task.
    pub async fn task_cancel_requested(&self, id: i64) -> StoreResult<bool> {
        self.backend.task_cancel_requested(id).await
    }

    /// Whether a runner runs the (connection, sync) as a task.
    pub async fn task_running(&self, connection: ConnectionKey, sync: &str) -> StoreResult<bool> {
        self.backend.task_running(connection, sync).await
    }

    /// The queue's counts, with processes beating every `beat` (alive for three beats).
    pub async fn queue_stats(&self, beat: Duration) -> StoreResult<QueueStats> {
        let now = Utc::now();
        let alive_since = chrono::Duration::from_std(beat.saturating_mul(3))
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.backend.queue_stats(now, alive_since).await
    }

    /// Saves a run's checkpoint, refused ([`StoreError::RunFenced`]) when the run lost its lease.
    pub async fn save_run_checkpoint(&self, run: RunIds, sync: &str, checkpoint: Option<&Value>) -> StoreResult<()> {
        self.backend.save_run_checkpoint(run, sync, checkpoint).await
    }

    /// Records that this process is alive.
    pub async fn node_beat(&self, beat: &NodeBeat) -> StoreResult<()> {
        self.backend.node_beat(beat, Utc::now()).await
    }

    /// Removes this process from the cluster table.
    pub async fn node_gone(&self, owner: &LeaseOwner) -> StoreResult<()> {
        self.backend.node_gone(owner.token()).await
    }

    /// Claims up to `limit` queued webhooks for `hold`, taking over those of processes that did
    /// not beat for three `beat`s.
    pub async fn claim_webhooks(
        &self,
        owner: &LeaseOwner,
        hold: Duration,
        beat: Duration,
        limit: u32,
    ) -> StoreResult<Vec<QueuedWebhook>> {
        let now = Utc::now();
        let alive_since = chrono::Duration::from_std(beat.saturating_mul(3))
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.backend.claim_webhooks(owner.token(), now, after(now, hold), alive_since, limit).await
    }

    /// Messages when any process enqueues a task, when the backend can tell (PostgreSQL).
    pub async fn task_wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<()>> {
        self.backend.task_wakeups().await
    }

    /// Records (`Some`) or withdraws (`None`) a trigger; the next run that starts takes it.
    pub async fn set_triggered(
        &self,
        connection: ConnectionKey,
        sync: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.backend.set_triggered(connection, sync, at).await
    }

    /// The key of a connection, without reading (or decrypting) its credentials: for requests
    /// that only need the key, such as the records API.
    pub async fn connection_key(
        &self,
        provider_config_key: &str,
        connection_id: &str,
    ) -> StoreResult<Option<ConnectionKey>> {
        self.backend.connection_key(provider_config_key, connection_id).await
    }

    /// Deletes a connection with its records, state and runs; whether it existed.
    pub async fn delete_connection(&self, provider_config_key: &str, connection_id: &str) -> StoreResult<bool> {
        self.backend.delete_connection(provider_config_key, connection_id).await
    }

    /// Replaces a connection's metadata.
    pub async fn set_metadata(&self, connection: ConnectionKey, metadata: &Value) -> StoreResult<()> {
        self.backend.set_metadata(connection, metadata).await
    }

    /// Replaces a connection's credentials (after an OAuth refresh), sealed.
    pub async fn set_credentials(&self, connection: &StoredConnection, credentials: &Credentials) -> StoreResult<()> {
        let c = &connection.connection;
        let sealed = self.seal(&c.provider_config_key, &c.connection_id, credentials)?;
        self.backend.set_credentials(connection.key, &sealed).await
    }

    /// Applies one batch of one model in one transaction (see [`policy`]); returns what changed.
    pub async fn apply(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> StoreResult<ChangeCounts> {
        self.backend.apply(run, model, change, records, None).await
    }

    /// Applies one batch and saves the run's checkpoint in the same transaction: both are
    /// written or neither (a fenced run writes neither: [`StoreError::RunFenced`]). With no
    /// records, saves the checkpoint alone. Returns what changed.
    pub async fn apply_with_checkpoint(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: RunCheckpoint<'_>,
    ) -> StoreResult<ChangeCounts> {
        self.backend.apply(run, model, change, records, Some(checkpoint)).await
    }

    /// Soft-deletes live records of `model` not seen since the run's epoch (after a successful
    /// full run with deletion detection); returns how many.
    pub async fn sweep_unseen(&self, run: RunIds, model: &str) -> StoreResult<u64> {
        self.backend.sweep_unseen(run, model).await
    }

    /// The stored state of some records, as seen outside any run; with their JSON when
    /// `with_json` (the dry run compares against it).
    pub async fn existing(
        &self,
        connection: ConnectionKey,
        model: &str,
        ids: &[&str],
        with_json: bool,
    ) -> StoreResult<HashMap<String, ExistingRecord>> {
        self.backend.existing(connection, model, ids, with_json).await
    }

    /// Ids of live records of a model (for the dry run's deletion detection).
    pub async fn live_ids(&self, connection: ConnectionKey, model: &str) -> StoreResult<Vec<String>> {
        self.backend.live_ids(connection, model).await
    }

    /// A page of records.
    pub async fn records(&self, connection: ConnectionKey, query: &RecordQuery) -> StoreResult<RecordPage> {
        self.backend.records(connection, query).await
    }

    /// A page of records of a connection named by integration key and connection id; `None`
    /// when there is no such connection (one statement on SQLite: what the records API uses).
    pub async fn records_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<RecordPage>> {
        self.backend.records_of(provider_config_key, connection_id, query).await
    }

    /// [`Store::records_of`] as the records API's response body,
    /// `{"records":[...],"next_cursor":...}` (see [`RecordPage::to_api_json`]); `None` when
    /// there is no such connection. On SQLite the page is read on a blocking thread with a
    /// read-only connection of the store's own and written straight from the rows.
    pub async fn records_json_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<String>> {
        self.backend.records_json_of(provider_config_key, connection_id, query).await
    }

    /// Number of live records per model of a connection.
    pub async fn record_counts(&self, connection: ConnectionKey) -> StoreResult<BTreeMap<String, u64>> {
        self.backend.record_counts(connection).await
    }

    /// The state of a sync for a connection.
    pub async fn sync_state(&self, connection: ConnectionKey, sync: &str) -> StoreResult<SyncState> {
        self.backend.sync_state(connection, sync).await
    }

    /// Saves (`Some`) or clears (`None`) a sync's checkpoint, at once and durably.
    pub async fn save_checkpoint(
        &self,
        connection: ConnectionKey,
        sync: &str,
        checkpoint: Option<&Value>,
    ) -> StoreResult<()> {
        self.backend.save_checkpoint(connection, sync, checkpoint).await
    }

    /// Forgets `last_sync_date`, the checkpoint and the validators of conditional requests (a
    /// full resync); with `clear_records`, also hard-deletes the records of `models`.
    pub async fn reset_sync(
        &self,
        connection: ConnectionKey,
        sync: &str,
        models: &[&str],
        clear_records: bool,
    ) -> StoreResult<()> {
        self.backend.reset_sync(connection, sync, models, clear_records).await
    }

    /// The validator stored for the page at `url` of a sync (see [`PageValidator`]).
    pub async fn page_validator(
        &self,
        connection: ConnectionKey,
        sync: &str,
        url: &str,
    ) -> StoreResult<Option<PageValidator>> {
        self.backend.page_validator(connection, sync, url).await
    }

    /// Whether a sync has any page's validator stored (see [`PageValidator`]).
    pub async fn has_page_validators(&self, connection: ConnectionKey, sync: &str) -> StoreResult<bool> {
        self.backend.has_page_validators(connection, sync).await
    }

    /// Stores pages' validators, as fetched or used by `run`.
    pub async fn save_page_validators(
        &self,
        connection: ConnectionKey,
        sync: &str,
        run: i64,
        validators: &[PageValidator],
    ) -> StoreResult<()> {
        self.backend.save_page_validators(connection, sync, run, validators).await
    }

    /// Forgets the validators of a sync that `run` neither saved nor used (after it ended well).
    pub async fn forget_unused_validators(&self, connection: ConnectionKey, sync: &str, run: i64) -> StoreResult<u64> {
        self.backend.forget_unused_validators(connection, sync, run).await
    }

    /// Starts a run, by the holder of the (connection, sync) lease: closes runs left `RUNNING`
    /// by a process that stopped (ended when last known alive), takes the pending trigger,
    /// records the new run.
    pub async fn begin_run(&self, connection: ConnectionKey, sync: &str, track_deletes: bool) -> StoreResult<RunStart> {
        self.backend.begin_run(connection, sync, track_deletes).await
    }

    /// Ends a run (unless another process closed it after this one lost its lease).
    pub async fn finish_run(&self, run: &RunStart, sync: &str, end: &RunEnd) -> StoreResult<()> {
        self.backend.finish_run(run, sync, end).await
    }

    /// Recent runs, newest first (all connections and syncs when `None`).
    pub async fn runs(
        &self,
        connection: Option<ConnectionKey>,
        sync: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RunRecord>> {
        self.backend.runs(connection, sync, limit).await
    }

    /// One run.
    pub async fn run(&self, id: i64) -> StoreResult<Option<RunRecord>> {
        self.backend.run(id).await
    }

    /// Appends lines to a run's log.
    pub async fn append_logs(&self, run: i64, lines: &[LogLine]) -> StoreResult<()> {
        self.backend.append_logs(run, lines).await
    }

    /// A run's log, oldest first.
    pub async fn run_logs(&self, run: i64) -> StoreResult<Vec<LogLine>> {
        self.backend.run_logs(run).await
    }

    /// Pauses (`Some(true)`), starts (`Some(false)`) or returns to `auto_start` (`None`).
    pub async fn set_paused(&self, connection: ConnectionKey, sync: &str, paused: Option<bool>) -> StoreResult<()> {
        self.backend.set_paused(connection, sync, paused).await
    }

    /// Sets (or with `None` removes) the connection's own frequency of a sync.
    pub async fn set_frequency(
        &self,
        connection: ConnectionKey,
        sync: &str,
        frequency_secs: Option<u64>,
    ) -> StoreResult<()> {
        self.backend.set_frequency(connection, sync, frequency_secs).await
    }

    /// Sets when the scheduler runs a sync next.
    pub async fn set_next_run(
        &self,
        connection: ConnectionKey,
        sync: &str,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.backend.set_next_run(connection, sync, at).await
    }

    /// Sets when the scheduler runs a sync next, only if nothing changed the next run time since
    /// it was `seen` (a command, a frequency, another process); whether it was set. The
    /// scheduler's bookkeeping after a run uses it, so it never undoes what was decided while
    /// the run went on.
    ///
    /// ```no_run
    /// # async fn demo(store: nango_runtime::store::Store, key: nango_runtime::store::ConnectionKey) -> Result<(), nango_runtime::store::StoreError> {
    /// let seen = store.sync_state(key, "tickets").await?.next_run_at;
    /// let next = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    /// if !store.set_next_run_if(key, "tickets", seen, Some(next)).await? {
    ///     println!("changed meanwhile; left as it is");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn set_next_run_if(
        &self,
        connection: ConnectionKey,
        sync: &str,
        seen: Option<DateTime<Utc>>,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        self.backend.set_next_run_if(connection, sync, seen, at).await
    }

    /// Announces the changes of `sync` for a connection up to run `run`: for each of `models`,
    /// the changes of every run since the last announcement (crashed and failed runs included)
    /// are summed and handed to `compose`, whose webhooks are queued, in one transaction that
    /// also records `run` as announced. Returns the queued webhooks, to deliver and then take off
    /// the queue with [`Store::webhook_done`].
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use nango_runtime::{Connection, RecordChange, crypto::Sealer};
    /// use nango_runtime::store::{OutgoingWebhook, PreparedRecord, RunEnd, RunStatus, Store};
    /// let dir = std::env::temp_dir().join(format!("nango-doc-announce-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let url = format!("sqlite://{}", dir.join("nango.db").display());
    /// let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
    /// let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    /// let record = |id: u32| PreparedRecord::new("Ticket", serde_json::json!({"id": id})).unwrap();
    ///
    /// // A run that was killed after writing two records, then one that wrote a third.
    /// let killed = store.begin_run(key, "tickets", false).await.unwrap();
    /// store.apply(killed.ids, "Ticket", RecordChange::Save, vec![record(1), record(2)]).await.unwrap();
    /// let next = store.begin_run(key, "tickets", false).await.unwrap();
    /// store.apply(next.ids, "Ticket", RecordChange::Save, vec![record(3)]).await.unwrap();
    ///
    /// let queued = store
    ///     .announce(key, "tickets", next.ids.run, &["Ticket"], &|unannounced| {
    ///         assert_eq!(unannounced[0].counts.added, 3);
    ///         // The killed run's start (the store keeps microseconds).
    ///         let since = unannounced[0].since.map(|t| t.timestamp_micros());
    ///         assert_eq!(since, Some(killed.started_at.timestamp_micros()));
    ///         vec![OutgoingWebhook { model: "Ticket".into(), body: b"{}".to_vec() }]
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(store.pending_webhooks(10).await.unwrap(), queued);
    /// store.webhook_done(queued[0].id).await.unwrap();
    /// assert!(store.pending_webhooks(10).await.unwrap().is_empty());
    /// # });
    /// ```
    pub async fn announce(
        &self,
        connection: ConnectionKey,
        sync: &str,
        run: i64,
        models: &[&str],
        compose: super::backend::ComposeWebhooks<'_>,
    ) -> StoreResult<Vec<QueuedWebhook>> {
        self.backend.announce(connection, sync, run, models, compose).await
    }

    /// Queues webhooks that announce nothing (a failed run's) for delivery.
    pub async fn queue_webhooks(&self, run: i64, webhooks: &[OutgoingWebhook]) -> StoreResult<Vec<QueuedWebhook>> {
        self.backend.queue_webhooks(run, webhooks).await
    }

    /// Queued webhooks not delivered yet (left by a process that stopped before sending them),
    /// oldest first.
    pub async fn pending_webhooks(&self, limit: u32) -> StoreResult<Vec<QueuedWebhook>> {
        self.backend.pending_webhooks(limit).await
    }

    /// Takes a webhook off the queue: delivered, or given up after its retries.
    pub async fn webhook_done(&self, id: i64) -> StoreResult<()> {
        self.backend.webhook_done(id).await
    }

    /// Replaces the metadata of several connections at once (all or none).
    pub async fn replace_metadata(&self, connections: &[ConnectionKey], metadata: &Value) -> StoreResult<()> {
        self.backend.update_metadata(connections, metadata, false).await
    }

    /// Merges `patch` into the metadata of several connections at once (all or none), as
    /// [`merge_metadata`] says.
    pub async fn merge_metadata(&self, connections: &[ConnectionKey], patch: &Value) -> StoreResult<()> {
        self.backend.update_metadata(connections, patch, true).await
    }

    /// A connection's tags, end user and last credentials fetch (`None`: no such connection).
    pub async fn connection_profile(&self, connection: ConnectionKey) -> StoreResult<Option<ConnectionProfile>> {
        self.backend.connection_profile(connection).await
    }

    /// The tags, end user and last credentials fetch of every connection.
    pub async fn connection_profiles(&self) -> StoreResult<HashMap<ConnectionKey, ConnectionProfile>> {
        self.backend.connection_profiles().await
    }

    /// Replaces a connection's tags and end user.
    pub async fn set_connection_profile(
        &self,
        connection: ConnectionKey,
        tags: &BTreeMap<String, String>,
        end_user: Option<&EndUser>,
    ) -> StoreResult<()> {
        self.backend.set_connection_profile(connection, tags, end_user).await
    }

    /// Records that the API returned a connection's credentials now.
    pub async fn mark_fetched(&self, connection: ConnectionKey) -> StoreResult<()> {
        self.backend.mark_fetched(connection, Utc::now()).await
    }

    /// Empties the payload of at most `limit` records of a model up to and including the record
    /// of the cursor `until` (see [`RecordBackend::prune`](super::backend::RecordBackend::prune)).
    pub async fn prune(&self, connection: ConnectionKey, model: &str, until: &str, limit: u32) -> StoreResult<Pruned> {
        self.backend.prune(connection, model, until, limit).await
    }

    /// Keeps (or with `None` forgets) the text a connection's own frequency was set with.
    pub async fn set_frequency_text(
        &self,
        connection: ConnectionKey,
        sync: &str,
        text: Option<&str>,
    ) -> StoreResult<()> {
        self.backend.set_frequency_text(connection, sync, text).await
    }

    /// Creates or replaces an integration (its app credentials sealed); with `replacing`, the
    /// integration of that key goes in the same transaction (a rename). App credentials sealed
    /// under another key than the store's are refused ([`StoreError::KeyMismatch`]) before
    /// anything is written.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use nango_runtime::store::{Integration, IntegrationCredentials, OAuthApp, Store};
    /// use nango_runtime::{Secret, crypto::Sealer};
    /// let dir = std::env::temp_dir().join(format!("nango-doc-integrations-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let url = format!("sqlite://{}", dir.join("nango.db").display());
    /// let store = Store::open(&url, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await.unwrap();
    /// let mut github = Integration::new("github-prod", "github");
    /// github.credentials = Some(IntegrationCredentials::OAuth2(OAuthApp {
    ///     client_id: "Iv1.abc".into(), client_secret: Secret::new("s3cret"), scopes: Some("repo".into()), webhook_secret: None,
    /// }));
    /// store.save_integration(&github, None).await.unwrap();
    /// let back = store.integration("github-prod").await.unwrap().unwrap();
    /// assert_eq!(back.credentials, github.credentials);
    /// # });
    /// ```
    pub async fn save_integration(&self, integration: &Integration, replacing: Option<&str>) -> StoreResult<()> {
        let credentials = match &integration.credentials {
            None => None,
            Some(credentials) => {
                // Serializing the credentials (strings) cannot fail.
                let plain = serde_json::to_vec(credentials).unwrap_or_default();
                let sealed =
                    self.sealer.seal(&plain, &integration_context(&integration.unique_key)).map_err(|source| {
                        StoreError::SealIntegration { unique_key: integration.unique_key.clone(), source }
                    })?;
                Some(SealedCredentials { sealed, kind: credentials.kind().to_owned() })
            }
        };
        if integration.credentials.is_some() && self.sealer.has_key() {
            self.check_key().await?;
        }
        let sealed = SealedIntegration {
            unique_key: integration.unique_key.clone(),
            provider: integration.provider.clone(),
            display_name: integration.display_name.clone(),
            credentials,
            forward_webhooks: integration.forward_webhooks,
            created_at: integration.created_at,
            updated_at: Utc::now(),
        };
        self.backend.save_integration(&sealed, replacing.filter(|old| *old != integration.unique_key)).await
    }

    fn open_integration(&self, sealed: SealedIntegration) -> StoreResult<Integration> {
        let SealedIntegration {
            unique_key,
            provider,
            display_name,
            credentials,
            forward_webhooks,
            created_at,
            updated_at,
        } = sealed;
        let credentials = match credentials {
            None => None,
            Some(credentials) => {
                let plain = match self.sealer.open(&credentials.sealed, &integration_context(&unique_key)) {
                    Ok(plain) => plain,
                    Err(source) => return Err(StoreError::UnsealIntegration { unique_key, source }),
                };
                match serde_json::from_slice(&plain) {
                    Ok(credentials) => Some(credentials),
                    Err(source) => return Err(StoreError::UnreadableIntegration { unique_key, source }),
                }
            }
        };
        Ok(Integration { unique_key, provider, display_name, credentials, forward_webhooks, created_at, updated_at })
    }

    /// One integration, its app credentials opened.
    pub async fn integration(&self, unique_key: &str) -> StoreResult<Option<Integration>> {
        self.backend.integration(unique_key).await?.map(|sealed| self.open_integration(sealed)).transpose()
    }

    /// Every stored integration, by key, app credentials opened.
    pub async fn integrations(&self) -> StoreResult<Vec<Integration>> {
        self.backend.integrations().await?.into_iter().map(|sealed| self.open_integration(sealed)).collect()
    }

    /// Every stored integration's key and provider, without opening its app credentials (for
    /// checks that need only which integrations exist).
    pub async fn integration_providers(&self) -> StoreResult<BTreeMap<String, String>> {
        Ok(self.backend.integrations().await?.into_iter().map(|i| (i.unique_key, i.provider)).collect())
    }

    /// Deletes an integration (not its connections); whether it existed.
    pub async fn delete_integration(&self, unique_key: &str) -> StoreResult<bool> {
        self.backend.delete_integration(unique_key).await
    }

    /// Records that an action started in the background for a connection.
    pub async fn start_action(&self, id: &str, connection: ConnectionKey, action: &str) -> StoreResult<()> {
        self.backend.start_action(id, connection, action, Utc::now()).await
    }

    /// Records how an action run in the background ended.
    pub async fn finish_action(&self, id: &str, status: ActionStatus, output: &Value) -> StoreResult<()> {
        self.backend.finish_action(id, status, output, Utc::now()).await
    }

    /// The result of an action run in the background.
    pub async fn action_result(&self, id: &str) -> StoreResult<Option<ActionResult>> {
        self.backend.action_result(id).await
    }

    /// Keeps webhook delivery attempts.
    pub async fn record_deliveries(&self, attempts: &[DeliveryRecord]) -> StoreResult<()> {
        self.backend.record_deliveries(attempts).await
    }

    /// Recent delivery attempts, newest first (of one run when given).
    pub async fn deliveries(&self, run: Option<i64>, limit: u32) -> StoreResult<Vec<DeliveryRecord>> {
        self.backend.deliveries(run, limit).await
    }

    /// Keeps a new console session.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use nango_runtime::{crypto::Sealer, store::{ConsoleSession, Store}};
    /// let dir = std::env::temp_dir().join(format!("nango-doc-sessions-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = Store::open(&format!("sqlite://{}", dir.join("nango.db").display()), Sealer::InsecureClear)
    ///     .await
    ///     .unwrap();
    /// // Times are kept to the microsecond.
    /// let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    /// let session = ConsoleSession {
    ///     digest: vec![7; 32],
    ///     csrf_token: "t0ken".into(),
    ///     created_at: now,
    ///     expires_at: now + chrono::Duration::hours(12),
    /// };
    /// store.create_session(&session).await.unwrap();
    /// assert_eq!(store.session(&[7; 32]).await.unwrap(), Some(session));
    /// assert!(store.delete_session(&[7; 32]).await.unwrap());
    /// assert_eq!(store.session(&[7; 32]).await.unwrap(), None);
    /// # });
    /// ```
    pub async fn create_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        self.backend.create_session(session).await
    }

    /// The console session with this digest, expired or not.
    pub async fn session(&self, digest: &[u8]) -> StoreResult<Option<ConsoleSession>> {
        self.backend.session(digest).await
    }

    /// Deletes a console session; whether it existed.
    pub async fn delete_session(&self, digest: &[u8]) -> StoreResult<bool> {
        self.backend.delete_session(digest).await
    }

    /// Deletes the console sessions that expired at or before `now`; how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.backend.delete_expired_sessions(now).await
    }

    /// Keeps a new connect session.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use nango_runtime::{crypto::Sealer, store::{ConnectSession, ConnectSessionData, Store}};
    /// let dir = std::env::temp_dir().join(format!("nango-doc-connect-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = Store::open(&format!("sqlite://{}", dir.join("nango.db").display()), Sealer::InsecureClear)
    ///     .await
    ///     .unwrap();
    /// let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    /// let data = ConnectSessionData { allowed_integrations: Some(vec!["github".into()]), ..Default::default() };
    /// let session = ConnectSession { digest: vec![9; 32], data, created_at: now, expires_at: now + chrono::Duration::minutes(30) };
    /// store.create_connect_session(&session).await.unwrap();
    /// assert_eq!(store.connect_session(&[9; 32]).await.unwrap(), Some(session));
    /// assert!(store.delete_connect_session(&[9; 32]).await.unwrap());
    /// # });
    /// ```
    pub async fn create_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
        self.backend.create_connect_session(session).await
    }

    /// The connect session with this digest, expired or not.
    pub async fn connect_session(&self, digest: &[u8]) -> StoreResult<Option<ConnectSession>> {
        self.backend.connect_session(digest).await
    }

    /// Deletes a connect session and the authorizations it started; whether it existed.
    pub async fn delete_connect_session(&self, digest: &[u8]) -> StoreResult<bool> {
        self.backend.delete_connect_session(digest).await
    }

    /// Keeps an OAuth authorization sent to the provider.
    pub async fn start_oauth_flow(&self, flow: &OAuthFlow) -> StoreResult<()> {
        self.backend.start_oauth_flow(flow).await
    }

    /// Takes an OAuth authorization out by its state digest: a second call finds nothing, so a
    /// replayed `state` is refused.
    pub async fn take_oauth_flow(&self, state_digest: &[u8]) -> StoreResult<Option<OAuthFlow>> {
        self.backend.take_oauth_flow(state_digest).await
    }

    /// Deletes the connect sessions and authorizations that expired at or before `now`.
    pub async fn delete_expired_connect(&self, now: DateTime<Utc>) -> StoreResult<()> {
        self.backend.delete_expired_connect(now).await
    }

    /// Marks a connection as needing re-authorization (its provider refused a token refresh),
    /// with why; `None` clears the mark (the end user authorized again).
    pub async fn set_auth_error(&self, connection: ConnectionKey, error: Option<&str>) -> StoreResult<()> {
        self.backend.set_auth_error(connection, error.map(|message| (message, Utc::now()))).await
    }

    /// The connections that need re-authorization, with why.
    pub async fn auth_errors(&self) -> StoreResult<HashMap<ConnectionKey, String>> {
        self.backend.auth_errors().await
    }
}

/// Deployments (see [`super::deploy`]): kept here with the other methods of the store, so the
/// deployment types do not depend on the facade.
impl Store {
    /// The deployment history, newest first; the first one is what is deployed.
    pub async fn deployments(&self, limit: u32) -> StoreResult<Vec<Deployment>> {
        self.backend().deployments(limit).await
    }

    /// Visits every live record of `models` (see [`RecordVisitor`]).
    pub async fn scan_records(&self, models: &[&str], visit: RecordVisitor<'_>) -> StoreResult<()> {
        self.backend().scan_records(models, visit).await
    }

    /// Applies a deployment in one transaction.
    pub async fn apply_deployment(
        &self,
        deployment: &DeploymentWrite,
        accepts: RecordFilter<'_>,
    ) -> StoreResult<DeployOutcome> {
        self.backend().apply_deployment(deployment, accepts).await
    }

    /// Deployment webhooks not delivered yet, oldest first.
    pub async fn pending_deploy_webhooks(&self, limit: u32) -> StoreResult<Vec<QueuedDeployWebhook>> {
        self.backend().pending_deploy_webhooks(limit).await
    }

    /// Takes a deployment webhook off the queue.
    pub async fn deploy_webhook_done(&self, id: i64) -> StoreResult<()> {
        self.backend().deploy_webhook_done(id).await
    }
}
