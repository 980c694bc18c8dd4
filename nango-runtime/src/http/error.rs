//! [`HttpError`]: what can go wrong with a request, always naming the request.

use reqwest::StatusCode;
use std::fmt;
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The client could not be set up (base URL template without a value, bad `retry.error_code`,
    /// `save_responses` folder that cannot be created...).
    Config {
        /// The provider (`connection.provider`).
        provider: String,
        /// What is wrong.
        message: String,
    },
    /// The request could not be built: bad URL, invalid header, a provider template without a
    /// value for this connection, a body that does not serialize.
    InvalidRequest {
        /// `METHOD url`.
        request: String,
        /// What is wrong.
        message: String,
    },
    /// The request did not get a response (connection refused or reset, truncated body...), after
    /// the retries.
    Network {
        /// `METHOD url`.
        request: String,
        /// How many times it was sent.
        attempts: u32,
        /// The transport error, with its causes.
        message: String,
    },
    /// No response within the timeout, after the retries.
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
    InvalidCredentials {
        /// `METHOD url`.
        request: String,
        /// What happened.
        message: String,
    },
    /// The body is JSON but does not match the type asked for.
    Decode {
        /// `METHOD url`.
        request: String,
        /// Where in the body (`[3].user.login`; `.` for the whole body).
        path: String,
        /// What serde says (`invalid type: null, expected a string`).
        message: String,
    },
    /// The body is not JSON (an HTML error page, a truncated document...).
    InvalidBody {
        /// `METHOD url`.
        request: String,
        /// The response's `content-type`.
        content_type: Option<String>,
        /// What the JSON parser says.
        message: String,
        /// The start of the body (at most 1 KB).
        excerpt: String,
    },
    /// Pagination is not configured, is configured wrongly, or went round in a circle.
    Pagination {
        /// `METHOD url` of the first page, or of the page that went wrong.
        request: String,
        /// What is wrong (Nango's message for configuration errors).
        message: String,
    },
    /// [`HttpOptions::save_responses`](super::HttpOptions) is set and the exchange could not be
    /// written.
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
            HttpError::InvalidBody { request, content_type, message, excerpt } => {
                HttpError::InvalidBody { request: f(request), content_type, message: f(message), excerpt: f(excerpt) }
            }
            HttpError::Pagination { request, message } => {
                HttpError::Pagination { request: f(request), message: f(message) }
            }
            HttpError::Save { request, path, message } => HttpError::Save { request: f(request), path, message },
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Config { provider, message } => write!(f, "HTTP client for provider `{provider}`: {message}"),
            HttpError::InvalidRequest { request, message } => write!(f, "{request}: {message}"),
            HttpError::Network { request, attempts, message } => {
                write!(f, "{request} failed")?;
                if *attempts > 1 {
                    write!(f, " after {attempts} attempts")?;
                }
                write!(f, ": {message}")
            }
            HttpError::Timeout { request, attempts, timeout } => {
                write!(f, "{request} timed out after {}", nango_types::text::human_duration(*timeout))?;
                if *attempts > 1 {
                    write!(f, " ({attempts} attempts)")?;
                }
                Ok(())
            }
            HttpError::Status { request, status, attempts, content_type: _, body } => {
                write!(f, "{request} returned {status}")?;
                if *attempts > 1 {
                    write!(f, " after {attempts} attempts")?;
                }
                if body.is_empty() { write!(f, " (empty body)") } else { write!(f, ": {body}") }
            }
            HttpError::Redirect { request, status, location } => {
                write!(f, "{request} returned {status}")?;
                match location {
                    Some(location) => write!(f, " redirecting to {location}")?,
                    None => write!(f, " without a Location header")?,
                }
                write!(f, "; redirects are not followed: call the final URL (or set base_url) instead")
            }
            HttpError::WaitTooLong { request, reason, header, wait, max } => write!(
                f,
                "{request}: the provider asks to wait {} before retrying ({reason}; header `{header}`), \
                 more than max_header_wait ({})",
                nango_types::text::human_duration(*wait),
                nango_types::text::human_duration(*max)
            ),
            HttpError::InvalidCredentials { request, message } => write!(f, "{request} {message}"),
            HttpError::Decode { request, path, message } => {
                write!(f, "{request}: response body does not match the expected type at {path}: {message}")
            }
            HttpError::InvalidBody { request, content_type, message, excerpt } => {
                write!(f, "{request}: response body is not valid JSON ({message}); content-type: ")?;
                match content_type {
                    Some(ct) => write!(f, "{ct}")?,
                    None => write!(f, "none")?,
                }
                if excerpt.is_empty() {
                    write!(f, "; the body is empty")
                } else {
                    write!(f, "; body starts with: {excerpt}")
                }
            }
            HttpError::Pagination { request, message } => write!(f, "{request}: {message}"),
            HttpError::Save { request, path, message } => {
                write!(f, "{request}: cannot save the response to {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for HttpError {}

/// The start of a body for an error message: at most [`EXCERPT_BYTES`] bytes, scrubbed of
/// secrets (the shared [`nango_types::text::excerpt`]).
pub(crate) fn excerpt(body: &[u8]) -> String {
    nango_types::text::excerpt(body, EXCERPT_BYTES)
}
