//! [`RequestBuilder`]: one request, as the caller describes it.

use super::error::HttpError;
use super::response::Response;
use super::session::{Body, RequestParts, Session};
use crate::providers::PaginationConfig;
use reqwest::header::ETAG;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// What a conditional request ([`RequestBuilder::send_json_if_none_match`]) got.
#[derive(Debug, Clone, PartialEq)]
pub enum IfNoneMatch<T> {
    /// A 2xx: the document, decoded, and its `ETag` (to send next time) if the provider gave one.
    Modified {
        /// The decoded body.
        value: T,
        /// The answer's `ETag` header.
        etag: Option<String>,
    },
    /// `304 Not Modified`: the document is still the one the `ETag` sent was of.
    NotModified,
}

/// A request being built; [`send`](RequestBuilder::send) it, or
/// [`send_json`](RequestBuilder::send_json) to decode the answer into a type.
///
/// Made by [`HttpClient::get`](super::HttpClient::get) and its siblings. Query parameters and
/// headers are added in order; a header set here replaces the provider's and the client's
/// (`authorization`, `user-agent`).
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
    session: Arc<Session>,
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
    pub(crate) fn new(session: Arc<Session>, method: Method, endpoint: String) -> RequestBuilder {
        RequestBuilder { session, parts: RequestParts::new(method, endpoint) }
    }

    /// The same request, to send again with changes (pagination sends one per page).
    pub(crate) fn duplicate(&self) -> RequestBuilder {
        RequestBuilder { session: self.session.clone(), parts: self.parts.clone() }
    }

    /// What the caller said so far.
    pub(crate) fn parts(&self) -> &RequestParts {
        &self.parts
    }

    /// What the caller said so far, to change.
    pub(crate) fn parts_mut(&mut self) -> &mut RequestParts {
        &mut self.parts
    }

    /// The URL the request goes to (without the provider's query templates), or the error naming
    /// it.
    pub(crate) fn url(&self) -> Result<Url, HttpError> {
        self.session.resolve_url(&self.parts)
    }

    /// `METHOD url` of this request's method at `url`, as errors name it.
    pub(crate) fn describe(&self, url: &Url) -> String {
        self.session.describe(&self.parts.method, url)
    }

    /// The URL as a stored validator is filed under: secret query values taken out.
    pub(crate) fn shown_url(&self) -> Result<String, HttpError> {
        self.session.shown_url(&self.parts)
    }

    /// The provider's pagination settings (`proxy.paginate`).
    pub(crate) fn provider_pagination(&self) -> Option<&PaginationConfig> {
        self.session.provider_pagination()
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

    /// Retries for this request, instead of [`HttpOptions::max_retries`](super::HttpOptions::max_retries).
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

    /// Returns the final answer (after the retries) whatever its status, where a non-2xx answer
    /// would otherwise be [`HttpError::Status`]: for a proxy that passes the provider's errors
    /// on. A redirect is still an error (never followed), and so is a failed OAuth refresh.
    pub fn any_status(mut self) -> Self {
        self.parts.any_status = true;
        self
    }

    /// Makes the request conditional: sends `If-None-Match: etag` (the `ETag` of an earlier
    /// answer), and a `304 Not Modified` answer is then returned by [`send`](Self::send) like a
    /// 2xx (with its empty body) instead of an error. [`send_json_if_none_match`]
    /// (Self::send_json_if_none_match) does this and tells the two answers apart.
    pub fn if_none_match(mut self, etag: impl Into<String>) -> Self {
        self.parts.headers.push(("if-none-match".to_owned(), etag.into()));
        self.parts.not_modified_ok = true;
        self
    }

    /// Sends the request, with `If-None-Match: etag` when `etag` is given, and decodes a 2xx
    /// answer into `T` as [`send_json`](Self::send_json) does, with the answer's `ETag`; a `304
    /// Not Modified` (the provider says the document is still the one of that `ETag`) is
    /// [`IfNoneMatch::NotModified`]. GitHub answers a matching `If-None-Match` so, and such an
    /// answer does not count against its rate limit.
    ///
    /// ```no_run
    /// # async fn demo(client: nango_runtime::http::HttpClient, etag: Option<String>) -> Result<(), nango_runtime::http::HttpError> {
    /// use nango_runtime::http::IfNoneMatch;
    /// match client.get("/user").send_json_if_none_match::<serde_json::Value>(etag.as_deref()).await? {
    ///     IfNoneMatch::Modified { value, etag } => println!("new: {value} (ETag {etag:?})"),
    ///     IfNoneMatch::NotModified => println!("unchanged"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_json_if_none_match<T: DeserializeOwned>(
        mut self,
        etag: Option<&str>,
    ) -> Result<IfNoneMatch<T>, HttpError> {
        if let Some(etag) = etag {
            self = self.if_none_match(etag);
        }
        let decode = |response: &Response| {
            if response.status() == StatusCode::NOT_MODIFIED {
                return Ok(None);
            }
            response.json::<T>().map(Some)
        };
        let (response, value) = self.send_decoded(decode).await?;
        Ok(match value {
            None => IfNoneMatch::NotModified,
            Some(value) => IfNoneMatch::Modified {
                value,
                etag: response.headers().get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned),
            },
        })
    }

    /// Sends the request (retrying as configured); a non-2xx answer is an error.
    pub async fn send(self) -> Result<Response, HttpError> {
        self.session.execute(&self.parts, |_| Ok(())).await.map(|(response, ())| response)
    }

    /// Sends the request and decodes the JSON answer into `T`; a mismatch names the field
    /// (`[3].user.login`). A 2xx body that is not readable JSON (cut short, an HTML page) is
    /// fetched again like a 5xx; one that is JSON of another shape fails at once.
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T, HttpError> {
        self.send_decoded(Response::json::<T>).await.map(|(_, value)| value)
    }

    /// Sends the request and reads the 2xx body with `decode` inside the retry loop: an
    /// [`HttpError::InvalidBody`] from it is retried, any other error is final.
    pub(crate) async fn send_decoded<R>(
        self,
        decode: impl Fn(&Response) -> Result<R, HttpError>,
    ) -> Result<(Response, R), HttpError> {
        self.session.execute(&self.parts, decode).await
    }
}
