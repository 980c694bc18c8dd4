//! The Connect UI: our own page for `openConnectUI` and the session's `connect_link`. It lists
//! the session's integrations, each with what its provider needs: a button into the OAuth flow,
//! or a form for an API key, a user name and password, or client credentials. It works without
//! JavaScript; the only script is the handshake with the frontend SDK when the page is in its
//! frame (the SDK hands the session token over by `postMessage`, and hears `connect` and
//! `close` back).

use super::credentials::{self, Typed};
use super::page::layout;
use super::sessions::{self, SessionProblem};
use crate::providers::AuthMode;
use crate::server::AppState;
use crate::server::extract::RawBody;
use crate::store::ConnectSession;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, PreEscaped, html};
use std::sync::Arc;

/// The handshake with the frontend SDK's `ConnectUI` (only when framed): ask for the token,
/// reload with it; tell the parent about a connection, and about closing.
const HANDSHAKE: &str = r#"(function(){
  if (window.parent === window) return;
  var done = document.getElementById('connected');
  if (done) window.parent.postMessage({type:'connect', payload:{providerConfigKey: done.dataset.integration, connectionId: done.dataset.connectionId}}, '*');
  if (!document.body.dataset.session) {
    window.addEventListener('message', function(e){
      if (e.data && e.data.type === 'session_token' && e.data.sessionToken) {
        location.replace(location.pathname + '?session_token=' + encodeURIComponent(e.data.sessionToken));
      }
    });
  }
  var close = document.getElementById('close');
  if (close) close.addEventListener('click', function(ev){ ev.preventDefault(); window.parent.postMessage({type:'close'}, '*'); });
  window.parent.postMessage({type:'ready'}, '*');
})();"#;

fn token_of(raw: Option<&str>) -> Option<String> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "session_token")
        .map(|(_, v)| v.into_owned())
}

fn page(status: StatusCode, has_session: bool, body: Markup) -> Response {
    let body = html! {
        div {
            (body)
            p { a #close href="#" { "Close" } }
        }
        script { (PreEscaped(HANDSHAKE)) }
    };
    // The marker the handshake reads is on `body`: set it there.
    let text = layout("Connect an account", body).into_string().replacen(
        "<body>",
        if has_session { "<body data-session=\"1\">" } else { "<body>" },
        1,
    );
    (status, Html(text)).into_response()
}

/// `GET /connect/ui?session_token=`: the page.
pub(super) async fn show(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let token = token_of(raw.as_deref());
    if token.is_none() {
        // In the SDK's frame the token comes by message; opened directly, say what is missing.
        let body = html! {
            h1 { "Connect an account" }
            p.muted #waiting { "Waiting for the connect session… Open this page from your app, or with the link of a connect session (" code { "connect_link" } ")." }
        };
        return page(StatusCode::OK, false, body);
    }
    match sessions::open(&state, token.as_deref()).await {
        Ok(session) => page(StatusCode::OK, true, integrations(&state, &session, token.as_deref().unwrap_or("")).await),
        Err(problem) => page(StatusCode::UNAUTHORIZED, true, problem_box(&problem)),
    }
}

fn problem_box(problem: &SessionProblem) -> Markup {
    html! {
        h1 { "Connect an account" }
        p.error #error data-code=(problem.code()) { (problem.message()) }
    }
}

/// The session's integrations, each with its button or form.
async fn integrations(state: &AppState, session: &ConnectSession, token: &str) -> Markup {
    let mut keys: Vec<String> = match &session.data.allowed_integrations {
        Some(list) => list.clone(),
        None => {
            let mut all: Vec<String> = crate::registered_integrations().into_iter().map(str::to_owned).collect();
            all.extend(state.store().integration_providers().await.unwrap_or_default().into_keys());
            all
        }
    };
    keys.sort();
    keys.dedup();
    let providers = state.scheduler.runtime().providers();
    let stored = state.store().integration_providers().await.unwrap_or_default();
    html! {
        h1 { "Connect an account" }
        @if let Some(user) = &session.data.end_user {
            p.muted { "For " (user.display_name.as_deref().or(user.email.as_deref()).unwrap_or(&user.id)) }
        }
        ul.integrations {
            @for key in &keys {
                @let provider_name = stored.get(key).cloned().unwrap_or_else(|| key.clone());
                @let provider = providers.get(&provider_name);
                @let title = provider.as_ref().and_then(|p| p.display_name.clone()).unwrap_or_else(|| key.clone());
                li data-integration=(key) {
                    strong { (title) } " " span.muted { "(" (key) ")" }
                    @match provider.as_ref().and_then(|p| p.auth_mode.clone()) {
                        Some(AuthMode::OAuth2) => {
                            p { a.button.connect href=(format!("/oauth/connect/{key}?connect_session_token={token}")) { "Connect" } }
                        }
                        Some(AuthMode::ApiKey) => {
                            form method="post" action=(format!("/connect/ui/{key}?session_token={token}")) {
                                label for=(format!("{key}-apiKey")) { "API key" }
                                input type="password" id=(format!("{key}-apiKey")) name="apiKey" autocomplete="off" required;
                                p { button type="submit" { "Connect" } }
                            }
                        }
                        Some(AuthMode::Basic) => {
                            form method="post" action=(format!("/connect/ui/{key}?session_token={token}")) {
                                label { "User name" input type="text" name="username" required; }
                                label { "Password" input type="password" name="password" autocomplete="off"; }
                                p { button type="submit" { "Connect" } }
                            }
                        }
                        Some(AuthMode::OAuth2ClientCredentials) => {
                            form method="post" action=(format!("/connect/ui/{key}?session_token={token}")) {
                                label { "Client id" input type="text" name="client_id" required; }
                                label { "Client secret" input type="password" name="client_secret" autocomplete="off" required; }
                                p { button type="submit" { "Connect" } }
                            }
                        }
                        _ => { p.muted { "This integration cannot be connected from here." } }
                    }
                }
            }
        }
    }
}

/// `POST /connect/ui/{integration}?session_token=`: a credential form.
pub(super) async fn submit(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    RawBody(body): RawBody,
) -> Response {
    let token = token_of(raw.as_deref()).unwrap_or_default();
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let typed = if fields.iter().any(|(k, _)| k == "apiKey") {
        Typed::ApiKey(field("apiKey"))
    } else if fields.iter().any(|(k, _)| k == "client_id") {
        Typed::ClientCredentials { client_id: field("client_id"), client_secret: field("client_secret") }
    } else {
        Typed::Basic { username: field("username"), password: field("password") }
    };
    match credentials::connect_typed(&state, &key, &token, typed).await {
        Ok(connection_id) => {
            let body = html! {
                h1 { "Connected" }
                p.ok #connected data-integration=(key) data-connection-id=(connection_id) { "The account is connected. You can close this window." }
            };
            page(StatusCode::OK, true, body)
        }
        Err(e) => {
            let body = html! {
                h1 { "Connection failed" }
                p.error #error data-code=(e.code) { (e.message) }
                p { a href=(format!("/connect/ui?session_token={token}")) { "Try again" } }
            };
            page(e.status, true, body)
        }
    }
}
