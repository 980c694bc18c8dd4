//! `GET /openapi.json`: the API described as OpenAPI 3.1, with the JSON Schemas of the models
//! this program's syncs write.

use super::AppState;
use crate::registered_syncs;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn connection_headers() -> Value {
    json!([
        {"name": "Connection-Id", "in": "header", "required": true, "schema": {"type": "string"}},
        {"name": "Provider-Config-Key", "in": "header", "required": true, "schema": {"type": "string"}}
    ])
}

fn command(summary: &str) -> Value {
    json!({"post": {
        "summary": summary,
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SyncCommand"}}}},
        "responses": {"200": {"description": "done", "content": {"application/json": {"schema": {"type": "object", "properties": {"success": {"type": "boolean"}}}}}},
                      "400": error_response("invalid body"), "404": error_response("unknown integration, sync or connection")}
    }})
}

/// The document.
pub fn document() -> Value {
    let mut models: BTreeMap<String, Value> = BTreeMap::new();
    let mut integrations = Vec::new();
    for sync in registered_syncs() {
        integrations.push(sync.descriptor.integration);
        for (name, schema) in (sync.schemas)() {
            models.insert(name.to_owned(), schema);
        }
    }
    let model_names: Vec<&String> = models.keys().collect();
    let mut schemas = serde_json::Map::new();
    schemas.insert("Error".into(), json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}));
    schemas.insert(
        "NangoMetadata".into(),
        json!({"type": "object", "properties": {
        "first_seen_at": {"type": "string", "format": "date-time"},
        "last_modified_at": {"type": "string", "format": "date-time"},
        "last_action": {"enum": ["ADDED", "UPDATED", "DELETED"]},
        "deleted_at": {"type": ["string", "null"], "format": "date-time"},
        "pruned_at": {"type": ["string", "null"], "format": "date-time"},
        "cursor": {"type": "string"}}}),
    );
    schemas.insert("SyncCommand".into(), json!({"type": "object", "required": ["syncs"], "additionalProperties": false, "properties": {
        "syncs": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"name": {"type": "string"}, "variant": {"type": "string"}}, "required": ["name"]}]}},
        "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"},
        "opts": {"type": "object", "additionalProperties": false, "properties": {"reset": {"type": "boolean"}, "emptyCache": {"type": "boolean"}}}}}));
    schemas.insert("Connection".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "connection_id": {"type": "string"}, "provider_config_key": {"type": "string"},
        "provider": {"type": "string"}, "auth_mode": {"type": "string"}, "base_url": {"type": ["string", "null"]},
        "metadata": {"type": "object"}, "created": {"type": "string", "format": "date-time"}, "updated": {"type": "string", "format": "date-time"}}}));
    schemas.insert("NewConnection".into(), json!({"type": "object", "required": ["provider_config_key", "connection_id"], "additionalProperties": false, "properties": {
        "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"}, "provider": {"type": "string"},
        "credentials": {"type": "object", "description": "{\"type\": \"bearer\", \"token\"} | {\"type\": \"api_key\", \"api_key\"} | {\"type\": \"basic\", \"username\", \"password\"} | {\"type\": \"oauth2\", \"access_token\", \"refresh_token\", \"expires_at\", \"client_id\", \"client_secret\"}"},
        "metadata": {"type": "object"}, "connection_config": {"type": "object", "additionalProperties": {"type": "string"}}, "base_url": {"type": "string"}}}));
    let mut record_variants = Vec::new();
    for (name, schema) in &models {
        let mut schema = schema.clone();
        // Definitions of a model's schema move under components so `$ref`s resolve there.
        if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
            for (k, v) in defs {
                schemas.entry(k).or_insert(v);
            }
        }
        if let Some(o) = schema.as_object_mut() {
            o.remove("$schema");
        }
        schemas.insert(name.clone(), rewrite_refs(schema));
        record_variants.push(json!({"allOf": [{"$ref": format!("#/components/schemas/{name}")},
            {"type": "object", "properties": {"_nango_metadata": {"$ref": "#/components/schemas/NangoMetadata"}}}]}));
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "nango-rs service", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Nango-compatible records, sync and connection API of a nango-rs program."},
        "components": {
            "securitySchemes": {"secretKey": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "security": [{"secretKey": []}],
        "paths": {
            "/health": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "ok"}}}},
            "/records": {"get": {
                "summary": "Records of a model for a connection, in modification order",
                "parameters": connection_headers().as_array().into_iter().flatten().cloned().chain([
                    json!({"name": "model", "in": "query", "required": true, "schema": {"enum": model_names}}),
                    json!({"name": "modified_after", "in": "query", "schema": {"type": "string", "format": "date-time"}}),
                    json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}),
                    json!({"name": "filter", "in": "query", "schema": {"type": "string", "description": "comma list of added, updated, deleted"}}),
                    json!({"name": "cursor", "in": "query", "schema": {"type": "string"}}),
                    json!({"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 100}}),
                    json!({"name": "variant", "in": "query", "schema": {"const": "base"}}),
                ]).collect::<Vec<_>>(),
                "responses": {
                    "200": {"description": "a page", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "records": {"type": "array", "items": {"oneOf": record_variants}},
                        "next_cursor": {"type": ["string", "null"]}}}}}},
                    "400": error_response("bad parameter, header or cursor"), "401": error_response("missing or wrong key"),
                    "404": error_response("unknown model")}
            }},
            "/sync/status": {"get": {"summary": "Status of syncs", "parameters": [
                {"name": "syncs", "in": "query", "required": true, "schema": {"type": "string"}, "description": "comma list or *"},
                {"name": "provider_config_key", "in": "query", "required": true, "schema": {"type": "string"}},
                {"name": "connection_id", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "statuses"}, "400": error_response("bad parameter"), "404": error_response("unknown sync")}}},
            "/sync/trigger": command("Run syncs now (opts.reset: full resync; opts.emptyCache: also delete cached records)"),
            "/sync/pause": command("Pause schedules"),
            "/sync/start": command("Start (resume) schedules"),
            "/sync/update-connection-frequency": {"put": {"summary": "A connection's own frequency (null: back to nango.yaml)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["sync_name", "provider_config_key", "connection_id", "frequency"],
                    "properties": {"sync_name": {"type": "string"}, "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"}, "frequency": {"type": ["string", "null"]}}}}}},
                "responses": {"200": {"description": "set"}, "400": error_response("bad frequency")}}},
            "/connection": {
                "get": {"summary": "Connections (never with credentials)", "responses": {"200": {"description": "list"}}},
                "post": {"summary": "Create or replace a connection", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewConnection"}}}},
                         "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Connection"}}}}, "400": error_response("invalid body")}}},
            "/connection/{connection_id}": {
                "parameters": [{"name": "connection_id", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "provider_config_key", "in": "query", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "One connection", "responses": {"200": {"description": "the connection", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Connection"}}}}, "404": error_response("unknown")}},
                "delete": {"summary": "Delete a connection with its records", "responses": {"204": {"description": "deleted"}, "404": error_response("unknown"), "409": error_response("a sync is running")}}},
            "/action/trigger": {"post": {"summary": "Run an action", "parameters": connection_headers(),
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["action_name"], "properties": {"action_name": {"type": "string"}, "input": {}}}}}},
                "responses": {"200": {"description": "the action's output"}, "400": error_response("invalid input"), "404": error_response("unknown action"), "500": error_response("the action failed")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format"}}}},
        }
    })
}

/// `#/$defs/X` (schemars) to `#/components/schemas/X`.
fn rewrite_refs(mut value: Value) -> Value {
    match &mut value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "$ref"
                    && let Value::String(s) = v
                    && let Some(name) = s.strip_prefix("#/$defs/")
                {
                    *s = format!("#/components/schemas/{name}");
                } else {
                    *v = rewrite_refs(std::mem::take(v));
                }
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                *v = rewrite_refs(std::mem::take(v));
            }
        }
        _ => {}
    }
    value
}

/// `GET /openapi.json`.
pub(super) async fn openapi(State(_): State<Arc<AppState>>) -> Json<Value> {
    Json(document())
}
