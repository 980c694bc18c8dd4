//! `nango init`, then `cargo build` of the new project (offline, path dependencies), then
//! `nango generate` again: user files never change, new scripts get scaffolds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The project's files, but for the build's lock file and the store the CLI commands wrote.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path
                .file_name()
                .is_some_and(|n| n != "Cargo.lock" && !n.to_string_lossy().starts_with("nango.db"))
            {
                files.insert(path.strip_prefix(root).unwrap().to_path_buf(), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    files
}

/// The workspace's own target folder. Generated projects build there: the dependencies they share
/// with the workspace (with the same features) are already built, so only the rest is compiled.
/// (A nested cargo may use it while `cargo test` runs: cargo releases its lock before running
/// tests.)
fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf()
}

/// A fresh folder for a test's projects, inside the workspace's target folder so that the
/// workspace's `.cargo/config.toml` (its dev profile) applies to their builds too: with another
/// profile no dependency build could be shared.
fn scratch(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    base
}

/// `cargo build --offline` of a generated project: whether it succeeded, its stderr, and the
/// target folder.
fn cargo_build(project: &Path) -> (bool, String, PathBuf) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = workspace_target();
    let out = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(project)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), target)
}

fn nango(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nango")).args(args).current_dir(dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "nango {args:?} failed:\n{text}");
    text
}

/// The demo's sync, written: it logs and saves one ticket.
const WRITTEN_SYNC: &str = r#"
use crate::models::{self, syncs::GithubTickets};
use nango::NangoSync;

#[nango::nango_sync("github-tickets", integration = "github")]
pub async fn github_tickets(nango: &mut NangoSync<GithubTickets>) -> nango::Result<()> {
    nango.log("saving the first ticket");
    let ticket: models::Ticket = nango::serde_json::from_value(nango::serde_json::json!({
        "id": "T-1", "author": "octocat", "author_id": "1", "title": "First", "state": "open",
        "labels": [], "created_at": "2026-01-02T03:04:05Z"
    }))?;
    nango.batch_save([ticket]).await
}
"#;

#[test]
fn init_build_and_regenerate() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let base = scratch("nango-init-test");
    let output = nango(&base, &["init", "demo", "--path-deps", workspace.to_str().unwrap()]);
    assert!(output.contains("created demo/src/syncs/github_tickets.rs"), "{output}");
    let project = base.join("demo");

    // The new project builds offline against this checkout, without warnings.
    let (build_ok, stderr, target) = cargo_build(&project);
    assert!(build_ok, "cargo build of the new project failed:\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    // The runtime's CLI, after the start-up check: `syncs` lists what nango.yaml declares.
    let run = Command::new(target.join("debug/demo")).arg("syncs").output().unwrap();
    let listed = String::from_utf8_lossy(&run.stdout);
    assert!(listed.contains("github-tickets") && listed.contains("every hour"), "{listed}");

    // The user writes the sync (one that logs and saves a ticket, without HTTP): its log shows
    // in `run` and `runs --logs`, its record in `records`; `action` runs the action scaffold,
    // which says it is not written yet.
    let scaffold = project.join("src/syncs/github_tickets.rs");
    std::fs::write(&scaffold, WRITTEN_SYNC).unwrap();
    let (build_ok, stderr, _) = cargo_build(&project);
    assert!(build_ok, "{stderr}");
    let demo = |args: &[&str]| {
        let out = Command::new(target.join("debug/demo"))
            .args(args)
            .current_dir(&project)
            .env_remove("NANGO_ENCRYPTION_KEY")
            .env_remove("NANGO_DATABASE_URL")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let add =
        ["connections", "add", "c1", "--integration", "github", "--token", "t", "--insecure-store-secrets-in-clear"];
    let (ok, _, err) = demo(&add);
    assert!(ok, "{err}");
    let (ok, out, err) = demo(&["run", "github-tickets", "--connection", "c1"]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("saving the first ticket"), "the script's log is shown by default: {err}");
    let (ok, out, err) = demo(&["runs", "--logs"]);
    assert!(ok && out.contains("INFO  saving the first ticket"), "{out}{err}");
    let (ok, out, err) = demo(&["records", "Ticket", "--connection", "c1"]);
    assert!(ok && out.contains("T-1"), "{out}{err}");
    let (ok, out, err) =
        demo(&["action", "create-ticket", "--connection", "c1", "--input", r#"{"repository": "o/r", "title": "t"}"#]);
    assert!(!ok, "{out}");
    assert!(err.contains("error (action_script_failure): action `create-ticket` failed"), "{err}");
    assert!(err.contains("is not written yet: fill in src/actions/create_ticket.rs"), "{err}");
    let (ok, _, err) = demo(&["action", "create-ticket", "--connection", "c1", "--input", r#"{"title": 5}"#]);
    assert!(!ok && err.contains("error (invalid_action_input)"), "{err}");

    // Regenerating changes nothing, even after the user edits their files.
    let edited = std::fs::read_to_string(&scaffold).unwrap();
    let before = snapshot(&project);
    nango(&project, &["generate"]);
    assert_eq!(snapshot(&project), before, "nango generate changed files");

    // Scripts renamed in nango.yaml: until `nango generate` runs, the checked-in models file
    // fails the build, saying so.
    let yaml = std::fs::read_to_string(project.join("nango.yaml")).unwrap();
    let renamed = yaml.replace("github-tickets:", "github-issues:").replace("create-ticket:", "open-ticket:");
    std::fs::write(project.join("nango.yaml"), renamed).unwrap();
    let (build_ok, stderr, _) = cargo_build(&project);
    assert!(!build_ok);
    assert!(
        stderr.contains("nango.yaml changed after this models file was generated from it: run `nango generate`"),
        "{stderr}"
    );
    assert!(stderr.contains("src/models.rs"), "{stderr}");

    // New scripts get a scaffold and a hint; existing user files stay as they are; the scaffolds
    // of the scripts that left are named.
    let output = nango(&project, &["g"]);
    assert!(output.contains("created src/syncs/github_issues.rs"), "{output}");
    assert!(output.contains("added `pub mod github_issues;` to src/syncs/mod.rs"), "{output}");
    assert!(output.contains("updated src/models.rs"), "{output}");
    assert!(
        output.contains(
            "src/syncs/github_tickets.rs implements sync `github-tickets`, which nango.yaml no longer declares"
        ),
        "{output}"
    );
    assert!(output.contains("src/actions/create_ticket.rs implements action `create-ticket`"), "{output}");
    assert_eq!(std::fs::read_to_string(&scaffold).unwrap(), edited);

    // The old function still claims the old name: the build fails at its attribute, suggesting
    // the new one (after `pub mod github_issues;` is added as the hint says).
    let (build_ok, stderr, _) = cargo_build(&project);
    assert!(!build_ok);
    assert!(stderr.contains("nango.yaml has no sync named `github-tickets`"), "{stderr}");
    assert!(stderr.contains("did you mean `github-issues`?"), "{stderr}");
    assert!(stderr.contains("src/syncs/github_tickets.rs"), "{stderr}");

    // `--prune` removes the scaffold still as written, with its `pub mod` line, and keeps the one
    // with the user's code, naming it.
    let output = nango(&project, &["g", "--prune"]);
    assert!(output.contains("removed src/actions/create_ticket.rs"), "{output}");
    assert!(output.contains("warning: kept src/syncs/github_tickets.rs"), "{output}");
    assert!(!project.join("src/actions/create_ticket.rs").exists());
    let actions_mod = std::fs::read_to_string(project.join("src/actions/mod.rs")).unwrap();
    assert!(!actions_mod.contains("create_ticket"), "{actions_mod}");
    assert_eq!(std::fs::read_to_string(&scaffold).unwrap(), edited);

    // A second init into the same folder refuses to touch it.
    let again = Command::new(env!("CARGO_BIN_EXE_nango")).args(["init", "demo"]).current_dir(&base).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn scaffolds_of_every_script_kind_compile_and_register() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let base = scratch("nango-scaffold-test");
    // A project whose nango.yaml has syncs with webhook subscriptions and on-events scripts.
    nango(&base, &["init", "kinds", "--path-deps", workspace.to_str().unwrap()]);
    let project = base.join("kinds");
    for dir in ["syncs", "actions", "on_events"] {
        std::fs::remove_dir_all(project.join("src").join(dir)).unwrap();
    }
    std::fs::copy(workspace.join("fixtures/valid/on-events/nango.yaml"), project.join("nango.yaml")).unwrap();
    let output = nango(&project, &["generate"]);
    for file in
        ["src/syncs/messages.rs", "src/on_events/setup.rs", "src/on_events/cleanup.rs", "src/on_events/verify.rs"]
    {
        assert!(output.contains(&format!("created {file}")), "{output}");
    }
    assert!(
        std::fs::read_to_string(project.join("src/syncs/messages.rs"))
            .unwrap()
            .contains("#[nango::nango_webhook(\"messages\"")
    );

    let (build_ok, stderr, target) = cargo_build(&project);
    assert!(build_ok, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    // The binary checks at start-up that every script has exactly one function.
    let run = Command::new(target.join("debug/kinds")).arg("syncs").output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let _ = std::fs::remove_dir_all(&base);
}
