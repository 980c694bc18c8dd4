//! Running syncs: a real run into the store, or a dry run that writes nothing.
//!
//! A run takes the connection from the store, builds the HTTP client for its provider, hands
//! the sync function a context whose records go to the store in batches as they are produced,
//! and records the run (status, counts, error) in the history. Deletion detection for
//! `track_deletes` full syncs happens only after the function returned successfully.

use crate::http::{HttpClient, HttpOptions};
use crate::providers::ProviderCatalog;
use crate::store::policy::{Batch, ExistingRecord, LastAction, Layered};
use crate::store::{
    ChangeCounts, ConnectionKey, LeaseHolder, LeaseOwner, LogLine, ModelCounts, PreparedRecord, RunEnd, RunStatus,
    Store, StoreError, StoredConnection,
};
use crate::{
    BoxFutureRef, EnvironmentVariable, LogLevel, RecordChange, Result, ScriptEnv, ScriptHost, SyncEnv, SyncHost,
    SyncInput, SyncRegistration, SyncType,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store_host::{RunShared, StoreHost, live_records_by_ids};

mod store_host;

/// Why a run could not start (a run that starts and fails is a [`RunReport`] with an error).
///
/// The messages name what is missing without naming command-line flags (they also reach HTTP
/// responses); the CLI adds its hints by matching the variant.
///
/// ```
/// use nango_runtime::engine::RunError;
/// let e = RunError::UnknownConnection { integration: "github".into(), connection: "acme".into() };
/// assert_eq!(e.to_string(), "no connection `acme` for integration `github`");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// No such connection in the store.
    #[error("no connection `{connection}` for integration `{integration}`")]
    UnknownConnection {
        /// Integration key.
        integration: String,
        /// Connection id.
        connection: String,
    },
    /// The connection's provider is not in the catalog.
    #[error("provider `{provider}` of connection `{connection}` is not in the provider catalog")]
    UnknownProvider {
        /// The provider the connection names.
        provider: String,
        /// Connection id.
        connection: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client of connection `{connection}`")]
    Http {
        /// Connection id.
        connection: String,
        /// Why (boxed: the HTTP error is large, and this path is rare).
        #[source]
        source: Box<crate::http::HttpError>,
    },
    /// Another process runs this sync for this connection now (it holds the lease).
    #[error(
        "sync `{sync}` of connection `{connection}` is already running in another process: {} (since {}; its lease runs until {} unless renewed)",
        .holder.label,
        .holder.since.format("%H:%M:%S UTC"),
        .holder.expires_at.format("%H:%M:%S UTC")
    )]
    Busy {
        /// The sync.
        sync: String,
        /// Connection id.
        connection: String,
        /// Who runs it.
        holder: LeaseHolder,
    },
    /// The store failed (the store's error names the operation).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long a run's lease lasts without a heartbeat (renewed every third of it): after a crash,
/// another process may take the sync over that long after the last heartbeat.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The run's id in the history.
    pub run_id: i64,
    /// When it started (the next `last_sync_date` if it succeeded).
    pub started_at: DateTime<Utc>,
    /// The `last_sync_date` it started from (`None`: a first or full run).
    pub last_sync_date: Option<DateTime<Utc>>,
    /// The checkpoint it started from.
    pub checkpoint_from: Option<Value>,
    /// The checkpoint it left (`None` when cleared).
    pub checkpoint_to: Option<Value>,
    /// Requests, retries and rate-limit waits of its HTTP client.
    pub http: crate::http::HttpStats,
    /// Success or failure.
    pub status: RunStatus,
    /// Added/updated/deleted per model.
    pub counts: ModelCounts,
    /// The error of a failed run.
    pub error: Option<String>,
    /// A read or write of the store failed during the run (the database was unreachable, or the
    /// run lost its lease): a failed run may then be short of its work through no fault of the
    /// sync, and the scheduler runs it again soon rather than at its next interval.
    pub store_failed: bool,
    /// How long it took.
    pub duration: Duration,
}

/// What a dry run would have done.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DryRunReport {
    /// Would-be added/updated/deleted per model.
    pub counts: ModelCounts,
    /// The first records of each model.
    pub samples: BTreeMap<String, Vec<Value>>,
    /// Records handed over per model (duplicates included).
    pub received: BTreeMap<String, u64>,
    /// The function's error, if it failed.
    pub error: Option<String>,
    /// The checkpoint the run would leave.
    pub checkpoint: Option<Value>,
    /// How long it took.
    pub duration: Duration,
}

/// Overrides for a dry run.
#[derive(Debug, Clone, Default)]
pub struct DryRunOptions {
    /// Use this `last_sync_date` instead of the stored one.
    pub last_sync_date: Option<DateTime<Utc>>,
    /// Use this metadata instead of the connection's.
    pub metadata: Option<Value>,
    /// Start from this checkpoint instead of the stored one.
    pub checkpoint: Option<Value>,
    /// Write every HTTP exchange here (replayable by the mock provider).
    pub save_responses: Option<PathBuf>,
    /// Write the records as JSON Lines here.
    pub output: Option<PathBuf>,
    /// Records kept per model as samples.
    pub samples: usize,
}

/// Called after each written batch with (model, records so far of that model).
pub type Progress = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Runs the syncs of this binary against a store.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use nango_runtime::{engine::Runtime, store::Store, crypto::Sealer};
/// let store = Store::open("sqlite://nango.db", Sealer::from_env(false)?).await?;
/// let runtime = Runtime::new(store);
/// let sync = nango_runtime::registered_syncs().next().expect("a #[nango_sync] function");
/// let report = runtime.run_sync(sync, "github", "acme").await?;
/// println!("{:?}", report.counts);
/// # Ok(()) }
/// ```
pub struct Runtime {
    store: Store,
    providers: ProviderCatalog,
    http_options: HttpOptions,
    progress: Option<Progress>,
    lease_owner: LeaseOwner,
    lease_ttl: Duration,
    /// The environment variables scripts get.
    environment: Vec<EnvironmentVariable>,
    /// The (connection, sync) pairs this runtime runs now, with when each started: the lease in
    /// the store keeps other processes out, this keeps this process's own runs apart.
    running: LocalRuns,
    /// Told when a provider refuses a connection's token refresh (after the mark is stored).
    on_auth_refused: Option<AuthRefusedHook>,
}

/// What [`Runtime::on_auth_refused`] calls: the connection and why.
pub type AuthRefusedHook = Arc<dyn Fn(crate::Connection, String) + Send + Sync>;

/// The (connection, sync) pairs a runtime runs now, with when each started.
type LocalRuns = Arc<Mutex<HashMap<(ConnectionKey, &'static str), DateTime<Utc>>>>;

/// This process's claim on a (connection, sync), given back when the run ends or is dropped.
struct LocalClaim {
    running: LocalRuns,
    key: (ConnectionKey, &'static str),
}

impl Drop for LocalClaim {
    fn drop(&mut self) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

impl Runtime {
    /// A runtime over a store, with the built-in provider catalog and default HTTP options; its
    /// runs are leased as this process ([`LeaseOwner::for_this_process`]) for
    /// [`DEFAULT_LEASE_TTL`].
    pub fn new(store: Store) -> Self {
        Runtime {
            store,
            providers: ProviderCatalog::builtin(),
            http_options: HttpOptions::default(),
            progress: None,
            lease_owner: LeaseOwner::for_this_process("runtime"),
            lease_ttl: DEFAULT_LEASE_TTL,
            environment: Vec::new(),
            running: Arc::default(),
            on_auth_refused: None,
        }
    }

    /// Gives scripts these environment variables (their `get_environment_variables()`; none by
    /// default, the CLI passes the process's `NANGO_SCRIPT_ENV_*`).
    pub fn with_environment_variables(mut self, variables: Vec<EnvironmentVariable>) -> Self {
        self.environment = variables;
        self
    }

    /// Leases runs as `owner` (named in the message of a process that finds a sync taken) for
    /// `ttl`, renewed every third of it while a run goes on. A process that dies holds its
    /// syncs until its lease lapses: a shorter `ttl` hands them over sooner, at the cost of more
    /// heartbeats (and of losing a run whose process stalls longer than `ttl`). Kept between
    /// 300 ms and a day.
    pub fn with_lease(mut self, owner: LeaseOwner, ttl: Duration) -> Self {
        self.lease_owner = owner;
        self.lease_ttl = ttl.clamp(Duration::from_millis(300), Duration::from_secs(86_400));
        self
    }

    /// Who this runtime's leases name, and how long they last.
    pub fn lease(&self) -> (&LeaseOwner, Duration) {
        (&self.lease_owner, self.lease_ttl)
    }

    /// The provider catalog connections are served with.
    pub fn providers(&self) -> &ProviderCatalog {
        &self.providers
    }

    /// Uses another provider catalog.
    pub fn with_providers(mut self, providers: ProviderCatalog) -> Self {
        self.providers = providers;
        self
    }

    /// Uses other HTTP options (retries, timeouts, rate limit).
    pub fn with_http_options(mut self, options: HttpOptions) -> Self {
        self.http_options = options;
        self
    }

    /// Reports progress after each batch.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The HTTP options runs start from.
    pub fn http_options(&self) -> &HttpOptions {
        &self.http_options
    }

    async fn load(&self, integration: &str, connection_id: &str) -> std::result::Result<StoredConnection, RunError> {
        self.store.connection(integration, connection_id).await?.ok_or_else(|| RunError::UnknownConnection {
            integration: integration.to_owned(),
            connection: connection_id.to_owned(),
        })
    }

    /// The HTTP client of a connection; refreshed OAuth tokens are saved back (sealed).
    pub fn http_client(
        &self,
        stored: &StoredConnection,
        options: HttpOptions,
    ) -> std::result::Result<HttpClient, RunError> {
        let connection = &stored.connection;
        let provider = self.providers.get(&connection.provider).ok_or_else(|| RunError::UnknownProvider {
            provider: connection.provider.clone(),
            connection: connection.connection_id.clone(),
        })?;
        let client = HttpClient::new(provider, connection.clone(), options)
            .map_err(|e| RunError::Http { connection: connection.connection_id.clone(), source: Box::new(e) })?;
        let store = self.store.clone();
        let refused_store = self.store.clone();
        let refused_connection = stored.clone();
        let hook = self.on_auth_refused.clone();
        let stored = stored.clone();
        Ok(client
            .on_credentials_refreshed(move |credentials| {
                let store = store.clone();
                let stored = stored.clone();
                Box::pin(async move { store.set_credentials(&stored, &credentials).await.map_err(Into::into) })
            })
            .on_refresh_refused(move |message| {
                let store = refused_store.clone();
                let stored = refused_connection.clone();
                let hook = hook.clone();
                Box::pin(async move {
                    // The connection needs its user again: the API and the console say so until
                    // a reconnect session authorizes it anew.
                    if let Err(e) = store.set_auth_error(stored.key, Some(&message)).await {
                        tracing::error!(error = %nango_types::text::error_chain(&e), "cannot mark the connection as needing re-authorization");
                    }
                    if let Some(hook) = hook {
                        hook(stored.connection.clone(), message);
                    }
                })
            }))
    }

    /// Calls `hook` when a provider refuses a connection's token refresh (`serve` sends the
    /// auth webhook from it); the connection is marked as needing re-authorization first.
    ///
    /// ```no_run
    /// # async fn demo(runtime: nango_runtime::engine::Runtime) {
    /// let runtime = runtime.on_auth_refused(std::sync::Arc::new(|connection, why| {
    ///     eprintln!("{} needs its user to authorize again: {why}", connection.connection_id);
    /// }));
    /// # }
    /// ```
    pub fn on_auth_refused(mut self, hook: AuthRefusedHook) -> Self {
        self.on_auth_refused = Some(hook);
        self
    }

    /// The environment of an action or on-event script for a connection.
    pub async fn script_env(&self, integration: &str, connection_id: &str) -> std::result::Result<ScriptEnv, RunError> {
        self.script_env_of(&self.load(integration, connection_id).await?)
    }

    /// [`Runtime::script_env`] of a connection already read from the store.
    pub fn script_env_of(&self, stored: &StoredConnection) -> std::result::Result<ScriptEnv, RunError> {
        let http = self.http_client(stored, self.http_options.clone())?;
        let host = StoreScriptHost { store: self.store.clone(), connection: stored.key };
        Ok(ScriptEnv {
            connection: stored.connection.clone(),
            environment: self.environment.clone(),
            host: Box::new(host),
            http,
        })
    }

    /// One real run of `sync` for a connection, into the store.
    pub async fn run_sync(
        &self,
        sync: &'static SyncRegistration,
        integration: &str,
        connection_id: &str,
    ) -> std::result::Result<RunReport, RunError> {
        self.run_sync_until(sync, integration, connection_id, std::future::pending()).await
    }

    /// [`Runtime::run_sync`] that stops the function when `cancel` completes: records written
    /// so far stay, and the run is recorded as failed with the error `cancelled`.
    ///
    /// The run holds the lease of its (connection, sync) in the store, so no other process runs
    /// the same sync for the same connection meanwhile: when one does, this returns
    /// [`RunError::Busy`] naming it, and nothing is recorded. A connection whose credentials
    /// cannot be opened gets a failed run with the reason.
    pub async fn run_sync_until(
        &self,
        sync: &'static SyncRegistration,
        integration: &str,
        connection_id: &str,
        cancel: impl Future<Output = ()> + Send,
    ) -> std::result::Result<RunReport, RunError> {
        self.run_leased_sync(sync, integration, connection_id, cancel, true).await
    }

    /// [`Runtime::run_sync_until`] for a runner of the task queue, which took the lease when it
    /// claimed the task: the lease is kept when the run ends, and given up by the task's end
    /// ([`Store::finish_task`] or [`Store::release_task`]) in one transaction, so no other
    /// runner can take the task between the run's end and its bookkeeping.
    pub async fn run_task(
        &self,
        sync: &'static SyncRegistration,
        integration: &str,
        connection_id: &str,
        cancel: impl Future<Output = ()> + Send,
    ) -> std::result::Result<RunReport, RunError> {
        self.run_leased_sync(sync, integration, connection_id, cancel, false).await
    }

    async fn run_leased_sync(
        &self,
        sync: &'static SyncRegistration,
        integration: &str,
        connection_id: &str,
        cancel: impl Future<Output = ()> + Send,
        release: bool,
    ) -> std::result::Result<RunReport, RunError> {
        let started = Instant::now();
        let name = sync.descriptor.name;
        let unknown = || RunError::UnknownConnection {
            integration: integration.to_owned(),
            connection: connection_id.to_owned(),
        };
        // A connection whose credentials do not open still gets its run, failed with the reason.
        let (key, loaded) = match self.store.connection(integration, connection_id).await {
            Ok(Some(stored)) => (stored.key, Ok(stored)),
            Ok(None) => return Err(unknown()),
            Err(e @ (StoreError::Unseal { .. } | StoreError::UnreadableConnection { what: "credentials", .. })) => {
                let key = self.store.connection_key(integration, connection_id).await?.ok_or_else(unknown)?;
                (key, Err(nango_types::text::error_chain(&e)))
            }
            Err(e) => return Err(e.into()),
        };
        let http = match &loaded {
            Ok(stored) => Some(self.http_client(stored, self.http_options.clone())?),
            Err(_) => None,
        };
        let busy = |holder| RunError::Busy { sync: name.to_owned(), connection: connection_id.to_owned(), holder };
        // This process first (a run of it may still hold the lease), then the others.
        let _claim = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(since) = running.get(&(key, name)) {
                let label = self.lease_owner.label().to_owned();
                let now = Utc::now();
                let expires_at = chrono::Duration::from_std(self.lease_ttl)
                    .ok()
                    .and_then(|ttl| now.checked_add_signed(ttl))
                    .unwrap_or(now);
                return Err(busy(LeaseHolder { label, since: *since, expires_at }));
            }
            running.insert((key, name), Utc::now());
            LocalClaim { running: self.running.clone(), key: (key, name) }
        };
        if let Err(holder) = self.store.acquire_lease(key, name, &self.lease_owner, self.lease_ttl).await? {
            return Err(busy(holder));
        }
        let report = self.run_leased(sync, key, loaded, http, cancel).await;
        if !release {
            return report.map(|mut report| {
                report.duration = started.elapsed();
                report
            });
        }
        if let Err(e) = self.store.release_lease(key, name, &self.lease_owner).await {
            // It lapses by itself; until then other processes wait.
            tracing::warn!(sync = name, error = %nango_types::text::error_chain(&e), "cannot give the lease of the sync up");
        }
        report.map(|mut report| {
            report.duration = started.elapsed();
            report
        })
    }

    /// The run itself, under the lease: begins it, keeps the lease alive, runs the function (or
    /// records why it cannot), detects deletions, ends it.
    async fn run_leased(
        &self,
        sync: &'static SyncRegistration,
        key: ConnectionKey,
        loaded: std::result::Result<StoredConnection, String>,
        http: Option<HttpClient>,
        cancel: impl Future<Output = ()> + Send,
    ) -> std::result::Result<RunReport, RunError> {
        let descriptor = sync.descriptor;
        let full = descriptor.sync_type == SyncType::Full;
        let track_deletes = descriptor.track_deletes && full;
        let run = self.store.begin_run(key, descriptor.name, track_deletes).await?;
        let lost = Arc::new(tokio::sync::Notify::new());
        let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
            self.store.clone(),
            key,
            descriptor.name,
            self.lease_owner.clone(),
            run.ids.run,
            self.lease_ttl,
            lost.clone(),
        )));
        let counts = Arc::new(Mutex::new(ModelCounts::new()));
        let store_failed = Arc::new(AtomicBool::new(false));
        let logs = Arc::new(Mutex::new(vec![LogLine {
            at: run.started_at,
            level: "info".into(),
            message: match (&run.last_sync_date, &run.checkpoint) {
                (_, Some(c)) => format!("run started, resuming from checkpoint {c}"),
                (Some(t), None) => format!("run started, last successful run started at {}", t.to_rfc3339()),
                (None, None) => "run started, first run".into(),
            },
        }]));
        let connection_id = match &loaded {
            Ok(stored) => stored.connection.connection_id.clone(),
            Err(_) => String::new(),
        };
        tracing::info!(sync = descriptor.name, connection = %connection_id, run = run.ids.run, "run started");
        let stats_of = http.clone();
        let mut outcome = match (loaded, http) {
            (Ok(stored), Some(http)) => {
                let connection = stored.connection;
                let shared = RunShared {
                    logs: logs.clone(),
                    counts: counts.clone(),
                    store_failed: store_failed.clone(),
                    progress: self.progress.clone(),
                };
                let (host, writer) =
                    StoreHost::start(self.store.clone(), run.ids, descriptor.name, run.started_at, shared);
                let input = SyncInput {
                    connection_id: connection.connection_id.clone(),
                    metadata: connection.metadata.clone(),
                    last_sync_date: run.last_sync_date,
                    checkpoint: run.checkpoint.clone(),
                };
                let env =
                    SyncEnv { input, host: Box::new(host), connection, environment: self.environment.clone(), http };
                let (outcome, returned) = tokio::select! {
                    outcome = run_guarded(sync, env) => (outcome, true),
                    () = cancel => (Err("cancelled: the run was stopped before it ended".into()), false),
                    () = lost.notified() => (Err(
                        "stopped: this process could not renew the sync's lease in time, so another one may run it now".into()
                    ), false),
                };
                if returned {
                    // The sync's task has ended: what it handed over is written now, before the
                    // run's counts are read and the run ends.
                    match writer.finish().await {
                        Some(failure) if outcome.is_ok() => Err(failure.into()),
                        _ => outcome,
                    }
                } else {
                    // Stopped: the writes still queued are dropped with the writer, as the
                    // sync's task is (one busy without an await might not let go of its end of
                    // the queue for a long time, and a stopped run must end now).
                    drop(writer);
                    outcome
                }
            }
            (Err(reason), _) => Err(reason.into()),
            // `http` is built for every readable connection.
            (Ok(_), None) => Err("the connection has no HTTP client".into()),
        };
        let mut counts = std::mem::take(&mut *counts.lock().unwrap_or_else(|e| e.into_inner()));
        if outcome.is_ok() && track_deletes {
            for model in descriptor.outputs {
                match self.store.sweep_unseen(run.ids, model).await {
                    Ok(n) => counts
                        .entry((*model).to_owned())
                        .or_default()
                        .add(ChangeCounts { deleted: n, ..Default::default() }),
                    Err(e) => {
                        store_failed.store(true, Ordering::Relaxed);
                        outcome =
                            Err(format!("deletion detection failed: {}", nango_types::text::error_chain(&e)).into());
                        break;
                    }
                }
            }
        }
        if outcome.is_ok() {
            // Pages of past runs' URLs (an incremental listing's `since=`) would pile up: a run
            // that ended well keeps only the validators it saved or used. They are a cache, so
            // one that cannot be forgotten now is forgotten by a later run.
            if let Err(e) = self.store.forget_unused_validators(key, descriptor.name, run.ids.run).await {
                tracing::warn!(sync = descriptor.name, run = run.ids.run, error = %nango_types::text::error_chain(&e), "cannot forget unused page validators");
            }
        }
        let (status, error) = match &outcome {
            Ok(()) => (RunStatus::Success, None),
            Err(e) => (RunStatus::Failed, Some(e.to_string())),
        };
        let end = RunEnd {
            status,
            counts: counts.clone(),
            error: error.clone(),
            advance_last_sync_date: status == RunStatus::Success,
            clear_checkpoint: status == RunStatus::Success && full,
        };
        let mut lines = std::mem::take(&mut *logs.lock().unwrap_or_else(|e| e.into_inner()));
        let summary: Vec<String> = counts
            .iter()
            .map(|(m, c)| format!("{m}: {} added, {} updated, {} deleted", c.added, c.updated, c.deleted))
            .collect();
        lines.push(LogLine {
            at: Utc::now(),
            level: if error.is_some() { "error".into() } else { "info".into() },
            message: match &error {
                Some(e) => format!("run failed: {e}"),
                None if summary.is_empty() => "run succeeded: no changes".into(),
                None => format!("run succeeded: {}", summary.join("; ")),
            },
        });
        // The log goes in before the run is closed, so whoever sees the run ended (the API, the
        // console, another process) also sees its whole log. A log that cannot be written does
        // not keep the run open: its end matters more. Both are tried again while the database
        // is away for a moment (a restart), for up to a lease, so the history says why the run
        // ended; after that, the run is closed as interrupted once its lease lapsed.
        let deadline = Instant::now() + self.lease_ttl;
        let logged = until_stored(deadline, "the run's log", || self.store.append_logs(run.ids.run, &lines)).await;
        if let Err(e) = logged {
            tracing::warn!(sync = descriptor.name, run = run.ids.run, error = %nango_types::text::error_chain(&e), "cannot write the run's log");
        }
        until_stored(deadline, "the run's end", || self.store.finish_run(&run, descriptor.name, &end)).await?;
        let checkpoint_to = if end.clear_checkpoint {
            None
        } else {
            until_stored(deadline, "the sync's state", || self.store.sync_state(key, descriptor.name)).await?.checkpoint
        };
        match &error {
            None => tracing::info!(
                sync = descriptor.name,
                connection = %connection_id,
                run = run.ids.run,
                ?counts,
                "run succeeded"
            ),
            Some(e) => {
                tracing::error!(sync = descriptor.name, connection = %connection_id, run = run.ids.run, error = %e, "run failed")
            }
        }
        Ok(RunReport {
            run_id: run.ids.run,
            started_at: run.started_at,
            last_sync_date: run.last_sync_date,
            checkpoint_from: run.checkpoint.clone(),
            checkpoint_to,
            http: stats_of.map(|h| h.stats()).unwrap_or_default(),
            status,
            counts,
            error,
            store_failed: store_failed.load(Ordering::Relaxed),
            duration: Duration::ZERO,
        })
    }

    /// Runs `sync` against the real API without writing the store: what would be added,
    /// updated and deleted, with samples.
    pub async fn dry_run(
        &self,
        sync: &'static SyncRegistration,
        integration: &str,
        connection_id: &str,
        options: DryRunOptions,
    ) -> std::result::Result<DryRunReport, RunError> {
        let started = Instant::now();
        let stored = self.load(integration, connection_id).await?;
        let key = stored.key;
        let descriptor = sync.descriptor;
        let full = descriptor.sync_type == SyncType::Full;
        let mut http_options = self.http_options.clone();
        if let Some(dir) = &options.save_responses {
            http_options = http_options.save_responses(dir.clone());
        }
        let http = self.http_client(&stored, http_options)?;
        let connection = stored.connection;
        let state = self.store.sync_state(key, descriptor.name).await?;
        let cache = match &options.output {
            Some(dir) => Some(crate::store::JsonlCache::create(dir, integration, connection_id)?),
            None => None,
        };
        let shared = Arc::new(Mutex::new(DryRunReport::default()));
        let written: Arc<Mutex<VirtualWrites>> = Arc::default();
        let host = DryRunHost {
            store: self.store.clone(),
            connection: key,
            track_seen: descriptor.track_deletes && full,
            written: written.clone(),
            report: shared.clone(),
            samples: options.samples,
            cache,
            progress: self.progress.clone(),
        };
        let input = SyncInput {
            connection_id: connection.connection_id.clone(),
            metadata: options.metadata.clone().unwrap_or(connection.metadata.clone()),
            last_sync_date: options.last_sync_date.or(state.last_sync_date),
            checkpoint: options.checkpoint.clone().or(state.checkpoint),
        };
        let env = SyncEnv { input, host: Box::new(host), connection, environment: self.environment.clone(), http };
        let outcome = run_guarded(sync, env).await;
        let mut report = std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner()));
        match outcome {
            Ok(()) if descriptor.track_deletes && full => {
                let written = std::mem::take(&mut *written.lock().unwrap_or_else(|e| e.into_inner()));
                for model in descriptor.outputs {
                    let gone = would_be_swept(&self.store, key, model, &written).await?;
                    report.counts.entry((*model).to_owned()).or_default().deleted += gone;
                }
            }
            Ok(()) => {}
            Err(e) => report.error = Some(e.to_string()),
        }
        report.duration = started.elapsed();
        Ok(report)
    }
}

/// What the sweep after a real run would delete: live records of `model` the dry run did not
/// write, mark seen or delete.
async fn would_be_swept(
    store: &Store,
    key: ConnectionKey,
    model: &str,
    written: &VirtualWrites,
) -> std::result::Result<u64, StoreError> {
    let live = store.live_ids(key, model).await?;
    let touched = written.get(model);
    Ok(live.iter().filter(|id| !touched.is_some_and(|t| t.contains_key(id.as_str()))).count() as u64)
}

/// `write()`, tried again every quarter second until it succeeds or `deadline` passed (then its
/// last error): the end of a run outlives a database that restarts.
async fn until_stored<T, F>(
    deadline: Instant,
    what: &'static str,
    mut write: impl FnMut() -> F,
) -> std::result::Result<T, StoreError>
where
    F: Future<Output = std::result::Result<T, StoreError>>,
{
    loop {
        match write().await {
            Ok(done) => return Ok(done),
            Err(e) if Instant::now() < deadline => {
                tracing::warn!(error = %nango_types::text::error_chain(&e), "cannot write {what}; trying again");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Aborts a task when dropped, so it stops with what spawned it.
pub(crate) struct AbortOnDrop<T>(pub(crate) tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews a run's lease every third of its time to live, which also records the run as alive;
/// wakes `lost` and stops when the lease was taken over (it lapsed: a heartbeat came too late).
/// A store error is retried at the next beat: the lease is lost only if it lapses meanwhile.
async fn heartbeat(
    store: Store,
    key: ConnectionKey,
    sync: &'static str,
    owner: LeaseOwner,
    run: i64,
    ttl: Duration,
    lost: Arc<tokio::sync::Notify>,
) {
    let beat = ttl / 3;
    loop {
        tokio::time::sleep(beat).await;
        match store.renew_lease(key, sync, &owner, Some(run), ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(sync, run, "the run lost its lease: another process may run the sync now; stopping it");
                lost.notify_one();
                return;
            }
            Err(e) => {
                tracing::warn!(sync, run, error = %nango_types::text::error_chain(&e), "cannot renew the run's lease; trying again")
            }
        }
    }
}

/// Runs the function in its own task so a panic in user code becomes a failed run.
async fn run_guarded(sync: &'static SyncRegistration, env: SyncEnv) -> Result<()> {
    let mut task = AbortOnDrop(tokio::spawn((sync.run)(env)));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => {
            let panic = e.into_panic();
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(format!("the sync function `{}` panicked: {message}", sync.function).into())
        }
        Err(e) => Err(format!("the run was cancelled: {e}").into()),
    }
}

/// Where an action's or on-event script's metadata changes and log lines go in a real run: the
/// store, and `tracing` (scripts other than syncs have no run log).
struct StoreScriptHost {
    store: Store,
    connection: ConnectionKey,
}

impl ScriptHost for StoreScriptHost {
    fn set_metadata(&mut self, metadata: Value) -> BoxFutureRef<'_, Result<()>> {
        Box::pin(async move {
            self.store.set_metadata(self.connection, &metadata).await?;
            Ok(())
        })
    }

    fn log(&mut self, _level: LogLevel, _message: String) {
        // The context has sent the line to `tracing` already.
    }
}

/// What a dry run would have written, per model and id: the state the store would hold for every
/// record the run touched (`seen_in_run` for those it wrote or deleted).
type VirtualWrites = HashMap<&'static str, HashMap<String, ExistingRecord>>;

/// Counts what a dry run would do without writing the store: each batch is planned by the same
/// [record policy](crate::store::policy) as a real run's, over the store's state overlaid with
/// what the dry run has virtually written so far, so the two count alike (duplicates, re-added
/// records, merges, deletions).
///
/// It keeps what it would have written in memory (hash and content per record), as a real run
/// keeps it in the database: an update later in the run merges into it.
struct DryRunHost {
    store: Store,
    connection: ConnectionKey,
    track_seen: bool,
    written: Arc<Mutex<VirtualWrites>>,
    report: Arc<Mutex<DryRunReport>>,
    samples: usize,
    cache: Option<crate::store::JsonlCache>,
    progress: Option<Progress>,
}

impl DryRunHost {
    async fn classify(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> Result<ChangeCounts> {
        let batch = Batch::new(model, change, records);
        // Only what the run has not written yet is read from the store.
        let unwritten: Vec<&str> = {
            let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
            let written = written.get(model);
            batch.ids().filter(|id| !written.is_some_and(|w| w.contains_key(*id))).collect()
        };
        let stored = if unwritten.is_empty() {
            HashMap::new()
        } else {
            self.store.existing(self.connection, model, &unwritten, batch.needs_stored_json()).await?
        };
        let counts = {
            let mut all = self.written.lock().unwrap_or_else(|e| e.into_inner());
            let written = all.entry(model).or_default();
            let plan = batch.plan(&Layered { top: &*written, below: &stored }, self.track_seen)?;
            let counts = plan.counts;
            for id in plan.deleted {
                let before = written.get(id).or_else(|| stored.get(id)).cloned();
                if let Some(before) = before {
                    let gone =
                        ExistingRecord { deleted: true, seen_in_run: true, last_action: LastAction::Deleted, ..before };
                    written.insert(id.to_owned(), gone);
                }
            }
            // Marked seen, not written: as in the store, a change met later in the run is its
            // update (`seen_in_run` stays false); kept here so it is not read again.
            for id in plan.seen {
                if let Some(before) = stored.get(id) {
                    written.insert(id.to_owned(), before.clone());
                }
            }
            for row in plan.upserts {
                let now = ExistingRecord {
                    hash: row.hash,
                    deleted: false,
                    seen_in_run: true,
                    last_action: row.last_action,
                    json: Some(row.json.into_owned()),
                };
                written.insert(row.id.to_owned(), now);
            }
            counts
        };
        for record in batch.records() {
            let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
            let samples = report.samples.entry(model.to_owned()).or_default();
            if samples.len() < self.samples && change != RecordChange::Delete {
                samples.push(record.value()?);
            }
            drop(report);
            if let Some(cache) = &mut self.cache {
                cache.append_text(model, &record.text)?;
            }
        }
        if let Some(cache) = &mut self.cache {
            cache.flush()?;
        }
        Ok(counts)
    }
}

impl SyncHost for DryRunHost {
    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> BoxFutureRef<'_, Result<()>> {
        Box::pin(async move {
            let n = records.len() as u64;
            let c = self.classify(model, change, records).await?;
            let total = {
                let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
                report.counts.entry(model.to_owned()).or_default().add(c);
                let received = report.received.entry(model.to_owned()).or_default();
                *received += n;
                *received
            };
            if let Some(progress) = &self.progress {
                progress(model, total);
            }
            Ok(())
        })
    }

    fn save_checkpoint(&mut self, checkpoint: Option<Value>) -> BoxFutureRef<'_, Result<()>> {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).checkpoint = checkpoint;
        Box::pin(async { Ok(()) })
    }

    fn records_by_ids(&mut self, model: &'static str, ids: Vec<String>) -> BoxFutureRef<'_, Result<Vec<Value>>> {
        // A dry run writes nothing: what the store holds is what a script reads.
        Box::pin(async move { live_records_by_ids(&self.store, self.connection, model, ids).await })
    }

    fn set_metadata(&mut self, _metadata: Value) -> BoxFutureRef<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Connection;
    use crate::crypto::Sealer;
    use serde_json::json;

    fn prepared(records: &[Value]) -> Vec<PreparedRecord> {
        records.iter().map(|r| PreparedRecord::new("Ticket", r.clone()).unwrap()).collect()
    }

    /// A store in a SQLite file of a temporary folder (kept as long as the folder), with one
    /// connection.
    pub(super) async fn store_with_a_connection() -> (tempfile::TempDir, Store, ConnectionKey) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("nango.db").display());
        let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
        let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        (dir, store, key)
    }

    /// The same batches through a dry run and then a real run, over the same stored state:
    /// duplicates, changes, deletions of records saved in the run, deleting twice, re-adding
    /// deleted records, updates of unstored and of virtually written records, and deletion
    /// detection. Both must count alike, and what the dry run would have written must be what
    /// the real run wrote.
    #[tokio::test]
    async fn a_dry_run_counts_and_writes_what_the_real_run_does() {
        let (_dir, store, key) = store_with_a_connection().await;
        let first = store.begin_run(key, "tickets", true).await.unwrap();
        let before: Vec<Value> = [1, 2, 3, 4, 5, 8].iter().map(|i| json!({"id": i, "v": i.to_string()})).collect();
        store.apply(first.ids, "Ticket", RecordChange::Save, prepared(&before)).await.unwrap();
        store.apply(first.ids, "Ticket", RecordChange::Delete, prepared(&[json!({"id": 5})])).await.unwrap();
        let end = RunEnd {
            status: RunStatus::Success,
            counts: ModelCounts::new(),
            error: None,
            advance_last_sync_date: true,
            clear_checkpoint: true,
        };
        store.finish_run(&first, "tickets", &end).await.unwrap();

        use RecordChange::{Delete, Save, Update};
        let batches: Vec<(RecordChange, Vec<Value>)> = vec![
            (
                Save,
                vec![
                    json!({"id": 1, "v": "changed"}),
                    json!({"id": 2, "v": "2"}),
                    json!({"id": 6}),
                    json!({"id": 6, "v": "again"}),
                ],
            ),
            (Delete, vec![json!({"id": 1}), json!({"id": 6}), json!({"id": 99}), json!({"id": 3})]),
            (Save, vec![json!({"id": 1, "v": "back"}), json!({"id": 5, "v": "5"}), json!({"id": 3, "v": "3"})]),
            (Update, vec![json!({"id": 2, "extra": {"a": 1}}), json!({"id": 7, "v": "unstored"}), json!({"id": 4})]),
            (Save, vec![json!({"id": 2, "v": "changed again"})]),
            (Delete, vec![json!({"id": 3})]),
            (Delete, vec![json!({"id": 3})]),
            (Update, vec![json!({"id": 3, "v": "deleted"})]),
            (Save, vec![json!({"id": 6, "v": "re-added"})]),
            (Update, vec![json!({"id": 6, "extra": {"b": [1, 2]}})]),
        ];

        let written: Arc<Mutex<VirtualWrites>> = Arc::default();
        let report: Arc<Mutex<DryRunReport>> = Arc::default();
        let mut dry = DryRunHost {
            store: store.clone(),
            connection: key,
            track_seen: true,
            written: written.clone(),
            report: report.clone(),
            samples: 0,
            cache: None,
            progress: None,
        };
        for (change, records) in &batches {
            dry.write("Ticket", *change, prepared(records)).await.unwrap();
        }
        let mut dry_counts = report.lock().unwrap().counts["Ticket"];
        let written = std::mem::take(&mut *written.lock().unwrap());
        dry_counts.deleted += would_be_swept(&store, key, "Ticket", &written).await.unwrap();

        let run = store.begin_run(key, "tickets", true).await.unwrap();
        let mut real = ChangeCounts::default();
        for (change, records) in &batches {
            real.add(store.apply(run.ids, "Ticket", *change, prepared(records)).await.unwrap());
        }
        real.deleted += store.sweep_unseen(run.ids, "Ticket").await.unwrap();
        assert_eq!(dry_counts, real);
        // Added: 6, then 1, 5 and 3 back after deletions, then 6 again; updated: 1, and 2 (only
        // marked seen while unchanged, then merged into: this run's update, counted once though
        // it changes again later); deleted: 1, 6, 3, 3 again after it came back, and 8 by the
        // sweep.
        assert_eq!(real, ChangeCounts { added: 5, updated: 2, deleted: 5 });

        let query = crate::store::RecordQuery { model: "Ticket".into(), limit: 100, ..Default::default() };
        let stored = store.records(key, &query).await.unwrap().records;
        for (id, would) in &written["Ticket"] {
            let record = stored.iter().find(|r| &r.id == id).unwrap();
            assert_eq!(would.deleted, record.metadata.deleted_at.is_some(), "record {id}");
            if let Some(json) = &would.json {
                assert_eq!(serde_json::from_str::<Value>(json).unwrap(), record.data(), "record {id}");
            }
            if !would.deleted {
                assert_eq!(would.last_action.as_str(), record.metadata.last_action, "record {id}");
            }
        }
        // Added by the first run, changed by this one: an update of this run, not still `ADDED`.
        assert_eq!(stored.iter().find(|r| r.id == "2").unwrap().metadata.last_action, "UPDATED");
    }
}
