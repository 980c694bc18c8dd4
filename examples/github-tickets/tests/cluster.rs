//! The program as a cluster on one PostgreSQL database (a database of its own per test, on the
//! machine's server): one process of the api and scheduler roles (and a second scheduler) and
//! several of the runner role, against the mock provider on loopback. Every connection's records are written exactly
//! once; a runner killed with SIGKILL mid-run has its task finished by another within the lease
//! timeout, resumed from its checkpoint; a runner frozen past its lease (SIGSTOP, then SIGCONT)
//! has its late writes refused; the database restarting mid-run (every connection ended, new
//! ones refused for a while) loses and doubles nothing, and runners whose pools hold one
//! connection still sync everything once. A rolling deploy: runners of the example and of its
//! next version (one more sync) on one database, each running only the syncs it has at the
//! deployed version; a deployment applied once by processes starting together.

mod common;
#[path = "../../../nango-runtime/tests/support/db.rs"]
mod db;
#[path = "common/nodes.rs"]
mod nodes;

use nango::store::{ConnectionKey, RunRecord, RunStatus};
use nodes::{Cluster, LEASE_TTL, Node, SECRET_KEY};
use serde_json::Value;
use std::time::Duration;

/// The lease of the exactly-once test, which proves scheduling and not takeover: long enough that
/// a heartbeat held up on a loaded machine (CI runs other tests beside it) does not lapse, which
/// would rightly hand the task to another runner and make a second run.
const CALM_LEASE_TTL: u64 = 15;

/// 3 runners, 1 api node and a second scheduler at once, 200 connections: every connection
/// synced once (two schedulers enqueue one task per schedule), each record stored and counted
/// once; the work spread over the runners; `/health` and `/metrics` of the api node count the
/// runners and the queue; a trigger sent to the api node is run by a runner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_runners_and_an_api_node_sync_every_record_exactly_once() {
    const CONNECTIONS: usize = 200;
    const ISSUES: u64 = 150;
    let mut cluster = Cluster::new(ISSUES, Duration::from_millis(5)).await;
    cluster.lease_ttl = CALM_LEASE_TTL;
    let mut keys = Vec::new();
    for i in 0..CONNECTIONS {
        keys.push(cluster.add_connection(&format!("c{i:03}")).await);
    }
    let api = cluster.node("api,scheduler", &[]).await;
    let _second_scheduler = cluster.node("scheduler", &[]).await;
    let mut runners = Vec::new();
    for _ in 0..3 {
        runners.push(cluster.node("runner,webhooks", &["--runner-concurrency", "3"]).await);
    }
    let every = cluster
        .wait("every connection synced", Duration::from_secs(90), async || {
            for key in &keys {
                let runs = cluster.runs(*key).await;
                if !runs.iter().any(|r| r.status == RunStatus::Success) {
                    return None;
                }
            }
            Some(())
        })
        .await;
    let () = every;
    for key in &keys {
        let runs = cluster.runs(*key).await;
        assert_eq!(runs.len(), 1, "connection {key} ran more than once: {runs:#?}");
        let counts = runs[0].counts.get("Ticket").cloned().unwrap_or_default();
        assert_eq!((counts.added, counts.updated, counts.deleted), (ISSUES, 0, 0), "connection {key}");
        let tickets = cluster.tickets(*key).await;
        assert_eq!(tickets.len() as u64, ISSUES, "connection {key}");
        assert!(tickets.values().all(|n| *n == 1), "connection {key} holds a ticket twice");
    }
    // The runs were spread over the runners, and each was counted by the one that ran it.
    let mut per_runner = Vec::new();
    for runner in &runners {
        per_runner.push(runner.metric("nango_runs_total").await as usize);
    }
    assert_eq!(per_runner.iter().sum::<usize>(), CONNECTIONS, "runs per runner: {per_runner:?}");
    assert!(per_runner.iter().filter(|n| **n > 0).count() >= 2, "one runner did everything: {per_runner:?}");
    let (status, health) = api.get("/health").await;
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["roles"], "api,scheduler");
    assert_eq!(health["runners"], 3, "{health}");
    assert_eq!(health["queue"]["queued"], 0, "{health}");
    let (_, metrics) = api.get("/metrics").await;
    for name in ["nango_queue_depth", "nango_tasks_running", "nango_runners 3", "nango_lease_expiries_total"] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    // A runner answers /health and /metrics only.
    assert_eq!(runners[0].get("/connections").await.0, 404);
    assert_eq!(runners[0].get("/health").await.0, 200);
    // A trigger sent to the api node reaches a runner.
    cluster.trigger(&api, "github-tickets", "c007").await;
    let key = keys[7];
    cluster
        .wait("the triggered run", Duration::from_secs(20), async || {
            let runs = cluster.runs(key).await;
            (runs.len() == 2 && runs[1].status == RunStatus::Success).then_some(())
        })
        .await;
}

/// Waits until a run of the connection is under way past its first checkpoint; that run and
/// the node holding its lease.
async fn running_past_a_checkpoint<'a>(
    cluster: &Cluster,
    key: ConnectionKey,
    nodes: &'a [Node],
) -> (RunRecord, &'a Node) {
    cluster
        .wait("a run past its first checkpoint", Duration::from_secs(30), async || {
            let run = cluster.runs(key).await.pop().filter(|r| r.status == RunStatus::Running)?;
            cluster.store.sync_state(key, "github-tickets").await.unwrap().checkpoint?;
            let pid = cluster.lease_holder(key).await?;
            let node = nodes.iter().find(|n| n.pid() == pid)?;
            Some((run, node))
        })
        .await
}

/// A runner killed with SIGKILL mid-run: another finishes its task within the lease timeout,
/// resuming from the checkpoint; the dead run is closed as interrupted; every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runner_s_task_is_finished_by_another_within_the_lease() {
    const ISSUES: u64 = 1500;
    let cluster = Cluster::new(ISSUES, Duration::from_millis(150)).await;
    let key = cluster.add_connection("demo").await;
    let _api = cluster.node("api,scheduler", &[]).await;
    let runners = [cluster.node("runner", &[]).await, cluster.node("runner", &[]).await];
    let (dead, holder) = running_past_a_checkpoint(&cluster, key, &runners).await;
    holder.signal("-KILL");
    let killed_at = chrono::Utc::now();
    let survivor = runners.iter().find(|n| n.pid() != holder.pid()).unwrap();
    let runs = cluster
        .wait("the task finished by the other runner", Duration::from_secs(30), async || {
            let runs = cluster.runs(key).await;
            runs.iter().any(|r| r.status == RunStatus::Success).then_some(runs)
        })
        .await;
    let finished = runs.iter().find(|r| r.status == RunStatus::Success).unwrap();
    let took_over = (finished.started_at - killed_at).to_std().unwrap_or_default();
    assert!(
        took_over <= Duration::from_secs(LEASE_TTL) + Duration::from_secs(2),
        "taken over {took_over:?} after the kill; the lease lasts {LEASE_TTL} s"
    );
    let dead = runs.iter().find(|r| r.id == dead.id).unwrap();
    assert_eq!(dead.status, RunStatus::Failed);
    assert!(dead.error.as_deref().unwrap_or_default().starts_with("interrupted"), "{dead:#?}");
    let log = cluster.store.run_logs(finished.id).await.unwrap();
    assert!(log[0].message.contains("resuming from checkpoint"), "{log:#?}");
    let tickets = cluster.tickets(key).await;
    assert_eq!(tickets.len() as u64, ISSUES);
    assert!(tickets.values().all(|n| *n == 1));
    assert_eq!(survivor.metric("nango_lease_expiries_total").await, 1.0);
}

/// A runner frozen past its lease (SIGSTOP): another runner takes the task over; when the frozen
/// one wakes up (SIGCONT), nothing it writes is accepted, and the data is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_runner_s_late_writes_are_refused() {
    const ISSUES: u64 = 1500;
    let cluster = Cluster::new(ISSUES, Duration::from_millis(150)).await;
    let key = cluster.add_connection("demo").await;
    let _api = cluster.node("api,scheduler", &[]).await;
    let runners = [cluster.node("runner", &[]).await, cluster.node("runner", &[]).await];
    let (frozen, holder) = running_past_a_checkpoint(&cluster, key, &runners).await;
    holder.signal("-STOP");
    // Another runner takes over once the lease lapsed: it closes the frozen run as it begins.
    let taken_over = cluster
        .wait("another runner taking the task over", Duration::from_secs(20), async || {
            let runs = cluster.runs(key).await;
            runs.into_iter().find(|r| r.id > frozen.id)
        })
        .await;
    let written_when_fenced = cluster.written_by(frozen.id).await;
    holder.signal("-CONT");
    cluster
        .wait("the task finished", Duration::from_secs(30), async || {
            (cluster.runs(key).await.iter().any(|r| r.id == taken_over.id && r.status == RunStatus::Success))
                .then_some(())
        })
        .await;
    // The woken runner notices within a lease: its heartbeat is refused, or its next write.
    let log = cluster
        .wait("the frozen runner stopping", Duration::from_secs(10), async || {
            let log = holder.log();
            (log.contains("was refused") || log.contains("lost its lease")).then_some(log)
        })
        .await;
    assert_eq!(cluster.written_by(frozen.id).await, written_when_fenced, "the frozen run wrote after it was fenced");
    let frozen = cluster.runs(key).await.into_iter().find(|r| r.id == frozen.id).unwrap();
    assert_eq!(frozen.status, RunStatus::Failed, "{frozen:#?}\n{log}");
    let tickets = cluster.tickets(key).await;
    assert_eq!(tickets.len() as u64, ISSUES);
    assert!(tickets.values().all(|n| *n == 1));
}

/// The records of `model` a node's runs stored, by its `/metrics`.
async fn added(node: &Node, model: &str) -> f64 {
    node.metric(&format!("nango_records_total{{model=\"{model}\",action=\"added\"}}")).await
}

/// A rolling deploy on one database: the example (one sync) and its next version
/// (`github-tickets-next`, which adds `github-open-issues`). The next version's first process
/// deploys it; the old runner keeps running the sync both have, and leaves the added sync's tasks
/// queued (neither running nor dropping them) until a new runner takes them; an old replica that
/// restarts does not undo the deployment; once the old runners stop, the new one runs everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_deploy_runs_each_sync_only_on_runners_that_have_its_version() {
    const CONNECTIONS: usize = 6;
    let mut cluster = Cluster::new(40, Duration::from_millis(5)).await;
    cluster.lease_ttl = CALM_LEASE_TTL;
    let mut keys = Vec::new();
    for i in 0..CONNECTIONS {
        keys.push(cluster.add_connection(&format!("c{i}")).await);
    }
    let ids: Vec<String> = (0..CONNECTIONS).map(|i| format!("c{i}")).collect();
    // The old version: it deploys itself at start, and its runner syncs every connection.
    let old_api = cluster.node("api,scheduler", &[]).await;
    let old_runner = cluster.node("runner", &["--runner-concurrency", "2"]).await;
    cluster.synced(&keys, "github-tickets", 1, Duration::from_secs(30)).await;
    assert_eq!(cluster.store.deployments(10).await.unwrap().len(), 1);

    // The new version's scheduler starts first and deploys it: the added sync is scheduled for
    // every connection, and its tasks wait, since no runner that has it is up yet.
    let new_scheduler = cluster.node_of(common::next_program(), "scheduler", &[]).await;
    assert!(
        new_scheduler.log().contains("deployed this binary's changes as deployment #2:"),
        "{}",
        new_scheduler.log()
    );
    cluster
        .wait("the added sync's tasks queued", Duration::from_secs(10), async || {
            (cluster.tasks_of("github-open-issues").await == CONNECTIONS as i64).then_some(())
        })
        .await;
    // Meanwhile the old runner runs the sync both versions have, triggered through the old api.
    for id in &ids {
        cluster.trigger(&old_api, "github-tickets", id).await;
    }
    cluster.synced(&keys, "github-tickets", 2, Duration::from_secs(30)).await;
    assert_eq!(cluster.tasks_of("github-open-issues").await, CONNECTIONS as i64, "an old runner took a new task");
    for key in &keys {
        assert!(cluster.runs_of(*key, "github-open-issues").await.is_empty());
    }
    assert!(!old_runner.log().contains("dropping"), "{}", old_runner.log());

    // A new runner takes the added sync's tasks; the old runner stored none of its records.
    let new_runner = cluster.node_of(common::next_program(), "runner", &["--runner-concurrency", "2"]).await;
    cluster.synced(&keys, "github-open-issues", 1, Duration::from_secs(30)).await;
    let open = cluster.store.record_counts(keys[0]).await.unwrap().get("OpenIssue").copied().unwrap_or(0);
    assert!(open > 0);
    // Counted after each run's end is stored: waited for.
    let expected = (open * CONNECTIONS as u64) as f64;
    cluster
        .wait("the new runner counting every open issue", Duration::from_secs(10), async || {
            (added(&new_runner, "OpenIssue").await == expected).then_some(())
        })
        .await;
    assert_eq!(added(&old_runner, "OpenIssue").await, 0.0);

    // An old replica restarting does not roll the deployment back: it starts as it is.
    let old_again = cluster.node("runner", &[]).await;
    assert!(old_again.log().contains("this binary was deployed as #1 and deployment #2"), "{}", old_again.log());
    assert_eq!(cluster.store.deployments(10).await.unwrap().len(), 2);

    // The old runners stop; the new runner runs the rest.
    for node in [&old_runner, &old_again] {
        node.signal("-TERM");
    }
    drop((old_runner, old_again));
    let before = new_runner.metric("nango_runs_total").await;
    for id in &ids {
        cluster.trigger(&old_api, "github-tickets", id).await;
    }
    cluster.synced(&keys, "github-tickets", 3, Duration::from_secs(30)).await;
    cluster
        .wait("the new runner counting those runs", Duration::from_secs(10), async || {
            (new_runner.metric("nango_runs_total").await - before == CONNECTIONS as f64).then_some(())
        })
        .await;
}

/// Processes starting together with the same pending deployment apply it once; two binaries
/// applying different plans at once: one applies, the other is refused, saying so, and nothing
/// of its plan is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_is_applied_once_and_a_different_plan_at_once_is_refused() {
    let cluster = Cluster::new(1, Duration::ZERO).await;
    cluster.add_connection("demo").await;
    // Four runners of the next version start at once on a store where nothing is deployed.
    let (a, b, c, d) = tokio::join!(
        cluster.node_of(common::next_program(), "runner", &[]),
        cluster.node_of(common::next_program(), "runner", &[]),
        cluster.node_of(common::next_program(), "runner", &[]),
        cluster.node_of(common::next_program(), "runner", &[]),
    );
    let history = cluster.store.deployments(10).await.unwrap();
    assert_eq!(history.len(), 1, "{history:#?}");
    let deployed = [&a, &b, &c, &d].iter().filter(|n| n.log().contains("deployed this binary's changes")).count();
    assert_eq!(deployed, 1);
    drop((a, b, c, d));

    // On a second store, the example and its next version deploy at once.
    let other = Cluster::new(1, Duration::ZERO).await;
    let key = other.add_connection("demo").await;
    let deploy = |mut command: std::process::Command| {
        command.arg("deploy").env("NANGO_DATABASE_URL", other.db.url()).env("NANGO_SECRET_KEY", SECRET_KEY);
        common::finish(command.spawn().unwrap())
    };
    let (old, new) = tokio::join!(deploy(common::program()), deploy(common::next_program()));
    let history = other.store.deployments(10).await.unwrap();
    // The two processes race: usually both compute their plan before either applies, and the
    // second to apply is refused because the state changed under it. When one applied before
    // the other even read the state, the other's plan is computed against it: the example's
    // then removes the next version's sync, which is destructive and refused without
    // `--allow-destructive`; the next version's only adds, and applies as deployment #2. (The
    // refusal of a stale plan is tested deterministically in nango-runtime's deploy tests.)
    if old.status.success() && new.status.success() {
        assert_eq!(history.len(), 2, "{history:#?}");
        assert!(common::text(&new.stdout).ends_with("applied as deployment #2\n"), "the example's plan ran second");
    } else {
        assert_eq!(history.len(), 1, "{history:#?}");
        let (applied, refused) = if old.status.success() { (old, new) } else { (new, old) };
        assert!(common::text(&applied.stdout).ends_with("applied as deployment #1\n"));
        let said = common::text(&refused.stderr);
        assert!(
            said.contains("the deployed state changed since this plan was computed") || said.contains("destructive"),
            "{said}"
        );
        assert!(said.contains("nothing was changed"), "{said}");
    }
    // Only the last applied plan's syncs are scheduled.
    let winner: nango::deploy::Manifest = serde_json::from_str(&history[0].manifest).unwrap();
    let schedules: i64 = {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(other.db.url()).await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM sync_state WHERE connection = $1 AND sync = 'github-open-issues'")
            .bind(key.get())
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let scheduled = winner.sync("github", "github-open-issues").is_some();
    assert_eq!(schedules, i64::from(scheduled), "the refused plan's schedule was applied");
}

/// next/nango.yaml, the next version's, is the example's nango.yaml with one sync and its model
/// added: the rolling-deploy test's two binaries differ by that only.
#[test]
fn the_next_version_is_the_example_with_one_more_sync() {
    let code = |text: &str| text.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect::<String>();
    let example = code(include_str!("../nango.yaml"));
    let next = code(include_str!("../next/nango.yaml"));
    let (sync_at, models_at) = (next.find("      github-open-issues:\n").unwrap(), next.find("models:\n").unwrap());
    let model_at = next.find("  OpenIssue:\n").unwrap();
    let without = format!("{}{}", &next[..sync_at], &next[models_at..model_at]);
    assert_eq!(without, example);
    assert_eq!(&next[model_at..], "  OpenIssue:\n    id: string\n    title: string\n");
}

/// The database restarted mid-run (every connection of the test's database ended, as a restart
/// does to its clients, and new ones refused for two seconds): a run whose write falls in it
/// fails, visibly in the run history, and the task runs again from its checkpoint; every record
/// is stored once and written by one run only; the runners' `LISTEN` connections come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarting_mid_run_loses_and_doubles_nothing() {
    const ISSUES: u64 = 3000;
    let cluster = Cluster::new(ISSUES, Duration::from_millis(150)).await;
    let key = cluster.add_connection("demo").await;
    let _api = cluster.node("api,scheduler", &[]).await;
    let runners = [cluster.node("runner", &[]).await, cluster.node("runner", &[]).await];
    let (interrupted, _) = running_past_a_checkpoint(&cluster, key, &runners).await;
    // Its next batch is at most ten pages (1.5 s) away: it falls in the two seconds down.
    let ended = cluster.db.restart(Duration::from_secs(2)).await;
    assert!(ended >= 4, "the restart ended {ended} connections");
    let runs = cluster
        .wait("the work completed after the restart", Duration::from_secs(60), async || {
            let runs = cluster.runs(key).await;
            runs.iter().any(|r| r.status == RunStatus::Success).then_some(runs)
        })
        .await;
    // On a loaded machine the run may write nothing while the database is down and go on
    // unharmed; when a write of it failed, it failed visibly and a later run resumed it.
    let cut = runs.iter().find(|r| r.id == interrupted.id).unwrap();
    if cut.status != RunStatus::Success {
        assert_eq!(cut.status, RunStatus::Failed, "{runs:#?}");
        assert!(!cut.error.as_deref().unwrap_or_default().is_empty(), "{cut:#?}");
        let finished = runs.iter().find(|r| r.status == RunStatus::Success).unwrap();
        assert!(finished.id > cut.id);
        let log = cluster.store.run_logs(finished.id).await.unwrap();
        assert!(log[0].message.contains("resuming from checkpoint"), "{log:#?}");
    }
    let tickets = cluster.tickets(key).await;
    assert_eq!(tickets.len() as u64, ISSUES);
    assert!(tickets.values().all(|n| *n == 1));
    // What each run committed (counted in its write transactions): every record added once
    // across the runs, none overwritten by the run that resumed.
    let mut written = 0;
    for run in &runs {
        written += cluster.written_by(run.id).await;
    }
    assert_eq!(written as u64, ISSUES, "{runs:#?}");
    // Both runners listen again.
    cluster
        .wait("the runners' LISTEN back", Duration::from_secs(10), async || {
            (cluster.db.listening_sessions().await == 2).then_some(())
        })
        .await;
}

/// Runners whose pools hold one connection (`?pool_size=1`) running six syncs at once each: the
/// runs take turns on the connection, and every connection is still synced exactly once with
/// every record once; nothing waits forever (a runner's `LISTEN` has a connection of its own,
/// not the pool's only one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_with_a_pool_of_one_connection_still_sync_everything_once() {
    const CONNECTIONS: usize = 12;
    const ISSUES: u64 = 300;
    let mut cluster = Cluster::new(ISSUES, Duration::from_millis(5)).await;
    cluster.lease_ttl = CALM_LEASE_TTL;
    let mut keys = Vec::new();
    for i in 0..CONNECTIONS {
        keys.push(cluster.add_connection(&format!("c{i:02}")).await);
    }
    let separator = if cluster.db.url().contains('?') { '&' } else { '?' };
    let tiny = format!("{}{separator}pool_size=1", cluster.db.url());
    let _api = cluster.node("api,scheduler", &[]).await;
    let runners = [
        cluster.node_on(&tiny, "runner", &["--runner-concurrency", "6"]).await,
        cluster.node_on(&tiny, "runner", &["--runner-concurrency", "6"]).await,
    ];
    cluster
        .wait("every connection synced", Duration::from_secs(60), async || {
            for key in &keys {
                if !cluster.runs(*key).await.iter().any(|r| r.status == RunStatus::Success) {
                    return None;
                }
            }
            Some(())
        })
        .await;
    for key in &keys {
        let runs = cluster.runs(*key).await;
        assert_eq!(runs.len(), 1, "connection {key} ran more than once: {runs:#?}");
        assert_eq!(cluster.written_by(runs[0].id).await as u64, ISSUES, "connection {key}");
        let tickets = cluster.tickets(*key).await;
        assert_eq!(tickets.len() as u64, ISSUES, "connection {key}");
        assert!(tickets.values().all(|n| *n == 1), "connection {key} holds a ticket twice");
    }
    // Both runners counted their runs: every run was counted once.
    let mut per_runner = Vec::new();
    for runner in &runners {
        per_runner.push(runner.metric("nango_runs_total").await as usize);
    }
    assert_eq!(per_runner.iter().sum::<usize>(), CONNECTIONS, "runs per runner: {per_runner:?}");
}
