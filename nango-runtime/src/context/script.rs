//! The contexts of actions and on-event scripts.

#[cfg(feature = "runtime")]
use crate::http::{HttpClient, RequestBuilder};
use crate::{ActionDefinition, ActionDescriptor, OnEvent};
use std::marker::PhantomData;

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
