//! The plan: what a manifest changes against the deployed one, with the connections and records
//! each change touches, and which changes are destructive. Pure: the store's side comes in as an
//! [`Inventory`].

use super::manifest::{DeployedAction, DeployedSync, Manifest};
use super::schema_diff::{FieldChanges, field_changes};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A setting of a sync or action that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// `frequency`, `sync_type`, `track_deletes`, `auto_start`, `endpoints`, `version`, `input`,
    /// `outputs`, `endpoint`.
    pub setting: String,
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
}

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A new sync: scheduled for every connection of its integration.
    SyncAdded {
        /// The integration.
        integration: String,
        /// The sync.
        sync: String,
        /// Whether it starts on its own.
        auto_start: bool,
        /// The connections it is scheduled for.
        connections: Vec<String>,
    },
    /// A removed sync: unscheduled.
    SyncRemoved {
        /// The integration.
        integration: String,
        /// The sync.
        sync: String,
        /// The connections it was scheduled for.
        connections: Vec<String>,
    },
    /// A sync whose settings changed.
    SyncChanged {
        /// The integration.
        integration: String,
        /// The sync.
        sync: String,
        /// What changed.
        settings: Vec<Setting>,
        /// The connections it is scheduled for.
        connections: Vec<String>,
    },
    /// A new action.
    ActionAdded {
        /// The integration.
        integration: String,
        /// The action.
        action: String,
    },
    /// A removed action: callers of it get an unknown-action error.
    ActionRemoved {
        /// The integration.
        integration: String,
        /// The action.
        action: String,
        /// The connections that could call it.
        connections: Vec<String>,
    },
    /// An action whose settings changed.
    ActionChanged {
        /// The integration.
        integration: String,
        /// The action.
        action: String,
        /// What changed.
        settings: Vec<Setting>,
    },
    /// A new on-event script.
    OnEventAdded {
        /// The integration.
        integration: String,
        /// The event.
        event: String,
        /// The script.
        script: String,
    },
    /// A removed on-event script.
    OnEventRemoved {
        /// The integration.
        integration: String,
        /// The event.
        event: String,
        /// The script.
        script: String,
    },
    /// A model an integration's syncs now store.
    ModelAdded {
        /// The integration.
        integration: String,
        /// The model.
        model: String,
    },
    /// A model an integration's syncs no longer store: its records are deleted.
    ModelRemoved {
        /// The integration.
        integration: String,
        /// The model.
        model: String,
        /// The connections that hold records of it.
        connections: Vec<String>,
        /// The live records deleted.
        records: u64,
    },
    /// A model whose schema changed.
    ModelChanged {
        /// The model.
        model: String,
        /// The fields that changed.
        fields: FieldChanges,
        /// The connections that hold records of it.
        connections: Vec<String>,
        /// Its live records.
        records: u64,
        /// Records that hold a removed field (which is taken out of them).
        holding_removed: u64,
        /// Records that do not match the new schema.
        incompatible: u64,
        /// One of them: `(connection, record id)`.
        example: Option<(String, String)>,
    },
}

impl Change {
    /// Whether applying it loses something: a removed sync (its schedules), action or model (its
    /// records), a field dropped from stored records, or records that no longer match their
    /// model (deleted, if allowed).
    pub fn is_destructive(&self) -> bool {
        match self {
            Change::SyncRemoved { .. } | Change::ActionRemoved { .. } | Change::ModelRemoved { .. } => true,
            Change::ModelChanged { holding_removed, incompatible, .. } => *holding_removed > 0 || *incompatible > 0,
            _ => false,
        }
    }

    /// Whether it changes a sync's `version`.
    pub fn changes_version(&self) -> bool {
        matches!(self, Change::SyncChanged { settings, .. } if settings.iter().any(|s| s.setting == "version"))
    }
}

/// What the store holds that a plan touches: the connections of each integration and the live
/// records of each (integration, model), and per model whose schema changed, how its records
/// fare against the new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Connection ids per integration, sorted.
    pub connections: BTreeMap<String, Vec<String>>,
    /// Live records per (integration, model), and per connection.
    pub records: BTreeMap<(String, String), BTreeMap<String, u64>>,
    /// Per model: records holding a removed field.
    pub holding_removed: BTreeMap<String, u64>,
    /// Per model: records not matching the new schema, and one of them.
    pub incompatible: BTreeMap<String, (u64, Option<(String, String)>)>,
}

impl Inventory {
    fn connections_of(&self, integration: &str) -> Vec<String> {
        self.connections.get(integration).cloned().unwrap_or_default()
    }

    /// Connections holding records of a model (of one integration, or of all) and their count.
    fn holders(&self, integration: Option<&str>, model: &str) -> (Vec<String>, u64) {
        let mut connections = BTreeSet::new();
        let mut total = 0;
        for ((i, m), per_connection) in &self.records {
            if m == model && integration.is_none_or(|want| want == i) {
                for (connection, n) in per_connection {
                    if *n > 0 {
                        connections.insert(connection.clone());
                        total += n;
                    }
                }
            }
        }
        (connections.into_iter().collect(), total)
    }
}

fn setting(out: &mut Vec<Setting>, name: &str, from: impl ToString, to: impl ToString) {
    let (from, to) = (from.to_string(), to.to_string());
    if from != to {
        out.push(Setting { setting: name.to_owned(), from, to });
    }
}

fn sync_settings(old: &DeployedSync, new: &DeployedSync) -> Vec<Setting> {
    let mut out = Vec::new();
    if old.interval_secs != new.interval_secs || old.runs != new.runs {
        setting(&mut out, "frequency", &old.runs, &new.runs);
    }
    setting(&mut out, "sync_type", &old.sync_type, &new.sync_type);
    setting(&mut out, "track_deletes", old.track_deletes, new.track_deletes);
    setting(&mut out, "auto_start", old.auto_start, new.auto_start);
    setting(&mut out, "endpoints", old.endpoints.join(", "), new.endpoints.join(", "));
    setting(&mut out, "input", old.input.as_deref().unwrap_or("none"), new.input.as_deref().unwrap_or("none"));
    setting(&mut out, "outputs", old.outputs.join(", "), new.outputs.join(", "));
    setting(&mut out, "version", shown(&old.version), shown(&new.version));
    out
}

fn action_settings(old: &DeployedAction, new: &DeployedAction) -> Vec<Setting> {
    let mut out = Vec::new();
    let none = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
    setting(&mut out, "endpoint", none(&old.endpoint), none(&new.endpoint));
    setting(&mut out, "input", none(&old.input), none(&new.input));
    setting(&mut out, "outputs", old.outputs.join(", "), new.outputs.join(", "));
    setting(&mut out, "version", shown(&old.version), shown(&new.version));
    out
}

fn shown(version: &str) -> &str {
    if version.is_empty() { "none" } else { version }
}

/// The changes from `deployed` (`None`: nothing deployed yet, everything is new) to `new`, in a
/// stable order: syncs, actions, on-event scripts, then models; each by integration and name.
///
/// ```
/// use nango_runtime::deploy::{Change, Inventory, Manifest, changes};
/// let plan = changes(None, &Manifest::default(), &Inventory::default());
/// assert!(plan.is_empty());
/// ```
pub fn changes(deployed: Option<&Manifest>, new: &Manifest, inventory: &Inventory) -> Vec<Change> {
    let empty = Manifest::default();
    let old = deployed.unwrap_or(&empty);
    let mut out = Vec::new();
    let key = |i: &str, n: &str| (i.to_owned(), n.to_owned());
    let old_syncs: BTreeMap<_, _> = old.syncs.iter().map(|s| (key(&s.integration, &s.name), s)).collect();
    let new_syncs: BTreeMap<_, _> = new.syncs.iter().map(|s| (key(&s.integration, &s.name), s)).collect();
    let all_syncs: BTreeSet<_> = old_syncs.keys().chain(new_syncs.keys()).cloned().collect();
    for k in &all_syncs {
        let (integration, sync) = (k.0.clone(), k.1.clone());
        match (old_syncs.get(k), new_syncs.get(k)) {
            (None, Some(s)) => out.push(Change::SyncAdded {
                connections: inventory.connections_of(&integration),
                integration,
                sync,
                auto_start: s.auto_start,
            }),
            (Some(_), None) => {
                out.push(Change::SyncRemoved { connections: inventory.connections_of(&integration), integration, sync })
            }
            (Some(a), Some(b)) => {
                let settings = sync_settings(a, b);
                if !settings.is_empty() {
                    out.push(Change::SyncChanged {
                        connections: inventory.connections_of(&integration),
                        integration,
                        sync,
                        settings,
                    });
                }
            }
            (None, None) => {}
        }
    }
    let old_actions: BTreeMap<_, _> = old.actions.iter().map(|a| (key(&a.integration, &a.name), a)).collect();
    let new_actions: BTreeMap<_, _> = new.actions.iter().map(|a| (key(&a.integration, &a.name), a)).collect();
    let all_actions: BTreeSet<_> = old_actions.keys().chain(new_actions.keys()).cloned().collect();
    for k in &all_actions {
        let (integration, action) = (k.0.clone(), k.1.clone());
        match (old_actions.get(k), new_actions.get(k)) {
            (None, Some(_)) => out.push(Change::ActionAdded { integration, action }),
            (Some(_), None) => out.push(Change::ActionRemoved {
                connections: inventory.connections_of(&integration),
                integration,
                action,
            }),
            (Some(a), Some(b)) => {
                let settings = action_settings(a, b);
                if !settings.is_empty() {
                    out.push(Change::ActionChanged { integration, action, settings });
                }
            }
            (None, None) => {}
        }
    }
    let old_events: BTreeSet<_> = old.on_events.iter().collect();
    let new_events: BTreeSet<_> = new.on_events.iter().collect();
    for e in new_events.difference(&old_events) {
        out.push(Change::OnEventAdded {
            integration: e.integration.clone(),
            event: e.event.clone(),
            script: e.name.clone(),
        });
    }
    for e in old_events.difference(&new_events) {
        out.push(Change::OnEventRemoved {
            integration: e.integration.clone(),
            event: e.event.clone(),
            script: e.name.clone(),
        });
    }
    // Models per integration: what its syncs store.
    let integrations: BTreeSet<&str> = old.syncs.iter().chain(&new.syncs).map(|s| s.integration.as_str()).collect();
    for integration in integrations {
        let (before, after) = (old.outputs_of(integration), new.outputs_of(integration));
        for model in after.difference(&before) {
            out.push(Change::ModelAdded { integration: integration.to_owned(), model: (*model).to_owned() });
        }
        for model in before.difference(&after) {
            let (connections, records) = inventory.holders(Some(integration), model);
            out.push(Change::ModelRemoved {
                integration: integration.to_owned(),
                model: (*model).to_owned(),
                connections,
                records,
            });
        }
    }
    for (model, new_schema) in &new.models {
        let Some(old_schema) = old.models.get(model) else { continue };
        let fields = field_changes(old_schema, new_schema);
        if fields.is_empty() {
            continue;
        }
        let (connections, records) = inventory.holders(None, model);
        let (incompatible, example) = inventory.incompatible.get(model).cloned().unwrap_or_default();
        out.push(Change::ModelChanged {
            model: model.clone(),
            fields,
            connections,
            records,
            holding_removed: inventory.holding_removed.get(model).copied().unwrap_or_default(),
            incompatible,
            example,
        });
    }
    out
}
