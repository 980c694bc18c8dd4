//! Typed descriptions of the syncs and actions of a nango.yaml, emitted by the code generator.

use std::time::Duration;

pub use nango_types::{Method, SyncType};

/// An endpoint of a sync or action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Method.
    pub method: Method,
    /// Path (may contain a `{Model:field}` placeholder).
    pub path: &'static str,
    /// Documentation group.
    pub group: Option<&'static str>,
}

/// A sync as nango.yaml declares it.
///
/// ```
/// use nango_runtime::{SyncDescriptor, SyncType};
/// use std::time::Duration;
/// const ISSUES: SyncDescriptor = SyncDescriptor {
///     name: "issues", integration: "github", description: "", runs: "every hour",
///     interval: Duration::from_secs(3600), sync_type: SyncType::Incremental, track_deletes: false,
///     auto_start: true, input: None, outputs: &["Issue"], endpoints: &[], scopes: &[],
///     webhook_subscriptions: &[], version: "",
/// };
/// assert_eq!(ISSUES.interval.as_secs(), 3600);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncDescriptor {
    /// Script name.
    pub name: &'static str,
    /// Integration (provider config key).
    pub integration: &'static str,
    /// Description.
    pub description: &'static str,
    /// `runs:` as written.
    pub runs: &'static str,
    /// How often it runs.
    pub interval: Duration,
    /// Full or incremental.
    pub sync_type: SyncType,
    /// Delete records a full run no longer returns.
    pub track_deletes: bool,
    /// Start when a connection is created.
    pub auto_start: bool,
    /// Connection-metadata model name.
    pub input: Option<&'static str>,
    /// Output model names.
    pub outputs: &'static [&'static str],
    /// One endpoint per output.
    pub endpoints: &'static [Endpoint],
    /// OAuth scopes.
    pub scopes: &'static [&'static str],
    /// Webhook event types handled by the sync.
    pub webhook_subscriptions: &'static [&'static str],
    /// Version.
    pub version: &'static str,
}

/// An action as nango.yaml declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionDescriptor {
    /// Script name.
    pub name: &'static str,
    /// Integration (provider config key).
    pub integration: &'static str,
    /// Description.
    pub description: &'static str,
    /// Input model name.
    pub input: Option<&'static str>,
    /// Output model names.
    pub outputs: &'static [&'static str],
    /// The endpoint that triggers it.
    pub endpoint: Option<Endpoint>,
    /// OAuth scopes.
    pub scopes: &'static [&'static str],
    /// Version.
    pub version: &'static str,
}

/// When an on-event script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnEvent {
    /// After a connection is created (`post-connection-creation`, or the deprecated
    /// `post-connection-scripts`).
    PostConnectionCreation,
    /// Before a connection is deleted.
    PreConnectionDeletion,
    /// To check a new connection's credentials.
    ValidateConnection,
}

/// An on-event script as nango.yaml declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnEventDescriptor {
    /// Integration (provider config key).
    pub integration: &'static str,
    /// When it runs.
    pub event: OnEvent,
    /// Script name.
    pub name: &'static str,
}

/// A sync of nango.yaml, as a type: generated as a unit struct per sync.
pub trait SyncDefinition {
    /// What nango.yaml says about it.
    const DESCRIPTOR: SyncDescriptor;
    /// The connection metadata model (`input:`), or `()`.
    type Metadata;
    /// `(definition, JSON Schema)` of each output model, for `/openapi.json`: its definition name
    /// in `schema.json` (the model's name; `<integration>.<model>` in the flows layout) and
    /// `Model::json_schema()`.
    fn output_schemas() -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }
}

/// Implemented for each output model `M` of a sync `S`: the bound that lets a sync save only the
/// models nango.yaml declares for it.
pub trait SyncOutput<M: crate::Model>: SyncDefinition {}

/// An action of nango.yaml, as a type: generated as a unit struct per action.
pub trait ActionDefinition {
    /// What nango.yaml says about it.
    const DESCRIPTOR: ActionDescriptor;
    /// The input model, or `()`.
    type Input;
    /// The output model, or `()`.
    type Output;
}
