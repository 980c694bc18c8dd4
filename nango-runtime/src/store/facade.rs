//! [`Store`]: what the runtime, the scheduler, the server and the CLI use.

use super::backend::{Backend, SealedConnection, SealedCredentials, SealedIntegration};
use super::*;
use crate::Credentials;
use crate::crypto::Sealer;
use std::collections::HashMap;
use std::sync::Arc;

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
/// // PostgreSQL comes later; the URL says so clearly.
/// let e = Store::open("postgres://localhost/nango", Sealer::InsecureClear).await.unwrap_err();
/// assert!(e.to_string().contains("not supported yet"));
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

/// What an integration's sealed app credentials are bound to: its key, after a NUL that no
/// connection's context starts with (integration keys are never empty), so neither kind of
/// sealed value opens as the other.
fn integration_context(unique_key: &str) -> Vec<u8> {
    format!("\0integration\0{unique_key}").into_bytes()
}

impl Store {
    /// Opens the store a URL names, creating the database if needed and bringing its schema up
    /// to date: `sqlite://path/to/file.db` (or `sqlite:file.db`).
    /// PostgreSQL URLs are refused with an error saying it is not supported yet.
    pub async fn open(url: &str, sealer: Sealer) -> StoreResult<Store> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        let backend: Arc<dyn Backend> = match scheme.as_str() {
            "sqlite" => Arc::new(SqliteBackend::open(url).await?),
            "postgres" | "postgresql" => {
                return Err(StoreError::UnsupportedUrl {
                    url: url.to_owned(),
                    reason: "PostgreSQL is not supported yet; this version stores in SQLite (sqlite://path/to/file.db)",
                });
            }
            _ => {
                return Err(StoreError::UnsupportedUrl {
                    url: url.to_owned(),
                    reason: "this version stores in SQLite (sqlite://path/to/file.db)",
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

    fn open_sealed(&self, key: ConnectionKey, sealed: SealedConnection) -> StoreResult<StoredConnection> {
        let SealedConnection {
            provider_config_key,
            connection_id,
            provider,
            credentials,
            connection_config,
            metadata,
            base_url,
            created_at,
            updated_at,
        } = sealed;
        let plain = match self.sealer.open(&credentials.sealed, &sealing_context(&provider_config_key, &connection_id))
        {
            Ok(plain) => plain,
            Err(source) => return Err(StoreError::Unseal { provider_config_key, connection_id, source }),
        };
        let credentials: Credentials = match serde_json::from_slice(&plain) {
            Ok(c) => c,
            Err(source) => {
                return Err(StoreError::UnreadableConnection {
                    what: "credentials",
                    provider_config_key,
                    connection_id,
                    source,
                });
            }
        };
        let connection = Connection {
            provider_config_key,
            connection_id,
            provider,
            credentials,
            connection_config,
            metadata,
            base_url,
            created_at,
            updated_at,
        };
        Ok(StoredConnection { key, connection })
    }

    /// Creates or replaces a connection (credentials sealed); its key.
    pub async fn save_connection(&self, connection: &Connection) -> StoreResult<ConnectionKey> {
        let credentials =
            self.seal(&connection.provider_config_key, &connection.connection_id, &connection.credentials)?;
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

    /// Every connection with its key, credentials opened, ordered by integration key and
    /// connection id.
    pub async fn connections(&self) -> StoreResult<Vec<StoredConnection>> {
        self.backend.connections().await?.into_iter().map(|(key, sealed)| self.open_sealed(key, sealed)).collect()
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
        self.backend.apply(run, model, change, records).await
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

    /// Forgets `last_sync_date` and the checkpoint (a full resync); with `clear_records`, also
    /// hard-deletes the records of `models`.
    pub async fn reset_sync(
        &self,
        connection: ConnectionKey,
        sync: &str,
        models: &[&str],
        clear_records: bool,
    ) -> StoreResult<()> {
        self.backend.reset_sync(connection, sync, models, clear_records).await
    }

    /// Starts a run: marks runs left `RUNNING` by a dead process as failed, records the new run.
    pub async fn begin_run(&self, connection: ConnectionKey, sync: &str, track_deletes: bool) -> StoreResult<RunStart> {
        self.backend.begin_run(connection, sync, track_deletes).await
    }

    /// Ends a run.
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
    /// integration of that key goes in the same transaction (a rename).
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
}
