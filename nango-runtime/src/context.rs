//! What sync and action functions receive, and the registry of the functions of a binary.
//!
//! `#[nango_sync]` / `#[nango_action]` (nango-macros) register each annotated function here with
//! its typed description from nango.yaml. The context is typed by the sync, so saving a model
//! that nango.yaml does not list as the sync's output does not compile.

use crate::{
    ActionDefinition, ActionDescriptor, Model, OnEvent, OnEventDescriptor, SyncDefinition, SyncDescriptor, SyncOutput,
};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// The error type of sync and action functions.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Result` with [`Error`].
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a sync run starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncInput {
    /// The connection the run is for.
    pub connection_id: String,
    /// The connection's metadata (the sync's `input` model), as JSON.
    pub metadata: serde_json::Value,
    /// Start of the last successful run; `None` on a first or full run.
    pub last_sync_date: Option<DateTime<Utc>>,
}

/// What a batch does to the records it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordChange {
    /// Insert or replace.
    Save,
    /// Merge into existing records.
    Update,
    /// Delete (records carry at least their `id`).
    Delete,
}

/// Records a sync handed over in one call.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordBatch {
    /// The model's name.
    pub model: &'static str,
    /// What to do with them.
    pub change: RecordChange,
    /// The records, as JSON.
    pub records: Vec<serde_json::Value>,
}

/// The context of a run of sync `S`.
///
/// ```
/// use nango_runtime::{Model, NangoSync, SyncDefinition, SyncDescriptor, SyncInput, SyncOutput, SyncType};
///
/// #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// struct Issue { id: i64 }
/// impl Model for Issue {
///     const NAME: &'static str = "Issue";
///     fn id(&self) -> String { self.id.to_string() }
/// }
/// struct Issues;
/// impl SyncDefinition for Issues {
///     const DESCRIPTOR: SyncDescriptor = SyncDescriptor {
///         name: "issues", integration: "github", description: "", runs: "every hour",
///         interval: std::time::Duration::from_secs(3600), sync_type: SyncType::Full,
///         track_deletes: false, auto_start: true, input: None, outputs: &["Issue"],
///         endpoints: &[], scopes: &[], webhook_subscriptions: &[], version: "",
///     };
///     type Metadata = ();
/// }
/// impl SyncOutput<Issue> for Issues {}
///
/// let mut ctx = NangoSync::<Issues>::new(SyncInput::default());
/// futures_lite_block_on(ctx.batch_save(vec![Issue { id: 1 }])).unwrap();
/// assert_eq!(ctx.into_batches()[0].records[0]["id"], 1);
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub struct NangoSync<S: SyncDefinition> {
    input: SyncInput,
    batches: Vec<RecordBatch>,
    _sync: PhantomData<fn() -> S>,
}

impl<S: SyncDefinition> NangoSync<S> {
    /// A context for one run.
    pub fn new(input: SyncInput) -> Self {
        NangoSync { input, batches: Vec::new(), _sync: PhantomData }
    }

    /// What nango.yaml says about this sync.
    pub fn descriptor(&self) -> &'static SyncDescriptor {
        &S::DESCRIPTOR
    }

    /// The connection this run is for.
    pub fn connection_id(&self) -> &str {
        &self.input.connection_id
    }

    /// Start of the last successful run (`None`: fetch everything).
    pub fn last_sync_date(&self) -> Option<DateTime<Utc>> {
        self.input.last_sync_date
    }

    /// The connection's metadata, typed by the sync's `input` model.
    pub fn metadata(&self) -> Result<S::Metadata>
    where
        S::Metadata: serde::de::DeserializeOwned,
    {
        let value = if self.input.metadata.is_null() { serde_json::json!({}) } else { self.input.metadata.clone() };
        serde_json::from_value(value)
            .map_err(|e| format!("connection metadata does not match the sync's input model: {e}").into())
    }

    fn push<M: Model>(&mut self, change: RecordChange, records: impl IntoIterator<Item = M>) -> Result<()> {
        let records =
            records.into_iter().map(|r| serde_json::to_value(&r)).collect::<std::result::Result<Vec<_>, _>>()?;
        self.batches.push(RecordBatch { model: M::NAME, change, records });
        Ok(())
    }

    /// Saves records of one of the sync's output models.
    pub async fn batch_save<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Save, records)
    }

    /// Merges changes into existing records of one of the sync's output models.
    pub async fn batch_update<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Update, records)
    }

    /// Deletes records of one of the sync's output models.
    pub async fn batch_delete<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Delete, records)
    }

    /// The batches handed over during the run, in order.
    pub fn into_batches(self) -> Vec<RecordBatch> {
        self.batches
    }
}

/// The context of an action run.
pub struct NangoAction<A: ActionDefinition> {
    connection_id: String,
    metadata: serde_json::Value,
    _action: PhantomData<fn() -> A>,
}

impl<A: ActionDefinition> NangoAction<A> {
    /// A context for one run.
    pub fn new(connection_id: impl Into<String>, metadata: serde_json::Value) -> Self {
        NangoAction { connection_id: connection_id.into(), metadata, _action: PhantomData }
    }

    /// What nango.yaml says about this action.
    pub fn descriptor(&self) -> &'static ActionDescriptor {
        &A::DESCRIPTOR
    }

    /// The connection this run is for.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// The connection's metadata, as JSON.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }
}

/// The context of an on-event script run.
#[derive(Debug, Clone, PartialEq)]
pub struct NangoEvent {
    connection_id: String,
    metadata: serde_json::Value,
    event: OnEvent,
}

impl NangoEvent {
    /// A context for one run.
    pub fn new(connection_id: impl Into<String>, metadata: serde_json::Value, event: OnEvent) -> Self {
        NangoEvent { connection_id: connection_id.into(), metadata, event }
    }

    /// The connection this run is for.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// The connection's metadata, as JSON.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }

    /// Why the script runs.
    pub fn event(&self) -> OnEvent {
        self.event
    }
}

/// A `#[nango_on_event]` function of this binary.
#[derive(Debug)]
pub struct OnEventRegistration {
    /// What nango.yaml says about the script.
    pub descriptor: OnEventDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it for a connection (connection id, metadata).
    pub run: fn(String, serde_json::Value) -> BoxFuture<Result<()>>,
}

/// A `#[nango_webhook]` function: handles webhook payloads for a sync with
/// `webhook-subscriptions`.
#[derive(Debug)]
pub struct WebhookRegistration {
    /// The sync whose webhooks it handles.
    pub descriptor: &'static SyncDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it on one payload: the batches it handed over.
    pub run: fn(SyncInput, serde_json::Value) -> BoxFuture<Result<Vec<RecordBatch>>>,
}

/// A `#[nango_sync]` function of this binary.
#[derive(Debug)]
pub struct SyncRegistration {
    /// What nango.yaml says about the sync.
    pub descriptor: &'static SyncDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it: the batches it handed over, or its error.
    pub run: fn(SyncInput) -> BoxFuture<Result<Vec<RecordBatch>>>,
}

/// A `#[nango_action]` function of this binary.
#[derive(Debug)]
pub struct ActionRegistration {
    /// What nango.yaml says about the action.
    pub descriptor: &'static ActionDescriptor,
    /// The Rust function's name.
    pub function: &'static str,
    /// Where it is defined.
    pub file: &'static str,
    /// Line of the definition.
    pub line: u32,
    /// Runs it on a JSON input (checked against the input model) for a connection.
    pub run: fn(String, serde_json::Value, serde_json::Value) -> BoxFuture<Result<serde_json::Value>>,
}

inventory::collect!(SyncRegistration);
inventory::collect!(ActionRegistration);
inventory::collect!(OnEventRegistration);
inventory::collect!(WebhookRegistration);

/// Every `#[nango_on_event]` function linked into this binary.
pub fn registered_on_events() -> impl Iterator<Item = &'static OnEventRegistration> {
    inventory::iter::<OnEventRegistration>.into_iter()
}

/// Every `#[nango_webhook]` function linked into this binary.
pub fn registered_webhooks() -> impl Iterator<Item = &'static WebhookRegistration> {
    inventory::iter::<WebhookRegistration>.into_iter()
}

/// Every `#[nango_sync]` function linked into this binary.
pub fn registered_syncs() -> impl Iterator<Item = &'static SyncRegistration> {
    inventory::iter::<SyncRegistration>.into_iter()
}

/// Every `#[nango_action]` function linked into this binary.
pub fn registered_actions() -> impl Iterator<Item = &'static ActionRegistration> {
    inventory::iter::<ActionRegistration>.into_iter()
}

/// Adds a problem unless exactly one function (name, file, line) implements the script.
fn check_one(
    problems: &mut Vec<String>,
    kind: &str,
    name: &str,
    integration: &str,
    attribute: &str,
    found: impl Iterator<Item = (&'static str, &'static str, u32)>,
) {
    let found: Vec<String> = found.map(|(function, file, line)| format!("{function} ({file}:{line})")).collect();
    match found.len() {
        0 => problems.push(format!("{kind} `{name}` of `{integration}` has no {attribute} function")),
        1 => {}
        n => problems.push(format!("{kind} `{name}` of `{integration}` has {n} implementations: {}", found.join(", "))),
    }
}

/// Every declared on-event script has exactly one `#[nango_on_event]` function, and no sync has
/// two webhook handlers. One line per problem.
pub fn check_on_events(declared: &[OnEventDescriptor]) -> std::result::Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for script in declared {
        let found = registered_on_events()
            .filter(|r| {
                r.descriptor.integration == script.integration
                    && r.descriptor.name == script.name
                    && r.descriptor.event == script.event
            })
            .map(|r| (r.function, r.file, r.line));
        check_one(&mut problems, "on-event script", script.name, script.integration, "#[nango_on_event]", found);
    }
    let mut webhooks: Vec<&WebhookRegistration> = registered_webhooks().collect();
    webhooks.sort_by_key(|w| (w.descriptor.integration, w.descriptor.name));
    for pair in webhooks.windows(2) {
        if (pair[0].descriptor.integration, pair[0].descriptor.name)
            == (pair[1].descriptor.integration, pair[1].descriptor.name)
        {
            problems.push(format!(
                "sync `{}` has two webhook handlers: {} ({}:{}) and {} ({}:{})",
                pair[0].descriptor.name,
                pair[0].function,
                pair[0].file,
                pair[0].line,
                pair[1].function,
                pair[1].file,
                pair[1].line
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Compares the registered functions with what nango.yaml declares: every declared sync and
/// action has exactly one implementation. Returns one line per problem, naming each.
pub fn check_registry(syncs: &[SyncDescriptor], actions: &[ActionDescriptor]) -> std::result::Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for sync in syncs {
        let found = registered_syncs()
            .filter(|r| r.descriptor.integration == sync.integration && r.descriptor.name == sync.name)
            .map(|r| (r.function, r.file, r.line));
        check_one(&mut problems, "sync", sync.name, sync.integration, "#[nango_sync]", found);
    }
    for action in actions {
        let found = registered_actions()
            .filter(|r| r.descriptor.integration == action.integration && r.descriptor.name == action.name)
            .map(|r| (r.function, r.file, r.line));
        check_one(&mut problems, "action", action.name, action.integration, "#[nango_action]", found);
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}
