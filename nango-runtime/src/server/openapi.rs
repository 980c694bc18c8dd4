//! `GET /openapi.json`: the API described as OpenAPI 3.1, with the JSON Schemas of the models
//! this program's syncs write: each exactly its `schema.json` definition (see
//! `crate::schema::openapi_components`).

use super::AppState;
use crate::providers::ProviderCatalog;
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
    connection_full: String,
    new_connection: String,
    metadata_body: String,
    integration: String,
    integration_credentials: String,
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
            connection_full: free("ConnectionWithCredentials"),
            new_connection: free("NewConnection"),
            metadata_body: free("ConnectionMetadata"),
            integration: free("Integration"),
            integration_credentials: free("IntegrationCredentials"),
        }
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A connection id as [`crate::check_connection_id`] takes it: Nango's characters, no `.` or
/// `..` path segment.
fn connection_id_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": crate::MAX_CONNECTION_ID_LEN,
           "pattern": "^(?!(?:.*[/\\\\])?\\.\\.?(?:[/\\\\].*)?$)[a-zA-Z0-9,.;:=+~\\[\\]|@${}\"'\\\\/_ -]+$",
           "description": "Nango's characters (letters, digits, spaces and , . ; : = + ~ [ ] | @ $ { } \" ' \\ / _ -); no `.` or `..` path segment"})
}

/// A text the server trims and needs (a header): not empty, no whitespace around it.
fn trimmed(mut schema: Value) -> Value {
    json!({"allOf": [schema.take(), {"type": "string", "pattern": "^\\S(?:.*\\S)?$"}]})
}

/// A records cursor: opaque to clients, but with a grammar of its own, which its format names
/// (base64 of `<time>||<sequence>.<key>`: see `store::encode_cursor`); a text that is not one is
/// a 400 `invalid_cursor_value`. One that names no record is a position like any other.
fn cursor_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 1000, "format": "nango-cursor"})
}

/// `schema` or `null`: an optional field that takes `null` for "not given".
fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// A text that must not be empty.
fn nonempty() -> Value {
    json!({"type": "string", "minLength": 1})
}

fn error_response(names: &ServiceNames, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema_ref(&names.error)}}})
}

fn connection_headers() -> Value {
    json!([
        {"name": "Connection-Id", "in": "header", "required": true, "schema": trimmed(connection_id_schema())},
        {"name": "Provider-Config-Key", "in": "header", "required": true, "schema": trimmed(nonempty())}
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

fn json_response(schema: &str, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema_ref(schema)}}})
}

fn data_response(schema: &str, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"type": "object", "properties": {"data": schema_ref(schema)}}}}})
}

fn success_response() -> Value {
    json!({"description": "done", "content": {"application/json": {"schema": {"type": "object", "properties": {"success": {"type": "boolean"}}}}}})
}

fn connection_list(names: &ServiceNames) -> Value {
    let query = |name: &str, description: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "minLength": 1, "maxLength": 255}, "description": description});
    json!({"summary": "Connections the filters pick (never with credentials; those whose credentials do not open are listed with `errors`)",
        "parameters": [
            query("connectionId", "this connection id only"),
            query("search", "part of the connection id or of the end user's id, email or name"),
            query("endUserId", "connections of this end user"),
            query("endUserOrganizationId", "connections of this end user organization"),
            {"name": "integrationId", "in": "query", "schema": {"type": "string"}, "description": "integration keys, comma separated"},
            {"name": "tags", "in": "query", "style": "deepObject", "explode": true, "schema": {"type": "object", "propertyNames": {"minLength": 1}, "additionalProperties": {"type": "string"}}, "description": "tags[key]=value, all must match"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "with limit, from 0"}],
        "responses": {"200": {"description": "the list", "content": {"application/json": {"schema": {"type": "object", "properties": {"connections": {"type": "array", "items": schema_ref(&names.connection)}}}}}},
                      "400": error_response(names, "an unknown or invalid parameter"), "401": error_response(names, "missing or wrong key")}})
}

fn metadata_routes(names: &ServiceNames) -> Value {
    let body = json!({"required": true, "content": {"application/json": {"schema": schema_ref(&names.metadata_body)}}});
    json!({
        "post": {"summary": "Replace the metadata of one connection or several (all or none)", "requestBody": body,
                 "responses": {"201": json_response(&names.metadata_body, "replaced; the body"), "400": error_response(names, "invalid body"), "404": error_response(names, "unknown connection"),
                              "408": error_response(names, "the body did not arrive in time")}},
        "patch": {"summary": "Merge keys into the metadata of one connection or several (shallow; all or none)", "requestBody": body,
                  "responses": {"200": json_response(&names.metadata_body, "merged; the body"), "400": error_response(names, "invalid body"), "404": error_response(names, "unknown connection"),
                               "408": error_response(names, "the body did not arrive in time")}}})
}

/// A tag's value: what the tags of a connection hold (its end user's id, email and names too).
fn tag_value() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255})
}

/// Tags: names of letters, digits, `_`, `-`, `.` and `:`; values 1 to 255 characters; at most
/// 10 (with those an end user brings).
fn tags() -> Value {
    json!({"type": "object", "maxProperties": 10, "propertyNames": {"pattern": "^[a-zA-Z0-9_.:-]{1,64}$"}, "additionalProperties": tag_value()})
}

fn one_connection(names: &ServiceNames) -> Value {
    let key = json!({"name": "provider_config_key", "in": "query", "required": true, "schema": nonempty()});
    let flag = |name: &str, description: &str| json!({"name": name, "in": "query", "schema": {"type": "boolean"}, "description": description});
    json!({
        "parameters": [{"name": "connection_id", "in": "path", "required": true, "schema": connection_id_schema()}, key],
        "get": {"summary": "One connection, with its credentials",
                "parameters": [flag("force_refresh", "refresh OAuth tokens now"), flag("refresh_token", "include the OAuth refresh token"),
                               flag("refresh_github_app_jwt_token", "accepted; no effect (no GitHub App connections)")],
                "responses": {"200": json_response(&names.connection_full, "the connection"), "400": error_response(names, "a parameter (or an id no connection can have), or a refresh that failed"),
                              "404": error_response(names, "no such connection for this integration"),
                              "409": error_response(names, "`unreadable_credentials`: the connection's credentials do not open under this service's key (it is listed with this error)")}},
        "patch": {"summary": "Set the tags and end user of a connection",
                  "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                      "end_user": {"type": "object", "required": ["id"], "additionalProperties": false, "properties": {
                                   "id": tag_value(), "email": tag_value(), "display_name": tag_value(), "tags": tags(),
                                   "organization": {"type": "object", "required": ["id"], "additionalProperties": false,
                                                    "properties": {"id": tag_value(), "display_name": tag_value()}}}},
                      "tags": tags(),
                      "webhook_url_override": {"type": "null", "description": "only null: webhooks go to NANGO_WEBHOOK_URL"}}}}}},
                  "responses": {"200": success_response(), "400": error_response(names, "invalid body, or an id no connection can have"), "404": error_response(names, "no such connection for this integration"),
                                "408": error_response(names, "the body did not arrive in time")}},
        "delete": {"summary": "Delete a connection with its records",
                   "responses": {"200": success_response(), "400": error_response(names, "a parameter, or an id no connection can have"), "404": error_response(names, "no such connection for this integration"),
                                 "409": error_response(names, "a sync is running")}}})
}

fn proxy_route() -> Value {
    let header = |name: &str, schema: Value, description: &str| json!({"name": name, "in": "header", "schema": schema, "description": description});
    // The provider's answers come back with their own statuses, bodies and content types, so
    // a status the proxy also answers itself may carry either.
    let ours_or_theirs = |description: &str| {
        json!({"description": format!("{description} (this service's `{{\"error\": {{code, message}}}}`); or the provider's own answer of this status, passed on"),
        "content": {"*/*": {"schema": {}}}})
    };
    let operation = json!({
        "summary": "A request to the connection's provider, with its credentials (the provider's answer is passed on as is); `Nango-Proxy-<Name>` headers are forwarded as `<Name>`",
        "parameters": connection_headers().as_array().into_iter().flatten().cloned().chain([
            json!({"name": "path", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "pattern": "^(?!\\.\\.?$)[^/\\\\]*$"},
                   "description": "the provider's path: one or more segments separated by `/` (OpenAPI has no parameter for several segments, so this describes one); a segment is not `.` or `..` and holds no `\\` nor an encoded `/`"}),
            header("Retries", json!({"type": "integer", "minimum": 0, "maximum": 10, "default": 0}), "retries on network errors, 5xx, 429 and the provider's retry statuses"),
            header("Retry-On", json!({"type": "string", "pattern": "^ *[1-5][0-9][0-9] *(?:, *[1-5][0-9][0-9] *)*$"}), "more statuses to retry, comma separated"),
            header("Base-Url-Override", json!({"type": "string", "format": "uri"}), "another base URL"),
            header("Decompress", json!({"enum": ["true", "false"]}), "accepted; answers are passed on as received"),
        ]).collect::<Vec<_>>(),
        "responses": {"default": {"description": "the provider's answer (credentials it echoes replaced by ***)", "content": {"*/*": {"schema": {}}}},
                      "400": ours_or_theirs("invalid headers, a path leaving the base URL, a refresh that failed"),
                      "401": ours_or_theirs("missing (`missing_auth_header`) or wrong (`unknown_account`) key"),
                      "404": ours_or_theirs("no such connection for this integration"),
                      "408": ours_or_theirs("the body did not arrive in time"),
                      "409": ours_or_theirs("`unreadable_credentials`: the connection's credentials do not open under this service's key; `invalid_connection_config`: its credentials or configuration do not fill the provider's templates (base URL, headers, query)"),
                      "502": ours_or_theirs("the provider redirected (never followed) or could not be reached"),
                      "504": ours_or_theirs("the provider did not answer in time")}});
    let mut route = serde_json::Map::new();
    for method in ["get", "post", "put", "patch", "delete", "head", "options", "trace"] {
        route.insert(method.into(), operation.clone());
    }
    let mut at_root = route.clone();
    // `/proxy` itself: the provider's base URL.
    for operation in at_root.values_mut() {
        if let Some(parameters) = operation["parameters"].as_array_mut() {
            parameters.retain(|p| p["in"] != "path");
        }
    }
    json!({"/proxy/{path}": route, "/proxy": at_root})
}

/// The body of `POST /integrations`: one form per auth mode of the catalog, each naming the
/// providers of that mode and the credentials they need (an OAuth or app provider needs its
/// app's; the others take none), as `integrations.rs` checks them.
fn new_integration(names: &ServiceNames, providers: &ProviderCatalog) -> Value {
    let mut by_mode: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in providers.keys() {
        if let Some(provider) = providers.get(name) {
            let mode = provider.auth_mode.as_ref().map(super::integrations::auth_mode_name).unwrap_or("NONE");
            by_mode.entry(mode.to_owned()).or_default().push(name.to_owned());
        }
    }
    let forms: Vec<Value> = by_mode
        .into_iter()
        .map(|(mode, providers)| {
            // Optional fields take `null` for "not given" (as serde reads them).
            let mut properties = json!({
                "provider": {"enum": providers},
                "unique_key": {"type": "string", "pattern": "^[a-zA-Z0-9~:.@ _-]{1,255}$", "description": "not one in use (as Nango, a key in use is a 400 `invalid_body`)"},
                "display_name": nullable(json!({"type": "string", "minLength": 1, "maxLength": 255})),
                "forward_webhooks": {"type": ["boolean", "null"]},
                "credentials": {"type": "null", "description": "a provider of this auth mode takes no app credentials"}});
            let mut required = vec!["provider", "unique_key"];
            if matches!(mode.as_str(), "OAUTH1" | "OAUTH2" | "TBA" | "APP" | "CUSTOM") {
                let of_mode = json!({"allOf": [schema_ref(&names.integration_credentials), {"properties": {"type": {"const": mode}}}]});
                if mode == "TBA" {
                    properties["credentials"] = nullable(of_mode);
                } else {
                    properties["credentials"] = of_mode;
                    required.push("credentials");
                }
            }
            json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
        })
        .collect();
    json!({"oneOf": forms})
}

fn integration_paths(names: &ServiceNames, providers: &ProviderCatalog) -> Value {
    let error = |description: &str| error_response(names, description);
    json!({
            "/integrations": {
                "get": {"summary": "Integrations: those created here and those nango.yaml declares", "responses": {
                    "200": {"description": "the list", "content": {"application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": schema_ref(&names.integration)}}}}}},
                    "400": error("a query parameter"), "401": error("missing or wrong key")}},
                "post": {"summary": "Create an integration (its OAuth app credentials are stored sealed)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": new_integration(names, providers)}}},
                    "responses": {"200": data_response(&names.integration, "created"),
                                  "400": error("invalid body: unknown provider, credentials of another type than the provider's auth mode; or, as Nango answers it, a key in use; `encryption_key_missing`"),
                                  "409": error("`encryption_key_mismatch`: the store's secrets are sealed under another key than this service's")}}},
            "/integrations/{unique_key}": {
                "parameters": [{"name": "unique_key", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "One integration",
                    "parameters": [{"name": "include", "in": "query", "explode": true, "schema": {"type": "array", "items": {"enum": ["credentials", "webhook"]}}}],
                    "responses": {"200": data_response(&names.integration, "the integration"), "400": error("a query parameter"), "404": error("unknown integration")}},
                "patch": {"summary": "Change an integration's name, credentials, webhook forwarding or key",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                        "unique_key": nullable(json!({"type": "string", "pattern": "^[a-zA-Z0-9~:.@ _-]{1,255}$", "description": "a new key: not of an integration nango.yaml declares or one with connections, and not one in use"})),
                        "display_name": nullable(json!({"type": "string", "minLength": 1, "maxLength": 255})),
                        "credentials": nullable(json!({"allOf": [schema_ref(&names.integration_credentials)], "description": "of the type of the integration's provider's auth mode"})),
                        "forward_webhooks": {"type": ["boolean", "null"]}}}}}},
                    "responses": {"200": data_response(&names.integration, "changed"),
                                  "400": error("invalid body; or, as Nango answers them, refusals that depend on the integration: credentials of another type than its provider's auth mode, or a key that cannot change (declared in nango.yaml, with connections, or in use)"),
                                  "404": error("unknown integration"),
                                  "408": error("the body did not arrive in time"),
                                  "409": error("`encryption_key_mismatch`: the store's secrets are sealed under another key than this service's")}},
                "delete": {"summary": "Delete an integration with its connections and their records",
                    "responses": {"200": success_response(), "404": error("unknown integration"), "409": error("a sync of one of its connections is running")}}},
            "/providers": {"get": {"summary": "The provider catalog", "parameters": [{"name": "search", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "{\"data\": [provider]}", "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array"}}}}}}, "400": error("a query parameter")}}},
            "/providers/{provider}": {"get": {"summary": "One provider of the catalog",
                "parameters": [{"name": "provider", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "{\"data\": provider}", "content": {"application/json": {"schema": {"type": "object", "required": ["data"]}}}},
                              "400": error("a query parameter"), "404": error("unknown provider")}}},
            "/scripts/config": {"get": {"summary": "The syncs, actions and on-event scripts this program serves, per integration",
                "parameters": [{"name": "format", "in": "query", "schema": {"enum": ["nango", "openai"], "default": "nango"}}],
                "responses": {"200": {"description": "nango: [{providerConfigKey, provider, syncs, actions, on-events}]; openai: {data: [function]}", "content": {"application/json": {}}}, "400": error("a query parameter")}}},
    })
}

fn action_paths(names: &ServiceNames) -> Value {
    let error = |description: &str| error_response(names, description);
    json!({
            "/action/trigger": {"post": {"summary": "Run an action; with X-Async: true, in the background",
                "parameters": connection_headers().as_array().into_iter().flatten().cloned().chain([
                    json!({"name": "X-Async", "in": "header", "schema": {"enum": ["true", "false"]}}),
                    json!({"name": "X-Max-Retries", "in": "header", "schema": {"type": "integer", "minimum": 0, "maximum": 5}, "description": "re-runs of a failed background action"}),
                ]).collect::<Vec<_>>(),
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["action_name"], "additionalProperties": false, "properties": {"action_name": nonempty(), "input": {"description": "the action's input (any JSON)"}}}}}},
                "responses": {"200": {"description": "the action's output"},
                              "202": {"description": "started in the background (Location: the status URL)", "content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "statusUrl": {"type": "string"}}}}}},
                              "400": error("invalid input or headers"), "404": error("unknown action or connection"),
                              "408": error("the body did not arrive in time"),
                              "409": error("`unreadable_credentials`: the connection's credentials do not open under this service's key"),
                              "500": error("the action failed")}}},
            "/action/{id}": {"get": {"summary": "The result of an action run in the background",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {"200": {"description": "the action's output"}, "400": error("not a UUID"), "404": error("unknown, or not completed yet"),
                              "500": error("the action failed (its error, as a direct call would have answered)")}}},
            "/records/prune": {"patch": {"summary": "Empty the payload of records up to a cursor (ids and metadata stay)",
                "parameters": connection_headers(),
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["model", "until_cursor"], "additionalProperties": false, "properties": {
                    "model": {"type": "string"}, "variant": {"enum": ["base", null]}, "until_cursor": cursor_schema(), "limit": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000}}}}}},
                "responses": {"200": {"description": "what was pruned", "content": {"application/json": {"schema": {"type": "object", "properties": {"count": {"type": "integer"}, "has_more": {"type": "boolean"}}}}}},
                              "400": error("invalid body, headers or cursor"), "404": error("unknown connection or model"),
                              "408": error("the body did not arrive in time")}}},
    })
}

/// The console's pages (HTML, for a browser; the session cookie `nango_session` from `POST
/// /login`, not the key, opens them).
fn console_paths(integrations: &[&str]) -> Value {
    let session = json!([{"consoleSession": []}]);
    let html = |description: &str| json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}});
    let see_other =
        |to: &str| json!({"description": format!("to {to}"), "headers": {"Location": {"schema": {"type": "string"}}}});
    let form = |properties: Value, required: Value| json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": properties, "required": required}}}});
    let csrf = || json!({"csrf": {"type": "string", "description": "the session's CSRF token, from the page's forms"}});
    json!({
        "/login": {
            "get": {"summary": "The sign-in form", "security": [], "responses": {"200": html("the form"), "303": see_other("/ when signed in already")}},
            "post": {"summary": "Sign in with the secret key: starts a console session (cookie)", "security": [],
                     "requestBody": form(json!({"key": {"type": "string", "minLength": 1}}), json!(["key"])),
                     "responses": {"303": see_other("/, signed in"), "400": html("no key in the form"), "401": html("a wrong key"), "403": html("sent from another site"), "408": html("the form did not arrive in time"), "413": html("a form too large")}}},
        "/": {"get": {"summary": "The dashboard", "security": session, "responses": {"200": html("the dashboard"), "303": see_other("/login without a session")}}},
        "/console/runs/{id}": {"get": {"summary": "One run with its log and webhook deliveries", "security": session,
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "the run's number"}],
            "responses": {"200": html("the run"), "303": see_other("/login without a session"), "404": html("no such run (or not a run's number)")}}},
        "/console/syncs/{connection}/{sync}/{action}": {"post": {"summary": "Pause, resume, trigger or fully resync a sync of a connection", "security": session,
            "parameters": [{"name": "connection", "in": "path", "required": true, "schema": {"type": "string"}, "description": "the connection's key in the store (`id` in the API)"},
                           {"name": "sync", "in": "path", "required": true, "schema": {"type": "string"}},
                           {"name": "action", "in": "path", "required": true, "schema": {"enum": ["pause", "resume", "trigger", "resync"]}}],
            "requestBody": form(csrf(), json!(["csrf"])),
            "responses": {"303": see_other("/, done"), "401": html("no session"), "403": html("no or a wrong CSRF token, or sent from another site"), "404": html("no such connection (by its key), sync or action"), "408": html("the form did not arrive in time"), "413": html("a form too large")}}},
        "/console/connections": {"get": {"summary": "The connections page: every connection, with connect and delete", "security": session,
            "responses": {"200": html("the page"), "303": see_other("/login without a session")}}},
        "/console/connections/connect": {"post": {"summary": "Start Nango Auth for one integration: a connect session, then its Connect UI", "security": session,
            "requestBody": form(json!({"csrf": csrf()["csrf"], "integration": {"enum": integrations}, "end_user_id": {"type": "string", "description": "blank: none"}}), json!(["csrf", "integration"])),
            "responses": {"303": see_other("/connect/ui with the new session's token"), "400": html("an unknown integration"), "401": html("no session"), "403": html("no or a wrong CSRF token, or sent from another site"), "408": html("the form did not arrive in time"), "413": html("a form too large")}}},
        "/console/connections/{connection}/delete": {"post": {"summary": "Delete a connection and its records (as DELETE /connections/{id})", "security": session,
            "parameters": [{"name": "connection", "in": "path", "required": true, "schema": {"type": "string"}, "description": "the connection's key in the store (`id` in the API)"}],
            "requestBody": form(csrf(), json!(["csrf"])),
            "responses": {"303": see_other("/console/connections, deleted"), "401": html("no session"), "403": html("no or a wrong CSRF token, or sent from another site"), "404": html("no such connection"), "409": html("one of its syncs is running"), "408": html("the form did not arrive in time"), "413": html("a form too large")}}},
        "/console/deployments": {"get": {"summary": "The deployments page: the deployed version, its history and the changes this binary has not applied", "security": session,
            "responses": {"200": html("the page"), "303": see_other("/login without a session"), "500": html("the store failed, or the deployed manifest is unreadable")}}},
        "/logout": {"post": {"summary": "Sign out", "security": session, "requestBody": form(csrf(), json!(["csrf"])),
            "responses": {"303": see_other("/login"), "401": html("no session"), "403": html("no or a wrong CSRF token, or sent from another site"), "408": html("the form did not arrive in time"), "413": html("a form too large")}}},
    })
}

/// Nango Auth's session API (`server/connect/`): sessions made with the secret key, then read
/// and ended with their own token (`Authorization: Bearer <token>` or `?connect_session_token=`), and the connect flow's routes.
fn connect_paths(names: &ServiceNames, integrations: &[&str]) -> Value {
    let error = |description: &str| error_response(names, description);
    let end_user = json!({"type": ["object", "null"], "required": ["id"], "additionalProperties": false, "properties": {
        "id": {"type": "string", "pattern": "\\S", "description": "not blank"},
        "email": {"type": ["string", "null"]}, "display_name": {"type": ["string", "null"]},
        "tags": {"type": ["object", "null"], "additionalProperties": {"type": "string"}}}});
    let organization = json!({"type": ["object", "null"], "required": ["id"], "additionalProperties": false,
        "properties": {"id": {"type": "string"}, "display_name": {"type": ["string", "null"]}}});
    let defaults = json!({"type": ["object", "null"], "propertyNames": {"enum": integrations},
        "additionalProperties": {"type": "object", "propertyNames": {"enum": ["user_scopes", "authorization_params", "connection_config"]}},
        "description": "per integration of this program: {user_scopes, authorization_params, connection_config}"});
    let common = json!({
        "end_user": end_user, "organization": organization, "tags": nullable(tags()),
        "integrations_config_defaults": defaults,
        "overrides": {"description": "accepted and not used (links of Nango's own Connect UI)"},
        "webhook_url_override": {"type": "null", "description": "only null: webhooks go to NANGO_WEBHOOK_URL"}});
    let mut new_session = common.clone();
    new_session["allowed_integrations"] = json!({"type": ["array", "null"], "minItems": 1, "items": {"enum": integrations}, "description": "integrations of this program; null or absent: all"});
    let mut reconnect = common;
    reconnect["connection_id"] = json!({"type": "string"});
    reconnect["integration_id"] = json!({"type": "string"});
    // A session is for an end user, or else for tags.
    let who = json!([{"required": ["end_user"], "properties": {"end_user": {"type": "object"}}},
                     {"required": ["tags"], "properties": {"tags": {"type": "object"}}}]);
    let issued = json!({"description": "the session: {data: {token, connect_link, expires_at}}", "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": {
        "type": "object", "required": ["token", "connect_link", "expires_at"],
        "properties": {"token": {"type": "string"}, "connect_link": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}}}}}}}});
    // The session's token: `Authorization: Bearer <token>` or `?connect_session_token=`; the
    // popup's route takes only the query, the Connect UI its own `?session_token=`.
    let token = json!([{"connectSession": []}, {"connectSessionQuery": []}]);
    let popup_token = json!([{"connectSessionQuery": []}]);
    let ui_token = json!([{"connectUiSession": []}]);
    // The connection id and its configuration (`params[name]=value`) the frontend may give.
    let flow_params = |integration: &Value| {
        json!([integration, {"name": "connection_id", "in": "query", "schema": {"type": "string"}, "description": "the connection to make or replace (default: a new id)"},
        {"name": "params", "in": "query", "style": "deepObject", "explode": true, "schema": {"type": "object", "additionalProperties": {"type": "string"}}, "description": "connection configuration, params[name]=value"}])
    };
    // The connect flow's routes: the session token in `Authorization: Bearer` or the query.
    let integration = json!({"name": "integration", "in": "path", "required": true, "schema": {"type": "string"}});
    let html = |description: &str| json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}});
    let flow_done = json!({"description": "connected: the connection", "content": {"application/json": {"schema": {"type": "object"}}}});
    json!({
        "/connect/sessions": {"post": {"summary": "A connect session for an end user (its token authorizes the connect flow only)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": new_session, "anyOf": who}}}},
            "responses": {"201": issued.clone(), "400": error("invalid body: no end user (nor tags), unknown integrations, bad defaults or tags")}}},
        "/connect/sessions/reconnect": {"post": {"summary": "A connect session that re-authorizes one connection",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["connection_id", "integration_id"], "additionalProperties": false, "properties": reconnect}}}},
            "responses": {"201": issued, "400": error("invalid body"), "404": error("unknown connection")}}},
        "/oauth/connect/{integration}": {"get": {"summary": "Start the OAuth code flow of an integration for the session (the popup opens this)", "security": popup_token,
            "parameters": [integration.clone(), {"name": "connection_id", "in": "query", "schema": {"type": "string"}},
                           {"name": "ws_client_id", "in": "query", "schema": {"type": "string"}}],
            "responses": {"302": {"description": "to the provider's authorization page"}, "303": {"description": "to the provider's authorization page"},
                          "400": html("the flow cannot start (integration, provider, configuration)"), "401": html("no, an unknown or an expired session token"),
                          "403": html("an integration the session does not allow"), "404": html("unknown integration")}}},
        "/oauth/callback": {"get": {"summary": "Where the provider sends the user back (code and state, or an error)", "security": [],
            "parameters": [{"name": "code", "in": "query", "schema": {"type": "string"}},
                           {"name": "state", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1}, "description": "the authorization's, as /oauth/connect sent it (providers send it back with both answers)"},
                           {"name": "error", "in": "query", "schema": {"type": "string"}}, {"name": "error_description", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": html("connected"), "400": html("no state; or neither a code nor an error"),
                          "401": html("the authorization's connect session was deleted or expired"),
                          "403": html("the user refused (`access_denied`), or an integration the session does not allow"),
                          "404": html("no authorization has this state: unknown, already used (a state works once) or expired"),
                          "409": html("a connection it may not replace"), "502": html("the provider answered an error, or its token request failed")}}},
        "/api-auth/api-key/{integration}": {"post": {"summary": "Connect with an API key", "security": token, "parameters": flow_params(&integration),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["apiKey"], "additionalProperties": false, "properties": {"apiKey": {"type": "string"}}}}}},
            "responses": {"200": flow_done.clone(), "400": error("invalid body; or, as Nango answers it, `invalid_auth_mode`: an integration whose provider takes other credentials"), "401": error("no, an unknown or an expired session token"),
                          "403": error("an integration the session does not allow"), "404": error("unknown integration"), "408": error("the body did not arrive in time"), "409": error("a connection it may not replace")}}},
        "/api-auth/basic/{integration}": {"post": {"summary": "Connect with a user name and password", "security": token, "parameters": flow_params(&integration),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["username"], "additionalProperties": false, "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
            "responses": {"200": flow_done.clone(), "400": error("invalid body; or, as Nango answers it, `invalid_auth_mode`: an integration whose provider takes other credentials"), "401": error("no, an unknown or an expired session token"),
                          "403": error("an integration the session does not allow"), "404": error("unknown integration"), "408": error("the body did not arrive in time"), "409": error("a connection it may not replace")}}},
        "/oauth2/auth/{integration}": {"post": {"summary": "Connect with OAuth 2.0 client credentials", "security": token, "parameters": flow_params(&integration),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["client_id"], "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
            "responses": {"200": flow_done, "400": error("invalid body; or, as Nango answers it, `invalid_auth_mode`: an integration whose provider takes other credentials"), "401": error("no, an unknown or an expired session token"),
                          "403": error("an integration the session does not allow"), "404": error("unknown integration"), "408": error("the body did not arrive in time"), "409": error("a connection it may not replace"),
                          "502": error("the provider's token request failed")}}},
        "/connect/ui": {"get": {"summary": "The Connect UI: the session's integrations, each with its OAuth button or credential form (openConnectUI's frame, the connect link)",
            "security": [{"connectUiSession": []}, {}],
            "responses": {"200": html("the page (without a token: waiting for the frontend SDK to hand it over)"), "401": html("an unknown or expired session token")}}},
        "/connect/ui/{integration}": {"post": {"summary": "A credential form of the Connect UI (API key, user name and password, or client credentials)", "security": ui_token,
            "parameters": [{"name": "integration", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                "apiKey": {"type": "string"}, "username": {"type": "string"}, "password": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
            "responses": {"200": html("connected"), "400": html("credentials refused (the form's fields are those of the integration's provider's auth mode), or an integration whose provider takes no credentials of a form"), "401": html("no, an unknown or an expired session token"),
                          "403": html("an integration the session does not allow"), "404": html("unknown integration"), "408": error("the body did not arrive in time"),
                          "409": html("a connection it may not replace"), "502": html("the provider could not be reached")}}},
        "/connect/session": {
            "get": {"summary": "What the session of the token allows", "security": token,
                    "responses": {"200": {"description": "{data: {allowed_integrations, integrations_config_defaults, endUser, tags, isReconnecting, ...}}",
                                          "content": {"application/json": {"schema": {"type": "object", "required": ["data"]}}}},
                                  "401": error("no, an unknown or an expired session token")}},
            "delete": {"summary": "End the session of the token", "security": token,
                       "responses": {"204": {"description": "ended"}, "401": error("no, an unknown or an expired session token")}}},
    })
}

/// What every operation answers besides its own statuses, added here so no operation can
/// leave them out: 401 on every operation that needs the key (the key is checked before
/// routing), and 400 (a body that is not what the schema says) and 408 (one that did not
/// arrive within the body timeout) on every operation with a request body.
fn add_common_responses(document: &mut Value, error: &str) {
    let error_response = |description: &str| json!({"description": description, "content": {"application/json": {"schema": schema_ref(error)}}});
    let Some(paths) = document["paths"].as_object_mut() else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut().filter(|o| o.get("responses").is_some()) {
            // Under the secret key: the document's default, or named.
            let secured = operation
                .get("security")
                .is_none_or(|s| s.as_array().is_some_and(|a| a.iter().any(|r| r.get("secretKey").is_some())));
            let has_body = operation.get("requestBody").is_some();
            let Some(responses) = operation["responses"].as_object_mut() else { continue };
            if secured {
                responses.entry("401").or_insert_with(|| {
                    error_response("missing (`missing_auth_header`) or wrong (`unknown_account`) key")
                });
            }
            if has_body && secured {
                responses.entry("400").or_insert_with(|| error_response("invalid body (`invalid_body`)"));
                responses.entry("408").or_insert_with(|| {
                    error_response("the body did not arrive within the request body timeout (`request_timeout`)")
                });
            }
        }
    }
}

/// OpenAPI links: what a created connection or integration is then named by, in the operations
/// that take it (a client, or Schemathesis' stateful phase, follows them).
fn add_links(document: &mut Value) {
    // `#/paths/<path>/<method>`, with `/` and `~` escaped as JSON Pointer wants them.
    let to = |path: &str, method: &str| format!("#/paths/{}/{method}", path.replace('~', "~0").replace('/', "~1"));
    let connection_id = "$response.body#/connection_id";
    let integration = "$response.body#/provider_config_key";
    let by_path = json!({"path.connection_id": connection_id, "query.provider_config_key": integration});
    let by_headers = json!({"header.Connection-Id": connection_id, "header.Provider-Config-Key": integration});
    let in_body = json!({"connection_id": connection_id, "provider_config_key": integration});
    let mut connection_links = serde_json::Map::new();
    let mut link = |name: &str, path: &str, method: &str, how: &str, value: &Value| {
        let mut link = json!({"operationRef": to(path, method), "description": format!("the connection just made, in {method} {path}")});
        link[how] = value.clone();
        connection_links.insert(name.to_owned(), link);
    };
    link("GetConnection", "/connections/{connection_id}", "get", "parameters", &by_path);
    link("PatchConnection", "/connections/{connection_id}", "patch", "parameters", &by_path);
    link("DeleteConnection", "/connections/{connection_id}", "delete", "parameters", &by_path);
    link("Records", "/records", "get", "parameters", &by_headers);
    link("PruneRecords", "/records/prune", "patch", "parameters", &by_headers);
    link("TriggerAction", "/action/trigger", "post", "parameters", &by_headers);
    link("Proxy", "/proxy/{path}", "get", "parameters", &by_headers);
    link(
        "SyncStatus",
        "/sync/status",
        "get",
        "parameters",
        &json!({"query.provider_config_key": integration, "query.connection_id": connection_id}),
    );
    for command in ["trigger", "pause", "start"] {
        link(&format!("Sync{command}"), &format!("/sync/{command}"), "post", "requestBody", &in_body);
    }
    link("SyncFrequency", "/sync/update-connection-frequency", "put", "requestBody", &in_body);
    link("SetMetadata", "/connections/metadata", "post", "requestBody", &in_body);
    link("UpdateMetadata", "/connections/metadata", "patch", "requestBody", &in_body);
    link(
        "Reconnect",
        "/connect/sessions/reconnect",
        "post",
        "requestBody",
        &json!({"connection_id": connection_id, "integration_id": integration}),
    );
    let unique_key = json!({"path.unique_key": "$response.body#/data/unique_key"});
    let mut integration_links = serde_json::Map::new();
    for method in ["get", "patch", "delete"] {
        integration_links.insert(
            format!("{}Integration", method.to_uppercase()),
            json!({"operationRef": to("/integrations/{unique_key}", method), "parameters": unique_key,
                   "description": format!("the integration just made, in {method} /integrations/{{unique_key}}")}),
        );
    }
    if let Some(created) = document.pointer_mut("/paths/~1connection/post/responses/201") {
        created["links"] = Value::Object(connection_links);
    }
    if let Some(created) = document.pointer_mut("/paths/~1integrations/post/responses/200") {
        created["links"] = Value::Object(integration_links);
    }
}

/// The document, for the provider catalog and the integrations the service has (declared in
/// nango.yaml or created through the API).
pub(super) fn document(providers: &ProviderCatalog, integrations: &BTreeMap<String, Option<String>>) -> Value {
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
    schemas.insert(names.sync_command.clone(), json!({"type": "object", "required": ["syncs", "provider_config_key"], "additionalProperties": false,
        "description": "`provider_config_key` (and `connection_id`) may also come as the `Provider-Config-Key` (`Connection-Id`) header; without `connection_id`, every connection of the integration",
        "properties": {
        "syncs": {"type": "array", "description": "sync names (none or `*`: every sync of the integration)",
                  "items": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"name": {"type": "string"}, "variant": {"enum": ["base", null]}}, "required": ["name"]}]}},
        "provider_config_key": {"type": "string"}, "connection_id": {"type": ["string", "null"], "description": "null or absent: every connection of the integration"},
        "opts": {"type": ["object", "null"], "additionalProperties": false, "properties": {"reset": {"type": "boolean"}, "emptyCache": {"type": "boolean"}},
                 "description": "`emptyCache` only with `reset`",
                 "anyOf": [{"properties": {"emptyCache": {"const": false}}}, {"required": ["reset"], "properties": {"reset": {"const": true}}}]},
        "full_resync": {"type": ["boolean", "null"], "description": "deprecated form of `opts.reset`; not with `opts`"},
        "sync_mode": {"enum": ["incremental", "full_refresh", "full_refresh_and_clear_cache", null], "description": "deprecated form of `opts`; not with `opts`"}},
        "not": {"anyOf": [{"required": ["opts", "full_resync"], "properties": {"opts": {"type": "object"}, "full_resync": {"type": "boolean"}}},
                          {"required": ["opts", "sync_mode"], "properties": {"opts": {"type": "object"}, "sync_mode": {"type": "string"}}}]}}));
    let time = json!({"type": "string", "format": "date-time", "description": "milliseconds and Z"});
    let end_user = json!({"type": ["object", "null"], "properties": {"id": {"type": "string"}, "email": {"type": ["string", "null"]},
        "display_name": {"type": ["string", "null"]}, "tags": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        "organization": {"type": ["object", "null"], "properties": {"id": {"type": "string"}, "display_name": {"type": ["string", "null"]}}}}});
    let tags = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let errors = json!({"type": "array", "description": "what is wrong with the connection; `unreadable_credentials`: its credentials do not open under this service's key (its syncs fail with the same message); `auth`: the provider refused a token refresh, the connection needs re-authorization",
        "items": {"type": "object", "required": ["type", "message"], "properties": {"type": {"enum": ["unreadable_credentials", "auth"]}, "message": {"type": "string"}}}});
    schemas.insert(
        names.connection.clone(),
        json!({"type": "object", "properties": {
        "id": {"type": "integer", "description": "the connection's key in the store, never given to another connection"},
        "connection_id": {"type": "string"}, "provider_config_key": {"type": "string"},
        "provider": {"type": "string"}, "errors": errors, "end_user": end_user,
        "metadata": {"type": "object"}, "tags": tags, "created": time}}),
    );
    schemas.insert(names.connection_full.clone(), json!({"type": "object", "properties": {
        "id": {"type": "integer", "description": "the connection's key in the store, never given to another connection"},
        "connection_id": {"type": "string"}, "provider_config_key": {"type": "string"},
        "provider": {"type": "string"}, "errors": {"type": "array", "maxItems": 0, "description": "empty: a connection whose credentials do not open is answered 409 here"}, "end_user": end_user,
        "metadata": {"type": "object"}, "tags": tags, "connection_config": {"type": "object", "additionalProperties": {"type": "string"}},
        "webhook_url_override": {"type": "null"}, "created_at": time, "updated_at": time,
        "last_fetched_at": {"type": ["string", "null"], "format": "date-time"},
        "credentials": {"type": "object", "description": "GET only: {\"type\": \"API_KEY\", \"apiKey\"} | {\"type\": \"BASIC\", \"username\", \"password\"} | {\"type\": \"OAUTH2\", \"access_token\", \"refresh_token\" (with refresh_token=true), \"expires_at\", \"config_override\", \"raw\"} | {\"type\": \"NONE\"}"}}}));
    // Without `provider`, a connection gets its integration's: the stored integration's, else
    // the key itself when the catalog has a provider of that name; other integrations (declared
    // in nango.yaml only, under a name the catalog does not have) need `provider`.
    let keys: Vec<&str> = integrations.keys().map(String::as_str).collect();
    let (with_default, without): (Vec<_>, Vec<_>) = integrations
        .iter()
        .map(|(key, provider)| (key.as_str(), provider.as_deref().unwrap_or(key)))
        .partition(|(_, provider)| providers.get(provider).is_some());
    let provider_rule: Vec<Value> = [
        (!with_default.is_empty()).then(|| json!({"properties": {"provider_config_key": {"enum": with_default.iter().map(|(k, _)| k).collect::<Vec<_>>()}}})),
        (!without.is_empty()).then(|| json!({"required": ["provider"], "properties": {
            "provider_config_key": {"enum": without.iter().map(|(k, _)| k).collect::<Vec<_>>()}, "provider": {"type": "string"}}})),
    ]
    .into_iter()
    .flatten()
    .collect();
    schemas.insert(names.new_connection.clone(), json!({"type": "object", "required": ["provider_config_key", "connection_id"], "additionalProperties": false,
        "anyOf": provider_rule, "properties": {
        "provider_config_key": {"enum": keys, "description": "an integration of this program: one nango.yaml declares or one created through /integrations"},
        "connection_id": connection_id_schema(),
        "provider": {"enum": providers.keys().map(Value::from).chain([Value::Null]).collect::<Vec<_>>(),
                     "description": "a provider of the catalog; without it (or null), the integration's provider: the one it was created with through /integrations, else the provider named as its key (an integration that has neither needs it)"},
        "credentials": {"oneOf": [
            {"type": "object", "required": ["type"], "properties": {"type": {"const": "none"}}},
            {"type": "object", "required": ["type", "api_key"], "properties": {"type": {"const": "api_key"}, "api_key": {"type": "string"}}},
            {"type": "object", "required": ["type", "token"], "properties": {"type": {"const": "bearer"}, "token": {"type": "string"}}},
            {"type": "object", "required": ["type", "username", "password"], "properties": {"type": {"const": "basic"}, "username": {"type": "string"}, "password": {"type": "string"}}},
            {"type": "object", "required": ["type", "access_token"], "properties": {"type": {"const": "oauth2"}, "access_token": {"type": "string"},
                "refresh_token": {"type": ["string", "null"]}, "expires_at": {"type": ["string", "null"], "format": "date-time"},
                "client_id": {"type": ["string", "null"]}, "client_secret": {"type": ["string", "null"]}}}]},
        "metadata": {"type": ["object", "null"]}, "connection_config": {"type": "object", "additionalProperties": {"type": "string"}},
        "base_url": {"type": ["string", "null"], "pattern": "^[hH][tT][tT][pP][sS]?://[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*(?::0*(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:/[a-zA-Z0-9/._~-]*)?$", "description": "http(s) only, and not this service itself"}}}));
    schemas.insert(names.metadata_body.clone(), json!({"type": "object", "required": ["connection_id", "provider_config_key", "metadata"], "additionalProperties": false, "properties": {
        "connection_id": {"oneOf": [connection_id_schema(), {"type": "array", "items": connection_id_schema(), "minItems": 1}]},
        "provider_config_key": nonempty(), "metadata": {"type": "object"}}}));
    schemas.insert(names.integration_credentials.clone(), json!({"oneOf": [
        {"type": "object", "required": ["type", "client_id", "client_secret"], "additionalProperties": false, "properties": {
            "type": {"enum": ["OAUTH2", "OAUTH1", "TBA"]}, "client_id": {"type": "string"}, "client_secret": {"type": "string"},
            "scopes": {"type": ["string", "null"]}, "webhook_secret": {"type": ["string", "null"]}}},
        {"type": "object", "required": ["type", "app_id", "app_link", "private_key"], "additionalProperties": false, "properties": {
            "type": {"const": "APP"}, "app_id": {"type": "string"}, "app_link": {"type": "string"}, "private_key": {"type": "string"}}},
        {"type": "object", "required": ["type", "client_id", "client_secret", "app_id", "app_link", "private_key"], "additionalProperties": false, "properties": {
            "type": {"const": "CUSTOM"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"}, "app_id": {"type": "string"},
            "app_link": {"type": "string"}, "private_key": {"type": "string"}}}]}));
    schemas.insert(names.integration.clone(), json!({"type": "object", "properties": {
        "unique_key": {"type": "string"}, "provider": {"type": "string"}, "display_name": {"type": "string"}, "logo": {"type": "string"},
        "forward_webhooks": {"type": "boolean"}, "created_at": time, "updated_at": time,
        "webhook_url": {"type": "null", "description": "with include=webhook"},
        "credentials": {"description": "with include=credentials", "oneOf": [schema_ref(&names.integration_credentials), {"type": "null"}]}}}));
    let error = |description: &str| error_response(&names, description);
    let ids_pattern = "^(?:,*[^,]{1,256}){0,100},*$";
    let date = json!({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]});
    // Any case; written out, since generators do not all take `(?i)`.
    let any_case = |word: &str| {
        word.chars().map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())).collect::<String>()
    };
    let action = format!("(?:{}|{}|{})", any_case("added"), any_case("updated"), any_case("deleted"));
    let filter_pattern = format!("^{action}(?:,{action})*$");
    let syncs_pattern = "^(?!.*::(?!base\\s*(?:,|$))).*$";
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {"title": "nango-rs service", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Nango-compatible records, sync, connection, integration, action and proxy API of a nango-rs program. Every path but /health (and the console's pages) answers 401 without the key, whatever the path; a trailing `/` is ignored (`/records/` is `/records`). Optional fields of request bodies take `null` as \"not given\". Two string formats are this service's own: `nango-cursor` (a records cursor, as `_nango_metadata.cursor` and `next_cursor` give them) and `nango-frequency` (nango.yaml's `runs:` grammar, 30 seconds to 366 days)."},
        "components": {
            "securitySchemes": {
                "secretKey": {"type": "http", "scheme": "bearer", "description": "the service's secret key"},
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "nango_session", "description": "a console session, from POST /login; its forms also carry its CSRF token"},
                "connectSession": {"type": "http", "scheme": "bearer", "description": "a connect session's token, from POST /connect/sessions"},
                "connectSessionQuery": {"type": "apiKey", "in": "query", "name": "connect_session_token", "description": "a connect session's token, from POST /connect/sessions"},
                "connectUiSession": {"type": "apiKey", "in": "query", "name": "session_token", "description": "a connect session's token, as the connect link carries it"}},
            "schemas": schemas,
        },
        "security": [{"secretKey": []}],
        "paths": {
            "/health": {"get": {"summary": "Liveness, with this process's roles, the task queue and the cluster", "security": [], "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "status": {"const": "ok"},
                    "roles": {"type": "string", "description": "comma separated: api, scheduler, runner, webhooks"},
                    "queue": {"type": "object", "properties": {"queued": {"type": "integer"}, "running": {"type": "integer"}, "lapsed": {"type": "integer", "description": "running tasks whose runner's lease lapsed, waiting for another runner"}}},
                    "lease_expiries": {"type": "integer", "description": "tasks this process took over after a lease lapsed"},
                    "runners": {"type": "integer", "description": "processes of the runner role alive"},
                    "nodes": {"type": "integer"}}}}}},
                "503": {"description": "the database does not answer", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "unavailable"}, "error": {"type": "string"}}}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/records": {"get": {
                "summary": "Records of a model for a connection, in modification order",
                "parameters": connection_headers().as_array().into_iter().flatten().cloned().chain([
                    json!({"name": "model", "in": "query", "required": true, "schema": {"enum": model_names}}),
                    json!({"name": "modified_after", "in": "query", "schema": date, "description": "also as `delta` (deprecated)"}),
                    json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}),
                    json!({"name": "filter", "in": "query", "schema": {"type": "string", "pattern": filter_pattern, "description": "comma list of added, updated, deleted"}}),
                    json!({"name": "cursor", "in": "query", "schema": cursor_schema(), "description": "a record's cursor or a page's `next_cursor` (another is a 400 `invalid_cursor_value`)"}),
                    json!({"name": "ids", "in": "query", "schema": {"type": "string", "pattern": ids_pattern}, "description": "external ids, comma separated: at most 100, each at most 256 characters (also as several `ids` or `ids[]`)"}),
                    json!({"name": "variant", "in": "query", "schema": {"const": "base"}}),
                ]).collect::<Vec<_>>(),
                "responses": {
                    "200": {"description": "a page", "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "records": {"type": "array", "items": {"oneOf": record_variants}},
                        "next_cursor": {"type": ["string", "null"]}}}}}},
                    "400": error("bad parameter, header or cursor"),
                    "404": error("unknown connection or model")}
            }},
            "/sync/status": {"get": {"summary": "Status of syncs", "parameters": [
                {"name": "syncs", "in": "query", "required": true, "schema": {"type": "string", "pattern": syncs_pattern}, "description": "comma list (`name` or `name::base`), or *"},
                {"name": "provider_config_key", "in": "query", "required": true, "schema": {"type": "string"}},
                {"name": "connection_id", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "statuses", "content": {"application/json": {"schema": {"type": "object", "required": ["syncs"], "properties": {"syncs": {"type": "array"}}}}}},
                              "400": error("bad parameter"), "404": error("unknown integration, sync or connection")}}},
            "/sync/trigger": command(&names, "Run syncs now (opts.reset: full resync; opts.emptyCache: also delete cached records)"),
            "/sync/pause": command(&names, "Pause schedules"),
            "/sync/start": command(&names, "Start (resume) schedules"),
            "/sync/update-connection-frequency": {"put": {"summary": "A connection's own frequency (null: back to nango.yaml); 30 seconds to 366 days, the `runs:` grammar of nango.yaml",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["sync_name", "provider_config_key", "connection_id"], "additionalProperties": false,
                    "properties": {"sync_name": {"type": "string"}, "sync_variant": {"enum": ["base", null]}, "provider_config_key": {"type": "string"}, "connection_id": {"type": "string"},
                                   "frequency": {"type": ["string", "null"], "format": "nango-frequency", "description": "nango.yaml's `runs:` grammar, 30 seconds to 366 days (format `nango-frequency`); null or absent: back to nango.yaml's"}}}}}},
                "responses": {"200": {"description": "set", "content": {"application/json": {"schema": {"type": "object", "required": ["frequency"], "properties": {"frequency": {"type": ["string", "null"]}}}}}},
                              "400": error("bad frequency: sync_interval_invalid, sync_interval_too_short or sync_interval_too_long"),
                              "404": error("unknown integration, sync or connection")}}},
            "/connections": {"get": connection_list(&names)},
            "/connection": {
                "get": connection_list(&names),
                "post": {"summary": "Create or replace a connection (this service's import route)", "requestBody": {"required": true, "content": {"application/json": {"schema": schema_ref(&names.new_connection)}}},
                         "responses": {"201": json_response(&names.connection_full, "created (without credentials)"),
                                       "400": error("invalid body: a bad connection id, an integration or provider this program does not have, a base URL that is not http(s) or is this service; `encryption_key_missing`"),
                                       "409": error("`encryption_key_mismatch`: the store's secrets are sealed under another key than this service's")}}},
            "/connections/metadata": metadata_routes(&names),
            "/connection/metadata": metadata_routes(&names),
            "/connections/{connection_id}": one_connection(&names),
            "/connection/{connection_id}": one_connection(&names),
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        }
    });
    // In parts: one `json!` of every path is deeper than the macro's recursion limit.
    for more in [
        integration_paths(&names, providers),
        action_paths(&names),
        proxy_route(),
        console_paths(&keys),
        connect_paths(&names, &keys),
    ] {
        if let (Some(paths), Value::Object(more)) = (document["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    add_common_responses(&mut document, &names.error);
    add_links(&mut document);
    document
}

/// `GET /openapi.json`.
pub(super) async fn openapi(State(state): State<Arc<AppState>>) -> super::ApiResult<Json<Value>> {
    // Every integration with the provider it was created with through the API (none for those
    // only nango.yaml declares).
    let mut integrations: BTreeMap<String, Option<String>> =
        crate::registered_integrations().into_iter().map(|key| (key.to_owned(), None)).collect();
    integrations.extend(state.store().integration_providers().await?.into_iter().map(|(k, p)| (k, Some(p))));
    Ok(Json(document(state.scheduler.runtime().providers(), &integrations)))
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
        assert_eq!(names.integration, "Integration");
    }
}
