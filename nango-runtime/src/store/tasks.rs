//! The task queue's types: what a scheduler enqueues, what a runner claims, and what
//! `/health` and `/metrics` report about the queue and the cluster.
//!
//! The queue lives in the store (table `sync_tasks`), so every process on one database shares
//! it; see [`TaskBackend`](super::backend::TaskBackend) for the rules a backend keeps.

use super::ConnectionKey;
use chrono::{DateTime, Utc};

/// Why a task was enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskReason {
    /// The schedule's next run time came.
    Schedule,
    /// A trigger (API, console, CLI).
    Trigger,
}

impl TaskReason {
    /// `schedule` or `trigger`, as stored.
    ///
    /// ```
    /// use nango_runtime::store::TaskReason;
    /// assert_eq!(TaskReason::Trigger.as_str(), "trigger");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TaskReason::Schedule => "schedule",
            TaskReason::Trigger => "trigger",
        }
    }

    /// The reason stored as `s` (`schedule` for anything but `trigger`).
    ///
    /// ```
    /// use nango_runtime::store::TaskReason;
    /// assert_eq!(TaskReason::from_stored("trigger"), TaskReason::Trigger);
    /// ```
    pub fn from_stored(s: &str) -> TaskReason {
        if s == "trigger" { TaskReason::Trigger } else { TaskReason::Schedule }
    }
}

/// A task to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// The connection.
    pub connection: ConnectionKey,
    /// The sync.
    pub sync: String,
    /// The connection's provider (for the per-provider limit).
    pub provider: String,
    /// Why.
    pub reason: TaskReason,
    /// For [`TaskReason::Schedule`]: the next run time the scheduler saw when it found the
    /// schedule due. The task is enqueued only if the stored one is still that (or a trigger is
    /// pending): a run that ended meanwhile moved it, and must not be followed by a second.
    pub seen_next_run: Option<DateTime<Utc>>,
}

/// A sync at the run version a binary has of it (see
/// [`Manifest::sync_versions`](crate::deploy::Manifest::sync_versions)): what a runner offers to
/// run, and what a deployment records as deployed.
///
/// ```
/// use nango_runtime::store::SyncVersion;
/// let v = SyncVersion::new("github", "github-tickets", "3f2a");
/// assert_eq!((v.integration.as_str(), v.sync.as_str(), v.version.as_str()), ("github", "github-tickets", "3f2a"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SyncVersion {
    /// The integration (provider config key).
    pub integration: String,
    /// The sync.
    pub sync: String,
    /// Its run version.
    pub version: String,
}

impl SyncVersion {
    /// A sync at a version.
    pub fn new(integration: &str, sync: &str, version: &str) -> SyncVersion {
        SyncVersion { integration: integration.to_owned(), sync: sync.to_owned(), version: version.to_owned() }
    }
}

/// What a runner asks of [`TaskBackend::claim_task`](super::backend::TaskBackend::claim_task).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskClaim {
    /// The runner's lease token ([`LeaseOwner::token`](super::LeaseOwner::token)).
    pub owner: String,
    /// The runner's label, for messages.
    pub label: String,
    /// The claim takes the task's (connection, sync) lease for the runner until then, in the
    /// claim's transaction; the run's heartbeat renews it, and the task's end gives it up.
    pub lease_until: DateTime<Utc>,
    /// At most this many running tasks per provider across the cluster.
    pub max_per_provider: Option<u32>,
    /// At most this many running tasks per connection across the cluster.
    pub max_per_connection: Option<u32>,
    /// The syncs the runner's binary has, each at its run version. Only a task of one of them is
    /// claimed, and once a deployment recorded the versions it deploys, only at the deployed
    /// version: in a rolling deploy a runner never runs a sync its binary does not have, nor one
    /// the deployment removed or changed.
    pub syncs: Vec<SyncVersion>,
}

/// A task a runner claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedTask {
    /// Its id.
    pub id: i64,
    /// The connection.
    pub connection: ConnectionKey,
    /// The sync.
    pub sync: String,
    /// Why it was enqueued.
    pub reason: TaskReason,
    /// How many times it was claimed (1 the first time).
    pub attempts: u32,
    /// It was `running` under another runner whose lease lapsed: a lease expiry.
    pub reclaimed: bool,
    /// The schedule's next run time when it was claimed (the run's bookkeeping moves it only
    /// if it is still that).
    pub next_run_at: Option<DateTime<Utc>>,
}

/// The queue and the cluster at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Tasks waiting for a runner.
    pub queued: u64,
    /// Tasks a runner holds with a live lease.
    pub running: u64,
    /// Tasks whose runner's lease lapsed, waiting to be claimed again.
    pub lapsed: u64,
    /// Processes of the runner role that beat recently.
    pub runners: u64,
    /// Processes of any role that beat recently.
    pub nodes: u64,
}

/// A process's beat in the cluster table.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBeat {
    /// Its lease token.
    pub owner: String,
    /// Its label.
    pub label: String,
    /// Its roles, comma separated (`api,runner`).
    pub roles: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// The checkpoint a run's batch commits together with its records (see
/// [`RecordBackend::apply`](super::backend::RecordBackend::apply)): both are written or neither,
/// so a run resumed from a checkpoint never misses a record handed over before it.
///
/// ```
/// use nango_runtime::store::RunCheckpoint;
/// let checkpoint = serde_json::json!({"page": 3});
/// let with_batch = RunCheckpoint { sync: "issues", checkpoint: Some(&checkpoint) };
/// assert_eq!(with_batch.checkpoint.unwrap()["page"], 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunCheckpoint<'a> {
    /// The sync whose checkpoint it is (the run's connection is in its [`RunIds`](super::RunIds)).
    pub sync: &'a str,
    /// The checkpoint to keep; `None` clears it.
    pub checkpoint: Option<&'a serde_json::Value>,
}
