//! Generated code: checked-in goldens for our fixtures, and proof that it compiles and round-trips.
//!
//! * Every `fixtures/{valid,warnings}/<case>/nango.yaml` has its generated `models.rs` and
//!   `schema.json` checked in beside it (expectorate: `EXPECTORATE=overwrite` to accept changes).
//! * trybuild compiles each golden in a crate that links nango-runtime, and runs a program that
//!   round-trips JSON through every model: a value built from the model's JSON Schema (first with
//!   every field, then with only the required ones) deserializes into the Rust type and serializes
//!   back to the same JSON.
//! * The same for every corpus file Nango accepts (`../shared/corpus`, when present), all in one
//!   crate so it compiles in one go.

use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nango-compile");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JSON value that matches `schema`. `full`: every optional field too. Recursion is cut by
/// preferring `null` branches and leaving optional fields out past a small depth.
fn sample(schema: &Value, defs: &Map<String, Value>, full: bool, depth: usize) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return sample(&defs[name], defs, full, depth + 1);
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return e[0].clone();
    }
    if let Some(any_of) = schema.get("anyOf").and_then(Value::as_array) {
        let is_null = |s: &Value| s.get("type") == Some(&json!("null")) || s.get("const") == Some(&Value::Null);
        if depth > 4 && any_of.iter().any(is_null) {
            return Value::Null;
        }
        let first = any_of.iter().find(|s| !is_null(s)).unwrap_or(&any_of[0]);
        return sample(first, defs, full, depth);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") if schema.get("format") == Some(&json!("date-time")) => json!("2024-01-02T03:04:05Z"),
        Some("string") => json!("text"),
        Some("number") => json!(1.5),
        Some("integer") => json!(42),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        Some("array") => {
            if depth > 4 {
                return json!([]);
            }
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            json!([sample(&items, defs, full, depth + 1)])
        }
        Some("object") => {
            let mut out = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    let is_required = required.contains(&name.as_str());
                    if is_required || (full && depth <= 4) {
                        let value = sample(prop, defs, full, depth + 1);
                        // An optional field that would be `null` is left out: for `undefined`-like
                        // fields absent and null are the same value.
                        if !is_required && value.is_null() {
                            continue;
                        }
                        out.insert(name.clone(), value);
                    }
                }
            } else if schema.get("additionalProperties").is_none() {
                out.insert("key".into(), json!("value"));
            }
            if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object())
                && full
                && depth <= 4
            {
                out.insert("__dynamic_key".into(), sample(extra, defs, full, depth + 1));
            }
            Value::Object(out)
        }
        _ => json!("anything"),
    }
}

/// Rust source of a module holding the generated file plus its round-trip checks.
fn module_source(module: &str, models_rs: &Path, generated: &nango_codegen::Generated) -> (String, Value) {
    let schema: Value = serde_json::from_str(&generated.schema_json).unwrap();
    let defs = schema["$defs"].as_object().unwrap().clone();
    let mut samples = Map::new();
    let mut checks = String::new();
    for (def, rust) in &generated.types {
        for full in [true, false] {
            let key = format!("{def}#{}", if full { "full" } else { "required" });
            samples.insert(key.clone(), sample(&defs[def], &defs, full, 0));
            writeln!(checks, "        check::<{module}::{rust}>(samples, {key:?});").unwrap();
        }
    }
    let source = format!(
        "#[allow(dead_code, clippy::all)]\npub mod {module} {{\n    include!({:?});\n}}\n\
         pub fn check_{module}(samples: &Value) {{\n{checks}}}\n",
        models_rs.display()
    );
    (source, Value::Object(samples))
}

fn program(modules: &[(String, String, Value)], samples_path: &Path) -> String {
    let mut src = String::from(
        "use ::nango_runtime::__private::serde_json::{self, Value};\n\
         fn check<T: ::nango_runtime::__private::serde::Serialize + ::nango_runtime::__private::serde::de::DeserializeOwned>(\n\
             samples: &Value, key: &str) {\n\
             let json = &samples[key];\n\
             let value: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!(\"{key}: {e}\\n{json}\"));\n\
             let back = serde_json::to_value(&value).unwrap();\n\
             assert_eq!(&back, json, \"{key} does not round-trip\");\n\
         }\n",
    );
    for (_, source, _) in modules {
        src.push_str(source);
    }
    writeln!(
        src,
        "fn main() {{\n    let all: Value = serde_json::from_str(include_str!({:?})).unwrap();",
        samples_path.display()
    )
    .unwrap();
    for (module, _, _) in modules {
        writeln!(src, "    check_{module}(&all[{module:?}]);").unwrap();
    }
    src.push_str("}\n");
    src
}

fn write_program(name: &str, modules: Vec<(String, String, Value)>) -> PathBuf {
    let dir = work_dir();
    let samples: Map<String, Value> = modules.iter().map(|(m, _, s)| (m.clone(), s.clone())).collect();
    let samples_path = dir.join(format!("{name}.samples.json"));
    std::fs::write(&samples_path, serde_json::to_string(&samples).unwrap()).unwrap();
    let program_path = dir.join(format!("{name}.rs"));
    std::fs::write(&program_path, program(&modules, &samples_path)).unwrap();
    program_path
}

fn fixture_cases() -> Vec<PathBuf> {
    let mut cases = Vec::new();
    for group in ["valid", "warnings"] {
        for entry in std::fs::read_dir(fixtures_dir().join(group)).unwrap() {
            let path = entry.unwrap().path();
            if path.join("nango.yaml").exists() {
                cases.push(path);
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn generated_code_compiles_and_round_trips() {
    let settings = nango_codegen::Settings::default();
    let mut modules = Vec::new();
    for case in fixture_cases() {
        let out = nango_codegen::load(case.join("nango.yaml")).unwrap();
        let generated = nango_codegen::generate(&out, &settings).unwrap();
        expectorate::assert_contents(case.join("models.rs"), &generated.models_rs);
        expectorate::assert_contents(case.join("schema.json"), &generated.schema_json);
        let module = case.file_name().unwrap().to_string_lossy().replace('-', "_");
        let (source, samples) = module_source(&module, &case.join("models.rs"), &generated);
        modules.push((module, source, samples));
    }
    let tests = trybuild::TestCases::new();
    tests.pass(write_program("fixtures", modules));

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if let Ok(verdicts) = std::fs::read_to_string(corpus.join("VERDICTS.tsv")) {
        let out_dir = work_dir().join("corpus");
        let mut modules = Vec::new();
        for (i, line) in verdicts.lines().skip(1).enumerate() {
            let cells: Vec<&str> = line.split('\t').collect();
            if cells[4] != "yes" {
                continue;
            }
            let out = nango_codegen::load(corpus.join(cells[0])).unwrap();
            let generated = nango_codegen::generate(&out, &settings)
                .unwrap_or_else(|e| panic!("{}: Nango accepts it but we generate nothing: {e}", cells[0]));
            let module = format!("corpus_{i}");
            let models_rs = out_dir.join(format!("{module}.rs"));
            std::fs::create_dir_all(&out_dir).unwrap();
            std::fs::write(&models_rs, &generated.models_rs).unwrap();
            let (source, samples) = module_source(&module, &models_rs, &generated);
            modules.push((module, source, samples));
        }
        assert!(modules.len() >= 200, "only {} accepted corpus files", modules.len());
        tests.pass(write_program("corpus", modules));
    }
}
