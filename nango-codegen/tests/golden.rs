//! The generated files, without compiling them (that is `compile.rs`, much slower):
//!
//! * every `fixtures/{valid,warnings}/<case>/nango.yaml` has its generated `models.rs` and
//!   `schema.json` checked in beside it (expectorate: `EXPECTORATE=overwrite cargo test -p
//!   nango-codegen --test golden` to accept changes, then review the diff);
//! * every schema of the fixtures and of the corpus (`../shared/corpus`) holds only what
//!   nango.yaml says: structural keywords, field names, literals and definition names (no
//!   descriptions, titles, comments, positions), every `$ref` names a definition of the file;
//! * the generated code carries exactly the `schema.json` text, and no schema derive.

mod common;

use serde_json::{Map, Value};

/// What a model schema may contain, checked recursively; `defs` for `$ref` targets.
fn check_schema(schema: &Value, defs: &Map<String, Value>, at: &str) {
    let Some(object) = schema.as_object() else { panic!("{at}: a schema is an object: {schema}") };
    for (key, value) in object {
        let here = format!("{at}/{key}");
        match key.as_str() {
            "type" => assert!(
                ["string", "number", "integer", "boolean", "object", "array", "null"]
                    .contains(&value.as_str().unwrap()),
                "{here}: {value}"
            ),
            "format" => assert!(["date-time", "int64", "double"].contains(&value.as_str().unwrap()), "{here}: {value}"),
            "enum" => assert!(value.as_array().unwrap().iter().all(Value::is_string), "{here}: {value}"),
            "required" => {
                let properties = object["properties"].as_object().unwrap();
                for name in value.as_array().unwrap() {
                    assert!(properties.contains_key(name.as_str().unwrap()), "{here}: {name} is not a property");
                }
            }
            "$ref" => {
                let target = value.as_str().unwrap().strip_prefix("#/$defs/").unwrap_or_else(|| panic!("{here}"));
                assert!(defs.contains_key(target), "{here}: no definition {target}");
            }
            "properties" => {
                for (name, property) in value.as_object().unwrap() {
                    check_schema(property, defs, &format!("{here}/{name}"));
                }
            }
            "items" | "additionalProperties" => check_schema(value, defs, &here),
            "anyOf" => {
                let branches = value.as_array().unwrap();
                assert!(branches.len() > 1, "{here}: one branch is the branch itself");
                for (i, branch) in branches.iter().enumerate() {
                    check_schema(branch, defs, &format!("{here}/{i}"));
                }
            }
            other => panic!("{here}: `{other}` is not part of a model schema"),
        }
    }
}

/// The checks every generated file passes (fixtures and corpus alike).
fn check_generated(file: &str, generated: &nango_codegen::Generated) {
    let document: Value = serde_json::from_str(&generated.schema_json).unwrap();
    let keys: Vec<&str> = document.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["$schema", "$comment", "$defs"], "{file}");
    let defs = document["$defs"].as_object().unwrap();
    let names: Vec<&str> = generated.types.iter().map(|(def, _)| def.as_str()).collect();
    assert_eq!(defs.keys().map(String::as_str).collect::<Vec<_>>(), names, "{file}: one definition per model");
    for (name, schema) in defs {
        check_schema(schema, defs, &format!("{file}: #/$defs/{name}"));
    }
    // The same text in the code: `SCHEMA_JSON` is a raw string of schema.json.
    assert!(generated.models_rs.contains(&format!("\"{}\"", generated.schema_json)), "{file}: SCHEMA_JSON");
    assert!(!generated.models_rs.contains("schemars"), "{file}: generated code derives no schema");
}

#[test]
fn fixtures_match_their_goldens() {
    for case in common::fixture_cases() {
        let (_, generated) = common::generate(&case.join("nango.yaml"));
        expectorate::assert_contents(case.join("models.rs"), &generated.models_rs);
        expectorate::assert_contents(case.join("schema.json"), &generated.schema_json);
        check_generated(&case.display().to_string(), &generated);
    }
}

#[test]
fn corpus_schemas_hold_only_what_nango_yaml_says() {
    let Some(files) = common::accepted_corpus() else { return };
    for (_, file) in files {
        let (_, generated) = common::generate(&file);
        check_generated(&file.display().to_string(), &generated);
    }
}
