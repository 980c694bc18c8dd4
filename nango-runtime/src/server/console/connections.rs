//! The connections page: every connection with its integration, end user, creation time,
//! whether it needs re-authorization, and its syncs. "Connect" starts Nango Auth's flow for an
//! integration (a connect session made here, then the Connect UI, as a developer's frontend
//! would open it); "delete" deletes a connection the way `DELETE /connections/{id}` does.
//!
//! The page never shows a connect session token: it is made by the POST and goes only into the
//! redirect to the Connect UI.

use super::layout::{Frame, PageError, PageResult, page as frame, respond};
use super::parts::{badge, when};
use super::session::{CSRF_FIELD, Session, form_field};
use crate::Connection;
use crate::scheduler::syncs_of;
use crate::server::AppState;
use crate::server::connect::sessions;
use crate::server::connections::refuse_while_running;
use crate::store::{ConnectSessionData, ConnectionKey, EndUser};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where the page lives (and where its actions come back to).
const PAGE: &str = "/console/connections";

/// One row of the page.
struct Row {
    key: ConnectionKey,
    connection: Connection,
    end_user: Option<EndUser>,
    /// Why its user must authorize again (a refused refresh), or why its credentials do not open.
    problem: Option<(&'static str, String)>,
    /// Its syncs' names and statuses, by name.
    syncs: Vec<(&'static str, &'static str)>,
}

/// A redirect that is never cached.
fn see_other(to: &str) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Redirect::to(to)).into_response()
}

/// `GET /console/connections`.
pub(super) async fn page(State(state): State<Arc<AppState>>, Extension(session): Extension<Session>) -> PageResult {
    let store = state.store();
    let list = store.connections().await?;
    let mut listed: Vec<(ConnectionKey, &Connection)> = list.identities().collect();
    listed.sort_by(|(_, a), (_, b)| {
        (&a.provider_config_key, &a.connection_id).cmp(&(&b.provider_config_key, &b.connection_id))
    });
    let mut profiles = store.connection_profiles().await?;
    let mut auth_errors = store.auth_errors().await?;
    let mut rows = Vec::with_capacity(listed.len());
    for (key, connection) in listed {
        let mut syncs = Vec::new();
        for sync in syncs_of(connection) {
            syncs.push((sync.descriptor.name, state.scheduler.view(key, connection, sync).await?.status));
        }
        syncs.sort();
        let problem = match (auth_errors.remove(&key), list.unreadable_reason(key)) {
            (Some(reason), _) => Some(("needs re-authorization", reason)),
            (None, Some(reason)) => Some(("unreadable credentials", reason.to_owned())),
            (None, None) => None,
        };
        let end_user = profiles.remove(&key).and_then(|p| p.end_user);
        rows.push(Row { key, connection: connection.clone(), end_user, problem, syncs });
    }
    let integrations = sessions::known_integrations(&state).await?;
    let body = template(&rows, &integrations, &session.csrf_token, Utc::now());
    Ok(respond(
        StatusCode::OK,
        frame("Connections", Frame { refresh_secs: None, csrf_token: Some(&session.csrf_token) }, body),
    ))
}

/// `POST /console/connections/connect` with `integration` and an optional `end_user_id`: a
/// connect session allowing only that integration, then its Connect UI page.
pub(super) async fn connect(State(state): State<Arc<AppState>>, form: Bytes) -> PageResult {
    let integration = form_field(&form, "integration").unwrap_or_default();
    let known = sessions::known_integrations(&state).await?;
    if !known.contains(&integration) {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            format!("no integration `{integration}`: choose one of the list ({})", known.join(", ")),
        ));
    }
    let end_user = form_field(&form, "end_user_id")
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .map(|id| EndUser { id, email: None, display_name: None, tags: None, organization: None });
    let data = ConnectSessionData {
        end_user,
        organization: None,
        tags: BTreeMap::new(),
        allowed_integrations: Some(vec![integration]),
        integrations_config_defaults: BTreeMap::new(),
        reconnect: None,
    };
    let (token, _) = sessions::start(&state, data).await?;
    Ok(see_other(&format!("/connect/ui?session_token={token}")))
}

/// `POST /console/connections/{connection_key}/delete`: deletes the connection and its records,
/// refused (409) while one of its syncs runs, as the API route refuses.
pub(super) async fn delete(State(state): State<Arc<AppState>>, Path(connection): Path<String>) -> PageResult {
    let no_connection = || PageError::not_found(format!("no connection with key `{connection}`"));
    let key: ConnectionKey = connection.parse().map_err(|_| no_connection())?;
    let list = state.store().connections().await?;
    let (pck, id) = list
        .identities()
        .find(|(k, _)| *k == key)
        .map(|(_, c)| (c.provider_config_key.clone(), c.connection_id.clone()))
        .ok_or_else(no_connection)?;
    refuse_while_running(&state, key, &pck, &id)?;
    state.store().delete_connection(&pck, &id).await?;
    Ok(see_other(PAGE))
}

fn template(rows: &[Row], integrations: &[String], csrf: &str, now: DateTime<Utc>) -> Markup {
    let n = rows.len();
    html! {
        section #connections {
            h2 { "Connections " span.count { "· " (n) } }
            @if rows.is_empty() {
                p.empty { "No connections yet: connect one below, or create one with " code { "POST /connection" } "." }
            } @else {
                table #connections-table {
                    thead {
                        tr {
                            th { "Connection" } th { "Integration" } th { "End user" } th { "Created" }
                            th { "Authorization" } th { "Syncs" } th { "Actions" }
                        }
                    }
                    tbody { @for row in rows { (row_markup(row, csrf, now)) } }
                }
            }
        }
        section #connect {
            h2 { "Connect an account" }
            p.muted { "Starts Nango Auth's flow for one integration: a connect session, then its Connect UI page, as your frontend would open it." }
            @if integrations.is_empty() {
                p.empty { "No integrations: declare one in nango.yaml or create one with " code { "POST /integrations" } "." }
            } @else {
                form method="post" action={ (PAGE) "/connect" } {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    label { "Integration " select name="integration" required { @for i in integrations { option value=(i) { (i) } } } }
                    " "
                    label { "End user id (optional) " input type="text" name="end_user_id" autocomplete="off"; }
                    " "
                    button.connect type="submit" { "Connect" }
                }
            }
        }
    }
}

fn row_markup(row: &Row, csrf: &str, now: DateTime<Utc>) -> Markup {
    let c = &row.connection;
    html! {
        tr.connection id={ "connection-" (row.key) } data-connection-key=(row.key) data-connection-id=(c.connection_id) {
            td { strong { (c.connection_id) } }
            td { (c.provider_config_key) div.muted.small { (c.provider) } }
            td {
                @match &row.end_user {
                    Some(user) => { (user.id) @if let Some(email) = &user.email { div.muted.small { (email) } } }
                    None => { span.muted { "—" } }
                }
            }
            td { (when(c.created_at, now)) }
            td.auth {
                @match &row.problem {
                    Some((what, why)) => { span.badge.status-error title=(why) { (what) } div.error.small { (why) } }
                    None => { span.badge.status-success { "ok" } }
                }
            }
            td.syncs {
                @for (name, status) in &row.syncs { div { span.mono { (name) } " " (badge(status)) } }
                @if row.syncs.is_empty() { span.muted { "none" } }
            }
            td.actions {
                // No script: the confirmation is a second click inside a disclosure.
                details.delete {
                    summary { "Delete…" }
                    form method="post" action={ (PAGE) "/" (row.key) "/delete" } {
                        input type="hidden" name=(CSRF_FIELD) value=(csrf);
                        p.small { "Deletes " strong { (c.connection_id) } " and its records; its syncs stop." }
                        button.delete type="submit" { "Delete for good" }
                    }
                }
            }
        }
    }
}
