//! `deploy` through the real program: the binary built from the example's nango.yaml against a
//! store where an older version of that nango.yaml is deployed (one more sync, another
//! frequency, a field fewer). `deploy --plan` prints the plan (golden), `serve` refuses to start
//! while a destructive change is pending and says what to do, `deploy --allow-destructive`
//! applies it (and `serve` then tells the webhook receiver of the removed model), and `serve`
//! applies a pending non-destructive change at start by itself. Each on SQLite and PostgreSQL.
//!
//! The older version is described through nango-codegen (the same reading of nango.yaml the
//! runtime's deploy tests use), and the first test checks that this reading of the current
//! nango.yaml is exactly what the real binary deploys.

// The shared manifest reader names the runtime crate, which this crate calls `nango`.
extern crate nango as nango_runtime;

mod common;
#[macro_use]
#[path = "../../../nango-runtime/tests/support/db.rs"]
mod db;
#[path = "../../../nango-runtime/tests/support/manifest.rs"]
mod manifest;

use common::{finish, text};
use db::TestDb;
use manifest::manifest_of;
use nango::Connection;
use nango::crypto::Sealer;
use nango::deploy::{ApplyOptions, Deployer, Manifest};
use nango::store::{PreparedRecord, RecordChange, RunEnd, RunStatus, Store};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Output;

const EXAMPLE: &str = include_str!("../nango.yaml");

/// The older nango.yaml: `github-tickets` every hour, tickets without `comments`, and a
/// `github-milestones` sync the current one no longer has.
fn older() -> String {
    let milestones = "      github-milestones:\n        description: The milestones of a repository\n        runs: every hour\n        sync_type: full\n        input: GithubRepo\n        output: Milestone\n        endpoint: GET /milestones\n";
    let text = EXAMPLE
        .replace("runs: every 5 minutes", "runs: every hour")
        .replace("    comments: number\n", "")
        .replace("models:\n", &format!("{milestones}models:\n"));
    format!("{text}  Milestone:\n    id: string\n    title: string\n")
}

on_both_backends!(
    the_binary_deploys_what_its_nango_yaml_says,
    deploy_plans_refuses_destructive_changes_then_applies_them,
    serve_applies_non_destructive_changes_at_start,
);

/// The test's database and the folder the program runs in.
struct Setup {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(db: TestDb) -> Setup {
        Setup { db, dir: tempfile::tempdir().unwrap() }
    }

    fn database(&self) -> String {
        self.db.url()
    }

    async fn store(&self) -> Store {
        Store::open(&self.database(), Sealer::InsecureClear).await.unwrap()
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = common::program();
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("NANGO_DATABASE_URL", self.database())
            .env("NANGO_SECRET_KEY", "deploy-secret-key")
            .env("RUST_LOG", "warn");
        finish(command.spawn().unwrap()).await
    }

    /// `serve --port 0` until it listens (after `wait`): what it printed before, then it is
    /// killed.
    async fn serve_start(&self, env: &[(&str, &str)], wait: impl AsyncFnOnce()) -> String {
        let mut command = common::program();
        command.envs(env.iter().copied());
        command
            .args(["serve", "--port", "0"])
            .current_dir(self.dir.path())
            .env("NANGO_DATABASE_URL", self.database())
            .env("NANGO_SECRET_KEY", "deploy-secret-key")
            .env("RUST_LOG", "warn");
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = tokio::task::spawn_blocking(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let done = line.starts_with("serving on ");
                seen.push(line);
                if done {
                    break;
                }
            }
            seen
        })
        .await
        .unwrap();
        wait().await;
        common::kill(child).await;
        lines.join("\n")
    }

    /// The store with the older version deployed, a connection, and two stored milestones.
    async fn with_older_deployed(&self) -> Store {
        let store = self.store().await;
        let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        let deployer = Deployer::new(store.clone(), "older-build");
        let plan = deployer.plan(manifest_of(&older())).await.unwrap();
        deployer.apply(&plan, ApplyOptions::default()).await.unwrap();
        let run = store.begin_run(key, "github-milestones", false).await.unwrap();
        let records = [json!({"id": "m1", "title": "v1"}), json!({"id": "m2", "title": "v2"})]
            .into_iter()
            .map(|r| PreparedRecord::new("Milestone", r).unwrap())
            .collect();
        store.apply(run.ids, "Milestone", RecordChange::Save, records).await.unwrap();
        let end = RunEnd {
            status: RunStatus::Success,
            counts: Default::default(),
            error: None,
            advance_last_sync_date: true,
            clear_checkpoint: true,
        };
        store.finish_run(&run, "github-milestones", &end).await.unwrap();
        store
    }
}

/// A webhook receiver on loopback: its URL and the bodies it got.
async fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(serde_json::from_slice::<Value>(&body).unwrap_or_default());
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), received)
}

/// On an empty store the binary deploys itself, and what it records is exactly the manifest
/// nango-codegen reads from its nango.yaml: the tests that plan from nango.yaml texts plan what
/// real binaries deploy.
async fn the_binary_deploys_what_its_nango_yaml_says(db: TestDb) {
    let setup = Setup::new(db);
    let out = setup.run(&["deploy"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let store = setup.store().await;
    let deployed = store.deployments(1).await.unwrap().remove(0);
    let recorded: Manifest = serde_json::from_str(&deployed.manifest).unwrap();
    assert_eq!(recorded, manifest_of(EXAMPLE));
    assert_eq!(deployed.fingerprint, manifest_of(EXAMPLE).fingerprint());
    assert!(deployed.applied_by.starts_with("github-tickets (pid "), "{}", deployed.applied_by);
    let again = setup.run(&["deploy", "--plan"]).await;
    assert!(text(&again.stdout).contains("up to date: nothing to change"), "{}", text(&again.stdout));
}

async fn deploy_plans_refuses_destructive_changes_then_applies_them(db: TestDb) {
    let setup = Setup::new(db);
    let store = setup.with_older_deployed().await;

    let plan = setup.run(&["deploy", "--plan"]).await;
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    expectorate::assert_contents("tests/golden/deploy-plan.txt", &text(&plan.stdout));
    let json = setup.run(&["deploy", "--plan", "--format", "json"]).await;
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((json["destructive"].as_u64(), json["changes"].as_array().map(Vec::len)), (Some(2), Some(4)));
    assert_eq!(json["target"], manifest_of(EXAMPLE).fingerprint());

    // serve refuses to start, naming each destructive change and what to do.
    let serve = setup.run(&["serve", "--port", "0"]).await;
    assert!(!serve.status.success());
    let said = text(&serve.stderr);
    assert!(
        said.contains("not starting: this binary differs from the deployed one by 2 destructive change(s):"),
        "{said}"
    );
    assert!(
        said.contains("- sync github/github-milestones: unscheduled for 1 connection (acme)  [destructive]"),
        "{said}"
    );
    assert!(
        said.contains("- model Milestone of github: 2 records deleted in 1 connection (acme)  [destructive]"),
        "{said}"
    );
    assert!(said.contains("`deploy --allow-destructive`, or start with `serve --allow-destructive`"), "{said}");
    // `deploy` without the flag: refused too, nothing changed.
    let refused = setup.run(&["deploy"]).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("apply them with `deploy --allow-destructive`"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(store.deployments(10).await.unwrap().len(), 1);

    let applied = setup.run(&["deploy", "--allow-destructive"]).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(text(&applied.stdout).ends_with("applied as deployment #2\n"), "{}", text(&applied.stdout));
    let key = store.connection_key("github", "acme").await.unwrap().unwrap();
    assert_eq!(store.record_counts(key).await.unwrap().get("Milestone"), None);
    assert_eq!(store.pending_deploy_webhooks(10).await.unwrap().len(), 1);

    let history = setup.run(&["deploy", "--history"]).await;
    let lines: Vec<String> = text(&history.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("#2 ") && lines[0].ends_with(": 4 changes"), "{lines:?}");
    assert!(lines[1].starts_with("#1 ") && lines[1].contains("by older-build (pid"), "{lines:?}");

    // Now serve starts, with nothing left to deploy, and tells the webhook receiver that the
    // milestones are gone.
    let (hook_url, received) = receiver().await;
    let delivered = async || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        // Delivered, and taken off the queue.
        while std::time::Instant::now() < deadline
            && (received.lock().unwrap().is_empty() || !store.pending_deploy_webhooks(10).await.unwrap().is_empty())
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let started = setup.serve_start(&[("NANGO_WEBHOOK_URL", &hook_url)], delivered).await;
    assert!(!started.contains("deployed this binary"), "{started}");
    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(
        (&hooks[0]["type"], &hooks[0]["model"], &hooks[0]["recordsDeleted"], &hooks[0]["syncNames"]),
        (&json!("model_removed"), &json!("Milestone"), &json!(2), &json!(["github-milestones"]))
    );
    assert!(store.pending_deploy_webhooks(10).await.unwrap().is_empty());
}

/// A pending change that loses nothing (a frequency) is applied by `serve` at start.
async fn serve_applies_non_destructive_changes_at_start(db: TestDb) {
    let setup = Setup::new(db);
    let store = setup.store().await;
    store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    let deployer = Deployer::new(store.clone(), "older-build");
    let hourly = EXAMPLE.replace("runs: every 5 minutes", "runs: every hour");
    let plan = deployer.plan(manifest_of(&hourly)).await.unwrap();
    deployer.apply(&plan, ApplyOptions::default()).await.unwrap();

    let said = setup.serve_start(&[], async || {}).await;
    assert!(said.contains("deployed this binary's changes as deployment #2:"), "{said}");
    assert!(
        said.contains(
            "~ sync github/github-tickets: frequency `every hour` -> `every 5 minutes` for 1 connection (acme)"
        ),
        "{said}"
    );
    assert_eq!(store.deployments(10).await.unwrap()[0].fingerprint, manifest_of(EXAMPLE).fingerprint());
}
