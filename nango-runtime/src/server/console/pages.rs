//! The console's pages as templates: what each shows, given what its handler read.
//!
//! Every value goes through maud's `(…)`, which escapes it for element text and attribute
//! values alike; nothing here is written pre-escaped.

use super::layout::{Frame, page};
use super::parts::{
    CELL_ERROR_CHARS, badge, clip, connection_cell, counts, deliveries_table, path_segment, run_link, span, took, when,
};
use crate::Connection;
use crate::SyncType;
use crate::scheduler::ScheduleView;
use crate::store::{ConnectionKey, DeliveryRecord, LogLine, RunRecord, RunStatus};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use std::collections::BTreeMap;

/// How many runs and deliveries the dashboard lists.
pub(super) const RECENT: u32 = 20;

/// One connection on the dashboard: its syncs' schedules and its live record counts per model.
pub(super) struct ConnectionSyncs {
    /// Its stored fields (credentials are not shown, nor needed here).
    pub connection: Connection,
    /// Why its credentials cannot be read, when they cannot: shown above its syncs.
    pub unreadable: Option<String>,
    /// Why it needs its user to authorize again (its provider refused a token refresh).
    pub needs_reauth: Option<String>,
    /// Sorted by sync name; empty when this program declares no sync for its integration.
    pub views: Vec<ScheduleView>,
    pub records: BTreeMap<String, u64>,
}

/// What `GET /` shows.
pub(super) struct Dashboard {
    pub connections: Vec<ConnectionSyncs>,
    pub runs: Vec<RunRecord>,
    pub deliveries: Vec<DeliveryRecord>,
    pub now: DateTime<Utc>,
}

/// `GET /`: every connection's syncs, then recent runs and webhook deliveries; refreshes itself.
pub(super) fn dashboard(data: &Dashboard, csrf_token: &str) -> Markup {
    let now = data.now;
    let n = data.connections.len();
    let body = html! {
        section #syncs {
            h2 { "Syncs " span.count { "· " (n) " connection" @if n != 1 { "s" } } }
            @if data.connections.is_empty() {
                p.empty { "No connections yet: create one with " code { "POST /connection" } "." }
            } @else {
                table #syncs-table {
                    thead {
                        tr {
                            th { "Connection" } th { "Sync" } th { "Status" } th { "Last run" } th { "Next run" }
                            th { "Frequency" } th { "Records" } th { "Actions" }
                        }
                    }
                    tbody {
                        @for c in &data.connections {
                            @if let Some(reason) = &c.unreadable {
                                tr.connection-unreadable {
                                    td { (connection_cell(&c.connection.connection_id, &c.connection.provider_config_key)) }
                                    td.error colspan="7" { "Credentials unreadable: " (reason) }
                                }
                            }
                            @if let Some(reason) = &c.needs_reauth {
                                tr.connection-needs-reauth {
                                    td { (connection_cell(&c.connection.connection_id, &c.connection.provider_config_key)) }
                                    td.error colspan="7" { "Needs re-authorization (a reconnect session fixes it): " (reason) }
                                }
                            }
                            @if c.views.is_empty() {
                                tr.sync-none {
                                    td { (connection_cell(&c.connection.connection_id, &c.connection.provider_config_key)) }
                                    td.muted colspan="7" {
                                        "No sync of this program is declared for integration "
                                        code { (c.connection.provider_config_key) } "."
                                    }
                                }
                            }
                            @for view in &c.views { (sync_row(view, &c.records, now, csrf_token)) }
                        }
                    }
                }
            }
        }
        section #recent-runs {
            h2 { "Recent runs " span.count { "· last " (RECENT) } }
            (runs_table(&data.runs, now))
        }
        section #webhooks {
            h2 { "Webhook deliveries " span.count { "· last " (RECENT) " attempts" } }
            (deliveries_table(&data.deliveries, now, true))
        }
    };
    page("Syncs", Frame { refresh_secs: Some(5), csrf_token: Some(csrf_token) }, body)
}

/// A button posting one action on one sync (with the session's CSRF token).
fn action_button(key: ConnectionKey, sync: &str, action: &str, label: &str, help: &str, csrf_token: &str) -> Markup {
    html! {
        form method="post" action={ "/console/syncs/" (key) "/" (path_segment(sync)) "/" (action) } {
            input type="hidden" name="csrf" value=(csrf_token);
            button type="submit" class=(action) title=(help) { (label) }
        }
    }
}

/// One row of the syncs table.
fn sync_row(view: &ScheduleView, records: &BTreeMap<String, u64>, now: DateTime<Utc>, csrf_token: &str) -> Markup {
    let d = &view.sync.descriptor;
    let c = &view.connection;
    let sync_type = match d.sync_type {
        SyncType::Full => "full",
        SyncType::Incremental => "incremental",
    };
    let button =
        |action: &str, label: &str, help: &str| action_button(view.key, d.name, action, label, help, csrf_token);
    html! {
        tr.sync id={ "sync-" (c.connection_id) "-" (d.name) } data-connection-key=(view.key) data-sync=(d.name)
            data-status=(view.status) {
            td { (connection_cell(&c.connection_id, &c.provider_config_key)) }
            td {
                span.mono { (d.name) }
                div.muted.small { (sync_type) @if !d.description.is_empty() { " · " (d.description) } }
            }
            td { (badge(view.status)) }
            td.last-run {
                @match (&view.running_since, &view.last_run) {
                    (Some(since), _) => { (badge("RUNNING")) " started " (when(*since, now)) }
                    (None, Some(run)) => {
                        (badge(run.status.as_str())) " " (run_link(run.id)) " " (when(run.started_at, now))
                        div { (counts(&run.counts)) }
                        @if let Some(e) = &run.error { div.error.small title=(e) { (clip(e, 160)) } }
                    }
                    (None, None) => { span.muted { "never ran" } }
                }
            }
            td.next-run {
                @match (view.next_run_at, view.paused, view.running_since.is_some()) {
                    (_, _, true) => { span.muted { "after this run" } }
                    (_, true, _) => { span.muted { "paused" } }
                    (Some(t), _, _) if t <= now => { "due now" }
                    (Some(t), _, _) => { (when(t, now)) }
                    (None, _, _) => { span.muted { "—" } }
                }
            }
            td.frequency {
                "every " (span(view.frequency.as_secs()))
                @if view.frequency_overridden { " " span.muted.small { "(connection's own)" } }
            }
            td.records {
                @for model in d.outputs {
                    div { (model) " " span.num { (records.get(*model).copied().unwrap_or(0)) } }
                }
            }
            td.actions {
                @if view.paused {
                    (button("resume", "Resume", "run on schedule again"))
                } @else {
                    (button("pause", "Pause", "stop scheduling runs (a running run finishes)"))
                }
                (button("trigger", "Trigger", "run now, from where the last run left off"))
                (button("resync", "Full resync", "run now from scratch: forget the checkpoint and last sync date (records are kept)"))
            }
        }
    }
}

fn runs_table(runs: &[RunRecord], now: DateTime<Utc>) -> Markup {
    if runs.is_empty() {
        return html! {
            table #runs { tbody {} }
            p.empty { "No runs yet." }
        };
    }
    html! {
        table #runs {
            thead {
                tr {
                    th { "Run" } th { "Sync" } th { "Connection" } th { "Status" } th { "Started" } th.num { "Took" }
                    th { "Changes" } th { "Error" }
                }
            }
            tbody {
                @for run in runs {
                    tr.run data-run-id=(run.id) data-status=(run.status.as_str()) {
                        td { (run_link(run.id)) }
                        td.mono { (run.sync) }
                        td { (connection_cell(&run.connection_id, &run.provider_config_key)) }
                        td { (badge(run.status.as_str())) }
                        td { (when(run.started_at, now)) }
                        td.num { (took(run.started_at, run.ended_at)) }
                        td { (counts(&run.counts)) }
                        td.error.small {
                            @if let Some(e) = &run.error { span title=(e) { (clip(e, CELL_ERROR_CHARS)) } }
                        }
                    }
                }
            }
        }
    }
}

/// What `GET /console/runs/{id}` shows.
pub(super) struct RunPage {
    pub run: RunRecord,
    pub logs: Vec<LogLine>,
    pub deliveries: Vec<DeliveryRecord>,
    pub now: DateTime<Utc>,
}

/// A run, its changes, its log and its webhook deliveries; refreshes while the run goes on.
pub(super) fn run_page(data: &RunPage, csrf_token: &str) -> Markup {
    let (run, now) = (&data.run, data.now);
    let lines = data.logs.len();
    let body = html! {
        p { a href="/" { "← All syncs" } }
        section #run data-run-id=(run.id) data-status=(run.status.as_str()) {
            h2 { "Run #" (run.id) }
            dl {
                dt { "Status" } dd #run-status { (badge(run.status.as_str())) }
                dt { "Sync" } dd.mono { (run.sync) }
                dt { "Connection" } dd { (run.connection_id) " " span.muted { "(" (run.provider_config_key) ")" } }
                dt { "Started" } dd { (when(run.started_at, now)) }
                dt { "Ended" } dd { @if let Some(t) = run.ended_at { (when(t, now)) } @else { "—" } }
                dt { "Took" } dd { (took(run.started_at, run.ended_at)) }
                @if let Some(e) = &run.error {
                    dt { "Error" } dd #run-error.error { pre { (e) } }
                }
            }
        }
        section #changes {
            h2 { "Changes" }
            @if run.counts.is_empty() {
                p.empty { "No records changed." }
            } @else {
                table #counts {
                    thead { tr { th { "Model" } th.num { "Added" } th.num { "Updated" } th.num { "Deleted" } } }
                    tbody {
                        @for (model, c) in &run.counts {
                            tr {
                                td { (model) }
                                td.num.added { (c.added) }
                                td.num.updated { (c.updated) }
                                td.num.deleted { (c.deleted) }
                            }
                        }
                    }
                }
            }
        }
        section #log {
            h2 { "Log " span.count { "· " (lines) " line" @if lines != 1 { "s" } } }
            @if data.logs.is_empty() {
                table #logs { tbody {} }
                p.empty { "No log lines." }
            } @else {
                table #logs {
                    thead { tr { th { "Time (UTC)" } th { "Level" } th { "Message" } } }
                    tbody {
                        @for line in &data.logs {
                            tr.log {
                                td.mono.small { (line.at.format("%H:%M:%S%.3f")) }
                                td { span class={ "badge level-" (line.level) } { (line.level) } }
                                td { pre { (line.message) } }
                            }
                        }
                    }
                }
            }
        }
        section #webhooks {
            h2 { "Webhook deliveries" }
            (deliveries_table(&data.deliveries, now, false))
        }
    };
    // A run still going refreshes until it ends; a finished one does not change.
    let refresh_secs = (run.status == RunStatus::Running).then_some(2);
    page(&format!("Run #{}", run.id), Frame { refresh_secs, csrf_token: Some(csrf_token) }, body)
}

/// The sign-in form: the key goes in the POST body. `error` says why the last try failed,
/// `notice` anything else the user should know.
pub(super) fn sign_in(error: Option<&str>, notice: Option<&str>) -> Markup {
    let body = html! {
        section.login #login {
            h2 { "Sign in" }
            p.muted { "Enter the service's secret key (" code { "NANGO_SECRET_KEY" } ")." }
            @if let Some(notice) = notice { p.notice #login-notice { (notice) } }
            @if let Some(error) = error { p.error #login-error role="alert" { (error) } }
            form method="post" action="/login" {
                input type="password" name="key" autocomplete="current-password" autofocus required
                    aria-label="Secret key";
                button type="submit" { "Sign in" }
            }
        }
    };
    page("Sign in", Frame::default(), body)
}
