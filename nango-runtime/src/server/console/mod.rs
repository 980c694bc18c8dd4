//! The web console: server-rendered HTML pages showing every connection's syncs, recent runs and
//! webhook deliveries, with buttons to pause, resume, trigger and fully resync.
//!
//! Routes:
//! - `GET /login`: the sign-in form; `POST /login` with the secret key in the form body starts
//!   a session ([`session`] says how sessions and CSRF protection work).
//! - `GET /`: the dashboard (refreshes itself every 5 seconds).
//! - `POST /console/syncs/{connection_key}/{sync}/{action}`: `pause`, `resume`, `trigger` or
//!   `resync` (a trigger that first forgets the checkpoint and `last_sync_date`), then back to `/`.
//! - `GET /console/runs/{id}`: one run with its log and webhook delivery attempts.
//! - `GET /console/connections`: every connection (integration, end user, created, whether it
//!   needs re-authorization, its syncs), with "connect" and "delete".
//! - `POST /console/connections/connect` with `integration` (and an optional `end_user_id`):
//!   starts a Nango Auth connect session for that integration and opens the Connect UI.
//! - `POST /console/connections/{connection_key}/delete`: deletes the connection and its records
//!   as `DELETE /connections/{id}` does (refused while one of its syncs runs).
//! - `GET /console/deployments`: the deployed version, the deployment history and the changes
//!   this binary has not applied yet.
//! - `POST /logout`: ends the session.
//!
//! Every route but the sign-in form needs a session; the API's `Authorization: Bearer` key
//! does not open the console, and the console's cookie does not open the API.
//!
//! No JavaScript: plain forms and a meta refresh are enough, and the pages are served under a
//! Content-Security-Policy that allows no script at all. Pages are maud templates, which escape
//! every value they show.
//!
//! One job per file: [`mod@session`] (sessions, CSRF and origin checks), [`signin`] (sign in and
//! out), [`handlers`] (the signed-in pages and actions), [`connections`] (the connections page), [`deployments`] (the deployments page), [`pages`] (their templates), [`parts`]
//! (pieces several pages share), [`layout`] (the page frame, responses, the error page).

mod connections;
mod deployments;
mod handlers;
mod layout;
mod pages;
mod parts;
mod session;
mod signin;

use super::AppState;
use super::route_table::RouteTable;
use axum::routing::{get, post};
use std::sync::Arc;

/// The console's routes: the sign-in form open to all, everything else behind a session.
pub(super) fn routes(state: Arc<AppState>) -> RouteTable {
    let signed_in = RouteTable::new()
        .route("/", get(handlers::dashboard))
        .route("/console/syncs/{connection}/{sync}/{action}", post(handlers::sync_action))
        .route("/console/runs/{id}", get(handlers::run_page))
        .route("/console/connections", get(connections::page))
        .route("/console/deployments", get(deployments::page))
        .route("/console/connections/connect", post(connections::connect))
        .route("/console/connections/{connection}/delete", post(connections::delete))
        .route("/logout", post(signin::sign_out))
        .map_router(|r| r.route_layer(axum::middleware::from_fn_with_state(state, session::require_session)));
    RouteTable::new().route("/login", get(signin::form).post(signin::sign_in)).merge(signed_in)
}
