//! Errors of the HTTP API: a status, a stable code and a message, as JSON
//! `{"error": {"code": "...", "message": "..."}}`, with `payload` (what a failed action reports
//! to its caller) and `errors` (the problems of an invalid input) when there are some: the
//! shape of Nango's `ApiError` (`@nangohq/types`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

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
    /// Details for the caller (`error.payload`): what a failed action reports. Boxed: errors
    /// travel in every handler's `Result`, and most have none.
    pub payload: Option<Box<Value>>,
    /// The problems of an invalid input (`error.errors`), each `{"code", "message", "path"}`.
    pub errors: Vec<Value>,
}

impl ApiError {
    /// Any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), payload: None, errors: Vec::new() }
    }

    /// With a payload for the caller.
    ///
    /// ```
    /// use nango_runtime::server::ApiError;
    /// let e = ApiError::internal("failed").with_payload(serde_json::json!({"retry": false}));
    /// assert_eq!(e.payload.unwrap()["retry"], false);
    /// ```
    pub fn with_payload(mut self, payload: Value) -> Self {
        self.payload = Some(Box::new(payload));
        self
    }

    /// With the problems of an invalid input.
    pub fn with_errors(mut self, errors: Vec<Value>) -> Self {
        self.errors = errors;
        self
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

/// A cursor nobody gave out is the caller's mistake (400); a connection (or an integration) whose
/// credentials do not open under this service's key, and secrets under another key than the
/// store's, conflict with the state of the store (409, each with its code); anything else the
/// store says is ours (500), with the whole chain of causes in the message.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            e @ StoreError::InvalidCursor { .. } => ApiError::bad_request("invalid_cursor_value", e.to_string()),
            e @ StoreError::KeyMismatch { .. } => {
                ApiError::new(StatusCode::CONFLICT, "encryption_key_mismatch", nango_types::text::error_chain(&e))
            }
            e @ (StoreError::Unseal { .. }
            | StoreError::UnreadableConnection { what: "credentials", .. }
            | StoreError::UnsealIntegration { .. }
            | StoreError::UnreadableIntegration { .. }) => {
                ApiError::new(StatusCode::CONFLICT, "unreadable_credentials", nango_types::text::error_chain(&e))
            }
            other => ApiError::internal(nango_types::text::error_chain(&other)),
        }
    }
}

/// An action's failure as Nango answers it (see [`crate::ActionError`]): the payload of an
/// error the action reported, the field of an input that does not decode; for any other
/// failure only that it failed: its cause is logged here, not sent to the caller.
impl From<crate::ActionError> for ApiError {
    fn from(e: crate::ActionError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match e {
            crate::ActionError::InvalidInput { ref path, ref message, .. } => {
                let problem = serde_json::json!({"code": e.code(), "message": message, "path": path});
                ApiError::new(status, e.code(), e.to_string()).with_errors(vec![problem])
            }
            crate::ActionError::Reported { ref payload } => {
                ApiError::new(status, e.code(), e.to_string()).with_payload(payload.clone())
            }
            crate::ActionError::Internal { ref action, .. } => {
                tracing::error!(action = %action, error = %nango_types::text::error_chain(&e), "action failed");
                ApiError::new(
                    status,
                    e.code(),
                    format!("action `{action}` failed with an internal error; the server's log has the cause"),
                )
            }
        }
    }
}

impl From<crate::scheduler::SchedulerError> for ApiError {
    fn from(e: crate::scheduler::SchedulerError) -> Self {
        ApiError::internal(nango_types::text::error_chain(&e))
    }
}

impl ApiError {
    /// The body of the error's response: `{"error": {"code", "message", "errors"?, "payload"?}}`.
    ///
    /// ```
    /// let e = nango_runtime::server::ApiError::bad_request("invalid_body", "no");
    /// assert_eq!(e.body(), serde_json::json!({"error": {"code": "invalid_body", "message": "no"}}));
    /// ```
    pub fn body(&self) -> Value {
        let mut error = serde_json::Map::new();
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.clone().into());
        if !self.errors.is_empty() {
            error.insert("errors".into(), self.errors.clone().into());
        }
        if let Some(payload) = &self.payload {
            error.insert("payload".into(), (**payload).clone());
        }
        serde_json::json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// `Result` of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
