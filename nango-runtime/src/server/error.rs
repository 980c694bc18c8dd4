//! Errors of the HTTP API: a status, a stable code and a message, as JSON
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An API error.
///
/// ```
/// use nango_runtime::server::ApiError;
/// let e = ApiError::bad_request("invalid_query_params", "unknown parameter `foo`");
/// assert_eq!(e.status.as_u16(), 400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (Nango's where it has one).
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    /// Any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 500, for failures of ours (the store); the message says what failed.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message.to_string())
    }
}

/// A cursor nobody gave out is the caller's mistake (400); anything else the store says is ours
/// (500), with the whole chain of causes in the message.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            e @ crate::store::StoreError::InvalidCursor { .. } => {
                ApiError::bad_request("invalid_cursor_value", e.to_string())
            }
            other => ApiError::internal(nango_types::text::error_chain(&other)),
        }
    }
}

impl From<crate::scheduler::SchedulerError> for ApiError {
    fn from(e: crate::scheduler::SchedulerError) -> Self {
        ApiError::internal(nango_types::text::error_chain(&e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

/// `Result` of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
