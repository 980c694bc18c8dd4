//! What a binary deploys: its syncs, actions, on-event scripts and the JSON Schemas of the
//! models its syncs store, as plain data that the store keeps and two versions can be compared
//! by.
//!
//! A binary's manifest comes from what it links ([`Manifest::of_binary`]: the registrations of
//! its `#[nango_sync]`, `#[nango_action]` and `#[nango_on_event]` functions, which
//! `models::PROJECT.main()` has checked against nango.yaml); [`Manifest::from_descriptors`] builds
//! one from descriptors and schemas directly (tests build both sides of a plan from two nango.yaml
//! texts this way, through nango-codegen).

use crate::{ActionDescriptor, Endpoint, OnEvent, OnEventDescriptor, SyncDescriptor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A sync as deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedSync {
    /// The integration (provider config key).
    pub integration: String,
    /// The sync's name.
    pub name: String,
    /// `runs` as written in nango.yaml.
    pub runs: String,
    /// The interval `runs` means, in seconds.
    pub interval_secs: u64,
    /// `full` or `incremental`.
    pub sync_type: String,
    /// Whether a full run deletes the records it no longer returns.
    pub track_deletes: bool,
    /// Whether it starts on its own for a new connection.
    pub auto_start: bool,
    /// Its endpoints (`GET /tickets`).
    pub endpoints: Vec<String>,
    /// The metadata model.
    pub input: Option<String>,
    /// The models it stores.
    pub outputs: Vec<String>,
    /// nango.yaml's `version` (empty when unset).
    pub version: String,
}

/// An action as deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedAction {
    /// The integration.
    pub integration: String,
    /// The action's name.
    pub name: String,
    /// The endpoint that triggers it.
    pub endpoint: Option<String>,
    /// Its input model.
    pub input: Option<String>,
    /// Its output models.
    pub outputs: Vec<String>,
    /// nango.yaml's `version`.
    pub version: String,
}

/// An on-event script as deployed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeployedOnEvent {
    /// The integration.
    pub integration: String,
    /// `post-connection-creation`, `pre-connection-deletion` or `validate-connection`.
    pub event: String,
    /// The script's name.
    pub name: String,
}

/// Everything a binary deploys. Lists are sorted by (integration, name), so two manifests of the
/// same nango.yaml are equal and have the same [`Manifest::fingerprint`].
///
/// ```
/// use nango_runtime::deploy::Manifest;
/// let empty = Manifest::default();
/// assert!(empty.syncs.is_empty());
/// assert_eq!(empty.fingerprint(), Manifest::default().fingerprint());
/// assert_eq!(empty.fingerprint().len(), 32);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The syncs.
    pub syncs: Vec<DeployedSync>,
    /// The actions.
    pub actions: Vec<DeployedAction>,
    /// The on-event scripts.
    pub on_events: Vec<DeployedOnEvent>,
    /// The JSON Schema of each model a sync stores, by the model's name (the name records are
    /// filed under).
    pub models: BTreeMap<String, Value>,
}

/// `GET /tickets`.
fn endpoint_text(endpoint: &Endpoint) -> String {
    format!("{} {}", endpoint.method, endpoint.path)
}

/// The name nango.yaml gives an event.
pub(crate) fn event_name(event: OnEvent) -> &'static str {
    match event {
        OnEvent::PostConnectionCreation => "post-connection-creation",
        OnEvent::PreConnectionDeletion => "pre-connection-deletion",
        OnEvent::ValidateConnection => "validate-connection",
    }
}

impl Manifest {
    /// The manifest of this binary: its registered scripts and their output models' schemas.
    pub fn of_binary() -> Manifest {
        let syncs: Vec<(&SyncDescriptor, Vec<(&'static str, Value)>)> =
            crate::registered_syncs().map(|r| (r.descriptor, (r.schemas)())).collect();
        let actions: Vec<&ActionDescriptor> = crate::registered_actions().map(|r| r.descriptor).collect();
        let on_events: Vec<&OnEventDescriptor> = crate::registered_on_events().map(|r| &r.descriptor).collect();
        Manifest::from_descriptors(&syncs, &actions, &on_events)
    }

    /// A manifest from descriptors: each sync with the `(definition, JSON Schema)` of its output
    /// models, in the order of its `outputs` (what `SyncDefinition::output_schemas` returns).
    pub fn from_descriptors(
        syncs: &[(&SyncDescriptor, Vec<(&str, Value)>)],
        actions: &[&ActionDescriptor],
        on_events: &[&OnEventDescriptor],
    ) -> Manifest {
        let mut models = BTreeMap::new();
        let mut deployed_syncs: Vec<DeployedSync> = syncs
            .iter()
            .map(|(d, schemas)| {
                for (model, (_, schema)) in d.outputs.iter().zip(schemas) {
                    // The first sync to name a model gives its schema (one nango.yaml has one
                    // schema per model name, but the flows layout may repeat a name).
                    models.entry((*model).to_owned()).or_insert_with(|| schema.clone());
                }
                DeployedSync {
                    integration: d.integration.to_owned(),
                    name: d.name.to_owned(),
                    runs: d.runs.to_owned(),
                    interval_secs: d.interval.as_secs(),
                    sync_type: d.sync_type.as_str().to_owned(),
                    track_deletes: d.track_deletes,
                    auto_start: d.auto_start,
                    endpoints: d.endpoints.iter().map(endpoint_text).collect(),
                    input: d.input.map(str::to_owned),
                    outputs: d.outputs.iter().map(|s| (*s).to_owned()).collect(),
                    version: d.version.to_owned(),
                }
            })
            .collect();
        deployed_syncs.sort_by(|a, b| (&a.integration, &a.name).cmp(&(&b.integration, &b.name)));
        deployed_syncs.dedup_by(|a, b| (&a.integration, &a.name) == (&b.integration, &b.name));
        let mut deployed_actions: Vec<DeployedAction> = actions
            .iter()
            .map(|d| DeployedAction {
                integration: d.integration.to_owned(),
                name: d.name.to_owned(),
                endpoint: d.endpoint.as_ref().map(endpoint_text),
                input: d.input.map(str::to_owned),
                outputs: d.outputs.iter().map(|s| (*s).to_owned()).collect(),
                version: d.version.to_owned(),
            })
            .collect();
        deployed_actions.sort_by(|a, b| (&a.integration, &a.name).cmp(&(&b.integration, &b.name)));
        deployed_actions.dedup_by(|a, b| (&a.integration, &a.name) == (&b.integration, &b.name));
        let mut deployed_events: Vec<DeployedOnEvent> = on_events
            .iter()
            .map(|d| DeployedOnEvent {
                integration: d.integration.to_owned(),
                event: event_name(d.event).to_owned(),
                name: d.name.to_owned(),
            })
            .collect();
        deployed_events.sort();
        deployed_events.dedup();
        Manifest { syncs: deployed_syncs, actions: deployed_actions, on_events: deployed_events, models }
    }

    /// A digest of the whole manifest (32 hex digits): equal manifests have equal fingerprints,
    /// whatever order their JSON keys were written in.
    pub fn fingerprint(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        let digest = crate::store::canonical_hash(&value);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The run version of each sync: a digest (32 hex digits) of what a run of it does and
    /// writes: its sync type, `track_deletes`, input and output models, the JSON Schemas of its
    /// outputs and nango.yaml's `version` (which says the code changed). Its frequency,
    /// `auto_start` and endpoints are left out: they change when and how it is asked for, not
    /// what a run does, so a runner of a binary that differs only by them runs it still.
    ///
    /// A deployment records these; a runner claims a task only when its binary has the deployed
    /// version of the task's sync.
    ///
    /// ```
    /// use nango_runtime::deploy::{DeployedSync, Manifest};
    /// let sync = DeployedSync {
    ///     integration: "github".into(), name: "issues".into(), runs: "every hour".into(),
    ///     interval_secs: 3600, sync_type: "full".into(), track_deletes: false, auto_start: true,
    ///     endpoints: vec![], input: None, outputs: vec!["Issue".into()], version: "1".into(),
    /// };
    /// let one = Manifest { syncs: vec![sync.clone()], ..Manifest::default() };
    /// let hourly = one.sync_versions();
    /// // Another frequency: the same run version. Another `version`: another one.
    /// let every_minute = DeployedSync { runs: "every minute".into(), interval_secs: 60, ..sync.clone() };
    /// let v2 = DeployedSync { version: "2".into(), ..sync };
    /// assert_eq!(Manifest { syncs: vec![every_minute], ..Manifest::default() }.sync_versions(), hourly);
    /// assert_ne!(Manifest { syncs: vec![v2], ..Manifest::default() }.sync_versions(), hourly);
    /// ```
    pub fn sync_versions(&self) -> Vec<crate::store::SyncVersion> {
        self.syncs
            .iter()
            .map(|s| {
                let schemas: BTreeMap<&str, Option<&Value>> =
                    s.outputs.iter().map(|m| (m.as_str(), self.models.get(m))).collect();
                let what_a_run_does = serde_json::json!({
                    "integration": s.integration,
                    "name": s.name,
                    "sync_type": s.sync_type,
                    "track_deletes": s.track_deletes,
                    "input": s.input,
                    "outputs": s.outputs,
                    "schemas": schemas,
                    "version": s.version,
                });
                let digest = crate::store::canonical_hash(&what_a_run_does);
                let version: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                crate::store::SyncVersion::new(&s.integration, &s.name, &version)
            })
            .collect()
    }

    /// One sync.
    pub fn sync(&self, integration: &str, name: &str) -> Option<&DeployedSync> {
        self.syncs.iter().find(|s| s.integration == integration && s.name == name)
    }

    /// The models the syncs of an integration store.
    pub fn outputs_of(&self, integration: &str) -> std::collections::BTreeSet<&str> {
        self.syncs
            .iter()
            .filter(|s| s.integration == integration)
            .flat_map(|s| s.outputs.iter().map(String::as_str))
            .collect()
    }
}
