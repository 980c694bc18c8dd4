//! [`NangoClient`]: the base URL, the secret key and the HTTP client every request shares.
//!
//! The requests themselves live with what they read: records in [`crate::records`], sync
//! status and commands in [`crate::sync`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, USER_AGENT};
use reqwest::{Method, RequestBuilder};

use crate::error::{ClientError, server_error};

/// A client of the service's (or Nango's) HTTP API.
///
/// Cheap to clone: clones share the connection pool.
///
/// ```
/// use nango_client::NangoClient;
/// let client = NangoClient::new("http://localhost:3003/", "secret-key");
/// assert_eq!(client.base_url(), "http://localhost:3003");
/// assert!(!format!("{client:?}").contains("secret-key"));
/// ```
#[derive(Clone)]
pub struct NangoClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: Arc<str>,
    secret_key: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for NangoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret key must never reach a log line.
        f.debug_struct("NangoClient")
            .field("base_url", &self.base_url)
            .field("secret_key", &"***")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl NangoClient {
    /// A client of the API at `base_url` (`https://api.nango.dev`, `http://localhost:3003`),
    /// authenticated with the environment's secret key. Requests time out after 30 s.
    ///
    /// ```
    /// let client = nango_client::NangoClient::new("https://api.nango.dev", "sk");
    /// # let _ = client;
    /// ```
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<String>) -> Self {
        #[cfg(feature = "tls")]
        {
            // reqwest is built without a default crypto provider (see the workspace's
            // Cargo.toml); this installs ring once per process. An error means one is installed
            // already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        // The secret key goes in a header: a redirect to another host must not receive it.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let base_url: String = base_url.into();
        NangoClient {
            http,
            base_url: Arc::from(base_url.trim_end_matches('/')),
            secret_key: Arc::from(secret_key.into()),
            timeout: Duration::from_secs(30),
        }
    }

    /// Uses this reqwest client (proxies, TLS settings, a shared pool).
    ///
    /// ```
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk")
    ///     .with_http_client(nango_client::reqwest::Client::new());
    /// # let _ = client;
    /// ```
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Sets the timeout of each request.
    ///
    /// ```
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk")
    ///     .timeout(std::time::Duration::from_secs(5));
    /// # let _ = client;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL, without a trailing `/`.
    ///
    /// ```
    /// assert_eq!(nango_client::NangoClient::new("http://h:1/api/", "k").base_url(), "http://h:1/api");
    /// ```
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A request to `path` with the key, the timeout and the headers every request carries.
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .timeout(self.timeout)
            .bearer_auth(&*self.secret_key)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("nango-rs/", env!("CARGO_PKG_VERSION")))
    }

    /// Sends, and returns `METHOD url` with the body of a 2xx answer.
    pub(crate) async fn send(&self, builder: RequestBuilder) -> Result<(String, Bytes), ClientError> {
        let request =
            builder.build().map_err(|e| ClientError::InvalidRequest { message: nango_types::text::error_chain(&e) })?;
        let name = format!("{} {}", request.method(), request.url());
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| ClientError::Network { request: name.clone(), message: nango_types::text::error_chain(&e) })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Network { request: name.clone(), message: nango_types::text::error_chain(&e) })?;
        tracing::debug!(request = %name, status = status.as_u16(), "nango API request");
        if status.is_success() {
            return Ok((name, bytes));
        }
        let (code, message) = server_error(&bytes, status);
        Err(ClientError::Api { request: name, status: status.as_u16(), code, message })
    }
}
