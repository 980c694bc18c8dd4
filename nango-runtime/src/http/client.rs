//! [`HttpClient`] and the request loop: building, sending, retrying, refreshing, throttling,
//! recording.

use super::HttpError;
use super::auth::{self, AuthState};
use super::error::excerpt;
use super::options::{HttpOptions, HttpStats};
use super::paginate::Paginate;
use super::record::Recorder;
use super::request::{Body, RequestBuilder, RequestParts};
use super::response::Response;
use super::retry::{Backoff, RetryPolicy};
use crate::providers::{Provider, ProxyConfig, interpolate};
use crate::{BoxFuture, Connection, Credentials};
use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use nango_types::text::{error_chain, human_duration};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION, USER_AGENT};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Called with the new credentials after an OAuth refresh.
type RefreshCallback = dyn Fn(Credentials) -> BoxFuture<crate::Result<()>> + Send + Sync;

/// Proactive waits shorter than this are skipped: they are clock noise between the retry that
/// already slept until the reset and the pause recorded from the same response.
const NEGLIGIBLE_WAIT: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limit_waits: AtomicU64,
    pub refreshes: AtomicU64,
}

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
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) provider_key: String,
    connection_id: String,
    proxy: ProxyConfig,
    pub(crate) options: HttpOptions,
    base_url: Option<String>,
    pub(crate) token_url: Option<Url>,
    connection_config: BTreeMap<String, String>,
    pub(crate) auth: Mutex<AuthState>,
    pub(crate) refresh_lock: tokio::sync::Mutex<()>,
    pub(crate) on_refreshed: Mutex<Option<Arc<RefreshCallback>>>,
    retry: RetryPolicy,
    /// Query parameters (lower case) whose provider template reads credentials.
    secret_params: Vec<String>,
    /// Whether the provider's templates place the credentials (or set `authorization`), so the
    /// default `Authorization` header is not added.
    templates_authenticate: bool,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Until when requests hold back because the provider said no request is left, and why.
    paused_until: Mutex<Option<(Instant, String)>>,
    recorder: Option<Recorder>,
    pub(crate) stats: Counters,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        let credentials = inner.auth.lock().unwrap_or_else(|e| e.into_inner()).credentials.kind();
        f.debug_struct("HttpClient")
            .field("provider", &inner.provider_key)
            .field("connection_id", &inner.connection_id)
            .field("base_url", &inner.base_url)
            .field("credentials", &credentials)
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
        let provider_key = connection.provider.clone();
        let config_err = |message: String| HttpError::Config { provider: provider_key.clone(), message };

        #[cfg(feature = "tls")]
        {
            // reqwest is built without a default crypto provider (see Cargo.toml); this installs
            // ring once per process. An error means one is installed already, which is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }

        let proxy = provider.proxy.clone().unwrap_or_default();
        let values = auth::template_values(&connection.credentials, &connection.connection_config);
        let base_url = match (&connection.base_url, &proxy.base_url) {
            (Some(base), _) => Some(base.clone()),
            (None, Some(template)) => {
                Some(interpolate(template, &values).map_err(|e| config_err(format!("proxy.base_url: {e}")))?)
            }
            (None, None) => None,
        };
        if let Some(base) = &base_url {
            Url::parse(base).map_err(|e| config_err(format!("base URL `{base}`: {e}")))?;
        }
        // Only OAuth connections refresh; others must not fail on a token URL they never use.
        let token_url = match &connection.credentials {
            Credentials::OAuth2 { .. } => auth::resolve_token_url(
                provider.token_url.as_deref(),
                &values,
                connection.base_url.as_deref(),
                base_url.as_deref(),
            )
            .map_err(config_err)?,
            _ => None,
        };
        let retry = RetryPolicy::new(proxy.retry.as_ref()).map_err(config_err)?;
        let secret_params = proxy
            .query
            .iter()
            .filter(|(_, template)| auth::mentions_credentials(template))
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect();
        let templates_authenticate =
            proxy.headers.iter().any(|(name, template)| {
                name.eq_ignore_ascii_case("authorization") || auth::mentions_credentials(template)
            }) || proxy.query.values().any(|template| auth::mentions_credentials(template));
        let limiter = match options.rate_limit {
            None => None,
            Some(limit) => {
                let per_second = NonZeroU32::new(limit.per_second)
                    .ok_or_else(|| config_err("rate_limit.per_second must be at least 1".into()))?;
                let burst = NonZeroU32::new(limit.burst)
                    .ok_or_else(|| config_err("rate_limit.burst must be at least 1".into()))?;
                Some(RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)))
            }
        };
        let recorder = match &options.save_responses {
            None => None,
            Some(dir) => Some(
                Recorder::new(dir, retry.header_names().map(str::to_owned).collect())
                    .map_err(|e| config_err(format!("save_responses folder {}: {e}", dir.display())))?,
            ),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| config_err(format!("cannot build the HTTP client: {}", error_chain(&e))))?;

        Ok(HttpClient {
            inner: Arc::new(Inner {
                http,
                provider_key,
                connection_id: connection.connection_id,
                proxy,
                options,
                base_url,
                token_url,
                connection_config: connection.connection_config,
                auth: Mutex::new(AuthState::new(connection.credentials)),
                refresh_lock: tokio::sync::Mutex::new(()),
                on_refreshed: Mutex::new(None),
                retry,
                secret_params,
                templates_authenticate,
                limiter,
                paused_until: Mutex::new(None),
                recorder,
                stats: Counters::default(),
            }),
        })
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
        *self.inner.on_refreshed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(callback));
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
        RequestBuilder::new(self.clone(), method, endpoint.into())
    }

    /// The pages of a list endpoint, by the provider's `proxy.paginate` merged with
    /// [`Paginate::pagination`] (see [`Paginate`]).
    pub fn paginate<T: DeserializeOwned + Send + 'static>(&self, endpoint: impl Into<String>) -> Paginate<T> {
        Paginate::new(self.clone(), RequestParts::new(Method::GET, endpoint.into()))
    }

    /// Counters since the client was created.
    pub fn stats(&self) -> HttpStats {
        let s = &self.inner.stats;
        HttpStats {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            rate_limit_waits: s.rate_limit_waits.load(Ordering::Relaxed),
            refreshes: s.refreshes.load(Ordering::Relaxed),
        }
    }

    /// The credentials in use (refreshed ones after a refresh).
    pub fn credentials(&self) -> Credentials {
        self.inner.auth.lock().unwrap_or_else(|e| e.into_inner()).credentials.clone()
    }

    /// The base URL endpoints are appended to, if there is one.
    pub fn base_url(&self) -> Option<&str> {
        self.inner.base_url.as_deref()
    }

    /// The provider's pagination settings (`proxy.paginate`).
    pub(crate) fn provider_pagination(&self) -> Option<&crate::providers::PaginationConfig> {
        self.inner.proxy.paginate.as_ref()
    }

    /// `METHOD url` of a request, as errors name it.
    pub(crate) fn describe(&self, method: &Method, url: &Url) -> String {
        self.inner.describe(method, url)
    }

    /// The URL a request goes to (without the provider's query templates), or the error naming
    /// it.
    pub(crate) fn resolve_url(&self, parts: &RequestParts) -> Result<Url, HttpError> {
        self.inner.resolve_url(parts).map_err(|e| self.inner.scrub_error(e))
    }

    /// Sends a request, retrying as configured.
    pub(crate) async fn execute(&self, parts: &RequestParts) -> Result<Response, HttpError> {
        self.inner.execute(parts).await.map_err(|e| self.inner.scrub_error(e))
    }
}

impl Inner {
    fn secrets(&self) -> Vec<String> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner()).secrets.clone()
    }

    pub(crate) fn scrub_error(&self, error: HttpError) -> HttpError {
        let secrets = self.secrets();
        error.map_text(|text| auth::scrub(text, &secrets))
    }

    fn is_secret_param(&self, name: &str) -> bool {
        auth::is_secret_param(name, &self.secret_params)
    }

    /// The URL as logs and errors show it: no user info, secret query values as `***`, and no
    /// credential anywhere (a token in a path is replaced too).
    pub(crate) fn redact_url(&self, url: &Url) -> String {
        let mut url = url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        if url.query_pairs().any(|(k, _)| self.is_secret_param(&k)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if self.is_secret_param(&k) { "***".to_owned() } else { v.into_owned() };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        auth::scrub(url.to_string(), &self.secrets())
    }

    fn describe(&self, method: &Method, url: &Url) -> String {
        format!("{method} {}", self.redact_url(url))
    }

    fn resolve_url(&self, parts: &RequestParts) -> Result<Url, HttpError> {
        let endpoint = parts.endpoint.trim();
        let lower = endpoint.to_ascii_lowercase();
        let target = if lower.starts_with("http://") || lower.starts_with("https://") {
            endpoint.to_owned()
        } else {
            let base =
                parts.base_url.as_deref().or(self.base_url.as_deref()).ok_or_else(|| HttpError::InvalidRequest {
                    request: format!("{} {endpoint}", parts.method),
                    message: format!(
                        "no base URL: provider `{}` has no proxy.base_url and the connection none; \
                     pass an absolute URL or set base_url",
                        self.provider_key
                    ),
                })?;
            if endpoint.is_empty() || endpoint.starts_with('?') {
                format!("{base}{endpoint}")
            } else {
                format!("{}/{}", base.trim_end_matches('/'), endpoint.trim_start_matches('/'))
            }
        };
        let mut url = Url::parse(&target).map_err(|e| HttpError::InvalidRequest {
            request: format!("{} {target}", parts.method),
            message: format!("invalid URL: {e}"),
        })?;
        if !parts.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&parts.query);
        }
        Ok(url)
    }

    /// Waits while the provider said no request is left, and for the client's own rate limit.
    async fn wait_for_turn(&self, method: &Method, url: &Url) {
        let pause = self.paused_until.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((until, why)) = pause {
            let now = Instant::now();
            if until > now + NEGLIGIBLE_WAIT {
                let wait = (until - now).min(self.options.max_header_wait);
                self.stats.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
                let request = self.describe(method, url);
                let wait_ms = wait.as_millis() as u64;
                tracing::warn!(
                    provider = %self.provider_key, connection = %self.connection_id, reason = %why, wait_ms,
                    "Rate limit reached ({why}). Waiting {wait_ms} ms before {request}"
                );
                tokio::time::sleep(wait).await;
            }
            let mut pause = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            if pause.as_ref().is_some_and(|(t, _)| *t == until) {
                *pause = None;
            }
        }
        if let Some(limiter) = &self.limiter
            && limiter.check().is_err()
        {
            self.stats.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
            limiter.until_ready().await;
        }
    }

    /// Refreshes OAuth tokens that expire within a minute, before they are sent.
    async fn refresh_if_expired(&self, method: &Method, url: &Url) -> Result<(), HttpError> {
        let (expired, generation) = {
            let state = self.auth.lock().unwrap_or_else(|e| e.into_inner());
            (auth::needs_refresh(&state.credentials, Utc::now()), state.generation)
        };
        if !expired {
            return Ok(());
        }
        tracing::info!(
            provider = %self.provider_key, connection = %self.connection_id,
            "The OAuth access token expires within a minute; refreshing it"
        );
        self.refresh(generation).await.map_err(|message| HttpError::InvalidCredentials {
            request: self.describe(method, url),
            message: format!(
                "was not sent: the access token has expired and refreshing it failed: {message}; \
                 reconnect the connection"
            ),
        })
    }

    /// The request of one attempt, with the credentials of now; also the credentials'
    /// generation (for the 401 refresh) and the URL as sent.
    fn build(
        &self,
        parts: &RequestParts,
        url: &Url,
        body: Option<&(Vec<u8>, bool)>,
        timeout: Duration,
    ) -> Result<(reqwest::Request, u64, Url), HttpError> {
        let (credentials, generation) = {
            let state = self.auth.lock().unwrap_or_else(|e| e.into_inner());
            (state.credentials.clone(), state.generation)
        };
        let invalid =
            |message: String| HttpError::InvalidRequest { request: self.describe(&parts.method, url), message };
        let values = auth::template_values(&credentials, &self.connection_config);
        let mut url = url.clone();
        if !self.proxy.query.is_empty() {
            // Set, not appended: a pagination link may already carry the provider's parameter.
            let mut pairs: Vec<(String, String)> =
                url.query_pairs().into_owned().filter(|(k, _)| !self.proxy.query.contains_key(k)).collect();
            for (name, template) in &self.proxy.query {
                let value = interpolate(template, &values)
                    .map_err(|e| invalid(format!("provider query parameter `{name}`: {e}")))?;
                pairs.push((name.clone(), value));
            }
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let mut headers = HeaderMap::new();
        let header = |name: &str, value: &str, sensitive: bool| -> Result<(HeaderName, HeaderValue), HttpError> {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("invalid header name `{name}`")))?;
            let mut value =
                HeaderValue::from_str(value).map_err(|_| invalid(format!("invalid value of header `{name}`")))?;
            value.set_sensitive(sensitive);
            Ok((name, value))
        };
        for (name, template) in &self.proxy.headers {
            let value =
                interpolate(template, &values).map_err(|e| invalid(format!("provider header `{name}`: {e}")))?;
            let (name, value) = header(name, &value, auth::mentions_credentials(template))?;
            headers.insert(name, value);
        }
        if !self.templates_authenticate
            && let Some(value) = auth::default_authorization(&credentials)
        {
            headers.insert(AUTHORIZATION, value);
        }
        let (name, value) = header(USER_AGENT.as_str(), &self.options.user_agent, false)?;
        headers.insert(name, value);
        if let Some((_, true)) = body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for (name, value) in &parts.headers {
            let sensitive = name.eq_ignore_ascii_case("authorization");
            let (name, value) = header(name, value, sensitive)?;
            headers.insert(name, value);
        }
        let mut builder = self.http.request(parts.method.clone(), url.clone()).headers(headers).timeout(timeout);
        if let Some((bytes, _)) = body {
            builder = builder.body(bytes.clone());
        }
        let request = builder.build().map_err(|e| invalid(error_chain(&e)))?;
        Ok((request, generation, url))
    }

    async fn send(&self, request: reqwest::Request) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let response = self.http.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        // The body is read inside the attempt so that a connection cut mid-body is retried too.
        let body = response.bytes().await?;
        Ok((status, headers, body.to_vec()))
    }

    /// Remembers a `remaining: 0` + reset answer, so that the next request waits for the reset.
    fn observe_limits(&self, headers: &HeaderMap) {
        if let Some(wait) = self.retry.throttle(headers, Utc::now()) {
            let until = Instant::now() + wait.wait;
            let mut pause = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            if pause.as_ref().is_none_or(|(t, _)| *t < until) {
                *pause = Some((until, wait.header));
            }
        }
    }

    async fn record(
        &self,
        method: &Method,
        url: &Url,
        request: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), HttpError> {
        let Some(recorder) = &self.recorder else { return Ok(()) };
        recorder
            .save(method, url, |name| self.is_secret_param(name), status.as_u16(), headers, body)
            .await
            .map(|_| ())
            .map_err(|(path, e)| HttpError::Save { request: request.to_owned(), path, message: e.to_string() })
    }

    fn log_retry(&self, method: &Method, url: &Url, reason: &str, wait: Duration, attempt: u32, max: u32) {
        let request = self.describe(method, url);
        let wait_ms = wait.as_millis() as u64;
        tracing::warn!(
            provider = %self.provider_key, connection = %self.connection_id, reason, wait_ms, attempt, max,
            "Retrying {request} (reason: {reason}). Waiting {wait_ms} ms [{attempt}/{max}]"
        );
    }

    async fn execute(&self, parts: &RequestParts) -> Result<Response, HttpError> {
        let method = &parts.method;
        let url = self.resolve_url(parts)?;
        if let Some(message) = &parts.error {
            return Err(HttpError::InvalidRequest { request: self.describe(method, &url), message: message.clone() });
        }
        // (bytes, is JSON)
        let body = match &parts.body {
            None => None,
            Some(Body::Json(value)) => Some((serde_json::to_vec(value).expect("JSON values serialize"), true)),
            Some(Body::Raw(bytes)) => Some((bytes.clone(), false)),
        };
        let max_retries = parts.retries.unwrap_or(self.options.max_retries);
        let timeout = parts.timeout.unwrap_or(self.options.timeout);
        let mut backoff = Backoff::new(self.options.min_delay, self.options.max_delay);
        let mut retries = 0u32;
        let mut refreshed_after_401 = false;
        loop {
            self.wait_for_turn(method, &url).await;
            self.refresh_if_expired(method, &url).await?;
            let (request, generation, sent_url) = self.build(parts, &url, body.as_ref(), timeout)?;
            let described = self.describe(method, &sent_url);
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let outcome = self.send(request).await;
            let ms = started.elapsed().as_millis() as u64;
            let attempts = retries + 1;
            let (status, headers, bytes) = match outcome {
                Ok(answer) => answer,
                Err(error) => {
                    let reason = if error.is_timeout() {
                        format!("timeout after {}", human_duration(timeout))
                    } else {
                        error_chain(&error)
                    };
                    tracing::debug!(
                        method = %method, url = %self.redact_url(&sent_url), ms, error = %reason,
                        "{described} failed after {ms} ms: {reason}"
                    );
                    if retries < max_retries && !error.is_builder() {
                        let wait = backoff.next_delay();
                        retries += 1;
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        self.log_retry(method, &sent_url, &reason, wait, retries, max_retries);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(if error.is_timeout() {
                        HttpError::Timeout { request: described, attempts, timeout }
                    } else if error.is_builder() {
                        HttpError::InvalidRequest { request: described, message: reason }
                    } else {
                        HttpError::Network { request: described, attempts, message: reason }
                    });
                }
            };
            tracing::debug!(
                method = %method, url = %self.redact_url(&sent_url), status = status.as_u16(), ms,
                "{described} -> {status} in {ms} ms"
            );
            self.observe_limits(&headers);

            if status == StatusCode::UNAUTHORIZED {
                let refreshable = auth::can_refresh(&self.auth.lock().unwrap_or_else(|e| e.into_inner()).credentials);
                if refreshable && !refreshed_after_401 {
                    refreshed_after_401 = true;
                    tracing::info!(
                        provider = %self.provider_key, connection = %self.connection_id,
                        "{described} returned 401; refreshing the access token and retrying once"
                    );
                    if let Err(message) = self.refresh(generation).await {
                        self.record(method, &sent_url, &described, status, &headers, &bytes).await?;
                        return Err(HttpError::InvalidCredentials {
                            request: described,
                            message: format!(
                                "returned 401 Unauthorized and refreshing the access token failed: {message}; \
                                 reconnect the connection"
                            ),
                        });
                    }
                    continue;
                }
                if refreshed_after_401 {
                    self.record(method, &sent_url, &described, status, &headers, &bytes).await?;
                    return Err(HttpError::InvalidCredentials {
                        request: described,
                        message:
                            "returned 401 Unauthorized after refreshing the access token; reconnect the connection"
                                .into(),
                    });
                }
            }

            if status.is_success() {
                self.record(method, &sent_url, &described, status, &headers, &bytes).await?;
                return Ok(Response { request: described, status, headers, body: bytes });
            }
            if status.is_redirection() {
                self.record(method, &sent_url, &described, status, &headers, &bytes).await?;
                let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(|l| match sent_url.join(l) {
                    Ok(target) => self.redact_url(&target),
                    Err(_) => l.to_owned(),
                });
                return Err(HttpError::Redirect { request: described, status, location });
            }
            if retries < max_retries && self.retry.is_retryable(status.as_u16(), &parts.retry_on, &headers) {
                let reason = status.to_string();
                let wait = match self.retry.header_wait(status.as_u16(), &headers, Utc::now()) {
                    Some(asked) if asked.wait > self.options.max_header_wait => {
                        self.record(method, &sent_url, &described, status, &headers, &bytes).await?;
                        return Err(HttpError::WaitTooLong {
                            request: described,
                            reason,
                            header: asked.header,
                            wait: asked.wait,
                            max: self.options.max_header_wait,
                        });
                    }
                    Some(asked) => {
                        self.stats.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
                        asked.wait
                    }
                    None => backoff.next_delay(),
                };
                retries += 1;
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                self.log_retry(method, &sent_url, &reason, wait, retries, max_retries);
                tokio::time::sleep(wait).await;
                continue;
            }
            self.record(method, &sent_url, &described, status, &headers, &bytes).await?;
            let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            return Err(HttpError::Status {
                request: described,
                status,
                attempts,
                content_type,
                body: excerpt(&bytes),
            });
        }
    }
}
