//! The task queue of `serve --roles` on both backends (a real SQLite file, and a database of its
//! own on the machine's PostgreSQL): one live task per (connection,
//! sync) whatever the schedulers do, exclusive claims, a task whose runner's lease lapsed coming
//! back to another runner, fencing (a run that lost its lease has its records, checkpoint and
//! end refused), the per-provider and per-connection limits, handing a task back, stop requests
//! from another node, the webhook outbox claimed by one live node at a time, and the queue's
//! counts.

use chrono::{TimeDelta, Utc};
use nango_runtime::crypto::Sealer;
use nango_runtime::store::*;
use nango_runtime::{Connection, RecordChange};
use serde_json::json;
use std::time::Duration;

#[path = "support/db.rs"]
#[macro_use]
mod db;

use db::TestDb;

on_both_backends!(
    a_schedule_has_at_most_one_live_task,
    a_claim_is_exclusive_and_a_lapsed_lease_hands_the_task_to_another_runner,
    limits_per_provider_and_per_connection_hold_across_runners,
    a_task_waits_while_its_sync_runs_outside_the_queue_and_its_end_frees_the_lease,
    a_stop_asked_by_another_node_reaches_the_task,
    a_queued_webhook_is_claimed_by_one_live_node_until_it_stops_beating,
    the_cluster_counts_live_runners_only,
    a_runner_claims_only_tasks_of_syncs_its_binary_has_at_the_deployed_version,
    a_deployment_that_removes_a_sync_ends_its_runs_and_tasks,
);

async fn store(db: &TestDb) -> Store {
    Store::open(&db.url(), Sealer::InsecureClear).await.unwrap()
}

async fn connection(store: &Store, id: &str, provider: &str) -> ConnectionKey {
    store.save_connection(&Connection::new("github", id, provider)).await.unwrap()
}

fn task(key: ConnectionKey, sync: &str, reason: TaskReason) -> NewTask {
    NewTask { connection: key, sync: sync.into(), provider: "github".into(), reason, seen_next_run: None }
}

/// A claim of a runner whose binary has exactly `syncs` (of integration `github`).
fn claim_of(owner: &LeaseOwner, syncs: &[(&str, &str)]) -> TaskClaim {
    TaskClaim {
        syncs: syncs.iter().map(|(sync, version)| SyncVersion::new("github", sync, version)).collect(),
        ..claim(owner, Duration::from_secs(30))
    }
}

/// Records `syncs` (of integration `github`, at their versions) as deployed, with `steps`.
async fn deploy(store: &Store, syncs: &[(&str, &str)], steps: Vec<deploy::DeployStep>) {
    let expected = store.deployments(1).await.unwrap().first().map(|d| d.fingerprint.clone());
    let write = deploy::DeploymentWrite {
        expected,
        fingerprint: format!("{syncs:?}"),
        manifest: "{}".into(),
        changes: json!([]),
        applied_by: "test".into(),
        at: Utc::now(),
        steps,
        checks: vec![],
        webhooks: vec![],
        sync_versions: syncs.iter().map(|(sync, version)| SyncVersion::new("github", sync, version)).collect(),
    };
    store.apply_deployment(&write, &|_, _| true).await.unwrap();
}

fn claim(owner: &LeaseOwner, ttl: Duration) -> TaskClaim {
    TaskClaim {
        owner: owner.token().into(),
        label: owner.label().into(),
        lease_until: Utc::now() + TimeDelta::from_std(ttl).unwrap(),
        max_per_provider: None,
        max_per_connection: None,
        syncs: ["tickets", "users"].iter().map(|s| SyncVersion::new("github", s, "v1")).collect(),
    }
}

async fn a_schedule_has_at_most_one_live_task(db: TestDb) {
    let store = store(&db).await;
    let key = connection(&store, "acme", "github").await;
    let runner = LeaseOwner::new("runner");
    assert!(store.enqueue_task(&task(key, "tickets", TaskReason::Schedule)).await.unwrap());
    // A second scheduler, or a trigger, while it waits: nothing more.
    assert!(!store.enqueue_task(&task(key, "tickets", TaskReason::Schedule)).await.unwrap());
    assert!(!store.enqueue_task(&task(key, "tickets", TaskReason::Trigger)).await.unwrap());
    // Another sync of the same connection is another schedule.
    assert!(store.enqueue_task(&task(key, "users", TaskReason::Schedule)).await.unwrap());
    let first = store.claim_task(&claim(&runner, Duration::from_secs(30))).await.unwrap().unwrap();
    assert_eq!((first.sync.as_str(), first.attempts, first.reclaimed), ("tickets", 1, false));
    // Running is live too.
    assert!(!store.enqueue_task(&task(key, "tickets", TaskReason::Trigger)).await.unwrap());
    assert!(store.task_running(key, "tickets").await.unwrap());
    let next = Utc::now() + TimeDelta::hours(1);
    assert!(store.finish_task(first.id, &runner, Some((first.next_run_at, next))).await.unwrap());
    let state = store.sync_state(key, "tickets").await.unwrap();
    assert_eq!(state.next_run_at.map(|t| t.timestamp_micros()), Some(next.timestamp_micros()));
    // Done: the scheduler that found it due before the run ended (it saw no next run time)
    // enqueues nothing; a trigger does.
    assert!(!store.enqueue_task(&task(key, "tickets", TaskReason::Schedule)).await.unwrap());
    assert!(store.enqueue_task(&task(key, "tickets", TaskReason::Trigger)).await.unwrap());
}

async fn a_claim_is_exclusive_and_a_lapsed_lease_hands_the_task_to_another_runner(db: TestDb) {
    let store = store(&db).await;
    let key = connection(&store, "acme", "github").await;
    let (a, b) = (LeaseOwner::new("runner a"), LeaseOwner::new("runner b"));
    let ttl = Duration::from_millis(300);
    store.enqueue_task(&task(key, "tickets", TaskReason::Schedule)).await.unwrap();
    let taken = store.claim_task(&claim(&a, ttl)).await.unwrap().unwrap();
    assert!(store.claim_task(&claim(&b, ttl)).await.unwrap().is_none(), "claimed twice");
    // The claim took the lease: a `nango run` of the same sync is refused, naming A.
    let cli = LeaseOwner::new("nango run");
    let holder = store.acquire_lease(key, "tickets", &cli, ttl).await.unwrap().unwrap_err();
    assert_eq!(holder.label, "runner a");
    // A runs it under its lease and saves a checkpoint.
    store.acquire_lease(key, "tickets", &a, ttl).await.unwrap().unwrap();
    let run_a = store.begin_run(key, "tickets", false).await.unwrap();
    store.save_run_checkpoint(run_a.ids, "tickets", Some(&json!({"page": 3}))).await.unwrap();
    assert!(store.renew_lease(key, "tickets", &a, Some(run_a.ids.run), ttl).await.unwrap());
    assert!(store.claim_task(&claim(&b, ttl)).await.unwrap().is_none());
    assert_eq!(store.queue_stats(Duration::from_secs(1)).await.unwrap().running, 1);
    // A freezes: its lease lapses, and B takes the task over.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let stats = store.queue_stats(Duration::from_secs(1)).await.unwrap();
    assert_eq!((stats.running, stats.lapsed), (0, 1), "{stats:?}");
    let again = store.claim_task(&claim(&b, ttl)).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts, again.reclaimed), (taken.id, 2, true));
    assert!(store.renew_lease(key, "tickets", &b, None, Duration::from_secs(30)).await.unwrap());
    let run_b = store.begin_run(key, "tickets", false).await.unwrap();
    // B resumes from A's checkpoint.
    assert_eq!(run_b.checkpoint, Some(json!({"page": 3})));
    // A wakes up: its records, checkpoint and end are refused, and its task is not its own.
    let records = vec![PreparedRecord::new("Ticket", json!({"id": "late"})).unwrap()];
    let refused = store.apply(run_a.ids, "Ticket", RecordChange::Save, records).await.unwrap_err();
    assert!(matches!(refused, StoreError::RunFenced { run } if run == run_a.ids.run), "{refused}");
    assert!(refused.to_string().contains("was refused"), "{refused}");
    let refused = store.save_run_checkpoint(run_a.ids, "tickets", Some(&json!({"page": 9}))).await.unwrap_err();
    assert!(matches!(refused, StoreError::RunFenced { .. }), "{refused}");
    assert!(matches!(store.sweep_unseen(run_a.ids, "Ticket").await, Err(StoreError::RunFenced { .. })));
    let end = RunEnd {
        status: RunStatus::Success,
        counts: Default::default(),
        error: None,
        advance_last_sync_date: true,
        clear_checkpoint: true,
    };
    store.finish_run(&run_a, "tickets", &end).await.unwrap();
    assert_eq!(store.run(run_a.ids.run).await.unwrap().unwrap().status, RunStatus::Failed);
    assert_eq!(store.sync_state(key, "tickets").await.unwrap().checkpoint, Some(json!({"page": 3})));
    assert!(!store.finish_task(taken.id, &a, None).await.unwrap(), "A finished B's task");
    assert!(
        store
            .records(key, &RecordQuery { model: "Ticket".into(), ..Default::default() })
            .await
            .unwrap()
            .records
            .is_empty()
    );
    // B's writes go through.
    let records = vec![PreparedRecord::new("Ticket", json!({"id": "1"})).unwrap()];
    store.apply(run_b.ids, "Ticket", RecordChange::Save, records).await.unwrap();
    assert!(store.finish_task(again.id, &b, None).await.unwrap());
}

async fn limits_per_provider_and_per_connection_hold_across_runners(db: TestDb) {
    let store = store(&db).await;
    let acme = connection(&store, "acme", "github").await;
    let other = connection(&store, "other", "github").await;
    let (a, b) = (LeaseOwner::new("runner a"), LeaseOwner::new("runner b"));
    let ttl = Duration::from_secs(30);
    for key in [acme, other] {
        for sync in ["tickets", "users"] {
            store.enqueue_task(&task(key, sync, TaskReason::Schedule)).await.unwrap();
        }
    }
    let mut per_connection = claim(&a, ttl);
    per_connection.max_per_connection = Some(1);
    let first = store.claim_task(&per_connection).await.unwrap().unwrap();
    per_connection.owner = b.token().into();
    let second = store.claim_task(&per_connection).await.unwrap().unwrap();
    assert_ne!(first.connection, second.connection, "two runs of one connection at once");
    assert!(store.claim_task(&per_connection).await.unwrap().is_none());
    let mut per_provider = claim(&b, ttl);
    per_provider.max_per_provider = Some(2);
    assert!(store.claim_task(&per_provider).await.unwrap().is_none(), "a third run of the provider");
    // Handed back (a runner that stops): queued again, and its slot of the provider is free.
    assert!(store.release_task(first.id, &a, Utc::now()).await.unwrap());
    assert!(!store.release_task(first.id, &a, Utc::now()).await.unwrap(), "handed back twice");
    assert_eq!(store.queue_stats(Duration::from_secs(1)).await.unwrap().queued, 3);
    assert!(store.claim_task(&per_provider).await.unwrap().is_some());
    assert!(store.claim_task(&per_provider).await.unwrap().is_none());
    assert_eq!(store.queue_stats(Duration::from_secs(1)).await.unwrap().queued, 2);
}

async fn a_task_waits_while_its_sync_runs_outside_the_queue_and_its_end_frees_the_lease(db: TestDb) {
    let store = store(&db).await;
    let key = connection(&store, "acme", "github").await;
    let (cli, runner) = (LeaseOwner::new("nango run"), LeaseOwner::new("runner"));
    let ttl = Duration::from_secs(30);
    store.acquire_lease(key, "tickets", &cli, ttl).await.unwrap().unwrap();
    store.enqueue_task(&task(key, "tickets", TaskReason::Trigger)).await.unwrap();
    assert!(store.claim_task(&claim(&runner, ttl)).await.unwrap().is_none(), "claimed while `nango run` runs it");
    store.release_lease(key, "tickets", &cli).await.unwrap();
    let taken = store.claim_task(&claim(&runner, ttl)).await.unwrap().unwrap();
    // The run ended; until its task is finished, its lease keeps others off.
    assert!(store.acquire_lease(key, "tickets", &cli, ttl).await.unwrap().is_err());
    assert!(store.finish_task(taken.id, &runner, None).await.unwrap());
    store.acquire_lease(key, "tickets", &cli, ttl).await.unwrap().unwrap();
}

async fn a_stop_asked_by_another_node_reaches_the_task(db: TestDb) {
    let store = store(&db).await;
    let key = connection(&store, "acme", "github").await;
    let runner = LeaseOwner::new("runner");
    assert!(!store.request_task_cancel(key, "tickets").await.unwrap(), "nothing runs yet");
    store.enqueue_task(&task(key, "tickets", TaskReason::Schedule)).await.unwrap();
    let taken = store.claim_task(&claim(&runner, Duration::from_secs(30))).await.unwrap().unwrap();
    assert!(!store.task_cancel_requested(taken.id).await.unwrap());
    assert!(store.request_task_cancel(key, "tickets").await.unwrap());
    assert!(store.task_cancel_requested(taken.id).await.unwrap());
}

async fn a_queued_webhook_is_claimed_by_one_live_node_until_it_stops_beating(db: TestDb) {
    let store = store(&db).await;
    let key = connection(&store, "acme", "github").await;
    let run = store.begin_run(key, "tickets", false).await.unwrap();
    let hooks: Vec<OutgoingWebhook> =
        (0..3).map(|i| OutgoingWebhook { model: format!("M{i}"), body: b"{}".to_vec() }).collect();
    store.queue_webhooks(run.ids.run, &hooks).await.unwrap();
    let (a, b) = (LeaseOwner::new("node a"), LeaseOwner::new("node b"));
    for node in [&a, &b] {
        let beat = NodeBeat {
            owner: node.token().into(),
            label: node.label().into(),
            roles: "webhooks".into(),
            started_at: Utc::now(),
        };
        store.node_beat(&beat).await.unwrap();
    }
    let (hold, beat) = (Duration::from_secs(600), Duration::from_millis(100));
    let first = store.claim_webhooks(&a, hold, beat, 2).await.unwrap();
    let second = store.claim_webhooks(&b, hold, beat, 10).await.unwrap();
    assert_eq!((first.len(), second.len()), (2, 1));
    assert!(first.iter().all(|w| w.id != second[0].id));
    store.webhook_done(second[0].id).await.unwrap();
    assert!(store.claim_webhooks(&b, hold, beat, 10).await.unwrap().is_empty());
    // Node A is killed before delivering: it stops beating, and B takes its claims over.
    tokio::time::sleep(beat * 3 + Duration::from_millis(50)).await;
    let beat_b =
        NodeBeat { owner: b.token().into(), label: "node b".into(), roles: "webhooks".into(), started_at: Utc::now() };
    store.node_beat(&beat_b).await.unwrap();
    let taken_over = store.claim_webhooks(&b, hold, beat, 10).await.unwrap();
    assert_eq!(taken_over.iter().map(|w| w.id).collect::<Vec<_>>(), first.iter().map(|w| w.id).collect::<Vec<_>>());
}

async fn the_cluster_counts_live_runners_only(db: TestDb) {
    let store = store(&db).await;
    let beat = |owner: &LeaseOwner, roles: &str| NodeBeat {
        owner: owner.token().into(),
        label: owner.label().into(),
        roles: roles.into(),
        started_at: Utc::now(),
    };
    let (api, r1, r2) = (LeaseOwner::new("api"), LeaseOwner::new("r1"), LeaseOwner::new("r2"));
    store.node_beat(&beat(&api, "api")).await.unwrap();
    store.node_beat(&beat(&r1, "runner")).await.unwrap();
    store.node_beat(&beat(&r2, "scheduler,runner,webhooks")).await.unwrap();
    let stats = store.queue_stats(Duration::from_secs(1)).await.unwrap();
    assert_eq!((stats.runners, stats.nodes), (2, 3));
    store.node_gone(&r1).await.unwrap();
    let stats = store.queue_stats(Duration::from_secs(1)).await.unwrap();
    assert_eq!((stats.runners, stats.nodes), (1, 2));
    // A node that stopped beating (killed) is not counted after three beats.
    let stats = store.queue_stats(Duration::from_millis(1)).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let later = store.queue_stats(Duration::from_millis(1)).await.unwrap();
    assert!(stats.is_ok());
    assert_eq!((later.runners, later.nodes), (0, 0));
}

/// Before any deployment recorded versions, a runner takes the tasks of every sync its binary
/// has, and leaves the others queued (a newer binary's, in a rolling deploy) instead of dropping
/// them. Once one is recorded, only the deployed version of a sync is claimed: a runner of the
/// old binary leaves the changed sync to the new one and keeps running the unchanged one.
async fn a_runner_claims_only_tasks_of_syncs_its_binary_has_at_the_deployed_version(db: TestDb) {
    let store = store(&db).await;
    let key = connection(&store, "acme", "github").await;
    let (old, new) = (LeaseOwner::new("old runner"), LeaseOwner::new("new runner"));
    let old_binary = [("tickets", "t1"), ("users", "u1")];
    let new_binary = [("tickets", "t2"), ("users", "u1"), ("teams", "m1")];
    for sync in ["tickets", "users", "teams"] {
        assert!(store.enqueue_task(&task(key, sync, TaskReason::Trigger)).await.unwrap());
    }
    // Nothing deployed: each runner by what its binary has.
    let mut taken = Vec::new();
    while let Some(task) = store.claim_task(&claim_of(&old, &old_binary)).await.unwrap() {
        taken.push(task.sync.clone());
        store.finish_task(task.id, &old, None).await.unwrap();
    }
    assert_eq!(taken, ["tickets", "users"]);
    let teams = store.claim_task(&claim_of(&new, &new_binary)).await.unwrap().unwrap();
    assert_eq!(teams.sync, "teams");
    store.finish_task(teams.id, &new, None).await.unwrap();

    // The new binary deployed: tickets changed, users did not, teams added.
    deploy(&store, &new_binary, vec![]).await;
    for sync in ["tickets", "users", "teams"] {
        assert!(store.enqueue_task(&task(key, sync, TaskReason::Trigger)).await.unwrap());
    }
    let users = store.claim_task(&claim_of(&old, &old_binary)).await.unwrap().unwrap();
    assert_eq!(users.sync, "users", "the old runner runs the unchanged sync");
    assert!(store.claim_task(&claim_of(&old, &old_binary)).await.unwrap().is_none(), "nor tickets at t1, nor teams");
    let mut left = Vec::new();
    while let Some(task) = store.claim_task(&claim_of(&new, &new_binary)).await.unwrap() {
        left.push(task.sync);
    }
    left.sort();
    assert_eq!(left, ["teams", "tickets"]);
    // A scheduler of the old binary enqueues nothing of a sync the deployment does not have.
    deploy(&store, &[("tickets", "t2")], vec![]).await;
    store.finish_task(users.id, &old, None).await.unwrap();
    assert!(!store.enqueue_task(&task(key, "users", TaskReason::Trigger)).await.unwrap());
}

/// A deployment that removes a sync: its queued tasks go, and its run going on is ended, so the
/// runner that runs it (an old binary's) has its next write refused and nothing more is stored.
async fn a_deployment_that_removes_a_sync_ends_its_runs_and_tasks(db: TestDb) {
    let store = store(&db).await;
    let (a, b) = (connection(&store, "a", "github").await, connection(&store, "b", "github").await);
    let old = LeaseOwner::new("old runner");
    let binary = [("tickets", "t1"), ("users", "u1")];
    deploy(&store, &binary, vec![]).await;
    store.enqueue_task(&task(a, "users", TaskReason::Trigger)).await.unwrap();
    let running = store.claim_task(&claim_of(&old, &binary)).await.unwrap().unwrap();
    let run = store.begin_run(a, "users", false).await.unwrap();
    store.enqueue_task(&task(b, "users", TaskReason::Trigger)).await.unwrap();

    let unschedule = deploy::DeployStep::UnscheduleSync { integration: "github".into(), sync: "users".into() };
    deploy(&store, &[("tickets", "t1")], vec![unschedule]).await;
    assert_eq!(store.queue_stats(Duration::from_secs(1)).await.unwrap(), QueueStats::default());
    assert!(store.claim_task(&claim_of(&old, &binary)).await.unwrap().is_none());
    let records = vec![PreparedRecord::new("User", json!({"id": "late"})).unwrap()];
    let refused = store.apply(run.ids, "User", RecordChange::Save, records).await.unwrap_err();
    assert!(matches!(refused, StoreError::RunFenced { .. }), "{refused}");
    let ended = store.runs(Some(a), Some("users"), 1).await.unwrap().remove(0);
    assert_eq!(ended.status, RunStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("stopped: a deployment removed this sync"));
    assert!(!store.finish_task(running.id, &old, None).await.unwrap(), "the task went with its sync");
}

/// Waits for a wake-up at most `limit`; whether one came.
async fn woken(wakeups: &mut tokio::sync::mpsc::Receiver<()>, limit: Duration) -> bool {
    matches!(tokio::time::timeout(limit, wakeups.recv()).await, Ok(Some(())))
}

/// PostgreSQL restarted under a runner (every connection of its database ended, new ones refused
/// for two seconds): its `LISTEN` comes back by itself on a connection of its own, and the next
/// task another process enqueues wakes it; its pool connects again, and the task is claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_runners_hear_of_tasks_again_after_the_database_restarted() {
    let db = db::PostgresDatabase::create().await;
    let runner = Store::open(db.url(), Sealer::InsecureClear).await.unwrap();
    let scheduler = Store::open(db.url(), Sealer::InsecureClear).await.unwrap();
    let key = connection(&scheduler, "acme", "github").await;
    let mut wakeups = runner.task_wakeups().await.expect("PostgreSQL tells runners of tasks");
    assert!(scheduler.enqueue_task(&task(key, "tickets", TaskReason::Trigger)).await.unwrap());
    assert!(woken(&mut wakeups, Duration::from_secs(5)).await, "no wake-up for a task");
    assert_eq!(db.listening_sessions().await, 1);
    // The runner's pool holds a connection too.
    assert!(!runner.task_running(key, "tickets").await.unwrap());
    let ended = db.restart(Duration::from_secs(2)).await;
    assert!(ended >= 3, "the restart ended {ended} connections (the listener's and the two pools')");
    // The listener connects again by itself (it retries every second).
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while db.listening_sessions().await == 0 {
        assert!(std::time::Instant::now() < deadline, "the runner's LISTEN did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The wake-ups of the failure are spent; the next one is the next task's.
    while woken(&mut wakeups, Duration::from_millis(1500)).await {}
    assert!(scheduler.enqueue_task(&task(key, "users", TaskReason::Trigger)).await.unwrap());
    assert!(woken(&mut wakeups, Duration::from_secs(5)).await, "no wake-up for a task after the restart");
    let runner_owner = LeaseOwner::new("runner");
    let claimed = runner.claim_task(&claim(&runner_owner, Duration::from_secs(30))).await.unwrap();
    assert_eq!(claimed.map(|t| t.sync), Some("tickets".to_owned()));
}
