//! Sync benchmark: the `github-tickets` sync into SQLite, next to a hand-written baseline.
//!
//! `cargo bench -p github-tickets --bench sync`
//!
//! The parent process serves N generated issues with the mock provider; every measurement runs
//! in a child process of its own (this binary again, role chosen by `SYNC_BENCH_ROLE`), so its
//! peak RSS (`VmHWM`) is its alone, and its wall time from its spawn to the end of its first sync
//! is what a user running the sync as a command waits for. Variants:
//!
//! * `framework`: the real sync through `Runtime::run_sync` into a fresh SQLite store (change
//!   detection, run history, checkpoints, batches of 1,000 records), on a multi-threaded tokio
//!   runtime like the CLI's. Its second run over unchanged issues lists them again from the
//!   start with the validators the first run stored: every page is a conditional request,
//!   answered `304 Not Modified` by the mock provider as GitHub would.
//! * `ureq-rusqlite`, the baseline of the ratios: what a user would write by hand without async:
//!   blocking ureq GETs one after another following `Link`, the same typed decoding and `Ticket`
//!   mapping, each ticket as JSON text, rusqlite with the store's pragmas, one transaction per
//!   page, one prepared `INSERT OR REPLACE` per record. One thread.
//! * `reqwest-sqlx`: the same loop with reqwest and sqlx (one `INSERT OR REPLACE` per record,
//!   each a round trip to sqlx's SQLite worker thread).
//! * `example`: the same sync as `framework`, but as a user runs it: the example's own binary,
//!   `github-tickets run github-tickets --connection bench`, measured by `/usr/bin/time` (wall,
//!   CPU and peak RSS of that process from its start to its exit; the connection is added before,
//!   with `github-tickets connections add`). Its figures are all "whole process"; it has no
//!   "sync alone".
//!
//! The machine is noisy, so the variants take turns and the figure to compare across runs is
//! the ratio of their throughputs. Unpinned by default, as a user runs it; `SYNC_BENCH_PIN=1`
//! pins the mock provider to the first CPU and each child to the last one (with `taskset`),
//! which measures the work each variant does rather than the scheduler's wake-ups (unpinned,
//! the reqwest + sqlx loop's cost swung 4x between runs on the 2-core VMs here). Environment:
//!
//! * `SYNC_BENCH_SIZES=100000,1000000` — issue counts (default both).
//! * `SYNC_BENCH_REPS=5` — repetitions per variant (default 5 below 1M, 2 from 1M on).
//! * `SYNC_BENCH_QUICK=1` — 20,000 issues, one repetition: for trying things out.
//! * `SYNC_BENCH_RERUN=0` — skip the second run over unchanged data (done at the smallest size).
//! * `SYNC_BENCH_PIN=1` — pin to CPUs.
//!
//! A child can also be run by hand against any mock provider (e.g. under a profiler):
//! `SYNC_BENCH_ROLE=framework SYNC_BENCH_URL=http://127.0.0.1:PORT SYNC_BENCH_N=20000
//! SYNC_BENCH_SPAWNED_AT=0 <bench binary>` (`nango-mock-provider --issues 20000 --token
//! bench-token --port PORT`).

use github_tickets::models::Ticket;
use github_tickets::sync::GithubIssue;
use nango::crypto::Sealer;
use nango::engine::Runtime;
use nango::store::Store;
use nango::{Connection, Credentials, Secret};
use nango_mock_provider::MockProvider;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const TOKEN: &str = "bench-token";
const CONNECTION: &str = "bench";

/// What a child reports to the parent, as one JSON line on stdout.
#[derive(Debug, Serialize, Deserialize)]
struct Measured {
    records: u64,
    /// The first sync into an empty database: wall time, and CPU time of this process (user +
    /// system, all threads), which other load on the machine disturbs less.
    secs: f64,
    cpu_secs: f64,
    /// The same two from the process's start (its spawn, for the wall time) to the end of the
    /// first sync: the figure of a user running the sync as a command.
    process_secs: f64,
    process_cpu_secs: f64,
    /// `VmHWM` right after the first sync (the high-water mark only grows, so this is its peak).
    peak_rss_kb: u64,
    /// A second sync over the same, unchanged issues (when asked for).
    rerun_secs: Option<f64>,
    rerun_cpu_secs: Option<f64>,
}

fn main() {
    if let Ok(role) = std::env::var("SYNC_BENCH_ROLE") {
        if let Err(e) = child(&role) {
            eprintln!("sync bench child `{role}` failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = parent() {
        eprintln!("sync bench failed: {e}");
        std::process::exit(1);
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// The children.

fn child(role: &str) -> BenchResult<()> {
    let url = std::env::var("SYNC_BENCH_URL")?;
    let n: u64 = std::env::var("SYNC_BENCH_N")?.parse()?;
    let rerun = env_or("SYNC_BENCH_RERUN", 0u8) == 1;
    let measured = match role {
        // Like the demo and the CLI: a multi-threaded runtime on the machine's cores.
        "framework" => tokio::runtime::Runtime::new()?.block_on(framework(&url, n, rerun))?,
        "reqwest-sqlx" => tokio::runtime::Runtime::new()?.block_on(baseline(&url, n, rerun))?,
        // No async runtime at all: one thread, blocking calls.
        "ureq-rusqlite" => blocking_baseline(&url, n, rerun)?,
        // The example binary as a user runs it; this process only prepares and times it.
        "example" => tokio::runtime::Runtime::new()?.block_on(example(&url, n, rerun))?,
        other => return Err(format!("unknown role `{other}`").into()),
    };
    println!("{}", serde_json::to_string(&measured)?);
    Ok(())
}

/// Wall time since the parent spawned this process (passed as `SYNC_BENCH_SPAWNED_AT`, Unix
/// nanoseconds): what a user waits for, start-up and opening the database included.
fn since_spawn() -> BenchResult<f64> {
    let spawned: u128 = std::env::var("SYNC_BENCH_SPAWNED_AT")?.parse()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    Ok(now.saturating_sub(spawned) as f64 / 1e9)
}

/// The child's peak resident set so far, from `/proc/self/status`.
fn peak_rss_kb() -> BenchResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or("no VmHWM in /proc/self/status")?;
    Ok(line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse()?)
}

/// User + system CPU time of this process so far, from `/proc/self/stat` (in clock ticks of
/// 10 ms: `USER_HZ` is 100 on Linux).
fn cpu_secs() -> BenchResult<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let fields: Vec<&str> = stat.rsplit_once(')').ok_or("bad /proc/self/stat")?.1.split_whitespace().collect();
    let ticks = |i: usize| -> BenchResult<f64> { Ok(fields.get(i).ok_or("short /proc/self/stat")?.parse::<f64>()?) };
    // Fields 14 (utime) and 15 (stime); `fields[0]` is field 3.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// The real example: `github_tickets::sync::github_tickets` run by the runtime into SQLite.
async fn framework(url: &str, n: u64, rerun: bool) -> BenchResult<Measured> {
    github_tickets::models::PROJECT.check().map_err(|problems| problems.join("; "))?;
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&db, Sealer::InsecureClear).await?;
    let mut connection = Connection::new("github", CONNECTION, "github");
    connection.credentials = Credentials::Bearer { token: Secret::new(TOKEN) };
    connection.base_url = Some(url.to_owned());
    connection.metadata = serde_json::json!({"owner": "o", "repo": "r"});
    let key = store.save_connection(&connection).await?;
    let sync = nango::registered_syncs()
        .find(|s| s.descriptor.name == "github-tickets")
        .ok_or("the github-tickets sync is not registered")?;
    let runtime = Runtime::new(store);

    let (start, cpu) = (Instant::now(), cpu_secs()?);
    let report = runtime.run_sync(sync, "github", CONNECTION).await?;
    let (secs, cpu_used) = (start.elapsed().as_secs_f64(), cpu_secs()? - cpu);
    let (process_secs, process_cpu_secs) = (since_spawn()?, cpu_secs()?);
    let peak_rss_kb = peak_rss_kb()?;
    if let Some(e) = report.error {
        return Err(format!("run failed: {e}").into());
    }
    let added = report.counts.get("Ticket").map_or(0, |c| c.added);
    if added != n {
        return Err(format!("expected {n} tickets added, got {:?}", report.counts).into());
    }
    let mut measured = Measured {
        records: n,
        secs,
        cpu_secs: cpu_used,
        process_secs,
        process_cpu_secs,
        peak_rss_kb,
        rerun_secs: None,
        rerun_cpu_secs: None,
    };
    if !rerun {
        return Ok(measured);
    }
    // The sync is incremental: a next run would only ask for what changed since this one. To
    // list every issue again, the second run resumes from a checkpoint at the listing's first
    // page, keeping the records and the pages' validators (a reset would forget those too): its
    // pages are conditional requests, answered 304 Not Modified, and nothing is written.
    let start = serde_json::to_value(github_tickets::sync::Position { since: None, page: 1 })?;
    runtime.store().save_checkpoint(key, "github-tickets", Some(&start)).await?;
    let (start, cpu) = (Instant::now(), cpu_secs()?);
    let report = runtime.run_sync(sync, "github", CONNECTION).await?;
    measured.rerun_secs = Some(start.elapsed().as_secs_f64());
    measured.rerun_cpu_secs = Some(cpu_secs()? - cpu);
    if let Some(e) = report.error {
        return Err(format!("second run failed: {e}").into());
    }
    if report.counts.values().any(|c| !c.is_empty()) {
        return Err(format!("the second run over unchanged issues changed {:?}", report.counts).into());
    }
    Ok(measured)
}

/// The example's binary (`github-tickets`), as a user runs it.
fn example_program(db: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_github-tickets"));
    command.env("NANGO_DATABASE_URL", db).env("RUST_LOG", "warn").stdin(Stdio::null());
    for name in ["NANGO_ENCRYPTION_KEY", "NANGO_SECRET_KEY", "NANGO_LEASE_TTL"] {
        command.env_remove(name);
    }
    command
}

/// `github-tickets run github-tickets --connection bench` under `/usr/bin/time`: wall seconds,
/// CPU seconds (user + system) and peak RSS in kB of that process, from its start to its exit.
fn timed_example_run(db: &str) -> BenchResult<(f64, f64, u64)> {
    let program = env!("CARGO_BIN_EXE_github-tickets");
    let output = Command::new("/usr/bin/time")
        .args(["-f", "nango-bench-time %e %U %S %M", program, "run", "github-tickets", "--connection", CONNECTION])
        .env("NANGO_DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .env_remove("NANGO_ENCRYPTION_KEY")
        .env_remove("NANGO_LEASE_TTL")
        .stdin(Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("`github-tickets run` failed: {stderr}").into());
    }
    let line =
        stderr.lines().rev().find_map(|l| l.strip_prefix("nango-bench-time ")).ok_or("no timing from /usr/bin/time")?;
    let fields: Vec<f64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    match fields[..] {
        [wall, user, system, rss_kb] => Ok((wall, user + system, rss_kb as u64)),
        _ => Err(format!("unexpected timing `{line}`").into()),
    }
}

/// The example binary: the connection added with its CLI, then `run` timed as a whole process;
/// the second run resumes from a checkpoint at the listing's start, as `framework`'s does.
async fn example(url: &str, n: u64, rerun: bool) -> BenchResult<Measured> {
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}", dir.path().join("nango.db").display());
    let added = example_program(&db)
        .args(["connections", "add", CONNECTION, "--integration", "github", "--token", TOKEN, "--base-url", url])
        .args(["--metadata", r#"{"owner":"o","repo":"r"}"#, "--insecure-store-secrets-in-clear"])
        .output()?;
    if !added.status.success() {
        return Err(format!("`connections add` failed: {}", String::from_utf8_lossy(&added.stderr)).into());
    }
    let (secs, cpu, peak_rss_kb) = timed_example_run(&db)?;
    let store = Store::open(&db, Sealer::InsecureClear).await?;
    let key = store.connection_key("github", CONNECTION).await?.ok_or("the connection is gone")?;
    let stored = store.record_counts(key).await?.get("Ticket").copied().unwrap_or(0);
    if stored != n {
        return Err(format!("expected {n} tickets stored, found {stored}").into());
    }
    let mut measured = Measured {
        records: n,
        secs,
        cpu_secs: cpu,
        process_secs: secs,
        process_cpu_secs: cpu,
        peak_rss_kb,
        rerun_secs: None,
        rerun_cpu_secs: None,
    };
    if rerun {
        let start = serde_json::to_value(github_tickets::sync::Position { since: None, page: 1 })?;
        store.save_checkpoint(key, "github-tickets", Some(&start)).await?;
        let (secs, cpu, _) = timed_example_run(&db)?;
        measured.rerun_secs = Some(secs);
        measured.rerun_cpu_secs = Some(cpu);
        let runs = store.runs(Some(key), Some("github-tickets"), 1).await?;
        if runs.first().is_none_or(|run| run.counts.values().any(|c| !c.is_empty())) {
            return Err(
                format!("the second run over unchanged issues changed {:?}", runs.first().map(|r| &r.counts)).into()
            );
        }
    }
    store.close().await;
    Ok(measured)
}

/// "Plain reqwest + sqlx inserts, one transaction per page, no framework."
async fn baseline(url: &str, n: u64, rerun: bool) -> BenchResult<Measured> {
    let dir = tempfile::tempdir()?;
    // The pragmas of the store's SQLite backend.
    let mut db = SqliteConnectOptions::new()
        .filename(dir.path().join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE tickets (id TEXT PRIMARY KEY, json TEXT NOT NULL)").execute(&mut db).await?;
    let client = reqwest::Client::new();

    let (start, cpu) = (Instant::now(), cpu_secs()?);
    let written = baseline_pass(&client, &mut db, url).await?;
    let (secs, cpu_used) = (start.elapsed().as_secs_f64(), cpu_secs()? - cpu);
    let (process_secs, process_cpu_secs) = (since_spawn()?, cpu_secs()?);
    let peak_rss_kb = peak_rss_kb()?;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(&mut db).await?;
    if written != n || stored as u64 != n {
        return Err(format!("expected {n} tickets, wrote {written}, stored {stored}").into());
    }
    let mut measured = Measured {
        records: n,
        secs,
        cpu_secs: cpu_used,
        process_secs,
        process_cpu_secs,
        peak_rss_kb,
        rerun_secs: None,
        rerun_cpu_secs: None,
    };
    if !rerun {
        return Ok(measured);
    }
    // Without change detection, the second pass writes every record again.
    let (start, cpu) = (Instant::now(), cpu_secs()?);
    baseline_pass(&client, &mut db, url).await?;
    measured.rerun_secs = Some(start.elapsed().as_secs_f64());
    measured.rerun_cpu_secs = Some(cpu_secs()? - cpu);
    Ok(measured)
}

/// Walks every page and writes its tickets; returns how many.
async fn baseline_pass(client: &reqwest::Client, db: &mut sqlx::SqliteConnection, url: &str) -> BenchResult<u64> {
    let mut next = Some(format!("{url}/repos/o/r/issues?state=all&sort=updated&direction=asc&per_page=100"));
    let mut written = 0;
    while let Some(page_url) = next.take() {
        let response = client.get(&page_url).bearer_auth(TOKEN).send().await?.error_for_status()?;
        next = response.headers().get(reqwest::header::LINK).and_then(|v| v.to_str().ok()).and_then(next_link);
        let issues: Vec<GithubIssue> = serde_json::from_slice(&response.bytes().await?)?;
        // The mock lists no pull requests, so the sync's filter would keep every issue.
        let mut tx = db.begin().await?;
        for ticket in issues.into_iter().map(Ticket::from) {
            let json = serde_json::to_string(&ticket)?;
            sqlx::query("INSERT OR REPLACE INTO tickets (id, json) VALUES (?, ?)")
                .bind(&ticket.id)
                .bind(json)
                .execute(&mut *tx)
                .await?;
            written += 1;
        }
        tx.commit().await?;
    }
    Ok(written)
}

/// "A blocking loop a user would write by hand": ureq GETs one after another, rusqlite with the
/// store's pragmas, one transaction per page, one prepared `INSERT OR REPLACE` per record. One
/// thread, no async runtime.
fn blocking_baseline(url: &str, n: u64, rerun: bool) -> BenchResult<Measured> {
    let dir = tempfile::tempdir()?;
    let mut db = rusqlite::Connection::open(dir.path().join("baseline.db"))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    db.busy_timeout(Duration::from_secs(30))?;
    db.execute("CREATE TABLE tickets (id TEXT PRIMARY KEY, json TEXT NOT NULL)", ())?;
    let agent = ureq::Agent::new_with_defaults();

    let (start, cpu) = (Instant::now(), cpu_secs()?);
    let written = blocking_pass(&agent, &mut db, url)?;
    let (secs, cpu_used) = (start.elapsed().as_secs_f64(), cpu_secs()? - cpu);
    let (process_secs, process_cpu_secs) = (since_spawn()?, cpu_secs()?);
    let peak_rss_kb = peak_rss_kb()?;
    let stored: i64 = db.query_row("SELECT COUNT(*) FROM tickets", (), |row| row.get(0))?;
    if written != n || stored as u64 != n {
        return Err(format!("expected {n} tickets, wrote {written}, stored {stored}").into());
    }
    let mut measured = Measured {
        records: n,
        secs,
        cpu_secs: cpu_used,
        process_secs,
        process_cpu_secs,
        peak_rss_kb,
        rerun_secs: None,
        rerun_cpu_secs: None,
    };
    if !rerun {
        return Ok(measured);
    }
    // Without change detection, the second pass writes every record again.
    let (start, cpu) = (Instant::now(), cpu_secs()?);
    blocking_pass(&agent, &mut db, url)?;
    measured.rerun_secs = Some(start.elapsed().as_secs_f64());
    measured.rerun_cpu_secs = Some(cpu_secs()? - cpu);
    Ok(measured)
}

/// Walks every page with blocking calls and writes its tickets; returns how many.
fn blocking_pass(agent: &ureq::Agent, db: &mut rusqlite::Connection, url: &str) -> BenchResult<u64> {
    let mut next = Some(format!("{url}/repos/o/r/issues?state=all&sort=updated&direction=asc&per_page=100"));
    let authorization = format!("Bearer {TOKEN}");
    let mut written = 0;
    while let Some(page_url) = next.take() {
        // ureq answers a status of 400 or more with an error by default.
        let mut response = agent.get(&page_url).header("Authorization", &authorization).call()?;
        next = response.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
        let issues: Vec<GithubIssue> = serde_json::from_slice(&response.body_mut().read_to_vec()?)?;
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare("INSERT OR REPLACE INTO tickets (id, json) VALUES (?1, ?2)")?;
            for ticket in issues.into_iter().map(Ticket::from) {
                let json = serde_json::to_string(&ticket)?;
                insert.execute((&ticket.id, &json))?;
                written += 1;
            }
        }
        tx.commit()?;
    }
    Ok(written)
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == r#"rel="next""#)
            .then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

// ---------------------------------------------------------------------------------------------
// The parent.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Framework,
    /// The hand-written blocking loop: the baseline the ratios are of.
    Blocking,
    /// The hand-written async loop (reqwest + sqlx), as before.
    Async,
    /// The example's binary, `github-tickets run`.
    Example,
}

impl Variant {
    const ALL: [Variant; 4] = [Variant::Framework, Variant::Blocking, Variant::Async, Variant::Example];

    fn role(self) -> &'static str {
        match self {
            Variant::Framework => "framework",
            Variant::Blocking => "ureq-rusqlite",
            Variant::Async => "reqwest-sqlx",
            Variant::Example => "example",
        }
    }
}

/// The medians of one size, per variant in the order of [`Variant::ALL`].
struct Row {
    n: u64,
    reps: usize,
    summaries: [Summary; 4],
}

/// Median throughput and peak RSS of one variant at one size.
struct Summary {
    /// Records per second of the whole process: from its spawn to the end of the first sync.
    process_per_sec: f64,
    /// Records per second of the process's CPU time (all threads) over that span.
    process_per_cpu_sec: f64,
    /// Records per second of the first sync alone (start-up excluded).
    records_per_sec: f64,
    records_per_cpu_sec: f64,
    peak_rss_mb: f64,
    rerun_records_per_sec: Option<f64>,
    rerun_records_per_cpu_sec: Option<f64>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

fn summarize(runs: &[Measured]) -> Summary {
    let rps = |secs: f64, n: u64| n as f64 / secs;
    let of = |f: &dyn Fn(&Measured) -> f64| median(runs.iter().map(f).collect());
    let reruns: Vec<f64> = runs.iter().filter_map(|m| m.rerun_secs.map(|s| rps(s, m.records))).collect();
    let rerun_cpus: Vec<f64> = runs.iter().filter_map(|m| m.rerun_cpu_secs.map(|s| rps(s, m.records))).collect();
    Summary {
        process_per_sec: of(&|m| rps(m.process_secs, m.records)),
        process_per_cpu_sec: of(&|m| rps(m.process_cpu_secs, m.records)),
        records_per_sec: of(&|m| rps(m.secs, m.records)),
        records_per_cpu_sec: of(&|m| rps(m.cpu_secs, m.records)),
        peak_rss_mb: of(&|m| m.peak_rss_kb as f64 / 1024.0),
        rerun_records_per_sec: (!reruns.is_empty()).then(|| median(reruns)),
        rerun_records_per_cpu_sec: (!rerun_cpus.is_empty()).then(|| median(rerun_cpus)),
    }
}

/// The CPUs to pin the mock provider and the children to, if asked for and possible.
fn pinning() -> Option<(usize, usize)> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if env_or("SYNC_BENCH_PIN", 0u8) == 0 || cpus < 2 {
        return None;
    }
    // Pins this process (all its threads; threads made later inherit it) to the first CPU.
    let pid = std::process::id().to_string();
    match Command::new("taskset").args(["-a", "-p", "-c", "0", &pid]).stdout(Stdio::null()).status() {
        Ok(status) if status.success() => Some((0, cpus - 1)),
        _ => {
            eprintln!("taskset failed: running unpinned");
            None
        }
    }
}

fn run_child(variant: Variant, url: &str, n: u64, rerun: bool, cpu: Option<usize>) -> BenchResult<Measured> {
    let exe = std::env::current_exe()?;
    let mut command = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let spawned_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
    let output = command
        .env("SYNC_BENCH_ROLE", variant.role())
        .env("SYNC_BENCH_URL", url)
        .env("SYNC_BENCH_N", n.to_string())
        .env("SYNC_BENCH_RERUN", if rerun { "1" } else { "0" })
        .env("SYNC_BENCH_SPAWNED_AT", spawned_at.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("the {} child exited with {}", variant.role(), output.status).into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().ok_or("the child printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

fn parent() -> BenchResult<()> {
    let quick = env_or("SYNC_BENCH_QUICK", 0u8) == 1;
    let sizes: Vec<u64> = match std::env::var("SYNC_BENCH_SIZES") {
        Ok(list) => list.split(',').map(|s| s.trim().replace('_', "").parse()).collect::<Result<_, _>>()?,
        Err(_) if quick => vec![20_000],
        Err(_) => vec![100_000, 1_000_000],
    };
    let rerun_at = if env_or("SYNC_BENCH_RERUN", 1u8) == 1 { sizes.iter().min().copied() } else { None };
    // Before the runtime starts, so that its threads inherit the CPU.
    let pinned = pinning();
    match pinned {
        Some((mock, child)) => eprintln!("mock provider on CPU {mock}, children on CPU {child}"),
        None => eprintln!("unpinned"),
    }
    // The mock provider runs here, on its own threads, while the children sync from it.
    let rt = tokio::runtime::Runtime::new()?;
    let mut rows = Vec::new();
    for &n in &sizes {
        let reps = env_or(
            "SYNC_BENCH_REPS",
            if quick {
                1
            } else if n >= 1_000_000 {
                2
            } else {
                5
            },
        );
        let server = rt.block_on(MockProvider::builder().issues(n).token(TOKEN).start())?;
        let mut runs: [Vec<Measured>; 4] = Default::default();
        for rep in 0..reps {
            // Rotate which variant goes first, so drift on the machine hits all alike.
            for k in 0..Variant::ALL.len() {
                let index = (k + rep) % Variant::ALL.len();
                let variant = Variant::ALL[index];
                let m = run_child(variant, server.url(), n, rerun_at == Some(n), pinned.map(|p| p.1))?;
                eprintln!(
                    "{n:>9} {:<13} rep {}: process {:>7.0}/s, sync {:>7.0}/s, {:>7.0} per CPU-s{}, peak RSS {:.1} MB",
                    variant.role(),
                    rep + 1,
                    m.records as f64 / m.process_secs,
                    m.records as f64 / m.secs,
                    m.records as f64 / m.cpu_secs,
                    m.rerun_secs.map(|s| format!(" (second run {:.0}/s)", m.records as f64 / s)).unwrap_or_default(),
                    m.peak_rss_kb as f64 / 1024.0
                );
                runs[index].push(m);
            }
        }
        rt.block_on(server.shutdown());
        rows.push(Row { n, reps, summaries: runs.map(|r| summarize(&r)) });
    }
    print_table(&rows, pinned.is_some());
    Ok(())
}

/// `1000000` → `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_table(rows: &[Row], pinned: bool) {
    let per_sec = |v: f64| format!("{} records/s", thousands(v.round() as u64));
    println!();
    println!(
        "Medians of `runs` children per variant{}; ratios are the framework's over the ureq + rusqlite \
         baseline's (and over reqwest + sqlx's), measured in the same run.",
        if pinned { ", children pinned to one CPU and the mock provider to another" } else { ", unpinned" }
    );
    println!();
    println!("Whole process (spawn to the end of the first sync):");
    println!();
    println!(
        "| issues | runs | framework | ureq + rusqlite | reqwest + sqlx | ratio | ratio per CPU-second | ratio to reqwest + sqlx |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let [f, b, a, _] = &row.summaries;
        println!(
            "| {} | {} | {} | {} | {} | {:.2}x | {:.2}x | {:.2}x |",
            thousands(row.n),
            row.reps,
            per_sec(f.process_per_sec),
            per_sec(b.process_per_sec),
            per_sec(a.process_per_sec),
            f.process_per_sec / b.process_per_sec,
            f.process_per_cpu_sec / b.process_per_cpu_sec,
            f.process_per_sec / a.process_per_sec,
        );
    }
    println!();
    println!("The sync alone (start-up excluded), the second run over unchanged issues, and peak RSS:");
    println!();
    println!(
        "| issues | framework | ureq + rusqlite | ratio | ratio per CPU-second | framework peak RSS | ureq + rusqlite peak RSS | reqwest + sqlx peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let [f, b, a, _] = &row.summaries;
        println!(
            "| {} | {} | {} | {:.2}x | {:.2}x | {:.1} MB | {:.1} MB | {:.1} MB |",
            thousands(row.n),
            per_sec(f.records_per_sec),
            per_sec(b.records_per_sec),
            f.records_per_sec / b.records_per_sec,
            f.records_per_cpu_sec / b.records_per_cpu_sec,
            f.peak_rss_mb,
            b.peak_rss_mb,
            a.peak_rss_mb,
        );
        if let (Some(fr), Some(br), Some(fc), Some(bc)) =
            (f.rerun_records_per_sec, b.rerun_records_per_sec, f.rerun_records_per_cpu_sec, b.rerun_records_per_cpu_sec)
        {
            println!(
                "| {} again, unchanged | {} | {} | {:.2}x | {:.2}x | | | |",
                thousands(row.n),
                per_sec(fr),
                per_sec(br),
                fr / br,
                fc / bc
            );
            println!(
                "\nThe framework's second run over unchanged issues against its first: {:.2}x the records per second \
                 ({:.2}x per CPU-second).\n",
                fr / f.records_per_sec,
                fc / f.records_per_cpu_sec
            );
        }
    }
    println!();
    println!(
        "The example's binary as a user runs it (`github-tickets run`, spawn to exit, by /usr/bin/time), against \
         the ureq + rusqlite baseline's whole process:"
    );
    println!();
    println!(
        "| issues | example binary | ratio | ratio per CPU-second | peak RSS | again, unchanged / first (per CPU-second) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let [_, b, _, e] = &row.summaries;
        let rerun = match (e.rerun_records_per_sec, e.rerun_records_per_cpu_sec) {
            (Some(r), Some(c)) => format!("{:.2}x ({:.2}x)", r / e.process_per_sec, c / e.process_per_cpu_sec),
            _ => String::new(),
        };
        println!(
            "| {} | {} | {:.2}x | {:.2}x | {:.1} MB | {rerun} |",
            thousands(row.n),
            per_sec(e.process_per_sec),
            e.process_per_sec / b.process_per_sec,
            e.process_per_cpu_sec / b.process_per_cpu_sec,
            e.peak_rss_mb,
        );
    }
    if let (Some(first), Some(last)) = (rows.first(), rows.last())
        && rows.len() > 1
    {
        let (f0, f1) = (&first.summaries[0], &last.summaries[0]);
        let (b0, b1) = (&first.summaries[1], &last.summaries[1]);
        let (e0, e1) = (&first.summaries[3], &last.summaries[3]);
        println!();
        println!(
            "Peak RSS from {} to {} issues: framework {:.1} → {:.1} MB ({:+.0}%), example binary {:.1} → {:.1} MB \
             ({:+.0}%), ureq + rusqlite {:.1} → {:.1} MB ({:+.0}%).",
            thousands(first.n),
            thousands(last.n),
            f0.peak_rss_mb,
            f1.peak_rss_mb,
            (f1.peak_rss_mb / f0.peak_rss_mb - 1.0) * 100.0,
            e0.peak_rss_mb,
            e1.peak_rss_mb,
            (e1.peak_rss_mb / e0.peak_rss_mb - 1.0) * 100.0,
            b0.peak_rss_mb,
            b1.peak_rss_mb,
            (b1.peak_rss_mb / b0.peak_rss_mb - 1.0) * 100.0
        );
    }
}
