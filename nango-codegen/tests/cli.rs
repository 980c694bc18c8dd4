//! The `nango` binary as a user runs it: exit codes, JSON shape, paths.

use std::path::{Path, PathBuf};
use std::process::Command;

fn nango(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nango")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(rel).display().to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nango-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn valid_folder_exits_zero() {
    let (code, _, stderr) = nango(&["validate", &fixture("valid/github")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("valid (0 warnings)"), "{stderr}");
}

#[test]
fn warnings_are_allowed_unless_strict() {
    let path = fixture("warnings/typos-and-literals/nango.yaml");
    let (code, _, stderr) = nango(&["validate", &path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("did you mean `GithubUser`?"), "{stderr}");
    let (code, stdout, _) = nango(&["validate", &path, "--strict", "--format", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert!(json["diagnostics"].as_array().unwrap().iter().all(|d| d["severity"] == "error"));
}

#[test]
fn json_report_has_the_documented_shape() {
    let (code, stdout, _) = nango(&["validate", &fixture("invalid/invalid-runs"), "--format", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(json["file"].as_str().unwrap().ends_with("nango.yaml"));
    assert_eq!(json["valid"], false);
    assert_eq!(json["version"], "v2");
    let first = &json["diagnostics"][0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "invalid_runs");
    assert_eq!(first["path"], "github > syncs > monthly");
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(5), Some(15)));
    assert!(first["message"].as_str().unwrap().starts_with("sync_interval_invalid"));
    assert!(first["help"].is_string());
}

#[test]
fn human_output_points_at_the_text() {
    let (code, _, stderr) = nango(&["validate", &fixture("invalid/model-not-found")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nango.yaml:6:19"), "{stderr}");
    assert!(stderr.contains("Model \"Isue\" does not exists"), "{stderr}");
    assert!(stderr.contains("did you mean `Issue`?"), "{stderr}");
    assert!(stderr.contains("1 error, 0 warnings"), "{stderr}");
}

#[test]
fn usage_and_io_errors_exit_two() {
    let (code, _, stderr) = nango(&["validate", "/definitely/not/here"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read /definitely/not/here"), "{stderr}");
    let empty = temp_dir("empty");
    let (code, _, stderr) = nango(&["validate", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "a folder without nango.yaml: {stderr}");
    let (code, _, _) = nango(&["validate", "--format", "xml"]);
    assert_eq!(code, 2);
    let (code, _, _) = nango(&["frobnicate"]);
    assert_eq!(code, 2);
    let (code, stdout, _) = nango(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("validate"));
}

#[test]
fn binary_input_is_an_error_not_a_crash() {
    let dir = temp_dir("binary");
    std::fs::write(dir.join("nango.yaml"), [0xff, 0xfe, 0x00, 0x01, 0x80]).unwrap();
    let (code, _, stderr) = nango(&["validate", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not UTF-8"), "{stderr}");
}

#[test]
fn default_path_is_the_current_folder() {
    let out = Command::new(env!("CARGO_BIN_EXE_nango"))
        .args(["validate", "--format", "json"])
        .current_dir(fixture("valid/v1-layout"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], "v1");
}

#[test]
fn files_over_the_cap_are_refused_with_a_clear_error() {
    let dir = temp_dir("too-large");
    let path = dir.join("nango.yaml");
    std::fs::File::create(&path).unwrap().set_len(100 * 1024 * 1024).unwrap();
    let (code, _, stderr) = nango(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "names the file: {stderr}");
    assert!(stderr.contains("104857600 bytes (100.0 MiB)"), "says the size: {stderr}");
    assert!(stderr.contains("limit of 67108864 bytes (64 MiB)"), "says the cap: {stderr}");
    assert!(stderr.contains("help: a nango.yaml is far smaller"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Each diagnostic on a very long line shows the part of the line around its place (it used
/// to print the whole line every time: quadratic output), under the right line and column.
#[test]
fn long_lines_are_shown_around_the_place() {
    let dir = temp_dir("long-line");
    let fields: Vec<String> = (0..2_000).map(|i| format!("f{i}: Missing{i}")).collect();
    let line = format!("models: {{A: {{{}}}}}", fields.join(", "));
    std::fs::write(dir.join("nango.yaml"), format!("integrations: {{}}\n{line}\n")).unwrap();
    let (code, _, stderr) = nango(&["validate", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{}", &stderr[..500]);
    assert!(stderr.contains("valid (2000 warnings)"));
    // About 4 KB a diagnostic (two 1,000-byte halves of the line, the caret lines, help), not 38 KB.
    assert!(stderr.len() < 2_000 * 6_000, "{} bytes for a {}-byte line", stderr.len(), line.len());
    let column = line.find("Missing1999").unwrap() + 1;
    assert!(stderr.contains(&format!("nango.yaml:2:{column}]")), "miette's header names the column");
    let _ = std::fs::remove_dir_all(dir);
}
