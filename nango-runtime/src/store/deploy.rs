//! What the store keeps of deployments: the manifest of the binary that last applied one, the
//! history, and the webhooks that tell consumers of removed models; and what one deployment
//! writes, in one transaction ([`DeploymentWrite`], applied by
//! [`DeployBackend::apply_deployment`](super::backend::DeployBackend::apply_deployment)).
//!
//! The plan itself (what changed, what it touches, what is destructive) is decided outside the
//! store, in [`crate::deploy`]; the backend executes the steps it is handed and checks, in the
//! transaction, that the deployed state is still the one the plan was computed against.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One deployment of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Its number (never reused).
    pub id: i64,
    /// When it was applied.
    pub deployed_at: DateTime<Utc>,
    /// The fingerprint of the manifest it deployed (the deployed version).
    pub fingerprint: String,
    /// The fingerprint it replaced (`None`: the first deployment).
    pub previous: Option<String>,
    /// The program that applied it (its file name, process id and host).
    pub applied_by: String,
    /// The manifest, as JSON text ([`crate::deploy::Manifest`]).
    pub manifest: String,
    /// What changed, as JSON (the plan's changes).
    pub changes: Value,
}

/// One step of a deployment; each applies to the connections of `integration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployStep {
    /// A new sync: a schedule for each connection (its pause follows `auto_start`).
    ScheduleSync {
        /// The integration.
        integration: String,
        /// The sync.
        sync: String,
    },
    /// A removed sync: its schedules, leases, tasks, pending triggers and webhook bookkeeping go
    /// (its runs stay in the history), and a run of it going on is ended as failed, so the
    /// runner running it (an older binary's) has its next write refused.
    UnscheduleSync {
        /// The integration.
        integration: String,
        /// The sync.
        sync: String,
    },
    /// Records of a model the integration no longer stores: deleted.
    DeleteRecords {
        /// The integration.
        integration: String,
        /// The model.
        model: String,
    },
    /// A new `runs`: schedules without their own frequency (set through the API) run next one
    /// new interval after their last run's start (at once when they never ran).
    Reschedule {
        /// The integration.
        integration: String,
        /// The sync.
        sync: String,
        /// The new interval.
        interval_secs: u64,
    },
    /// A full resync: `last_sync_date`, checkpoint and deletion generation forgotten, and a
    /// trigger left for the next run.
    Resync {
        /// The integration.
        integration: String,
        /// The sync.
        sync: String,
    },
    /// A field no longer in the model: taken out of its stored records.
    DropField {
        /// The integration.
        integration: String,
        /// The model.
        model: String,
        /// The field.
        field: String,
    },
}

/// Stored records of a model checked against its new schema, in the deployment's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCheck {
    /// The model.
    pub model: String,
    /// Delete the records that fail (the deployment was allowed to be destructive); otherwise
    /// one that fails aborts it with
    /// [`StoreError::IncompatibleRecords`](super::StoreError::IncompatibleRecords).
    pub delete_failing: bool,
}

/// Whether a stored record (`model`, its JSON) matches the new schema of its model.
pub type RecordFilter<'a> = &'a (dyn Fn(&str, &Value) -> bool + Send + Sync);

/// A stored record as a scan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedRecord {
    /// The integration of its connection.
    pub integration: String,
    /// Its connection's id.
    pub connection_id: String,
    /// The model.
    pub model: String,
    /// The record's id.
    pub id: String,
    /// Its JSON.
    pub json: Value,
}

/// Called with each live record of a scan.
pub type RecordVisitor<'a> = &'a (dyn Fn(&ScannedRecord) + Send + Sync);

/// A webhook telling consumers that a deployment removed a model, queued in the deployment's
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployWebhook {
    /// The model.
    pub model: String,
    /// The serialised payload.
    pub body: Vec<u8>,
}

/// A queued [`DeployWebhook`] not delivered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDeployWebhook {
    /// Its number in the queue.
    pub id: i64,
    /// The deployment that queued it.
    pub deployment: i64,
    /// The model.
    pub model: String,
    /// The payload.
    pub body: Vec<u8>,
}

/// What one deployment writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentWrite {
    /// The fingerprint of the deployed state the plan was computed against (`None`: nothing was
    /// deployed). Another one found in the transaction aborts it with
    /// [`StoreError::DeploymentChanged`](super::StoreError::DeploymentChanged).
    pub expected: Option<String>,
    /// The fingerprint of the new manifest.
    pub fingerprint: String,
    /// The new manifest, as JSON text.
    pub manifest: String,
    /// What changed, as JSON.
    pub changes: Value,
    /// Who applies it.
    pub applied_by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The steps, in order.
    pub steps: Vec<DeployStep>,
    /// Record checks, run before the steps.
    pub checks: Vec<RecordCheck>,
    /// Webhooks to queue.
    pub webhooks: Vec<DeployWebhook>,
    /// The run version of each sync of the new manifest: they replace the deployed ones, which
    /// decide which runner may claim a task of each sync (see
    /// [`TaskClaim::syncs`](super::TaskClaim::syncs)).
    pub sync_versions: Vec<super::SyncVersion>,
}

/// How [`DeployBackend::apply_deployment`](super::backend::DeployBackend::apply_deployment)
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployOutcome {
    /// Applied as deployment `id`.
    Applied(i64),
    /// The deployed state already was the target (another process applied the same manifest
    /// first): nothing was written.
    AlreadyDeployed(i64),
}
