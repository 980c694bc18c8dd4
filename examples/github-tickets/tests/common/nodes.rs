//! A cluster of `github-tickets serve` processes on one PostgreSQL database of its own (on the
//! machine's server), against the mock provider on loopback: what the cluster test and the
//! runners benchmark share. Nodes are started with any roles and options, and the database
//! and the run history are read to check or measure what they did.
//!
//! Included by `#[path]`; the including crate declares `mod common;` (`tests/common/mod.rs`)
//! and `mod db;` (`nango-runtime/tests/support/db.rs`) at its root.
#![allow(dead_code)]

use crate::common::{self, TOKEN};
use crate::db;
use nango::crypto::Sealer;
use nango::store::{ConnectionKey, RunRecord, RunStatus, Store};
use nango::{Connection, Credentials, Secret};
use nango_mock_provider::{Faults, MockServer};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The API key of every node.
pub const SECRET_KEY: &str = "cluster-secret-key";

/// Seconds a runner's lease lasts without a heartbeat: how soon another takes a task over. The
/// takeover tests use it; short, so they are quick.
pub const LEASE_TTL: u64 = 2;

/// A `serve` process of the cluster, with what it printed to stderr.
pub struct Node {
    child: Child,
    /// Where it listens: `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `GET path` with the secret key: the status and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response =
            reqwest::Client::new().get(format!("{}{path}", self.url)).bearer_auth(SECRET_KEY).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A counter or gauge of `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Sends it a signal with `kill` (`-STOP`, `-CONT`, `-KILL`, `-TERM`).
    pub fn signal(&self, signal: &str) {
        let done = std::process::Command::new("kill").args([signal, &self.pid().to_string()]).status().unwrap();
        assert!(done.success(), "kill {signal} {}", self.pid());
    }

    /// CPU time the process used so far (user + system, all threads), from `/proc`.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.pid())
    }
}

/// CPU time of process `pid` so far (user + system, all its threads), from `/proc/PID/stat`;
/// 0 when it is gone. Readable for any process of the machine, also the database server's.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name, in parentheses, may hold spaces: the fields are counted after it.
    let Some((_, fields)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name (from 0).
    let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum();
    ticks as f64 / clock_ticks_per_second()
}

/// `getconf CLK_TCK` (100 on Linux unless the kernel says otherwise), asked once.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = std::process::Command::new("getconf").arg("CLK_TCK").output();
        out.ok().and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok()).unwrap_or(100.0)
    })
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database of its own, the mock provider and a store on the database; nodes started on it.
pub struct Cluster {
    /// The database, dropped with the cluster.
    pub db: db::PostgresDatabase,
    /// The mock GitHub every connection points at.
    pub mock: MockServer,
    /// The store on the database, for setting up and checking.
    pub store: Store,
    /// `--lease-ttl` of every node, in seconds ([`LEASE_TTL`] unless set).
    pub lease_ttl: u64,
}

impl Cluster {
    /// A new database, the mock provider serving `issues` issues with `latency` per request,
    /// and a store on the database.
    pub async fn new(issues: u64, latency: Duration) -> Cluster {
        let db = db::PostgresDatabase::create().await;
        let mock = common::mock_provider(issues, Faults { latency, ..Faults::default() }).await;
        let store = Store::open(db.url(), Sealer::InsecureClear).await.unwrap();
        Cluster { db, mock, store, lease_ttl: LEASE_TTL }
    }

    /// A connection `id` of `github` to the mock provider, with its token and repository.
    pub async fn add_connection(&self, id: &str) -> ConnectionKey {
        let mut connection = Connection::new("github", id, "github");
        connection.credentials = Credentials::Bearer { token: Secret::new(TOKEN) };
        connection.base_url = Some(self.mock.url().to_owned());
        connection.metadata = serde_json::json!({"owner": "octocat", "repo": "hello-world"});
        self.store.save_connection(&connection).await.unwrap()
    }

    /// `serve --roles ROLES` on a free port, once it listens.
    pub async fn node(&self, roles: &str, extra: &[&str]) -> Node {
        self.node_with(common::program(), self.db.url(), roles, extra).await
    }

    /// [`Cluster::node`] of a given program (the example's next version).
    pub async fn node_of(&self, command: std::process::Command, roles: &str, extra: &[&str]) -> Node {
        self.node_with(command, self.db.url(), roles, extra).await
    }

    /// `serve --roles ROLES` with `NANGO_DATABASE_URL=url` (the test's database, with options).
    pub async fn node_on(&self, url: &str, roles: &str, extra: &[&str]) -> Node {
        self.node_with(common::program(), url, roles, extra).await
    }

    /// `serve --roles ROLES` of `command` against the database at `url`, on a free port, once it
    /// listens.
    pub async fn node_with(&self, mut command: std::process::Command, url: &str, roles: &str, extra: &[&str]) -> Node {
        let lease = self.lease_ttl.to_string();
        command
            .args(["serve", "--port", "0", "--roles", roles, "--lease-ttl", &lease])
            .args(extra)
            .env("NANGO_DATABASE_URL", url)
            .env("NANGO_SECRET_KEY", SECRET_KEY)
            .env("NANGO_RETRY_DELAY_MS", "5")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("serve starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("serving on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20))).await.unwrap();
        let url = url.unwrap_or_else(|_| panic!("serve --roles {roles} did not say where it listens"));
        Node { child, url, log }
    }

    /// The runs of a connection's `github-tickets`, oldest first.
    pub async fn runs(&self, key: ConnectionKey) -> Vec<RunRecord> {
        self.runs_of(key, "github-tickets").await
    }

    /// The runs of a connection's sync, oldest first.
    pub async fn runs_of(&self, key: ConnectionKey, sync: &str) -> Vec<RunRecord> {
        let mut runs = self.store.runs(Some(key), Some(sync), 100).await.unwrap();
        runs.reverse();
        runs
    }

    /// Waits until every connection has `n` successful runs of `sync`.
    pub async fn synced(&self, keys: &[ConnectionKey], sync: &str, n: usize, limit: Duration) {
        self.wait(&format!("{n} successful run(s) of {sync} on every connection"), limit, async || {
            for key in keys {
                let runs = self.runs_of(*key, sync).await;
                if runs.iter().filter(|r| r.status == RunStatus::Success).count() < n {
                    return None;
                }
            }
            Some(())
        })
        .await
    }

    /// `POST /sync/trigger` of `sync` for the connection `id`, through an api node.
    pub async fn trigger(&self, api: &Node, sync: &str, id: &str) {
        let body = serde_json::json!({"syncs": [sync], "provider_config_key": "github", "connection_id": id});
        let answer = reqwest::Client::new()
            .post(format!("{}/sync/trigger", api.url))
            .bearer_auth(SECRET_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{:?}", answer.text().await);
    }

    /// Rows of the task queue of `sync`.
    pub async fn tasks_of(&self, sync: &str) -> i64 {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(self.db.url()).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_tasks WHERE sync = $1")
            .bind(sync)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        n
    }

    /// Polls until `done` holds, at most `limit`.
    pub async fn wait<T>(&self, what: &str, limit: Duration, mut done: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(found) = done().await {
                return found;
            }
            assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pid in the label of the lease of the connection's sync, while one is held.
    pub async fn lease_holder(&self, key: ConnectionKey) -> Option<u32> {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(self.db.url()).await.unwrap();
        let label: Option<String> =
            sqlx::query_scalar("SELECT label FROM sync_leases WHERE connection = $1 AND sync = 'github-tickets'")
                .bind(key.get())
                .fetch_optional(&mut conn)
                .await
                .unwrap();
        let _ = conn.close().await;
        let label = label?;
        let pid = label.split("(pid ").nth(1)?.split(' ').next()?;
        pid.parse().ok()
    }

    /// What a run wrote, as counted in its write transactions.
    pub async fn written_by(&self, run: i64) -> i64 {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(self.db.url()).await.unwrap();
        let n: Option<i64> =
            sqlx::query_scalar("SELECT sum(added + updated + deleted)::BIGINT FROM run_changes WHERE run = $1")
                .bind(run)
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let _ = conn.close().await;
        n.unwrap_or(0)
    }

    /// Every live ticket of a connection, by id, with how many rows hold it.
    pub async fn tickets(&self, key: ConnectionKey) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        let mut query = nango::store::RecordQuery { model: "Ticket".into(), limit: 1000, ..Default::default() };
        loop {
            let page = self.store.records(key, &query).await.unwrap();
            for record in page.records {
                *out.entry(record.id).or_default() += 1;
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return out,
            }
        }
    }
}
