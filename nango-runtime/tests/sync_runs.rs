//! Sync functions run by the runtime against the mock provider over real HTTP, into real
//! SQLite files: every pagination style, incremental runs, deletion detection only after
//! success, checkpoints surviving a killed run, OAuth refresh, and a faulted run of 10k records
//! landing each exactly once.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

use nango_mock_provider::{Faults, IssueState, IssueUpdate, MockProvider, MockServer, Mutation, RetryAfter};
use nango_runtime::crypto::Sealer;
use nango_runtime::engine::{DryRunOptions, Runtime};
use nango_runtime::http::HttpOptions;
use nango_runtime::store::{ChangeCounts, ConnectionKey, RecordQuery, RunStatus, Store};
use nango_runtime::{Connection, Credentials, Secret, SyncRegistration};
use std::time::Duration;

mod common;
use common::models;

fn sync(name: &str) -> &'static SyncRegistration {
    nango_runtime::registered_syncs().find(|s| s.descriptor.name == name).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    runtime: Runtime,
    server: MockServer,
    key: ConnectionKey,
    integration: &'static str,
}

impl Setup {
    async fn run(&self, name: &str) -> nango_runtime::engine::RunReport {
        self.runtime.run_sync(sync(name), self.integration, "acme").await.unwrap()
    }
}

fn fast_http() -> HttpOptions {
    HttpOptions::default().min_delay(Duration::from_millis(1)).max_delay(Duration::from_millis(20)).max_retries(8)
}

async fn setup(issues: u64, faults: Faults, metadata: serde_json::Value) -> Setup {
    setup_for("github", issues, faults, metadata).await
}

async fn setup_for(integration: &'static str, issues: u64, faults: Faults, metadata: serde_json::Value) -> Setup {
    let server = MockProvider::builder().issues(issues).token("t0ken").faults(faults).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await.unwrap();
    let mut c = Connection::new(integration, "acme", "github");
    c.credentials = Credentials::Bearer { token: Secret::new("t0ken") };
    c.base_url = Some(server.url().to_owned());
    c.metadata = metadata;
    let key = store.save_connection(&c).await.unwrap();
    Setup { _dir: dir, runtime: Runtime::new(store).with_http_options(fast_http()), server, key, integration }
}

fn repo() -> serde_json::Value {
    serde_json::json!({"owner": "acme", "repo": "api"})
}

async fn stored_ids(s: &Setup) -> Vec<String> {
    let mut query = RecordQuery { model: "Issue".into(), limit: 1000, ..Default::default() };
    let mut ids = Vec::new();
    loop {
        let page = s.runtime.store().records(s.key, &query).await.unwrap();
        ids.extend(page.records.iter().filter(|r| r.metadata.deleted_at.is_none()).map(|r| r.id.clone()));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return ids,
        }
    }
}

fn added(n: u64) -> ChangeCounts {
    ChangeCounts { added: n, updated: 0, deleted: 0 }
}

#[tokio::test]
async fn every_pagination_style_lands_every_issue_once() {
    let metadata = serde_json::json!({"owner": "acme", "repo": "api", "offset_method": "per-page"});
    for (name, meta) in [
        ("issues-incremental", repo()),
        ("issues-cursor", repo()),
        ("issues-offset", repo()),
        ("issues-offset", metadata),
        ("issues-bodylink", repo()),
        ("issues-pages", repo()),
    ] {
        let s = setup_for(sync(name).descriptor.integration, 233, Faults::default(), meta).await;
        let report = s.run(name).await;
        assert_eq!(report.error, None, "{name}");
        assert_eq!(report.counts["Issue"], added(233), "{name}");
        let mut ids = stored_ids(&s).await;
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 233, "{name}");
        s.server.shutdown().await;
    }
}

#[tokio::test]
async fn incremental_runs_fetch_only_what_changed() {
    let s = setup(150, Faults::default(), repo()).await;
    let first = s.run("issues-incremental").await;
    assert_eq!(first.counts["Issue"], added(150));
    s.server.update_issue(3, IssueUpdate { title: Some("edited".into()), state: Some(IssueState::Closed) });
    s.server.add_issues(2);
    s.server.reset_stats();
    let second = s.run("issues-incremental").await;
    assert_eq!(second.counts["Issue"], ChangeCounts { added: 2, updated: 1, deleted: 0 });
    // One page: only the changes since the first run were requested.
    assert_eq!(s.server.stats().served_ok, 1);
    let third = s.run("issues-incremental").await;
    assert!(third.counts.get("Issue").is_none_or(|c| c.is_empty()), "{:?}", third.counts);
}

#[tokio::test]
async fn deletions_are_detected_only_after_a_successful_run() {
    let s = setup_for(
        "github-full",
        120,
        Faults::default(),
        serde_json::json!({"owner": "a", "repo": "b", "per_page": 50}),
    )
    .await;
    let first = s.run("issues-full").await;
    assert_eq!(first.counts["Issue"], added(120));
    for n in [5, 60, 110] {
        assert!(s.server.delete_issue(n));
    }
    // A dry run sees the three as would-be deleted, and deletes nothing.
    let dry = s.runtime.dry_run(sync("issues-full"), "github-full", "acme", DryRunOptions::default()).await.unwrap();
    assert_eq!(dry.counts["Issue"], ChangeCounts { added: 0, updated: 0, deleted: 3 });
    assert_eq!(stored_ids(&s).await.len(), 120);
    // A failing run sees only the first page: nothing may be deleted.
    let meta = serde_json::json!({"owner": "a", "repo": "b", "per_page": 50, "fail_after_pages": 1});
    s.runtime.store().set_metadata(s.key, &meta).await.unwrap();
    let failed = s.run("issues-full").await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(failed.error.as_deref().unwrap().contains("failing on purpose"));
    assert_eq!(stored_ids(&s).await.len(), 120);
    // The next run resumes after the checkpoint of the failed run and deletes the three.
    s.runtime
        .store()
        .set_metadata(s.key, &serde_json::json!({"owner": "a", "repo": "b", "per_page": 50}))
        .await
        .unwrap();
    let ok = s.run("issues-full").await;
    assert_eq!(ok.error, None);
    assert_eq!(ok.counts["Issue"].deleted, 3);
    assert_eq!(stored_ids(&s).await.len(), 117);
    // Success cleared the checkpoint: the next full run starts from page 1 again.
    assert_eq!(s.runtime.store().sync_state(s.key, "issues-full").await.unwrap().checkpoint, None);
}

#[tokio::test]
async fn a_killed_run_resumes_from_its_checkpoint() {
    let latency = Faults { latency: Duration::from_millis(30), ..Default::default() };
    let s =
        setup_for("github-full", 1000, latency, serde_json::json!({"owner": "a", "repo": "b", "per_page": 50})).await;
    // Kill the run (drop its task) once a few pages are in.
    let run = s.runtime.run_sync(sync("issues-full"), "github-full", "acme");
    let killed = tokio::time::timeout(Duration::from_millis(250), run).await;
    assert!(killed.is_err(), "the run should still be going");
    // The run's writer task is aborted with the dropped future, but the runtime drops an
    // aborted task a moment later: a batch whose commit is under way then still lands (a killed
    // process's would not). Let it land before reading where the run got to.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let state = s.runtime.store().sync_state(s.key, "issues-full").await.unwrap();
    let page = state.checkpoint.expect("a checkpoint was saved before the kill")["page"].as_u64().unwrap();
    assert!((1..20).contains(&page), "{page}");
    let before = stored_ids(&s).await.len() as u64;
    assert!(before >= page * 50);

    s.server.reset_stats();
    s.server.set_faults(Faults::default());
    let resumed = s.run("issues-full").await;
    assert_eq!(resumed.error, None);
    // Pages up to the checkpoint were not fetched again, and nothing seen before the kill was
    // deleted by the resumed run's deletion detection.
    assert_eq!(s.server.stats().served_ok, 20 - page + 1);
    assert_eq!(resumed.counts["Issue"].deleted, 0);
    assert_eq!(stored_ids(&s).await.len(), 1000);
    let runs = s.runtime.store().runs(Some(s.key), None, 10).await.unwrap();
    assert_eq!(runs[1].status, RunStatus::Failed);
    assert!(runs[1].error.as_deref().unwrap().contains("interrupted"));
}

/// The CLI's `run` opens SQLite with one pooled connection: the lease's heartbeat (every 50 ms
/// here) waits for the run's batches and checkpoints, and nothing waits for itself.
#[tokio::test]
async fn a_run_on_one_sqlite_connection_keeps_its_lease_and_lands_every_record() {
    let server = MockProvider::builder().issues(5_000).token("t0ken").start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?pool_size=1&cache_kib=64", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
    let mut c = Connection::new("github", "acme", "github");
    c.credentials = Credentials::Bearer { token: Secret::new("t0ken") };
    c.base_url = Some(server.url().to_owned());
    c.metadata = repo();
    store.save_connection(&c).await.unwrap();
    let owner = nango_runtime::store::LeaseOwner::for_this_process("test");
    let runtime = Runtime::new(store).with_http_options(fast_http()).with_lease(owner, Duration::from_millis(150));
    for expected in [added(5_000), ChangeCounts::default()] {
        let report = runtime.run_sync(sync("issues-incremental"), "github", "acme").await.unwrap();
        assert_eq!(report.error, None);
        assert_eq!(report.counts.get("Issue").cloned().unwrap_or_default(), expected);
    }
}

#[tokio::test]
async fn a_faulted_run_of_10k_records_lands_each_exactly_once() {
    let faults = Faults {
        error_rate: 0.1,
        rate_limit_rate: 0.05,
        retry_after: RetryAfter::Seconds(0),
        drop_rate: 0.05,
        html_error_rate: 0.02,
        seed: 11,
        ..Default::default()
    };
    let s = setup(10_000, faults, repo()).await;
    let report = s.run("issues-incremental").await;
    assert_eq!(report.error, None);
    assert_eq!(report.counts["Issue"], added(10_000));
    let stats = s.server.stats();
    assert!(
        stats.injected_500 > 0 && stats.injected_429 > 0 && stats.dropped > 0 && stats.injected_502 > 0,
        "{stats:?}"
    );
    let mut ids = stored_ids(&s).await;
    assert_eq!(ids.len(), 10_000);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10_000);
}

#[tokio::test]
async fn a_malformed_page_fails_the_run_keeps_what_was_saved_and_the_next_run_resumes() {
    let s = setup_for(
        "github-full",
        300,
        Faults::default(),
        serde_json::json!({"owner": "a", "repo": "b", "per_page": 50}),
    )
    .await;
    // Every page after the first two answers with truncated JSON (correct framing, 200), on
    // every retry too.
    let always_cut = Faults { malformed_rate: 1.0, max_consecutive: u32::MAX, ..Default::default() };
    s.server.after_requests(2, Mutation { faults: Some(always_cut), ..Mutation::default() });
    let report = s.run("issues-full").await;
    let error = report.error.expect("the run fails");
    assert!(error.contains("GET http://127.0.0.1") && error.contains("not valid JSON after 9 attempts"), "{error}");
    let kept = stored_ids(&s).await.len();
    assert_eq!(kept, 100);
    s.server.set_faults(Faults::default());
    let next = s.run("issues-full").await;
    assert_eq!(next.error, None);
    assert_eq!(stored_ids(&s).await.len(), 300);
    assert_eq!(next.counts["Issue"].added as usize, 300 - kept);
}

/// The run's batches are written on a task of their own while the sync fetches the next pages:
/// when one fails, nothing handed over after it is written (not the checkpoint saved with it or
/// later, not the pages after it), the run fails with the store's error, and the next run
/// resumes from the last checkpoint that was written.
#[tokio::test]
async fn a_failed_write_keeps_nothing_handed_over_after_it() {
    let s = setup_for(
        "github-full",
        600,
        Faults::default(),
        serde_json::json!({"owner": "a", "repo": "b", "per_page": 100}),
    )
    .await;
    // A real failure of the database, once: one record of the third page is refused, and the
    // pages after it would be written if anything handed over after the failure were.
    let file = s._dir.path().join("nango.db");
    let db = rusqlite::Connection::open(&file).unwrap();
    db.execute_batch(
        "CREATE TRIGGER full_disk BEFORE INSERT ON records WHEN NEW.id = '1000250' \
         BEGIN SELECT RAISE(ABORT, 'the disk said no'); END;",
    )
    .unwrap();
    let report = s.run("issues-full").await;
    let error = report.error.expect("the run fails");
    assert!(error.contains("the disk said no"), "{error}");
    assert!(report.store_failed);
    assert_eq!(stored_ids(&s).await.len(), 200);
    let state = s.runtime.store().sync_state(s.key, "issues-full").await.unwrap();
    assert_eq!(state.checkpoint.expect("the second page's checkpoint")["page"], 2);

    db.execute_batch("DROP TRIGGER full_disk;").unwrap();
    s.server.reset_stats();
    let resumed = s.run("issues-full").await;
    assert_eq!(resumed.error, None);
    // Pages 3 to 6 and the empty seventh.
    assert_eq!(s.server.stats().served_ok, 5);
    assert_eq!(stored_ids(&s).await.len(), 600);
}

#[tokio::test]
async fn retry_after_in_both_forms_is_honoured() {
    // An HTTP date has whole seconds: two seconds from now is at least one second away.
    for retry_after in [RetryAfter::Seconds(1), RetryAfter::HttpDate(2)] {
        let faults = Faults { rate_limit_rate: 1.0, retry_after, max_consecutive: 1, ..Default::default() };
        let s = setup_for("github-pages", 10, faults, repo()).await;
        let started = std::time::Instant::now();
        let report = s.run("issues-pages").await;
        assert_eq!(report.error, None);
        assert_eq!(report.counts["Issue"], added(10));
        assert!(s.server.stats().injected_429 >= 1);
        // The wait came from the header, not from the 1-20 ms backoff.
        assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    }
}

#[tokio::test]
async fn oauth_tokens_are_refreshed_on_401_and_saved_sealed() {
    let server = MockProvider::builder().issues(30).token("old").oauth("cid", "csecret", "r1").start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await.unwrap();
    let mut c = Connection::new("github-pages", "acme", "github");
    c.credentials = Credentials::OAuth2 {
        access_token: Secret::new("old"),
        refresh_token: Some(Secret::new("r1")),
        expires_at: None,
        client_id: Some("cid".into()),
        client_secret: Some(Secret::new("csecret")),
    };
    c.base_url = Some(server.url().to_owned());
    c.metadata = repo();
    store.save_connection(&c).await.unwrap();
    server.expire_token();
    let runtime = Runtime::new(store).with_http_options(fast_http());
    let report = runtime.run_sync(sync("issues-pages"), "github-pages", "acme").await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(server.stats().token_refreshes, 1);
    let saved = runtime.store().connection("github-pages", "acme").await.unwrap().unwrap().connection;
    let Credentials::OAuth2 { access_token, .. } = saved.credentials else { panic!("oauth2 expected") };
    assert_ne!(access_token.expose(), "old");

    // A refresh that fails ends the run with a clear error.
    let mut bad = runtime.store().connection("github-pages", "acme").await.unwrap().unwrap().connection;
    bad.credentials = Credentials::OAuth2 {
        access_token: Secret::new("old"),
        refresh_token: Some(Secret::new("wrong")),
        expires_at: None,
        client_id: Some("cid".into()),
        client_secret: Some(Secret::new("csecret")),
    };
    runtime.store().save_connection(&bad).await.unwrap();
    server.expire_token();
    let report = runtime.run_sync(sync("issues-pages"), "github-pages", "acme").await.unwrap();
    let error = report.error.unwrap();
    assert!(error.contains("401") || error.contains("refresh"), "{error}");
    assert!(!error.contains("wrong") && !error.contains("csecret"), "{error}");
}

#[tokio::test]
async fn a_dry_run_counts_without_writing() {
    let s = setup_for("github-pages", 80, Faults::default(), repo()).await;
    let out = tempfile::tempdir().unwrap();
    let options = DryRunOptions { samples: 2, output: Some(out.path().to_owned()), ..Default::default() };
    let report = s.runtime.dry_run(sync("issues-pages"), "github-pages", "acme", options).await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(report.counts["Issue"], added(80));
    assert_eq!(report.samples["Issue"].len(), 2);
    assert!(stored_ids(&s).await.is_empty());
    let lines = nango_runtime::store::JsonlCache::read(out.path(), "github-pages", "acme", "Issue").unwrap();
    assert_eq!(lines.len(), 80);
    // After a real run the same dry run would change nothing.
    s.runtime.run_sync(sync("issues-pages"), "github-pages", "acme").await.unwrap();
    let again =
        s.runtime.dry_run(sync("issues-pages"), "github-pages", "acme", DryRunOptions::default()).await.unwrap();
    assert!(again.counts["Issue"].is_empty(), "{:?}", again.counts);
}

#[test]
fn the_test_syncs_are_all_registered() {
    nango_runtime::check_registry(models::SYNCS, models::ACTIONS).unwrap();
}

#[tokio::test]
async fn saved_responses_replay_offline() {
    // Record: a dry run against the "real" API saves every exchange.
    let s = setup_for("github-pages", 70, Faults::default(), repo()).await;
    let saved = tempfile::tempdir().unwrap();
    let options = DryRunOptions { save_responses: Some(saved.path().to_owned()), ..Default::default() };
    let report = s.runtime.dry_run(sync("issues-pages"), "github-pages", "acme", options).await.unwrap();
    assert_eq!(report.error, None);
    s.server.shutdown().await;

    // Replay: the mock provider serves the saved exchanges; the real run lands the same records.
    let replay = MockProvider::replay(saved.path()).start().await.unwrap();
    let mut c = s.runtime.store().connection("github-pages", "acme").await.unwrap().unwrap().connection;
    c.base_url = Some(replay.url().to_owned());
    s.runtime.store().save_connection(&c).await.unwrap();
    let run = s.runtime.run_sync(sync("issues-pages"), "github-pages", "acme").await.unwrap();
    assert_eq!(run.error, None);
    assert_eq!(run.counts["Issue"], added(70));
    let query = RecordQuery { model: "Issue".into(), limit: 100, ..Default::default() };
    assert_eq!(s.runtime.store().records(s.key, &query).await.unwrap().records.len(), 70);
}
