//! [`Response`]: a successful answer, and typed decoding of bodies with errors that name the
//! failing field.

use super::error::{HttpError, excerpt};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::de::DeserializeOwned;
use std::borrow::Cow;

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
    /// truncated document) with [`HttpError::InvalidBody`] quoting its start. (Decoding here is
    /// not retried: [`RequestBuilder::send_json`](super::RequestBuilder::send_json) and
    /// pagination decode inside the retry loop, so an unreadable body is fetched again.)
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
    // `path` is where the parser stopped (`[41].title` in a document cut short), `.` for none.
    let invalid = |e: &serde_json::Error, path: &str| HttpError::InvalidBody {
        request: request.to_owned(),
        content_type: content_type.map(str::to_owned),
        message: if path == "." { e.to_string() } else { format!("{e}, in {path}") },
        excerpt: excerpt(body),
        attempts: 1,
    };
    // Fast path: plain serde_json; the path-tracking decoder only runs again to explain a failure.
    if let Ok(value) = serde_json::from_slice::<T>(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| invalid(&e, "."))?;
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
                _ => Err(invalid(&inner, &path)),
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
