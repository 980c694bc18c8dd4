//! [`RequestBuilder`]: one request, as the caller describes it.

use super::HttpError;
use super::client::HttpClient;
use super::response::Response;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// Sent as `application/json`; kept as a value so pagination can add its parameters to it.
    Json(serde_json::Value),
    /// Sent as it is, with the caller's `content-type`.
    Raw(Vec<u8>),
}

/// Everything a caller says about one request (shared by [`RequestBuilder`] and
/// [`Paginate`](super::Paginate)).
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

/// A request being built; [`send`](RequestBuilder::send) it, or
/// [`send_json`](RequestBuilder::send_json) to decode the answer into a type.
///
/// Made by [`HttpClient::get`] and its siblings. Query parameters and headers are added in order;
/// a header set here replaces the provider's and the client's (`authorization`, `user-agent`).
///
/// ```no_run
/// # async fn demo(client: nango_runtime::http::HttpClient) -> Result<(), nango_runtime::http::HttpError> {
/// #[derive(serde::Deserialize)]
/// struct Issue { number: u64, title: String }
///
/// let issues: Vec<Issue> = client
///     .get("/repos/octocat/hello-world/issues")
///     .query("state", "open")
///     .query("per_page", 100)
///     .header("accept", "application/vnd.github+json")
///     .retries(2)
///     .send_json()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: HttpClient,
    parts: RequestParts,
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold credentials the caller set: only their names are shown.
        let headers: Vec<&str> = self.parts.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RequestBuilder")
            .field("method", &self.parts.method)
            .field("endpoint", &self.parts.endpoint)
            .field("headers", &headers)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    pub(crate) fn new(client: HttpClient, method: Method, endpoint: String) -> RequestBuilder {
        RequestBuilder { client, parts: RequestParts::new(method, endpoint) }
    }

    /// Adds a query parameter (numbers and other `ToString` values are welcome).
    pub fn query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.parts.query.push((name.into(), value.to_string()));
        self
    }

    /// Adds query parameters.
    pub fn queries<K: Into<String>, V: ToString>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        self.parts.query.extend(pairs.into_iter().map(|(k, v)| (k.into(), v.to_string())));
        self
    }

    /// Sets a header (replacing one of the same name from the provider or the client).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `body` as JSON (`content-type: application/json`).
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.parts.set_json(body);
        self
    }

    /// Sends `body` as it is; set its `content-type` with [`header`](Self::header).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.parts.body = Some(Body::Raw(body.into()));
        self
    }

    /// Retries for this request, instead of [`HttpOptions::max_retries`](super::HttpOptions).
    pub fn retries(mut self, retries: u32) -> Self {
        self.parts.retries = Some(retries);
        self
    }

    /// Also retries on this status (added to the provider's or the default retryable statuses).
    pub fn retry_on(mut self, status: u16) -> Self {
        self.parts.retry_on.push(status);
        self
    }

    /// Sends to this base URL instead of the connection's or the provider's.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.parts.base_url = Some(url.into());
        self
    }

    /// Timeout of each attempt, instead of [`HttpOptions::timeout`](super::HttpOptions).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.parts.timeout = Some(timeout);
        self
    }

    /// Sends the request (retrying as configured); a non-2xx answer is an error.
    pub async fn send(self) -> Result<Response, HttpError> {
        self.client.execute(&self.parts).await
    }

    /// Sends the request and decodes the JSON answer into `T`; a mismatch names the field
    /// (`[3].user.login`).
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T, HttpError> {
        self.send().await?.json()
    }
}
