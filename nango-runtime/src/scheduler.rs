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
//! Time arithmetic is checked: a frequency read from the store is range-checked by the one
//! frequency grammar ([`nango_types::frequency::check`]) and one out of range falls back to
//! nango.yaml's, and a run's task frees its schedule even if it panics.

use crate::engine::{RunError, RunReport, Runtime};
use crate::store::{ConnectionKey, RunStatus, StoreError};
use crate::{Connection, SyncRegistration, registered_syncs};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
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
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            concurrency: 4,
            tick: Duration::from_secs(1),
            jitter: 0.05,
            max_jitter: Duration::from_secs(30),
            cancel_wait: Duration::from_secs(10),
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
    /// Schedules whose sync another process runs: not asked again before this instant.
    busy_until: HashMap<ScheduleKey, Instant>,
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

    /// Looks for due schedules until [`Scheduler::shutdown`]; then waits for running runs.
    pub async fn run(self) {
        let mut stop = self.stop.subscribe();
        loop {
            if *stop.borrow() {
                break;
            }
            let sleep = match self.start_due().await {
                Ok(next) => next.unwrap_or(self.config.tick).min(self.config.tick),
                Err(e) => {
                    tracing::error!(error = %nango_types::text::error_chain(&e), "scheduler: cannot read schedules");
                    self.config.tick
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Starts every due schedule; returns how long until the next one is due.
    async fn start_due(&self) -> Result<Option<Duration>, SchedulerError> {
        self.reconcile().await;
        let now = Utc::now();
        let mut soonest: Option<Duration> = None;
        let connections = self.runtime.store().connections().await.map_err(SchedulerError::Schedules)?;
        for (key, connection) in connections.identities() {
            for sync in syncs_of(connection) {
                let name = sync.descriptor.name;
                let (running, busy) = {
                    let mut shared = lock(&self.shared);
                    let busy = match shared.busy_until.get(&(key, name)) {
                        Some(until) if *until > Instant::now() => true,
                        Some(_) => {
                            shared.busy_until.remove(&(key, name));
                            false
                        }
                        None => false,
                    };
                    (shared.running.contains_key(&(key, name)), busy)
                };
                if running || busy {
                    continue;
                }
                let state = self.runtime.store().sync_state(key, name).await.map_err(SchedulerError::Schedules)?;
                let paused = state.paused.unwrap_or(!sync.descriptor.auto_start);
                let due = state.triggered_at.is_some() || (!paused && state.next_run_at.is_none_or(|t| t <= now));
                if !due {
                    if let (false, Some(t)) = (paused, state.next_run_at) {
                        let wait = t.signed_duration_since(now).to_std().unwrap_or_default();
                        soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
                    }
                    continue;
                }
                let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                    // Every slot is busy: look again when a run ends.
                    return Ok(Some(self.config.tick));
                };
                self.spawn_run(connection.clone(), key, sync, state.next_run_at, permit);
            }
        }
        Ok(soonest)
    }

    /// Runs a due schedule in a task of its own; `seen` is its next run time as read when it
    /// was found due.
    fn spawn_run(
        &self,
        connection: Connection,
        key: ConnectionKey,
        sync: &'static SyncRegistration,
        seen: Option<DateTime<Utc>>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let name = sync.descriptor.name;
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
            let cancelled = cancel.clone();
            let report = this
                .runtime
                .run_sync_until(sync, &connection.provider_config_key, &connection.connection_id, async move {
                    cancelled.notified().await
                })
                .await;
            if let Err(RunError::Busy { holder, .. }) = &report {
                // Another process runs it: ask again when its lease could have lapsed, or sooner.
                // The schedule and a pending trigger stay as they are.
                let (_, ttl) = this.runtime.lease();
                let wait = holder.expires_at.signed_duration_since(Utc::now()).to_std().unwrap_or_default();
                let until = Instant::now() + wait.min(ttl / 3).max(Duration::from_millis(100));
                lock(&this.shared).busy_until.insert((key, name), until);
                tracing::debug!(sync = name, connection = %connection.connection_id, holder = %holder.label, "sync runs in another process");
                return;
            }
            this.schedule_after_run(key, &connection, sync, seen).await;
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

    /// The bookkeeping after a run: the next run one interval (the connection's frequency, else
    /// nango.yaml's) plus jitter after now, unless the next run time changed while the run went
    /// on (`seen` is what it was when the run was found due): a frequency set, a schedule moved
    /// by a command or by another process is what was decided last, and stays.
    pub(crate) async fn schedule_after_run(
        &self,
        key: ConnectionKey,
        connection: &Connection,
        sync: &'static SyncRegistration,
        seen: Option<DateTime<Utc>>,
    ) {
        let name = sync.descriptor.name;
        let store = self.runtime.store();
        let frequency = match store.sync_state(key, name).await {
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
        let next = Self::later(Utc::now(), interval.saturating_add(self.jitter(interval)));
        match store.set_next_run_if(key, name, seen, Some(next)).await {
            Ok(true) => {}
            Ok(false) => tracing::debug!(sync = name, "the next run time changed during the run; kept"),
            Err(e) => {
                tracing::error!(sync = name, error = %nango_types::text::error_chain(&e), "scheduler: cannot store the next run time")
            }
        }
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
        if reset {
            self.cancel_and_wait(key, name).await;
            self.runtime
                .store()
                .reset_sync(key, name, sync.descriptor.outputs, empty_cache)
                .await
                .map_err(command("reset", name, key))?;
        }
        // Kept in the store until a run takes it, so a restart does not lose it.
        self.runtime.store().set_triggered(key, name, Some(Utc::now())).await.map_err(command("trigger", name, key))?;
        lock(&self.shared).busy_until.remove(&(key, name));
        self.wake.notify_one();
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
