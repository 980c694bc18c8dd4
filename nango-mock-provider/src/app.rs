//! The server's shared state, its routes and their handlers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use serde_json::{Value, json};

use crate::auth::{Auth, Authorization, TokenEndpoint};
use crate::data::{Filter, Order, StateFilter, Store};
use crate::faults::{self, DOCS, Fault, FaultState, Faults};
use crate::issue::{Issue, Place};
use crate::query;
use crate::replay::Book;
use crate::{IssueState, IssueUpdate, Mutation, Stats};

/// Counters behind [`Stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    served_ok: AtomicU64,
    injected_500: AtomicU64,
    injected_429: AtomicU64,
    injected_502: AtomicU64,
    malformed: AtomicU64,
    dropped: AtomicU64,
    unauthorized: AtomicU64,
    token_refreshes: AtomicU64,
    not_modified: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            requests: read(&self.requests),
            served_ok: read(&self.served_ok),
            injected_500: read(&self.injected_500),
            injected_429: read(&self.injected_429),
            injected_502: read(&self.injected_502),
            malformed: read(&self.malformed),
            dropped: read(&self.dropped),
            unauthorized: read(&self.unauthorized),
            token_refreshes: read(&self.token_refreshes),
            not_modified: read(&self.not_modified),
        }
    }

    pub(crate) fn reset(&self) {
        for counter in [
            &self.requests,
            &self.served_ok,
            &self.injected_500,
            &self.injected_429,
            &self.injected_502,
            &self.malformed,
            &self.dropped,
            &self.unauthorized,
            &self.token_refreshes,
            &self.not_modified,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Everything a running server shares between its handlers and its [`crate::MockServer`].
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) url: String,
    pub(crate) store: RwLock<Store>,
    pub(crate) auth: Mutex<Auth>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) stats: Counters,
    /// Mutations waiting for their request count, in the order they were scheduled.
    pub(crate) scheduled: Mutex<Vec<(u64, Mutation)>>,
    pub(crate) replay: Option<Book>,
}

/// The owner and repository of the issues the control methods show.
const CONTROL_PLACE: (&str, &str) = ("octocat", "hello-world");

impl App {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn auth(&self) -> MutexGuard<'_, Auth> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn fault_state(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issue `number` as JSON (under `octocat/hello-world`).
    pub(crate) fn issue_json(&self, number: u64) -> Option<Value> {
        let place = Place::new(&self.url, CONTROL_PLACE.0, CONTROL_PLACE.1);
        let store = self.read();
        store.issue(number, &place).map(Issue::to_value)
    }

    pub(crate) fn schedule(&self, after_requests: u64, mutation: Mutation) {
        self.scheduled.lock().unwrap_or_else(PoisonError::into_inner).push((after_requests, mutation));
    }

    /// Applies the scheduled mutations whose count `answered` has reached.
    fn apply_due(&self, answered: u64) {
        let due: Vec<Mutation> = {
            let mut scheduled = self.scheduled.lock().unwrap_or_else(PoisonError::into_inner);
            if scheduled.is_empty() {
                return;
            }
            let (due, later) = std::mem::take(&mut *scheduled).into_iter().partition(|(after, _)| *after <= answered);
            *scheduled = later;
            due.into_iter().map(|(_, mutation)| mutation).collect()
        };
        for mutation in due {
            let mut store = self.write();
            for (number, update) in mutation.update {
                store.update(number, update.title, update.state.map(|state| state == IssueState::Closed));
            }
            for number in mutation.delete {
                store.delete(number);
            }
            store.add(mutation.add);
            drop(store);
            if let Some(faults) = mutation.faults {
                self.fault_state().set(faults);
            }
        }
    }

    pub(crate) fn update_issue(&self, number: u64, update: IssueUpdate) -> Option<Value> {
        let closed = update.state.map(|state| state == IssueState::Closed);
        if !self.write().update(number, update.title, closed) {
            return None;
        }
        self.issue_json(number)
    }
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

fn not_found() -> Response {
    faults::json(StatusCode::NOT_FOUND, &json!({"message": "Not Found", "documentation_url": DOCS}))
}

/// A bad query parameter: its name and value.
struct Invalid(&'static str, String);

impl IntoResponse for Invalid {
    fn into_response(self) -> Response {
        invalid(self.0, &self.1)
    }
}

/// GitHub's 422 for a bad query parameter.
fn invalid(field: &str, value: &str) -> Response {
    faults::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": field, "code": "invalid", "value": value}],
            "documentation_url": DOCS
        }),
    )
}

/// The parsed query of a listing.
struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn new(query: Option<&str>) -> Self {
        Params { pairs: query::pairs(query.unwrap_or("")) }
    }

    fn get(&self, key: &str) -> Option<&str> {
        query::get(&self.pairs, key).filter(|value| !value.is_empty())
    }

    /// A number between 1 and `max`: `default` when absent or below 1, `max` when above.
    fn number(&self, key: &'static str, default: u64, max: u64) -> Result<u64, Invalid> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => match text.parse::<i64>() {
                Ok(value) if value < 1 => Ok(default),
                Ok(value) => Ok((value as u64).min(max)),
                Err(_) => Err(Invalid(key, text.to_string())),
            },
        }
    }

    fn filter(&self, default_state: StateFilter) -> Result<Filter, Invalid> {
        let state = match self.get("state") {
            None => default_state,
            Some("open") => StateFilter::Open,
            Some("closed") => StateFilter::Closed,
            Some("all") => StateFilter::All,
            Some(other) => return Err(Invalid("state", other.to_string())),
        };
        let since = match self.get("since") {
            None => None,
            Some(text) => Some(parse_since(text).ok_or_else(|| Invalid("since", text.to_string()))?),
        };
        Ok(Filter { state, since })
    }
}

/// Unix seconds of the first whole second at or after an ISO 8601 time (`Z` or an offset, or no
/// zone for UTC, or a date).
fn parse_since(text: &str) -> Option<i64> {
    let text = text.trim();
    let ceil = |seconds: i64, nanos: u32| seconds + i64::from(nanos > 0);
    // An unencoded `+` in a query decodes to a space.
    for candidate in [text.to_string(), text.replace(' ', "+")] {
        if let Ok(time) = chrono::DateTime::parse_from_rfc3339(&candidate) {
            return Some(ceil(time.timestamp(), time.timestamp_subsec_nanos()));
        }
    }
    if let Ok(time) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        let time = time.and_utc();
        return Some(ceil(time.timestamp(), time.timestamp_subsec_nanos()));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc().timestamp())
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(invalid) => return invalid.into_response(),
        }
    };
}

/// A 200 whose JSON body is `before`, the array of the issues `query` picks, and `after` (`wrap`
/// gives `before` and `after` from what `query` gave besides the numbers).
fn render<T>(
    app: &App,
    owner: &str,
    repo: &str,
    query: impl FnOnce(&Store) -> (Vec<u64>, T),
    wrap: impl FnOnce(T) -> (&'static str, String),
) -> Response {
    let place = Place::new(&app.url, owner, repo);
    let store = app.read();
    let (numbers, extra) = query(&store);
    let (before, after) = wrap(extra);
    let mut body = Vec::with_capacity(before.len() + numbers.len() * 2048 + after.len() + 2);
    body.extend_from_slice(before.as_bytes());
    Issue::write_all(numbers.iter().filter_map(|&number| store.issue(number, &place)), &mut body);
    drop(store);
    body.extend_from_slice(after.as_bytes());
    json_bytes(StatusCode::OK, body)
}

/// `GET /repos/{owner}/{repo}/issues`: GitHub's listing with a `Link` header.
async fn list_issues(
    State(app): State<Arc<App>>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    uri: Uri,
) -> Response {
    let params = Params::new(raw.as_deref());
    let per_page = tri!(params.number("per_page", 30, 100));
    let page = tri!(params.number("page", 1, u64::MAX / 100));
    let filter = tri!(params.filter(StateFilter::Open));
    let order = match params.get("sort") {
        None | Some("created") => Order::Number,
        Some("updated") => Order::Updated,
        Some(other) => return invalid("sort", other),
    };
    let descending = match params.get("direction") {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => return invalid("direction", other),
    };
    let start = (page - 1) * per_page;
    let mut total = 0;
    let mut response = render(
        &app,
        &owner,
        &repo,
        |store| store.select(filter, order, descending, start, per_page),
        |all| {
            total = all;
            ("", String::new())
        },
    );
    if total > 0 {
        let last = total.div_ceil(per_page);
        let raw = raw.as_deref().unwrap_or("");
        let link = |page: u64, rel: &str| {
            format!("<{}>; rel=\"{rel}\"", query::with_param(&app.url, uri.path(), raw, "page", &page.to_string()))
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(link((page - 1).min(last), "prev"));
        }
        if page < last {
            links.push(link(page + 1, "next"));
            links.push(link(last, "last"));
        }
        if page > 1 {
            links.push(link(1, "first"));
        }
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// `GET /repos/{owner}/{repo}/issues/{number}`.
async fn get_issue(
    State(app): State<Arc<App>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Response {
    let Ok(number) = number.parse::<u64>() else {
        return not_found();
    };
    let place = Place::new(&app.url, &owner, &repo);
    let store = app.read();
    match store.issue(number, &place) {
        Some(issue) => {
            let mut body = Vec::with_capacity(2048);
            issue.write(&mut body);
            json_bytes(StatusCode::OK, body)
        }
        None if store.is_deleted(number) => {
            faults::json(StatusCode::GONE, &json!({"message": "This issue was deleted", "documentation_url": DOCS}))
        }
        None => not_found(),
    }
}

fn encode_cursor(number: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{number}"))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("after:")?.parse().ok()
}

/// `GET /cursor/repos/{owner}/{repo}/issues?limit=&cursor=&since=&state=`.
async fn cursor_issues(
    State(app): State<Arc<App>>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::new(raw.as_deref());
    let limit = tri!(params.number("limit", 100, 1000));
    let filter = tri!(params.filter(StateFilter::All));
    let after = match params.get("cursor") {
        None => 0,
        Some(cursor) => match decode_cursor(cursor) {
            Some(after) => after,
            None => return faults::json(StatusCode::BAD_REQUEST, &json!({"message": "invalid cursor"})),
        },
    };
    render(
        &app,
        &owner,
        &repo,
        |store| {
            let (numbers, more) = store.after(filter, after, limit as usize);
            let next = numbers.last().filter(|_| more).map(|&last| encode_cursor(last));
            (numbers, next)
        },
        |next_cursor| ("{\"items\":", format!(",\"next_cursor\":{}}}", json!(next_cursor))),
    )
}

/// `GET /offset/repos/{owner}/{repo}/issues?limit=&offset=&since=&state=`.
async fn offset_issues(
    State(app): State<Arc<App>>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::new(raw.as_deref());
    let limit = tri!(params.number("limit", 100, 1000));
    let filter = tri!(params.filter(StateFilter::All));
    let offset = match params.get("offset").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => return invalid("offset", params.get("offset").unwrap_or_default()),
    };
    render(
        &app,
        &owner,
        &repo,
        |store| store.select(filter, Order::Number, false, offset, limit),
        |_| ("{\"issues\":", "}".to_string()),
    )
}

/// `GET /bodylink/repos/{owner}/{repo}/issues?per_page=&page=&since=&state=`.
async fn bodylink_issues(
    State(app): State<Arc<App>>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    uri: Uri,
) -> Response {
    let params = Params::new(raw.as_deref());
    let per_page = tri!(params.number("per_page", 30, 100));
    let page = tri!(params.number("page", 1, u64::MAX / 100));
    let filter = tri!(params.filter(StateFilter::All));
    let start = (page - 1) * per_page;
    let raw = raw.as_deref().unwrap_or("");
    render(
        &app,
        &owner,
        &repo,
        |store| {
            let (numbers, total) = store.select(filter, Order::Number, false, start, per_page);
            let next = (start + per_page < total)
                .then(|| query::with_param(&app.url, uri.path(), raw, "page", &(page + 1).to_string()));
            (numbers, next)
        },
        |next| ("{\"data\":", format!(",\"links\":{}}}", json!({ "next": next }))),
    )
}

/// `POST /repos/{owner}/{repo}/issues` with `{"title": "..."}`: GitHub's "create an issue" (other
/// fields are accepted and not kept); `201` with the new issue.
async fn create_issue(
    State(app): State<Arc<App>>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let title = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body.get("title").and_then(Value::as_str).map(str::to_owned))
        .filter(|title| !title.trim().is_empty());
    let Some(title) = title else {
        return faults::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"message": "Invalid request.\n\n\"title\" wasn't supplied.", "documentation_url": DOCS}),
        );
    };
    let number = app.write().create(title);
    let place = Place::new(&app.url, &owner, &repo);
    let store = app.read();
    match store.issue(number, &place) {
        Some(issue) => faults::json(StatusCode::CREATED, &issue.to_value()),
        None => not_found(),
    }
}

/// `/echo` and `/echo/...`, any method: the request as the server got it
/// (`{"method", "path", "query", "headers", "body"}`, header names in lower case, the body as
/// text), to check what a client or proxy sends.
async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_owned(), Value::String(String::from_utf8_lossy(value.as_bytes()).into()))
        })
        .collect();
    faults::json(
        StatusCode::OK,
        &json!({
            "method": method.as_str(),
            "path": uri.path(),
            "query": uri.query(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        }),
    )
}

/// `GET /redirect?to=URL`: a `302` to `URL`, to check that clients do not follow it with the
/// credentials.
async fn redirect(RawQuery(raw): RawQuery) -> Response {
    let pairs = query::pairs(raw.as_deref().unwrap_or(""));
    match query::get(&pairs, "to").and_then(|to| HeaderValue::from_str(to).ok()) {
        Some(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        None => invalid("to", ""),
    }
}

/// `GET /user`.
async fn user() -> Response {
    faults::json(StatusCode::OK, &json!({"login": "octocat", "id": 1}))
}

/// `GET /user/repos`: the one repository whose issues the mock serves, as GitHub lists the
/// user's repositories (Nango's GitHub templates start there).
async fn user_repos() -> Response {
    let owner = json!({"login": "octocat", "id": 1});
    faults::json(
        StatusCode::OK,
        &json!([{"id": 1296269, "name": "hello-world", "full_name": "octocat/hello-world", "owner": owner,
                 "private": false, "html_url": "https://github.com/octocat/hello-world"}]),
    )
}

/// `POST /login/oauth/access_token`, form or JSON body: the code, refresh-token and client
/// credentials grants.
async fn access_token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json =
        headers.get(header::CONTENT_TYPE).and_then(|kind| kind.to_str().ok()).is_some_and(|kind| kind.contains("json"))
            || body.trim_ascii_start().starts_with(b"{");
    let params: Vec<(String, String)> = if is_json {
        match serde_json::from_slice::<serde_json::Map<String, Value>>(&body) {
            Ok(fields) => fields
                .into_iter()
                .map(|(key, value)| match value {
                    Value::String(text) => (key, text),
                    other => (key, other.to_string()),
                })
                .collect(),
            Err(_) => {
                return faults::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "invalid_request", "error_description": "The body is not JSON."}),
                );
            }
        }
    } else {
        query::pairs(&String::from_utf8_lossy(&body))
    };
    let endpoint = app.auth().token_endpoint;
    match endpoint {
        TokenEndpoint::Normal => {}
        TokenEndpoint::Html => return faults::bad_gateway_page(StatusCode::OK),
        TokenEndpoint::Hang => std::future::pending::<()>().await,
    }
    let refresh = query::get(&params, "grant_type").is_none_or(|grant| grant == "refresh_token");
    let (status, answer) = app.auth().token(&params, &headers);
    if status.is_success() && refresh {
        bump(&app.stats.token_refreshes);
    }
    faults::json(status, &answer)
}

/// Text for HTML: `<`, `>`, `&` and quotes escaped.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page of the mock provider's own (the authorize page and its errors).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 32em; margin: 3em auto\">{body}</body></html>",
        title = html_escape(title)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// `GET /login/oauth/authorize`: GitHub's consent page, with "Authorize" and "Cancel" buttons
/// that post the request back with the user's decision.
async fn authorize_page(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> Response {
    let params = query::pairs(raw.as_deref().unwrap_or(""));
    let client = match app.auth().check_authorize(&params) {
        Ok(client) => client,
        Err(message) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Authorization error",
                &format!("<h1>Authorization error</h1><p id=\"error\">{}</p>", html_escape(&message)),
            );
        }
    };
    let hidden: String = params
        .iter()
        .map(|(key, value)| {
            format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", html_escape(key), html_escape(value))
        })
        .collect();
    let scope = query::get(&params, "scope").filter(|scope| !scope.is_empty()).unwrap_or("(no scope)");
    page(
        StatusCode::OK,
        "Authorize application",
        &format!(
            "<h1>Authorize {client}</h1><p>{client} wants to access your mock GitHub account: <b id=\"scope\">{scope}</b>.</p>\
             <form method=\"post\" action=\"/login/oauth/authorize\">{hidden}\
             <button id=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Authorize</button> \
             <button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button></form>",
            client = html_escape(&client),
            scope = html_escape(scope),
        ),
    )
}

/// `POST /login/oauth/authorize`: the user's decision; redirects back to the client with a code
/// or an error (`access_denied`).
async fn authorize_decision(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let params = query::pairs(&String::from_utf8_lossy(&body));
    let approve = query::get(&params, "decision") == Some("approve");
    match app.auth().decide(&params, approve) {
        Authorization::Page(message) => page(
            StatusCode::BAD_REQUEST,
            "Authorization error",
            &format!("<h1>Authorization error</h1><p id=\"error\">{}</p>", html_escape(&message)),
        ),
        Authorization::Redirect { redirect_uri, params } => {
            let query: String = params
                .iter()
                .map(|(key, value)| format!("{}={}", query::encode(key), query::encode(value)))
                .collect::<Vec<_>>()
                .join("&");
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            let location = format!("{redirect_uri}{separator}{query}");
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
    }
}

/// A GET's answer after [`with_etag`].
enum Validated {
    /// `304 Not Modified`: the client's `If-None-Match` named the answer's `ETag`.
    Current(Response),
    /// The answer, with its `ETag`.
    Sent(Response),
}

/// `response` (a 2xx) with an `ETag` as GitHub sends one: weak, a hash of the body and the
/// `Link` header, so any change of the page or of where it leads changes it; a `304 Not
/// Modified` (with the `ETag` and the `Link`, no body) when `if_none_match` names it or is `*`.
async fn with_etag(response: Response, if_none_match: Option<&HeaderValue>) -> Validated {
    use std::hash::{Hash, Hasher};
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Validated::Sent(faults::server_error());
    };
    // SipHash with fixed keys: the same page gets the same tag for as long as the program runs
    // (and across runs of one build), which is all a client's cache needs.
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    parts.headers.get(header::LINK).map(HeaderValue::as_bytes).hash(&mut hasher);
    let tag = format!("W/\"{:016x}\"", hasher.finish());
    let current = if_none_match.and_then(|v| v.to_str().ok()).is_some_and(|list| {
        let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
        list.split(',').any(|t| t.trim() == "*" || opaque(t) == opaque(&tag))
    });
    let Ok(value) = HeaderValue::from_str(&tag) else { return Validated::Sent(faults::server_error()) };
    parts.headers.insert(header::ETAG, value);
    if current {
        let mut not_modified = Response::new(axum::body::Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        for name in [header::ETAG, header::LINK] {
            if let Some(value) = parts.headers.get(&name) {
                not_modified.headers_mut().insert(name, value.clone());
            }
        }
        return Validated::Current(not_modified);
    }
    Validated::Sent(Response::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Latency, bearer check and faults around the API endpoints.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let stats = &app.stats;
    let answered = stats.requests.fetch_add(1, Ordering::Relaxed);
    app.apply_due(answered);
    let latency = app.fault_state().faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if !app.auth().check(request.headers()) {
        bump(&stats.unauthorized);
        return faults::json(
            StatusCode::UNAUTHORIZED,
            &json!({"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}),
        );
    }
    let (fault, retry_after) = {
        let mut state = app.fault_state();
        let key = format!("{} {}", request.method(), request.uri());
        (state.draw(&key), state.faults().retry_after)
    };
    match fault {
        Some(Fault::ServerError) => {
            bump(&stats.injected_500);
            return faults::server_error();
        }
        Some(Fault::RateLimited) => {
            bump(&stats.injected_429);
            return faults::rate_limited(retry_after);
        }
        Some(Fault::BadGateway) => {
            bump(&stats.injected_502);
            return faults::bad_gateway();
        }
        Some(Fault::Drop | Fault::Malformed) | None => {}
    }
    let is_get = request.method() == Method::GET;
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let response = if is_get {
        match with_etag(response, if_none_match.as_ref()).await {
            Validated::Current(not_modified) => {
                bump(&stats.not_modified);
                return not_modified;
            }
            Validated::Sent(response) => response,
        }
    } else {
        response
    };
    let Some(fault) = fault else {
        bump(&stats.served_ok);
        return response;
    };
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return faults::server_error();
    };
    let response = Response::from_parts(parts, axum::body::Body::empty());
    if fault == Fault::Drop {
        bump(&stats.dropped);
        faults::dropped(response, bytes)
    } else {
        bump(&stats.malformed);
        faults::malformed(response, bytes)
    }
}

/// Serves the recording of a replaying server.
async fn replayed(State(app): State<Arc<App>>, method: Method, uri: Uri) -> Response {
    let answer = app.replay.as_ref().and_then(|book| book.answer(&method, &uri));
    answer.unwrap_or_else(|| {
        let query = uri.query().map(|query| format!("?{query}")).unwrap_or_default();
        faults::json(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("no recorded response for {method} {}{query}", uri.path())}),
        )
    })
}

fn parse_number(number: &str) -> Option<u64> {
    number.parse().ok()
}

/// `GET /_mock/issues/{number}`.
async fn control_get(State(app): State<Arc<App>>, Path(number): Path<String>) -> Response {
    match parse_number(&number).and_then(|number| app.issue_json(number)) {
        Some(issue) => faults::json(StatusCode::OK, &issue),
        None => not_found(),
    }
}

/// `POST /_mock/issues/{number}` with `{"title"?, "state"?}` (or no body: only bump
/// `updated_at`).
async fn control_update(State(app): State<Arc<App>>, Path(number): Path<String>, body: Bytes) -> Response {
    let update: IssueUpdate = if body.trim_ascii().is_empty() {
        IssueUpdate::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(update) => update,
            Err(error) => return faults::json(StatusCode::BAD_REQUEST, &json!({"message": error.to_string()})),
        }
    };
    match parse_number(&number).and_then(|number| app.update_issue(number, update)) {
        Some(issue) => faults::json(StatusCode::OK, &issue),
        None => not_found(),
    }
}

/// `DELETE /_mock/issues/{number}`.
async fn control_delete(State(app): State<Arc<App>>, Path(number): Path<String>) -> Response {
    if parse_number(&number).is_some_and(|number| app.write().delete(number)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found()
    }
}

/// `POST /_mock/issues` with `{"count": n}`.
async fn control_add(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let count = serde_json::from_slice::<Value>(&body).ok().and_then(|body| body.get("count").and_then(Value::as_u64));
    let Some(count) = count else {
        return faults::json(StatusCode::BAD_REQUEST, &json!({"message": "expected {\"count\": n}"}));
    };
    let numbers = app.write().add(count);
    let (first, last) = if numbers.is_empty() { (None, None) } else { (Some(*numbers.start()), Some(*numbers.end())) };
    faults::json(StatusCode::CREATED, &json!({"count": count, "first": first, "last": last}))
}

/// `POST /_mock/expire-token`.
async fn control_expire(State(app): State<Arc<App>>) -> StatusCode {
    app.auth().expire();
    StatusCode::NO_CONTENT
}

/// `GET /_mock/faults`.
async fn control_faults(State(app): State<Arc<App>>) -> Response {
    let faults = app.fault_state().faults().clone();
    faults::json(StatusCode::OK, &serde_json::to_value(faults).unwrap_or_default())
}

/// `PUT /_mock/faults` with a [`Faults`] JSON.
async fn control_set_faults(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            app.fault_state().set(faults.clone());
            faults::json(StatusCode::OK, &serde_json::to_value(faults).unwrap_or_default())
        }
        Err(error) => faults::json(StatusCode::BAD_REQUEST, &json!({"message": error.to_string()})),
    }
}

/// `POST /_mock/scheduled` with `{"after_requests": n}` and the fields of a [`Mutation`].
async fn control_schedule(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let bad = |message: String| faults::json(StatusCode::BAD_REQUEST, &json!({"message": message}));
    // Not a struct with a flattened `Mutation`: serde's flatten cannot read `update`'s numeric keys.
    let mut fields = match serde_json::from_slice::<serde_json::Map<String, Value>>(&body) {
        Ok(fields) => fields,
        Err(error) => return bad(error.to_string()),
    };
    let Some(after_requests) = fields.remove("after_requests").and_then(|n| n.as_u64()) else {
        return bad("expected {\"after_requests\": n, ...}".into());
    };
    match serde_json::from_value::<Mutation>(Value::Object(fields)) {
        Ok(mutation) => {
            app.schedule(after_requests, mutation);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad(error.to_string()),
    }
}

/// `POST /_mock/revoke-refresh-tokens`.
async fn control_revoke(State(app): State<Arc<App>>) -> StatusCode {
    app.auth().revoke_refresh_tokens();
    StatusCode::NO_CONTENT
}

/// `PUT /_mock/token-endpoint` with `"normal"`, `"html"` or `"hang"`.
async fn control_token_endpoint(State(app): State<Arc<App>>, body: Bytes) -> Response {
    match serde_json::from_slice::<TokenEndpoint>(&body) {
        Ok(endpoint) => {
            app.auth().token_endpoint = endpoint;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => faults::json(
            StatusCode::BAD_REQUEST,
            &json!({"message": format!("expected \"normal\", \"html\" or \"hang\": {e}")}),
        ),
    }
}

/// `GET /_mock/stats`.
async fn control_stats(State(app): State<Arc<App>>) -> Response {
    faults::json(StatusCode::OK, &serde_json::to_value(app.stats.snapshot()).unwrap_or_default())
}

/// `POST /_mock/reset-stats`.
async fn control_reset(State(app): State<Arc<App>>) -> StatusCode {
    app.stats.reset();
    StatusCode::NO_CONTENT
}

/// The whole server.
pub(crate) fn router(app: Arc<App>) -> Router {
    let control = Router::new()
        .route("/issues", post(control_add))
        .route("/issues/{number}", get(control_get).post(control_update).delete(control_delete))
        .route("/expire-token", post(control_expire))
        .route("/revoke-refresh-tokens", post(control_revoke))
        .route("/token-endpoint", put(control_token_endpoint))
        .route("/faults", get(control_faults).put(control_set_faults))
        .route("/scheduled", post(control_schedule))
        .route("/stats", get(control_stats))
        .route("/reset-stats", post(control_reset));
    let guarded = middleware::from_fn_with_state(app.clone(), guard);
    if app.replay.is_some() {
        let replay = Router::new().fallback(replayed).layer(guarded).with_state(app.clone());
        return Router::new().nest("/_mock", control).with_state(app).fallback_service(replay);
    }
    let api = Router::new()
        .route("/repos/{owner}/{repo}/issues", get(list_issues).post(create_issue))
        .route("/repos/{owner}/{repo}/issues/{number}", get(get_issue))
        .route("/cursor/repos/{owner}/{repo}/issues", get(cursor_issues))
        .route("/offset/repos/{owner}/{repo}/issues", get(offset_issues))
        .route("/bodylink/repos/{owner}/{repo}/issues", get(bodylink_issues))
        .route("/user", get(user))
        .route("/user/repos", get(user_repos))
        .route("/echo", axum::routing::any(echo))
        .route("/echo/{*rest}", axum::routing::any(echo))
        .route("/redirect", get(redirect))
        .layer(guarded);
    Router::new()
        .merge(api)
        .nest("/_mock", control)
        .route("/login/oauth/access_token", post(access_token))
        .route("/login/oauth/authorize", get(authorize_page).post(authorize_decision))
        .fallback(|| async { not_found() })
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_github_forms() {
        assert_eq!(parse_since("2024-01-01T00:00:00Z"), Some(crate::data::EPOCH));
        assert_eq!(parse_since("2024-01-01T00:00:00.5Z"), Some(crate::data::EPOCH + 1));
        assert_eq!(parse_since("2024-01-01T01:00:00 01:00"), Some(crate::data::EPOCH));
        assert_eq!(parse_since("2024-01-01T00:00:00"), Some(crate::data::EPOCH));
        assert_eq!(parse_since("2024-01-01"), Some(crate::data::EPOCH));
        assert_eq!(parse_since("yesterday"), None);
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(12345)), Some(12345));
        assert_eq!(decode_cursor("nonsense!"), None);
    }
}
