//! Canonical record hashes for change detection.
//!
//! Nango hashes `JSON.stringify(record)`, so the same record with its keys in another order
//! counts as changed. We hash a canonical form instead: object keys sorted, numbers and strings
//! as serde_json writes them. The hash is XXH3-128: change detection needs speed and a negligible
//! collision rate, not resistance to an attacker who controls both versions of a record.

use serde_json::Value;
use xxhash_rust::xxh3::Xxh3;

/// The canonical hash of a JSON value (key-order independent).
///
/// ```
/// use nango_runtime::store::canonical_hash;
/// let a = serde_json::json!({"id": 1, "tags": ["x"], "who": {"a": 1, "b": 2}});
/// let b = serde_json::json!({"who": {"b": 2, "a": 1}, "tags": ["x"], "id": 1});
/// assert_eq!(canonical_hash(&a), canonical_hash(&b));
/// assert_ne!(canonical_hash(&a), canonical_hash(&serde_json::json!({"id": 2})));
/// ```
pub fn canonical_hash(value: &Value) -> [u8; 16] {
    let mut hasher = Xxh3::new();
    feed(&mut hasher, value);
    hasher.digest128().to_be_bytes()
}

/// Writes a self-delimiting encoding of `value` into the hasher: a tag byte per value and length
/// prefixes, so that distinct values cannot produce the same byte stream.
fn feed(h: &mut Xxh3, value: &Value) {
    match value {
        Value::Null => h.update(b"n"),
        Value::Bool(true) => h.update(b"t"),
        Value::Bool(false) => h.update(b"f"),
        Value::Number(n) => {
            h.update(b"#");
            let text = n.to_string();
            h.update(&(text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
        Value::String(s) => {
            h.update(b"s");
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::Array(items) => {
            h.update(b"[");
            h.update(&(items.len() as u64).to_le_bytes());
            for item in items {
                feed(h, item);
            }
        }
        Value::Object(map) => {
            h.update(b"{");
            h.update(&(map.len() as u64).to_le_bytes());
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (key, item) in entries {
                h.update(&(key.len() as u64).to_le_bytes());
                h.update(key.as_bytes());
                feed(h, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structure_matters_but_key_order_does_not() {
        assert_ne!(canonical_hash(&json!(["ab"])), canonical_hash(&json!(["a", "b"])));
        assert_ne!(canonical_hash(&json!({"a": "1"})), canonical_hash(&json!({"a": 1})));
        assert_ne!(canonical_hash(&json!({"a": null})), canonical_hash(&json!({})));
        assert_eq!(
            canonical_hash(&json!({"a": 1, "b": [1, {"y": 2, "x": 1}]})),
            canonical_hash(&json!({"b": [1, {"x": 1, "y": 2}], "a": 1}))
        );
    }
}
