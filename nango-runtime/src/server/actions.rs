//! Actions: `POST /action/trigger` runs one and answers with its output, or with `X-Async: true`
//! answers `202 {id, statusUrl}` at once and runs it in the background; `GET /action/{id}` gives
//! the result then (404 while it runs, its output when it succeeded, the error its caller would
//! have got when it failed). `X-Max-Retries` (0 to 5) runs a failed background action again.
//!
//! Results are kept in the store, so any process serving it answers. At shutdown, background
//! actions get the grace period to finish; those still running are cancelled and recorded as
//! failed.

use super::extract::Body;
use super::params::{boolean, connection_headers, header};
use super::{ApiError, ApiResult, AppState};
use crate::store::{ActionStatus, Store, StoredConnection};
use crate::{ActionRegistration, registered_actions};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header::LOCATION};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most re-runs `X-Max-Retries` may ask for (Nango's limit).
const MAX_RETRIES: u32 = 5;

/// The actions running in the background, to wait for (or cancel) at shutdown.
#[derive(Debug, Default)]
pub struct BackgroundActions {
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    finished: tokio::sync::Notify,
}

impl BackgroundActions {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, tokio::task::AbortHandle>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` as background action `id`.
    fn spawn(self: &Arc<Self>, id: String, work: impl Future<Output = ()> + Send + 'static) {
        let this = self.clone();
        let key = id.clone();
        // The map is held while the task is spawned, so the task's removal comes after its entry.
        let mut running = self.running();
        let task = tokio::spawn(async move {
            work.await;
            this.running().remove(&key);
            this.finished.notify_waiters();
        });
        running.insert(id, task.abort_handle());
    }

    /// Waits up to `grace` for the running actions, then cancels the rest and records them as
    /// failed.
    pub async fn shutdown(&self, store: &Store, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let finished = self.finished.notified();
            if self.running().is_empty() {
                return;
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                break;
            }
        }
        let left: Vec<(String, tokio::task::AbortHandle)> = self.running().drain().collect();
        for (id, task) in left {
            task.abort();
            let error = ApiError::internal("the service stopped before the action ended; trigger it again");
            if let Err(e) = store.finish_action(&id, ActionStatus::Failed, &failure(&error)).await {
                tracing::error!(id, error = %nango_types::text::error_chain(&e), "cannot record a cancelled action");
            }
        }
    }
}

/// How a failed background action is kept: the status and body its caller gets.
fn failure(error: &ApiError) -> Value {
    json!({"status": error.status.as_u16(), "body": error.body()})
}

/// A random (version 4) UUID, the form of Nango's action ids.
fn new_id() -> String {
    use aes_gcm::aead::rand_core::RngCore;
    let mut bytes = [0u8; 16];
    aes_gcm::aead::OsRng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Whether `id` is a UUID in its usual text form.
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionBody {
    action_name: String,
    #[serde(default)]
    input: Value,
}

/// Runs an action for a connection: its output, or how it failed in the terms its caller gets.
async fn run(
    state: &AppState,
    action: &'static ActionRegistration,
    stored: &StoredConnection,
    input: Value,
) -> ApiResult<Value> {
    let env = state
        .scheduler
        .runtime()
        .script_env_of(stored)
        .map_err(|e| ApiError::bad_request("invalid_connection", nango_types::text::error_chain(&e)))?;
    // The kind of failure is the error's type, not its text: see `ActionError`.
    Ok(action.call(env, input).await?)
}

/// `POST /action/trigger` with `Connection-Id` and `Provider-Config-Key` headers.
pub(super) async fn trigger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(body): Body<ActionBody>,
) -> ApiResult<Response> {
    let (pck, connection_id) = connection_headers(&headers)?;
    let is_async = header(&headers, "x-async").map(|v| boolean("X-Async", v)).transpose()?.unwrap_or(false);
    let retries = match header(&headers, "x-max-retries") {
        None => 0,
        Some(text) => text.parse::<u32>().ok().filter(|r| *r <= MAX_RETRIES).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_headers",
                format!("`X-Max-Retries` must be a number from 0 to {MAX_RETRIES}, not `{text}`"),
            )
        })?,
    };
    let action = registered_actions()
        .find(|a| a.descriptor.integration == pck && a.descriptor.name == body.action_name)
        .ok_or_else(|| {
            ApiError::not_found("unknown_action", format!("integration `{pck}` has no action `{}`", body.action_name))
        })?;
    let stored = super::params::known_connection(&state, pck, connection_id).await?;
    if !is_async {
        return Ok(Json(run(&state, action, &stored, body.input).await?).into_response());
    }
    let id = new_id();
    state.store().start_action(&id, stored.key, action.descriptor.name).await?;
    let status_url = format!("/action/{id}");
    let work = {
        let (state, id) = (state.clone(), id.clone());
        async move {
            let mut attempt = 0;
            let outcome = loop {
                match run(&state, action, &stored, body.input.clone()).await {
                    Ok(output) => break Ok(output),
                    // An input that does not decode will not decode the next time either.
                    Err(e) if attempt < retries && e.code != "invalid_action_input" => attempt += 1,
                    Err(e) => break Err(e),
                }
            };
            let (status, output) = match outcome {
                Ok(output) => (ActionStatus::Success, output),
                Err(e) => (ActionStatus::Failed, failure(&e)),
            };
            if let Err(e) = state.store().finish_action(&id, status, &output).await {
                tracing::error!(id, error = %nango_types::text::error_chain(&e), "cannot record the result of an action");
            }
        }
    };
    state.actions.spawn(id.clone(), work);
    let mut response = (StatusCode::ACCEPTED, Json(json!({"id": id, "statusUrl": status_url}))).into_response();
    if let Ok(location) = status_url.parse() {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// `GET /action/{id}`: the result of a background action.
pub(super) async fn result(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> ApiResult<Response> {
    if !is_uuid(&id) {
        return Err(ApiError::bad_request(
            "invalid_uri_params",
            format!("`id` must be the UUID `POST /action/trigger` answered with, not `{id}`"),
        ));
    }
    let result = state
        .store()
        .action_result(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("not_found", format!("No action '{id}' found")))?;
    match (result.status, result.output) {
        (ActionStatus::Success, Some(output)) => Ok(Json(output).into_response()),
        (ActionStatus::Failed, Some(output)) => {
            let status = output["status"].as_u64().and_then(|s| StatusCode::from_u16(s as u16).ok());
            Ok((status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(output["body"].clone())).into_response())
        }
        _ => Err(ApiError::not_found(
            "not_found",
            format!("action '{id}' ({}) has not completed yet; ask again later", result.action),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v4_uuids() {
        let id = new_id();
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert_ne!(new_id(), id);
        assert!(!is_uuid("not-a-uuid") && !is_uuid("00000000-0000-0000-0000-00000000000g"));
    }
}
