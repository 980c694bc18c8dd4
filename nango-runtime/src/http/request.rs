//! [`RequestBuilder`] and [`Response`], and typed decoding of bodies.

use super::HttpError;
use super::client::HttpClient;
use super::error::excerpt;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
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

/// A successful (2xx) answer, with its body read.
///
/// ```
/// # fn demo(response: nango_runtime::http::Response) -> Result<(), nango_runtime::http::HttpError> {
/// if response.status().is_success() {
///     let value: serde_json::Value = response.json()?;
///     println!("{} answered {value}", response.request());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) request: String,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request that got this answer, as `METHOD url` (secrets taken out).
    pub fn request(&self) -> &str {
        &self.request
    }

    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The `content-type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    /// The body decoded from JSON into `T`. A body that is JSON of another shape fails with
    /// [`HttpError::Decode`] naming the field; a body that is not JSON (an HTML page, a
    /// truncated document) with [`HttpError::InvalidBody`] quoting its start.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        decode_slice(&self.request, self.content_type(), &self.body)
    }
}

/// serde_json's message without its ` at line L column C` suffix (the path says where).
fn message_without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    message.strip_suffix(&suffix).map(str::to_owned).unwrap_or(message)
}

/// Decodes a JSON body into `T`, with errors naming the request.
pub(crate) fn decode_slice<T: DeserializeOwned>(
    request: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, HttpError> {
    let invalid = |e: &serde_json::Error| HttpError::InvalidBody {
        request: request.to_owned(),
        content_type: content_type.map(str::to_owned),
        message: e.to_string(),
        excerpt: excerpt(body),
    };
    // Fast path: plain serde_json; the path-tracking decoder only runs again to explain a failure.
    if let Ok(value) = serde_json::from_slice::<T>(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| invalid(&e))?;
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => Err(HttpError::Decode {
                    request: request.to_owned(),
                    path,
                    message: message_without_position(&inner),
                }),
                _ => Err(invalid(&inner)),
            }
        }
    }
}

/// Decodes a JSON value found at `prefix` (a dotted path, empty for the whole body) into `T`.
pub(crate) fn decode_value<T: DeserializeOwned>(
    request: &str,
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, HttpError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let inner_path = e.path().to_string();
        let path = match (prefix, inner_path.as_str()) {
            ("", p) => p.to_owned(),
            (prefix, ".") => prefix.to_owned(),
            (prefix, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (prefix, p) => format!("{prefix}.{p}"),
        };
        HttpError::Decode { request: request.to_owned(), path, message: message_without_position(e.inner()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct User {
        login: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Issue {
        user: User,
    }

    #[test]
    fn decode_errors_name_the_field() {
        let body = br#"[{"user":{"login":"a"}},{"user":{"login":null}}]"#;
        let err = decode_slice::<Vec<Issue>>("GET http://h/x", Some("application/json"), body).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GET http://h/x: response body does not match the expected type at [1].user.login: invalid type: null, expected a string"
        );
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let err = decode_value::<Vec<Issue>>("GET http://h/x", "data.items", value).unwrap_err();
        assert!(err.to_string().contains("at data.items[1].user.login: invalid type: null"), "{err}");
    }

    #[test]
    fn non_json_bodies_are_quoted() {
        let err =
            decode_slice::<Vec<Issue>>("GET http://h/x", Some("text/html"), b"<html>Bad gateway</html>").unwrap_err();
        assert_eq!(err.kind(), "invalid_body");
        let text = err.to_string();
        assert!(
            // The shared excerpt sums an HTML page up by its title and size.
            text.contains("content-type: text/html") && text.ends_with("body starts with: an HTML page (24 bytes)"),
            "{text}"
        );
        let err = decode_slice::<serde_json::Value>("GET http://h/x", None, br#"{"a": [1, 2"#).unwrap_err();
        assert!(err.to_string().contains("EOF while parsing"), "{err}");
        let err = decode_slice::<serde_json::Value>("GET http://h/x", None, br#"{} trailing"#).unwrap_err();
        assert!(err.to_string().contains("trailing characters"), "{err}");
    }
}
