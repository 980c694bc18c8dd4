//! How a model's JSON Schema changed, field by field, and whether a stored record still matches
//! the new one.
//!
//! The schemas are the ones nango-codegen writes (`type`, `format`, `enum`, `const`, `anyOf`,
//! `oneOf`, `items`, `properties`, `required`, `additionalProperties`, `$ref` into `$defs`);
//! [`matches`] checks a value against that subset, ignoring keywords it does not know (a value
//! it lets through may still be refused by a stricter reader, never the other way round).

use serde_json::{Map, Value};

/// The fields of a model that changed between two schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldChanges {
    /// Fields only the new schema has.
    pub added: Vec<String>,
    /// Fields only the old schema has.
    pub removed: Vec<String>,
    /// Fields whose type changed (or that became required).
    pub retyped: Vec<String>,
}

impl FieldChanges {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.retyped.is_empty()
    }
}

fn properties(schema: &Value) -> Map<String, Value> {
    schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The definitions a property's schema refers to, resolved, so that a change inside a referenced
/// model counts as a change of the property.
fn resolved(schema: &Value, property: &Value, depth: usize) -> Value {
    if depth > 16 {
        return property.clone();
    }
    match property {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref")
                && let Some(def) = definition(schema, target)
            {
                return resolved(schema, def, depth + 1);
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), resolved(schema, v, depth + 1))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| resolved(schema, v, depth + 1)).collect()),
        other => other.clone(),
    }
}

fn definition<'a>(schema: &'a Value, target: &str) -> Option<&'a Value> {
    schema.get("$defs")?.get(target.strip_prefix("#/$defs/")?)
}

/// What changed between the schema a model was deployed with and the new one.
///
/// ```
/// use nango_runtime::deploy::field_changes;
/// let old = serde_json::json!({"type": "object", "properties": {"id": {"type": "string"}, "body": {"type": "string"}}, "required": ["id"]});
/// let new = serde_json::json!({"type": "object", "properties": {"id": {"type": "integer"}, "title": {"type": "string"}}, "required": ["id"]});
/// let changes = field_changes(&old, &new);
/// assert_eq!((changes.added, changes.removed, changes.retyped), (vec!["title".into()], vec!["body".into()], vec!["id".into()]));
/// ```
pub fn field_changes(old: &Value, new: &Value) -> FieldChanges {
    let (before, after) = (properties(old), properties(new));
    let (was_required, is_required) = (required(old), required(new));
    let mut changes = FieldChanges::default();
    for (name, schema) in &after {
        match before.get(name) {
            None => changes.added.push(name.clone()),
            Some(previous) => {
                let became_required = is_required.contains(&name.as_str()) && !was_required.contains(&name.as_str());
                if became_required || resolved(old, previous, 0) != resolved(new, schema, 0) {
                    changes.retyped.push(name.clone());
                }
            }
        }
    }
    changes.removed = before.keys().filter(|name| !after.contains_key(*name)).cloned().collect();
    changes
}

/// Whether a stored record matches a model's schema (the subset described in the module).
///
/// ```
/// use nango_runtime::deploy::matches;
/// let schema = serde_json::json!({"type": "object", "properties": {
///     "id": {"type": "string"}, "state": {"enum": ["open", "closed"]}}, "required": ["id", "state"]});
/// assert!(matches(&schema, &serde_json::json!({"id": "1", "state": "open"})));
/// assert!(!matches(&schema, &serde_json::json!({"id": "1", "state": "draft"})));
/// assert!(!matches(&schema, &serde_json::json!({"id": "1"})));
/// ```
pub fn matches(schema: &Value, value: &Value) -> bool {
    check(schema, schema, value, 0)
}

fn check(root: &Value, schema: &Value, value: &Value, depth: usize) -> bool {
    // Deeper than any generated model: accept rather than recurse without end.
    if depth > 64 {
        return true;
    }
    let Some(map) = schema.as_object() else {
        // `true`/`false` schemas.
        return schema.as_bool().unwrap_or(true);
    };
    if let Some(Value::String(target)) = map.get("$ref") {
        return match definition(root, target) {
            Some(def) => check(root, def, value, depth + 1),
            None => true,
        };
    }
    if let Some(Value::Array(options)) = map.get("anyOf").or_else(|| map.get("oneOf"))
        && !options.iter().any(|option| check(root, option, value, depth + 1))
    {
        return false;
    }
    if let Some(Value::Array(allowed)) = map.get("enum")
        && !allowed.contains(value)
    {
        return false;
    }
    if let Some(constant) = map.get("const")
        && constant != value
    {
        return false;
    }
    if let Some(kind) = map.get("type") {
        let kinds: Vec<&str> = match kind {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !kinds.is_empty() && !kinds.iter().any(|k| is_type(k, value)) {
            return false;
        }
    }
    if map.get("format").and_then(Value::as_str) == Some("date-time")
        && let Value::String(text) = value
        && chrono::DateTime::parse_from_rfc3339(text).is_err()
    {
        return false;
    }
    if let (Some(items), Value::Array(values)) = (map.get("items"), value)
        && !values.iter().all(|v| check(root, items, v, depth + 1))
    {
        return false;
    }
    if let Value::Object(fields) = value {
        if let Some(Value::Array(names)) = map.get("required")
            && !names.iter().filter_map(Value::as_str).all(|n| fields.contains_key(n))
        {
            return false;
        }
        let props = map.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (name, field) in fields {
            match props.and_then(|p| p.get(name)) {
                // An optional field's type reads `null` as absent (the schema describes it when
                // present).
                Some(_) if field.is_null() && !required.contains(&name.as_str()) => {}
                Some(prop) => {
                    if !check(root, prop, field, depth + 1) {
                        return false;
                    }
                }
                None => {
                    if let Some(extra) = map.get("additionalProperties")
                        && extra.is_object()
                        && !check(root, extra, field, depth + 1)
                    {
                        return false;
                    }
                }
            }
        }
    }
    true
}

fn is_type(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}
