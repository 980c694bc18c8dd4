//! Golden diagnostics for our own fixtures (`fixtures/{valid,warnings,invalid}/<case>/nango.yaml`).
//!
//! Each case's expected output sits beside it as `diagnostics.snap` (insta). To accept changes:
//! `INSTA_UPDATE=always cargo test -p nango-codegen --test fixtures` and review the diff.

use std::path::{Path, PathBuf};

fn cases(group: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(group);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("nango.yaml").exists())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    cases
}

/// Everything a user would see, plus the IR summary that matters for valid files.
fn report(case: &Path) -> (nango_codegen::ParseOutput, String) {
    let source = std::fs::read_to_string(case.join("nango.yaml")).unwrap();
    let out = nango_codegen::parse(&source, "nango.yaml");
    let mut text = String::new();
    for d in &out.diagnostics {
        text.push_str(&d.render("nango.yaml", &source));
        text.push('\n');
    }
    text.push_str(&format!(
        "valid: {}, layout: {:?}\n",
        out.is_valid(),
        out.config.layout.map(nango_codegen::Layout::as_str)
    ));
    if out.is_valid() {
        text.push_str("nango.json:\n");
        text.push_str(&nango_codegen::nango_json::to_string_pretty(&out.config));
    }
    (out, text)
}

fn check(group: &str, expect_valid: bool, expect_warnings: bool) {
    for case in cases(group) {
        let (out, text) = report(&case);
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(out.is_valid(), expect_valid, "{group}/{name}:\n{text}");
        if expect_warnings {
            assert!(!out.diagnostics.is_empty(), "{group}/{name} should warn");
        }
        for d in out.errors() {
            let span = d.span.expect("every error has a place");
            assert!(span.line > 0 && span.column > 0, "{group}/{name}: {d:?}");
        }
        insta::with_settings!({
            snapshot_path => case.clone(),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("{group}/{name}"),
        }, {
            insta::assert_snapshot!("diagnostics", text);
        });
    }
}

#[test]
fn valid_fixtures() {
    check("valid", true, false);
}

#[test]
fn warning_fixtures() {
    check("warnings", true, true);
}

#[test]
fn invalid_fixtures() {
    check("invalid", false, true);
}

/// One grammar: `runs:` gets every verdict of the table the runtime's API is tested with too.
#[test]
fn runs_follow_the_shared_frequency_table() {
    let table = include_str!("../../fixtures/frequencies.tsv");
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (text, verdict) = line.split_once('\t').expect("text<TAB>verdict");
        let verdict: nango_types::frequency::Verdict = verdict.parse().unwrap();
        // JSON strings are YAML strings: the text goes in exactly as written.
        let yaml = format!(
            "integrations:\n  github:\n    syncs:\n      issues:\n        runs: {}\n        output: Issue\n        endpoint: GET /issues\nmodels:\n  Issue:\n    id: string\n",
            serde_json::to_string(text).unwrap()
        );
        let out = nango_codegen::parse(&yaml, "nango.yaml");
        let sync = out.config.integrations.first().and_then(|i| i.syncs.first());
        match verdict {
            nango_types::frequency::Verdict::Interval(ms) => {
                let interval = sync.and_then(|s| s.schedule.as_ref()).map(|s| s.interval.as_millis() as u64);
                assert_eq!(interval, Some(ms), "{text:?}: {:?}", out.diagnostics);
            }
            nango_types::frequency::Verdict::Refused(code) => {
                let refused = out.errors().any(|d| d.code == "invalid_runs" && d.message.starts_with(code));
                assert!(refused, "{text:?} should be refused with {code}: {:?}", out.diagnostics);
            }
        }
        rows += 1;
    }
    assert!(rows > 30);
}
