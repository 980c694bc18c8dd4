//! Nango Auth: how an end user of the developer's product connects their own account.
//!
//! The developer's backend creates a connect session (`POST /connect/sessions`, with the secret
//! key) and hands its short-lived token to the frontend; the token then authorizes only the
//! connect flow, only for the session's integrations: the OAuth authorization code flow
//! (`/oauth/connect/{integration}` → the provider → `/oauth/callback`), the client credentials
//! grant and the API key / basic credential forms, the Connect UI page, and the WebSocket the
//! frontend SDK waits on for the outcome. A new connection gets an auth webhook and its
//! `auto_start` syncs start at once.
//!
//! One module per part: `sessions` (the session API and its tokens).

pub(super) mod sessions;

use super::AppState;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// The routes of the connect flow.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/connect/sessions", post(sessions::create))
        .route("/connect/sessions/reconnect", post(sessions::create_reconnect))
        .route("/connect/session", get(sessions::get_current).delete(sessions::delete_current))
}

/// Paths whose requests carry a connect session token instead of the secret key (each handler
/// checks the token itself).
pub(super) fn uses_session_token(path: &str) -> bool {
    path == "/connect/session"
}
