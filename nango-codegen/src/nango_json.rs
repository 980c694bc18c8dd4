//! The parsed config in the shape Nango writes to `.nango/nango.json` (spec §1.5), so tools
//! that read that file keep working.

use crate::ir::{Action, Endpoint, Integration, NangoConfig, Sync};
use serde_json::{Map, Value, json};

/// Builds the `nango.json` value: one object per integration, in file order.
///
/// ```
/// let src = "integrations:\n  github:\n    actions:\n      create-issue:\n        endpoint: /issues\n        output: Issue\nmodels:\n  Issue:\n    id: string\n";
/// let out = nango_codegen::parse(src, "nango.yaml");
/// let json = nango_codegen::nango_json::to_value(&out.config);
/// assert_eq!(json[0]["providerConfigKey"], "github");
/// assert_eq!(json[0]["actions"][0]["endpoint"]["method"], "POST");
/// ```
pub fn to_value(config: &NangoConfig) -> Value {
    Value::Array(config.integrations.iter().map(integration).collect())
}

/// `to_value` as pretty-printed text with a trailing newline.
pub fn to_string_pretty(config: &NangoConfig) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(config)).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

fn integration(i: &Integration) -> Value {
    let mut obj = Map::new();
    obj.insert("providerConfigKey".into(), i.name.clone().into());
    obj.insert("syncs".into(), i.syncs.iter().map(sync).collect());
    obj.insert("actions".into(), i.actions.iter().map(action).collect());
    obj.insert(
        "onEventScripts".into(),
        json!({
            "post-connection-creation": i.on_events.post_connection_creation,
            "pre-connection-deletion": i.on_events.pre_connection_deletion,
            "validate-connection": i.on_events.validate_connection,
        }),
    );
    if !i.post_connection_scripts.is_empty() {
        obj.insert("postConnectionScripts".into(), json!(i.post_connection_scripts));
    }
    Value::Object(obj)
}

fn endpoint(e: &Endpoint) -> Value {
    let mut obj = Map::new();
    obj.insert("method".into(), e.method.as_str().into());
    obj.insert("path".into(), e.path.clone().into());
    if let Some(g) = &e.group {
        obj.insert("group".into(), g.clone().into());
    }
    Value::Object(obj)
}

fn sync(s: &Sync) -> Value {
    json!({
        "name": s.name,
        "type": "sync",
        "description": s.description,
        "sync_type": s.sync_type.as_str(),
        "usedModels": s.used_models,
        "runs": s.runs,
        "version": s.version,
        "track_deletes": s.track_deletes,
        "auto_start": s.auto_start,
        "input": s.input,
        "output": s.output,
        "scopes": s.scopes,
        "endpoints": s.endpoints.iter().map(endpoint).collect::<Vec<_>>(),
        "webhookSubscriptions": s.webhook_subscriptions,
    })
}

fn action(a: &Action) -> Value {
    json!({
        "name": a.name,
        "type": "action",
        "description": a.description,
        "version": a.version,
        "scopes": a.scopes,
        "input": a.input,
        "output": a.output,
        "usedModels": a.used_models,
        "endpoint": a.endpoint.as_ref().map(endpoint),
    })
}
