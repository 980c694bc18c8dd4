//! The contexts of actions and on-event scripts.

use super::host::detached_connection;
use super::{BoxFutureRef, EnvironmentVariable, LogLevel, MemoryScriptHost, NangoScript, Result, ScriptHost};
#[cfg(feature = "runtime")]
use crate::http::HttpClient;
use crate::{ActionDefinition, ActionDescriptor, Connection, OnEvent};
use std::marker::PhantomData;

/// Everything an action or on-event script gets from the runtime.
pub struct ScriptEnv {
    /// The connection the run is for (its metadata as the run starts).
    pub connection: Connection,
    /// The environment variables scripts get.
    pub environment: Vec<EnvironmentVariable>,
    /// Where metadata changes and log lines go.
    pub host: Box<dyn ScriptHost>,
    /// Requests to the provider with the connection's credentials.
    #[cfg(feature = "runtime")]
    pub http: HttpClient,
}

impl ScriptEnv {
    /// An environment without a provider (tests): metadata changes and logs are kept in a
    /// [`MemoryScriptHost`] (replace `host` with a clone of your own to read them).
    pub fn detached(connection_id: impl Into<String>, metadata: serde_json::Value) -> ScriptEnv {
        ScriptEnv {
            connection: detached_connection(&connection_id.into(), &metadata),
            environment: Vec::new(),
            host: Box::new(MemoryScriptHost::default()),
            #[cfg(feature = "runtime")]
            http: HttpClient::detached(),
        }
    }
}

/// What the contexts of actions and on-event scripts share: the environment, and the metadata
/// as this run left it.
struct ScriptState {
    env: ScriptEnv,
    metadata: serde_json::Value,
    /// The script's name, for log lines sent to `tracing`.
    name: &'static str,
}

impl ScriptState {
    fn new(env: ScriptEnv, name: &'static str) -> Self {
        ScriptState { metadata: env.connection.metadata.clone(), env, name }
    }

    fn replace_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
        self.metadata = metadata.clone();
        self.env.host.set_metadata(metadata)
    }

    fn log_at(&mut self, level: LogLevel, message: String) {
        let (script, connection) = (self.name, &self.env.connection.connection_id);
        match level {
            LogLevel::Error => tracing::error!(script, connection = %connection, "{message}"),
            LogLevel::Warn => tracing::warn!(script, connection = %connection, "{message}"),
            LogLevel::Info => tracing::info!(script, connection = %connection, "{message}"),
            LogLevel::Debug => tracing::debug!(script, connection = %connection, "{message}"),
        }
        self.env.host.log(level, message);
    }
}

/// The context of an action run: what `#[nango_action]` functions receive. Everything but the
/// action's description comes from [`NangoScript`] (requests, connection, metadata, logs,
/// environment variables); an action fails for its caller with
/// [`ActionError`](crate::ActionError).
pub struct NangoAction<A: ActionDefinition> {
    state: ScriptState,
    _action: PhantomData<fn() -> A>,
}

impl<A: ActionDefinition> NangoAction<A> {
    /// A context for one run.
    pub fn new(env: ScriptEnv) -> Self {
        NangoAction { state: ScriptState::new(env, A::DESCRIPTOR.name), _action: PhantomData }
    }

    /// What nango.yaml says about this action.
    pub fn descriptor(&self) -> &'static ActionDescriptor {
        &A::DESCRIPTOR
    }

    /// The connection's metadata, as JSON (see [`NangoScript::get_metadata`] for a typed copy).
    pub fn metadata(&self) -> &serde_json::Value {
        &self.state.metadata
    }

    /// The connection this run is for (also [`NangoScript::connection_id`]; inherent so that
    /// it needs no import).
    pub fn connection_id(&self) -> &str {
        &self.state.env.connection.connection_id
    }

    /// The HTTP client for the connection's provider.
    #[cfg(feature = "runtime")]
    pub fn http(&self) -> &HttpClient {
        &self.state.env.http
    }

    /// A GET request to the provider.
    #[cfg(feature = "runtime")]
    pub fn get(&self, endpoint: impl Into<String>) -> crate::http::RequestBuilder {
        self.state.env.http.get(endpoint)
    }

    /// A POST request to the provider.
    #[cfg(feature = "runtime")]
    pub fn post(&self, endpoint: impl Into<String>) -> crate::http::RequestBuilder {
        self.state.env.http.post(endpoint)
    }
}

impl<A: ActionDefinition> NangoScript for NangoAction<A> {
    fn connection(&self) -> &Connection {
        &self.state.env.connection
    }

    fn metadata_json(&self) -> &serde_json::Value {
        &self.state.metadata
    }

    fn replace_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
        self.state.replace_metadata(metadata)
    }

    fn log_at(&mut self, level: LogLevel, message: impl std::fmt::Display) {
        self.state.log_at(level, message.to_string());
    }

    fn get_environment_variables(&self) -> &[EnvironmentVariable] {
        &self.state.env.environment
    }

    #[cfg(feature = "runtime")]
    fn http(&self) -> &HttpClient {
        &self.state.env.http
    }
}

/// The context of an on-event script run (see [`NangoScript`] for what it offers).
pub struct NangoEvent {
    state: ScriptState,
    event: OnEvent,
}

impl NangoEvent {
    /// A context for one run.
    pub fn new(env: ScriptEnv, event: OnEvent) -> Self {
        NangoEvent { state: ScriptState::new(env, "on-event"), event }
    }

    /// The connection's metadata, as JSON.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.state.metadata
    }

    /// Why the script runs.
    pub fn event(&self) -> OnEvent {
        self.event
    }

    /// The connection this run is for.
    pub fn connection_id(&self) -> &str {
        &self.state.env.connection.connection_id
    }

    /// The HTTP client for the connection's provider.
    #[cfg(feature = "runtime")]
    pub fn http(&self) -> &HttpClient {
        &self.state.env.http
    }
}

impl NangoScript for NangoEvent {
    fn connection(&self) -> &Connection {
        &self.state.env.connection
    }

    fn metadata_json(&self) -> &serde_json::Value {
        &self.state.metadata
    }

    fn replace_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
        self.state.replace_metadata(metadata)
    }

    fn log_at(&mut self, level: LogLevel, message: impl std::fmt::Display) {
        self.state.log_at(level, message.to_string());
    }

    fn get_environment_variables(&self) -> &[EnvironmentVariable] {
        &self.state.env.environment
    }

    #[cfg(feature = "runtime")]
    fn http(&self) -> &HttpClient {
        &self.state.env.http
    }
}
