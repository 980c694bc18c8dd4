//! Generated code compiles, its types round-trip JSON built from their schemas, and every model
//! has one schema: `schema.json`'s definition = `Model::json_schema()` = its `/openapi.json`
//! component. (The goldens are checked, without compiling, by `golden.rs`.)
//!
//! One program links the generated code of every fixture, another that of every corpus file
//! Nango accepts (`../shared/corpus`), each module checked by the program:
//! * round trip: a value built from each model's `schema.json` definition (first with every
//!   field, then with only the required ones) deserializes into the Rust type and serializes
//!   back to the same JSON, which shows the schema describes the type;
//! * `SCHEMA_JSON` is the `schema.json` text, and each sync output model's `json_schema()` is its
//!   definition with every definition it refers to (computed here, independently);
//! * the runtime's `openapi_components` (what `/openapi.json` serves) turns those into
//!   components that are exactly the `schema.json` definitions, references aside.

mod common;

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nango-compile");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JSON value that matches `schema`. `full`: every optional field too (and the catch-all of
/// literal enums). Recursion is cut by preferring `null` branches and leaving optional fields
/// out past a small depth.
fn sample(schema: &Value, defs: &Map<String, Value>, full: bool, depth: usize) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").unwrap();
        return sample(&defs[name], defs, full, depth + 1);
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return e[0].clone();
    }
    if let Some(any_of) = schema.get("anyOf").and_then(Value::as_array) {
        let is_null = |s: &Value| s.get("type") == Some(&json!("null"));
        if depth > 4 && any_of.iter().any(is_null) {
            return Value::Null;
        }
        // An enum of string literals with the catch-all variant: an unlisted value in the full
        // sample (the catch-all), the first listed one in the other.
        let open_enum = any_of.iter().any(|s| s.get("enum").is_some()) && any_of.contains(&json!({"type": "string"}));
        if open_enum && full {
            return json!("an unlisted value");
        }
        let first = any_of.iter().find(|s| !is_null(s)).unwrap_or(&any_of[0]);
        return sample(first, defs, full, depth);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") if schema.get("format") == Some(&json!("date-time")) => json!("2024-01-02T03:04:05Z"),
        Some("string") => json!("text"),
        Some("number") => json!(1.5),
        // `bigint`: more than an `i64` holds.
        Some("integer") if schema.get("format").is_none() => json!(u64::MAX),
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
                // A free-form `object`: any key.
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

/// What `Model::json_schema()` of definition `def` must be: the definition, `$schema`, and
/// under `$defs` every definition it reaches (in the document's order).
fn expected_model_schema(document: &Value, def: &str) -> Value {
    let defs = document["$defs"].as_object().unwrap();
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| match (k.as_str(), v.as_str()) {
                ("$ref", Some(r)) => out.push(r.strip_prefix("#/$defs/").unwrap().to_owned()),
                _ => refs(v, out),
            }),
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut reached = BTreeSet::new();
    let mut todo = Vec::new();
    refs(&defs[def], &mut todo);
    while let Some(name) = todo.pop() {
        if reached.insert(name.clone()) {
            refs(&defs[&name], &mut todo);
        }
    }
    let mut schema = Map::new();
    schema.insert("$schema".into(), document["$schema"].clone());
    schema.extend(defs[def].as_object().unwrap().clone());
    let reached: Map<String, Value> =
        defs.iter().filter(|(name, _)| reached.contains(*name)).map(|(n, v)| (n.clone(), v.clone())).collect();
    if !reached.is_empty() {
        schema.insert("$defs".into(), Value::Object(reached));
    }
    Value::Object(schema)
}

/// The `schema.json` definitions of the models that implement `Model`: every sync output.
fn sync_outputs(out: &nango_codegen::ParseOutput) -> BTreeSet<String> {
    let config = &out.config;
    let flows = config.layout == Some(nango_codegen::Layout::Flows);
    let mut defs = BTreeSet::new();
    for integration in &config.integrations {
        let (models, prefix) = if flows {
            (&integration.models, format!("{}.", integration.name))
        } else {
            (&config.models, String::new())
        };
        for output in integration.syncs.iter().flat_map(|s| &s.output) {
            let model = models.iter().find(|m| &m.name == output).unwrap();
            assert!(!model.anonymous && model.field("id").is_some(), "{output}: Nango accepts outputs with an id");
            defs.insert(format!("{prefix}{output}"));
        }
    }
    defs
}

/// One module of a program: its source and its data (samples, expected schemas).
struct Module {
    name: String,
    source: String,
    data: Value,
}

/// Writes a file's generated code and schema.json, and the module that checks them.
fn module(name: &str, out: &nango_codegen::ParseOutput, generated: &nango_codegen::Generated) -> Module {
    let dir = work_dir().join("generated");
    std::fs::create_dir_all(&dir).unwrap();
    let models_rs = dir.join(format!("{name}.rs"));
    let schema_path = dir.join(format!("{name}.schema.json"));
    write(&models_rs, &generated.models_rs);
    write(&schema_path, &generated.schema_json);

    let document: Value = serde_json::from_str(&generated.schema_json).unwrap();
    let defs = document["$defs"].as_object().unwrap();
    let outputs = sync_outputs(out);
    let mut samples = Map::new();
    let mut checks = String::new();
    let mut schemas = String::new();
    for (def, rust) in &generated.types {
        for full in [true, false] {
            let key = format!("{def}#{}", if full { "full" } else { "required" });
            samples.insert(key.clone(), sample(&defs[def], defs, full, 0));
            writeln!(checks, "    round_trip::<{name}::{rust}>(&data[\"samples\"], {key:?});").unwrap();
        }
        writeln!(schemas, "        ({def:?}, schema_of!({name}::{rust})),").unwrap();
    }
    let expected: Map<String, Value> =
        outputs.iter().map(|def| (def.clone(), expected_model_schema(&document, def))).collect();
    let source = format!(
        "#[allow(dead_code, clippy::all)]\nmod {name} {{\n    include!({models:?});\n}}\n\
         fn check_{name}(data: &Value) {{\n{checks}    \
         one_schema({name:?}, {name}::SCHEMA_JSON, include_str!({schema:?}), &data[\"expected\"], vec![\n{schemas}    ]);\n}}\n",
        models = models_rs.display(),
        schema = schema_path.display(),
    );
    Module { name: name.to_owned(), source, data: json!({"samples": samples, "expected": expected}) }
}

/// The checks every module calls.
const PRELUDE: &str = r##"use ::nango::__private::serde_json::{self, Map, Value};

fn round_trip<T: ::nango::__private::serde::Serialize + ::nango::__private::serde::de::DeserializeOwned>(
    samples: &Value,
    key: &str,
) {
    let json = &samples[key];
    let value: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{key}: {e}\n{json}"));
    let back = serde_json::to_value(&value).unwrap();
    assert_eq!(&back, json, "{key} does not round-trip");
}

/// `(Model::NAME, Model::json_schema())` of a type that implements `Model`, else `None`
/// (method resolution picks the `Model` impl first, when there is one).
struct Probe<T>(::std::marker::PhantomData<T>);
trait ModelSchema {
    fn schema(&self) -> Option<(&'static str, Value)>;
}
impl<T: ::nango::Model> ModelSchema for Probe<T> {
    fn schema(&self) -> Option<(&'static str, Value)> {
        Some((T::NAME, T::json_schema()))
    }
}
trait NoSchema {
    fn schema(&self) -> Option<(&'static str, Value)>;
}
impl<T> NoSchema for &Probe<T> {
    fn schema(&self) -> Option<(&'static str, Value)> {
        None
    }
}
macro_rules! schema_of {
    ($t:ty) => {
        (&Probe::<$t>(::std::marker::PhantomData)).schema()
    };
}

/// `#/components/schemas/X` references back to `#/$defs/X`.
fn to_defs(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match (k.as_str(), v.as_str()) {
                    ("$ref", Some(r)) => {
                        let target = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
                        (k.clone(), Value::String(format!("#/$defs/{target}")))
                    }
                    _ => (k.clone(), to_defs(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(to_defs).collect()),
        other => other.clone(),
    }
}

/// One schema per model: schema.json, `Model::json_schema()` and the `/openapi.json` components.
fn one_schema(
    module: &str,
    embedded: &str,
    schema_json: &str,
    expected: &Value,
    models: Vec<(&str, Option<(&'static str, Value)>)>,
) {
    assert!(embedded == schema_json, "{module}: SCHEMA_JSON is not the schema.json text");
    let document: Value = serde_json::from_str(schema_json).unwrap();
    let defs = document["$defs"].as_object().unwrap();
    let mut served = Vec::new();
    for (def, schema) in models {
        match (schema, expected.get(def)) {
            (Some((name, schema)), Some(expected)) => {
                assert!(def == name || def.ends_with(&format!(".{name}")), "{module}: {def} is named {name}");
                assert!(&schema == expected, "{module}: json_schema() of {def}:\n{schema}\nexpected:\n{expected}");
                served.push((def, schema));
            }
            (None, None) => {}
            (got, _) => panic!("{module}: {def} implements Model: {}, is a sync output: {}", got.is_some(), !expected[def].is_null()),
        }
    }
    let components: Map<String, Value> =
        ::nango::__private::openapi_components(served.iter().map(|(d, s)| (*d, s.clone())));
    for (def, _) in &served {
        assert!(components.contains_key(*def), "{module}: no component for {def}");
    }
    for (name, component) in &components {
        let definition = defs.get(name).unwrap_or_else(|| panic!("{module}: component {name} is no definition"));
        assert!(&to_defs(component) == definition, "{module}: component {name}:\n{component}\nschema.json:\n{definition}");
    }
}
"##;

/// Writes `path` unless it already holds `contents`: unchanged inputs keep their timestamps, so
/// cargo does not rebuild a program whose code did not change (running it still checks it all).
fn write(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return;
    }
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Writes the source of a program of some modules (its data beside it).
fn program(name: &str, modules: &[Module]) {
    let dir = work_dir();
    let data: Map<String, Value> = modules.iter().map(|m| (m.name.clone(), m.data.clone())).collect();
    let data_path = dir.join(format!("{name}.data.json"));
    write(&data_path, &serde_json::to_string(&data).unwrap());
    let mut src = String::from(PRELUDE);
    for m in modules {
        src.push_str(&m.source);
    }
    writeln!(
        src,
        "fn main() {{\n    let data: Value = serde_json::from_str(include_str!({:?})).unwrap();",
        data_path.display()
    )
    .unwrap();
    for m in modules {
        writeln!(src, "    check_{0}(&data[{0:?}]);", m.name).unwrap();
    }
    src.push_str("}\n");
    write(&dir.join(format!("{name}.rs")), &src);
}

/// Builds the programs (one cargo call: they compile side by side) in a crate of their own that
/// depends on the runtime only as generated code does (no `runtime` feature; nango-runtime renamed
/// to `nango`, the way documented for crates that do not use the facade), then runs each.
/// The crate builds in the workspace's target folder, where the dependencies it shares with the
/// workspace (same versions, features and profile) are already built. (A nested cargo may use it
/// while `cargo test` runs: cargo releases its lock before running tests.)
fn build_and_run(programs: &[&str]) {
    let dir = work_dir();
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nango-runtime");
    let mut manifest = format!(
        "[package]\nname = \"nango-compile-check\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\nnango = {{ package = \"nango-runtime\", path = {:?}, default-features = false }}\n",
        runtime.display()
    );
    for p in programs {
        write!(manifest, "\n[[bin]]\nname = {p:?}\npath = \"{p}.rs\"\n").unwrap();
    }
    write(&dir.join("Cargo.toml"), &manifest);
    // The workspace's versions, so the build is offline and the dependencies are the tested ones.
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).unwrap();
    write(&dir.join("Cargo.lock"), &lock);
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = std::time::Instant::now();
    let build = std::process::Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--bins"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        // The outer build's flags (say `-D warnings`) are not for generated test programs.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(build.status.success(), "the generated code does not compile:\n{}", String::from_utf8_lossy(&build.stderr));
    eprintln!("compiled {programs:?} in {:.1?}", started.elapsed());
    for p in programs {
        let started = std::time::Instant::now();
        let run = std::process::Command::new(target.join("debug").join(p)).output().unwrap();
        assert!(
            run.status.success(),
            "{p}: a check failed:\n{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        eprintln!("ran {p} in {:.1?}", started.elapsed());
    }
}

/// How many programs the corpus is split into.
const CORPUS_PROGRAMS: usize = 4;

#[test]
fn generated_code_compiles_round_trips_and_has_one_schema() {
    let mut fixtures = Vec::new();
    for case in common::fixture_cases() {
        let (out, generated) = common::generate(&case.join("nango.yaml"));
        let name = case.file_name().unwrap().to_string_lossy().replace('-', "_");
        fixtures.push(module(&name, &out, &generated));
    }
    program("compile_check_fixtures", &fixtures);
    let mut programs = vec!["compile_check_fixtures"];

    let mut names = Vec::new();
    if let Some(files) = common::accepted_corpus() {
        let mut corpus = Vec::new();
        for (i, file) in files {
            let (out, generated) = common::generate(&file);
            corpus.push(module(&format!("corpus_{i}"), &out, &generated));
        }
        // The corpus in a few programs of about the same size: rustc type-checks a crate on one
        // core, so one big program would keep the other core idle for most of the build.
        let size = corpus.len().div_ceil(CORPUS_PROGRAMS);
        for (n, part) in corpus.chunks(size).enumerate() {
            names.push(format!("compile_check_corpus_{n}"));
            program(&names[n], part);
        }
    }
    programs.extend(names.iter().map(String::as_str));
    build_and_run(&programs);
}
