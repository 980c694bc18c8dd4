//! What sync and action functions receive, and the registry of the functions of a binary.
//!
//! `#[nango_sync]` / `#[nango_action]` (nango-macros) register each annotated function here with
//! its typed description from nango.yaml. The context is typed by the sync, so saving a model
//! that nango.yaml does not list as the sync's output does not compile.

#[cfg(feature = "runtime")]
use crate::http::{HttpClient, Paginate, RequestBuilder};
use crate::store::PreparedRecord;
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
    /// The checkpoint an earlier run saved (`None` if none or cleared).
    pub checkpoint: Option<serde_json::Value>,
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

/// Records a sync handed over, as one write.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordBatch {
    /// The model's name.
    pub model: &'static str,
    /// What to do with them.
    pub change: RecordChange,
    /// The records, as JSON.
    pub records: Vec<serde_json::Value>,
}

/// A boxed, sendable future borrowing its receiver.
pub type BoxFutureRef<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a sync's records, checkpoints and metadata go: the store in a real run, counters in a
/// dry run, memory in tests. The runtime provides the implementations.
pub trait SyncHost: Send {
    /// Writes one batch (at most [`BATCH_SIZE`] records of one model and one change).
    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> BoxFutureRef<'_, Result<()>>;
    /// Saves (`Some`) or clears (`None`) the checkpoint, durably, after every earlier write.
    fn save_checkpoint(&mut self, checkpoint: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>>;
    /// Replaces the connection's metadata.
    fn set_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>>;
    /// Keeps a line in the run's log (`debug`, `info`, `warn` or `error`).
    fn log(&mut self, level: &str, message: String) {
        let _ = (level, message);
    }
    /// The batches kept in memory ([`MemoryHost`] only; others keep none).
    fn take_batches(&mut self) -> Vec<RecordBatch> {
        Vec::new()
    }
}

/// Records are handed to the [`SyncHost`] in batches of at most this many: memory stays flat
/// whatever a run produces, and each batch is one transaction.
pub const BATCH_SIZE: usize = 1000;

/// Keeps every batch in memory (tests, and [`NangoSync::new`]).
#[derive(Debug, Default)]
pub struct MemoryHost {
    /// The batches written, in order.
    pub batches: Vec<RecordBatch>,
    /// The last checkpoint saved.
    pub checkpoint: Option<serde_json::Value>,
    /// The last metadata set.
    pub metadata: Option<serde_json::Value>,
}

impl SyncHost for MemoryHost {
    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> BoxFutureRef<'_, Result<()>> {
        self.batches.push(RecordBatch { model, change, records: records.into_iter().map(|r| r.json).collect() });
        Box::pin(async { Ok(()) })
    }

    fn save_checkpoint(&mut self, checkpoint: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>> {
        self.checkpoint = checkpoint;
        Box::pin(async { Ok(()) })
    }

    fn set_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
        self.metadata = Some(metadata);
        Box::pin(async { Ok(()) })
    }

    fn take_batches(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.batches)
    }
}

/// Everything a sync run gets from the runtime: its input, where records go and an HTTP client
/// for the connection.
pub struct SyncEnv {
    /// Connection, metadata, last sync date and checkpoint.
    pub input: SyncInput,
    /// Where records, checkpoints and metadata go.
    pub host: Box<dyn SyncHost>,
    /// Requests to the provider with the connection's credentials.
    #[cfg(feature = "runtime")]
    pub http: HttpClient,
}

impl SyncEnv {
    /// An environment that keeps records in memory and has no provider (tests).
    pub fn in_memory(input: SyncInput) -> SyncEnv {
        SyncEnv {
            input,
            host: Box::new(MemoryHost::default()),
            #[cfg(feature = "runtime")]
            http: HttpClient::detached(),
        }
    }
}

/// Runs a registered sync in memory (no store, no provider) and returns the batches it wrote:
/// for unit tests of sync functions that do not call the network.
pub async fn run_in_memory(sync: &SyncRegistration, input: SyncInput) -> Result<Vec<RecordBatch>> {
    let host = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<RecordBatch>>>);
    impl SyncHost for Shared {
        fn write(
            &mut self,
            model: &'static str,
            change: RecordChange,
            records: Vec<PreparedRecord>,
        ) -> BoxFutureRef<'_, Result<()>> {
            let batch = RecordBatch { model, change, records: records.into_iter().map(|r| r.json).collect() };
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(batch);
            Box::pin(async { Ok(()) })
        }
        fn save_checkpoint(&mut self, _: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>> {
            Box::pin(async { Ok(()) })
        }
        fn set_metadata(&mut self, _: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
            Box::pin(async { Ok(()) })
        }
    }
    let env = SyncEnv {
        input,
        host: Box::new(Shared(host.clone())),
        #[cfg(feature = "runtime")]
        http: HttpClient::detached(),
    };
    (sync.run)(env).await?;
    let batches = std::mem::take(&mut *host.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(batches)
}

/// The context of a run of sync `S`: what `#[nango_sync]` functions receive.
///
/// Records handed to `batch_save`/`batch_update`/`batch_delete` are checked (every record needs
/// an `id`), buffered up to [`BATCH_SIZE`] and written as they fill up; what is still buffered is
/// written when the function returns, also when it returns an error, so records handed over
/// before a failure are kept.
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
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut ctx = NangoSync::<Issues>::new(SyncInput::default());
/// ctx.batch_save(vec![Issue { id: 1 }]).await.unwrap();
/// assert_eq!(ctx.into_batches().await.unwrap()[0].records[0]["id"], 1);
/// # });
/// ```
pub struct NangoSync<S: SyncDefinition> {
    input: SyncInput,
    host: Box<dyn SyncHost>,
    #[cfg(feature = "runtime")]
    http: HttpClient,
    pending: Option<(&'static str, RecordChange, Vec<PreparedRecord>)>,
    memory: bool,
    _sync: PhantomData<fn() -> S>,
}

impl<S: SyncDefinition> NangoSync<S> {
    /// A context that keeps records in memory and has no provider (tests); see
    /// [`NangoSync::into_batches`].
    pub fn new(input: SyncInput) -> Self {
        let mut ctx = Self::from_env(SyncEnv::in_memory(input));
        ctx.memory = true;
        ctx
    }

    /// The context of a run the runtime prepared.
    pub fn from_env(env: SyncEnv) -> Self {
        NangoSync {
            input: env.input,
            host: env.host,
            #[cfg(feature = "runtime")]
            http: env.http,
            pending: None,
            memory: false,
            _sync: PhantomData,
        }
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

    /// The HTTP client for the connection's provider (credentials, retries, rate limits).
    #[cfg(feature = "runtime")]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// A GET request to the provider: `nango.get("/user").json::<User>().await`.
    #[cfg(feature = "runtime")]
    pub fn get(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http.get(endpoint)
    }

    /// A POST request to the provider.
    #[cfg(feature = "runtime")]
    pub fn post(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http.post(endpoint)
    }

    /// Pages of `T` from a paginated endpoint, with the provider's pagination settings unless
    /// overridden on the returned value.
    #[cfg(feature = "runtime")]
    pub fn paginate<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        endpoint: impl Into<String>,
    ) -> Paginate<T> {
        self.http.paginate(endpoint)
    }

    /// The connection's metadata, typed by the sync's `input` model.
    pub fn metadata(&self) -> Result<S::Metadata>
    where
        S::Metadata: serde::de::DeserializeOwned,
    {
        let value = if self.input.metadata.is_null() { serde_json::json!({}) } else { self.input.metadata.clone() };
        serde_json::from_value(value).map_err(|e| {
            format!("the connection's metadata does not match the sync's input model: {e}; set it with `connections add ... --metadata`").into()
        })
    }

    /// Replaces the connection's metadata.
    pub async fn set_metadata(&mut self, metadata: &S::Metadata) -> Result<()>
    where
        S::Metadata: serde::Serialize,
    {
        let value = serde_json::to_value(metadata)?;
        self.input.metadata = value.clone();
        self.host.set_metadata(value).await
    }

    /// The checkpoint saved by an earlier run (or earlier in this one), if any.
    pub fn checkpoint<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>> {
        self.input
            .checkpoint
            .clone()
            .map(|c| {
                serde_json::from_value(c)
                    .map_err(|e| format!("the saved checkpoint does not match its type: {e}").into())
            })
            .transpose()
    }

    /// Saves a checkpoint: records handed over so far are written first, then the checkpoint,
    /// so a run that resumes from it has lost nothing. Full syncs' checkpoints are cleared when a
    /// run succeeds; incremental syncs keep theirs until [`NangoSync::clear_checkpoint`].
    pub async fn save_checkpoint<T: serde::Serialize>(&mut self, checkpoint: &T) -> Result<()> {
        let value = serde_json::to_value(checkpoint)?;
        self.flush().await?;
        self.input.checkpoint = Some(value.clone());
        self.host.save_checkpoint(Some(value)).await
    }

    /// Forgets the checkpoint.
    pub async fn clear_checkpoint(&mut self) -> Result<()> {
        self.flush().await?;
        self.input.checkpoint = None;
        self.host.save_checkpoint(None).await
    }

    /// Logs a message in the run's log (kept with the run, shown by the console) and to
    /// `tracing`.
    pub fn log(&mut self, message: impl std::fmt::Display) {
        self.log_at("info", message);
    }

    /// Logs at a level: `debug`, `info`, `warn` or `error`.
    pub fn log_at(&mut self, level: &str, message: impl std::fmt::Display) {
        let message = message.to_string();
        match level {
            "error" => tracing::error!(sync = S::DESCRIPTOR.name, connection = %self.input.connection_id, "{message}"),
            "warn" => tracing::warn!(sync = S::DESCRIPTOR.name, connection = %self.input.connection_id, "{message}"),
            "debug" => tracing::debug!(sync = S::DESCRIPTOR.name, connection = %self.input.connection_id, "{message}"),
            _ => tracing::info!(sync = S::DESCRIPTOR.name, connection = %self.input.connection_id, "{message}"),
        }
        self.host.log(level, message);
    }

    async fn push<M: Model>(&mut self, change: RecordChange, records: impl IntoIterator<Item = M>) -> Result<()> {
        for record in records {
            let json = serde_json::to_value(&record)?;
            let prepared = PreparedRecord::new(M::NAME, json)?;
            let same = matches!(&self.pending, Some((m, c, _)) if *m == M::NAME && *c == change);
            if !same {
                self.flush().await?;
                self.pending = Some((M::NAME, change, Vec::with_capacity(BATCH_SIZE.min(256))));
            }
            let full = match &mut self.pending {
                Some((_, _, buffer)) => {
                    buffer.push(prepared);
                    buffer.len() >= BATCH_SIZE
                }
                None => false,
            };
            if full {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Writes the buffered records now.
    pub async fn flush(&mut self) -> Result<()> {
        if let Some((model, change, records)) = self.pending.take()
            && !records.is_empty()
        {
            self.host.write(model, change, records).await?;
        }
        Ok(())
    }

    /// Saves records of one of the sync's output models.
    pub async fn batch_save<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Save, records).await
    }

    /// Merges changes into existing records of one of the sync's output models (objects merged
    /// key by key, arrays replaced).
    pub async fn batch_update<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Update, records).await
    }

    /// Deletes records of one of the sync's output models.
    pub async fn batch_delete<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Delete, records).await
    }

    /// Ends the run: writes what is buffered (also after an error of the function, so records
    /// handed over before it are kept) and returns the function's result.
    pub async fn finish(mut self, result: Result<()>) -> Result<()> {
        let flushed = self.flush().await;
        result.and(flushed)
    }

    /// For contexts made by [`NangoSync::new`]: the batches written, in order.
    pub async fn into_batches(mut self) -> Result<Vec<RecordBatch>> {
        self.flush().await?;
        if !self.memory {
            return Err("into_batches is only for contexts made by NangoSync::new".into());
        }
        Ok(self.host.take_batches())
    }
}

/// Everything an action or on-event script gets from the runtime.
pub struct ScriptEnv {
    /// The connection the run is for.
    pub connection_id: String,
    /// The connection's metadata.
    pub metadata: serde_json::Value,
    /// Requests to the provider with the connection's credentials.
    #[cfg(feature = "runtime")]
    pub http: HttpClient,
}

impl ScriptEnv {
    /// An environment without a provider (tests).
    pub fn detached(connection_id: impl Into<String>, metadata: serde_json::Value) -> ScriptEnv {
        ScriptEnv {
            connection_id: connection_id.into(),
            metadata,
            #[cfg(feature = "runtime")]
            http: HttpClient::detached(),
        }
    }
}

/// The context of an action run.
pub struct NangoAction<A: ActionDefinition> {
    env: ScriptEnv,
    _action: PhantomData<fn() -> A>,
}

impl<A: ActionDefinition> NangoAction<A> {
    /// A context for one run.
    pub fn new(env: ScriptEnv) -> Self {
        NangoAction { env, _action: PhantomData }
    }

    /// What nango.yaml says about this action.
    pub fn descriptor(&self) -> &'static ActionDescriptor {
        &A::DESCRIPTOR
    }

    /// The connection this run is for.
    pub fn connection_id(&self) -> &str {
        &self.env.connection_id
    }

    /// The connection's metadata, as JSON.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.env.metadata
    }

    /// The HTTP client for the connection's provider.
    #[cfg(feature = "runtime")]
    pub fn http(&self) -> &HttpClient {
        &self.env.http
    }

    /// A GET request to the provider.
    #[cfg(feature = "runtime")]
    pub fn get(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.env.http.get(endpoint)
    }

    /// A POST request to the provider.
    #[cfg(feature = "runtime")]
    pub fn post(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.env.http.post(endpoint)
    }
}

/// The context of an on-event script run.
pub struct NangoEvent {
    env: ScriptEnv,
    event: OnEvent,
}

impl NangoEvent {
    /// A context for one run.
    pub fn new(env: ScriptEnv, event: OnEvent) -> Self {
        NangoEvent { env, event }
    }

    /// The connection this run is for.
    pub fn connection_id(&self) -> &str {
        &self.env.connection_id
    }

    /// The connection's metadata, as JSON.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.env.metadata
    }

    /// The HTTP client for the connection's provider.
    #[cfg(feature = "runtime")]
    pub fn http(&self) -> &HttpClient {
        &self.env.http
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
    /// Runs it for a connection.
    pub run: fn(ScriptEnv) -> BoxFuture<Result<()>>,
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
    /// Runs it on one payload.
    pub run: fn(SyncEnv, serde_json::Value) -> BoxFuture<Result<()>>,
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
    /// Runs it.
    pub run: fn(SyncEnv) -> BoxFuture<Result<()>>,
    /// `(name, JSON Schema)` of its output models.
    pub schemas: fn() -> Vec<(&'static str, serde_json::Value)>,
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
    /// Runs it on a JSON input (checked against the input model).
    pub run: fn(ScriptEnv, serde_json::Value) -> BoxFuture<Result<serde_json::Value>>,
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
