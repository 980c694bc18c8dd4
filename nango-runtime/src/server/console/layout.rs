//! The frame every console page shares, the HTTP response that carries a page, and the error
//! page.

use crate::scheduler::SchedulerError;
use crate::store::StoreError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Inlined in every page: one file to edit, no extra request, nothing to serve separately.
const CSS: &str = include_str!("console.css");

/// The pages use no script, load nothing from elsewhere and post forms only to us; a CSP saying
/// so turns any escaping slip into a harmless blocked script rather than an injection.
pub(super) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
                              frame-ancestors 'none'; base-uri 'none'";

/// What the header shows besides the title: the sign-out button needs the session's CSRF
/// token, and pages shown before sign-in have no session.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Frame<'a> {
    /// Reload the page every so many seconds (live views).
    pub refresh_secs: Option<u32>,
    /// The signed-in session's CSRF token: shows the navigation and the sign-out button.
    pub csrf_token: Option<&'a str>,
}

/// The frame of every page: header with navigation and sign-out, the body, optional
/// self-refresh.
pub(super) fn page(title: &str, frame: Frame<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = frame.refresh_secs {
                    meta http-equiv="refresh" content=(secs);
                }
                link rel="icon" href="data:,";
                title { (title) " · nango-rs" }
                // Our own constant stylesheet: style text is not HTML, escaping would break it.
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { a href="/" { "nango-rs console" } }
                    @if let Some(token) = frame.csrf_token {
                        nav {
                            a href="/#syncs" { "Syncs" }
                            a href="/console/connections" { "Connections" }
                            a href="/#recent-runs" { "Runs" }
                            a href="/#webhooks" { "Webhooks" }
                            a href="/console/deployments" { "Deployments" }
                        }
                        span.note { @if let Some(secs) = frame.refresh_secs { "refreshes every " (secs) " s" } }
                        form #sign-out method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(token);
                            button.sign-out type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An HTML response; `no-store` because the pages show live state behind a key. Referrers go to
/// this origin only: console URLs do not leak to the links a page shows, and the browser still
/// sends our own origin with the forms (with `no-referrer` it would send `Origin: null`, which
/// the cross-site check refuses).
pub(super) fn respond(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "same-origin"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page.into_string(),
    )
        .into_response()
}

/// A page that went wrong: an HTML error page (the API's JSON errors would be unreadable in a
/// browser).
#[derive(Debug)]
pub(super) struct PageError {
    status: StatusCode,
    message: String,
    /// Where the page's one link goes, and what it says.
    back: (&'static str, &'static str),
}

impl PageError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageError { status, message: message.into(), back: ("/", "Back to the console") }
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        PageError::new(StatusCode::NOT_FOUND, message)
    }

    /// The page links to the sign-in page instead of the dashboard.
    pub(super) fn sign_in_again(mut self) -> Self {
        self.back = ("/login", "Sign in");
        self
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, nango_types::text::error_chain(&e))
    }
}

/// An API route's refusal (a running sync, an unknown integration) on a page: same status, same
/// message.
impl From<crate::server::ApiError> for PageError {
    fn from(e: crate::server::ApiError) -> Self {
        PageError::new(e.status, e.message)
    }
}

impl From<SchedulerError> for PageError {
    fn from(e: SchedulerError) -> Self {
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, nango_types::text::error_chain(&e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let (href, label) = self.back;
        let body = html! {
            section #error {
                h2 { (title) }
                p { (self.message) }
                p { a href=(href) { (label) } }
            }
        };
        respond(self.status, page(title, Frame::default(), body))
    }
}

/// What console handlers return.
pub(super) type PageResult = Result<Response, PageError>;
