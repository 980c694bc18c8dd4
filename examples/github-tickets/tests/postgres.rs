//! The program as separate processes on one PostgreSQL database (`NANGO_DATABASE_URL=postgres://`),
//! against the mock provider: `connections add` and `run` write to it, two `serve` processes
//! answer from it, and the records API keeps its cursor promise across them while a run writes:
//! a reader that pages from its last cursor, asking one `serve` and then the other, gets every
//! new or changed record exactly once. Runs of the sync never overlap, whichever process runs
//! them (the lease is in the database).

mod common;
#[path = "../../../nango-runtime/tests/support/db.rs"]
mod db;

use common::{TOKEN, finish, text};
use nango::crypto::Sealer;
use nango::store::{RunRecord, RunStatus, Store};
use nango_mock_provider::{Faults, IssueUpdate};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

const SECRET_KEY: &str = "postgres-secret-key";

/// The program with the test's database and secret key.
fn program(database: &str, args: &[&str]) -> Command {
    let mut command = common::program();
    command.args(args).env("NANGO_DATABASE_URL", database).env("NANGO_SECRET_KEY", SECRET_KEY).env("RUST_LOG", "warn");
    command
}

async fn runs(database: &str) -> Vec<RunRecord> {
    let store = Store::open(database, Sealer::InsecureClear).await.unwrap();
    let mut runs = store.runs(None, None, 100).await.unwrap();
    store.close().await;
    runs.reverse();
    runs
}

/// Polls the runs until `done` holds (at most 60 s).
async fn wait_runs(database: &str, what: &str, done: impl Fn(&[RunRecord]) -> bool) -> Vec<RunRecord> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = runs(database).await;
        if done(&runs) {
            return runs;
        }
        assert!(Instant::now() < deadline, "{what}: not in time; runs: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A reader of `GET /records` that pages from its last cursor, asking the `serve` processes in
/// turn; what it got, by record id.
struct Reader {
    http: reqwest::Client,
    urls: Vec<String>,
    turn: usize,
    cursor: Option<String>,
}

impl Reader {
    /// Pages to the current end; every record it got (id, title, last action).
    async fn read_to_end(&mut self) -> Vec<(String, String, String)> {
        let mut got = Vec::new();
        loop {
            let url = &self.urls[self.turn % self.urls.len()];
            self.turn += 1;
            let mut request = self
                .http
                .get(format!("{url}/records"))
                .query(&[("model", "Ticket"), ("limit", "37")])
                .bearer_auth(SECRET_KEY)
                .header("Provider-Config-Key", "github")
                .header("Connection-Id", "demo");
            if let Some(cursor) = &self.cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{url}: {}", response.status());
            let body: Value = response.json().await.unwrap();
            for record in body["records"].as_array().unwrap() {
                let meta = &record["_nango_metadata"];
                got.push((
                    record["id"].as_str().unwrap().to_owned(),
                    record["title"].as_str().unwrap().to_owned(),
                    meta["last_action"].as_str().unwrap().to_owned(),
                ));
                self.cursor = Some(meta["cursor"].as_str().unwrap().to_owned());
            }
            if body["next_cursor"].is_null() {
                return got;
            }
        }
    }

    /// Pages while `writing` says a run goes on, then once more to the end.
    async fn read_while(&mut self, writing: impl AsyncFn() -> bool) -> Vec<(String, String, String)> {
        let mut got = Vec::new();
        loop {
            let still = writing().await;
            got.extend(self.read_to_end().await);
            if !still {
                return got;
            }
        }
    }
}

/// Each id once: the records by id.
fn once(got: Vec<(String, String, String)>) -> HashMap<String, (String, String)> {
    let mut by_id = HashMap::new();
    for (id, title, action) in got {
        assert!(by_id.insert(id.clone(), (title, action)).is_none(), "record {id} came twice");
    }
    by_id
}

fn overlap(a: &RunRecord, b: &RunRecord) -> bool {
    let end = |r: &RunRecord| r.ended_at.expect("ended");
    a.started_at < end(b) && b.started_at < end(a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serves_and_a_run_share_one_postgres_database_and_page_without_skip_or_repeat() {
    let db = db::PostgresDatabase::create().await;
    let database = db.url().to_owned();
    let mock = common::mock_provider(600, Faults { latency: Duration::from_millis(60), ..Faults::default() }).await;

    let add = [
        "connections",
        "add",
        "demo",
        "--integration",
        "github",
        "--token",
        TOKEN,
        "--base-url",
        mock.url(),
        "--metadata",
        r#"{"owner":"nango-rs","repo":"demo"}"#,
        "--insecure-store-secrets-in-clear",
    ];
    let added = finish(program(&database, &add).spawn().unwrap()).await;
    assert!(added.status.success(), "{}", text(&added.stderr));

    // `run` writes the first sync into PostgreSQL.
    let run = finish(program(&database, &["run", "github-tickets", "--connection", "demo"]).spawn().unwrap()).await;
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("600 added"), "{}", text(&run.stdout));

    // Two `serve` processes on the same database; their schedulers may run the sync too.
    let (a, url_a) = common::serve(program(&database, &["serve", "--port", "0", "--lease-ttl", "2"])).await;
    let (b, url_b) = common::serve(program(&database, &["serve", "--port", "0", "--lease-ttl", "2"])).await;
    let mut reader = Reader { http: reqwest::Client::new(), urls: vec![url_a, url_b.clone()], turn: 0, cursor: None };
    let first = once(reader.read_to_end().await);
    assert_eq!(first.len(), 600);
    wait_runs(&database, "no run going on", |runs| runs.iter().all(|r| r.status != RunStatus::Running)).await;

    // Changes at the provider, then a run triggered through one `serve`, read through both
    // while it writes.
    let updated: BTreeSet<u64> = (1..=600).filter(|n| n % 4 == 0).collect();
    for n in &updated {
        mock.update_issue(*n, IssueUpdate { title: Some(format!("changed {n}")), state: None }).unwrap();
    }
    let new = mock.add_issues(120);
    let triggered_at = chrono::Utc::now();
    let trigger = json!({"syncs": ["github-tickets"], "provider_config_key": "github", "connection_id": "demo"});
    let response = reqwest::Client::new()
        .post(format!("{url_b}/sync/trigger"))
        .bearer_auth(SECRET_KEY)
        .json(&trigger)
        .send()
        .await;
    assert!(response.unwrap().status().is_success());
    // The run that takes the trigger starts after it.
    let ended = |runs: &[RunRecord]| {
        runs.iter().any(|r| r.started_at >= triggered_at) && runs.iter().all(|r| r.status != RunStatus::Running)
    };
    let changed = once(reader.read_while(async || !ended(&runs(&database).await)).await);

    let expected: BTreeSet<String> = updated
        .iter()
        .map(|n| mock.issue(*n).unwrap()["id"].to_string())
        .chain(new.clone().map(|n| mock.issue(n).unwrap()["id"].to_string()))
        .collect();
    assert_eq!(changed.keys().cloned().collect::<BTreeSet<_>>(), expected, "every change once, nothing else");
    for n in &updated {
        let (title, action) = &changed[&mock.issue(*n).unwrap()["id"].to_string()];
        assert_eq!((title.as_str(), action.as_str()), (format!("changed {n}").as_str(), "UPDATED"));
    }
    for n in new {
        assert_eq!(changed[&mock.issue(n).unwrap()["id"].to_string()].1, "ADDED");
    }

    common::kill(a).await;
    common::kill(b).await;
    let runs = runs(&database).await;
    assert!(runs.iter().all(|r| r.status == RunStatus::Success), "{runs:#?}");
    for (i, x) in runs.iter().enumerate() {
        for y in &runs[i + 1..] {
            assert!(!overlap(x, y), "runs overlap: {runs:#?}");
        }
    }
}
