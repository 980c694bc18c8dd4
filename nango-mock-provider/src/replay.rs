//! Recorded exchanges: the file format, and serving them again.
//!
//! A recording is a folder with one file per exchange, `DIR/000000.json`, `DIR/000001.json`, …:
//!
//! ```json
//! {
//!   "origin": "https://api.github.com",
//!   "request": {"method": "GET", "path": "/repos/o/r/issues", "query": "per_page=100&page=2"},
//!   "response": {
//!     "status": 200,
//!     "headers": {"link": "<https://api.github.com/repos/o/r/issues?per_page=100&page=3>; rel=\"next\""},
//!     "body": [{"number": 1}]
//!   }
//! }
//! ```
//!
//! `query` is the query string exactly as sent, without `?` (may be empty); header names are
//! lowercase; `body` is the JSON of the response, or a string when it was not JSON. `origin`
//! (optional) is the scheme and host the requests went to: when serving, every occurrence of it in
//! header values and in the strings of the body is replaced by the mock server's url, so links
//! lead back to the mock.
//!
//! A replaying server answers a request with the recorded exchange of the same method, path and
//! query (parameters compared in any order). When several exchanges match, they are served in
//! file order, then the last one again; a request nothing matches gets
//! `404 {"message": "no recorded response for GET /path?query"}`.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One recorded request and its response: the content of one file of a recording.
///
/// ```
/// use nango_mock_provider::replay::{self, Exchange};
///
/// let dir = std::env::temp_dir().join(format!("exchange-doc-{}", std::process::id()));
/// let exchange = Exchange::new("GET", "/user", "", 200, Exchange::body_from_bytes(br#"{"login":"octocat"}"#))
///     .with_origin("https://api.github.com")
///     .with_header("content-type", "application/json");
/// let path = exchange.write_to(&dir, 0).unwrap();
/// assert!(path.ends_with("000000.json"));
/// assert_eq!(replay::load_dir(&dir).unwrap(), vec![exchange]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Scheme and host the request went to, e.g. `https://api.github.com`, rewritten to the mock's
    /// url when serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// What was asked.
    pub request: RecordedRequest,
    /// What came back.
    pub response: RecordedResponse,
}

/// The request of an [`Exchange`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, starting with `/`, without the query.
    pub path: String,
    /// The query string as sent, without `?`; empty when there was none.
    #[serde(default)]
    pub query: String,
}

/// The response of an [`Exchange`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers, names in lowercase (a repeated header is joined with `, `).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: its JSON, or a string when it was not JSON (`null` for an empty body).
    #[serde(default)]
    pub body: Value,
}

impl Exchange {
    /// An exchange without origin nor headers.
    pub fn new(
        method: impl Into<String>,
        path: impl Into<String>,
        query: impl Into<String>,
        status: u16,
        body: Value,
    ) -> Self {
        Exchange {
            origin: None,
            request: RecordedRequest { method: method.into(), path: path.into(), query: query.into() },
            response: RecordedResponse { status, headers: BTreeMap::new(), body },
        }
    }

    /// Sets the origin to rewrite when serving.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Adds a response header (the name is lowercased).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.response.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    /// The `body` of a recorded response: its JSON when it parses, the text otherwise, `null` when
    /// empty.
    ///
    /// ```
    /// use nango_mock_provider::replay::Exchange;
    /// use serde_json::json;
    ///
    /// assert_eq!(Exchange::body_from_bytes(b"[1, 2]"), json!([1, 2]));
    /// assert_eq!(Exchange::body_from_bytes(b"<html>oops</html>"), json!("<html>oops</html>"));
    /// assert_eq!(Exchange::body_from_bytes(b""), json!(null));
    /// ```
    pub fn body_from_bytes(bytes: &[u8]) -> Value {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// The file name of exchange number `index`: `000042.json`.
    pub fn file_name(index: usize) -> String {
        format!("{index:06}.json")
    }

    /// Writes this exchange as `dir/<index:06>.json` (pretty JSON), creating `dir` if needed, and
    /// returns the file's path.
    pub fn write_to(&self, dir: impl AsRef<Path>, index: usize) -> io::Result<PathBuf> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        let path = dir.join(Self::file_name(index));
        let mut text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        text.push('\n');
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// Reads every `*.json` file of `dir` as an [`Exchange`], in file name order.
///
/// Fails when the folder cannot be read or a file is not an exchange (the error names the file).
pub fn load_dir(dir: impl AsRef<Path>) -> io::Result<Vec<Exchange>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir.as_ref())? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "json") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            serde_json::from_str(&text).map_err(|error| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: not an exchange: {error}", path.display()))
            })
        })
        .collect()
}

/// A recorded response ready to send.
#[derive(Debug)]
struct Prepared {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

/// Method, path and sorted decoded query pairs.
type Key = (String, String, Vec<(String, String)>);

fn key(method: &str, path: &str, query: &str) -> Key {
    let mut pairs = crate::query::pairs(query);
    pairs.sort();
    (method.to_ascii_uppercase(), path.to_string(), pairs)
}

/// The recorded responses a replaying server serves.
#[derive(Debug)]
pub(crate) struct Book {
    responses: HashMap<Key, (Vec<Prepared>, AtomicUsize)>,
}

fn rewrite(value: &mut Value, origin: &str, url: &str) {
    match value {
        Value::String(text) if text.contains(origin) => *text = text.replace(origin, url),
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite(item, origin, url)),
        Value::Object(fields) => fields.values_mut().for_each(|field| rewrite(field, origin, url)),
        _ => {}
    }
}

/// Headers that describe the recorded connection or encoding, not the response.
const SKIPPED: [&str; 5] = ["content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"];

impl Book {
    /// Prepares `exchanges` for a server at `url`.
    pub(crate) fn new(exchanges: Vec<Exchange>, url: &str) -> io::Result<Self> {
        let mut responses: HashMap<Key, (Vec<Prepared>, AtomicUsize)> = HashMap::new();
        for (index, mut exchange) in exchanges.into_iter().enumerate() {
            let invalid =
                |what: String| io::Error::new(io::ErrorKind::InvalidData, format!("exchange {index}: {what}"));
            let origin =
                exchange.origin.as_deref().map(|origin| origin.trim_end_matches('/')).filter(|o| !o.is_empty());
            let response = &mut exchange.response;
            if let Some(origin) = origin {
                rewrite(&mut response.body, origin, url);
                response.headers.values_mut().for_each(|value| *value = value.replace(origin, url));
            }
            let status =
                StatusCode::from_u16(response.status).map_err(|_| invalid(format!("status {}", response.status)))?;
            let is_json = response.headers.get("content-type").is_some_and(|kind| kind.contains("json"));
            let body = match &response.body {
                Value::String(text) if !is_json => Bytes::from(text.clone()),
                Value::Null if !is_json => Bytes::new(),
                body => Bytes::from(body.to_string()),
            };
            let mut headers = Vec::new();
            for (name, value) in &response.headers {
                if SKIPPED.contains(&name.to_ascii_lowercase().as_str()) {
                    continue;
                }
                let name =
                    HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(format!("header name {name:?}")))?;
                let value = HeaderValue::from_str(value).map_err(|_| invalid(format!("header value {value:?}")))?;
                headers.push((name, value));
            }
            if !response.headers.contains_key("content-type") && !body.is_empty() {
                let kind = if matches!(response.body, Value::String(_)) {
                    "text/plain; charset=utf-8"
                } else {
                    "application/json; charset=utf-8"
                };
                headers.push((header::CONTENT_TYPE, HeaderValue::from_static(kind)));
            }
            let request = &exchange.request;
            let prepared = Prepared { status, headers, body };
            responses
                .entry(key(&request.method, &request.path, &request.query))
                .or_insert_with(|| (Vec::new(), AtomicUsize::new(0)))
                .0
                .push(prepared);
        }
        Ok(Book { responses })
    }

    /// The response to `method uri`, if one was recorded.
    pub(crate) fn answer(&self, method: &Method, uri: &Uri) -> Option<Response> {
        let (prepared, next) = self.responses.get(&key(method.as_str(), uri.path(), uri.query().unwrap_or("")))?;
        let index = next.fetch_add(1, Ordering::Relaxed).min(prepared.len() - 1);
        let prepared = &prepared[index];
        let mut response = Response::new(Body::from(prepared.body.clone()));
        *response.status_mut() = prepared.status;
        for (name, value) in &prepared.headers {
            response.headers_mut().append(name.clone(), value.clone());
        }
        Some(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_queries_in_any_order_and_rewrites_the_origin() {
        let exchanges = vec![
            Exchange::new("GET", "/r", "a=1&b=2", 200, json!({"next": "https://api.example.com/r?page=2"}))
                .with_origin("https://api.example.com/")
                .with_header("link", "<https://api.example.com/r?page=2>; rel=\"next\""),
            Exchange::new("GET", "/r", "b=2&a=1", 500, json!("oops")),
        ];
        let book = Book::new(exchanges, "http://127.0.0.1:9").unwrap();
        let uri: Uri = "/r?b=2&a=1".parse().unwrap();
        let first = book.answer(&Method::GET, &uri).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()["link"], "<http://127.0.0.1:9/r?page=2>; rel=\"next\"");
        assert_eq!(book.answer(&Method::GET, &uri).unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(book.answer(&Method::GET, &uri).unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(book.answer(&Method::POST, &uri).is_none());
        assert!(book.answer(&Method::GET, &"/r?a=1".parse().unwrap()).is_none());
    }
}
