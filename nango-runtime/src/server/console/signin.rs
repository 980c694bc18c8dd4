//! Signing in and out: `GET /login` shows the form, `POST /login` checks the secret key from
//! the form body and starts a session, `POST /logout` ends it.
//!
//! The key travels only in the POST body: never in a URL (where it would stay in the browser's
//! history, server logs and `Referer` headers) and never in a cookie. A wrong key gets the form
//! again with an error that says nothing about the key.

use super::layout::{PageError, PageResult, respond};
use super::pages;
use super::session::{self, Session};
use crate::server::{AppState, same_key};
use axum::Extension;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use std::sync::Arc;

/// The form field the key comes in.
const KEY_FIELD: &str = "key";

/// A redirect that is never cached (it may carry a cookie).
fn see_other(to: &str) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Redirect::to(to)).into_response()
}

/// `GET /login`: the sign-in form; straight to the dashboard when already signed in.
///
/// `?key=` was how one signed in before; it is not accepted any more, and the page says so
/// (without repeating the key).
pub(super) async fn form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> PageResult {
    if session::current(&state, &headers, Utc::now()).await?.is_some() {
        return Ok(see_other("/"));
    }
    let key_in_url = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).any(|(name, _)| name == KEY_FIELD);
    let notice = key_in_url.then_some(
        "The secret key no longer goes in the address, where it would stay in the browser's history: type it below.",
    );
    Ok(respond(StatusCode::OK, pages::sign_in(None, notice)))
}

/// `POST /login` with `key=<secret key>` in the form body: the right key starts a session
/// (replacing the browser's current one) and goes to `/`.
pub(super) async fn sign_in(State(state): State<Arc<AppState>>, request: Request) -> PageResult {
    // A form posted from another site must not sign the browser in (login CSRF).
    if let Some(refusal) = session::cross_site(request.headers()) {
        return Err(refusal);
    }
    let now = Utc::now();
    let previous = session::current(&state, request.headers(), now).await?;
    let form = session::read_form(request.into_body()).await?;
    let key = session::form_field(&form, KEY_FIELD).unwrap_or_default();
    if key.is_empty() {
        let page = pages::sign_in(Some("Enter the secret key (NANGO_SECRET_KEY) to sign in."), None);
        return Ok(respond(StatusCode::BAD_REQUEST, page));
    }
    if !same_key(key.as_bytes(), state.secret_key.as_bytes()) {
        // Nothing of what was typed goes back into the page.
        let page = pages::sign_in(Some("That secret key is not valid. Check NANGO_SECRET_KEY and try again."), None);
        return Ok(respond(StatusCode::UNAUTHORIZED, page));
    }
    if let Some(previous) = previous {
        session::end(&state, &previous).await?;
    }
    let cookie = session::start(&state, now).await?;
    let mut response = see_other("/");
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /logout` (behind the session and CSRF checks): ends the session, makes the browser
/// forget its cookie, and goes to the sign-in page.
pub(super) async fn sign_out(State(state): State<Arc<AppState>>, Extension(session): Extension<Session>) -> PageResult {
    session::end(&state, &session).await.map_err(PageError::from)?;
    let mut response = see_other("/login");
    response.headers_mut().insert(header::SET_COOKIE, session::clear_cookie());
    Ok(response)
}
