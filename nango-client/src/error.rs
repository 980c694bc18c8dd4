//! [`ClientError`], and reading the server's answers: bodies into types (naming the field that
//! does not fit) and error bodies into a code and a message.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Server messages quoted in errors are cut to this many bytes: enough to read an HTML error page's
/// start, small enough for a log line.
const EXCERPT_BYTES: usize = 512;

/// An error of [`NangoClient`](crate::NangoClient), naming the request (`GET http://host/records?model=Ticket`;
/// the secret key is in a header, never in the URL).
///
/// ```
/// use nango_client::ClientError;
/// let err = ClientError::Api {
///     request: "GET http://localhost:3003/records?model=Ticket".into(),
///     status: 400,
///     code: Some("invalid_query_params".into()),
///     message: "limit: must be at most 10000".into(),
/// };
/// assert_eq!(err.status(), Some(400));
/// assert_eq!(err.code(), Some("invalid_query_params"));
/// assert_eq!(
///     err.to_string(),
///     "GET http://localhost:3003/records?model=Ticket returned 400 invalid_query_params: limit: must be at most 10000"
/// );
/// ```
///
/// The transport's errors are kept as text (their whole chain), not as `#[source]` errors, so
/// that the error stays `Clone` and `Eq`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request could not be built (bad base URL, a header value with line breaks).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// No response: connection refused or reset, timeout, truncated body.
    #[error("{request} failed: {message}")]
    Network {
        /// `METHOD url`.
        request: String,
        /// The transport error with its causes.
        message: String,
    },
    /// The server answered with an error status.
    #[error("{request} returned {status}{}: {message}", code_text(.code))]
    Api {
        /// `METHOD url`.
        request: String,
        /// The HTTP status.
        status: u16,
        /// The server's error code (`unknown_connection`), when it sent one.
        code: Option<String>,
        /// The server's message, or the start of the body when it is not a JSON error.
        message: String,
    },
    /// A 2xx body that does not decode into the expected type.
    #[error("{request}: unexpected response at {path}: {message}")]
    Decode {
        /// `METHOD url`.
        request: String,
        /// Where it fails (`records[3].title`, `.` for the top level).
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A body that decodes but cannot be right (a `next_cursor` that does not move).
    #[error("{request}: invalid response: {message}")]
    InvalidResponse {
        /// `METHOD url`.
        request: String,
        /// What is wrong.
        message: String,
    },
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error.
    ///
    /// ```
    /// let err = nango_client::ClientError::InvalidRequest { message: "bad".into() };
    /// assert_eq!(err.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's error code of an [`ClientError::Api`] error.
    ///
    /// ```
    /// let err = nango_client::ClientError::Api {
    ///     request: "GET /x".into(), status: 404, code: Some("unknown_connection".into()), message: "no".into(),
    /// };
    /// assert_eq!(err.code(), Some("unknown_connection"));
    /// ```
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// ` {code}` when the server sent one.
fn code_text(code: &Option<String>) -> String {
    code.as_deref().map(|code| format!(" {code}")).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(request: &str, bytes: &[u8]) -> Result<T, ClientError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| ClientError::Decode {
        request: request.to_owned(),
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })?;
    de.end().map_err(|e| ClientError::Decode {
        request: request.to_owned(),
        path: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// The code and message of an error body, in the shapes our server and Nango use:
/// `{"error": {"code", "message", "errors"?}}`, `{"error": "message", "type"?: "code"}`,
/// `{"message": ..}`; anything else is quoted.
pub(crate) fn server_error(bytes: &[u8], status: reqwest::StatusCode) -> (Option<String>, String) {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
        let quoted = excerpt(bytes);
        return (None, if quoted.is_empty() { status.to_string() } else { quoted });
    };
    match body.get("error") {
        Some(Value::Object(error)) => {
            let code = error.get("code").and_then(text);
            let mut message = error.get("message").and_then(text);
            // Validation errors (`invalid_query_params`) list the problems in `errors`, often
            // without a message: those are the useful part.
            if let Some(Value::Array(issues)) = error.get("errors") {
                let details: Vec<String> = issues.iter().map(issue_text).collect();
                if !details.is_empty() {
                    let joined = details.join("; ");
                    message = Some(match message {
                        Some(m) => format!("{m} ({joined})"),
                        None => joined,
                    });
                }
            }
            (code, message.unwrap_or_else(|| status.to_string()))
        }
        Some(Value::String(message)) => {
            let code = body.get("type").and_then(text).or_else(|| body.get("code").and_then(text));
            (code, message.clone())
        }
        _ => {
            let code = body.get("code").and_then(text).or_else(|| body.get("type").and_then(text));
            let message = body.get("message").and_then(text).unwrap_or_else(|| excerpt(bytes));
            (code, message)
        }
    }
}

fn issue_text(issue: &Value) -> String {
    let message = issue.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| issue.to_string());
    match issue.get("path") {
        Some(Value::Array(path)) if !path.is_empty() => {
            let path: Vec<String> =
                path.iter().map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned)).collect();
            format!("{}: {message}", path.join("."))
        }
        Some(Value::String(path)) if !path.is_empty() => format!("{path}: {message}"),
        _ => message,
    }
}

/// The start of a body for an error message, scrubbed of secrets.
fn excerpt(bytes: &[u8]) -> String {
    nango_types::text::excerpt(bytes, EXCERPT_BYTES)
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn every_message_reads_as_before() {
        let r = || "GET http://h/records".to_owned();
        let cases = [
            (ClientError::InvalidRequest { message: "bad URL".into() }, "invalid request: bad URL"),
            (ClientError::Network { request: r(), message: "refused".into() }, "GET http://h/records failed: refused"),
            (
                ClientError::Api {
                    request: r(),
                    status: 404,
                    code: Some("unknown_connection".into()),
                    message: "no".into(),
                },
                "GET http://h/records returned 404 unknown_connection: no",
            ),
            (
                ClientError::Api { request: r(), status: 502, code: None, message: "Bad Gateway".into() },
                "GET http://h/records returned 502: Bad Gateway",
            ),
            (
                ClientError::Decode { request: r(), path: "records[3].title".into(), message: "null".into() },
                "GET http://h/records: unexpected response at records[3].title: null",
            ),
            (
                ClientError::InvalidResponse { request: r(), message: "cursor did not move".into() },
                "GET http://h/records: invalid response: cursor did not move",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected, "{error:?}");
        }
    }
}
