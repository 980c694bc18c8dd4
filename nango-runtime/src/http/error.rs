//! [`HttpError`]: what can go wrong with a request, always naming the request.

use reqwest::StatusCode;
use std::path::PathBuf;
use std::time::Duration;

/// Bodies quoted in errors are cut to this many bytes: enough to read a provider's error message,
/// small enough for a log line.
pub(crate) const EXCERPT_BYTES: usize = 1024;

/// An error of the HTTP client.
///
/// Every variant but [`HttpError::Config`] names the request as `METHOD url`, with the secrets
/// taken out of the URL: query parameters that carry credentials read `***`, and any credential
/// of the connection that shows up in a message (a body echoing a token, a token in a path) is
/// replaced by `***` too.
///
/// The causes of [`Network`](HttpError::Network) and [`Save`](HttpError::Save) are kept as text
/// (the whole chain, scrubbed), not as `#[source]` errors: the transport's error writes the
/// request's URL, credentials included, into its message, and only text can be scrubbed;
/// text also keeps the error `Clone` and `Eq` for callers that keep or compare errors.
///
/// ```
/// use nango_runtime::http::HttpError;
/// let err = HttpError::Status {
///     request: "GET https://api.github.com/repos/o/r".into(),
///     status: nango_runtime::http::StatusCode::NOT_FOUND,
///     attempts: 1,
///     content_type: Some("application/json".into()),
///     body: r#"{"message":"Not Found"}"#.into(),
/// };
/// assert_eq!(err.to_string(), r#"GET https://api.github.com/repos/o/r returned 404 Not Found: {"message":"Not Found"}"#);
/// assert_eq!(err.kind(), "http_error");
/// assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The client could not be set up (base URL template without a value, bad `retry.error_code`,
    /// `save_responses` folder that cannot be created...).
    #[error("HTTP client for provider `{provider}`: {message}")]
    Config {
        /// The provider (`connection.provider`).
        provider: String,
        /// What is wrong.
        message: String,
    },
    /// The request could not be built: bad URL, invalid header, a provider template without a
    /// value for this connection, a body that does not serialize.
    #[error("{request}: {message}")]
    InvalidRequest {
        /// `METHOD url`.
        request: String,
        /// What is wrong.
        message: String,
    },
    /// The request did not get a response (connection refused or reset, truncated body...), after
    /// the retries.
    #[error("{request} failed{}: {message}", after_attempts(.attempts))]
    Network {
        /// `METHOD url`.
        request: String,
        /// How many times it was sent.
        attempts: u32,
        /// The transport error, with its causes.
        message: String,
    },
    /// No response within the timeout, after the retries.
    #[error("{request} timed out after {}{}", human(.timeout), attempts_count(.attempts))]
    Timeout {
        /// `METHOD url`.
        request: String,
        /// How many times it was sent.
        attempts: u32,
        /// The per-request timeout.
        timeout: Duration,
    },
    /// The provider answered with an error status: one that is not retried, or the last one once
    /// the retries ran out.
    #[error("{request} returned {status}{}{}", after_attempts(.attempts), quoted_body(.body))]
    Status {
        /// `METHOD url`.
        request: String,
        /// The status.
        status: StatusCode,
        /// How many times it was sent.
        attempts: u32,
        /// The response's `content-type`.
        content_type: Option<String>,
        /// The start of the body (at most 1 KB).
        body: String,
    },
    /// The provider answered with a redirect, which the client does not follow.
    #[error(
        "{request} returned {status}{}; redirects are not followed: call the final URL (or set base_url) instead",
        redirect_target(.location)
    )]
    Redirect {
        /// `METHOD url`.
        request: String,
        /// The 3xx status.
        status: StatusCode,
        /// The `Location` header (secrets taken out).
        location: Option<String>,
    },
    /// The provider asked to wait longer than [`HttpOptions::max_header_wait`](super::HttpOptions)
    /// before retrying; the client fails instead of sleeping that long.
    #[error(
        "{request}: the provider asks to wait {} before retrying ({reason}; header `{header}`), more than max_header_wait ({})",
        human(.wait),
        human(.max)
    )]
    WaitTooLong {
        /// `METHOD url`.
        request: String,
        /// Why the request was to be retried (`429 Too Many Requests`).
        reason: String,
        /// The header that asked for the wait.
        header: String,
        /// The wait asked for.
        wait: Duration,
        /// The cap.
        max: Duration,
    },
    /// The provider refused the credentials and refreshing them did not help (or failed): the
    /// connection has to be re-authorized. Nango's `invalid_credentials`.
    #[error("{request} {message}")]
    InvalidCredentials {
        /// `METHOD url`.
        request: String,
        /// What happened.
        message: String,
    },
    /// The body is JSON but does not match the type asked for.
    #[error("{request}: response body does not match the expected type at {path}: {message}")]
    Decode {
        /// `METHOD url`.
        request: String,
        /// Where in the body (`[3].user.login`; `.` for the whole body).
        path: String,
        /// What serde says (`invalid type: null, expected a string`).
        message: String,
    },
    /// The body is not JSON (an HTML error page, a truncated document...), after the retries: an
    /// unreadable 2xx body is retried as a transient fault, a well-formed one of the wrong shape
    /// ([`HttpError::Decode`]) is not.
    #[error(
        "{request}: response body is not valid JSON{} ({message}); content-type: {}{}",
        after_attempts(.attempts),
        content_type_or_none(.content_type),
        body_start(.excerpt)
    )]
    InvalidBody {
        /// `METHOD url`.
        request: String,
        /// The response's `content-type`.
        content_type: Option<String>,
        /// What the JSON parser says, and where in the document it stopped (`in [41].title`).
        message: String,
        /// The start of the body (at most 1 KB).
        excerpt: String,
        /// How many times it was sent (each answer unreadable).
        attempts: u32,
    },
    /// Pagination is not configured, is configured wrongly, or went round in a circle.
    #[error("{request}: {message}")]
    Pagination {
        /// `METHOD url` of the first page, or of the page that went wrong.
        request: String,
        /// What is wrong (Nango's message for configuration errors).
        message: String,
    },
    /// [`HttpOptions::save_responses`](super::HttpOptions) is set and the exchange could not be
    /// written.
    #[error("{request}: cannot save the response to {}: {message}", .path.display())]
    Save {
        /// `METHOD url`.
        request: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
}

impl HttpError {
    /// A short machine-readable name of the error, in Nango's style where Nango has one:
    /// `invalid_config`, `invalid_request`, `network_error`, `timeout`, `http_error`
    /// (`invalid_credentials` for a 401), `redirect`, `rate_limit_wait_too_long`,
    /// `invalid_credentials`, `decode_error`, `invalid_body`, `pagination_error`, `save_error`.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::Config { .. } => "invalid_config",
            HttpError::InvalidRequest { .. } => "invalid_request",
            HttpError::Network { .. } => "network_error",
            HttpError::Timeout { .. } => "timeout",
            HttpError::Status { status, .. } if *status == StatusCode::UNAUTHORIZED => "invalid_credentials",
            HttpError::Status { .. } => "http_error",
            HttpError::Redirect { .. } => "redirect",
            HttpError::WaitTooLong { .. } => "rate_limit_wait_too_long",
            HttpError::InvalidCredentials { .. } => "invalid_credentials",
            HttpError::Decode { .. } => "decode_error",
            HttpError::InvalidBody { .. } => "invalid_body",
            HttpError::Pagination { .. } => "pagination_error",
            HttpError::Save { .. } => "save_error",
        }
    }

    /// The request, as `METHOD url` (secrets taken out); `None` for [`HttpError::Config`].
    pub fn request(&self) -> Option<&str> {
        match self {
            HttpError::Config { .. } => None,
            HttpError::InvalidRequest { request, .. }
            | HttpError::Network { request, .. }
            | HttpError::Timeout { request, .. }
            | HttpError::Status { request, .. }
            | HttpError::Redirect { request, .. }
            | HttpError::WaitTooLong { request, .. }
            | HttpError::InvalidCredentials { request, .. }
            | HttpError::Decode { request, .. }
            | HttpError::InvalidBody { request, .. }
            | HttpError::Pagination { request, .. }
            | HttpError::Save { request, .. } => Some(request),
        }
    }

    /// The response status, for errors that come from a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Status { status, .. } | HttpError::Redirect { status, .. } => Some(*status),
            HttpError::InvalidCredentials { .. } => Some(StatusCode::UNAUTHORIZED),
            _ => None,
        }
    }

    /// Applies `f` to every text of the error; the client passes its secret scrubber here so that
    /// no credential can reach a message, whichever way it got in.
    pub(crate) fn map_text(self, f: impl Fn(String) -> String) -> HttpError {
        match self {
            HttpError::Config { provider, message } => HttpError::Config { provider, message: f(message) },
            HttpError::InvalidRequest { request, message } => {
                HttpError::InvalidRequest { request: f(request), message: f(message) }
            }
            HttpError::Network { request, attempts, message } => {
                HttpError::Network { request: f(request), attempts, message: f(message) }
            }
            HttpError::Timeout { request, attempts, timeout } => {
                HttpError::Timeout { request: f(request), attempts, timeout }
            }
            HttpError::Status { request, status, attempts, content_type, body } => {
                HttpError::Status { request: f(request), status, attempts, content_type, body: f(body) }
            }
            HttpError::Redirect { request, status, location } => {
                HttpError::Redirect { request: f(request), status, location: location.map(&f) }
            }
            HttpError::WaitTooLong { request, reason, header, wait, max } => {
                HttpError::WaitTooLong { request: f(request), reason, header, wait, max }
            }
            HttpError::InvalidCredentials { request, message } => {
                HttpError::InvalidCredentials { request: f(request), message: f(message) }
            }
            HttpError::Decode { request, path, message } => {
                HttpError::Decode { request: f(request), path: f(path), message: f(message) }
            }
            HttpError::InvalidBody { request, content_type, message, excerpt, attempts } => HttpError::InvalidBody {
                request: f(request),
                content_type,
                message: f(message),
                excerpt: f(excerpt),
                attempts,
            },
            HttpError::Pagination { request, message } => {
                HttpError::Pagination { request: f(request), message: f(message) }
            }
            HttpError::Save { request, path, message } => HttpError::Save { request: f(request), path, message },
        }
    }
}

/// ` after 3 attempts` when the request was sent more than once.
fn after_attempts(attempts: &u32) -> String {
    if *attempts > 1 { format!(" after {attempts} attempts") } else { String::new() }
}

/// ` (3 attempts)` when the request was sent more than once.
fn attempts_count(attempts: &u32) -> String {
    if *attempts > 1 { format!(" ({attempts} attempts)") } else { String::new() }
}

fn human(d: &Duration) -> String {
    nango_types::text::human_duration(*d)
}

/// `: {body}`, or ` (empty body)`.
fn quoted_body(body: &str) -> String {
    if body.is_empty() { " (empty body)".to_owned() } else { format!(": {body}") }
}

fn redirect_target(location: &Option<String>) -> String {
    match location {
        Some(location) => format!(" redirecting to {location}"),
        None => " without a Location header".to_owned(),
    }
}

fn content_type_or_none(content_type: &Option<String>) -> &str {
    content_type.as_deref().unwrap_or("none")
}

/// `; body starts with: {excerpt}`, or `; the body is empty`.
fn body_start(excerpt: &str) -> String {
    if excerpt.is_empty() { "; the body is empty".to_owned() } else { format!("; body starts with: {excerpt}") }
}

/// The start of a body for an error message: at most [`EXCERPT_BYTES`] bytes, scrubbed of
/// secrets (the shared [`nango_types::text::excerpt`]).
pub(crate) fn excerpt(body: &[u8]) -> String {
    nango_types::text::excerpt(body, EXCERPT_BYTES)
}

#[cfg(test)]
mod display_tests {
    use super::*;

    /// Every variant's message, in both of the shapes the conditional parts take.
    #[test]
    fn every_message_reads_as_before() {
        let r = || "GET https://x.io/a".to_owned();
        let cases: Vec<(HttpError, &str)> = vec![
            (
                HttpError::Config { provider: "github".into(), message: "no base URL".into() },
                "HTTP client for provider `github`: no base URL",
            ),
            (
                HttpError::InvalidRequest { request: r(), message: "bad header".into() },
                "GET https://x.io/a: bad header",
            ),
            (
                HttpError::Network { request: r(), attempts: 1, message: "connection refused".into() },
                "GET https://x.io/a failed: connection refused",
            ),
            (
                HttpError::Network { request: r(), attempts: 3, message: "connection refused".into() },
                "GET https://x.io/a failed after 3 attempts: connection refused",
            ),
            (
                HttpError::Timeout { request: r(), attempts: 1, timeout: Duration::from_secs(30) },
                "GET https://x.io/a timed out after 30 s",
            ),
            (
                HttpError::Timeout { request: r(), attempts: 2, timeout: Duration::from_millis(1500) },
                "GET https://x.io/a timed out after 1.5 s (2 attempts)",
            ),
            (
                HttpError::Status {
                    request: r(),
                    status: StatusCode::BAD_GATEWAY,
                    attempts: 4,
                    content_type: None,
                    body: String::new(),
                },
                "GET https://x.io/a returned 502 Bad Gateway after 4 attempts (empty body)",
            ),
            (
                HttpError::Status {
                    request: r(),
                    status: StatusCode::NOT_FOUND,
                    attempts: 1,
                    content_type: None,
                    body: "nope".into(),
                },
                "GET https://x.io/a returned 404 Not Found: nope",
            ),
            (
                HttpError::Redirect {
                    request: r(),
                    status: StatusCode::MOVED_PERMANENTLY,
                    location: Some("https://y.io/b".into()),
                },
                "GET https://x.io/a returned 301 Moved Permanently redirecting to https://y.io/b; redirects are not \
                 followed: call the final URL (or set base_url) instead",
            ),
            (
                HttpError::Redirect { request: r(), status: StatusCode::FOUND, location: None },
                "GET https://x.io/a returned 302 Found without a Location header; redirects are not followed: call \
                 the final URL (or set base_url) instead",
            ),
            (
                HttpError::WaitTooLong {
                    request: r(),
                    reason: "429 Too Many Requests".into(),
                    header: "retry-after".into(),
                    wait: Duration::from_secs(7200),
                    max: Duration::from_secs(600),
                },
                "GET https://x.io/a: the provider asks to wait 7200 s before retrying (429 Too Many Requests; header \
                 `retry-after`), more than max_header_wait (600 s)",
            ),
            (
                HttpError::InvalidCredentials { request: r(), message: "was refused (401)".into() },
                "GET https://x.io/a was refused (401)",
            ),
            (
                HttpError::Decode { request: r(), path: "[3].user.login".into(), message: "invalid type".into() },
                "GET https://x.io/a: response body does not match the expected type at [3].user.login: invalid type",
            ),
            (
                HttpError::InvalidBody {
                    request: r(),
                    content_type: Some("text/html".into()),
                    message: "expected value".into(),
                    excerpt: "<html>".into(),
                    attempts: 1,
                },
                "GET https://x.io/a: response body is not valid JSON (expected value); content-type: text/html; body \
                 starts with: <html>",
            ),
            (
                HttpError::InvalidBody {
                    request: r(),
                    content_type: None,
                    message: "EOF".into(),
                    excerpt: String::new(),
                    attempts: 6,
                },
                "GET https://x.io/a: response body is not valid JSON after 6 attempts (EOF); content-type: none; the \
                 body is empty",
            ),
            (
                HttpError::Pagination { request: r(), message: "went round in a circle".into() },
                "GET https://x.io/a: went round in a circle",
            ),
            (
                HttpError::Save { request: r(), path: PathBuf::from("/tmp/x"), message: "denied".into() },
                "GET https://x.io/a: cannot save the response to /tmp/x: denied",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected, "{error:?}");
        }
    }
}
