//! What a `serve` process does for the cluster besides its roles' work: it beats in the
//! cluster table (the runner count of `/health` and `/metrics`), delivers the webhook outbox
//! when it has the webhooks role, and answers `/health` with the queue's state.

use super::{AppState, Metrics, deliver_queued};
use crate::store::{LeaseOwner, NodeBeat, Store};
use crate::webhooks::WebhookSender;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How often a process beats; it counts as alive for three beats.
pub(super) const BEAT: Duration = Duration::from_secs(1);

/// How long a node holds the webhooks it claimed: longer than every retry of one delivery, so
/// two live nodes never send the same one. A node that stops beating (killed, frozen) loses its
/// claims after three beats: another delivers them (a frozen node that wakes up may then send
/// one again, with the same `X-Nango-Rs-Webhook-Id`, which receivers drop).
const WEBHOOK_HOLD: Duration = Duration::from_secs(600);

/// Webhooks claimed at a time.
const WEBHOOK_BATCH: u32 = 100;

/// Beats until `stop`, then leaves the cluster table.
pub(super) async fn beat(store: Store, beat: NodeBeat, owner: LeaseOwner, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = store.node_beat(&beat).await {
            tracing::warn!(error = %nango_types::text::error_chain(&e), "cannot record that this process is alive");
        }
        tokio::select! {
            () = tokio::time::sleep(BEAT) => {}
            _ = stop.changed() => break,
        }
    }
    if let Err(e) = store.node_gone(&owner).await {
        tracing::warn!(error = %nango_types::text::error_chain(&e), "cannot remove this process from the cluster table");
    }
}

/// Delivers the webhook outbox until `stop`: claims what nobody holds, delivers it, takes it off
/// the queue. Woken by this process's runs, and looks every beat for other processes' webhooks.
pub(super) async fn deliver_outbox(
    store: Store,
    sender: Arc<WebhookSender>,
    metrics: Metrics,
    owner: LeaseOwner,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match store.claim_webhooks(&owner, WEBHOOK_HOLD, BEAT, WEBHOOK_BATCH).await {
            Ok(claimed) => {
                let full = claimed.len() == WEBHOOK_BATCH as usize;
                for webhook in claimed {
                    deliver_queued(&store, &sender, &metrics, webhook).await;
                }
                if full {
                    continue;
                }
            }
            Err(e) => tracing::error!(error = %nango_types::text::error_chain(&e), "cannot claim queued webhooks"),
        }
        tokio::select! {
            () = tokio::time::sleep(BEAT) => {}
            () = wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

/// `GET /health`: this process's roles, the queue and the cluster; 503 when the database does
/// not answer.
pub(super) async fn health(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.store().queue_stats(BEAT).await {
        Ok(stats) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": "ok",
                "roles": state.roles.to_string(),
                "queue": {"queued": stats.queued, "running": stats.running, "lapsed": stats.lapsed},
                "lease_expiries": state.scheduler.lease_expiries(),
                "runners": stats.runners,
                "nodes": stats.nodes,
            })),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "unavailable",
                "roles": state.roles.to_string(),
                "error": nango_types::text::error_chain(&e),
            })),
        ),
    }
}
