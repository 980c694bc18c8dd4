//! [`VerifiedWebhook`], the axum extractor: the body read within the verifier's limit, verified,
//! then parsed (feature `axum`).

use axum_core::extract::{FromRef, FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::verifier::WebhookVerifier;

/// An axum extractor: the request's body, verified with the state's [`WebhookVerifier`] and
/// parsed as JSON into `T`.
///
/// Rejections are JSON `{"error": {"code", "message"}}`: 401 for a missing or wrong signature
/// (codes of [`WebhookError::code`](super::WebhookError::code)), 400 `invalid_json` for a body that does not parse into `T`,
/// 413 `body_too_large` over the verifier's limit, 400 `invalid_body` when it cannot be read. The
/// signature is checked before the JSON, so unsigned requests learn nothing about the format.
///
/// ```no_run
/// use axum::{Router, routing::post};
/// use nango_client::webhooks::{SyncWebhook, VerifiedWebhook, WebhookVerifier};
///
/// async fn on_webhook(VerifiedWebhook(hook): VerifiedWebhook<SyncWebhook>) -> &'static str {
///     println!("{} {} added", hook.model, hook.response_results.map_or(0, |r| r.added));
///     "ok"
/// }
///
/// # async fn serve() {
/// let app: Router = Router::new()
///     .route("/nango", post(on_webhook))
///     .with_state(WebhookVerifier::new("signing-key"));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedWebhook<T>(pub T);

/// Why [`VerifiedWebhook`] refused a request; answers with its status and a JSON error body.
///
/// ```
/// use axum::response::IntoResponse;
/// use nango_client::webhooks::WebhookRejection;
/// let r = WebhookRejection { status: axum::http::StatusCode::UNAUTHORIZED, code: "invalid_signature", message: "no".into() };
/// assert_eq!(r.to_string(), "401 invalid_signature: no");
/// assert_eq!(r.into_response().status(), 401);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {code}: {message}", .status.as_u16())]
pub struct WebhookRejection {
    /// 400, 401 or 413.
    pub status: StatusCode,
    /// A stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        // axum's `Json` answer, written without axum's `json` feature.
        let headers = [(CONTENT_TYPE, http::HeaderValue::from_static("application/json"))];
        (self.status, headers, body.to_string()).into_response()
    }
}

impl<S, T> FromRequest<S> for VerifiedWebhook<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let (parts, body) = req.into_parts();
        let mut stream = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| WebhookRejection {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_body",
                message: format!("could not read the body: {e}"),
            })?;
            // Checked per chunk so an oversized body is never held in memory whole.
            if bytes.len() + chunk.len() > verifier.body_limit {
                return Err(WebhookRejection {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "body_too_large",
                    message: format!("the body is larger than {} bytes", verifier.body_limit),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        verifier.verify(&parts.headers, &bytes, Utc::now()).map_err(|e| {
            tracing::warn!(code = e.code(), "Refused webhook: {e}");
            WebhookRejection { status: StatusCode::UNAUTHORIZED, code: e.code(), message: e.to_string() }
        })?;
        let invalid =
            |message: String| WebhookRejection { status: StatusCode::BAD_REQUEST, code: "invalid_json", message };
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        // The path names the field that does not fit `T` (`responseResults.added: invalid type...`).
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            invalid(if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) })
        })?;
        // Trailing bytes after the JSON value are refused, as `serde_json::from_slice` would.
        de.end().map_err(|e| invalid(e.to_string()))?;
        Ok(VerifiedWebhook(value))
    }
}
