//! Runs the front end over the real nango.yaml corpus in `../shared/corpus` (when present) and
//! compares with how Nango's own pipeline judged each file (VERDICTS.tsv) and with the
//! `nango.json` Nango wrote for it.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    dir.join("VERDICTS.tsv").exists().then_some(dir)
}

struct Verdict {
    file: String,
    accepted: bool,
    stage: String,
    /// `code@path` pairs.
    errors: Vec<(String, String)>,
}

fn verdicts(dir: &Path) -> Vec<Verdict> {
    let text = std::fs::read_to_string(dir.join("VERDICTS.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, accepted, stage, errors) = (col("file"), col("accepted"), col("stage"), col("errors"));
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            Verdict {
                file: cells[file].to_owned(),
                accepted: cells[accepted] == "yes",
                stage: cells[stage].to_owned(),
                errors: cells[errors]
                    .split(" ; ")
                    .filter(|e| !e.is_empty())
                    .map(|e| {
                        let (code, path) = e.split_once('@').unwrap_or((e, ""));
                        (code.to_owned(), path.to_owned())
                    })
                    .collect(),
            }
        })
        .collect()
}

fn exceptions() -> HashMap<String, String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/conformance-exceptions.tsv"))
            .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cells = l.split('\t');
            let file = cells.next().unwrap().to_owned();
            let ours = cells.next().unwrap().to_owned();
            assert!(cells.next().is_some_and(|r| r.len() > 20), "exception for {file} needs a reason");
            (file, ours)
        })
        .collect()
}

#[test]
fn verdicts_match_nango() {
    let Some(dir) = corpus_dir() else {
        eprintln!("../shared/corpus not found: corpus conformance skipped");
        return;
    };
    let exceptions = exceptions();
    let verdicts = verdicts(&dir);
    assert!(verdicts.len() >= 200, "VERDICTS.tsv looks truncated");
    let mut problems = Vec::new();
    let mut used_exceptions = 0;
    for v in &verdicts {
        let out = nango_codegen::load(dir.join(&v.file)).unwrap();
        let ours = out.is_valid();
        // Every error must point at real text.
        for d in out.errors() {
            let span = d.span.unwrap_or_else(|| panic!("{}: error without a place: {d:?}", v.file));
            assert!(span.line > 0 && span.column > 0, "{}: {d:?}", v.file);
            assert!(span.end() <= out.source.len(), "{}: span past the end: {d:?}", v.file);
        }
        if let Some(expected) = exceptions.get(&v.file) {
            used_exceptions += 1;
            let ours_text = if ours { "accepted" } else { "rejected" };
            if ours_text != expected {
                problems.push(format!("{}: exception says {expected}, we {ours_text}", v.file));
            }
            continue;
        }
        if ours != v.accepted {
            let codes: Vec<String> = out.errors().map(|d| d.one_line(&v.file)).collect();
            problems.push(format!("{}: Nango accepted={}, we accepted={ours} {codes:?}", v.file, v.accepted));
            continue;
        }
        if v.accepted {
            continue;
        }
        let our_codes: BTreeSet<&str> = out.errors().map(|d| d.code.as_str()).collect();
        if v.stage == "parser" {
            // Parser errors: the very same codes, at the same logical paths.
            for (code, path) in &v.errors {
                let hit = out.errors().any(|d| &d.code == code && d.path.ends_with(path.as_str()));
                if !hit {
                    problems.push(format!("{}: missing {code}@{path}; ours: {our_codes:?}", v.file));
                }
            }
        } else {
            // Schema errors: ajv's codes map to ours; require an error at each logical path.
            for (code, path) in &v.errors {
                let hit = out.errors().any(|d| d.path == *path || d.path.starts_with(&format!("{path} >")));
                if !hit {
                    problems.push(format!(
                        "{}: no error at {path} ({code}); ours: {:?}",
                        v.file,
                        out.errors().map(|d| d.one_line(&v.file)).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    assert_eq!(used_exceptions, exceptions.len(), "an exception names a file that is not in the corpus");
    assert!(problems.is_empty(), "{} mismatches:\n{}", problems.len(), problems.join("\n"));
}

/// Normalises the documented differences: numbers vs strings for `version`, trimmed scopes,
/// HEAD-only `features`.
fn normalise(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "features")
                .map(|(k, v)| {
                    let v = if k == "scopes" {
                        Value::Array(
                            v.as_array()
                                .into_iter()
                                .flatten()
                                .map(|s| Value::String(s.as_str().unwrap_or("").trim().to_owned()))
                                .collect(),
                        )
                    } else {
                        normalise(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

#[test]
fn nango_json_matches_nango() {
    let Some(dir) = corpus_dir() else { return };
    let mut compared = 0;
    let mut problems = Vec::new();
    for v in verdicts(&dir).iter().filter(|v| v.accepted) {
        let reference = dir.join("nango-output").join(format!("{}.nango.json", v.file.replace('/', "__")));
        let Ok(text) = std::fs::read_to_string(&reference) else { continue };
        let theirs: Value = serde_json::from_str(&text).unwrap();
        let ours = nango_codegen::load(dir.join(&v.file)).unwrap().nango_json();
        compared += 1;
        if normalise(&ours) != normalise(&theirs) {
            problems.push(v.file.clone());
        }
    }
    assert!(compared >= 190, "only {compared} nango.json files compared");
    assert!(problems.is_empty(), "nango.json differs for: {problems:#?}");
}

#[test]
fn large_files_parse_without_errors() {
    let Some(dir) = corpus_dir() else { return };
    let out = nango_codegen::load(dir.join("derived/merged-flows.nango.yaml")).unwrap();
    assert!(out.is_valid(), "{:?}", out.errors().take(5).collect::<Vec<_>>());
    assert!(out.config.models.len() >= 1445, "{} models", out.config.models.len());
    assert_eq!(out.config.integrations.len(), 121);
    let flows = nango_codegen::load(dir.join("NangoHQ__nango/packages__shared__flows.yaml")).unwrap();
    assert_eq!(flows.config.layout, Some(nango_codegen::Layout::Flows));
    assert!(flows.is_valid());
    assert!(flows.config.integrations.iter().all(|i| !i.models.is_empty() || i.syncs.is_empty()));
}
