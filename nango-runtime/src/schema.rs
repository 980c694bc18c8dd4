//! Model JSON Schemas: the one schema of each model, as nango-codegen builds it from nango.yaml.
//!
//! Generated code carries its `schema.json` text (`SCHEMA_JSON`: one definition per model under
//! `$defs`, models referring to each other with `#/$defs/<name>`). [`model_schema`] cuts one
//! model out of it for `Model::json_schema`, and [`openapi_components`] places such schemas
//! under `/openapi.json`'s `components/schemas`, unchanged but for where `$ref`s point.

use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

/// Where references between definitions point in a schema document.
const DEFS: &str = "#/$defs/";
/// Where they point in an OpenAPI document.
const COMPONENTS: &str = "#/components/schemas/";

/// Definition `definition` of a `schema.json` document, as a document of its own: the
/// definition, with `$schema`, and under `$defs` every definition it refers to (directly or not;
/// itself too when it is recursive). `{}` for an unknown definition or a document that is not
/// JSON (generated text is always both). Each document is parsed once per process.
///
/// ```
/// static DOC: &str = r##"{"$defs": {
///     "Ticket": {"type": "object", "properties": {"author": {"$ref": "#/$defs/User"}}},
///     "User": {"type": "object", "properties": {"login": {"type": "string"}}},
///     "Unused": {"type": "string"}}}"##;
/// let schema = nango_runtime::__private::model_schema(DOC, "Ticket");
/// assert_eq!(schema["properties"]["author"]["$ref"], "#/$defs/User");
/// assert_eq!(schema["$defs"]["User"]["properties"]["login"]["type"], "string");
/// assert!(schema["$defs"].get("Unused").is_none());
/// ```
pub fn model_schema(document: &'static str, definition: &str) -> Value {
    let doc = parsed(document);
    let Some(Value::Object(defs)) = doc.get("$defs") else {
        return Value::Object(Map::new());
    };
    let Some(Value::Object(root)) = defs.get(definition) else {
        return Value::Object(Map::new());
    };
    // Every definition reachable from the root.
    let mut reached = BTreeSet::new();
    let mut pending = Vec::new();
    root.values().for_each(|v| references(v, &mut pending));
    while let Some(name) = pending.pop() {
        if let Some(def) = defs.get(&name)
            && reached.insert(name)
        {
            references(def, &mut pending);
        }
    }
    let mut schema = Map::new();
    if let Some(dialect) = doc.get("$schema") {
        schema.insert("$schema".into(), dialect.clone());
    }
    schema.extend(root.iter().map(|(k, v)| (k.clone(), v.clone())));
    // In the document's order.
    let reached: Map<String, Value> =
        defs.iter().filter(|(name, _)| reached.contains(*name)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if !reached.is_empty() {
        schema.insert("$defs".into(), Value::Object(reached));
    }
    Value::Object(schema)
}

/// Parsed documents by the address and length of their text.
type Documents = HashMap<(usize, usize), Arc<Map<String, Value>>>;

/// A document, parsed once: `'static` text never changes, so its address names it.
fn parsed(document: &'static str) -> Arc<Map<String, Value>> {
    static DOCUMENTS: LazyLock<Mutex<Documents>> = LazyLock::new(Mutex::default);
    let key = (document.as_ptr() as usize, document.len());
    let mut documents = DOCUMENTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    documents
        .entry(key)
        .or_insert_with(|| match serde_json::from_str(document) {
            Ok(Value::Object(doc)) => Arc::new(doc),
            _ => Arc::default(),
        })
        .clone()
}

/// The definitions `value` refers to.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.extend(r.strip_prefix(DEFS).map(str::to_owned)),
                    _ => references(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// OpenAPI `components/schemas` entries for models, from `(model name, Model::json_schema())`
/// pairs (what `SyncDefinition::output_schemas` returns): each model under its name, the
/// definitions its schema refers to under their `schema.json` names, `$schema` left out and
/// `#/$defs/X` references turned into `#/components/schemas/X`. Otherwise each entry is the
/// model's `schema.json` definition as it is.
///
/// ```
/// use serde_json::json;
/// let ticket = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
///     "properties": {"author": {"$ref": "#/$defs/User"}},
///     "$defs": {"User": {"type": "object", "properties": {}}}});
/// let components = nango_runtime::__private::openapi_components([("Ticket", ticket)]);
/// assert_eq!(components["Ticket"], json!({"type": "object",
///     "properties": {"author": {"$ref": "#/components/schemas/User"}}}));
/// assert_eq!(components["User"], json!({"type": "object", "properties": {}}));
/// ```
pub fn openapi_components<'a>(models: impl IntoIterator<Item = (&'a str, Value)>) -> Map<String, Value> {
    let mut components = Map::new();
    let mut roots = Vec::new();
    for (name, schema) in models {
        let Value::Object(mut schema) = schema else { continue };
        schema.remove("$schema");
        if let Some(Value::Object(defs)) = schema.remove("$defs") {
            for (def, value) in defs {
                components.entry(def).or_insert_with(|| to_components(value));
            }
        }
        roots.push((name.to_owned(), to_components(Value::Object(schema))));
    }
    // A model's own entry wins over a definition of the same name (they are the same schema
    // when both come from one schema.json).
    components.extend(roots);
    components
}

/// `#/$defs/X` references to `#/components/schemas/X`.
fn to_components(mut value: Value) -> Value {
    match &mut value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(r) = v
                    && let Some(name) = r.strip_prefix(DEFS)
                {
                    *r = format!("{COMPONENTS}{name}");
                } else {
                    *v = to_components(std::mem::take(v));
                }
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                *v = to_components(std::mem::take(v));
            }
        }
        _ => {}
    }
    value
}
