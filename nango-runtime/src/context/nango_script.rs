//! [`NangoScript`]: what the contexts of syncs, actions and on-event scripts have in common, so
//! that a helper is written once for all of them (Nango's `NangoAction`, which `NangoSync`
//! extends).

use super::{BoxFutureRef, EnvironmentVariable, LogLevel, Result};
use crate::Connection;
#[cfg(feature = "runtime")]
use crate::http::{HttpClient, Method, Paginate, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// What every script's context offers: requests to the provider, the connection, its metadata,
/// logs and environment variables. [`NangoSync`](crate::NangoSync),
/// [`NangoAction`](crate::NangoAction) and [`NangoEvent`](crate::NangoEvent) implement it; write
/// helpers against it (`nango: &mut impl NangoScript`) to share them between scripts.
///
/// Nango's names are kept (`get_connection`, `get_metadata`, `set_metadata`, `update_metadata`,
/// `get_environment_variables`); the README maps every method of Nango's SDK.
///
/// ```
/// use nango_runtime::{LogLevel, MemoryScriptHost, NangoScript};
///
/// // A helper for syncs and actions alike (Nango's templates have many: `getSubdomain`, ...).
/// async fn remember_locale(nango: &mut impl NangoScript, locale: &str) -> nango_runtime::Result<String> {
///     let subdomain = nango.get_connection().connection_config.get("subdomain").cloned().unwrap_or_default();
///     nango.update_metadata(&serde_json::json!({ "locale": locale })).await?;
///     nango.log_at(LogLevel::Debug, format!("locale of {subdomain} is {locale}"));
///     Ok(subdomain)
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let host = MemoryScriptHost::default();
/// let mut env = nango_runtime::ScriptEnv::detached("acme", serde_json::json!({"team": "a"}));
/// env.connection.connection_config.insert("subdomain".into(), "acme".into());
/// env.host = Box::new(host.clone());
/// # struct Noop;
/// # impl nango_runtime::ActionDefinition for Noop {
/// #     const DESCRIPTOR: nango_runtime::ActionDescriptor = nango_runtime::ActionDescriptor {
/// #         name: "noop", integration: "zendesk", description: "", input: None, outputs: &[],
/// #         endpoint: None, scopes: &[], version: "",
/// #     };
/// #     type Input = (); type Output = ();
/// # }
/// let mut action = nango_runtime::NangoAction::<Noop>::new(env);
/// assert_eq!(remember_locale(&mut action, "fr").await.unwrap(), "acme");
/// assert_eq!(host.metadata(), Some(serde_json::json!({"team": "a", "locale": "fr"})));
/// assert_eq!(action.get_metadata::<serde_json::Value>().unwrap()["locale"], "fr");
/// assert_eq!(host.logs()[0], (LogLevel::Debug, "locale of acme is fr".to_owned()));
/// # });
/// ```
pub trait NangoScript: Send {
    /// The connection as the run got it (use [`get_connection`](Self::get_connection) for its
    /// current metadata and credentials).
    fn connection(&self) -> &Connection;

    /// The connection's metadata as it is now (after this run's changes), as JSON.
    fn metadata_json(&self) -> &serde_json::Value;

    /// Replaces the connection's metadata (what [`set_metadata`](Self::set_metadata) and
    /// [`update_metadata`](Self::update_metadata) end in).
    fn replace_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>>;

    /// Logs a line at `level` in the run's log and to `tracing` (Nango's
    /// `log(message, { level })`).
    fn log_at(&mut self, level: LogLevel, message: impl std::fmt::Display);

    /// The environment variables scripts get (Nango's `getEnvironmentVariables()`; the CLI
    /// gives those of the process named `NANGO_SCRIPT_ENV_*`, see
    /// [`EnvironmentVariable::ENV_PREFIX`]).
    fn get_environment_variables(&self) -> &[EnvironmentVariable];

    /// The HTTP client for the connection's provider.
    #[cfg(feature = "runtime")]
    fn http(&self) -> &HttpClient;

    /// The connection this run is for.
    fn connection_id(&self) -> &str {
        &self.connection().connection_id
    }

    /// The integration's key in nango.yaml (Nango's `providerConfigKey`).
    fn provider_config_key(&self) -> &str {
        &self.connection().provider_config_key
    }

    /// The connection, with its current metadata and credentials (Nango's `getConnection()`):
    /// `connection_config` holds the values the provider's templates use (`subdomain`, ...), the
    /// credentials are [`Secret`](crate::Secret)s that never print.
    fn get_connection(&self) -> Connection {
        let mut connection = self.connection().clone();
        connection.metadata = self.metadata_json().clone();
        #[cfg(feature = "runtime")]
        {
            connection.credentials = self.http().credentials();
        }
        connection
    }

    /// The connection's metadata, decoded into `T` (Nango's `getMetadata()`); no metadata
    /// decodes as an empty object.
    fn get_metadata<T: DeserializeOwned>(&self) -> Result<T> {
        let value = match self.metadata_json() {
            serde_json::Value::Null => serde_json::json!({}),
            other => other.clone(),
        };
        serde_path_to_error::deserialize(value)
            .map_err(|e| format!("the connection's metadata does not decode at `{}`: {}", e.path(), e.inner()).into())
    }

    /// Replaces the connection's metadata (Nango's `setMetadata`).
    fn set_metadata<T: Serialize + ?Sized + Sync>(&mut self, metadata: &T) -> impl Future<Output = Result<()>> + Send {
        let value = serde_json::to_value(metadata);
        async move { self.replace_metadata(value?).await }
    }

    /// Merges `partial`'s top-level keys into the connection's metadata (Nango's
    /// `updateMetadata`): keys it names are replaced, the others kept.
    fn update_metadata<T: Serialize + ?Sized + Sync>(
        &mut self,
        partial: &T,
    ) -> impl Future<Output = Result<()>> + Send {
        let merged = serde_json::to_value(partial).map_err(crate::Error::from).and_then(|partial| {
            if !partial.is_object() {
                return Err("update_metadata takes an object: its keys replace those of the metadata".into());
            }
            Ok(crate::store::merge_metadata(self.metadata_json(), &partial))
        });
        async move { self.replace_metadata(merged?).await }
    }

    /// Logs a line at the `info` level.
    fn log(&mut self, message: impl std::fmt::Display) {
        self.log_at(LogLevel::Info, message);
    }

    /// A request with any method to the provider (Nango's `proxy`).
    #[cfg(feature = "runtime")]
    fn proxy(&self, method: Method, endpoint: impl Into<String>) -> RequestBuilder {
        self.http().request(method, endpoint)
    }

    /// A GET request to the provider.
    #[cfg(feature = "runtime")]
    fn get(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http().get(endpoint)
    }

    /// A POST request to the provider.
    #[cfg(feature = "runtime")]
    fn post(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http().post(endpoint)
    }

    /// A PUT request to the provider.
    #[cfg(feature = "runtime")]
    fn put(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http().put(endpoint)
    }

    /// A PATCH request to the provider.
    #[cfg(feature = "runtime")]
    fn patch(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http().patch(endpoint)
    }

    /// A DELETE request to the provider.
    #[cfg(feature = "runtime")]
    fn delete(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http().delete(endpoint)
    }

    /// The pages of a list endpoint (Nango's `paginate`), by the provider's pagination unless
    /// overridden on the returned value.
    #[cfg(feature = "runtime")]
    fn paginate<T: DeserializeOwned + Send + 'static>(&self, endpoint: impl Into<String>) -> Paginate<T> {
        self.http().paginate(endpoint)
    }
}
