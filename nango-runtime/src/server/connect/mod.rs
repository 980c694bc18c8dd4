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
//! One module per part: `sessions` (the session API and its tokens), `oauth` (the code flow
//! and token requests), `credentials` (API key, basic and client credentials forms),
//! `outcome` (storing what a flow made, the auth webhook), `ws` (the frontend SDK's socket),
//! `page` (the popup's pages), `ui` (the Connect UI).

mod credentials;
mod oauth;
pub(super) mod outcome;
mod page;
pub(super) mod sessions;
mod ui;
pub(super) mod ws;

pub use ws::WsClients;

use super::route_table::RouteTable;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// The routes of the connect flow.
pub(super) fn routes() -> RouteTable {
    RouteTable::new()
        .route("/connect/sessions", post(sessions::create))
        .route("/connect/sessions/reconnect", post(sessions::create_reconnect))
        .route("/connect/session", get(sessions::get_current).delete(sessions::delete_current))
        .route("/oauth/connect/{integration}", get(oauth::connect))
        .route("/oauth/callback", get(oauth::callback))
        .route("/api-auth/api-key/{integration}", post(credentials::api_key))
        .route("/api-auth/basic/{integration}", post(credentials::basic))
        .route("/oauth2/auth/{integration}", post(credentials::client_credentials))
        .route("/connect/ui", get(ui::show))
        .route("/connect/ui/{integration}", post(ui::submit))
}

/// Paths whose requests carry a connect session token instead of the secret key (each handler
/// checks the token itself).
pub(super) fn uses_session_token(path: &str) -> bool {
    path == "/connect/session"
        || path == "/oauth/callback"
        || ["/oauth/connect/", "/api-auth/", "/oauth2/auth/", "/connect/ui"].iter().any(|p| path.starts_with(p))
}

/// Lets the developer's frontend (another origin) call the routes that take a session token:
/// they read no cookie, so any origin may; a preflight is answered here.
pub(super) async fn cors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !uses_session_token(path) {
        return next.run(request).await;
    }
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, DELETE, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}
