//! The Nango-compatible endpoints: the route table, records (pages and pruning), sync status
//! and commands, and creating connections. Connections, integrations, scripts, actions and the
//! proxy have modules of their own.

use super::extract::Body;
use super::params::{api_time, header};
use super::route_table::RouteTable;
use super::{ApiError, ApiResult, AppState};
use crate::store::{ConnectionKey, StoredConnection};
use crate::{Connection, Credentials, SyncRegistration, registered_syncs};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn routes() -> RouteTable {
    use super::{actions, connections, integrations, proxy, scripts};
    RouteTable::new()
        .route("/records", get(records))
        .route("/records/prune", patch(prune_records))
        .route("/sync/status", get(sync_status))
        .route("/sync/trigger", post(sync_trigger))
        .route("/sync/pause", post(sync_pause))
        .route("/sync/start", post(sync_start))
        .route("/sync/update-connection-frequency", put(update_frequency))
        .route("/connections", get(connections::list))
        .route("/connection", get(connections::list).post(create_connection))
        .route("/connections/metadata", post(connections::set_metadata).patch(connections::update_metadata))
        .route("/connection/metadata", post(connections::set_metadata).patch(connections::update_metadata))
        .route(
            "/connections/{connection_id}",
            get(connections::get_one).patch(connections::patch_one).delete(connections::delete_one),
        )
        .route(
            "/connection/{connection_id}",
            get(connections::get_one).patch(connections::patch_one).delete(connections::delete_one),
        )
        .route("/integrations", get(integrations::list).post(integrations::create))
        .route(
            "/integrations/{unique_key}",
            get(integrations::get_one).patch(integrations::update).delete(integrations::delete),
        )
        .route("/providers", get(integrations::list_providers))
        .route("/providers/{provider}", get(integrations::get_provider))
        .route("/scripts/config", get(scripts::config))
        .route("/action/trigger", post(actions::trigger))
        .route("/action/{id}", get(actions::result))
        .route("/proxy", any(proxy::proxy))
        .route("/proxy/{*path}", any(proxy::proxy))
}

/// The key of the connection a request names (no credentials read).
async fn connection_key(state: &AppState, provider_config_key: &str, connection_id: &str) -> ApiResult<ConnectionKey> {
    state
        .store()
        .connection_key(provider_config_key, connection_id)
        .await?
        .ok_or_else(|| super::params::no_such_connection(provider_config_key, connection_id))
}

/// `GET /records` (spec §5.1), strict about its parameters.
async fn records(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<axum::response::Response> {
    let (Some(connection_id), Some(pck)) = (header(&headers, "connection-id"), header(&headers, "provider-config-key"))
    else {
        return Err(ApiError::bad_request(
            "invalid_headers",
            "the `Connection-Id` and `Provider-Config-Key` headers are required",
        ));
    };
    let query = super::parse_records_query(raw.as_deref().unwrap_or_default())?;
    let models = models_of(pck);
    if !models.contains(&query.model.as_str()) {
        // An unknown connection is named first, as for a known model.
        state
            .store()
            .connection_key(pck, connection_id)
            .await?
            .ok_or_else(|| super::params::no_such_connection(pck, connection_id))?;
        return Err(ApiError::not_found(
            "unknown_model",
            format!("integration `{pck}` has no model `{}`; its models: {}", query.model, models.join(", ")),
        ));
    }
    // The connection is looked up in the page's own statement; no credentials are read (or
    // decrypted) to serve records. The body is written by the store, stored records spliced in
    // as their text (not parsed and re-encoded).
    let body = state
        .store()
        .records_json_of(pck, connection_id, &query)
        .await?
        .ok_or_else(|| super::params::no_such_connection(pck, connection_id))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The models the syncs of an integration write.
fn models_of(pck: &str) -> Vec<&'static str> {
    registered_syncs()
        .filter(|s| s.descriptor.integration == pck)
        .flat_map(|s| s.descriptor.outputs.iter().copied())
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PruneBody {
    model: String,
    #[serde(default)]
    variant: Option<String>,
    until_cursor: String,
    #[serde(default, deserialize_with = "super::params::whole_number")]
    limit: Option<u32>,
}

/// `PATCH /records/prune {model, variant?, until_cursor, limit?}` with the connection headers:
/// empties the payload of the records up to and including the cursor's (at most `limit`, 1000 by
/// default, oldest first); `{count, has_more}`. Pruned records keep their id and metadata, with
/// `pruned_at` set; a sync saving one again restores it.
async fn prune_records(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Body(body): Body<PruneBody>,
) -> ApiResult<Json<Value>> {
    if let Some((name, _)) = super::params::query_pairs(raw.as_deref()).first() {
        return Err(super::params::unknown_param(name, &["(none)"]));
    }
    let (pck, connection_id) = super::params::connection_headers(&headers)?;
    let bad = |m: String| ApiError::bad_request("invalid_body", m);
    if body.variant.as_deref().is_some_and(|v| v != "base") {
        return Err(bad("`variant`: only the `base` variant exists here".into()));
    }
    if body.until_cursor.is_empty() || body.until_cursor.len() > 1000 {
        return Err(bad("`until_cursor` must be 1 to 1000 characters: a record's cursor".into()));
    }
    let limit = body.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(bad(format!("`limit` must be a number from 1 to 10000, not {limit}")));
    }
    // Only the key: pruning reads no credentials.
    let key = super::params::known_connection_key(&state, pck, connection_id).await?;
    let models = models_of(pck);
    if !models.contains(&body.model.as_str()) {
        return Err(ApiError::not_found(
            "unknown_model",
            format!("integration `{pck}` has no model `{}`; its models: {}", body.model, models.join(", ")),
        ));
    }
    let pruned = state.store().prune(key, &body.model, &body.until_cursor, limit).await?;
    // When the last record pruned is not the cursor's, there may be more before it (Nango's
    // rule: the cursor's record may also have moved on, which costs one more call).
    let has_more = pruned.count > 0 && pruned.last_cursor.as_deref() != Some(body.until_cursor.as_str());
    Ok(Json(json!({"count": pruned.count, "has_more": has_more})))
}

/// `syncs` of a request body: names or `{name, variant}` objects.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SyncRef {
    Name(String),
    Named {
        name: String,
        #[serde(default)]
        variant: Option<String>,
    },
}

impl SyncRef {
    fn name(&self) -> &str {
        match self {
            SyncRef::Name(n) | SyncRef::Named { name: n, .. } => n,
        }
    }
}

/// The registrations a request names for an integration; unknown names are an error listing
/// the integration's syncs.
fn find_syncs(pck: &str, names: &[&str]) -> ApiResult<Vec<&'static SyncRegistration>> {
    let all: Vec<&'static SyncRegistration> = registered_syncs().filter(|s| s.descriptor.integration == pck).collect();
    if all.is_empty() {
        return Err(ApiError::not_found("unknown_provider_config", format!("no integration `{pck}` has syncs here")));
    }
    if names.is_empty() || names == ["*"] {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter().copied().find(|s| s.descriptor.name == *n).ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|s| s.descriptor.name).collect();
                ApiError::not_found(
                    "unknown_sync",
                    format!("integration `{pck}` has no sync `{n}`; its syncs: {}", known.join(", ")),
                )
            })
        })
        .collect()
}

/// The connections a command or status is for: one, or every connection of the integration,
/// with their keys; their credentials are not read, so one that cannot be opened is listed too.
async fn targets(
    state: &AppState,
    pck: &str,
    connection_id: Option<&str>,
) -> ApiResult<Vec<(ConnectionKey, Connection)>> {
    match connection_id {
        Some(id) => match state.store().listed_connection(pck, id).await? {
            Some(c) => Ok(vec![(c.key(), c.connection().clone())]),
            None => Err(super::params::no_such_connection(pck, id)),
        },
        None => {
            let all = state.store().connections().await?;
            let mut found: Vec<(ConnectionKey, Connection)> = all
                .identities()
                .filter(|(_, c)| c.provider_config_key == pck)
                .map(|(key, c)| (key, c.clone()))
                .collect();
            found.sort_by(|a, b| a.1.connection_id.cmp(&b.1.connection_id));
            Ok(found)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    syncs: String,
    provider_config_key: String,
    #[serde(default)]
    connection_id: Option<String>,
}

/// `GET /sync/status?syncs=a,b|*&provider_config_key=&connection_id=` (spec §7.3).
async fn sync_status(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let q: StatusQuery = serde_urlencoded_strict(raw.as_deref())?;
    let mut names: Vec<&str> = Vec::new();
    // The SDK names a variant as `name::variant`; only `base` exists here.
    for full in q.syncs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match full.split_once("::") {
            None | Some((_, "base")) => names.push(full.split("::").next().unwrap_or(full)),
            Some((_, variant)) => {
                return Err(ApiError::bad_request(
                    "invalid_query_params",
                    format!("`syncs`: variant `{variant}` of `{full}`: only the `base` variant exists here"),
                ));
            }
        }
    }
    let syncs = find_syncs(&q.provider_config_key, &names)?;
    let mut out = Vec::new();
    for (key, connection) in targets(&state, &q.provider_config_key, q.connection_id.as_deref()).await? {
        let counts = state.store().record_counts(key).await?;
        for sync in &syncs {
            let view = state.scheduler.view(key, &connection, sync).await?;
            let record_count: BTreeMap<&str, u64> =
                sync.descriptor.outputs.iter().map(|m| (*m, counts.get(*m).copied().unwrap_or(0))).collect();
            // The frequency as it was set: the connection's own (as written to
            // `update-connection-frequency`), else nango.yaml's `runs`.
            let frequency = if view.frequency_overridden {
                let own = state.store().sync_state(key, sync.descriptor.name).await?.frequency_text;
                own.unwrap_or_else(|| format!("every {}s", view.frequency.as_secs()))
            } else {
                sync.descriptor.runs.to_owned()
            };
            out.push(json!({
                "id": format!("{key}:{}", sync.descriptor.name),
                "connection_id": connection.connection_id,
                "name": sync.descriptor.name,
                "variant": "base",
                "status": view.status,
                "type": if view.last_sync_date.is_some() { "INCREMENTAL" } else { "INITIAL" },
                "finishedAt": view.last_run.as_ref().and_then(|r| r.ended_at).as_ref().map(api_time),
                "nextScheduledSyncAt": view.next_run_at.as_ref().map(api_time),
                "frequency": frequency,
                "latestResult": view.last_run.as_ref().map(|r| &r.counts),
                // Nango's words for how the last run ended.
                "latestExecutionStatus": view.last_run.as_ref().map(|r| match r.status {
                    crate::store::RunStatus::Success => "SUCCESS",
                    crate::store::RunStatus::Running => "RUNNING",
                    crate::store::RunStatus::Failed => "ERROR",
                }),
                "recordCount": record_count,
                "checkpoint": view.checkpoint,
            }));
        }
    }
    Ok(Json(json!({"syncs": out})))
}

/// Query parameters into a struct, unknown ones rejected by name.
fn serde_urlencoded_strict<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> ApiResult<T> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let map: serde_json::Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    serde_json::from_value(Value::Object(map)).map_err(|e| ApiError::bad_request("invalid_query_params", e.to_string()))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TriggerOpts {
    #[serde(default)]
    reset: bool,
    #[serde(default, rename = "emptyCache")]
    empty_cache: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    syncs: Vec<SyncRef>,
    #[serde(default)]
    provider_config_key: Option<String>,
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    opts: Option<TriggerOpts>,
    /// Deprecated forms of `opts`, still accepted (not together with `opts`).
    #[serde(default)]
    full_resync: Option<bool>,
    #[serde(default)]
    sync_mode: Option<String>,
}

/// What a command body asks for, checked the same for every command (pause and start take
/// the same bodies as trigger, and ignore the mode).
struct Command {
    pck: String,
    connection_id: Option<String>,
    reset: bool,
    empty_cache: bool,
}

impl CommandBody {
    /// The command, or a 400 naming what is wrong with the body.
    fn command(&self, headers: &HeaderMap) -> ApiResult<Command> {
        let (pck, connection_id) = self.keys(headers)?;
        let (reset, empty_cache) = self.mode()?;
        Ok(Command { pck, connection_id, reset, empty_cache })
    }

    /// `opts`, or its deprecated forms: `(reset, empty_cache)`.
    fn mode(&self) -> ApiResult<(bool, bool)> {
        if self.opts.is_some() && (self.full_resync.is_some() || self.sync_mode.is_some()) {
            return Err(ApiError::bad_request(
                "invalid_body",
                "use `opts` or the deprecated `full_resync`/`sync_mode`, not both",
            ));
        }
        let (reset, empty_cache) = match (&self.opts, self.full_resync, self.sync_mode.as_deref()) {
            (Some(o), _, _) => (o.reset, o.empty_cache),
            (None, Some(full), None) => (full, false),
            (None, _, Some("incremental")) => (false, false),
            (None, _, Some("full_refresh")) => (true, false),
            (None, _, Some("full_refresh_and_clear_cache")) => (true, true),
            (None, _, Some(other)) => {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    format!("`sync_mode` `{other}`: use incremental, full_refresh or full_refresh_and_clear_cache"),
                ));
            }
            (None, None, None) => (false, false),
        };
        if empty_cache && !reset {
            return Err(ApiError::bad_request("invalid_body", "`emptyCache` needs `reset: true`"));
        }
        Ok((reset, empty_cache))
    }

    fn keys(&self, headers: &HeaderMap) -> ApiResult<(String, Option<String>)> {
        let pck = self
            .provider_config_key
            .clone()
            .or_else(|| header(headers, "provider-config-key").map(str::to_owned))
            .ok_or_else(|| ApiError::bad_request("missing_provider_config_key", "`provider_config_key` is required"))?;
        let connection = self.connection_id.clone().or_else(|| header(headers, "connection-id").map(str::to_owned));
        for s in &self.syncs {
            if let SyncRef::Named { variant: Some(v), .. } = s
                && v != "base"
            {
                return Err(ApiError::bad_request("invalid_body", format!("variant `{v}`: only `base` exists here")));
            }
        }
        Ok((pck, connection))
    }

    fn names(&self) -> Vec<&str> {
        self.syncs.iter().map(SyncRef::name).collect()
    }
}

/// `POST /sync/trigger {syncs, provider_config_key, connection_id?, opts?: {reset, emptyCache}}`.
async fn sync_trigger(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(body): Body<CommandBody>,
) -> ApiResult<Json<Value>> {
    let Command { pck, connection_id, reset, empty_cache } = body.command(&headers)?;
    let syncs = find_syncs(&pck, &body.names())?;
    for (key, _) in targets(&state, &pck, connection_id.as_deref()).await? {
        for sync in &syncs {
            state.scheduler.trigger(key, sync, reset, empty_cache).await?;
        }
    }
    Ok(Json(json!({"success": true})))
}

/// `POST /sync/pause`.
async fn sync_pause(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(body): Body<CommandBody>,
) -> ApiResult<Json<Value>> {
    let Command { pck, connection_id, .. } = body.command(&headers)?;
    let syncs = find_syncs(&pck, &body.names())?;
    for (key, _) in targets(&state, &pck, connection_id.as_deref()).await? {
        for sync in &syncs {
            state.scheduler.pause(key, sync).await?;
        }
    }
    Ok(Json(json!({"success": true})))
}

/// `POST /sync/start` (resume).
async fn sync_start(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Body(body): Body<CommandBody>,
) -> ApiResult<Json<Value>> {
    let Command { pck, connection_id, .. } = body.command(&headers)?;
    let syncs = find_syncs(&pck, &body.names())?;
    for (key, _) in targets(&state, &pck, connection_id.as_deref()).await? {
        for sync in &syncs {
            state.scheduler.start(key, sync).await?;
        }
    }
    Ok(Json(json!({"success": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrequencyBody {
    sync_name: String,
    #[serde(default)]
    sync_variant: Option<String>,
    provider_config_key: String,
    connection_id: String,
    frequency: Option<String>,
}

/// `PUT /sync/update-connection-frequency {sync_name, provider_config_key, connection_id, frequency|null}`.
async fn update_frequency(
    State(state): State<Arc<AppState>>,
    Body(body): Body<FrequencyBody>,
) -> ApiResult<Json<Value>> {
    if body.sync_variant.as_deref().is_some_and(|v| v != "base") {
        return Err(ApiError::bad_request("invalid_body", "only the `base` variant exists here"));
    }
    let sync = find_syncs(&body.provider_config_key, &[body.sync_name.as_str()])?[0];
    let key = connection_key(&state, &body.provider_config_key, &body.connection_id).await?;
    // The one frequency grammar: `nango validate` gives the same verdict for `runs:`.
    let frequency = match body.frequency.as_deref() {
        None => None,
        Some(text) => Some(nango_types::frequency::parse(text).map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!("`frequency`: {} ({}); {}", e.describe(text), e.code(), e.help()),
            )
        })?),
    };
    state.scheduler.set_frequency(key, sync, frequency).await?;
    state.store().set_frequency_text(key, sync.descriptor.name, body.frequency.as_deref()).await?;
    Ok(Json(json!({"frequency": body.frequency})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConnection {
    provider_config_key: String,
    connection_id: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    credentials: Credentials,
    /// An object (Nango's metadata is one), or null.
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    connection_config: BTreeMap<String, String>,
    #[serde(default)]
    base_url: Option<String>,
}

/// `POST /connection`: creates or replaces a connection; its `auto_start` syncs start. What it
/// stores is checked first ([`Connection::check_new_among`]: the id, the integration (one
/// nango.yaml declares or one created through `/integrations`), the provider (by default the
/// integration's), the base URL), and secrets under another key than the store's are refused
/// (409).
async fn create_connection(
    State(state): State<Arc<AppState>>,
    Body(body): Body<NewConnection>,
) -> ApiResult<impl IntoResponse> {
    let stored_integrations = state.store().integration_providers().await?;
    let provider = body
        .provider
        .or_else(|| stored_integrations.get(&body.provider_config_key).cloned())
        .unwrap_or_else(|| body.provider_config_key.clone());
    let mut c = Connection::new(&body.provider_config_key, &body.connection_id, provider);
    c.credentials = body.credentials;
    c.metadata = Value::Object(body.metadata.unwrap_or_default());
    c.connection_config = body.connection_config;
    c.base_url = body.base_url;
    let mut integrations = crate::registered_integrations();
    integrations.extend(stored_integrations.keys().map(String::as_str));
    c.check_new_among(&integrations, state.scheduler.runtime().providers(), Some(state.addr))
        .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
    let key = state.store().save_connection(&c).await.map_err(|e| match e {
        e @ crate::store::StoreError::Seal { source: crate::crypto::CryptoError::NoKey, .. } => {
            ApiError::bad_request("encryption_key_missing", nango_types::text::error_chain(&e))
        }
        other => other.into(),
    })?;
    state.scheduler.wake();
    // As stored: a replaced connection keeps its creation time, tags and end user.
    let stored = state.store().connection_by_key(key).await?.unwrap_or(StoredConnection { key, connection: c });
    let profile = state.store().connection_profile(key).await?.unwrap_or_default();
    let shown = super::connections::connection_full(&stored, &profile, None);
    Ok((StatusCode::CREATED, Json(shown)))
}
