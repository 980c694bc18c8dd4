//! The SQLite store on real files: change detection and counts, duplicates, deletion
//! detection generations, record pages and cursors, encrypted credentials.

use nango_runtime::crypto::Sealer;
use nango_runtime::store::*;
use nango_runtime::{Connection, Credentials, RecordChange, Secret};
use serde_json::{Value, json};

async fn store(dir: &tempfile::TempDir, sealer: Sealer) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    SqliteStore::open(&url, sealer).await.unwrap()
}

async fn connection(store: &SqliteStore) -> i64 {
    store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
    store.connection_key("github", "acme").await.unwrap().unwrap()
}

fn records(values: &[Value]) -> Vec<PreparedRecord> {
    values.iter().map(|v| PreparedRecord::new("Ticket", v.clone()).unwrap()).collect()
}

fn counts(added: u64, updated: u64, deleted: u64) -> ChangeCounts {
    ChangeCounts { added, updated, deleted }
}

async fn all(store: &SqliteStore, conn: i64, mut query: RecordQuery) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    loop {
        let page = store.records(conn, &query).await.unwrap();
        out.extend(page.records);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
}

fn query(limit: u32) -> RecordQuery {
    RecordQuery { model: "Ticket".into(), limit, ..Default::default() }
}

#[tokio::test]
async fn counts_follow_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Sealer::InsecureClear).await;
    let conn = connection(&store).await;

    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let first = [json!({"id": 1, "title": "a"}), json!({"id": 2, "title": "b"}), json!({"id": "3", "title": "c"})];
    let c = store.apply(run.ids, "Ticket", RecordChange::Save, records(&first)).await.unwrap();
    assert_eq!(c, counts(3, 0, 0));

    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    // Same content, keys in another order: unchanged.
    let same = [json!({"title": "a", "id": 1}), json!({"id": 2, "title": "b"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records(&same)).await.unwrap(), counts(0, 0, 0));
    let changed = [json!({"id": 2, "title": "B"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records(&changed)).await.unwrap(), counts(0, 1, 0));
    let gone = [json!({"id": 3}), json!({"id": 99})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Delete, records(&gone)).await.unwrap(), counts(0, 0, 1));

    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let back = [json!({"id": "3", "title": "c"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records(&back)).await.unwrap(), counts(1, 0, 0));

    let stored = all(&store, conn, query(100)).await;
    let actions: Vec<(&str, &str)> = stored.iter().map(|r| (r.id.as_str(), r.metadata.last_action.as_str())).collect();
    assert_eq!(actions, [("1", "ADDED"), ("2", "UPDATED"), ("3", "ADDED")]);
    assert_eq!(store.record_counts(conn).await.unwrap()["Ticket"], 3);
}

#[tokio::test]
async fn duplicates_in_a_run_count_once_and_the_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let batch = [json!({"id": 1, "title": "first"}), json!({"id": 1, "title": "second"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records(&batch)).await.unwrap(), counts(1, 0, 0));
    // Again in a later batch of the same run: still one added record, with the last content.
    let later = [json!({"id": 1, "title": "third"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Save, records(&later)).await.unwrap(), counts(0, 0, 0));
    let stored = all(&store, conn, query(10)).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data()["title"], "third");
    assert_eq!(stored[0].metadata.last_action, "ADDED");
}

#[tokio::test]
async fn batch_update_deep_merges() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let base = [json!({"id": 1, "user": {"login": "a", "id": 7}, "labels": ["x", "y"]})];
    store.apply(run.ids, "Ticket", RecordChange::Save, records(&base)).await.unwrap();
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let patch = [json!({"id": 1, "user": {"login": "b"}, "labels": ["z"]}), json!({"id": 2, "title": "not stored"})];
    assert_eq!(store.apply(run.ids, "Ticket", RecordChange::Update, records(&patch)).await.unwrap(), counts(0, 1, 0));
    let stored = all(&store, conn, query(10)).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data(), json!({"id": 1, "user": {"login": "b", "id": 7}, "labels": ["z"]}));
}

#[tokio::test]
async fn unseen_records_are_deleted_only_for_the_current_generation() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", true).await.unwrap();
    let three = [json!({"id": 1}), json!({"id": 2}), json!({"id": 3})];
    store.apply(run.ids, "Ticket", RecordChange::Save, records(&three)).await.unwrap();
    assert_eq!(store.sweep_unseen(run.ids, "Ticket").await.unwrap(), 0);
    let end = RunEnd {
        status: RunStatus::Success,
        counts: Default::default(),
        error: None,
        advance_last_sync_date: true,
        clear_checkpoint: true,
    };
    store.finish_run(&run, "tickets", &end).await.unwrap();

    // A run sees 1 and saves a checkpoint, then dies (stays RUNNING).
    let interrupted = store.begin_run(conn, "tickets", true).await.unwrap();
    store.apply(interrupted.ids, "Ticket", RecordChange::Save, records(&[json!({"id": 1})])).await.unwrap();
    store.save_checkpoint(conn, "tickets", Some(&json!({"page": 2}))).await.unwrap();

    // The next run resumes: same generation, so record 1 (seen before the crash) survives.
    let resumed = store.begin_run(conn, "tickets", true).await.unwrap();
    assert_eq!(resumed.ids.epoch, interrupted.ids.epoch);
    assert_eq!(resumed.checkpoint, Some(json!({"page": 2})));
    assert!(resumed.last_sync_date.is_some());
    store.apply(resumed.ids, "Ticket", RecordChange::Save, records(&[json!({"id": 2})])).await.unwrap();
    assert_eq!(store.sweep_unseen(resumed.ids, "Ticket").await.unwrap(), 1);
    let live: Vec<String> = store.live_ids(conn, "Ticket").await.unwrap();
    assert_eq!(live.len(), 2);
    assert!(!live.contains(&"3".to_string()));

    let history = store.runs(Some(conn), Some("tickets"), 10).await.unwrap();
    assert_eq!(history[1].status, RunStatus::Failed);
    assert!(history[1].error.as_deref().unwrap().contains("interrupted"));
}

#[tokio::test]
async fn pages_return_every_record_once_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir, Sealer::InsecureClear).await;
    let conn = connection(&store).await;
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let many: Vec<Value> = (0..250).map(|i| json!({"id": i, "n": i})).collect();
    store.apply(run.ids, "Ticket", RecordChange::Save, records(&many)).await.unwrap();
    let before_changes = chrono::Utc::now();
    let run = store.begin_run(conn, "tickets", false).await.unwrap();
    let changed: Vec<Value> = (0..10).map(|i| json!({"id": i, "n": -i - 1})).collect();
    store.apply(run.ids, "Ticket", RecordChange::Save, records(&changed)).await.unwrap();
    store.apply(run.ids, "Ticket", RecordChange::Delete, records(&[json!({"id": 20})])).await.unwrap();

    let every = all(&store, conn, query(33)).await;
    let mut ids: Vec<String> = every.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((every.len(), ids.len()), (250, 250));
    // Modification order: the changed and deleted records come last.
    assert_eq!(every.last().unwrap().id, "20");

    let mut recent = query(100);
    recent.modified_after = Some(before_changes);
    assert_eq!(all(&store, conn, recent).await.len(), 11);
    let mut updated = query(100);
    updated.filter = Some(ActionFilter::parse("updated").unwrap());
    assert_eq!(all(&store, conn, updated).await.len(), 10);
    let mut deleted = query(100);
    deleted.filter = Some(ActionFilter::parse("deleted").unwrap());
    let deleted = all(&store, conn, deleted).await;
    assert_eq!(deleted[0].to_json()["_nango_metadata"]["last_action"], "DELETED");
    let mut some = query(100);
    some.ids = vec!["5".into(), "6".into(), "nope".into()];
    assert_eq!(all(&store, conn, some).await.len(), 2);

    // A record's own cursor resumes just after it.
    let mut after = query(1000);
    after.cursor = Some(every[99].metadata.cursor.clone());
    assert_eq!(store.records(conn, &after).await.unwrap().records.len(), 150);
    let mut bad = query(10);
    bad.cursor = Some("bm9wZQ==".into());
    assert!(store.records(conn, &bad).await.unwrap_err().to_string().contains("invalid cursor"));
}

#[tokio::test]
async fn credentials_are_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let key = Sealer::generate_key();
    let token = "ghp_THIS_IS_A_VERY_SECRET_TOKEN";
    {
        let store = store(&dir, Sealer::from_base64(&key).unwrap()).await;
        let mut c = Connection::new("github", "acme", "github");
        c.credentials = Credentials::Bearer { token: Secret::new(token) };
        store.save_connection(&c).await.unwrap();
        let back = store.connection("github", "acme").await.unwrap().unwrap();
        assert_eq!(back.credentials, c.credentials);
        assert!(!format!("{back:?}").contains(token));
        store.pool().close().await;
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "the token is in a file in clear");
    }
    let wrong = store(&dir, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await;
    assert!(wrong.connection("github", "acme").await.unwrap_err().to_string().contains("not the key"));
    let none = store(&dir, Sealer::NoKey).await;
    let mut c = Connection::new("github", "other", "github");
    c.credentials = Credentials::Bearer { token: Secret::new("x") };
    assert!(none.save_connection(&c).await.unwrap_err().to_string().contains("NANGO_ENCRYPTION_KEY"));
}

#[test]
fn jsonl_cache_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut cache = JsonlCache::create(dir.path(), "github", "acme/1").unwrap();
    cache.append("Ticket", &json!({"id": 1})).unwrap();
    cache.append("Ticket", &json!({"id": 2})).unwrap();
    cache.flush().unwrap();
    assert_eq!(JsonlCache::read(dir.path(), "github", "acme/1", "Ticket").unwrap().len(), 2);
    std::fs::write(cache.folder().join("Ticket.jsonl"), "{\"id\": 1}\n{oops\n").unwrap();
    let e = JsonlCache::read(dir.path(), "github", "acme/1", "Ticket").unwrap_err().to_string();
    assert!(e.contains("Ticket.jsonl:2:"), "{e}");
}
