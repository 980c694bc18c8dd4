//! Conditional requests over real HTTP: the seed sync against the mock provider on loopback
//! (which sends `ETag`s and answers a matching `If-None-Match` with `304`, as GitHub does) into a
//! real SQLite file. A listing read again unchanged is answered 304 page after page and writes
//! nothing; an edited issue changes its page, which is fetched and saved; a reset forgets the
//! validators.

mod common;

use github_tickets::sync::Position;
use nango::SyncRegistration;
use nango::crypto::Sealer;
use nango::engine::{RunReport, Runtime};
use nango::store::{ConnectionKey, RecordQuery, Store, StoredRecord};
use nango_mock_provider::{Faults, IssueUpdate, MockServer};

const SYNC: &str = "github-tickets";
/// Ten full pages and a last one.
const ISSUES: u64 = 1_050;

fn sync() -> &'static SyncRegistration {
    github_tickets::models::PROJECT.check().expect("every sync has its function");
    nango::registered_syncs().find(|s| s.descriptor.name == SYNC).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    runtime: Runtime,
    server: MockServer,
    key: ConnectionKey,
}

impl Setup {
    async fn new() -> Setup {
        let server = common::mock_provider(ISSUES, Faults::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("nango.db").display());
        let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
        let key = store.save_connection(&common::demo_connection(&server)).await.unwrap();
        Setup { _dir: dir, runtime: Runtime::new(store), server, key }
    }

    fn store(&self) -> &Store {
        self.runtime.store()
    }

    /// Runs the sync from the start of the listing (as a first run does), keeping the records
    /// and the validators: a checkpoint at the listing's first page, which the sync resumes
    /// from. (A normal next run would only ask for what changed since the last one.)
    async fn run_from_the_start(&self) -> RunReport {
        let start = serde_json::to_value(Position { since: None, page: 1 }).unwrap();
        self.store().save_checkpoint(self.key, SYNC, Some(&start)).await.unwrap();
        self.server.reset_stats();
        let report = self.runtime.run_sync(sync(), "github", "demo").await.unwrap();
        assert_eq!(report.error, None);
        report
    }

    /// Every stored ticket, in id order.
    async fn tickets(&self) -> Vec<StoredRecord> {
        let mut query = RecordQuery { model: "Ticket".into(), limit: 1000, ..Default::default() };
        let mut out = Vec::new();
        loop {
            let page = self.store().records(self.key, &query).await.unwrap();
            out.extend(page.records);
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The URL of the listing's first page, as the validators are filed.
    fn first_page(&self) -> String {
        format!(
            "{}/repos/octocat/hello-world/issues?state=all&sort=updated&direction=asc&per_page=100&page=1",
            self.server.url()
        )
    }
}

#[tokio::test]
async fn an_unchanged_listing_is_answered_304_and_an_edited_issue_is_fetched_and_saved() {
    let s = Setup::new().await;
    let first = s.run_from_the_start().await;
    assert_eq!(first.counts["Ticket"].added, ISSUES);
    let stats = s.server.stats();
    assert_eq!(stats.not_modified, 0, "{stats:?}");
    assert!(stats.served_ok >= 11, "{stats:?}");
    let stored = s.store().page_validator(s.key, SYNC, &s.first_page()).await.unwrap().expect("a validator");
    assert!(stored.etag.starts_with("W/\""), "{stored:?}");
    let tickets = s.tickets().await;
    assert_eq!(tickets.len() as u64, ISSUES);

    // The same listing again: every page is sent with its ETag and answered 304; nothing is
    // decoded or written, every record stays as it was (not even re-stamped).
    let second = s.run_from_the_start().await;
    let stats = s.server.stats();
    assert!(second.counts.values().all(|c| c.is_empty()), "{:?}", second.counts);
    assert_eq!(stats.served_ok, 0, "{stats:?}");
    assert_eq!(stats.not_modified, stats.requests, "{stats:?}");
    assert_eq!(stats.requests, first.http.requests, "the same pages, in the same order: {stats:?}");
    assert_eq!(s.tickets().await, tickets);

    // One issue edited at the provider: its page changes (and, since the edit moves it to the
    // end of the listing by `updated_at`, the pages after it), so those are fetched and the
    // edit saved; the pages before it are still answered 304.
    let edited = s.server.update_issue(500, IssueUpdate { title: Some("Edited".into()), ..Default::default() });
    assert!(edited.is_some());
    let third = s.run_from_the_start().await;
    let stats = s.server.stats();
    assert_eq!(third.counts["Ticket"].updated, 1, "{:?}", third.counts);
    assert_eq!(third.counts["Ticket"].added, 0, "{:?}", third.counts);
    assert!(stats.not_modified >= 4, "the pages before issue 500: {stats:?}");
    assert!(stats.served_ok >= 1, "{stats:?}");
    let after = s.tickets().await;
    assert_eq!(after.len() as u64, ISSUES);
    let ticket = after.iter().find(|t| t.id == "1000500").unwrap();
    assert_eq!(ticket.data()["title"], "Edited");
    let changed: Vec<&str> = after.iter().zip(&tickets).filter(|(a, b)| a != b).map(|(a, _)| a.id.as_str()).collect();
    assert_eq!(changed, ["1000500"]);

    // A reset forgets the validators: the next run fetches every page again (and finds every
    // record unchanged).
    s.store().reset_sync(s.key, SYNC, &["Ticket"], false).await.unwrap();
    assert_eq!(s.store().page_validator(s.key, SYNC, &s.first_page()).await.unwrap(), None);
    let fourth = s.run_from_the_start().await;
    let stats = s.server.stats();
    assert_eq!(stats.not_modified, 0, "{stats:?}");
    assert!(stats.served_ok >= 11, "{stats:?}");
    assert!(fourth.counts.values().all(|c| c.is_empty()), "{:?}", fourth.counts);
}
