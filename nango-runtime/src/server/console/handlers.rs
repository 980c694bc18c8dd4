//! The signed-in pages and actions: each handler reads what its page shows from the store and
//! the scheduler, or does what its button asks, and hands over to [`pages`](super::pages).

use super::layout::{PageError, PageResult, respond};
use super::pages::{self, ConnectionSyncs, Dashboard, RECENT, RunPage};
use super::session::Session;
use crate::scheduler::syncs_of;
use crate::server::AppState;
use crate::store::ConnectionKey;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::Utc;
use std::sync::Arc;

/// `GET /`: every connection's syncs, then recent runs and webhook deliveries.
pub(super) async fn dashboard(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
) -> PageResult {
    let store = state.store();
    // Every connection, those whose credentials cannot be read too (with the reason).
    let list = store.connections().await?;
    let mut listed: Vec<(ConnectionKey, &crate::Connection)> = list.identities().collect();
    listed.sort_by(|(_, a), (_, b)| {
        (&a.provider_config_key, &a.connection_id).cmp(&(&b.provider_config_key, &b.connection_id))
    });
    let mut connections = Vec::with_capacity(listed.len());
    let mut auth_errors = store.auth_errors().await?;
    for (key, connection) in listed {
        let mut syncs: Vec<_> = syncs_of(connection).collect();
        syncs.sort_by_key(|s| s.descriptor.name);
        let mut views = Vec::with_capacity(syncs.len());
        for sync in syncs {
            views.push(state.scheduler.view(key, connection, sync).await?);
        }
        let records = if views.is_empty() { Default::default() } else { store.record_counts(key).await? };
        let unreadable = list.unreadable_reason(key).map(str::to_owned);
        let needs_reauth = auth_errors.remove(&key);
        connections.push(ConnectionSyncs { connection: connection.clone(), unreadable, needs_reauth, views, records });
    }
    let data = Dashboard {
        connections,
        runs: store.runs(None, None, RECENT).await?,
        deliveries: store.deliveries(None, RECENT).await?,
        now: Utc::now(),
    };
    Ok(respond(StatusCode::OK, pages::dashboard(&data, &session.csrf_token)))
}

/// `POST /console/syncs/{connection_key}/{sync}/{action}`: does it, then back to `/` (303, so
/// reloading the dashboard does not post again).
pub(super) async fn sync_action(
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
    // Found among the listed connections: a connection whose credentials cannot be read can be
    // paused, resumed and triggered too.
    let list = state.store().connections().await?;
    let found = list.identities().find(|(k, _)| *k == key).map(|(_, c)| c.clone()).ok_or_else(no_connection)?;
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

/// `GET /console/runs/{id}`: a run, its log and its webhook deliveries.
pub(super) async fn run_page(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> PageResult {
    let no_run = || PageError::not_found(format!("no run `{id}`"));
    let run_id: i64 = id.parse().map_err(|_| no_run())?;
    let store = state.store();
    let run = store.run(run_id).await?.ok_or_else(no_run)?;
    let data = RunPage {
        run,
        logs: store.run_logs(run_id).await?,
        deliveries: store.deliveries(Some(run_id), 200).await?,
        now: Utc::now(),
    };
    Ok(respond(StatusCode::OK, pages::run_page(&data, &session.csrf_token)))
}
