//! The seed sync under concurrent change and faults, against the mock provider on loopback into
//! real SQLite files: issues edited while a run reads them are neither lost nor duplicated;
//! truncated pages are fetched again; a failed run resumes from its checkpoint.

mod common;

use common::{TOKEN, demo_connection};
use github_tickets::models::Ticket;
use github_tickets::sync::GithubIssue;
use nango::SyncRegistration;
use nango::crypto::Sealer;
use nango::engine::{RunReport, Runtime};
use nango::http::HttpOptions;
use nango::store::{ConnectionKey, RecordQuery, RunStatus, Store};
use nango_mock_provider::{Faults, IssueState, IssueUpdate, MockServer, Mutation};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

fn sync() -> &'static SyncRegistration {
    github_tickets::models::PROJECT.check().expect("every sync has its function");
    nango::registered_syncs().find(|s| s.descriptor.name == "github-tickets").unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    runtime: Runtime,
    server: MockServer,
    key: ConnectionKey,
}

impl Setup {
    async fn new(issues: u64, faults: Faults) -> Setup {
        let server = common::mock_provider(issues, faults).await;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("nango.db").display());
        let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
        let key = store.save_connection(&demo_connection(&server)).await.unwrap();
        // Quick retries: faults are answered in milliseconds, not the default half second.
        let http = HttpOptions::default()
            .min_delay(Duration::from_millis(1))
            .max_delay(Duration::from_millis(20))
            .max_retries(8);
        Setup { _dir: dir, runtime: Runtime::new(store).with_http_options(http), server, key }
    }

    async fn run(&self) -> RunReport {
        self.runtime.run_sync(sync(), "github", "demo").await.unwrap()
    }

    async fn stored(&self) -> BTreeMap<String, (Value, usize)> {
        stored(self.runtime.store(), self.key).await
    }

    async fn assert_in_step(&self, issues: u64) {
        assert_in_step(self.runtime.store(), self.key, &self.server, issues).await;
    }
}

/// Every stored ticket by id, with how many rows hold that id.
async fn stored(store: &Store, key: ConnectionKey) -> BTreeMap<String, (Value, usize)> {
    let mut query = RecordQuery { model: "Ticket".into(), limit: 1000, ..Default::default() };
    let mut out: BTreeMap<String, (Value, usize)> = BTreeMap::new();
    loop {
        let page = store.records(key, &query).await.unwrap();
        for record in page.records.iter().filter(|r| r.metadata.deleted_at.is_none()) {
            out.entry(record.id.clone()).or_insert((record.data(), 0)).1 += 1;
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return out,
        }
    }
}

/// Asserts that the store holds every issue of the provider (numbered up to `issues`) exactly
/// once, as the provider has it now (the provider shows its issues under `octocat/hello-world`,
/// the repository the tests' connections name).
async fn assert_in_step(store: &Store, key: ConnectionKey, server: &MockServer, issues: u64) {
    let stored = stored(store, key).await;
    assert_eq!(stored.len() as u64, server.issue_count());
    let mut stale = Vec::new();
    for number in 1..=issues {
        let Some(issue) = server.issue(number) else { continue };
        let expected = serde_json::to_value(Ticket::from(serde_json::from_value::<GithubIssue>(issue).unwrap()));
        let id = (1_000_000 + number).to_string();
        match stored.get(&id) {
            Some((ticket, 1)) if *ticket == expected.unwrap() => {}
            Some((_, copies)) if *copies > 1 => panic!("ticket {id} is stored {copies} times"),
            other => stale.push((number, other.map(|(t, _)| t["title"].clone()))),
        }
    }
    assert!(stale.is_empty(), "{} issues missing or out of date: {:?}", stale.len(), &stale[..stale.len().min(10)]);
}

/// The probe's case, scaled down: early issues edited while a run is half-way through used to
/// shift unread issues into pages already read, and later runs never found them again.
#[tokio::test]
async fn issues_edited_during_a_run_are_neither_lost_nor_duplicated() {
    const ISSUES: u64 = 2000;
    const EDITED: u64 = 50;
    let s = Setup::new(ISSUES, Faults::default()).await;
    // After five pages, edit fifty of the issues those pages held (and close every other one).
    let update = (1..=EDITED)
        .map(|n| {
            let state = (n % 2 == 0).then_some(IssueState::Closed);
            (n, IssueUpdate { title: Some(format!("Issue #{n}, edited mid-run")), state })
        })
        .collect();
    s.server.after_requests(5, Mutation { update, ..Mutation::default() });

    let first = s.run().await;
    assert_eq!(first.error, None);
    assert!(s.server.stats().requests > 5, "the edits came in the middle of the run");
    assert_eq!(first.counts["Ticket"].added, ISSUES);
    // Every issue is there after the run that saw the edits, each once, as the provider has it.
    s.assert_in_step(ISSUES).await;

    // The next run asks for what changed since the first run started, finds the edits already
    // stored, and changes nothing.
    let second = s.run().await;
    assert_eq!(second.error, None);
    assert_eq!(second.last_sync_date.map(|t| t.timestamp_micros()), Some(first.started_at.timestamp_micros()));
    assert!(second.counts.get("Ticket").is_none_or(|c| c.is_empty()), "{:?}", second.counts);
    s.assert_in_step(ISSUES).await;
    // `last_sync_date` is the start of the last successful run.
    let state = s.runtime.store().sync_state(s.key, "github-tickets").await.unwrap();
    assert_eq!(state.last_sync_date.map(|t| t.timestamp_micros()), Some(second.started_at.timestamp_micros()));
    assert_eq!(state.checkpoint, None);
}

#[tokio::test]
async fn truncated_pages_are_fetched_again() {
    const ISSUES: u64 = 1500;
    let faults = Faults { malformed_rate: 0.2, seed: 3, ..Faults::default() };
    let s = Setup::new(ISSUES, faults).await;
    let report = s.run().await;
    assert_eq!(report.error, None);
    let stats = s.server.stats();
    assert!(stats.malformed >= 1, "{stats:?}");
    assert_eq!(report.http.retries, stats.malformed);
    s.assert_in_step(ISSUES).await;
}

#[tokio::test]
async fn a_failed_run_resumes_from_its_checkpoint() {
    const ISSUES: u64 = 3000;
    let s = Setup::new(ISSUES, Faults::default()).await;
    // Twelve pages come whole (a checkpoint is saved after the tenth); from then on every answer
    // is cut short, retries included.
    let always_cut = Faults { malformed_rate: 1.0, max_consecutive: u32::MAX, ..Faults::default() };
    s.server.after_requests(12, Mutation { faults: Some(always_cut), ..Mutation::default() });
    let failed = s.run().await;
    assert_eq!(failed.status, RunStatus::Failed);
    let error = failed.error.unwrap();
    // Retried like any transient fault, then reported with where the document stopped.
    assert!(error.contains("response body is not valid JSON after 9 attempts (EOF while parsing"), "{error}");
    assert!(error.contains(", in ["), "{error}");
    let checkpoint = failed.checkpoint_to.expect("the failed run leaves its checkpoint");
    let kept = s.stored().await.len() as u64;
    // Twelve pages: the first one's 100 issues and 99 new ones on each of the others (each page
    // starts again at the newest issue of the one before).
    assert_eq!(kept, 100 + 11 * 99);

    s.server.set_faults(Faults::default());
    s.server.reset_stats();
    let resumed = s.run().await;
    assert_eq!(resumed.error, None);
    assert_eq!(resumed.checkpoint_from, Some(checkpoint));
    // From the checkpoint (issue 991 on), not from page 1: 2,009 more issues, 99 new ones a
    // page, so 20 full pages and a short last one. The two pages the failed run read after its
    // checkpoint (their issues are stored) are answered 304 to their stored `ETag`s.
    let stats = s.server.stats();
    assert_eq!((stats.served_ok, stats.not_modified), (19, 2), "{stats:?}");
    assert_eq!(resumed.counts["Ticket"].added, ISSUES - kept);
    assert_eq!(resumed.checkpoint_to, None);
    s.assert_in_step(ISSUES).await;
}

/// The fault-injection proof, with real processes: `github-tickets serve` against the mock
/// provider on loopback, its webhooks going to a receiver on loopback, killed with SIGKILL at
/// seeded points (mid-run after a number of provider requests, while a webhook is being
/// delivered, or at a random moment), under 500s, 429s, 502 pages, dropped connections,
/// truncated bodies and latency, while issues are edited and added, some in the middle of runs.
/// After the loop one clean run: every issue is stored exactly once with the provider's latest
/// content, and what the webhooks announced (each delivery id counted once) adds up to what the
/// store holds, and so do the counts of the run history.
///
/// Each `serve` in the loop leases the sync for a second (`--lease-ttl 1`): the next one, started
/// right after a kill, waits at most that long for the dead one's lease, then closes its run (or
/// its own next run does) with the counts of what it wrote, which that run's webhooks announce.
///
/// `KILL_LOOP_SEED` picks another seed; the loop is bounded in kills and in time.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_services_lose_nothing_and_their_webhooks_announce_everything() {
    use kill_loop::*;
    const ISSUES: u64 = 3000;
    const KILLS: usize = 12;
    let seed = std::env::var("KILL_LOOP_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_260_117u64);
    let mut rng = Rng(seed);
    let faults = Faults {
        error_rate: 0.03,
        rate_limit_rate: 0.02,
        retry_after: nango_mock_provider::RetryAfter::Seconds(0),
        html_error_rate: 0.01,
        drop_rate: 0.02,
        malformed_rate: 0.03,
        latency: Duration::from_millis(3),
        seed,
        ..Faults::default()
    };
    let server = common::mock_provider(ISSUES, faults).await;
    let hooks = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        database: format!("sqlite://{}", dir.path().join("nango.db").display()),
        encryption_key: Sealer::generate_key(),
        webhook_url: hooks.url.clone(),
    };
    let store = Store::open(&env.database, Sealer::from_base64(&env.encryption_key).unwrap()).await.unwrap();
    let key = store.save_connection(&demo_connection(&server)).await.unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let mut mutations_until = 0;
    let mut held_deliveries = 0;
    let mut kills = 0;
    while kills < KILLS && std::time::Instant::now() < deadline {
        mutations_until = mutations_until.max(mutate(&server, &mut rng));
        let serve = Serve::start(&env).await;
        // A third of the runs list every issue again (a full resync), the others what changed.
        let full = kills == 0 || rng.below(3) == 0;
        let triggered = chrono::Utc::now();
        serve.trigger(full && kills > 0).await;
        // The first kill is always in the middle of the first run (the initial sync).
        match if kills == 0 { 0 } else { rng.below(3) } {
            // Mid-run: after a number of requests to the provider.
            0 => {
                let target = server.stats().requests + 1 + rng.below(if full { 30 } else { 3 });
                let until = std::time::Instant::now() + Duration::from_secs(5);
                while server.stats().requests < target && std::time::Instant::now() < until {
                    let last = store.runs(Some(key), None, 1).await.unwrap();
                    if last.first().is_some_and(|r| r.started_at >= triggered && r.status != RunStatus::Running) {
                        break; // ended before the target
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            // While a webhook is delivered: the receiver holds its answer until the kill.
            1 => {
                hooks.hold(true);
                let before = hooks.count();
                if wait_for(Duration::from_secs(5), || hooks.count() > before).await {
                    held_deliveries += 1;
                }
            }
            // Anywhere: starting up, running, delivering, idle.
            _ => tokio::time::sleep(Duration::from_millis(rng.below(400))).await,
        }
        serve.kill().await;
        hooks.hold(false);
        kills += 1;
    }
    assert!(kills >= 4, "only {kills} kills within the time bound");

    // One clean run: no faults, the edits scheduled in the loop all applied first.
    server.set_faults(Faults::default());
    let client = reqwest::Client::new();
    while server.stats().requests < mutations_until {
        client.get(format!("{}/user", server.url())).bearer_auth(TOKEN).send().await.unwrap();
    }
    let started = chrono::Utc::now();
    // With --webhook-always the clean run sends its webhook even if the changes it announces are
    // none, so the test knows when the last announcement is out.
    let serve = Serve::start_with(&env, &["--webhook-always"]).await;
    serve.trigger(false).await;
    let clean = {
        let store = &store;
        async move {
            loop {
                let last = store.runs(Some(key), None, 1).await.unwrap();
                if last.first().is_some_and(|r| r.started_at >= started && r.status != RunStatus::Running) {
                    break last[0].clone();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let clean = tokio::time::timeout(Duration::from_secs(30), clean).await.expect("the clean run ends");
    assert_eq!((clean.status, clean.error.as_deref()), (RunStatus::Success, None));
    // The webhooks queued by killed processes went out when this one started, its own after
    // its run.
    let mut queued = store.pending_webhooks(100).await.unwrap();
    let mut sent = store.deliveries(Some(clean.id), 10).await.unwrap();
    for _ in 0..500 {
        if queued.is_empty() && !sent.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        queued = store.pending_webhooks(100).await.unwrap();
        sent = store.deliveries(Some(clean.id), 10).await.unwrap();
    }
    assert!(queued.is_empty(), "queued webhooks were not all delivered: {queued:?}");
    assert!(sent.iter().any(|d| d.attempt.succeeded()), "the clean run's webhook was not delivered: {sent:?}");
    serve.kill().await;

    // Every issue exactly once, as the provider has it now.
    let last_number = server.issue_count();
    assert_in_step(&store, key, &server, last_number).await;
    // What the webhooks announced, each delivery once, is what the store holds.
    let (announced, deliveries, distinct) = hooks.announced();
    let held = stored(&store, key).await.len() as i64;
    assert_eq!(
        announced, held,
        "{distinct} webhooks ({deliveries} deliveries) announced {announced}, the store holds {held}"
    );
    // So does the run history: the killed runs, closed by the next `serve` or the next run, show
    // what they wrote before they died, and every run's counts add up to what the store holds.
    let runs = store.runs(Some(key), None, 100).await.unwrap();
    assert!(runs.iter().all(|r| r.status != RunStatus::Running), "a run was left open: {runs:?}");
    let in_history: i64 =
        runs.iter().filter_map(|r| r.counts.get("Ticket")).map(|c| c.added as i64 - c.deleted as i64).sum();
    assert_eq!(in_history, held, "the run history counts {in_history}, the store holds {held}: {runs:?}");
    // The loop did hit runs in the middle and deliveries in flight.
    let interrupted = runs.iter().filter(|r| r.error.as_deref().is_some_and(|e| e.contains("interrupted"))).count();
    assert!(interrupted >= 1, "no run was killed half-way: {runs:?}");
    if held_deliveries > 0 {
        assert!(deliveries > distinct, "a webhook held at a kill was not delivered again");
    }
    eprintln!(
        "kill loop (seed {seed}): {kills} kills, {interrupted} runs interrupted, {} runs, {distinct} webhooks in \
         {deliveries} deliveries, {:?} provider faults",
        runs.len(),
        server.stats()
    );
}

#[cfg(unix)]
mod kill_loop {
    use super::*;
    use std::process::{Child, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    /// A small seeded generator (splitmix64): a seed gives the same kill points and edits.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// Edits a few issues now (early ones half the time: the ones that used to shift pages), and
    /// schedules more edits and a few new issues for the middle of the next run. Returns the
    /// request count at which the scheduled edits apply.
    pub fn mutate(server: &MockServer, rng: &mut Rng) -> u64 {
        let pick = |rng: &mut Rng| {
            let span = if rng.below(2) == 0 { 300 } else { server.issue_count() };
            1 + rng.below(span)
        };
        let edit = |rng: &mut Rng| {
            let state = match rng.below(3) {
                0 => Some(IssueState::Closed),
                1 => Some(IssueState::Open),
                _ => None,
            };
            IssueUpdate { title: Some(format!("Edited {:x}", rng.next())), state }
        };
        for _ in 0..3 {
            let number = pick(rng);
            server.update_issue(number, edit(rng));
        }
        let update = (0..20).map(|_| (pick(rng), edit(rng))).collect();
        let at = server.stats().requests + 1 + rng.below(25);
        server.after_requests(at, Mutation { update, add: rng.below(4), ..Mutation::default() });
        at
    }

    /// Waits until `done` holds or `limit` passes; whether it held.
    pub async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
        let end = std::time::Instant::now() + limit;
        while std::time::Instant::now() < end {
            if done() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        done()
    }

    /// What every `serve` process gets.
    pub struct Env {
        pub database: String,
        pub encryption_key: String,
        pub webhook_url: String,
    }

    pub const SECRET: &str = "kill-loop-secret";

    /// Seconds a killed `serve`'s lease outlives it (`--lease-ttl`): the restarted one waits that
    /// long at most before it runs the sync (at the default 30 s the loop would mostly wait).
    pub const LEASE_TTL: &str = "1";

    /// A `github-tickets serve` process.
    pub struct Serve {
        child: Child,
        url: String,
    }

    impl Serve {
        /// Starts one on a free port and waits until it listens. Its lease on the sync lasts
        /// [`LEASE_TTL`] without a heartbeat, so the next one takes over that soon after a kill.
        pub async fn start(env: &Env) -> Serve {
            Serve::start_with(env, &["--lease-ttl", LEASE_TTL]).await
        }

        /// A `serve` with `more` arguments.
        pub async fn start_with(env: &Env, more: &[&str]) -> Serve {
            let mut command = common::program();
            command
                .args(["serve", "--port", "0", "--webhook-url", &env.webhook_url, "--shutdown-grace", "1"])
                .args(more)
                .env("NANGO_DATABASE_URL", &env.database)
                .env("NANGO_ENCRYPTION_KEY", &env.encryption_key)
                .env("NANGO_SECRET_KEY", SECRET)
                .env("NANGO_RETRY_DELAY_MS", "2")
                .stdout(Stdio::null());
            let (child, url) = common::serve(command).await;
            Serve { child, url }
        }

        /// Asks for a run of the sync now; with `reset`, a full resync (the listing from the start).
        pub async fn trigger(&self, reset: bool) {
            let body = serde_json::json!({"syncs": ["github-tickets"], "provider_config_key": "github",
                                          "connection_id": "demo", "opts": {"reset": reset}});
            let response = reqwest::Client::new()
                .post(format!("{}/sync/trigger", self.url))
                .bearer_auth(SECRET)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{:?}", response.text().await);
        }

        /// SIGKILL, and waits for the process to be gone.
        pub async fn kill(self) {
            common::kill(self.child).await;
        }
    }

    /// A webhook receiver on loopback: keeps each delivery (its id and body); while `hold` is on
    /// it does not answer, so the sender is killed before it learns the webhook arrived.
    pub struct Receiver {
        pub url: String,
        got: Arc<Mutex<Vec<(String, Value)>>>,
        hold: Arc<AtomicBool>,
    }

    impl Receiver {
        pub async fn start() -> Receiver {
            let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
            let hold = Arc::new(AtomicBool::new(false));
            let (kept, held) = (got.clone(), hold.clone());
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (kept, held) = (kept.clone(), held.clone());
                    async move {
                        let id = headers
                            .get(nango::webhooks::WEBHOOK_ID_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        kept.lock().unwrap().push((id, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                        if held.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        axum::http::StatusCode::OK
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/hook", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            Receiver { url, got, hold }
        }

        pub fn hold(&self, on: bool) {
            self.hold.store(on, Ordering::SeqCst);
        }

        pub fn count(&self) -> usize {
            self.got.lock().unwrap().len()
        }

        /// `added - deleted` over the success webhooks, each id once; the deliveries; the ids.
        pub fn announced(&self) -> (i64, usize, usize) {
            let got = self.got.lock().unwrap();
            let mut seen = std::collections::HashMap::new();
            for (id, body) in got.iter() {
                assert!(!id.is_empty(), "a webhook without a delivery id: {body}");
                if let Some(earlier) = seen.insert(id.clone(), body.clone()) {
                    assert_eq!(&earlier, body, "delivery {id} came again with another body");
                }
            }
            let net = seen
                .values()
                .filter(|body| body["success"] == true)
                .map(|body| {
                    let counts = &body["responseResults"];
                    counts["added"].as_i64().unwrap() - counts["deleted"].as_i64().unwrap()
                })
                .sum();
            (net, got.len(), seen.len())
        }
    }
}

/// A run's batches are written on a task of their own while the sync reads on. The checkpoint
/// and the pages' validators the sync hands over right after a batch are queued behind it: when
/// the batch fails, neither is written, so the next run resumes from the last checkpoint whose
/// records are stored and fetches every page after it again.
#[tokio::test]
async fn a_failed_batch_keeps_what_was_handed_over_after_it_unwritten() {
    let s = Setup::new(2_500, Faults::default()).await;
    // A real failure of the database: every record after the first batch is refused.
    let db = rusqlite::Connection::open(s._dir.path().join("nango.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER full_disk BEFORE INSERT ON records WHEN (SELECT count(*) FROM records) >= 1000 \
         BEGIN SELECT RAISE(ABORT, 'the disk said no'); END;",
    )
    .unwrap();
    let first = s.run().await;
    let error = first.error.expect("the run fails");
    assert!(error.contains("the disk said no"), "{error}");
    assert!(first.store_failed);
    // The first batch (1,000 records, a few of them the same issue read twice at a watermark).
    let stored = s.stored().await;
    assert!((900..1000).contains(&stored.len()), "{}", stored.len());
    let newest_stored = stored
        .values()
        .map(|(ticket, _)| ticket["updated_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap())
        .max()
        .unwrap();
    let state = s.runtime.store().sync_state(s.key, "github-tickets").await.unwrap();
    let checkpoint: github_tickets::sync::Position =
        serde_json::from_value(state.checkpoint.expect("the first batch's checkpoint")).unwrap();
    // The checkpoint does not run ahead of the stored records (one saved after the failed
    // batch would start after its issues).
    assert!(checkpoint.since.is_some_and(|since| since <= newest_stored), "{checkpoint:?} after {newest_stored}");

    db.execute_batch("DROP TRIGGER full_disk;").unwrap();
    let resumed = s.run().await;
    assert_eq!(resumed.error, None);
    s.assert_in_step(2_500).await;
}
