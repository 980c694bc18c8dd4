//! `GET /openapi.json`: the API described as OpenAPI 3.1, with the JSON Schemas of the models
//! this program's syncs write: each exactly its `schema.json` definition (see
//! `crate::schema::openapi_components`).

use super::AppState;
use crate::registered_syncs;
use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The names of the service's own schemas. Models keep their `schema.json` names, so one of
/// these moves aside (`nango.Error`) when a model already has its name.
struct ServiceNames {
    error: String,
    metadata: String,
    sync_command: String,
    connection: String,
    new_connection: String,
}

impl ServiceNames {
    fn new(taken: &Map<String, Value>) -> Self {
        let free = |wanted: &str| {
            let mut candidates = std::iter::once(wanted.to_owned())
                .chain(std::iter::once(format!("nango.{wanted}")))
                .chain((2..).map(|n| format!("nango.{wanted}{n}")));
            candidates.find(|c| !taken.contains_key(c)).unwrap_or_default()
        };
        ServiceNames {
            error: free("Error"),
            metadata: free("NangoMetadata"),
            sync_command: free("SyncCommand"),
            connection: free("Connection"),
            new_connection: free("NewConnection"),
        }
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_response(names: &ServiceNames, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema_ref(&names.error)}}})
}

fn connection_headers() -> Value {
    json!([
        {"name": "Connection-Id", "in": "header", "required": true, "schema": {"type": "string"}},
        {"name": "Provider-Config-Key", "in": "header", "required": true, "schema": {"type": "string"}}
    ])
}

fn command(names: &ServiceNames, summary: &str) -> Value {
    json!({"post": {
        "summary": summary,
        "requestBody": {"required": true, "content": {"application/json": {"schema": schema_ref(&names.sync_command)}}},
        "responses": {"200": {"description": "done", "content": {"application/json": {"schema": {"type": "object", "properties": {"success": {"type": "boolean"}}}}}},
                      "400": error_response(names, "invalid body"), "404": error_response(names, "unknown integration, sync or connection"),
                      "408": error_response(names, "the body did not arrive within the request body timeout (`request_timeout`)")}
    }})
}

/// The document.
pub fn document() -> Value {
    // The records API names models as nango.yaml does; their schemas come under their
    // schema.json definition names (the same but in the flows layout: `github.Issue`).
    let mut model_names: BTreeSet<&str> = BTreeSet::new();
    let mut definitions: BTreeMap<&str, Value> = BTreeMap::new();
    for sync in registered_syncs() {
        model_names.extend(sync.descriptor.outputs.iter().copied());
        for (definition, schema) in (sync.schemas)() {
            definitions.insert(definition, schema);
        }
    }
    // Models first, exactly their schema.json definitions; the service's schemas take the
    // names left.
    let mut schemas = crate::schema::openapi_components(definitions.iter().map(|(d, s)| (*d, s.clone())));
    let names = ServiceNames::new(&schemas);
    let record_variants: Vec<Value> = definitions
        .keys()
        .map(|definition| {
            json!({"allOf": [schema_ref(definition),
            {"type": "object", "properties": {"_nango_metadata": schema_ref(&names.metadata)}}]})
        })
        .collect();
    schemas.insert(names.error.clone(), json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}));
    schemas.insert(
        names.metadata.clone(),
        json!({"type": "object", "properties": {
        "first_seen_at": {"type": "string", "format": "date-time"},
        "last_modified_at": {"type": "string", "format": "date-time"},
        "last_action": {"enum": ["ADDED", "UPDATED", "DELETED"]},
        "deleted_at": {"type": ["string", "null"], "format": "date-time"},
        "pruned_at": {"type": ["string", "null"], "format": "date-time"},
        "cursor": {"type": "string"}}}),
    );
    schemas.insert(names.sync_command.clone(), json!({"type": "object", "required": ["syncs"], "additionalProperties": false, "properties": {
        "syncs": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"name": {"type": "string"}, "variant": {"type": "string"}}, "required": ["name"]}]}},
        "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"},
        "opts": {"type": "object", "additionalProperties": false, "properties": {"reset": {"type": "boolean"}, "emptyCache": {"type": "boolean"}}}}}));
    schemas.insert(names.connection.clone(), json!({"type": "object", "properties": {
        "id": {"type": "integer", "description": "the connection's key in the store, never given to another connection"},
        "connection_id": {"type": "string"}, "provider_config_key": {"type": "string"},
        "provider": {"type": "string"}, "auth_mode": {"type": "string"}, "base_url": {"type": ["string", "null"]},
        "metadata": {"type": "object"}, "created": {"type": "string", "format": "date-time"}, "updated": {"type": "string", "format": "date-time"},
        "errors": {"type": "array", "description": "what is wrong with the connection; `unreadable_credentials`: its credentials do not open under this service's key (its syncs fail with the same message)",
                   "items": {"type": "object", "required": ["type", "message"], "properties": {"type": {"enum": ["unreadable_credentials"]}, "message": {"type": "string"}}}}}}));
    let integrations: Vec<&str> = crate::registered_integrations().into_iter().collect();
    schemas.insert(names.new_connection.clone(), json!({"type": "object", "required": ["provider_config_key", "connection_id"], "additionalProperties": false, "properties": {
        "provider_config_key": {"enum": integrations, "description": "an integration this program has scripts for"},
        "connection_id": {"type": "string", "minLength": 1, "maxLength": crate::MAX_CONNECTION_ID_LEN,
                          "pattern": "^[a-zA-Z0-9,.;:=+~\\[\\]|@${}\"'\\\\/_ -]+$",
                          "description": "Nango's characters; no `.` or `..` path segment"},
        "provider": {"type": "string", "description": "a provider of the catalog (default: the integration key)"},
        "credentials": {"type": "object", "description": "{\"type\": \"bearer\", \"token\"} | {\"type\": \"api_key\", \"api_key\"} | {\"type\": \"basic\", \"username\", \"password\"} | {\"type\": \"oauth2\", \"access_token\", \"refresh_token\", \"expires_at\", \"client_id\", \"client_secret\"}"},
        "metadata": {"type": "object"}, "connection_config": {"type": "object", "additionalProperties": {"type": "string"}},
        "base_url": {"type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://", "description": "http(s) only, and not this service itself"}}}));
    let error = |description: &str| error_response(&names, description);
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
                    "400": error("bad parameter, header or cursor"), "401": error("missing or wrong key"),
                    "404": error("unknown model")}
            }},
            "/sync/status": {"get": {"summary": "Status of syncs", "parameters": [
                {"name": "syncs", "in": "query", "required": true, "schema": {"type": "string"}, "description": "comma list or *"},
                {"name": "provider_config_key", "in": "query", "required": true, "schema": {"type": "string"}},
                {"name": "connection_id", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "statuses"}, "400": error("bad parameter"), "404": error("unknown sync")}}},
            "/sync/trigger": command(&names, "Run syncs now (opts.reset: full resync; opts.emptyCache: also delete cached records)"),
            "/sync/pause": command(&names, "Pause schedules"),
            "/sync/start": command(&names, "Start (resume) schedules"),
            "/sync/update-connection-frequency": {"put": {"summary": "A connection's own frequency (null: back to nango.yaml); 30 seconds to 366 days, the `runs:` grammar of nango.yaml",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["sync_name", "provider_config_key", "connection_id", "frequency"],
                    "properties": {"sync_name": {"type": "string"}, "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"}, "frequency": {"type": ["string", "null"]}}}}}},
                "responses": {"200": {"description": "set"}, "400": error("bad frequency: sync_interval_invalid, sync_interval_too_short or sync_interval_too_long"),
                              "408": error("the body did not arrive in time")}}},
            "/connection": {
                "get": {"summary": "Connections (never with credentials; those whose credentials do not open are listed with `errors`)",
                        "responses": {"200": {"description": "list", "content": {"application/json": {"schema": {"type": "object", "properties": {"connections": {"type": "array", "items": schema_ref(&names.connection)}}}}}}}},
                "post": {"summary": "Create or replace a connection", "requestBody": {"required": true, "content": {"application/json": {"schema": schema_ref(&names.new_connection)}}},
                         "responses": {"201": {"description": "created", "content": {"application/json": {"schema": schema_ref(&names.connection)}}},
                                       "400": error("invalid body: a bad connection id, an integration or provider this program does not have, a base URL that is not http(s) or is this service; `encryption_key_missing`"),
                                       "408": error("the body did not arrive in time"),
                                       "409": error("`encryption_key_mismatch`: the store's secrets are sealed under another key than this service's")}}},
            "/connection/{connection_id}": {
                "parameters": [{"name": "connection_id", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "provider_config_key", "in": "query", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "One connection", "responses": {"200": {"description": "the connection", "content": {"application/json": {"schema": schema_ref(&names.connection)}}}, "404": error("unknown")}},
                "delete": {"summary": "Delete a connection with its records", "responses": {"204": {"description": "deleted"}, "404": error("unknown"), "409": error("a sync is running")}}},
            "/action/trigger": {"post": {"summary": "Run an action", "parameters": connection_headers(),
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["action_name"], "properties": {"action_name": {"type": "string"}, "input": {}}}}}},
                "responses": {"200": {"description": "the action's output"}, "400": error("invalid input"), "404": error("unknown action"),
                              "408": error("the body did not arrive in time"),
                              "409": error("`unreadable_credentials`: the connection's credentials do not open under this service's key"),
                              "500": error("the action failed")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format"}}}},
        }
    })
}

/// `GET /openapi.json`.
pub(super) async fn openapi(State(_): State<Arc<AppState>>) -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_schemas_move_aside_for_models_of_their_name() {
        let mut taken = Map::new();
        for model in ["Error", "nango.Error", "Connection"] {
            taken.insert(model.to_owned(), json!({"type": "object", "properties": {}}));
        }
        let names = ServiceNames::new(&taken);
        assert_eq!(names.error, "nango.Error2");
        assert_eq!(names.connection, "nango.Connection");
        assert_eq!((names.metadata.as_str(), names.sync_command.as_str()), ("NangoMetadata", "SyncCommand"));
        assert_eq!(names.new_connection, "NewConnection");
    }
}
