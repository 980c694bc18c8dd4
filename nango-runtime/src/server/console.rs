//! The web console: server-rendered HTML pages showing every connection's syncs, recent runs and
//! webhook deliveries, with buttons to pause, resume, trigger and fully resync.
//!
//! Routes:
//! - `GET /login?key=<secret>` (open): checks the key, sets the `nango_key` cookie the API's
//!   key check also accepts, and redirects to `/`; otherwise a small form asking for the key.
//! - `GET /`: the dashboard (refreshes itself every 5 seconds).
//! - `POST /console/syncs/{connection_key}/{sync}/{action}`: `pause`, `resume`, `trigger` or
//!   `resync` (a trigger that first forgets the checkpoint and `last_sync_date`), then back to `/`.
//! - `GET /console/runs/{id}`: one run with its log and webhook delivery attempts.
//!
//! No JavaScript: plain forms and a meta refresh are enough, and the pages can be served under
//! a Content-Security-Policy that allows no script at all. Everything that comes from the store
//! or a provider is escaped with [`escape`]. The cookie is `SameSite=Strict`, so another site
//! cannot make a logged-in browser post the action forms (no CSRF token needed).

use super::{AppState, same_key};
use crate::SyncType;
use crate::scheduler::SchedulerError;
use crate::scheduler::{ScheduleView, syncs_of};
use crate::store::{ConnectionKey, DeliveryRecord, LogLine, ModelCounts, RunRecord, RunStatus, StoreError};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Inlined in every page: one file to edit, no extra request, nothing to serve separately.
const CSS: &str = include_str!("console/console.css");

/// The pages use no script, load nothing from elsewhere and post forms only to us; a CSP saying
/// so turns any escaping slip into a harmless blocked script rather than an injection.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// How many runs and deliveries the dashboard lists.
const RECENT: u32 = 20;

/// Longest error text shown in a table cell (the run page shows it whole).
const CELL_ERROR_CHARS: usize = 240;

/// The console's protected routes (mounted behind the API-key check).
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(dashboard))
        .route("/console/syncs/{connection}/{sync}/{action}", post(sync_action))
        .route("/console/runs/{id}", get(run_page))
}

/// Escapes text for HTML element content and (double- or single-quoted) attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes one URL path segment (sync names come from nango.yaml and could hold
/// anything a path cannot).
fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A page that went wrong: an HTML error page (the API's JSON errors would be unreadable in a
/// browser).
#[derive(Debug)]
struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    fn not_found(message: impl Into<String>) -> Self {
        PageError { status: StatusCode::NOT_FOUND, message: message.into() }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError { status: StatusCode::INTERNAL_SERVER_ERROR, message: nango_types::text::error_chain(&e) }
    }
}

impl From<SchedulerError> for PageError {
    fn from(e: SchedulerError) -> Self {
        PageError { status: StatusCode::INTERNAL_SERVER_ERROR, message: nango_types::text::error_chain(&e) }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = format!(
            r#"<section id="error"><h2>{}</h2><p>{}</p><p><a href="/">Back to the console</a></p></section>"#,
            escape(title),
            escape(&self.message)
        );
        html(self.status, layout(title, None, &body))
    }
}

type PageResult = Result<Response, PageError>;

/// An HTML response; `no-store` because the pages show live state behind a key.
fn html(status: StatusCode, page: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        page,
    )
        .into_response()
}

/// The frame of every page: header with navigation, the body, optional self-refresh.
fn layout(title: &str, refresh_secs: Option<u32>, body: &str) -> String {
    let refresh = refresh_secs.map(|s| format!(r#"<meta http-equiv="refresh" content="{s}">"#)).unwrap_or_default();
    let note = if refresh_secs.is_some() { "refreshes every 5 s" } else { "" };
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}
<link rel="icon" href="data:,">
<title>{title} · nango-rs</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1><a href="/">nango-rs console</a></h1>
<nav><a href="/#syncs">Syncs</a><a href="/#recent-runs">Runs</a><a href="/#webhooks">Webhooks</a></nav>
<span class="note">{note}</span>
</header>
<main>
{body}
</main>
</body>
</html>
"##,
        title = escape(title),
    )
}

/// `12s`, `5m`, `3h 20m`, `2d 4h`: short enough for a table cell.
fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 if secs % 3600 >= 60 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ if secs % 86_400 >= 3600 => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// A time as "12s ago" / "in 5m", the exact UTC time in its tooltip.
fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let relative = match secs {
        0 => "just now".to_owned(),
        s if s > 0 => format!("{} ago", span(s.unsigned_abs())),
        s => format!("in {}", span(s.unsigned_abs())),
    };
    format!(
        r#"<time datetime="{}" title="{}">{relative}</time>"#,
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        t.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// How long a run took: milliseconds for quick runs, where seconds would all read "0s".
fn took(started: DateTime<Utc>, ended: Option<DateTime<Utc>>) -> String {
    let Some(ended) = ended else { return r#"<span class="muted">running</span>"#.to_owned() };
    let ms = (ended - started).num_milliseconds().max(0);
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => span(ms.unsigned_abs() / 1000),
    }
}

fn badge(status: &str) -> String {
    format!(r#"<span class="badge status status-{}">{}</span>"#, escape(&status.to_ascii_lowercase()), escape(status))
}

/// Added / updated / deleted per model.
fn counts(counts: &ModelCounts) -> String {
    if counts.values().all(|c| c.is_empty()) {
        return r#"<span class="counts muted">no changes</span>"#.to_owned();
    }
    let models: String = counts
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(model, c)| {
            format!(
                r#"<span title="added / updated / deleted">{} <b class="added">+{}</b> <b class="updated">~{}</b> <b class="deleted">−{}</b></span>"#,
                escape(model),
                c.added,
                c.updated,
                c.deleted
            )
        })
        .collect();
    format!(r#"<span class="counts">{models}</span>"#)
}

fn run_link(id: i64) -> String {
    format!(r#"<a href="/console/runs/{id}">#{id}</a>"#)
}

fn connection_cell(connection_id: &str, provider_config_key: &str) -> String {
    format!(
        r#"<strong>{}</strong><div class="muted small">{}</div>"#,
        escape(connection_id),
        escape(provider_config_key)
    )
}

fn action_button(key: ConnectionKey, sync: &str, action: &str, label: &str, help: &str) -> String {
    format!(
        r#"<form method="post" action="/console/syncs/{key}/{}/{action}"><button type="submit" class="{action}" title="{}">{label}</button></form>"#,
        path_segment(sync),
        escape(help)
    )
}

/// One row of the syncs table.
fn sync_row(view: &ScheduleView, records: &BTreeMap<String, u64>, now: DateTime<Utc>) -> String {
    let d = &view.sync.descriptor;
    let c = &view.connection;
    let last_run = match (&view.running_since, &view.last_run) {
        (Some(since), _) => format!("{} started {}", badge("RUNNING"), when(*since, now)),
        (None, Some(run)) => {
            let error = run
                .error
                .as_deref()
                .map(|e| format!(r#"<div class="error small" title="{}">{}</div>"#, escape(e), escape(&clip(e, 160))))
                .unwrap_or_default();
            format!(
                "{} {} {}<div>{}</div>{error}",
                badge(run.status.as_str()),
                run_link(run.id),
                when(run.started_at, now),
                counts(&run.counts)
            )
        }
        (None, None) => r#"<span class="muted">never ran</span>"#.to_owned(),
    };
    let next_run = match (view.next_run_at, view.paused, view.running_since.is_some()) {
        (_, _, true) => r#"<span class="muted">after this run</span>"#.to_owned(),
        (_, true, _) => r#"<span class="muted">paused</span>"#.to_owned(),
        (Some(t), _, _) if t <= now => "due now".to_owned(),
        (Some(t), _, _) => when(t, now),
        (None, _, _) => r#"<span class="muted">—</span>"#.to_owned(),
    };
    let frequency = format!(
        "every {}{}",
        span(view.frequency.as_secs()),
        if view.frequency_overridden { r#" <span class="muted small">(connection's own)</span>"# } else { "" }
    );
    let record_counts: String = d
        .outputs
        .iter()
        .map(|m| {
            format!(r#"<div>{} <span class="num">{}</span></div>"#, escape(m), records.get(*m).copied().unwrap_or(0))
        })
        .collect();
    let sync_type = match d.sync_type {
        SyncType::Full => "full",
        SyncType::Incremental => "incremental",
    };
    let pause_or_resume = if view.paused {
        action_button(view.key, d.name, "resume", "Resume", "run on schedule again")
    } else {
        action_button(view.key, d.name, "pause", "Pause", "stop scheduling runs (a running run finishes)")
    };
    format!(
        r#"<tr id="sync-{cid}-{name}" class="sync" data-connection-key="{key}" data-sync="{name}" data-status="{status}">
<td>{connection}</td>
<td><span class="mono">{name}</span><div class="muted small">{sync_type}{description}</div></td>
<td>{status_badge}</td>
<td class="last-run">{last_run}</td>
<td class="next-run">{next_run}</td>
<td class="frequency">{frequency}</td>
<td class="records">{record_counts}</td>
<td class="actions">{pause_or_resume}{trigger}{resync}</td>
</tr>
"#,
        cid = escape(&c.connection_id),
        name = escape(d.name),
        key = view.key,
        status = escape(view.status),
        connection = connection_cell(&c.connection_id, &c.provider_config_key),
        description = if d.description.is_empty() { String::new() } else { format!(" · {}", escape(d.description)) },
        status_badge = badge(view.status),
        trigger = action_button(view.key, d.name, "trigger", "Trigger", "run now, from where the last run left off"),
        resync = action_button(
            view.key,
            d.name,
            "resync",
            "Full resync",
            "run now from scratch: forget the checkpoint and last sync date (records are kept)"
        ),
    )
}

fn run_row(run: &RunRecord, now: DateTime<Utc>) -> String {
    let error = run
        .error
        .as_deref()
        .map(|e| format!(r#"<span title="{}">{}</span>"#, escape(e), escape(&clip(e, CELL_ERROR_CHARS))))
        .unwrap_or_default();
    format!(
        r#"<tr class="run" data-run-id="{id}" data-status="{status}">
<td>{link}</td>
<td class="mono">{sync}</td>
<td>{connection}</td>
<td>{badge}</td>
<td>{started}</td>
<td class="num">{took}</td>
<td>{counts}</td>
<td class="error small">{error}</td>
</tr>
"#,
        id = run.id,
        status = run.status.as_str(),
        link = run_link(run.id),
        sync = escape(&run.sync),
        connection = connection_cell(&run.connection_id, &run.provider_config_key),
        badge = badge(run.status.as_str()),
        started = when(run.started_at, now),
        took = took(run.started_at, run.ended_at),
        counts = counts(&run.counts),
    )
}

fn runs_table(runs: &[RunRecord], now: DateTime<Utc>) -> String {
    if runs.is_empty() {
        return r#"<table id="runs"><tbody></tbody></table><p class="empty">No runs yet.</p>"#.to_owned();
    }
    let rows: String = runs.iter().map(|r| run_row(r, now)).collect();
    format!(
        r#"<table id="runs">
<thead><tr><th>Run</th><th>Sync</th><th>Connection</th><th>Status</th><th>Started</th><th class="num">Took</th><th>Changes</th><th>Error</th></tr></thead>
<tbody>
{rows}</tbody>
</table>"#
    )
}

fn delivery_row(record: &DeliveryRecord, now: DateTime<Utc>, with_run: bool) -> String {
    let d = &record.attempt;
    let status = match d.status {
        Some(s) if (200..300).contains(&s) => format!(r#"<span class="badge status-success">{s}</span>"#),
        Some(s) => format!(r#"<span class="badge status-error">{s}</span>"#),
        None => r#"<span class="badge status-error">no answer</span>"#.to_owned(),
    };
    let run = if with_run { format!("<td>{}</td>", run_link(record.run)) } else { String::new() };
    format!(
        r#"<tr class="delivery" data-run-id="{run_id}">{run}<td>{model}</td><td class="mono small">{url}</td><td class="num">{attempt}</td><td>{status}</td><td class="num">{ms} ms</td><td>{at}</td><td class="error small">{error}</td></tr>
"#,
        run_id = record.run,
        model = escape(&record.model),
        url = escape(&d.url),
        attempt = d.attempt,
        ms = d.duration_ms,
        at = when(d.at, now),
        error = d.error.as_deref().map(|e| escape(&clip(e, CELL_ERROR_CHARS))).unwrap_or_default(),
    )
}

fn deliveries_table(deliveries: &[DeliveryRecord], now: DateTime<Utc>, with_run: bool) -> String {
    if deliveries.is_empty() {
        return r#"<table id="deliveries"><tbody></tbody></table><p class="empty">No webhook deliveries.</p>"#
            .to_owned();
    }
    let rows: String = deliveries.iter().map(|d| delivery_row(d, now, with_run)).collect();
    let run_header = if with_run { "<th>Run</th>" } else { "" };
    format!(
        r#"<table id="deliveries">
<thead><tr>{run_header}<th>Model</th><th>URL</th><th class="num">Attempt</th><th>Answer</th><th class="num">Took</th><th>At</th><th>Error</th></tr></thead>
<tbody>
{rows}</tbody>
</table>"#
    )
}

/// `GET /`: every connection's syncs, then recent runs and webhook deliveries.
async fn dashboard(State(state): State<Arc<AppState>>) -> PageResult {
    let store = state.store();
    let now = Utc::now();
    let mut connections = store.connections().await?;
    connections.sort_by(|a, b| {
        let (a, b) = (&a.connection, &b.connection);
        (&a.provider_config_key, &a.connection_id).cmp(&(&b.provider_config_key, &b.connection_id))
    });
    let mut rows = String::new();
    for stored in &connections {
        let (key, connection) = (stored.key, &stored.connection);
        let mut syncs: Vec<_> = syncs_of(connection).collect();
        if syncs.is_empty() {
            rows.push_str(&format!(
                r#"<tr class="sync-none"><td>{}</td><td colspan="7" class="muted">No sync of this program is declared for integration <code>{}</code>.</td></tr>
"#,
                connection_cell(&connection.connection_id, &connection.provider_config_key),
                escape(&connection.provider_config_key)
            ));
            continue;
        }
        syncs.sort_by_key(|s| s.descriptor.name);
        let records = store.record_counts(key).await?;
        for sync in syncs {
            let view = state.scheduler.view(stored, sync).await?;
            rows.push_str(&sync_row(&view, &records, now));
        }
    }
    let syncs = if connections.is_empty() {
        r#"<p class="empty">No connections yet: create one with <code>POST /connection</code>.</p>"#.to_owned()
    } else {
        format!(
            r#"<table id="syncs-table">
<thead><tr><th>Connection</th><th>Sync</th><th>Status</th><th>Last run</th><th>Next run</th><th>Frequency</th><th>Records</th><th>Actions</th></tr></thead>
<tbody>
{rows}</tbody>
</table>"#
        )
    };
    let runs = store.runs(None, None, RECENT).await?;
    let deliveries = store.deliveries(None, RECENT).await?;
    let body = format!(
        r#"<section id="syncs"><h2>Syncs <span class="count">· {connections} connection{s}</span></h2>
{syncs}
</section>
<section id="recent-runs"><h2>Recent runs <span class="count">· last {RECENT}</span></h2>
{runs}
</section>
<section id="webhooks"><h2>Webhook deliveries <span class="count">· last {RECENT} attempts</span></h2>
{deliveries}
</section>"#,
        connections = connections.len(),
        s = if connections.len() == 1 { "" } else { "s" },
        runs = runs_table(&runs, now),
        deliveries = deliveries_table(&deliveries, now, true),
    );
    Ok(html(StatusCode::OK, layout("Syncs", Some(5), &body)))
}

/// `POST /console/syncs/{connection_key}/{sync}/{action}`: does it, then back to `/` (303, so
/// reloading the dashboard does not post again).
async fn sync_action(
    State(state): State<Arc<AppState>>,
    Path((connection, sync, action)): Path<(String, String, String)>,
) -> PageResult {
    if !matches!(action.as_str(), "pause" | "resume" | "trigger" | "resync") {
        return Err(PageError::not_found(format!(
            "unknown action `{action}`: the actions are pause, resume, trigger and resync"
        )));
    }
    let no_connection = || PageError::not_found(format!("no connection with key `{connection}`"));
    // The console's forms name connections by key, which is unique, where a connection id
    // alone is not.
    let key: ConnectionKey = connection.parse().map_err(|_| no_connection())?;
    let found = state.store().connection_by_key(key).await?.ok_or_else(no_connection)?.connection;
    let registration = syncs_of(&found).find(|s| s.descriptor.name == sync).ok_or_else(|| {
        PageError::not_found(format!(
            "integration `{}` has no sync `{sync}` in this program",
            found.provider_config_key
        ))
    })?;
    let scheduler = &state.scheduler;
    match action.as_str() {
        "pause" => scheduler.pause(key, registration).await?,
        "resume" => scheduler.start(key, registration).await?,
        "trigger" => scheduler.trigger(key, registration, false, false).await?,
        // Records stay: a full resync re-fetches everything and updates them in place.
        _ => scheduler.trigger(key, registration, true, false).await?,
    }
    Ok(Redirect::to("/").into_response())
}

fn log_row(line: &LogLine) -> String {
    format!(
        r#"<tr class="log"><td class="mono small">{}</td><td><span class="badge level-{level}">{level}</span></td><td><pre>{}</pre></td></tr>
"#,
        line.at.format("%H:%M:%S%.3f"),
        escape(&line.message),
        level = escape(&line.level),
    )
}

/// `GET /console/runs/{id}`: a run, its log and its webhook deliveries.
async fn run_page(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> PageResult {
    let no_run = || PageError::not_found(format!("no run `{id}`"));
    let run_id: i64 = id.parse().map_err(|_| no_run())?;
    let store = state.store();
    let run = store.run(run_id).await?.ok_or_else(no_run)?;
    let logs = store.run_logs(run_id).await?;
    let deliveries = store.deliveries(Some(run_id), 200).await?;
    let now = Utc::now();
    let per_model: String = run
        .counts
        .iter()
        .map(|(model, c)| {
            format!(
                r#"<tr><td>{}</td><td class="num added">{}</td><td class="num updated">{}</td><td class="num deleted">{}</td></tr>"#,
                escape(model),
                c.added,
                c.updated,
                c.deleted
            )
        })
        .collect();
    let counts_table = if per_model.is_empty() {
        r#"<p class="empty">No records changed.</p>"#.to_owned()
    } else {
        format!(
            r#"<table id="counts"><thead><tr><th>Model</th><th class="num">Added</th><th class="num">Updated</th><th class="num">Deleted</th></tr></thead><tbody>{per_model}</tbody></table>"#
        )
    };
    let error = run
        .error
        .as_deref()
        .map(|e| format!(r#"<dt>Error</dt><dd id="run-error" class="error"><pre>{}</pre></dd>"#, escape(e)))
        .unwrap_or_default();
    let logs_html = if logs.is_empty() {
        r#"<table id="logs"><tbody></tbody></table><p class="empty">No log lines.</p>"#.to_owned()
    } else {
        let rows: String = logs.iter().map(log_row).collect();
        format!(
            r#"<table id="logs"><thead><tr><th>Time (UTC)</th><th>Level</th><th>Message</th></tr></thead><tbody>
{rows}</tbody></table>"#
        )
    };
    let body = format!(
        r#"<p><a href="/">← All syncs</a></p>
<section id="run" data-run-id="{id}" data-status="{status}"><h2>Run #{id}</h2>
<dl>
<dt>Status</dt><dd id="run-status">{badge}</dd>
<dt>Sync</dt><dd class="mono">{sync}</dd>
<dt>Connection</dt><dd>{connection} <span class="muted">({integration})</span></dd>
<dt>Started</dt><dd>{started}</dd>
<dt>Ended</dt><dd>{ended}</dd>
<dt>Took</dt><dd>{took}</dd>
{error}
</dl>
</section>
<section id="changes"><h2>Changes</h2>
{counts_table}
</section>
<section id="log"><h2>Log <span class="count">· {lines} line{s}</span></h2>
{logs_html}
</section>
<section id="webhooks"><h2>Webhook deliveries</h2>
{deliveries}
</section>"#,
        id = run.id,
        status = run.status.as_str(),
        badge = badge(run.status.as_str()),
        sync = escape(&run.sync),
        connection = escape(&run.connection_id),
        integration = escape(&run.provider_config_key),
        started = when(run.started_at, now),
        ended = run.ended_at.map(|t| when(t, now)).unwrap_or_else(|| "—".to_owned()),
        took = took(run.started_at, run.ended_at),
        lines = logs.len(),
        s = if logs.len() == 1 { "" } else { "s" },
        deliveries = deliveries_table(&deliveries, now, false),
    );
    // A run still going refreshes until it ends; a finished one does not change.
    let refresh = (run.status == RunStatus::Running).then_some(2);
    Ok(html(StatusCode::OK, layout(&format!("Run #{}", run.id), refresh, &body)))
}

/// Characters a cookie value may hold unquoted (RFC 6265 `cookie-octet`); the key is stored
/// as-is because the API's key check reads the cookie without decoding.
fn cookie_safe(value: &str) -> bool {
    value.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

fn login_form(message: Option<&str>) -> String {
    let message =
        message.map(|m| format!(r#"<p class="error" id="login-error">{}</p>"#, escape(m))).unwrap_or_default();
    format!(
        r#"<section class="login" id="login"><h2>Sign in</h2>
<p class="muted">Enter the service's secret key (<code>NANGO_SECRET_KEY</code>).</p>
{message}
<form method="get" action="/login">
<input type="password" name="key" autocomplete="current-password" autofocus required aria-label="Secret key">
<button type="submit">Sign in</button>
</form>
</section>"#
    )
}

/// `GET /login?key=<secret>`: a right key sets the console's cookie and goes to `/`; anything
/// else gets the form (401).
pub(super) async fn login(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let key = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "key")
        .map(|(_, value)| value.into_owned())
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        return html(StatusCode::UNAUTHORIZED, layout("Sign in", None, &login_form(None)));
    };
    if !same_key(key.as_bytes(), state.secret_key.as_bytes()) {
        return html(StatusCode::UNAUTHORIZED, layout("Sign in", None, &login_form(Some("That key is not valid."))));
    }
    if !cookie_safe(&key) {
        let message = "The secret key holds characters a cookie cannot carry (spaces, quotes, commas, semicolons or \
                       backslashes), so the console cannot keep you signed in; use the API with an Authorization \
                       header, or choose a key without them.";
        return html(StatusCode::BAD_REQUEST, layout("Sign in", None, &login_form(Some(message))));
    }
    let cookie = format!("nango_key={key}; HttpOnly; SameSite=Strict; Path=/");
    ([(header::SET_COOKIE, cookie.as_str()), (header::CACHE_CONTROL, "no-store")], Redirect::to("/")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn spans_and_clips_read_well() {
        assert_eq!(span(42), "42s");
        assert_eq!(span(3600), "1h");
        assert_eq!(span(3 * 3600 + 20 * 60), "3h 20m");
        assert_eq!(span(2 * 86_400 + 4 * 3600), "2d 4h");
        assert_eq!(clip("héllo wörld", 5), "héllo…");
        assert_eq!(clip("short", 10), "short");
        assert_eq!(path_segment("issues pages/é"), "issues%20pages%2F%C3%A9");
    }

    #[test]
    fn cookie_values_exclude_separators() {
        assert!(cookie_safe("s3cret-key_1.2~x"));
        assert!(!cookie_safe("a;b") && !cookie_safe("a b") && !cookie_safe("a,b") && !cookie_safe("a\"b"));
    }
}
