//! The program as separate processes on one SQLite file, against the mock provider with latency:
//! a run is leased to one process at a time (a second `run` is refused naming the holder, or
//! waits with `--wait`), a `serve` killed with SIGKILL loses neither its pending trigger nor the
//! truth about its dead run, and the connection commands say what they did to the secrets
//! (stored in clear or sealed, refused under another key, re-sealed by `rotate-key`).

mod common;

use common::{TOKEN, finish, text};
use nango::crypto::Sealer;
use nango::store::{RunRecord, RunStatus, Store};
use nango_mock_provider::{Faults, MockServer};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const SECRET_KEY: &str = "processes-secret-key";

/// A folder with the database, the mock provider and the environment every process gets.
struct Setup {
    dir: tempfile::TempDir,
    mock: MockServer,
}

impl Setup {
    async fn new(issues: u64, latency_ms: u64) -> Setup {
        let faults = Faults { latency: Duration::from_millis(latency_ms), ..Faults::default() };
        Setup { dir: tempfile::tempdir().unwrap(), mock: common::mock_provider(issues, faults).await }
    }

    fn database(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("nango.db").display())
    }

    /// The program with the test's environment (no encryption key unless `env` sets one).
    fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], env: &[(&str, &str)]) -> Command {
        let mut command = common::program();
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("NANGO_DATABASE_URL", self.database())
            .env("NANGO_SECRET_KEY", SECRET_KEY)
            .env("RUST_LOG", "warn");
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// Runs the program to its end.
    async fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], env: &[(&str, &str)]) -> Output {
        let child = self.command(args, env).spawn().expect("the example runs");
        finish(child).await
    }

    /// `connections add ID` for the mock provider, in clear.
    async fn add_connection(&self, id: &str) {
        let out = self
            .run(
                &[
                    "connections",
                    "add",
                    id,
                    "--integration",
                    "github",
                    "--token",
                    TOKEN,
                    "--base-url",
                    self.mock.url(),
                    "--metadata",
                    r#"{"owner":"nango-rs","repo":"demo"}"#,
                    "--insecure-store-secrets-in-clear",
                ],
                &[],
            )
            .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// `serve` on a free port; its URL once it listens.
    async fn serve(&self, extra: &[&str]) -> (Child, String) {
        let mut args = vec!["serve", "--port", "0"];
        args.extend_from_slice(extra);
        common::serve(self.command(&args, &[])).await
    }

    async fn store(&self) -> Store {
        Store::open(&self.database(), Sealer::InsecureClear).await.unwrap()
    }

    /// The runs of the demo connection, oldest first.
    async fn runs(&self) -> Vec<RunRecord> {
        let store = self.store().await;
        let mut runs = store.runs(None, None, 100).await.unwrap();
        store.close().await;
        runs.reverse();
        runs
    }

    /// Polls the runs until `done` holds (at most 30 s).
    async fn wait_runs(&self, what: &str, done: impl Fn(&[RunRecord]) -> bool) -> Vec<RunRecord> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let runs = self.runs().await;
            if done(&runs) {
                return runs;
            }
            assert!(Instant::now() < deadline, "{what}: not in time; runs: {runs:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn api(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new().request(method, format!("{url}{path}")).bearer_auth(SECRET_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

fn overlap(a: &RunRecord, b: &RunRecord) -> bool {
    let end = |r: &RunRecord| r.ended_at.expect("ended");
    a.started_at < end(b) && b.started_at < end(a)
}

/// Two `run` processes at once: one runs, the other is refused with a message naming the holder
/// (its pid); with `--wait` the second runs after the first. Never two runs at once, and nobody
/// marks a live run as interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_runs_in_one_process_at_a_time() {
    let s = Setup::new(500, 120).await;
    s.add_connection("demo").await;
    let run = ["run", "github-tickets", "--connection", "demo", "--lease-ttl", "2"];
    let first = s.command(&run, &[]).spawn().unwrap();
    let second = s.command(&run, &[]).spawn().unwrap();
    let pids = [first.id(), second.id()];
    let outputs = [finish(first).await, finish(second).await];
    let winners: Vec<usize> = (0..2).filter(|&i| outputs[i].status.success()).collect();
    assert_eq!(winners.len(), 1, "exactly one runs: {:?}", outputs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>());
    let (winner, loser) = (winners[0], 1 - winners[0]);
    let refused = text(&outputs[loser].stderr);
    assert!(refused.contains("already running"), "{refused}");
    assert!(refused.contains(&format!("pid {}", pids[winner])), "the holder is named: {refused}");
    assert!(refused.contains("--wait"), "the way to wait is named: {refused}");
    let runs = s.runs().await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, RunStatus::Success, "{runs:#?}");

    // With --wait, the second waits for the first and then runs (incrementally) after it.
    let wait = ["run", "github-tickets", "--connection", "demo", "--lease-ttl", "2", "--wait"];
    let (a, b) = (s.command(&wait, &[]).spawn().unwrap(), s.command(&wait, &[]).spawn().unwrap());
    let (a, b) = (finish(a).await, finish(b).await);
    assert!(a.status.success() && b.status.success(), "{}\n{}", text(&a.stderr), text(&b.stderr));
    let runs = s.runs().await;
    assert_eq!(runs.len(), 3, "{runs:#?}");
    assert!(runs.iter().all(|r| r.status == RunStatus::Success), "{runs:#?}");
    assert!(!overlap(&runs[1], &runs[2]), "runs overlap: {runs:#?}");
}

/// `serve` killed with SIGKILL while its run goes on and a trigger waits: the next `serve`
/// closes the dead run as failed, ended when it was last known alive (not when the next run
/// started), and runs the trigger, which was kept in the store. While the first `serve` runs, a
/// `run` of the same sync is refused, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_serve_loses_no_trigger_and_its_dead_run_is_closed_honestly() {
    let s = Setup::new(1500, 150).await;
    s.add_connection("demo").await;
    let (first, url) = s.serve(&["--lease-ttl", "1"]).await;
    let status = "/sync/status?syncs=github-tickets&provider_config_key=github&connection_id=demo";
    let deadline = Instant::now() + Duration::from_secs(20);
    while api(&url, reqwest::Method::GET, status, None).await["syncs"][0]["status"] != "RUNNING" {
        assert!(Instant::now() < deadline, "the first run did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The API says RUNNING as soon as the scheduler has taken the sync, a moment before the run
    // is recorded; a trigger asked in between would be taken by that run (it starts after the
    // trigger), and lost with it. The trigger must wait behind a run that has begun.
    s.wait_runs("the first run recorded", |runs| runs.first().is_some_and(|r| r.status == RunStatus::Running)).await;
    let command = json!({"syncs": ["github-tickets"], "provider_config_key": "github", "connection_id": "demo"});
    // Paused, the schedule runs only what is triggered; the trigger waits for the running run.
    api(&url, reqwest::Method::POST, "/sync/pause", Some(command.clone())).await;
    api(&url, reqwest::Method::POST, "/sync/trigger", Some(command)).await;

    let beside = s.run(&["run", "github-tickets", "--connection", "demo"], &[]).await;
    assert!(!beside.status.success());
    let refused = text(&beside.stderr);
    assert!(refused.contains("already running") && refused.contains(&format!("pid {}", first.id())), "{refused}");

    common::kill(first).await;
    let killed_at = chrono::Utc::now();
    let runs = s.runs().await;
    assert_eq!((runs.len(), runs[0].status), (1, RunStatus::Running), "{runs:#?}");

    let (second, _) = s.serve(&["--lease-ttl", "1"]).await;
    let runs = s
        .wait_runs("the dead run closed and the trigger run", |runs| {
            runs.len() >= 2 && runs[0].status != RunStatus::Running && runs[1].status == RunStatus::Success
        })
        .await;
    common::kill(second).await;
    let dead = &runs[0];
    assert_eq!(dead.status, RunStatus::Failed, "{dead:#?}");
    assert!(dead.error.as_deref().unwrap_or_default().contains("interrupted"), "{dead:#?}");
    let ended = dead.ended_at.expect("closed");
    assert!(dead.started_at <= ended && ended <= killed_at, "ended {ended} is not when it was last alive: {dead:#?}");
    assert!(ended < runs[1].started_at, "{runs:#?}");
    assert_eq!(runs.len(), 2, "only the trigger ran: {runs:#?}");
}

fn database_holds(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

/// What `connections add` says it did with the secret is what it did; a store whose secrets are
/// sealed under one key refuses secrets under another; `connections rotate-key` re-seals every
/// connection (those in clear too) under the new key in one go, leaving no secret in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_commands_say_what_they_did_with_secrets() {
    let s = Setup::new(5, 0).await;
    let (old, new) = (Sealer::generate_key(), Sealer::generate_key());
    let add = |id: &str, token: &str, extra: &[&str]| {
        let mut args = vec!["connections", "add", id, "--integration", "github", "--token", token];
        args.extend_from_slice(&["--base-url", s.mock.url()]);
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<String>>()
    };
    let clear = s.run(&add("in-clear", "clear-secret-token", &["--insecure-store-secrets-in-clear"]), &[]).await;
    let said = text(&clear.stdout);
    assert!(clear.status.success(), "{}", text(&clear.stderr));
    assert!(said.contains("in clear") && !said.contains("sealed"), "{said}");

    let key_env = [("NANGO_ENCRYPTION_KEY", old.as_str())];
    let sealed = s.run(&add("sealed", "sealed-secret-token", &[]), &key_env).await;
    assert!(sealed.status.success(), "{}", text(&sealed.stderr));
    assert!(text(&sealed.stdout).contains("sealed with NANGO_ENCRYPTION_KEY"), "{}", text(&sealed.stdout));

    let other = [("NANGO_ENCRYPTION_KEY", new.as_str())];
    let refused = s.run(&add("other", "other-secret-token", &[]), &other).await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(said.contains("another encryption key") && said.contains("rotate-key"), "{said}");

    let rotate_env = [("NANGO_ENCRYPTION_KEY", new.as_str()), ("OLD_NANGO_KEY", old.as_str())];
    let rotated = s.run(&["connections", "rotate-key", "--old-key-env", "OLD_NANGO_KEY"], &rotate_env).await;
    let said = text(&rotated.stdout);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(said.contains("re-sealed 2 connections"), "{said}");
    let listed = s.run(&["connections", "list", "--format", "json"], &other).await;
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(list.as_array().unwrap().iter().all(|c| c["unreadable"].is_null()), "{list}");
    assert!(!database_holds(s.dir.path(), "clear-secret-token"), "a secret stayed in clear after rotate-key");
    // Running it again changes nothing.
    let again = s.run(&["connections", "rotate-key", "--old-key-env", "OLD_NANGO_KEY"], &rotate_env).await;
    assert!(text(&again.stdout).contains("re-sealed 0 connections"), "{}", text(&again.stdout));
}

/// A failed run says it resumes from a checkpoint only when there is one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_does_not_promise_a_checkpoint_it_does_not_have() {
    let s = Setup::new(5, 0).await;
    let wrong_token = [
        "connections",
        "add",
        "demo",
        "--integration",
        "github",
        "--token",
        "not-the-token",
        "--base-url",
        s.mock.url(),
        "--metadata",
        r#"{"owner":"nango-rs","repo":"demo"}"#,
        "--insecure-store-secrets-in-clear",
    ];
    assert!(s.run(&wrong_token, &[]).await.status.success());
    let failed = s.run(&["run", "github-tickets", "--connection", "demo"], &[]).await;
    assert!(!failed.status.success());
    let said = text(&failed.stderr);
    assert!(said.contains("401"), "{said}");
    assert!(!said.contains("resumes from the last checkpoint"), "{said}");
    assert!(said.contains("no checkpoint"), "{said}");

    // A failed dry run leads with its error, then says what it would have saved before it.
    let dry = s.run(&["dryrun", "github-tickets", "--connection", "demo"], &[]).await;
    assert!(!dry.status.success());
    let said = text(&dry.stderr);
    assert!(said.starts_with("error: the sync failed: ") && said.contains("401"), "{said}");
    assert!(
        text(&dry.stdout).contains("before it failed, it would have saved:\n  no records"),
        "{}",
        text(&dry.stdout)
    );
}

/// Connection ids and integrations are checked before anything is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_add_refuses_bad_ids_integrations_and_base_urls() {
    let s = Setup::new(1, 0).await;
    let long = "x".repeat(100_000);
    for (id, integration, base_url, field) in [
        ("../../etc", "github", "http://127.0.0.1:9", "connection id"),
        (long.as_str(), "github", "http://127.0.0.1:9", "connection id"),
        ("acme", "nope", "http://127.0.0.1:9", "integration"),
        ("acme", "github", "file:///etc/passwd", "base URL"),
    ] {
        let args = ["connections", "add", id, "--integration", integration, "--provider", "github"];
        let out =
            s.run(&[&args[..], &["--base-url", base_url, "--insecure-store-secrets-in-clear"]].concat(), &[]).await;
        let said = text(&out.stderr);
        assert!(!out.status.success(), "{id:.20} {integration} {base_url} was accepted");
        assert!(said.contains(field), "{field}: {said:.300}");
        assert!(said.len() < 1000, "the message quotes a 100 KB id: {}", said.len());
    }
    let listed = s.run(&["connections", "list", "--format", "json"], &[]).await;
    assert_eq!(serde_json::from_slice::<Value>(&listed.stdout).unwrap(), json!([]));
}
