//! The scheduler: runs every (connection, sync) on its schedule, one run at a time each.
//!
//! A schedule is due when it is started (`auto_start` or a start command, not paused) and its
//! `next_run_at` has passed, or when it was triggered. After a run, the next one is one interval
//! (nango.yaml's `runs`, or the connection's own frequency) plus a little jitter after the run
//! *ended*: runs never overlap, and after downtime a schedule runs once, not once per missed
//! tick. A next run time changed while a run goes on (a frequency set, a schedule moved by
//! another process) is kept: the bookkeeping after the run writes its own only if the time is
//! still the one it saw when the run started. A failing run does not stop the schedule. State lives in the store, so schedules, pauses,
//! frequencies and pending triggers survive restarts.
//!
//! Across processes, a run holds the lease of its (connection, sync) in the store (see
//! [`Runtime::run_sync_until`]): a schedule whose sync another process runs waits for it and
//! keeps its trigger. Runs left `RUNNING` by a process that died are closed once their lease
//! lapsed, at start and then every lease period, ended when they were last known alive.
//!
//! Due schedules go through the task queue in the store ([`TaskBackend`]): the scheduler role
//! enqueues a task per due schedule (one live task per (connection, sync), enforced by the
//! database), and the runner role claims tasks, runs each under its lease and deletes it with the
//! next run time in one transaction. A process with both roles (the default) runs the same code
//! path as a cluster of many processes on one database; a task whose runner died or froze comes
//! back once its lease lapsed, and another runner resumes it from its checkpoint. A runner claims
//! only tasks of syncs its binary has at the deployed run version
//! ([`Manifest::sync_versions`](crate::deploy::Manifest::sync_versions)), so runners of an older
//! and a newer binary share one database during a rolling deploy.
//!
//! [`TaskBackend`]: crate::store::backend::TaskBackend
//!
//! Time arithmetic is checked: a frequency read from the store is range-checked by the one
//! frequency grammar ([`nango_types::frequency::check`]) and one out of range falls back to
//! nango.yaml's, and a run's task frees its schedule even if it panics.

use crate::engine::{RunError, RunReport, Runtime};
use crate::store::{
    ClaimedTask, ConnectionKey, LeaseOwner, NewTask, RunStatus, StoreError, SyncVersion, TaskClaim, TaskReason,
};
use crate::{Connection, SyncRegistration, registered_syncs};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, watch};

/// `(connection key, sync name)`.
pub type ScheduleKey = (ConnectionKey, &'static str);

/// What the scheduler could not do: the store failed, and the error says in which operation.
///
/// ```
/// use nango_runtime::scheduler::SchedulerError;
/// use nango_runtime::store::{ConnectionKey, StoreError};
/// let e = SchedulerError::Command {
///     action: "pause",
///     sync: "issues",
///     connection: ConnectionKey::new(3),
///     source: StoreError::UnknownConnectionKey { key: ConnectionKey::new(3) },
/// };
/// assert_eq!(e.to_string(), "cannot pause sync `issues` of the connection with key 3");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The schedules could not be read.
    #[error("cannot read the schedules")]
    Schedules(#[source] StoreError),
    /// A command on one schedule failed.
    #[error("cannot {action} sync `{sync}` of the connection with key {connection}")]
    Command {
        /// `pause`, `start`, `trigger`, `reset`, `set the frequency of`, `read the state of`.
        action: &'static str,
        /// The sync.
        sync: &'static str,
        /// The connection's key.
        connection: ConnectionKey,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

impl SchedulerError {
    /// The store's error under it.
    pub fn store_error(&self) -> &StoreError {
        match self {
            SchedulerError::Schedules(e) | SchedulerError::Command { source: e, .. } => e,
        }
    }
}

fn command(
    action: &'static str,
    sync: &'static str,
    connection: ConnectionKey,
) -> impl FnOnce(StoreError) -> SchedulerError {
    move |source| SchedulerError::Command { action, sync, connection, source }
}

/// Called after every run with the connection and the report (webhooks, metrics).
pub type AfterRun = Arc<dyn Fn(Connection, &'static SyncRegistration, RunReport) + Send + Sync>;

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Runs at once, all schedules together.
    pub concurrency: usize,
    /// How often due schedules are looked for when nothing wakes the scheduler.
    pub tick: Duration,
    /// Share of the interval added at random to the next run time (spreads load).
    pub jitter: f64,
    /// Longest jitter.
    pub max_jitter: Duration,
    /// How long running runs still get after the shutdown grace cancelled them; those that
    /// have not stopped by then are left to their lease (the process exits anyway).
    pub cancel_wait: Duration,
    /// Enqueue tasks for due schedules (the scheduler role).
    pub enqueue: bool,
    /// Claim and run tasks (the runner role); `concurrency` is this runner's limit.
    pub run: bool,
    /// At most this many runs per provider at once, across every runner on the database.
    pub max_per_provider: Option<u32>,
    /// At most this many runs per connection at once, across every runner on the database.
    pub max_per_connection: Option<u32>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            concurrency: 4,
            tick: Duration::from_secs(1),
            jitter: 0.05,
            max_jitter: Duration::from_secs(30),
            cancel_wait: Duration::from_secs(10),
            enqueue: true,
            run: true,
            max_per_provider: None,
            max_per_connection: None,
        }
    }
}

struct Running {
    started_at: DateTime<Utc>,
    cancel: Arc<Notify>,
    done: Arc<Notify>,
}

#[derive(Default)]
struct Shared {
    running: HashMap<ScheduleKey, Running>,
    /// When runs of dead processes were last closed.
    reconciled_at: Option<Instant>,
}

/// Frees a schedule when its run's task ends, however it ends (a panic included), so a schedule
/// is never left running with nobody running it.
struct RunSlot {
    scheduler: Scheduler,
    key: ScheduleKey,
    done: Arc<Notify>,
}

impl Drop for RunSlot {
    fn drop(&mut self) {
        lock(&self.scheduler.shared).running.remove(&self.key);
        self.done.notify_waiters();
        self.scheduler.wake.notify_one();
    }
}

/// What a schedule is doing, for `/sync/status` and the console.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    /// The connection.
    pub connection: Connection,
    /// The connection's key in the store.
    pub key: ConnectionKey,
    /// The sync.
    pub sync: &'static SyncRegistration,
    /// `RUNNING`, `PAUSED`, `STOPPED` (never ran), `SUCCESS` or `ERROR` (Nango's statuses).
    pub status: &'static str,
    /// Whether it is paused.
    pub paused: bool,
    /// The interval it runs at.
    pub frequency: Duration,
    /// Whether the frequency is the connection's own.
    pub frequency_overridden: bool,
    /// When it runs next (`None` while paused or running).
    pub next_run_at: Option<DateTime<Utc>>,
    /// When the current run started.
    pub running_since: Option<DateTime<Utc>>,
    /// The last finished run.
    pub last_run: Option<crate::store::RunRecord>,
    /// The checkpoint.
    pub checkpoint: Option<serde_json::Value>,
    /// Start of the last successful run.
    pub last_sync_date: Option<DateTime<Utc>>,
}

/// Runs syncs on their schedules; cheap to clone.
pub struct Scheduler {
    runtime: Arc<Runtime>,
    config: SchedulerConfig,
    shared: Arc<Mutex<Shared>>,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    slots: Arc<Semaphore>,
    after_run: Option<AfterRun>,
    /// Set when the shutdown cancels runs: they hand their tasks back instead of finishing them.
    handing_back: Arc<AtomicBool>,
    /// Tasks this process claimed again after their runner's lease lapsed.
    lease_expiries: Arc<AtomicU64>,
    /// The syncs this binary has at their run versions: the only tasks its runner claims.
    runnable: Arc<Vec<SyncVersion>>,
}

impl Clone for Scheduler {
    fn clone(&self) -> Self {
        Scheduler {
            runtime: self.runtime.clone(),
            config: self.config.clone(),
            shared: self.shared.clone(),
            wake: self.wake.clone(),
            stop: self.stop.clone(),
            slots: self.slots.clone(),
            after_run: self.after_run.clone(),
            handing_back: self.handing_back.clone(),
            lease_expiries: self.lease_expiries.clone(),
            runnable: self.runnable.clone(),
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sync registrations of a connection's integration.
pub fn syncs_of(connection: &Connection) -> impl Iterator<Item = &'static SyncRegistration> + '_ {
    registered_syncs().filter(move |s| s.descriptor.integration == connection.provider_config_key)
}

impl Scheduler {
    /// A scheduler over a runtime.
    ///
    /// ```no_run
    /// # async fn demo(runtime: nango_runtime::engine::Runtime) {
    /// use nango_runtime::scheduler::{Scheduler, SchedulerConfig};
    /// let scheduler = Scheduler::new(std::sync::Arc::new(runtime), SchedulerConfig::default());
    /// let running = tokio::spawn(scheduler.clone().run());
    /// // ... later, on SIGTERM:
    /// scheduler.shutdown(std::time::Duration::from_secs(30)).await;
    /// running.await.unwrap();
    /// # }
    /// ```
    pub fn new(runtime: Arc<Runtime>, config: SchedulerConfig) -> Self {
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Scheduler {
            runtime,
            config,
            shared: Arc::default(),
            wake: Arc::new(Notify::new()),
            stop: watch::channel(false).0,
            slots,
            after_run: None,
            handing_back: Arc::default(),
            lease_expiries: Arc::default(),
            runnable: Arc::new(crate::deploy::Manifest::of_binary().sync_versions()),
        }
    }

    /// Calls `f` after every run (from the run's task; keep it quick or spawn).
    pub fn after_run(mut self, f: AfterRun) -> Self {
        self.after_run = Some(f);
        self
    }

    /// The runtime.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The interval a schedule runs at: the connection's own frequency when it is in range
    /// (checked by the frequency grammar: the store may hold anything an older program or a hand
    /// edit put there), else nango.yaml's; with the error of an out-of-range one.
    fn interval(
        sync: &SyncRegistration,
        frequency_secs: Option<u64>,
    ) -> (Duration, Option<nango_types::frequency::FrequencyError>) {
        let own = frequency_secs.map(|secs| nango_types::frequency::check(Duration::from_secs(secs)));
        match own {
            Some(Ok(interval)) => (interval, None),
            other => (sync.descriptor.interval.max(Duration::from_secs(1)), other.and_then(Result::err)),
        }
    }

    fn jitter(&self, interval: Duration) -> Duration {
        let max = interval.mul_f64(self.config.jitter.clamp(0.0, 1.0)).min(self.config.max_jitter);
        // Sub-second clock noise is random enough to spread schedules; no RNG dependency needed.
        let noise = (Utc::now().timestamp_subsec_nanos() % 1000) as f64 / 1000.0;
        max.mul_f64(noise)
    }

    /// `from` plus `delay`, saturating at the latest representable time instead of panicking
    /// (no valid interval comes near it; this is the guard for the rest).
    fn later(from: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
        chrono::Duration::from_std(delay)
            .ok()
            .and_then(|d| from.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Closes the runs of processes that stopped (their lease lapsed): at the first look for
    /// due schedules, then once per lease period.
    async fn reconcile(&self) {
        let period = self.runtime.lease().1;
        {
            let mut shared = lock(&self.shared);
            if shared.reconciled_at.is_some_and(|at| at.elapsed() < period) {
                return;
            }
            shared.reconciled_at = Some(Instant::now());
        }
        match self.runtime.store().close_stale_runs().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(runs = n, "closed runs whose process stopped before they ended"),
            Err(e) => {
                tracing::error!(error = %nango_types::text::error_chain(&e), "scheduler: cannot close the runs of stopped processes")
            }
        }
    }

    /// Enqueues due schedules (scheduler role) and claims tasks (runner role) until
    /// [`Scheduler::shutdown`]. A runner wakes when this process enqueues, when the backend
    /// tells of another process's task (PostgreSQL's `LISTEN`), and every tick.
    pub async fn run(self) {
        let mut stop = self.stop.subscribe();
        let mut wakeups = if self.config.run { self.runtime.store().task_wakeups().await } else { None };
        loop {
            if *stop.borrow() {
                break;
            }
            let mut sleep = self.config.tick;
            if self.config.enqueue {
                match self.enqueue_due().await {
                    Ok(next) => sleep = next.unwrap_or(sleep).min(sleep),
                    Err(e) => {
                        tracing::error!(error = %nango_types::text::error_chain(&e), "scheduler: cannot read schedules")
                    }
                }
            }
            if self.config.run {
                self.claim_tasks().await;
            }
            let woken = async {
                match wakeups.as_mut() {
                    Some(w) => {
                        if w.recv().await.is_none() {
                            std::future::pending::<()>().await
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.wake.notified() => {}
                () = woken => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Enqueues a task for every due schedule; returns how long until the next one is due.
    async fn enqueue_due(&self) -> Result<Option<Duration>, SchedulerError> {
        self.reconcile().await;
        let now = Utc::now();
        let mut soonest: Option<Duration> = None;
        let store = self.runtime.store();
        let connections = store.connections().await.map_err(SchedulerError::Schedules)?;
        for (key, connection) in connections.identities() {
            for sync in syncs_of(connection) {
                let name = sync.descriptor.name;
                let state = store.sync_state(key, name).await.map_err(SchedulerError::Schedules)?;
                let paused = state.paused.unwrap_or(!sync.descriptor.auto_start);
                let due = state.triggered_at.is_some() || (!paused && state.next_run_at.is_none_or(|t| t <= now));
                if !due {
                    if let (false, Some(t)) = (paused, state.next_run_at) {
                        let wait = t.signed_duration_since(now).to_std().unwrap_or_default();
                        soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
                    }
                    continue;
                }
                let task = NewTask {
                    connection: key,
                    sync: name.to_owned(),
                    provider: connection.provider.clone(),
                    reason: if state.triggered_at.is_some() { TaskReason::Trigger } else { TaskReason::Schedule },
                    seen_next_run: state.next_run_at,
                };
                // `false`: it has a live task already (or a run just ended): harmless.
                store.enqueue_task(&task).await.map_err(command("enqueue", name, key))?;
            }
        }
        Ok(soonest)
    }

    /// Claims tasks while this runner has free slots, and starts each.
    async fn claim_tasks(&self) {
        let store = self.runtime.store();
        let (owner, ttl) = self.runtime.lease();
        loop {
            if *self.stop.borrow() {
                return;
            }
            let Ok(permit) = self.slots.clone().try_acquire_owned() else { return };
            let now = Utc::now();
            let claim = TaskClaim {
                owner: owner.token().to_owned(),
                label: owner.label().to_owned(),
                lease_until: now + chrono::Duration::from_std(ttl).unwrap_or_default(),
                max_per_provider: self.config.max_per_provider,
                max_per_connection: self.config.max_per_connection,
                syncs: self.runnable.to_vec(),
            };
            let task = match store.claim_task(&claim).await {
                Ok(Some(task)) => task,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %nango_types::text::error_chain(&e), "runner: cannot claim a task");
                    return;
                }
            };
            if task.reclaimed {
                self.lease_expiries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(task = task.id, sync = %task.sync, connection = %task.connection, attempt = task.attempts, "runner: took over a task whose runner's lease lapsed");
            }
            if let Err(e) = self.start_task(task.clone(), permit).await {
                tracing::error!(task = task.id, error = %nango_types::text::error_chain(&e), "runner: cannot start a task; handing it back");
                let later = Utc::now() + chrono::Duration::from_std(ttl / 3).unwrap_or_default();
                let _ = store.release_task(task.id, owner, later).await;
            }
        }
    }

    /// Starts a claimed task: its run in a task of its own, unless the schedule is paused (and
    /// not triggered), its connection is gone or this program has no such sync: then the task
    /// is dropped.
    async fn start_task(&self, task: ClaimedTask, permit: tokio::sync::OwnedSemaphorePermit) -> Result<(), StoreError> {
        let store = self.runtime.store();
        let owner = self.runtime.lease().0;
        let listed = store.listed_connection_by_key(task.connection).await?;
        let sync = listed.as_ref().and_then(|l| syncs_of(l.connection()).find(|s| s.descriptor.name == task.sync));
        let (Some(listed), Some(sync)) = (listed, sync) else {
            tracing::warn!(task = task.id, sync = %task.sync, "runner: the task's connection or sync is gone; dropping it");
            store.finish_task(task.id, owner, None).await?;
            return Ok(());
        };
        let state = store.sync_state(task.connection, sync.descriptor.name).await?;
        if state.paused.unwrap_or(!sync.descriptor.auto_start) && state.triggered_at.is_none() {
            tracing::debug!(task = task.id, sync = %task.sync, "runner: the schedule was paused since; dropping its task");
            store.finish_task(task.id, owner, None).await?;
            return Ok(());
        }
        self.spawn_run(listed.connection().clone(), task, sync, permit);
        Ok(())
    }

    /// Runs a claimed task in a task of its own: the run (stopped when this process or an api
    /// node asks), then the task deleted with the next run time, or handed back.
    fn spawn_run(
        &self,
        connection: Connection,
        task: ClaimedTask,
        sync: &'static SyncRegistration,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let name = sync.descriptor.name;
        let key = task.connection;
        let cancel = Arc::new(Notify::new());
        let done = Arc::new(Notify::new());
        lock(&self.shared)
            .running
            .insert((key, name), Running { started_at: Utc::now(), cancel: cancel.clone(), done: done.clone() });
        let slot = RunSlot { scheduler: self.clone(), key: (key, name), done };
        tokio::spawn(async move {
            let _permit = permit;
            let this = slot.scheduler.clone();
            let _slot = slot;
            let store = this.runtime.store().clone();
            let (owner, ttl) = this.runtime.lease();
            let owner = owner.clone();
            let cancelled = cancel.clone();
            let task_id = task.id;
            // The claim took the lease; it stays renewed from here to the task's end, not only
            // while the run itself beats: the bookkeeping around the run (loading the connection
            // before it, the next run time and the task's end after it) must not let it lapse,
            // or another runner would run the sync again right after this one.
            let _lease =
                crate::engine::AbortOnDrop(tokio::spawn(keep_lease(store.clone(), key, name, owner.clone(), ttl)));
            let poll = (ttl / 6).clamp(Duration::from_millis(100), Duration::from_secs(2));
            let stop_asked = async move {
                let remote = async {
                    loop {
                        tokio::time::sleep(poll).await;
                        if store.task_cancel_requested(task_id).await.unwrap_or(false) {
                            return;
                        }
                    }
                };
                tokio::select! {
                    () = cancelled.notified() => {}
                    () = remote => {}
                }
            };
            let report = this
                .runtime
                .run_task(sync, &connection.provider_config_key, &connection.connection_id, stop_asked)
                .await;
            let store = this.runtime.store();
            if let Err(RunError::Busy { holder, .. }) = &report {
                // This process runs it outside the queue (an earlier run still ending): the
                // task waits a little.
                let wait = holder.expires_at.signed_duration_since(Utc::now()).to_std().unwrap_or_default();
                let wait = wait.min(ttl / 3).max(Duration::from_millis(100));
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                if let Err(e) = store.release_task(task.id, &owner, at).await {
                    tracing::error!(error = %nango_types::text::error_chain(&e), "runner: cannot hand a task back");
                }
                tracing::debug!(sync = name, connection = %connection.connection_id, holder = %holder.label, "sync runs in another process");
                return;
            }
            if let Some(delay) = retry_after(&report, &task, ttl) {
                // The store failed under the run (the database restarted, the pool ran dry): the
                // failure is in the run's history, and the task goes back to the queue to run
                // again soon, resuming from the last checkpoint committed, instead of waiting
                // for the next interval. If even this fails, the task returns once its lease
                // lapsed.
                let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                match store.release_task(task.id, &owner, at).await {
                    // Not held any more: another runner took it over after the lease lapsed.
                    Ok(false) => {}
                    Ok(true) => tracing::warn!(
                        sync = name,
                        connection = %connection.connection_id,
                        attempt = task.attempts,
                        ?delay,
                        "runner: the store failed during the run; it runs again"
                    ),
                    Err(e) => {
                        tracing::error!(error = %nango_types::text::error_chain(&e), "runner: cannot hand a task back; it returns once its lease lapsed")
                    }
                }
            } else if this.handing_back.load(Ordering::SeqCst) {
                // Stopped by the shutdown: another runner resumes it from its checkpoint.
                match store.release_task(task.id, &owner, Utc::now()).await {
                    Ok(_) => {
                        tracing::info!(sync = name, connection = %connection.connection_id, "shutdown: task handed back to the queue")
                    }
                    Err(e) => {
                        tracing::error!(error = %nango_types::text::error_chain(&e), "shutdown: cannot hand a task back; it returns once its lease lapsed")
                    }
                }
            } else {
                let next = this.next_run_time(key, &connection, sync).await;
                match store.finish_task(task.id, &owner, Some((task.next_run_at, next))).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(
                        sync = name,
                        task = task.id,
                        "runner: the task was taken over after this runner's lease lapsed"
                    ),
                    Err(e) => {
                        tracing::error!(sync = name, error = %nango_types::text::error_chain(&e), "runner: cannot finish a task; it returns once its lease lapsed")
                    }
                }
            }
            match report {
                Ok(report) => {
                    if let Some(after) = &this.after_run {
                        after(connection, sync, report);
                    }
                }
                Err(e) => {
                    let error = nango_types::text::error_chain(&e);
                    tracing::error!(sync = name, connection = %connection.connection_id, %error, "run could not start")
                }
            }
        });
    }

    /// When a schedule runs next after a run that ends now: one interval (the connection's
    /// frequency, else nango.yaml's) plus jitter.
    async fn next_run_time(
        &self,
        key: ConnectionKey,
        connection: &Connection,
        sync: &'static SyncRegistration,
    ) -> DateTime<Utc> {
        let name = sync.descriptor.name;
        let frequency = match self.runtime.store().sync_state(key, name).await {
            Ok(state) => state.frequency_secs,
            Err(_) => None,
        };
        let (interval, out_of_range) = Self::interval(sync, frequency);
        if let Some(e) = out_of_range {
            tracing::warn!(
                sync = name,
                connection = %connection.connection_id,
                "the connection's stored frequency is out of range ({e}); nango.yaml's `runs` applies until it is set again"
            );
        }
        Self::later(Utc::now(), interval.saturating_add(self.jitter(interval)))
    }

    /// Tasks this process claimed again after their runner's lease lapsed.
    pub fn lease_expiries(&self) -> u64 {
        self.lease_expiries.load(Ordering::Relaxed)
    }

    /// The settings.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Runs a sync now (also when paused); with `reset`, first stops a running run and forgets
    /// `last_sync_date` and the checkpoint (a full resync), and with `empty_cache` also deletes
    /// the cached records.
    pub async fn trigger(
        &self,
        key: ConnectionKey,
        sync: &'static SyncRegistration,
        reset: bool,
        empty_cache: bool,
    ) -> Result<(), SchedulerError> {
        let name = sync.descriptor.name;
        let store = self.runtime.store();
        if reset {
            self.cancel_and_wait(key, name).await;
            self.cancel_elsewhere_and_wait(key, name).await.map_err(command("reset", name, key))?;
            store
                .reset_sync(key, name, sync.descriptor.outputs, empty_cache)
                .await
                .map_err(command("reset", name, key))?;
        }
        // Kept in the store until a run takes it, so a restart does not lose it; and a task at
        // once, so any runner starts it without waiting for a scheduler's tick.
        store.set_triggered(key, name, Some(Utc::now())).await.map_err(command("trigger", name, key))?;
        if let Some(provider) = store.provider_of(key).await.map_err(command("trigger", name, key))? {
            let task = NewTask {
                connection: key,
                sync: name.to_owned(),
                provider,
                reason: TaskReason::Trigger,
                seen_next_run: None,
            };
            store.enqueue_task(&task).await.map_err(command("trigger", name, key))?;
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Asks the runner of another process that runs the sync to stop, and waits until it did
    /// (its task is gone or handed back), at most two leases: a runner that died stops beating
    /// and its run is closed by the next one anyway.
    async fn cancel_elsewhere_and_wait(&self, key: ConnectionKey, name: &'static str) -> Result<(), StoreError> {
        let store = self.runtime.store();
        if !store.request_task_cancel(key, name).await? {
            return Ok(());
        }
        let deadline = Instant::now() + self.runtime.lease().1 * 2 + self.config.cancel_wait;
        while Instant::now() < deadline {
            if !store.task_running(key, name).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!(sync = name, connection = %key, "reset: the runner did not stop the run in time; resetting anyway");
        Ok(())
    }

    async fn cancel_and_wait(&self, key: ConnectionKey, name: &'static str) {
        let handles = lock(&self.shared).running.get(&(key, name)).map(|r| (r.cancel.clone(), r.done.clone()));
        if let Some((cancel, done)) = handles {
            let finished = done.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if !lock(&self.shared).running.contains_key(&(key, name)) {
                return; // it ended before we could ask
            }
            // A stored permit: the run sees it even if it has not polled its cancel future yet.
            cancel.notify_one();
            finished.await;
        }
    }

    /// Pauses a schedule (a running run finishes).
    pub async fn pause(&self, key: ConnectionKey, sync: &'static SyncRegistration) -> Result<(), SchedulerError> {
        let name = sync.descriptor.name;
        let store = self.runtime.store();
        store.set_paused(key, name, Some(true)).await.map_err(command("pause", name, key))?;
        store.set_triggered(key, name, None).await.map_err(command("pause", name, key))?;
        self.wake.notify_one();
        Ok(())
    }

    /// Starts (resumes) a schedule: it runs at once if its time has come.
    pub async fn start(&self, key: ConnectionKey, sync: &'static SyncRegistration) -> Result<(), SchedulerError> {
        let name = sync.descriptor.name;
        self.runtime.store().set_paused(key, name, Some(false)).await.map_err(command("start", name, key))?;
        self.wake.notify_one();
        Ok(())
    }

    /// Sets (or with `None` removes) a connection's own frequency; the next run moves to one new
    /// interval after the last one.
    pub async fn set_frequency(
        &self,
        key: ConnectionKey,
        sync: &'static SyncRegistration,
        frequency: Option<Duration>,
    ) -> Result<(), SchedulerError> {
        let name = sync.descriptor.name;
        let failed = || command("set the frequency of", name, key);
        let store = self.runtime.store();
        store.set_frequency(key, name, frequency.map(|f| f.as_secs().max(1))).await.map_err(failed())?;
        let last_start = store.runs(Some(key), Some(name), 1).await.map_err(failed())?.first().map(|r| r.started_at);
        let (interval, _) = Self::interval(sync, frequency.map(|f| f.as_secs().max(1)));
        let next = last_start.map(|t| Self::later(t, interval));
        store.set_next_run(key, name, next).await.map_err(failed())?;
        self.wake.notify_one();
        Ok(())
    }

    /// Looks for due schedules now (after a new connection, say).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether a run of the schedule is going on.
    pub fn is_running(&self, key: ConnectionKey, sync: &str) -> bool {
        lock(&self.shared).running.keys().any(|(k, s)| *k == key && *s == sync)
    }

    /// The state of one schedule (of a connection as listed: its credentials are not needed).
    pub async fn view(
        &self,
        key: ConnectionKey,
        connection: &Connection,
        sync: &'static SyncRegistration,
    ) -> Result<ScheduleView, SchedulerError> {
        let name = sync.descriptor.name;
        let failed = || command("read the state of", name, key);
        let state = self.runtime.store().sync_state(key, name).await.map_err(failed())?;
        let recent = self.runtime.store().runs(Some(key), Some(name), 2).await.map_err(failed())?;
        let last_run = recent.iter().find(|r| r.status != RunStatus::Running).cloned();
        // Running here, or in another process (its run is the newest and still open).
        let running_since = lock(&self.shared)
            .running
            .get(&(key, name))
            .map(|r| r.started_at)
            .or_else(|| recent.first().filter(|r| r.status == RunStatus::Running).map(|r| r.started_at));
        let paused = state.paused.unwrap_or(!sync.descriptor.auto_start);
        let status = if running_since.is_some() {
            "RUNNING"
        } else if paused {
            "PAUSED"
        } else {
            match last_run.as_ref().map(|r| r.status) {
                None => "STOPPED",
                Some(RunStatus::Success) => "SUCCESS",
                Some(_) => "ERROR",
            }
        };
        let (frequency, out_of_range) = Self::interval(sync, state.frequency_secs);
        Ok(ScheduleView {
            connection: connection.clone(),
            key,
            sync,
            status,
            paused,
            frequency,
            frequency_overridden: state.frequency_secs.is_some() && out_of_range.is_none(),
            next_run_at: if paused || running_since.is_some() {
                None
            } else {
                Some(state.next_run_at.unwrap_or_else(Utc::now))
            },
            running_since,
            last_run,
            checkpoint: state.checkpoint,
            last_sync_date: state.last_sync_date,
        })
    }

    /// Stops looking for due schedules, lets running runs finish for up to `grace`, then
    /// cancels the rest (their records so far are kept; they are recorded as cancelled) and
    /// gives them [`SchedulerConfig::cancel_wait`] more to stop; a run that still has not is
    /// left behind, named in the log (its lease lapses and the next start closes it).
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(true);
        self.wake.notify_one();
        if self.wait_all(grace).await {
            return;
        }
        self.handing_back.store(true, Ordering::SeqCst);
        let all: Vec<(ScheduleKey, Arc<Notify>)> =
            lock(&self.shared).running.iter().map(|(k, r)| (*k, r.cancel.clone())).collect();
        for ((key, name), cancel) in all {
            tracing::warn!(sync = name, connection = %key, "shutdown: cancelling a run");
            cancel.notify_one();
        }
        if !self.wait_all(self.config.cancel_wait).await {
            let left: Vec<String> =
                lock(&self.shared).running.keys().map(|(key, name)| format!("`{name}` of connection {key}")).collect();
            tracing::error!(runs = %left.join(", "), "shutdown: runs did not stop after they were cancelled; leaving them");
        }
    }

    /// Waits until no run is going on, at most `limit`; whether none is.
    async fn wait_all(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if lock(&self.shared).running.is_empty() {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(20))).await;
        }
    }
}

/// Renews a claimed task's lease every third of its time to live until dropped (the task's
/// end), or until the lease turns out lost (another runner took the task over).
async fn keep_lease(
    store: crate::store::Store,
    key: ConnectionKey,
    sync: &'static str,
    owner: LeaseOwner,
    ttl: Duration,
) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        match store.renew_lease(key, sync, &owner, None, ttl).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(sync, error = %nango_types::text::error_chain(&e), "runner: cannot renew a task's lease; trying again")
            }
        }
    }
}

/// How long a task waits before it runs again when the store failed under its run (its report
/// could not be written, or the run failed with the store failing): a third of the lease per
/// attempt so far, at most a minute, so a database that stays away is not hammered. `None` for
/// a run that ended on its own terms.
fn retry_after(report: &Result<RunReport, RunError>, task: &ClaimedTask, ttl: Duration) -> Option<Duration> {
    let store_failed = match report {
        Err(RunError::Store(_)) => true,
        Ok(report) => report.status == RunStatus::Failed && report.store_failed,
        Err(_) => false,
    };
    store_failed.then(|| (ttl / 3).saturating_mul(task.attempts.max(1)).min(Duration::from_secs(60)))
}
