//! [`HttpClient`]: the face of the HTTP client, made for one connection of one provider. It
//! hands out [`RequestBuilder`]s and [`Paginate`]s over the connection's session, which does the
//! work (see the module docs of [`crate::http`] for the layers).

use super::error::HttpError;
use super::options::{HttpOptions, HttpStats};
use super::paginate::Paginate;
use super::request::RequestBuilder;
use super::session::Session;
use crate::providers::Provider;
use crate::{BoxFuture, Connection, Credentials};
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The typed HTTP client sync functions call their provider's API with.
///
/// It is built for one connection of one provider and does what Nango's proxy does, and more:
///
/// * **URLs**: an endpoint is appended to the per-call [`base_url`](RequestBuilder::base_url),
///   else the connection's `base_url`, else the provider's `proxy.base_url` (its
///   `${connectionConfig.x}` filled). An absolute `http(s)://` endpoint is used as it is.
/// * **Credentials**: the provider's `proxy.headers` and `proxy.query` templates are filled
///   (`${apiKey}`, `${accessToken}`, `${credentials.x}`, `${connectionConfig.x}`). When they do
///   not place the credentials themselves (and set no `authorization`), a bearer token, API key
///   or OAuth access token goes in `Authorization: Bearer`, a user and password in basic auth.
///   A `User-Agent` is always sent.
/// * **OAuth 2**: tokens expiring within 60 s are refreshed before use; a 401 refreshes once and
///   retries once; a second 401, or a refresh that fails, is
///   [`HttpError::InvalidCredentials`]. Refreshes are serialized, and the new credentials are
///   handed to [`on_credentials_refreshed`](HttpClient::on_credentials_refreshed). The token URL
///   follows a connection's `base_url` override (see below).
/// * **Retries** (5 by default; Nango's default is none): network errors, timeouts, 5xx and 429,
///   or the provider's `retry.error_code` list instead of 5xx/429, plus per-call
///   [`retry_on`](RequestBuilder::retry_on), plus any status when the provider's `remaining`
///   header is `0`. The wait is the longest the response asks for (`Retry-After` in seconds or as
///   an HTTP date, the provider's `retry.after` headers, and for rate limits the `retry.at` /
///   `x-ratelimit-reset` reset time in epoch seconds or milliseconds), up to
///   [`HttpOptions::max_header_wait`] (beyond it the request fails with
///   [`HttpError::WaitTooLong`] rather than sleep), else exponential backoff with jitter.
/// * **Throttling**: a response saying no request is left (`remaining: 0`) with a reset time
///   makes the next request wait for the reset; [`HttpOptions::rate_limit`] adds a token bucket.
/// * **Redirects are not followed**: a 3xx is [`HttpError::Redirect`], naming the `Location`.
///   Following them would send the connection's credentials wherever the provider points and
///   hide a wrong base URL, and provider APIs answer the URLs they document directly.
/// * **Errors** name the request (`GET https://api.github.com/...`) and never contain a
///   credential; bodies are quoted up to 1 KB; typed decoding names the field that failed.
/// * **Recording**: with [`HttpOptions::save_responses`], each final exchange is written as JSON
///   for the mock provider to replay.
///
/// When the connection overrides the base URL, the provider's `token_url` is moved to the
/// override's origin (`https://github.com/login/oauth/access_token` with the override
/// `http://127.0.0.1:4000` is `http://127.0.0.1:4000/login/oauth/access_token`): a loopback mock
/// serves both, and self-hosted providers (GitHub Enterprise) serve their token endpoint there
/// too. A relative `token_url` is resolved against the base URL's origin.
///
/// Cloning is cheap and clones share everything: credentials, throttling state, counters.
///
/// ```no_run
/// use futures_util::TryStreamExt;
/// use nango_runtime::http::{HttpClient, HttpOptions};
/// use nango_runtime::providers::ProviderCatalog;
/// use nango_runtime::{Connection, Credentials, Secret};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Issue { number: u64, title: String }
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let provider = ProviderCatalog::builtin().get("github-pat").unwrap();
/// let mut connection = Connection::new("github", "acme", "github-pat");
/// connection.credentials = Credentials::ApiKey { api_key: Secret::new("ghp_...") };
///
/// let client = HttpClient::new(provider, connection, HttpOptions::default())?;
/// // One request, typed:
/// let repo: serde_json::Value = client.get("/repos/octocat/hello-world").send_json().await?;
/// // Every page of issues (the provider's `link` pagination, 100 per page):
/// let mut pages = client.paginate::<Issue>("/repos/octocat/hello-world/issues").limit(100).into_stream();
/// while let Some(page) = pages.try_next().await? {
///     println!("{} issues", page.len());
/// }
/// println!("{:?}", client.stats());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient {
    session: Arc<Session>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let session = &self.session;
        f.debug_struct("HttpClient")
            .field("provider", &session.provider())
            .field("connection_id", &session.connection_id())
            .field("base_url", &session.base_url())
            .field("credentials", &session.auth().credentials().kind())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `connection` of `provider` (a [`ProviderCatalog`](crate::providers::ProviderCatalog)
    /// entry; `Provider::default()` for an API the catalog does not know, with the connection's
    /// `base_url`).
    ///
    /// Fails when the base URL or token URL templates lack a value for this connection, the
    /// provider's `retry.error_code` list is invalid, the rate limit is zero, or the
    /// `save_responses` folder cannot be created.
    pub fn new(provider: Provider, connection: Connection, options: HttpOptions) -> Result<HttpClient, HttpError> {
        #[cfg(feature = "tls")]
        {
            // reqwest is built without a default crypto provider (see Cargo.toml); this installs
            // ring once per process. An error means one is installed already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        Ok(HttpClient { session: Arc::new(Session::new(provider, connection, options)?) })
    }

    /// A client without provider or credentials, for contexts made without a connection
    /// (tests): relative endpoints fail with an error saying there is no base URL.
    ///
    /// ```
    /// let client = nango_runtime::http::HttpClient::detached();
    /// assert_eq!(client.base_url(), None);
    /// ```
    pub fn detached() -> HttpClient {
        HttpClient::new(Provider::default(), Connection::new("", "", ""), HttpOptions::default())
            .expect("a client without base URL, retry settings, rate limit or recorder always builds")
    }

    /// Sets the function called with the new credentials after each OAuth refresh, so that the
    /// caller can persist them (encrypted). If it fails the error is logged and the run goes on
    /// with the new tokens, which work; failing the request would not bring back a refresh token
    /// the provider has rotated.
    ///
    /// ```
    /// # fn demo(client: nango_runtime::http::HttpClient) {
    /// let client = client.on_credentials_refreshed(|credentials| {
    ///     Box::pin(async move {
    ///         println!("new credentials of kind {}", credentials.kind());
    ///         Ok(())
    ///     })
    /// });
    /// # }
    /// ```
    pub fn on_credentials_refreshed(
        self,
        callback: impl Fn(Credentials) -> BoxFuture<crate::Result<()>> + Send + Sync + 'static,
    ) -> Self {
        self.session.auth().on_refreshed(Arc::new(callback));
        self
    }

    /// Calls `callback` with why when the provider refuses a token refresh (a 4xx answer or an
    /// OAuth error: the refresh token was revoked or expired), before the request fails.
    pub fn on_refresh_refused(self, callback: impl Fn(String) -> BoxFuture<()> + Send + Sync + 'static) -> Self {
        self.session.auth().on_refused(Arc::new(callback));
        self
    }

    /// A `GET` request to `endpoint` (a path appended to the base URL, or an absolute URL).
    pub fn get(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.request(Method::GET, endpoint)
    }

    /// A `POST` request.
    pub fn post(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.request(Method::POST, endpoint)
    }

    /// A `PUT` request.
    pub fn put(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.request(Method::PUT, endpoint)
    }

    /// A `PATCH` request.
    pub fn patch(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.request(Method::PATCH, endpoint)
    }

    /// A `DELETE` request.
    pub fn delete(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.request(Method::DELETE, endpoint)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, endpoint: impl Into<String>) -> RequestBuilder {
        RequestBuilder::new(self.session.clone(), method, endpoint.into())
    }

    /// The pages of a list endpoint, by the provider's `proxy.paginate` merged with
    /// [`Paginate::pagination`] (see [`Paginate`]).
    pub fn paginate<T: DeserializeOwned + Send + 'static>(&self, endpoint: impl Into<String>) -> Paginate<T> {
        Paginate::new(self.get(endpoint))
    }

    /// Counters since the client was created.
    pub fn stats(&self) -> HttpStats {
        self.session.stats()
    }

    /// The credentials in use (refreshed ones after a refresh).
    pub fn credentials(&self) -> Credentials {
        self.session.auth().credentials()
    }

    /// The base URL endpoints are appended to, if there is one.
    pub fn base_url(&self) -> Option<&str> {
        self.session.base_url()
    }

    /// The credentials to hand out, fresh: OAuth 2 tokens are refreshed when they are about to
    /// expire, or always with `force` (connections without a refresh token are returned as
    /// they are); refreshed ones go to
    /// [`on_credentials_refreshed`](HttpClient::on_credentials_refreshed) like a sync's.
    ///
    /// ```no_run
    /// # async fn demo(client: nango_runtime::http::HttpClient) -> Result<(), nango_runtime::http::HttpError> {
    /// let credentials = client.fresh_credentials(true).await?; // a new access token
    /// println!("{}", credentials.kind());
    /// # Ok(()) }
    /// ```
    pub async fn fresh_credentials(&self, force: bool) -> Result<Credentials, HttpError> {
        let auth = self.session.auth();
        let refreshed = if force && auth.can_refresh() {
            auth.refresh(auth.current().generation).await
        } else {
            auth.refresh_if_expiring().await
        };
        refreshed.map_err(|message| {
            self.session.secrets().scrub_error(HttpError::InvalidCredentials {
                request: format!("refreshing the OAuth tokens of connection `{}`", self.session.connection_id()),
                message: format!("failed: {message}; reconnect the connection"),
            })
        })?;
        Ok(auth.credentials())
    }

    /// `bytes` with every credential this client has held replaced by `***` (for what a proxy
    /// passes on from the provider).
    pub(crate) fn scrub_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        self.session.secrets().scrub_bytes(bytes)
    }
}
