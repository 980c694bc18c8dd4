//! One connection's requests, made ready for the [`Transport`]: the URL (the call's, the
//! connection's or the provider's base URL), the provider's header and query templates filled,
//! and the credentials of the moment on each attempt ([`Auth`]), refreshed when they are about to
//! expire or after a 401.

use super::auth::{self, Auth, AuthSetup};
use super::error::HttpError;
use super::options::{HttpOptions, HttpStats};
use super::response::Response;
use super::secrets::Secrets;
use super::transport::{Attempts, Outgoing, Prepared, Transport};
use crate::providers::{PaginationConfig, Provider, ProxyConfig, interpolate};
use crate::{Connection, Credentials};
use nango_types::text::error_chain;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Method, Url};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// Sent as `application/json`; kept as a value so pagination can add its parameters to it.
    Json(serde_json::Value),
    /// Sent as it is, with the caller's `content-type`.
    Raw(Vec<u8>),
}

/// Everything a caller says about one request (what a [`RequestBuilder`](super::RequestBuilder)
/// builds).
#[derive(Debug, Clone)]
pub(crate) struct RequestParts {
    pub method: Method,
    pub endpoint: String,
    pub base_url: Option<String>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    pub retries: Option<u32>,
    pub retry_on: Vec<u16>,
    pub timeout: Option<Duration>,
    /// Return the final answer whatever its status, instead of an error for a non-2xx (a proxy
    /// passes the provider's errors on).
    pub any_status: bool,
    /// A 304 Not Modified is an answer (the request carries a validator: `If-None-Match`),
    /// returned like a 2xx with its empty body, instead of a redirect error.
    pub not_modified_ok: bool,
    /// A problem found while building (a body that does not serialize), reported by `send` so
    /// that the builder methods can stay infallible.
    pub error: Option<String>,
}

impl RequestParts {
    pub(crate) fn new(method: Method, endpoint: String) -> RequestParts {
        RequestParts {
            method,
            endpoint,
            base_url: None,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            retries: None,
            retry_on: Vec::new(),
            timeout: None,
            any_status: false,
            not_modified_ok: false,
            error: None,
        }
    }

    pub(crate) fn set_json<B: Serialize + ?Sized>(&mut self, body: &B) {
        match serde_json::to_value(body) {
            Ok(value) => self.body = Some(Body::Json(value)),
            Err(e) => self.error = Some(format!("the JSON body does not serialize: {e}")),
        }
    }
}

/// One connection of one provider, as its [`HttpClient`](super::HttpClient) and the clients'
/// clones share it.
pub(crate) struct Session {
    provider: String,
    connection_id: String,
    proxy: ProxyConfig,
    base_url: Option<String>,
    connection_config: BTreeMap<String, String>,
    /// Whether the provider's templates place the credentials (or set `authorization`), so the
    /// default `Authorization` header is not added.
    templates_authenticate: bool,
    user_agent: String,
    /// [`HttpOptions::replay_to`].
    replay_to: Option<String>,
    secrets: Arc<Secrets>,
    auth: Auth,
    transport: Transport,
}

impl Session {
    /// The session of `connection` of `provider`. Fails when the base URL or token URL templates
    /// lack a value for this connection, the provider's `retry.error_code` list is invalid, the
    /// rate limit is zero, or the `save_responses` folder cannot be created.
    pub(crate) fn new(provider: Provider, connection: Connection, options: HttpOptions) -> Result<Session, HttpError> {
        let provider_key = connection.provider.clone();
        let config_err = |message: String| HttpError::Config { provider: provider_key.clone(), message };

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
        let secrets = Arc::new(Secrets::new(secret_params, &connection.credentials));
        let user_agent = options.user_agent.clone();
        let replay_to = options.replay_to.clone();
        let timeout = options.timeout;
        let transport = Transport::new(
            options,
            proxy.retry.as_ref(),
            secrets.clone(),
            provider_key.clone(),
            connection.connection_id.clone(),
        )
        .map_err(config_err)?;
        let auth = Auth::new(
            connection.credentials,
            AuthSetup {
                token_url,
                http: transport.http().clone(),
                user_agent: user_agent.clone(),
                timeout,
                secrets: secrets.clone(),
                provider: provider_key.clone(),
                connection_id: connection.connection_id.clone(),
            },
        );
        Ok(Session {
            provider: provider_key,
            connection_id: connection.connection_id,
            proxy,
            base_url,
            connection_config: connection.connection_config,
            templates_authenticate,
            user_agent,
            replay_to,
            secrets,
            auth,
            transport,
        })
    }

    /// The provider (`connection.provider`).
    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    pub(crate) fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// The base URL endpoints are appended to, if there is one.
    pub(crate) fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// The credentials and what refreshes them.
    pub(crate) fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The provider's pagination settings (`proxy.paginate`).
    pub(crate) fn provider_pagination(&self) -> Option<&PaginationConfig> {
        self.proxy.paginate.as_ref()
    }

    /// The secrets of the connection, to keep them out of what is shown or passed on.
    pub(crate) fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Counters since the client was created.
    pub(crate) fn stats(&self) -> HttpStats {
        HttpStats { refreshes: self.auth.refreshes(), ..self.transport.stats() }
    }

    /// `METHOD url` of a request, as errors name it.
    pub(crate) fn describe(&self, method: &Method, url: &Url) -> String {
        self.secrets.describe(method, url)
    }

    /// The URL a request goes to (without the provider's query templates), or the error naming
    /// it.
    pub(crate) fn resolve_url(&self, parts: &RequestParts) -> Result<Url, HttpError> {
        self.url_of(parts).map_err(|e| self.secrets.scrub_error(e))
    }

    /// The URL a request goes to as it may be kept (a stored validator's key): secret query
    /// values and credentials taken out, as logs show it.
    pub(crate) fn shown_url(&self, parts: &RequestParts) -> Result<String, HttpError> {
        Ok(self.secrets.url(&self.resolve_url(parts)?))
    }

    /// Sends a request, retrying as configured, and reads its 2xx body with `decode` (an
    /// unreadable body is retried; see [`Transport::send`]).
    pub(crate) async fn execute<R>(
        &self,
        parts: &RequestParts,
        decode: impl Fn(&Response) -> Result<R, HttpError>,
    ) -> Result<(Response, R), HttpError> {
        self.send(parts, decode).await.map_err(|e| self.secrets.scrub_error(e))
    }

    async fn send<R>(
        &self,
        parts: &RequestParts,
        decode: impl Fn(&Response) -> Result<R, HttpError>,
    ) -> Result<(Response, R), HttpError> {
        let url = self.url_of(parts)?;
        if let Some(message) = &parts.error {
            return Err(HttpError::InvalidRequest {
                request: self.describe(&parts.method, &url),
                message: message.clone(),
            });
        }
        let body = match &parts.body {
            None => None,
            Some(Body::Json(value)) => {
                Some(Encoded { bytes: serde_json::to_vec(value).expect("JSON values serialize"), json: true })
            }
            Some(Body::Raw(bytes)) => Some(Encoded { bytes: bytes.clone(), json: false }),
        };
        let outgoing = Outgoing {
            method: &parts.method,
            url: &url,
            retries: parts.retries,
            retry_on: &parts.retry_on,
            timeout: parts.timeout,
            any_status: parts.any_status,
            not_modified_ok: parts.not_modified_ok,
        };
        self.transport.send(&outgoing, &Attempt { session: self, parts, url: &url, body: body.as_ref() }, decode).await
    }

    fn url_of(&self, parts: &RequestParts) -> Result<Url, HttpError> {
        let endpoint = parts.endpoint.trim();
        let lower = endpoint.to_ascii_lowercase();
        let absolute = lower.starts_with("http://") || lower.starts_with("https://");
        let target = if let Some(origin) = &self.replay_to {
            let path = match absolute.then(|| Url::parse(endpoint)).transpose() {
                Ok(Some(url)) => format!("{}{}", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default()),
                _ => format!("/{}", endpoint.trim_start_matches('/')),
            };
            format!("{}{path}", origin.trim_end_matches('/'))
        } else if absolute {
            endpoint.to_owned()
        } else {
            let base =
                parts.base_url.as_deref().or(self.base_url.as_deref()).ok_or_else(|| HttpError::InvalidRequest {
                    request: format!("{} {endpoint}", parts.method),
                    message: format!(
                        "no base URL: provider `{}` has no proxy.base_url and the connection none; \
                     pass an absolute URL or set base_url",
                        self.provider
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

    /// The request of one attempt, with `credentials`: the provider's query and header
    /// templates filled, the default `Authorization` unless the templates place the
    /// credentials, the `User-Agent`, then the caller's headers (which win).
    fn build(
        &self,
        parts: &RequestParts,
        url: &Url,
        body: Option<&Encoded>,
        credentials: &Credentials,
    ) -> Result<(reqwest::Request, Url), HttpError> {
        let invalid =
            |message: String| HttpError::InvalidRequest { request: self.describe(&parts.method, url), message };
        // A template the connection's credentials or configuration cannot fill is the
        // connection's problem, not the request's: no request of it can be made.
        let unfilled = |message: String| HttpError::Config { provider: self.provider.clone(), message };
        let values = auth::template_values(credentials, &self.connection_config);
        let mut url = url.clone();
        if !self.proxy.query.is_empty() {
            // Set, not appended: a pagination link may already carry the provider's parameter.
            let mut pairs: Vec<(String, String)> =
                url.query_pairs().into_owned().filter(|(k, _)| !self.proxy.query.contains_key(k)).collect();
            for (name, template) in &self.proxy.query {
                let value = interpolate(template, &values)
                    .map_err(|e| unfilled(format!("provider query parameter `{name}`: {e}")))?;
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
                interpolate(template, &values).map_err(|e| unfilled(format!("provider header `{name}`: {e}")))?;
            let (name, value) = header(name, &value, auth::mentions_credentials(template))?;
            headers.insert(name, value);
        }
        if !self.templates_authenticate
            && let Some(value) = auth::default_authorization(credentials)
        {
            headers.insert(AUTHORIZATION, value);
        }
        let (name, value) = header(USER_AGENT.as_str(), &self.user_agent, false)?;
        headers.insert(name, value);
        if body.is_some_and(|body| body.json) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for (name, value) in &parts.headers {
            let sensitive = name.eq_ignore_ascii_case("authorization");
            let (name, value) = header(name, value, sensitive)?;
            headers.insert(name, value);
        }
        let mut builder = self.transport.http().request(parts.method.clone(), url.clone()).headers(headers);
        if let Some(body) = body {
            builder = builder.body(body.bytes.clone());
        }
        let request = builder.build().map_err(|e| invalid(error_chain(&e)))?;
        Ok((request, url))
    }
}

/// A body as sent.
struct Encoded {
    bytes: Vec<u8>,
    /// Whether it is the JSON of a [`Body::Json`] (sent with `content-type: application/json`).
    json: bool,
}

/// One request of a session, attempt by attempt.
struct Attempt<'a> {
    session: &'a Session,
    parts: &'a RequestParts,
    url: &'a Url,
    body: Option<&'a Encoded>,
}

impl Attempts for Attempt<'_> {
    async fn prepare(&self) -> Result<Prepared, HttpError> {
        let Attempt { session, parts, url, body } = *self;
        session.auth.refresh_if_expiring().await.map_err(|message| HttpError::InvalidCredentials {
            request: session.describe(&parts.method, url),
            message: format!(
                "was not sent: the access token has expired and refreshing it failed: {message}; \
                 reconnect the connection"
            ),
        })?;
        let current = session.auth.current();
        let (request, url) = session.build(parts, url, body, &current.credentials)?;
        Ok(Prepared { request, url, generation: current.generation })
    }

    async fn refresh_after_401(&self, request: &str, generation: u64) -> Option<Result<(), String>> {
        let session = self.session;
        if !session.auth.can_refresh() {
            return None;
        }
        tracing::info!(
            provider = %session.provider, connection = %session.connection_id,
            "{request} returned 401; refreshing the access token and retrying once"
        );
        Some(session.auth.refresh(generation).await)
    }
}
