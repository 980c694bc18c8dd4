//! Scaling benchmark: sync throughput of 1, 2 and 4 runner processes on one PostgreSQL database,
//! on I/O-bound work, in one run (the 1-runner round is the baseline of the ratios).
//!
//! `cargo bench -p github-tickets --bench runners`
//!
//! Every round starts from nothing: a new database on the machine's server (created, then dropped
//! at the end of the round), the mock provider on loopback answering every request after a fixed
//! latency (50 ms a page by default), the connections of `github` pointing at it, then N
//! `github-tickets serve --roles runner` processes and, once they listen, one
//! `serve --roles api,scheduler` process, which turns every connection's due `github-tickets`
//! schedule into a task. The round ends when every connection has one successful run. The
//! processes are the cluster test's (`tests/common/nodes.rs`), with the default lease.
//!
//! Measured per round, from the run history: tasks per second (runs over the span from the first
//! run's start to the last one's end), records per second (the runs' counts over the same span),
//! and CPU seconds per run of the runner processes, of the scheduler process, of the database
//! server's sessions of this database (their `/proc` times) and of this process (the mock
//! provider), with the machine's busy share over the round (`/proc/stat`): a round where the
//! machine is busy near 100% measures the CPU, not the runners. The "ideal" column is what the
//! runners' slots could do if only the provider's latency counted: runners × concurrency ÷
//! (pages per run × latency). After each round the cluster is watched for 5 s with nothing
//! due: the CPU of the scheduler's passes over every schedule (one a second) and of the runners'
//! claims, by themselves.
//!
//! Environment (defaults in brackets):
//!
//! * `RUNNERS_BENCH_RUNNERS` [1,2,4] — runner processes per round, comma separated.
//! * `RUNNERS_BENCH_CONNECTIONS` [200] — connections, one run each.
//! * `RUNNERS_BENCH_ISSUES` [100] — issues each connection lists (100 a page: 100 issues are
//!   two pages, the second re-reading the newest issue of the first).
//! * `RUNNERS_BENCH_LATENCY_MS` [50] — the mock provider's latency per request.
//! * `RUNNERS_BENCH_CONCURRENCY` [4, `serve`'s default] — `--runner-concurrency` of each runner.
//! * `RUNNERS_BENCH_REPS` [1] — rounds per runner count; the counts take turns, medians shown.
//!
//! The server is `NANGO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! as for the tests.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../../nango-runtime/tests/support/db.rs"]
mod db;
#[path = "../tests/common/nodes.rs"]
mod nodes;

use nango::store::RunStatus;
use nodes::{Cluster, Node, cpu_seconds_of};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The sync every connection runs once.
const SYNC: &str = "github-tickets";

/// `serve`'s default lease: the rounds measure throughput, not takeovers.
const LEASE_TTL: u64 = 30;

/// How long the cluster is watched with nothing due after each round.
const IDLE: Duration = Duration::from_secs(5);

/// Longest a round may take before the bench gives up on it.
const ROUND_LIMIT: Duration = Duration::from_secs(900);

struct Settings {
    connections: u64,
    issues: u64,
    latency: Duration,
    concurrency: u64,
}

/// What one round measured.
#[derive(Debug, Clone)]
struct Round {
    runners: u64,
    runs: u64,
    failed: u64,
    records: u64,
    pages: u64,
    /// From the first run's start to the last run's end (run history).
    span: Duration,
    /// From starting the scheduler to seeing every run done.
    wall: Duration,
    runner_cpu: f64,
    scheduler_cpu: f64,
    database_cpu: f64,
    bench_cpu: f64,
    /// Share of the machine's CPU time that was busy during the round (all processes).
    machine_busy: f64,
    /// Runs each runner did (its `nango_runs_total`).
    per_runner: Vec<u64>,
    /// The [`IDLE`] seconds after the round.
    idle: Idle,
}

/// CPU seconds used in the [`IDLE`] seconds after a round, with nothing due.
#[derive(Debug, Clone)]
struct Idle {
    scheduler_cpu: f64,
    runner_cpu: f64,
    database_cpu: f64,
}

impl Round {
    fn tasks_per_sec(&self) -> f64 {
        self.runs as f64 / self.span.as_secs_f64()
    }

    fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.span.as_secs_f64()
    }

    fn ms_per_run(cpu: f64, runs: u64) -> f64 {
        cpu * 1000.0 / runs.max(1) as f64
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn runner_counts() -> Vec<u64> {
    let text = std::env::var("RUNNERS_BENCH_RUNNERS").unwrap_or_else(|_| "1,2,4".into());
    let counts: Vec<u64> = text.split(',').filter_map(|n| n.trim().parse().ok()).filter(|n| *n > 0).collect();
    if counts.is_empty() { vec![1, 2, 4] } else { counts }
}

/// `uptime`'s load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Busy and total CPU time of the whole machine so far, in ticks (`/proc/stat`'s `cpu` line;
/// idle and iowait count as not busy).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return (0, 0) };
    let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// A session on the round's database, and the pid of its server process.
async fn session(cluster: &Cluster) -> (sqlx::PgConnection, u32) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(cluster.db.url()).await.expect("database");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut conn).await.expect("pid");
    (conn, pid as u32)
}

/// CPU seconds of each session the server has open on the round's database, by pid (but the
/// one asking).
async fn database_sessions(cluster: &Cluster) -> HashMap<u32, f64> {
    use sqlx::Connection as _;
    let (mut conn, own) = session(cluster).await;
    let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        .fetch_all(&mut conn)
        .await
        .expect("sessions");
    let _ = conn.close().await;
    pids.into_iter().map(|pid| pid as u32).filter(|pid| *pid != own).map(|pid| (pid, cpu_seconds_of(pid))).collect()
}

/// CPU seconds the database's sessions used since `before` (sessions opened since count from 0;
/// sessions closed meanwhile are lost, but the nodes' pools keep theirs for the round).
fn database_cpu_since(before: &HashMap<u32, f64>, after: &HashMap<u32, f64>) -> f64 {
    after.iter().map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0)).filter(|d| *d > 0.0).sum()
}

async fn round(runners: u64, settings: &Settings) -> Round {
    let mut cluster = Cluster::new(settings.issues, settings.latency).await;
    cluster.lease_ttl = LEASE_TTL;
    for i in 0..settings.connections {
        cluster.add_connection(&format!("c{i:05}")).await;
    }
    let concurrency = settings.concurrency.to_string();
    let mut nodes: Vec<Node> = Vec::new();
    for _ in 0..runners {
        nodes.push(cluster.node("runner", &["--runner-concurrency", &concurrency]).await);
    }
    cluster.mock.reset_stats();
    let runner_cpu_before: f64 = nodes.iter().map(Node::cpu_seconds).sum();
    let sessions_before = database_sessions(&cluster).await;
    let bench_before = cpu_seconds_of(std::process::id());
    let machine_before = machine_ticks();
    let started = Instant::now();
    let scheduler = cluster.node("api,scheduler", &[]).await;

    // Polled on a session of its own, a cheap count every 100 ms, left out of the database's CPU.
    let (mut poll, poll_pid) = session(&cluster).await;
    let deadline = Instant::now() + ROUND_LIMIT;
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE sync = $1 AND status = 'SUCCESS'")
            .bind(SYNC)
            .fetch_one(&mut poll)
            .await
            .expect("runs done");
        if done as u64 >= settings.connections {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {} connections synced within {ROUND_LIMIT:?}",
            settings.connections
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = started.elapsed();
    let machine_after = machine_ticks();
    let bench_cpu = cpu_seconds_of(std::process::id()) - bench_before;
    let mut sessions_after = database_sessions(&cluster).await;
    sessions_after.remove(&poll_pid);
    let limit = u32::try_from(settings.connections * 2 + 100).unwrap_or(u32::MAX);
    let runs = cluster.store.runs(None, Some(SYNC), limit).await.expect("runs");
    let runner_cpu = nodes.iter().map(Node::cpu_seconds).sum::<f64>() - runner_cpu_before;
    let scheduler_cpu = scheduler.cpu_seconds();
    let mut per_runner = Vec::new();
    for node in &nodes {
        per_runner.push(node.metric("nango_runs_total").await as u64);
    }
    // The cluster with nothing due (the next runs are 5 minutes away): what the scheduler's
    // passes over every schedule (one a tick) and the runners' claims cost by themselves.
    let idle_before = (scheduler.cpu_seconds(), nodes.iter().map(Node::cpu_seconds).sum::<f64>());
    let mut idle_sessions_before = database_sessions(&cluster).await;
    idle_sessions_before.remove(&poll_pid);
    tokio::time::sleep(IDLE).await;
    let mut idle_sessions_after = database_sessions(&cluster).await;
    idle_sessions_after.remove(&poll_pid);
    let idle = Idle {
        scheduler_cpu: scheduler.cpu_seconds() - idle_before.0,
        runner_cpu: nodes.iter().map(Node::cpu_seconds).sum::<f64>() - idle_before.1,
        database_cpu: database_cpu_since(&idle_sessions_before, &idle_sessions_after),
    };

    let first_start = runs.iter().map(|r| r.started_at).min().expect("runs");
    if std::env::var("RUNNERS_BENCH_VERBOSE").is_ok_and(|v| v == "1") {
        for r in runs.iter().rev() {
            let at = |t: chrono::DateTime<chrono::Utc>| (t - first_start).num_milliseconds();
            eprintln!(
                "run {} {} {:?}: {} ms .. {:?} ms {:?}",
                r.id,
                r.connection_id,
                r.status,
                at(r.started_at),
                r.ended_at.map(at),
                r.error
            );
        }
        for node in nodes.iter().chain([&scheduler]) {
            eprintln!("--- node {} ---\n{}", node.pid(), node.log());
        }
    }
    let last_end = runs.iter().filter_map(|r| r.ended_at).max().expect("ended runs");
    let records = runs.iter().filter_map(|r| r.counts.get("Ticket")).map(|c| c.added + c.updated + c.deleted).sum();
    let (busy, total) = (machine_after.0 - machine_before.0, machine_after.1 - machine_before.1);
    let result = Round {
        runners,
        runs: runs.iter().filter(|r| r.status == RunStatus::Success).count() as u64,
        failed: runs.iter().filter(|r| r.status == RunStatus::Failed).count() as u64,
        records,
        pages: cluster.mock.stats().requests,
        span: (last_end - first_start).to_std().unwrap_or_default(),
        wall,
        runner_cpu,
        scheduler_cpu,
        database_cpu: database_cpu_since(&sessions_before, &sessions_after),
        bench_cpu,
        machine_busy: busy as f64 / total.max(1) as f64,
        per_runner,
        idle,
    };
    // The processes end before their database is dropped.
    drop(scheduler);
    drop(nodes);
    drop(cluster);
    result
}

fn median_by(rounds: &[&Round], key: impl Fn(&Round) -> f64) -> f64 {
    let mut values: Vec<f64> = rounds.iter().map(|r| key(r)).collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let settings = Settings {
        connections: env("RUNNERS_BENCH_CONNECTIONS", 200).max(1),
        issues: env("RUNNERS_BENCH_ISSUES", 100).max(1),
        latency: Duration::from_millis(env("RUNNERS_BENCH_LATENCY_MS", 50)),
        concurrency: env("RUNNERS_BENCH_CONCURRENCY", 4).max(1),
    };
    let reps = env("RUNNERS_BENCH_REPS", 1).max(1);
    let counts = runner_counts();
    println!(
        "{} connections x {} issues, mock latency {} ms a page, --runner-concurrency {} per runner; load average at start {}",
        settings.connections,
        settings.issues,
        settings.latency.as_millis(),
        settings.concurrency,
        load_average()
    );
    let mut rounds = Vec::new();
    for rep in 0..reps {
        for &runners in &counts {
            let r = round(runners, &settings).await;
            eprintln!(
                "rep {} - {} runner(s): {} runs ({} failed) in {:.2} s, {:.1} tasks/s, {:.0} records/s, runs per runner {:?}, machine busy {:.0}%, load average {}",
                rep + 1,
                runners,
                r.runs,
                r.failed,
                r.span.as_secs_f64(),
                r.tasks_per_sec(),
                r.records_per_sec(),
                r.per_runner,
                r.machine_busy * 100.0,
                load_average()
            );
            rounds.push(r);
        }
    }

    let pages_per_run = rounds.iter().map(|r| r.pages as f64 / r.runs.max(1) as f64).sum::<f64>() / rounds.len() as f64;
    println!(
        "\n| runners | tasks/s | records/s | ratio to 1 runner | ideal tasks/s | of ideal | CPU ms per run: runners / scheduler / PostgreSQL / mock | machine busy | failed runs |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let base = rounds.iter().filter(|r| r.runners == counts[0]).collect::<Vec<_>>();
    let base_tasks = median_by(&base, Round::tasks_per_sec);
    for &runners in &counts {
        let of: Vec<&Round> = rounds.iter().filter(|r| r.runners == runners).collect();
        let tasks = median_by(&of, Round::tasks_per_sec);
        let ideal = (runners * settings.concurrency) as f64
            / (pages_per_run * settings.latency.as_secs_f64()).max(f64::EPSILON);
        let ms = |cpu: fn(&Round) -> f64| median_by(&of, |r| Round::ms_per_run(cpu(r), r.runs));
        println!(
            "| {runners} | {tasks:.1} | {:.0} | {:.2}x | {ideal:.1} | {:.0}% | {:.1} / {:.1} / {:.1} / {:.1} | {:.0}% | {} |",
            median_by(&of, Round::records_per_sec),
            tasks / base_tasks,
            tasks / ideal * 100.0,
            ms(|r| r.runner_cpu),
            ms(|r| r.scheduler_cpu),
            ms(|r| r.database_cpu),
            ms(|r| r.bench_cpu),
            median_by(&of, |r| r.machine_busy) * 100.0,
            of.iter().map(|r| r.failed).sum::<u64>(),
        );
    }
    println!(
        "\n{:.2} pages per run; ratios are of tasks/s to the {}-runner round{}; load average at the end {}",
        pages_per_run,
        counts[0],
        if reps > 1 { format!("s (medians of {reps})") } else { String::new() },
        load_average()
    );
    let all: Vec<&Round> = rounds.iter().collect();
    let per_sec = |cpu: fn(&Round) -> f64| median_by(&all, |r| cpu(r) / IDLE.as_secs_f64() * 1000.0);
    println!(
        "idle, nothing due ({} schedules, the scheduler passing over them every second): CPU ms per second: scheduler {:.1}, PostgreSQL {:.1}, runners {:.1} (medians of every round)",
        settings.connections,
        per_sec(|r| r.idle.scheduler_cpu),
        per_sec(|r| r.idle.database_cpu),
        per_sec(|r| r.idle.runner_cpu),
    );
    let wall = rounds.iter().map(|r| r.wall.as_secs_f64()).sum::<f64>();
    eprintln!("rounds took {wall:.1} s from the scheduler's start to the last run seen");
}
