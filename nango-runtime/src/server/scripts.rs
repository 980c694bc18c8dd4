//! `GET /scripts/config`: the syncs, actions and on-event scripts this binary serves, per
//! integration, as Nango describes deployed scripts (`StandardNangoConfig[]`), or as OpenAI
//! function definitions with `format=openai`.

use super::integrations::all_integrations;
use super::params::{api_time, query_pairs, unknown_param};
use super::{ApiError, ApiResult, AppState};
use crate::descriptors::{Endpoint, OnEvent};
use crate::{registered_actions, registered_on_events, registered_syncs};
use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn endpoint_json(e: &Endpoint) -> Value {
    let mut out = json!({"method": e.method.as_str(), "path": e.path});
    if let (Some(group), Value::Object(map)) = (e.group, &mut out) {
        map.insert("group".into(), group.into());
    }
    out
}

fn event_name(event: OnEvent) -> &'static str {
    match event {
        OnEvent::PostConnectionCreation => "post-connection-creation",
        OnEvent::PreConnectionDeletion => "pre-connection-deletion",
        OnEvent::ValidateConnection => "validate-connection",
    }
}

/// The scripts per integration, in Nango's shape.
async fn nango_configs(state: &AppState) -> ApiResult<Vec<Value>> {
    let deployed = api_time(&state.started_at);
    let providers: BTreeMap<String, String> =
        all_integrations(state).await?.into_iter().map(|i| (i.unique_key, i.provider)).collect();
    let mut by_key: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut push = |key: &'static str, list: &str, script: Value| {
        let config = by_key.entry(key).or_insert_with(|| {
            let provider = providers.get(key).cloned().unwrap_or_else(|| key.to_owned());
            let mut config = Map::new();
            config.insert("providerConfigKey".into(), key.into());
            config.insert("provider".into(), provider.into());
            for list in ["syncs", "actions", "on-events"] {
                config.insert(list.into(), Value::Array(Vec::new()));
            }
            config
        });
        if let Some(Value::Array(items)) = config.get_mut(list) {
            items.push(script);
        }
    };
    let mut syncs: Vec<_> = registered_syncs().collect();
    syncs.sort_by_key(|s| s.descriptor.name);
    for sync in syncs {
        let d = sync.descriptor;
        let definitions: Map<String, Value> =
            (sync.schemas)().into_iter().map(|(name, schema)| (name.to_owned(), schema)).collect();
        push(
            d.integration,
            "syncs",
            json!({
                "name": d.name, "type": "sync", "description": d.description, "runs": d.runs,
                "auto_start": d.auto_start, "sync_type": d.sync_type.as_str(), "track_deletes": d.track_deletes,
                "returns": d.outputs, "input": d.input, "endpoints": d.endpoints.iter().map(endpoint_json).collect::<Vec<_>>(),
                "scopes": d.scopes, "webhookSubscriptions": d.webhook_subscriptions, "attributes": {},
                "version": d.version, "enabled": true, "last_deployed": deployed, "features": [], "sdk_version": null,
                "json_schema": {"definitions": definitions},
            }),
        );
    }
    let mut actions: Vec<_> = registered_actions().collect();
    actions.sort_by_key(|a| a.descriptor.name);
    for action in actions {
        let d = action.descriptor;
        push(
            d.integration,
            "actions",
            json!({
                "name": d.name, "type": "action", "description": d.description, "runs": null,
                "returns": d.outputs, "input": d.input, "endpoints": d.endpoint.iter().map(endpoint_json).collect::<Vec<_>>(),
                "scopes": d.scopes, "attributes": {}, "version": d.version, "enabled": true,
                "last_deployed": deployed, "features": [], "sdk_version": null,
                // Action registrations carry no schemas (see the README).
                "json_schema": null,
            }),
        );
    }
    for event in registered_on_events() {
        let d = event.descriptor;
        push(
            d.integration,
            "on-events",
            json!({
                "name": d.name, "type": "on-event", "event": event_name(d.event), "returns": [], "endpoints": [],
                "enabled": true, "last_deployed": deployed, "features": [], "sdk_version": null, "json_schema": null,
            }),
        );
    }
    Ok(by_key.into_values().map(Value::Object).collect())
}

/// The same scripts as OpenAI function definitions (Nango's `format=openai`): syncs take no
/// parameters; actions' parameters come from their input schema, which action registrations do
/// not carry yet, so they are listed without parameters.
fn openai_functions(configs: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for config in configs {
        let provider = config["provider"].as_str().unwrap_or_default();
        for (list, kind) in [("syncs", "sync"), ("actions", "action")] {
            for script in config[list].as_array().into_iter().flatten() {
                let name = script["name"].as_str().unwrap_or_default();
                let description = match script["description"].as_str() {
                    Some(d) if !d.is_empty() => d.to_owned(),
                    _ => format!("Execute the {name} {kind} for {provider}"),
                };
                out.push(json!({"name": name, "description": description,
                                "parameters": {"type": "object", "properties": {}, "required": []}}));
            }
        }
    }
    out
}

/// `GET /scripts/config?format=nango|openai`.
pub(super) async fn config(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let mut openai = false;
    for (name, value) in query_pairs(raw.as_deref()) {
        match (name.as_str(), value.as_str()) {
            ("format", "nango") => openai = false,
            ("format", "openai") => openai = true,
            ("format", other) => {
                return Err(ApiError::bad_request(
                    "invalid_query_params",
                    format!("`format` is `nango` or `openai`, not `{other}`"),
                ));
            }
            (other, _) => return Err(unknown_param(other, &["format"])),
        }
    }
    let configs = nango_configs(&state).await?;
    Ok(Json(if openai { json!({ "data": openai_functions(&configs) }) } else { Value::Array(configs) }))
}
