//! Deployments against the store: the example's nango.yaml at two versions (a sync added, one
//! removed, a frequency changed, a field added, a field removed), each turned into the manifest
//! its program would deploy (through nango-codegen, without building it), planned and applied in
//! turn; then the refusals: destructive changes not allowed, a plan whose base changed, two plans
//! applied at once, and a model change stored records would no longer match.

#[macro_use]
#[path = "support/db.rs"]
mod db;
#[path = "support/manifest.rs"]
mod manifest;

use chrono::Utc;
use db::TestDb;
use manifest::manifest_of;
use nango_runtime::crypto::Sealer;
use nango_runtime::deploy::{Applied, ApplyOptions, DeployError, Deployer, Manifest, render_plan};
use nango_runtime::store::*;
use nango_runtime::{Connection, RecordChange};
use nango_types::text::error_chain;
use serde_json::{Value, json};

/// The example's nango.yaml with one more sync (`github-milestones`), the version deployed
/// first.
fn version_1() -> String {
    let example = include_str!("../../examples/github-tickets/nango.yaml");
    let milestones = "      github-milestones:\n        description: The milestones of a repository\n        runs: every hour\n        sync_type: full\n        track_deletes: true\n        input: GithubRepo\n        output: Milestone\n        endpoint: GET /milestones\n";
    let with_sync = example.replace("models:\n", &format!("{milestones}models:\n"));
    format!("{with_sync}  Milestone:\n    id: string\n    title: string\n    due_on: date | null\n")
}

/// Version 2: `github-milestones` removed, `github-labels` added (not started on its own),
/// `github-tickets` every 30 minutes instead of 5, `Ticket` with a new optional `priority` and
/// without `comments`.
fn version_2() -> String {
    let example = include_str!("../../examples/github-tickets/nango.yaml");
    let labels = "      github-labels:\n        description: The labels of a repository\n        runs: every day\n        auto_start: false\n        input: GithubRepo\n        output: Label\n        endpoint: GET /labels\n";
    let edited = example
        .replace("runs: every 5 minutes", "runs: every 30 minutes")
        .replace("    comments: number\n", "    priority?: string\n")
        .replace("models:\n", &format!("{labels}models:\n"));
    format!("{edited}  Label:\n    id: string\n    name: string\n    color: string\n")
}

/// Version 3 (after 2): `Ticket.number` becomes a string, which stored tickets do not hold.
fn version_3() -> String {
    version_2().replace("    number: number\n", "    number: string\n")
}

on_both_backends!(
    two_versions_apply_in_turn,
    concurrent_and_stale_plans_are_refused,
    records_stored_after_the_plan_are_checked_in_the_transaction,
    the_first_deployment_of_a_store_is_a_baseline,
    a_changed_version_is_recorded_and_resyncs_only_when_asked,
);

async fn open(db: &TestDb) -> Store {
    Store::open(&db.url(), Sealer::InsecureClear).await.unwrap()
}

fn ticket(n: u64) -> Value {
    json!({
        "id": n.to_string(), "number": n, "title": format!("Issue #{n}"), "state": "open", "author": "octocat",
        "labels": [], "comments": 2, "url": format!("https://github.com/o/r/issues/{n}"),
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-02T00:00:00.000Z", "closed_at": null
    })
}

/// One finished run of `sync` that saved `records` of `model`; when it started.
async fn run_saving(
    store: &Store,
    key: ConnectionKey,
    sync: &str,
    model: &str,
    records: Vec<Value>,
) -> chrono::DateTime<Utc> {
    let run = store.begin_run(key, sync, false).await.unwrap();
    let prepared = records.into_iter().map(|r| PreparedRecord::new(model, r).unwrap()).collect();
    store.apply(run.ids, model, RecordChange::Save, prepared).await.unwrap();
    let end = RunEnd {
        status: RunStatus::Success,
        counts: Default::default(),
        error: None,
        advance_last_sync_date: true,
        clear_checkpoint: true,
    };
    store.finish_run(&run, sync, &end).await.unwrap();
    run.started_at
}

fn allow() -> ApplyOptions {
    ApplyOptions { allow_destructive: true, resync: false }
}

async fn deploy(deployer: &Deployer, manifest: Manifest, options: ApplyOptions) -> Applied {
    let plan = deployer.plan(manifest).await.unwrap();
    deployer.apply(&plan, options).await.unwrap()
}

/// The whole story on one store: version 1 deployed over two connections with records, then
/// version 2 planned (golden text and JSON), refused without `allow_destructive` (nothing
/// changed), applied, and checked: schedules, own frequencies kept, records deleted and fields
/// dropped, the model-removed webhook queued, the history.
async fn two_versions_apply_in_turn(db: TestDb) {
    let store = open(&db).await;
    let deployer = Deployer::new(store.clone(), "deploy-test");
    let acme = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    let demo = store.save_connection(&Connection::new("github", "demo", "github")).await.unwrap();

    let first = deployer.plan(manifest_of(&version_1())).await.unwrap();
    expectorate::assert_contents("tests/deploy/plan-first.txt", &render_plan(&first));
    assert!(first.destructive().is_empty());
    assert!(matches!(deployer.apply(&first, ApplyOptions::default()).await.unwrap(), Applied::Deployed { id: 1, .. }));
    // Every connection got a schedule of both syncs, started (auto_start).
    for key in [acme, demo] {
        for sync in ["github-tickets", "github-milestones"] {
            let state = store.sync_state(key, sync).await.unwrap();
            assert_eq!((state.paused, state.next_run_at), (None, None), "{sync} of {key}: due, following auto_start");
        }
    }

    // What runs left: tickets for both, milestones for acme, and demo's own tickets frequency.
    let acme_started = run_saving(&store, acme, "github-tickets", "Ticket", (1..=3).map(ticket).collect()).await;
    run_saving(&store, demo, "github-tickets", "Ticket", (4..=5).map(ticket).collect()).await;
    let milestones =
        vec![json!({"id": "m1", "title": "v1", "due_on": null}), json!({"id": "m2", "title": "v2", "due_on": null})];
    run_saving(&store, acme, "github-milestones", "Milestone", milestones).await;
    store.set_frequency(demo, "github-tickets", Some(7200)).await.unwrap();
    let demo_next = Utc::now() + chrono::Duration::hours(2);
    store.set_next_run(demo, "github-tickets", Some(demo_next)).await.unwrap();
    store.set_next_run(acme, "github-tickets", Some(acme_started + chrono::Duration::minutes(5))).await.unwrap();

    let plan = deployer.plan(manifest_of(&version_2())).await.unwrap();
    expectorate::assert_contents("tests/deploy/plan-second.txt", &render_plan(&plan));
    let plan_json = serde_json::to_string_pretty(&plan.to_json()).unwrap();
    let target = plan.target.clone();
    let base = plan.deployed.as_ref().unwrap().fingerprint.clone();
    let plan_json = plan_json.replace(&target, "<target>").replace(&base, "<deployed>");
    let plan_json = without_time_and_pid(&plan_json);
    expectorate::assert_contents("tests/deploy/plan-second.json", &plan_json);
    assert_eq!(plan.destructive().len(), 3, "milestones sync and model removed, a field records hold dropped");

    // Not allowed: refused whole, naming each destructive change; nothing changed.
    let refused = deployer.apply(&plan, ApplyOptions::default()).await.unwrap_err();
    let message = error_chain(&refused);
    assert!(matches!(refused, DeployError::Destructive { .. }), "{message}");
    assert!(
        message.contains("- sync github/github-milestones: unscheduled for 2 connections (acme, demo)"),
        "{message}"
    );
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(store.deployments(10).await.unwrap().len(), 1);
    assert_eq!(store.record_counts(acme).await.unwrap().get("Milestone"), Some(&2));

    let applied = deployer.apply(&plan, allow()).await.unwrap();
    assert!(matches!(applied, Applied::Deployed { id: 2, changes: 6 }), "{applied:?}");

    // A sync added: scheduled for both, paused (auto_start false) until started.
    for key in [acme, demo] {
        let labels = store.sync_state(key, "github-labels").await.unwrap();
        assert_eq!(labels.paused, None);
        // The removed sync's schedule is gone (defaults again), its records deleted.
        let gone = store.sync_state(key, "github-milestones").await.unwrap();
        assert_eq!((gone.last_sync_date, gone.next_run_at), (None, None));
        assert_eq!(store.record_counts(key).await.unwrap().get("Milestone"), None);
    }
    // The frequency: acme's next run is one new interval after its last run's start; demo's own
    // frequency set through the API stays, with its next run.
    let acme_state = store.sync_state(acme, "github-tickets").await.unwrap();
    let expected = acme_started + chrono::Duration::minutes(30);
    assert_eq!(acme_state.next_run_at.map(|t| t.timestamp_micros()), Some(expected.timestamp_micros()));
    let demo_state = store.sync_state(demo, "github-tickets").await.unwrap();
    assert_eq!(demo_state.frequency_secs, Some(7200));
    assert_eq!(demo_state.next_run_at.map(|t| t.timestamp_micros()), Some(demo_next.timestamp_micros()));
    // The field removed is out of the stored tickets; the rest stays.
    let page =
        store.records(acme, &RecordQuery { model: "Ticket".into(), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(page.records.len(), 3);
    for record in &page.records {
        let json = record.data();
        assert!(json.get("comments").is_none(), "{json}");
        assert_eq!(json["author"], "octocat");
    }
    // Consumers are told of the removed model.
    let hooks = store.pending_deploy_webhooks(10).await.unwrap();
    assert_eq!(hooks.len(), 1);
    let hook: nango_runtime::webhooks::ModelRemovedWebhook = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(
        (
            hook.kind.as_str(),
            hook.model.as_str(),
            hook.sync_names.clone(),
            hook.connection_ids.clone(),
            hook.records_deleted
        ),
        ("model_removed", "Milestone", vec!["github-milestones".to_owned()], vec!["acme".to_owned()], 2)
    );
    assert_eq!(hook.deployment, target);
    store.deploy_webhook_done(hooks[0].id).await.unwrap();
    assert!(store.pending_deploy_webhooks(10).await.unwrap().is_empty());

    // The history: two deployments, the second replacing the first.
    let history = store.deployments(10).await.unwrap();
    assert_eq!(history.iter().map(|d| d.id).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(history[0].previous.as_deref(), Some(base.as_str()));
    assert_eq!(history[0].changes.as_array().unwrap().len(), 6);
    assert!(history[0].applied_by.starts_with("deploy-test (pid "));
    // Deploying the same binary again changes nothing.
    let again = deployer.plan(manifest_of(&version_2())).await.unwrap();
    assert!(again.is_up_to_date());
    expectorate::assert_contents("tests/deploy/plan-up-to-date.txt", &render_plan(&again));
    assert!(matches!(deployer.apply(&again, ApplyOptions::default()).await.unwrap(), Applied::UpToDate { id: 2 }));

    // Version 3 retypes a field stored tickets hold: the plan says how many and which, and it is
    // refused unless allowed; allowed, those records go and the sync resyncs in full.
    let plan = deployer.plan(manifest_of(&version_3())).await.unwrap();
    expectorate::assert_contents("tests/deploy/plan-retyped.txt", &render_plan(&plan));
    assert!(matches!(deployer.apply(&plan, ApplyOptions::default()).await, Err(DeployError::Destructive { .. })));
    deployer.apply(&plan, allow()).await.unwrap();
    assert_eq!(store.record_counts(acme).await.unwrap().get("Ticket"), None);
    let state = store.sync_state(acme, "github-tickets").await.unwrap();
    assert!(state.last_sync_date.is_none() && state.triggered_at.is_some(), "{state:?}");
}

/// The deployment's time and process in the JSON plan, which change every run.
fn without_time_and_pid(text: &str) -> String {
    text.lines()
        .map(|line| match line.trim_start() {
            l if l.starts_with("\"deployed_at\"") => "    \"deployed_at\": \"<time>\",",
            l if l.starts_with("\"applied_by\"") => "    \"applied_by\": \"deploy-test (pid <pid>)\"",
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A plan computed before another deployment is refused, naming what is deployed now; two
/// different plans applied at once: one wins, the other is refused, and the store holds exactly
/// the winner's state; the same plan applied twice at once (two replicas starting) is applied
/// once.
async fn concurrent_and_stale_plans_are_refused(db: TestDb) {
    let store = open(&db).await;
    store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    let a = Deployer::new(store.clone(), "binary-a");
    let b = Deployer::new(store.clone(), "binary-b");
    deploy(&a, manifest_of(&version_1()), allow()).await;

    let stale = b.plan(manifest_of(&version_2())).await.unwrap();
    deploy(&a, manifest_of(&version_3()), allow()).await;
    let refused = b.apply(&stale, allow()).await.unwrap_err();
    let message = error_chain(&refused);
    assert!(matches!(refused, DeployError::Store(StoreError::DeploymentChanged { .. })), "{message}");
    assert!(message.contains("the deployed state changed since this plan was computed"), "{message}");
    assert!(message.contains("(deployment #2, applied by binary-a (pid"), "{message}");
    assert_eq!(store.deployments(10).await.unwrap().len(), 2);

    // Two binaries with different plans, at once.
    let plan_a = a.plan(manifest_of(&version_1())).await.unwrap();
    let plan_b = b.plan(manifest_of(&version_2())).await.unwrap();
    let (ra, rb) = tokio::join!(a.apply(&plan_a, allow()), b.apply(&plan_b, allow()));
    let wins = [ra.is_ok(), rb.is_ok()];
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{ra:?} {rb:?}");
    let loser = if wins[0] { rb.unwrap_err() } else { ra.unwrap_err() };
    assert!(matches!(loser, DeployError::Store(StoreError::DeploymentChanged { .. })), "{loser:?}");
    let winner = if wins[0] { &plan_a } else { &plan_b };
    let history = store.deployments(10).await.unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0].fingerprint, winner.target);

    // The same plan, twice at once: applied once.
    let next = if wins[0] { version_2() } else { version_1() };
    let p1 = a.plan(manifest_of(&next)).await.unwrap();
    let p2 = b.plan(manifest_of(&next)).await.unwrap();
    let (r1, r2) = tokio::join!(a.apply(&p1, allow()), b.apply(&p2, allow()));
    let outcomes = [r1.unwrap(), r2.unwrap()];
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Applied::Deployed { .. })).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Applied::UpToDate { id: 4 })).count(), 1, "{outcomes:?}");
    assert_eq!(store.deployments(10).await.unwrap().len(), 4);
}

/// A plan that found no stored record at odds with the new schema, applied after a run stored
/// some: refused in the transaction, naming the model and a record, and nothing of the plan is
/// applied.
async fn records_stored_after_the_plan_are_checked_in_the_transaction(db: TestDb) {
    let store = open(&db).await;
    let acme = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    let deployer = Deployer::new(store.clone(), "deploy-test");
    deploy(&deployer, manifest_of(&version_2()), allow()).await;
    let plan = deployer.plan(manifest_of(&version_3())).await.unwrap();
    assert!(plan.destructive().is_empty(), "no records yet: {}", render_plan(&plan));
    run_saving(&store, acme, "github-tickets", "Ticket", vec![ticket(7)]).await;
    let refused = deployer.apply(&plan, ApplyOptions::default()).await.unwrap_err();
    let message = error_chain(&refused);
    assert!(
        message.contains("1 stored record(s) of model Ticket no longer match its new schema (record `7` of connection `acme`, for one); nothing was changed"),
        "{message}"
    );
    assert_eq!(store.deployments(10).await.unwrap().len(), 1);
    assert_eq!(store.record_counts(acme).await.unwrap().get("Ticket"), Some(&1));
}

/// A store that never saw a deployment records the first one as the baseline, also when it
/// changes nothing.
async fn the_first_deployment_of_a_store_is_a_baseline(db: TestDb) {
    let store = open(&db).await;
    let deployer = Deployer::new(store.clone(), "deploy-test");
    let plan = deployer.plan(Manifest::default()).await.unwrap();
    assert!(plan.deployed.is_none() && plan.changes.is_empty());
    assert!(matches!(
        deployer.apply(&plan, ApplyOptions::default()).await.unwrap(),
        Applied::Deployed { id: 1, changes: 0 }
    ));
    let again = deployer.plan(Manifest::default()).await.unwrap();
    assert!(again.is_up_to_date());
}

/// A changed `version` is in the plan and recorded; the syncs resync in full (state forgotten, a
/// trigger left) only with `resync`.
async fn a_changed_version_is_recorded_and_resyncs_only_when_asked(db: TestDb) {
    let store = open(&db).await;
    let acme = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    let deployer = Deployer::new(store.clone(), "deploy-test");
    deploy(&deployer, manifest_of(&version_2()), allow()).await;
    run_saving(&store, acme, "github-tickets", "Ticket", vec![ticket(1)]).await;
    let versioned = |v: &str| {
        version_2().replace("        scopes: [repo]\n", &format!("        scopes: [repo]\n        version: {v}\n"))
    };

    let plan = deployer.plan(manifest_of(&versioned("1.0.1"))).await.unwrap();
    let text = render_plan(&plan);
    assert!(text.contains("~ sync github/github-tickets: version `none` -> `1.0.1` for 1 connection (acme)"), "{text}");
    deployer.apply(&plan, ApplyOptions::default()).await.unwrap();
    let state = store.sync_state(acme, "github-tickets").await.unwrap();
    assert!(state.last_sync_date.is_some() && state.triggered_at.is_none(), "not asked: {state:?}");
    let recorded: Manifest = serde_json::from_str(&store.deployments(1).await.unwrap()[0].manifest).unwrap();
    assert_eq!(recorded.sync("github", "github-tickets").unwrap().version, "1.0.1");

    let plan = deployer.plan(manifest_of(&versioned("2.0.0"))).await.unwrap();
    deployer.apply(&plan, ApplyOptions { allow_destructive: false, resync: true }).await.unwrap();
    let state = store.sync_state(acme, "github-tickets").await.unwrap();
    assert!(state.last_sync_date.is_none() && state.checkpoint.is_none() && state.triggered_at.is_some(), "{state:?}");
    // The records stay until the full run replaces them.
    assert_eq!(store.record_counts(acme).await.unwrap().get("Ticket"), Some(&1));
}
