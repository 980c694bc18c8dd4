//! Console sessions: made at sign-in, found from the browser's cookie, ended at sign-out; and
//! the checks every console POST passes (a same-origin request carrying the session's CSRF
//! token).
//!
//! - The cookie `nango_session` holds a random id (32 bytes, base64url), `HttpOnly;
//!   SameSite=Strict; Path=/`. It never holds the secret key.
//! - The store keeps HMAC-SHA256(secret key, id), never the id: reading the database does not
//!   let anyone sign in, and changing `NANGO_SECRET_KEY` signs every session out (their
//!   digests no longer match). Because sessions live in the store, every process serving the
//!   same database accepts them.
//! - A session expires a fixed time after sign-in ([`ServeOptions::console_session_ttl`],
//!   12 hours by default); using it does not extend it, so a dashboard left open (it reloads
//!   itself) does not stay signed in forever.
//! - Each session has its own random CSRF token. Every page's forms carry it in a hidden
//!   `csrf` field, and [`require_session`] compares it in constant time before any POST
//!   handler runs. It also refuses requests a browser marks as cross-site (`Sec-Fetch-Site`)
//!   or sent from another origin (`Origin` other than the `Host` the request was sent to).
//!
//! [`ServeOptions::console_session_ttl`]: crate::server::ServeOptions::console_session_ttl

use super::layout::PageError;
use crate::server::{AppState, same_key};
use crate::store::{ConsoleSession, StoreResult};
use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use std::sync::Arc;

/// The cookie that carries the session id.
pub(super) const COOKIE: &str = "nango_session";

/// The form field that carries the CSRF token.
pub(super) const CSRF_FIELD: &str = "csrf";

/// The largest console form body read (the forms carry a token and at most a key).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// A signed-in session, as handlers see it (the middleware puts it in the request's
/// extensions).
#[derive(Clone)]
pub(super) struct Session {
    digest: Vec<u8>,
    /// The token the session's forms carry.
    pub csrf_token: String,
}

/// 32 random bytes from the operating system, base64url without padding (43 characters).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store files a session under: keyed by the secret key, so it cannot be recomputed
/// without it.
fn digest(secret_key: &str, session_id: &str) -> Vec<u8> {
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"nango-rs console session\0");
    mac.update(session_id.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The session id the request's cookies carry, if any.
fn cookie_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .filter(|id| !id.is_empty())
}

/// Whether the request carries a session cookie at all (valid or not).
pub(super) fn has_cookie(headers: &HeaderMap) -> bool {
    cookie_id(headers).is_some()
}

/// The request's session, if its cookie names one that has not expired. An expired one is
/// deleted on the way.
pub(super) async fn current(state: &AppState, headers: &HeaderMap, now: DateTime<Utc>) -> StoreResult<Option<Session>> {
    let Some(id) = cookie_id(headers) else { return Ok(None) };
    let digest = digest(&state.secret_key, id);
    let Some(stored) = state.store().session(&digest).await? else { return Ok(None) };
    if stored.expires_at <= now {
        state.store().delete_session(&digest).await?;
        return Ok(None);
    }
    Ok(Some(Session { digest, csrf_token: stored.csrf_token }))
}

/// Starts a session (after the key was checked); the `Set-Cookie` value that hands its id to
/// the browser. Expired sessions are swept first, so they do not pile up.
pub(super) async fn start(state: &AppState, now: DateTime<Utc>) -> StoreResult<HeaderValue> {
    state.store().delete_expired_sessions(now).await?;
    let id = random_token();
    let ttl = chrono::Duration::from_std(state.console_session_ttl).unwrap_or(chrono::Duration::MAX);
    let session = ConsoleSession {
        digest: digest(&state.secret_key, &id),
        csrf_token: random_token(),
        created_at: now,
        expires_at: now.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC),
    };
    state.store().create_session(&session).await?;
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
    Ok(HeaderValue::from_str(&cookie).expect("base64url is a valid header value"))
}

/// Ends a session (sign-out, or a new sign-in replacing it).
pub(super) async fn end(state: &AppState, session: &Session) -> StoreResult<()> {
    state.store().delete_session(&session.digest).await.map(drop)
}

/// The `Set-Cookie` value that makes the browser forget its session cookie.
pub(super) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("nango_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Why a POST is refused as coming from another site, if it is: the browser's
/// `Sec-Fetch-Site` says so, or its `Origin` is not the host the request was sent to. Requests
/// without these headers (older browsers, scripts) are judged by the CSRF token alone.
pub(super) fn cross_site(headers: &HeaderMap) -> Option<PageError> {
    let refuse = || {
        PageError::new(
            StatusCode::FORBIDDEN,
            "This form was sent from another site, so nothing was done. Open the console and use its own buttons.",
        )
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: the user made the request themselves (typed, bookmarked); `same-site` is refused
        // too, since a sibling subdomain may belong to someone else.
        if !matches!(site.to_str(), Ok("same-origin" | "none")) {
            return Some(refuse());
        }
    }
    let origin = headers.get(header::ORIGIN)?;
    let origin_host =
        origin.to_str().ok().and_then(|o| o.strip_prefix("http://").or_else(|| o.strip_prefix("https://")));
    let Some(origin_host) = origin_host else { return Some(refuse()) };
    // A proxy in front may rewrite `Host` but say the original in `X-Forwarded-Host`; a form on
    // another site cannot set either header.
    let hosts = [header::HOST.as_str(), "x-forwarded-host"];
    let same = hosts.iter().filter_map(|h| headers.get(*h)?.to_str().ok()).any(|host| {
        let host = host.split(',').next().unwrap_or_default().trim();
        host.eq_ignore_ascii_case(origin_host)
    });
    (!same).then(refuse)
}

/// A form body; one too large to be one of ours is refused (413), one that does not arrive
/// within the server's body timeout too (408, as the API answers it).
pub(super) async fn read_form(body: axum::body::Body) -> Result<Bytes, PageError> {
    axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(late) = c.downcast_ref::<crate::server::BodyTimedOut>() {
                return PageError::new(StatusCode::REQUEST_TIMEOUT, format!("The form did not arrive: {late}."));
            }
            cause = c.source();
        }
        PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is larger than any form of the console.")
    })
}

/// The value of one field of a form body (`application/x-www-form-urlencoded`), if present.
pub(super) fn form_field(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form).find(|(n, _)| n == name).map(|(_, v)| v.into_owned())
}

/// Middleware of the signed-in routes: finds the session (a browser without one is sent to the
/// sign-in page), and for anything but GET and HEAD refuses cross-site requests and forms
/// without the session's CSRF token, before the handler runs.
pub(super) async fn require_session(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    let session = match current(&state, request.headers(), Utc::now()).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            let stale = has_cookie(request.headers());
            let mut refusal = if reading {
                Redirect::to("/login").into_response()
            } else {
                PageError::new(
                    StatusCode::UNAUTHORIZED,
                    "You are not signed in, or your session has ended; nothing was done.",
                )
                .sign_in_again()
                .into_response()
            };
            if stale {
                refusal.headers_mut().insert(header::SET_COOKIE, clear_cookie());
            }
            return refusal;
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    let mut request = if reading {
        request
    } else {
        if let Some(refusal) = cross_site(request.headers()) {
            return refusal.into_response();
        }
        let (parts, body) = request.into_parts();
        let form = match read_form(body).await {
            Ok(form) => form,
            Err(refusal) => return refusal.into_response(),
        };
        let token = form_field(&form, CSRF_FIELD).unwrap_or_default();
        if !same_key(token.as_bytes(), session.csrf_token.as_bytes()) {
            return PageError::new(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or out of date, so nothing was done. Reload the console and try again.",
            )
            .into_response();
        }
        // The handler gets the body it would have had.
        Request::from_parts(parts, axum::body::Body::from(form))
    };
    request.extensions_mut().insert(session);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
    }

    #[test]
    fn digests_depend_on_the_key_and_the_id() {
        assert_eq!(digest("k", "id"), digest("k", "id"));
        assert_ne!(digest("k", "id"), digest("k2", "id"));
        assert_ne!(digest("k", "id"), digest("k", "id2"));
        assert_eq!(digest("k", "id").len(), 32);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(cookie_id(&headers(&[("cookie", "a=1; nango_session=abc; b=2")])), Some("abc"));
        assert_eq!(cookie_id(&headers(&[("cookie", "a=1"), ("cookie", "nango_session=x")])), Some("x"));
        assert_eq!(cookie_id(&headers(&[("cookie", "nango_sessionx=abc; nango_session=")])), None);
        assert_eq!(cookie_id(&HeaderMap::new()), None);
    }

    #[test]
    fn cross_site_requests_are_told_apart() {
        let host = ("host", "127.0.0.1:3003");
        assert!(cross_site(&headers(&[host])).is_none(), "no browser headers: the token decides");
        assert!(cross_site(&headers(&[host, ("origin", "http://127.0.0.1:3003")])).is_none());
        assert!(cross_site(&headers(&[host, ("sec-fetch-site", "same-origin")])).is_none());
        assert!(cross_site(&headers(&[host, ("origin", "http://evil.example")])).is_some());
        assert!(cross_site(&headers(&[host, ("origin", "null")])).is_some());
        assert!(cross_site(&headers(&[host, ("origin", "http://127.0.0.1:3004")])).is_some());
        assert!(cross_site(&headers(&[host, ("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site(&headers(&[host, ("sec-fetch-site", "same-site")])).is_some());
        let proxied = [
            ("host", "127.0.0.1:3003"),
            ("x-forwarded-host", "console.example"),
            ("origin", "https://console.example"),
        ];
        assert!(cross_site(&headers(&proxied)).is_none());
    }
}
