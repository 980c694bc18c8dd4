//! What the generated-code tests share: the fixture cases and the corpus files Nango accepts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `fixtures/{valid,warnings}/<case>` folders (each with a `nango.yaml`), sorted.
pub fn fixture_cases() -> Vec<PathBuf> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut cases = Vec::new();
    for group in ["valid", "warnings"] {
        for entry in std::fs::read_dir(fixtures.join(group)).unwrap() {
            let path = entry.unwrap().path();
            if path.join("nango.yaml").exists() {
                cases.push(path);
            }
        }
    }
    cases.sort();
    assert!(!cases.is_empty(), "no fixtures");
    cases
}

/// Every corpus file that Nango accepts (`../shared/corpus/VERDICTS.tsv`), with its row number,
/// or `None` without the corpus.
pub fn accepted_corpus() -> Option<Vec<(usize, PathBuf)>> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let Ok(verdicts) = std::fs::read_to_string(corpus.join("VERDICTS.tsv")) else {
        eprintln!("no corpus at {}: its files are not checked", corpus.display());
        return None;
    };
    let files: Vec<(usize, PathBuf)> = verdicts
        .lines()
        .skip(1)
        .enumerate()
        .filter_map(|(i, line)| {
            let cells: Vec<&str> = line.split('\t').collect();
            (cells[4] == "yes").then(|| (i, corpus.join(cells[0])))
        })
        .collect();
    assert!(files.len() >= 200, "only {} accepted corpus files", files.len());
    Some(files)
}

/// Generates a file's code with the default settings; Nango accepts every file given here.
pub fn generate(nango_yaml: &Path) -> (nango_codegen::ParseOutput, nango_codegen::Generated) {
    let out = nango_codegen::load(nango_yaml).unwrap();
    let generated = nango_codegen::generate(&out, &nango_codegen::Settings::default())
        .unwrap_or_else(|e| panic!("{}: Nango accepts it but we generate nothing: {e}", nango_yaml.display()));
    (out, generated)
}
