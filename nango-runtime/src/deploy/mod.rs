//! Deployments: what a binary brings compared with what the store says is deployed, and applying
//! the difference safely.
//!
//! In nango-rs the user's binary is the deployment: its [`Manifest`] (syncs, actions, on-event
//! scripts, the schemas of the models its syncs store) is compared with the manifest of the
//! binary that last applied one, which the store keeps with a history. The [`Plan`] lists what
//! changed with the connections and records each change touches; [`Deployer::apply`] writes it
//! in one transaction that also checks that the deployed state is still the one the plan was
//! computed against (its fingerprint), so two binaries applying different plans at once cannot
//! both succeed, and the same plan applied twice (two replicas starting) is applied once.
//!
//! Applying means: a new sync gets a schedule for every connection of its integration (which
//! starts on its own when `auto_start`), a removed sync loses its schedules, records of models an
//! integration no longer stores are deleted and consumers told by a [`ModelRemovedWebhook`]
//! (queued in the same transaction, delivered by `serve`), a new frequency moves schedules that
//! have no frequency of their own (one set through the API stays), a removed field is taken out
//! of stored records, and a changed `version` is recorded (with a full resync when asked).
//!
//! Destructive changes (see [`Change::is_destructive`]) are refused unless allowed; stored
//! records that would no longer match their model's new schema are refused too (allowed, they
//! are deleted and the syncs that store the model resync in full).
//!
//! [`ModelRemovedWebhook`]: crate::webhooks::ModelRemovedWebhook

mod manifest;
mod plan;
mod render;
mod schema_diff;

pub use manifest::{DeployedAction, DeployedOnEvent, DeployedSync, Manifest};
pub use plan::{Change, Inventory, Setting, changes};
pub use render::{change_line, render_plan};
pub use schema_diff::{FieldChanges, field_changes, matches};

use crate::store::deploy::{DeployOutcome, DeployStep, DeployWebhook, Deployment, DeploymentWrite, RecordCheck};
use crate::store::{Store, StoreError};
use crate::webhooks::{ModelRemovedWebhook, to_stable_json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The deployment a plan was computed against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployedVersion {
    /// Its number in the history.
    pub id: i64,
    /// The fingerprint of its manifest.
    pub fingerprint: String,
    /// When it was applied.
    pub deployed_at: DateTime<Utc>,
    /// Who applied it.
    pub applied_by: String,
}

/// What applying a manifest would change.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// What is deployed now (`None`: nothing yet).
    pub deployed: Option<DeployedVersion>,
    /// The fingerprint of the manifest to deploy.
    pub target: String,
    /// The changes.
    pub changes: Vec<Change>,
    /// The manifest to deploy.
    #[serde(skip)]
    pub manifest: Manifest,
    /// The deployed manifest.
    #[serde(skip)]
    pub previous: Option<Manifest>,
}

impl Plan {
    /// Whether the store already has this manifest deployed.
    pub fn is_up_to_date(&self) -> bool {
        self.deployed.as_ref().is_some_and(|d| d.fingerprint == self.target)
    }

    /// The destructive changes.
    pub fn destructive(&self) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.is_destructive()).collect()
    }

    /// The plan as JSON (`--format json`): `deployed`, `target`, `up_to_date`, `destructive` (a
    /// count) and `changes`, each with `destructive`.
    pub fn to_json(&self) -> serde_json::Value {
        let changes: Vec<serde_json::Value> = self
            .changes
            .iter()
            .map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                if let Some(map) = v.as_object_mut() {
                    map.insert("destructive".into(), c.is_destructive().into());
                }
                v
            })
            .collect();
        serde_json::json!({
            "deployed": self.deployed,
            "target": self.target,
            "up_to_date": self.is_up_to_date(),
            "destructive": self.destructive().len(),
            "changes": changes,
        })
    }
}

/// How to apply a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Apply destructive changes too (otherwise a plan with one is refused whole).
    pub allow_destructive: bool,
    /// Resync in full the syncs whose `version` changed.
    pub resync: bool,
}

/// How applying ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Recorded as deployment `id`, with this many changes.
    Deployed {
        /// The deployment's number.
        id: i64,
        /// How many changes it applied.
        changes: usize,
    },
    /// The manifest was deployed already (by this plan's base, or by another process meanwhile).
    UpToDate {
        /// The deployment that has it.
        id: i64,
    },
}

/// Why a plan was not applied. Nothing was changed in every case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// The plan has destructive changes and they were not allowed.
    #[error("the plan has {} destructive change(s), which were not allowed; nothing was changed:\n{}", .changes.len(), .changes.join("\n"))]
    Destructive {
        /// Each destructive change, as the plan's text says it.
        changes: Vec<String>,
    },
    /// The store failed or refused (another deployment meanwhile, incompatible records).
    #[error("cannot apply the deployment")]
    Store(#[from] StoreError),
    /// The deployed manifest in the store is not readable by this program.
    #[error("the deployed manifest (deployment #{id}) is unreadable; nothing was changed")]
    Unreadable {
        /// The deployment.
        id: i64,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// Plans and applies deployments on a store.
///
/// ```no_run
/// # async fn demo(store: nango_runtime::store::Store) -> Result<(), nango_runtime::deploy::DeployError> {
/// use nango_runtime::deploy::{ApplyOptions, Deployer, Manifest};
/// let deployer = Deployer::new(store, "my-syncs");
/// let plan = deployer.plan(Manifest::of_binary()).await?;
/// print!("{}", nango_runtime::deploy::render_plan(&plan));
/// deployer.apply(&plan, ApplyOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Deployer {
    store: Store,
    applied_by: String,
}

/// How many recent deployments [`Deployer::superseded`] looks through: a binary older than that
/// is treated as a new one.
const SUPERSEDED_LOOKBACK: u32 = 100;

/// The history entry of the deployed manifest, with the manifest.
type Current = Option<(Deployment, Manifest)>;

impl Deployer {
    /// A deployer over a store; `program` names who applies deployments in the history (the
    /// process id and host are added).
    pub fn new(store: Store, program: &str) -> Deployer {
        let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty());
        let applied_by = match host {
            Some(host) => format!("{program} (pid {}, {host})", std::process::id()),
            None => format!("{program} (pid {})", std::process::id()),
        };
        Deployer { store, applied_by }
    }

    /// The deployment history, newest first.
    pub async fn history(&self, limit: u32) -> Result<Vec<Deployment>, DeployError> {
        Ok(self.store.deployments(limit).await?)
    }

    async fn current(&self) -> Result<Current, DeployError> {
        let Some(deployment) = self.store.deployments(1).await?.into_iter().next() else { return Ok(None) };
        let manifest = serde_json::from_str(&deployment.manifest)
            .map_err(|source| DeployError::Unreadable { id: deployment.id, source })?;
        Ok(Some((deployment, manifest)))
    }

    /// When `manifest` was deployed before and a later deployment replaced it (a binary older
    /// than the deployed one, in a rolling deploy): its newest deployment and the deployed one.
    pub async fn superseded(&self, manifest: &Manifest) -> Result<Option<(Deployment, Deployment)>, DeployError> {
        let fingerprint = manifest.fingerprint();
        let history = self.store.deployments(SUPERSEDED_LOOKBACK).await?;
        let Some(newest) = history.first() else { return Ok(None) };
        if newest.fingerprint == fingerprint {
            return Ok(None);
        }
        Ok(history.iter().find(|d| d.fingerprint == fingerprint).map(|mine| (mine.clone(), newest.clone())))
    }

    /// What deploying `manifest` would change.
    pub async fn plan(&self, manifest: Manifest) -> Result<Plan, DeployError> {
        let current = self.current().await?;
        let previous = current.as_ref().map(|(_, m)| m.clone());
        let inventory = self.inventory(previous.as_ref(), &manifest).await?;
        let changes = changes(previous.as_ref(), &manifest, &inventory);
        Ok(Plan {
            deployed: current.map(|(d, _)| DeployedVersion {
                id: d.id,
                fingerprint: d.fingerprint,
                deployed_at: d.deployed_at,
                applied_by: d.applied_by,
            }),
            target: manifest.fingerprint(),
            changes,
            manifest,
            previous,
        })
    }

    /// The connections and records the changes touch, and how stored records of changed models
    /// fare against their new schemas.
    async fn inventory(&self, previous: Option<&Manifest>, manifest: &Manifest) -> Result<Inventory, DeployError> {
        let backend = self.store.backend();
        let mut inventory = Inventory::default();
        for (key, connection) in backend.connections().await? {
            let integration = connection.provider_config_key.clone();
            for (model, count) in backend.record_counts(key).await? {
                inventory
                    .records
                    .entry((integration.clone(), model))
                    .or_default()
                    .insert(connection.connection_id.clone(), count);
            }
            inventory.connections.entry(integration).or_default().push(connection.connection_id);
        }
        inventory.connections.values_mut().for_each(|ids| ids.sort());
        let Some(previous) = previous else { return Ok(inventory) };
        // Models whose schema changed: which records hold a removed field, which no longer match.
        let mut removed: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (model, schema) in &manifest.models {
            if let Some(old) = previous.models.get(model)
                && old != schema
            {
                removed.insert(model, field_changes(old, schema).removed);
            }
        }
        if removed.is_empty() {
            return Ok(inventory);
        }
        let models: Vec<&str> = removed.keys().copied().collect();
        let found: Mutex<Inventory> = Mutex::new(Inventory::default());
        let visit = |record: &crate::store::deploy::ScannedRecord| {
            let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
            let gone = removed.get(record.model.as_str()).map(Vec::as_slice).unwrap_or_default();
            if gone.iter().any(|field| record.json.get(field).is_some()) {
                *found.holding_removed.entry(record.model.clone()).or_default() += 1;
            }
            let fits = manifest.models.get(&record.model).is_none_or(|schema| matches(schema, &record.json));
            if !fits {
                let entry = found.incompatible.entry(record.model.clone()).or_default();
                entry.0 += 1;
                entry.1.get_or_insert_with(|| (record.connection_id.clone(), record.id.clone()));
            }
        };
        self.store.scan_records(&models, &visit).await?;
        let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
        inventory.holding_removed = found.holding_removed;
        inventory.incompatible = found.incompatible;
        Ok(inventory)
    }

    /// Applies a plan in one transaction (see the module documentation).
    pub async fn apply(&self, plan: &Plan, options: ApplyOptions) -> Result<Applied, DeployError> {
        if let Some(deployed) = &plan.deployed
            && plan.is_up_to_date()
        {
            return Ok(Applied::UpToDate { id: deployed.id });
        }
        let destructive = plan.destructive();
        if !destructive.is_empty() && !options.allow_destructive {
            return Err(DeployError::Destructive { changes: destructive.iter().map(|c| change_line(c)).collect() });
        }
        let at = Utc::now();
        let write = DeploymentWrite {
            expected: plan.deployed.as_ref().map(|d| d.fingerprint.clone()),
            fingerprint: plan.target.clone(),
            manifest: serde_json::to_string(&plan.manifest).unwrap_or_default(),
            changes: serde_json::to_value(&plan.changes).unwrap_or_default(),
            applied_by: self.applied_by.clone(),
            at,
            steps: steps(plan, options),
            checks: checks(plan, options),
            webhooks: webhooks(plan, at),
            sync_versions: plan.manifest.sync_versions(),
        };
        let manifest = &plan.manifest;
        let accepts = |model: &str, json: &serde_json::Value| {
            manifest.models.get(model).is_none_or(|schema| matches(schema, json))
        };
        Ok(match self.store.apply_deployment(&write, &accepts).await? {
            DeployOutcome::Applied(id) => Applied::Deployed { id, changes: plan.changes.len() },
            DeployOutcome::AlreadyDeployed(id) => Applied::UpToDate { id },
        })
    }
}

/// The syncs of the new manifest that store `model`.
fn syncs_storing<'a>(manifest: &'a Manifest, model: &'a str) -> impl Iterator<Item = &'a DeployedSync> {
    manifest.syncs.iter().filter(move |s| s.outputs.iter().any(|o| o == model))
}

/// The store's steps for a plan, in the order they run.
fn steps(plan: &Plan, options: ApplyOptions) -> Vec<DeployStep> {
    let mut out = Vec::new();
    for change in &plan.changes {
        match change {
            Change::SyncAdded { integration, sync, .. } => {
                out.push(DeployStep::ScheduleSync { integration: integration.clone(), sync: sync.clone() })
            }
            Change::SyncRemoved { integration, sync, .. } => {
                out.push(DeployStep::UnscheduleSync { integration: integration.clone(), sync: sync.clone() })
            }
            Change::SyncChanged { integration, sync, settings, .. } => {
                if settings.iter().any(|s| s.setting == "frequency")
                    && let Some(new) = plan.manifest.sync(integration, sync)
                {
                    out.push(DeployStep::Reschedule {
                        integration: integration.clone(),
                        sync: sync.clone(),
                        interval_secs: new.interval_secs,
                    });
                }
                if options.resync && change.changes_version() {
                    out.push(DeployStep::Resync { integration: integration.clone(), sync: sync.clone() });
                }
            }
            Change::ModelRemoved { integration, model, .. } => {
                out.push(DeployStep::DeleteRecords { integration: integration.clone(), model: model.clone() })
            }
            Change::ModelChanged { model, fields, incompatible, .. } => {
                let integrations: std::collections::BTreeSet<&str> =
                    syncs_storing(&plan.manifest, model).map(|s| s.integration.as_str()).collect();
                for integration in &integrations {
                    for field in &fields.removed {
                        out.push(DeployStep::DropField {
                            integration: (*integration).to_owned(),
                            model: model.clone(),
                            field: field.clone(),
                        });
                    }
                }
                // Records deleted for not matching come back in the new shape with a full run.
                if *incompatible > 0 {
                    for sync in syncs_storing(&plan.manifest, model) {
                        out.push(DeployStep::Resync { integration: sync.integration.clone(), sync: sync.name.clone() });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The record checks: every model whose schema changed is checked again in the transaction
/// (records written since the plan are caught too); failing records are deleted only when the
/// plan counted some and destructive changes are allowed.
fn checks(plan: &Plan, options: ApplyOptions) -> Vec<RecordCheck> {
    plan.changes
        .iter()
        .filter_map(|c| match c {
            Change::ModelChanged { model, incompatible, .. } => Some(RecordCheck {
                model: model.clone(),
                delete_failing: *incompatible > 0 && options.allow_destructive,
            }),
            _ => None,
        })
        .collect()
}

/// A [`ModelRemovedWebhook`] per model an integration no longer stores.
fn webhooks(plan: &Plan, at: DateTime<Utc>) -> Vec<DeployWebhook> {
    let removed_syncs: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::SyncRemoved { integration, sync, .. } => Some((integration.as_str(), sync.as_str())),
            _ => None,
        })
        .collect();
    plan.changes
        .iter()
        .filter_map(|c| match c {
            Change::ModelRemoved { integration, model, connections, records } => {
                let sync_names = plan
                    .previous
                    .iter()
                    .flat_map(|m| &m.syncs)
                    .filter(|s| {
                        &s.integration == integration
                            && s.outputs.contains(model)
                            && removed_syncs.contains(&(s.integration.as_str(), s.name.as_str()))
                    })
                    .map(|s| s.name.clone())
                    .collect();
                let hook = ModelRemovedWebhook {
                    from: "nango".into(),
                    kind: "model_removed".into(),
                    provider_config_key: integration.clone(),
                    model: model.clone(),
                    sync_names,
                    connection_ids: connections.clone(),
                    records_deleted: *records,
                    deployment: plan.target.clone(),
                    removed_at: at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                };
                Some(DeployWebhook { model: model.clone(), body: to_stable_json(&hook).unwrap_or_default() })
            }
            _ => None,
        })
        .collect()
}
