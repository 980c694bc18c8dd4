//! A GitHub-like issues API on loopback, for the tests, the demo and the benchmarks of the sync
//! runtime: deterministic issues generated from their number (a page costs the same with 250 or
//! 10,000,000 issues), GitHub's `Link` pagination plus cursor, offset and body-link variants,
//! bearer tokens with an OAuth refresh grant, injectable faults (500, 429 with `Retry-After`, 502
//! HTML pages, dropped connections, truncated JSON, latency), control methods to change the data
//! while a sync runs, and a replay mode that serves recorded exchanges.
//!
//! ```
//! use nango_mock_provider::{IssueState, IssueUpdate, MockProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockProvider::builder().issues(250).token("secret-token").start().await?;
//! let client = reqwest::Client::new();
//! let page = client
//!     .get(format!("{}/repos/octocat/hello-world/issues?state=all&per_page=100", server.url()))
//!     .bearer_auth("secret-token")
//!     .send()
//!     .await?;
//! let link = page.headers()["link"].to_str()?.to_string();
//! assert!(link.ends_with("page=3>; rel=\"last\""), "{link}");
//! let issues: Vec<serde_json::Value> = page.json().await?;
//! assert_eq!(issues[0]["number"], 250); // newest first, like GitHub
//!
//! let closed = server.update_issue(7, IssueUpdate { state: Some(IssueState::Closed), ..Default::default() });
//! assert_eq!(closed.unwrap()["state"], "closed");
//! assert_eq!(server.stats().served_ok, 1);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! API endpoints (bearer auth when a token or OAuth app is configured, faults, latency):
//!
//! * `GET /repos/{owner}/{repo}/issues` — a JSON array of issues. Query: `per_page` (default 30,
//!   at most 100), `page` (default 1), `since` (ISO 8601; issues with `updated_at >= since`),
//!   `state` (`open` by default, `closed`, `all`), `sort` (`created` by default, `updated`),
//!   `direction` (`desc` by default, `asc`). A `Link` header as GitHub writes it:
//!   `<url>; rel="prev", <url>; rel="next", <url>; rel="last", <url>; rel="first"`, each part only
//!   when it applies (no `next` on the last page, no header when nothing matches); the urls are
//!   absolute and keep the other query parameters.
//! * `GET /repos/{owner}/{repo}/issues/{number}` — one issue; 404, or 410 once deleted.
//! * `GET /cursor/repos/{owner}/{repo}/issues?limit=&cursor=&since=&state=` —
//!   `{"items": [...], "next_cursor": "opaque" | null}` by number ascending; `limit` default 100,
//!   at most 1000; `state` defaults to `all`.
//! * `GET /offset/repos/{owner}/{repo}/issues?limit=&offset=&since=&state=` —
//!   `{"issues": [...]}` by number ascending (empty past the end).
//! * `GET /bodylink/repos/{owner}/{repo}/issues?per_page=&page=&since=&state=` —
//!   `{"data": [...], "links": {"next": "absolute url" | null}}` by number ascending.
//! * `POST /repos/{owner}/{repo}/issues` with `{"title": "..."}` — GitHub's "create an issue":
//!   `201` with the new open issue (numbered after the last one; other fields are not kept), or
//!   `422` without a title.
//! * `GET /user` — `{"login": "octocat", "id": 1}`; `GET /user/repos` — the one repository,
//!   `octocat/hello-world`, as GitHub lists a user's repositories.
//! * `/echo` and `/echo/{path}`, any method — the request as received:
//!   `{"method", "path", "query", "headers": {name: value}, "body"}` (to check what a client or a
//!   proxy sends; the headers include the credentials).
//! * `GET /redirect?to=URL` — `302` with `Location: URL`.
//!
//! Every successful GET of an API endpoint carries an `ETag`, as GitHub's do: a weak validator
//! that is a hash of the body and the `Link` header (`W/"<16 hex digits>"`), so it changes when
//! any issue of the page or the pages around it changes. A GET whose `If-None-Match` names it
//! (or `*`) is answered `304 Not Modified` with the `ETag` and no body (counted in
//! [`Stats::not_modified`], and never turned into a fault).
//!
//! Invalid parameters get GitHub's `422 {"message": "Validation Failed", "errors": [...]}`; a bad
//! or missing token gets `401 {"message": "Bad credentials", ...}`.
//!
//! Without auth nor faults, the OAuth 2.0 server (with [`MockProviderBuilder::oauth_app`] or
//! [`MockProviderBuilder::oauth`]):
//!
//! * `GET /login/oauth/authorize?client_id=&redirect_uri=&state=&scope=&code_challenge=&code_challenge_method=S256`
//!   — the consent page, with "Authorize" (`#approve`) and "Cancel" (`#deny`) buttons that post
//!   the request back to `POST /login/oauth/authorize`, which redirects to `redirect_uri` with
//!   `code` and `state`, or `error=access_denied`. An unknown client or a redirect URI other
//!   than the registered one gets a 400 error page (`#error`) and no redirect.
//! * `POST /login/oauth/access_token`, form or JSON body, client credentials in the body or as
//!   HTTP Basic auth — `grant_type=authorization_code` (`code`, `redirect_uri`, `code_verifier`
//!   checked against the challenge; a code works once and for 60 seconds:
//!   `400 {"error": "bad_verification_code"}`, `invalid_grant` for PKCE),
//!   `grant_type=refresh_token` (`400 bad_refresh_token` for an unknown or revoked one) and
//!   `grant_type=client_credentials` → `{"access_token", "expires_in", "refresh_token"?,
//!   "refresh_token_expires_in"?, "token_type": "bearer", "scope"}`. Wrong client credentials
//!   get `401 {"error": "incorrect_client_credentials", ...}`.
//! * `/_mock/...` — the control methods of [`MockServer`] over HTTP:
//!   `GET|POST|DELETE /_mock/issues/{number}` (get; update with `{"title"?, "state"?}`; delete →
//!   204), `POST /_mock/issues` with `{"count": n}` → `201 {"count", "first", "last"}`,
//!   `POST /_mock/expire-token` → 204, `POST /_mock/revoke-refresh-tokens` → 204,
//!   `PUT /_mock/token-endpoint` with `"normal"`, `"html"` or `"hang"` → 204, `GET|PUT /_mock/faults` ([`Faults`] JSON),
//!   `POST /_mock/scheduled` with `{"after_requests": n, ...}` and the fields of a [`Mutation`]
//!   → 204 (see [`MockServer::after_requests`]),
//!   `GET /_mock/stats` ([`Stats`] JSON), `POST /_mock/reset-stats` → 204.
//!
//! # Data
//!
//! Issue `i` of the initial `N` has id `1_000_000 + i`, a generated title (`Issue #i: ...`), body
//! (null for a fifth of them), author, 0–3 labels and comment count, and
//! `created_at = updated_at = 2024-01-01T00:00:00Z + i minutes`; it is closed when `i % 3 == 0`
//! (with `closed_at = updated_at`). Updated and added issues get an `updated_at` of now, or one
//! second after the latest `updated_at` so far if that is later. Any owner and repository show
//! the same issues.

mod app;
mod auth;
mod data;
mod faults;
mod issue;
mod query;
pub mod replay;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::serve::ListenerExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::TokenEndpoint;
pub use faults::{Faults, RetryAfter};

use app::{App, Counters};
use auth::{Auth, OAuthApp};
use data::Store;
use faults::FaultState;

/// Counters of a running server, from [`MockServer::stats`] or `GET /_mock/stats`.
///
/// `requests` counts the requests to the API endpoints (listings, single issues, `/user`, and
/// everything a replaying server answers); each of them ends as exactly one of `served_ok` (a
/// success sent intact), `not_modified` (a `304` to a matching `If-None-Match`), a fault (`injected_500`, `injected_429`, `injected_502`, `malformed`,
/// `dropped`), `unauthorized`, or an unsuccessful answer of the endpoint itself (a 404, a 422).
/// `token_refreshes` counts successful OAuth refreshes.
///
/// ```
/// let stats = nango_mock_provider::Stats::default();
/// assert_eq!(serde_json::to_value(stats).unwrap()["served_ok"], 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests to the API endpoints.
    pub requests: u64,
    /// Successful responses sent intact.
    pub served_ok: u64,
    /// Injected `500`s.
    pub injected_500: u64,
    /// Injected `429`s.
    pub injected_429: u64,
    /// Injected `502` HTML pages.
    pub injected_502: u64,
    /// Injected `200`s with truncated JSON.
    pub malformed: u64,
    /// Connections dropped mid-body.
    pub dropped: u64,
    /// `401`s for a missing or invalid token.
    pub unauthorized: u64,
    /// Successful OAuth refreshes.
    pub token_refreshes: u64,
    /// `304 Not Modified` answers to a GET whose `If-None-Match` named the current `ETag`.
    #[serde(default)]
    pub not_modified: u64,
}

/// The state an [`IssueUpdate`] sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueState {
    /// `"open"`
    Open,
    /// `"closed"`
    Closed,
}

/// A change to an issue, for [`MockServer::update_issue`] or `POST /_mock/issues/{number}`; what
/// is `None` stays, and the issue's `updated_at` is bumped in any case.
///
/// ```
/// use nango_mock_provider::{IssueState, IssueUpdate};
///
/// let update: IssueUpdate = serde_json::from_str(r#"{"state": "closed"}"#).unwrap();
/// assert_eq!(update, IssueUpdate { title: None, state: Some(IssueState::Closed) });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IssueUpdate {
    /// The new title.
    pub title: Option<String>,
    /// The new state (closing sets `closed_at`, reopening clears it).
    pub state: Option<IssueState>,
}

/// Changes that the server applies by itself at a chosen point of the traffic
/// ([`MockServer::after_requests`] or `POST /_mock/scheduled`): a test can edit issues, or start
/// faults, while a sync is between two pages without racing it. Updates are applied first (in
/// number order), then the deletions, then the additions, then the faults.
///
/// In JSON every field is optional, and `update` is keyed by issue number:
/// `{"update": {"3": {"title": "Renamed"}}, "delete": [7], "add": 2, "faults": {"error_rate": 1.0}}`.
///
/// ```
/// use nango_mock_provider::{IssueUpdate, Mutation};
///
/// let mutation: Mutation = serde_json::from_str(r#"{"update": {"3": {"title": "Renamed"}}, "add": 2}"#).unwrap();
/// assert_eq!(mutation.update[&3], IssueUpdate { title: Some("Renamed".into()), state: None });
/// assert_eq!((mutation.add, mutation.delete.len()), (2, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mutation {
    /// Issues to change, by number (each gets a new `updated_at`, later than every one so far).
    pub update: std::collections::BTreeMap<u64, IssueUpdate>,
    /// Issues to delete.
    pub delete: Vec<u64>,
    /// How many open issues to add.
    pub add: u64,
    /// Faults to put in force from then on (as [`MockServer::set_faults`]).
    pub faults: Option<Faults>,
}

/// Entry point: [`MockProvider::builder`] for generated issues, [`MockProvider::replay`] for a
/// recording.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = nango_mock_provider::MockProvider::builder().issues(10).start().await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MockProvider;

impl MockProvider {
    /// A builder for a server with 100 issues, no auth, no faults, on a random port.
    pub fn builder() -> MockProviderBuilder {
        MockProviderBuilder {
            issues: 100,
            token: None,
            oauth: None,
            token_lifetime: None,
            code_lifetime: auth::DEFAULT_CODE_LIFETIME,
            faults: Faults::default(),
            port: 0,
            replay: None,
        }
    }

    /// A builder for a server that serves the exchanges recorded in `dir` (see [`replay`]) instead
    /// of generated issues; auth, faults and port can still be set.
    pub fn replay(dir: impl Into<PathBuf>) -> MockProviderBuilder {
        MockProviderBuilder { replay: Some(dir.into()), ..Self::builder() }
    }
}

/// How to start a [`MockServer`]; from [`MockProvider::builder`].
#[derive(Debug, Clone)]
#[must_use = "call start() to run the server"]
pub struct MockProviderBuilder {
    issues: u64,
    token: Option<String>,
    oauth: Option<OAuthApp>,
    token_lifetime: Option<Duration>,
    code_lifetime: Duration,
    faults: Faults,
    port: u16,
    replay: Option<PathBuf>,
}

impl MockProviderBuilder {
    /// Serve `count` generated issues, numbered from 1 (default 100).
    pub fn issues(mut self, count: u64) -> Self {
        self.issues = count;
        self
    }

    /// Require `Authorization: Bearer <token>` (or `token <token>`) on the API endpoints.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Accept OAuth refreshes from this app at `POST /login/oauth/access_token`: each one issues a
    /// new access token (valid along with the previous ones until [`MockServer::expire_token`])
    /// and a new refresh token (every refresh token issued stays valid). Implies bearer auth.
    pub fn oauth(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        refresh_token: impl Into<String>,
    ) -> Self {
        self.oauth = Some(OAuthApp {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: Some(refresh_token.into()),
            redirect_uri: self.oauth.and_then(|app| app.redirect_uri),
        });
        self
    }

    /// Be an OAuth 2.0 server for this app (no refresh token valid from the start): the
    /// authorize page at `GET /login/oauth/authorize` and the code, refresh-token and client
    /// credentials grants at `POST /login/oauth/access_token`. Implies bearer auth.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = nango_mock_provider::MockProvider::builder()
    ///     .oauth_app("client-id", "client-secret")
    ///     .redirect_uri("http://127.0.0.1:3003/oauth/callback")
    ///     .start()
    ///     .await?;
    /// let page = reqwest::get(format!(
    ///     "{}/login/oauth/authorize?client_id=client-id&redirect_uri=http://127.0.0.1:3003/oauth/callback&state=s",
    ///     server.url()
    /// )).await?;
    /// assert!(page.text().await?.contains("id=\"approve\""));
    /// # Ok(())
    /// # }
    /// ```
    pub fn oauth_app(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.oauth = Some(OAuthApp {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            refresh_token: self.oauth.as_ref().and_then(|app| app.refresh_token.clone()),
            redirect_uri: self.oauth.and_then(|app| app.redirect_uri),
        });
        self
    }

    /// Accept only this redirect URI on the authorize page and at the code exchange (after
    /// [`Self::oauth_app`] or [`Self::oauth`]; any is accepted when unset).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        if let Some(app) = &mut self.oauth {
            app.redirect_uri = Some(uri.into());
        }
        self
    }

    /// Access tokens issued by the OAuth server stop working after `lifetime` (and say so in
    /// `expires_in`); by default they work until [`MockServer::expire_token`].
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = Some(lifetime);
        self
    }

    /// Authorization codes can be exchanged for `lifetime` after they were issued (60 seconds
    /// by default); each only once.
    pub fn code_lifetime(mut self, lifetime: Duration) -> Self {
        self.code_lifetime = lifetime;
        self
    }

    /// Inject these faults (see [`Faults`]).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Listen on this port of 127.0.0.1 (default 0: a free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Serve the exchanges recorded in `dir` instead of generated issues.
    pub fn replay(mut self, dir: impl Into<PathBuf>) -> Self {
        self.replay = Some(dir.into());
        self
    }

    /// Binds the port and starts serving on the current tokio runtime.
    ///
    /// Fails when the port cannot be bound or the recording cannot be read.
    pub async fn start(self) -> io::Result<MockServer> {
        let exchanges = match &self.replay {
            Some(dir) => Some(replay::load_dir(dir).map_err(|error| {
                io::Error::new(error.kind(), format!("cannot load the recording {}: {error}", dir.display()))
            })?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, self.port)).await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let replay = exchanges.map(|exchanges| replay::Book::new(exchanges, &url)).transpose()?;
        let app = Arc::new(App {
            store: RwLock::new(Store::new(if replay.is_some() { 0 } else { self.issues })),
            auth: Mutex::new({
                let mut auth = Auth::new(self.token, self.oauth);
                auth.lifetimes(self.token_lifetime, self.code_lifetime);
                auth
            }),
            faults: Mutex::new(FaultState::new(self.faults)),
            stats: Counters::default(),
            scheduled: Mutex::new(Vec::new()),
            replay,
            url: url.clone(),
        });
        let router = app::router(app.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            // Best effort: small responses should not wait for Nagle.
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(MockServer { app, addr, url, stop: Some(stop), task: Some(task) })
    }
}

/// A running mock server; stops on [`MockServer::shutdown`] or when dropped.
#[derive(Debug)]
pub struct MockServer {
    app: Arc<App>,
    addr: SocketAddr,
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl MockServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.app.stats.snapshot()
    }

    /// Sets every counter to 0.
    pub fn reset_stats(&self) {
        self.app.stats.reset();
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.app.fault_state().faults().clone()
    }

    /// Replaces the faults and restarts their pseudo-random sequence.
    pub fn set_faults(&self, faults: Faults) {
        self.app.fault_state().set(faults);
    }

    /// Invalidates every access token issued so far (the initial one and refreshed ones): API
    /// requests get 401 until a client refreshes.
    pub fn expire_token(&self) {
        self.app.auth().expire();
    }

    /// Invalidates every refresh token issued so far, as when the user revokes the app: token
    /// refreshes fail until the user authorizes again.
    pub fn revoke_refresh_tokens(&self) {
        self.app.auth().revoke_refresh_tokens();
    }

    /// Makes the token endpoint answer normally, with an HTML page, or never.
    pub fn set_token_endpoint(&self, endpoint: TokenEndpoint) {
        self.app.auth().token_endpoint = endpoint;
    }

    /// How many issues exist (not deleted).
    pub fn issue_count(&self) -> u64 {
        self.app.read().len()
    }

    /// Issue `number` as the API shows it (under `octocat/hello-world`), if it exists.
    pub fn issue(&self, number: u64) -> Option<serde_json::Value> {
        self.app.issue_json(number)
    }

    /// Changes issue `number` and sets its `updated_at` after every `updated_at` so far; gives the
    /// issue as the API now shows it, or `None` when it does not exist.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use nango_mock_provider::{IssueUpdate, MockProvider};
    ///
    /// let server = MockProvider::builder().issues(3).start().await?;
    /// let issue = server.update_issue(2, IssueUpdate { title: Some("Renamed".into()), state: None }).unwrap();
    /// assert_eq!(issue["title"], "Renamed");
    /// assert!(issue["updated_at"].as_str().unwrap() > server.issue(3).unwrap()["updated_at"].as_str().unwrap());
    /// assert!(server.update_issue(4, IssueUpdate::default()).is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn update_issue(&self, number: u64, update: IssueUpdate) -> Option<serde_json::Value> {
        self.app.update_issue(number, update)
    }

    /// Deletes issue `number` from every listing; false when it did not exist.
    pub fn delete_issue(&self, number: u64) -> bool {
        self.app.write().delete(number)
    }

    /// Adds `count` open issues, created (and updated) after every `updated_at` so far; gives
    /// their numbers.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = nango_mock_provider::MockProvider::builder().issues(10).start().await?;
    /// assert_eq!(server.add_issues(5), 11..=15);
    /// assert!(server.delete_issue(3));
    /// assert_eq!(server.issue_count(), 14);
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_issues(&self, count: u64) -> RangeInclusive<u64> {
        self.app.write().add(count)
    }

    /// Applies `mutation` once the server has answered `requests` requests to the API endpoints
    /// (counted as [`Stats::requests`], so since the last [`MockServer::reset_stats`]): just before
    /// it answers the next one. A count already reached applies it before the next request.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use nango_mock_provider::{IssueUpdate, MockProvider, Mutation};
    ///
    /// let server = MockProvider::builder().issues(5).start().await?;
    /// let rename = IssueUpdate { title: Some("Renamed".into()), state: None };
    /// server.after_requests(1, Mutation { update: [(2, rename)].into(), ..Mutation::default() });
    /// let get = |n: u64| reqwest::get(format!("{}/repos/o/r/issues/{n}", server.url()));
    /// assert_ne!(get(2).await?.json::<serde_json::Value>().await?["title"], "Renamed");
    /// assert_eq!(get(2).await?.json::<serde_json::Value>().await?["title"], "Renamed");
    /// # Ok(())
    /// # }
    /// ```
    pub fn after_requests(&self, requests: u64, mutation: Mutation) {
        self.app.schedule(requests, mutation);
    }

    /// Stops accepting connections, lets the open ones finish (at most 5 seconds) and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
