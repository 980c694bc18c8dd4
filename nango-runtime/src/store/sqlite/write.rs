//! A run's record batches, written on a blocking connection of the store's own (rusqlite) beside
//! sqlx's pool.
//!
//! Why not through sqlx: it runs each SQLite connection on a worker thread of its own, so every
//! statement is a hand-off to that thread and back (futex wake-ups), and it keeps an owned copy
//! of every bound argument to send it there. A batch of 1,000 records was about 20 such
//! statements; in the sync's profile (BENCHMARKS.md, "Sync", issue 16) sqlx's worker thread took
//! 30% of the process's CPU, 12.5 points of it in the kernel. Here a batch is one hand-off: its
//! whole transaction runs on a blocking thread (tokio's `spawn_blocking`) with prepared
//! statements kept between batches, one row per statement step, each argument bound from the
//! batch where it is (SQLite copies a bound text itself; the batch's texts are not copied first).
//!
//! What a batch does is decided by [`Batch::plan`], as on every backend; this module only reads
//! the state the plan needs and writes the plan, with the same semantics as the pool's path
//! (`SqliteBackend::apply_through_pool`): one `BEGIN IMMEDIATE` transaction holding the fence
//! check, the batch, the run's change counts and the checkpoint.
//!
//! The connection is one, opened on the first write with the pool's settings (WAL,
//! `synchronous = NORMAL`, foreign keys, the busy timeout, the URL's `cache_kib`): a process that
//! only reads never opens it, and a one-shot `run` adds one page cache, not four. Writes of
//! several runs in one process take turns on it, as they would for SQLite's one write lock.

use super::super::policy::{Batch, ExistingRecord, LastAction, Upsert};
use super::super::{ChangeCounts, ConnectionKey, RunIds, StoreError, StoreResult, to_micros};
use chrono::Utc;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// What is being done when the writer's connection fails outside a statement.
const OPENING: &str = "opening the store's connection for writing records";

/// Prepared statements the writer keeps (rusqlite's default is 16).
const STATEMENTS_KEPT: usize = 32;

/// Why a write whose caller stopped waiting was not made (nobody reads it: the caller is gone).
const ABANDONED: &str = "the caller stopped waiting for the write, so it was rolled back";

/// A checkpoint to save with a batch, owned (it goes to another thread): the sync, and the
/// checkpoint's JSON text (`None` clears it).
pub(super) type OwnedCheckpoint = (String, Option<String>);

/// What a batch did: its counts, and the ids of updates that found nothing stored (for the
/// caller to warn about in its own span).
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub(super) counts: ChangeCounts,
    pub(super) ignored: Vec<String>,
}

/// Names the operation a rusqlite error happened in, as [`StoreError::Write`].
trait Writing<T> {
    fn writing(self, operation: &'static str) -> StoreResult<T>;
}

impl<T> Writing<T> for rusqlite::Result<T> {
    fn writing(self, operation: &'static str) -> StoreResult<T> {
        self.map_err(|e| StoreError::Write { operation, source: Box::new(e) })
    }
}

/// Whether the caller of a write stopped waiting for it (its future was dropped: a run killed or
/// cancelled). A write checks it before it commits and rolls back instead, as a sqlx transaction
/// dropped with its future does, so that nothing a dropped run handed over lands after it.
#[derive(Debug, Clone, Default)]
pub(super) struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    /// Whether the caller is gone.
    pub(super) fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Sets [`Abandoned`] when dropped: held by the caller's future for as long as it waits.
struct AbandonOnDrop(Abandoned);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        (self.0).0.store(true, Ordering::Release);
    }
}

/// The store's one read-write connection for record batches, opened on the first write.
#[derive(Debug)]
pub(super) struct Writer {
    path: PathBuf,
    cache_kib: Option<u32>,
    conn: Mutex<Option<Connection>>,
    /// One write at a time, waited for on the async side (a blocking thread is not parked
    /// waiting for the connection); closed by [`Writer::close`].
    turn: Arc<Semaphore>,
}

impl Writer {
    /// A writer of the database file `path` (already created and migrated by the pool), each
    /// page cache capped at `cache_kib` KiB when given.
    pub(super) fn new(path: &Path, cache_kib: Option<u32>) -> Writer {
        Writer { path: path.to_owned(), cache_kib, conn: Mutex::new(None), turn: Arc::new(Semaphore::new(1)) }
    }

    /// Whether the connection has been opened (by a first write).
    #[cfg(test)]
    pub(super) fn is_open(&self) -> bool {
        self.conn.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        // Not `SQLITE_OPEN_URI`: the path is the file sqlx opened, not a URI; not `CREATE`: the
        // pool created it.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(super::read::BUSY_TIMEOUT)?;
        // The pool's settings (`SqliteBackend::open`): WAL is the file's already, the rest is
        // each connection's own.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        if let Some(kib) = self.cache_kib {
            conn.pragma_update(None, "cache_size", -i64::from(kib))?;
        }
        // Plans never depend on bound values, so a cached statement is never re-prepared for
        // new ones (see `read.rs`).
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // A batch's statements: the fence, the numbering, the counts, the checkpoint, and
        // a full and a last, shorter chunk of each list statement (lookup, upsert, updates).
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        Ok(conn)
    }

    /// Runs `write` with the connection on a blocking thread, after the writes before it; `write`
    /// is told through [`Abandoned`] when this future is dropped before it ends.
    pub(super) async fn write<T, F>(self: &Arc<Self>, write: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Abandoned) -> StoreResult<T> + Send + 'static,
    {
        let abandoned = Abandoned::default();
        let _waiting = AbandonOnDrop(abandoned.clone());
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Write { operation: OPENING, source };
        // Owned and moved into the task: a caller dropped while its write runs keeps the turn
        // until the write is over, so the next write (and `close`) waits for it.
        let turn = Arc::clone(&self.turn).acquire_owned().await.map_err(|e| fail(Box::new(e)))?;
        let writer = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            if abandoned.is_set() {
                return Err(StoreError::Write { operation: OPENING, source: ABANDONED.into() });
            }
            let mut conn = writer.conn.lock().unwrap_or_else(|e| e.into_inner());
            let conn = match &mut *conn {
                Some(conn) => conn,
                None => conn.insert(writer.connect().writing(OPENING)?),
            };
            write(conn, &abandoned)
        })
        .await;
        joined.unwrap_or_else(|e| Err(fail(Box::new(e))))
    }

    /// Waits for the write that runs, refuses new ones and closes the connection (so that the
    /// pool's last connection, closed after it, checkpoints and removes the WAL file).
    pub(super) async fn close(&self) {
        let last = self.turn.acquire().await;
        self.turn.close();
        drop(last);
        self.conn.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Writes one batch of `model` (and `checkpoint`, if any) for `run` in one `BEGIN IMMEDIATE`
/// transaction: refused as a whole if the run is fenced, rolled back as a whole on any error or
/// when its caller stopped waiting before the commit.
pub(super) fn apply(
    conn: &mut Connection,
    abandoned: &Abandoned,
    run: RunIds,
    batch: &Batch<'_>,
    checkpoint: Option<OwnedCheckpoint>,
) -> StoreResult<Applied> {
    const OP: &str = "writing records";
    // Dropped without `commit` (an error below), the transaction rolls back.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).writing(OP)?;
    check_fence(&tx, run.run)?;
    let applied = if batch.is_empty() { Applied::default() } else { write_batch(&tx, run, batch)? };
    if let Some((sync, checkpoint)) = checkpoint {
        save_checkpoint_in(&tx, run.connection, &sync, checkpoint.as_deref())?;
    }
    if abandoned.is_set() {
        return Err(StoreError::Write { operation: OP, source: ABANDONED.into() });
    }
    tx.commit().writing(OP)?;
    Ok(applied)
}

/// Refuses the write of a run that is no longer `RUNNING` and records the run as alive now, as
/// `tasks::check_fence` does on the pool's path.
fn check_fence(tx: &Connection, run: i64) -> StoreResult<()> {
    let held = tx
        .prepare_cached(
            "UPDATE runs SET heartbeat_at = MAX(COALESCE(heartbeat_at, 0), ?2) WHERE id = ?1 AND status = 'RUNNING'",
        )
        .and_then(|mut update| update.execute(params![run, to_micros(Utc::now())]))
        .writing("checking that the run still holds its sync")?;
    if held == 1 { Ok(()) } else { Err(StoreError::RunFenced { run }) }
}

/// Saves (`Some`) or clears (`None`) a run's checkpoint inside the transaction.
fn save_checkpoint_in(
    tx: &Connection,
    connection: ConnectionKey,
    sync: &str,
    checkpoint: Option<&str>,
) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO sync_state (connection, sync, checkpoint) VALUES (?1, ?2, ?3) \
         ON CONFLICT (connection, sync) DO UPDATE SET checkpoint = excluded.checkpoint",
    )
    .and_then(|mut upsert| upsert.execute(params![connection.get(), sync, checkpoint]))
    .writing("saving the checkpoint")?;
    Ok(())
}

/// Reads the stored state of the batch's ids (`seen_in_run` against `run`; the JSON when the
/// batch merges into it), [`IDS_PER_QUERY`](super::IDS_PER_QUERY) ids per statement.
///
/// Lists rather than one point lookup per id: SQLite walks an `IN` list's ids in order with one
/// cursor, where a statement per id seeks from the index's root each time (five times the index
/// seeking's CPU in the profile of a one-row-per-statement version).
fn find(tx: &Connection, run: RunIds, batch: &Batch<'_>) -> rusqlite::Result<HashMap<String, ExistingRecord>> {
    let with_json = batch.needs_stored_json();
    let ids: Vec<&str> = batch.ids().collect();
    let mut found = HashMap::new();
    for chunk in ids.chunks(super::IDS_PER_QUERY) {
        let sql = format!(
            "SELECT id, hash, deleted_at IS NOT NULL, seen_run, last_action{} FROM records \
             WHERE connection = ?1 AND model = ?2 AND id IN ({})",
            if with_json { ", json" } else { "" },
            numbered_placeholders(3, chunk.len())
        );
        let mut select = tx.prepare_cached(&sql)?;
        select.raw_bind_parameter(1, run.connection.get())?;
        select.raw_bind_parameter(2, batch.model())?;
        for (i, id) in chunk.iter().enumerate() {
            select.raw_bind_parameter(3 + i, id)?;
        }
        let mut rows = select.raw_query();
        while let Some(row) = rows.next()? {
            let seen_run: i64 = row.get(3)?;
            let existing = ExistingRecord {
                hash: super::hash_of(row.get_ref(1)?.as_blob()?),
                deleted: row.get(2)?,
                seen_in_run: seen_run == run.run,
                last_action: LastAction::parse(row.get_ref(4)?.as_str()?),
                json: if with_json { Some(row.get(5)?) } else { None },
            };
            found.insert(row.get(0)?, existing);
        }
    }
    Ok(found)
}

/// `?first, ?first+1, ...`: `count` numbered placeholders, bound by number.
fn numbered_placeholders(first: usize, count: usize) -> String {
    let mut text = String::with_capacity(count * 6);
    for n in first..first + count {
        if n > first {
            text.push_str(", ");
        }
        text.push('?');
        text.push_str(&n.to_string());
    }
    text
}

/// Reads the stored state of the batch's ids, plans, writes the plan and adds its counts to the
/// run's (inside the transaction, after the fence).
fn write_batch(tx: &Connection, run: RunIds, batch: &Batch<'_>) -> StoreResult<Applied> {
    let model = batch.model();
    let found = find(tx, run, batch).writing("reading the stored state of records")?;
    let plan = batch.plan(&found, run.track_seen)?;
    let now = to_micros(Utc::now());
    let seq = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM records")
        .and_then(|mut next| next.query_row([], |row| row.get::<_, i64>(0)))
        .writing("numbering the write")?;
    upsert_rows(tx, run, model, &plan.upserts, now, seq).writing("writing records")?;
    let (connection, model) = (run.connection.get(), model);
    update_ids(tx, "seen_run = ?1, seen_epoch = ?2", &[run.run, run.epoch], connection, model, &plan.seen)
        .writing("marking records seen")?;
    let deleted = "deleted_at = ?1, last_modified_at = ?1, last_action = 'DELETED', seq = ?2, seen_run = ?3";
    update_ids(tx, deleted, &[now, seq, run.run], connection, model, &plan.deleted).writing("deleting records")?;
    add_run_changes(tx, run.run, model, plan.counts)?;
    Ok(Applied { counts: plan.counts, ignored: plan.ignored.iter().map(|id| (*id).to_owned()).collect() })
}

/// `UPDATE records SET {set}` for `ids` of a model, `set`'s `?1`, `?2`... bound from `values`,
/// [`IDS_PER_QUERY`](super::IDS_PER_QUERY) ids per statement.
fn update_ids(
    tx: &Connection,
    set: &str,
    values: &[i64],
    connection: i64,
    model: &str,
    ids: &[&str],
) -> rusqlite::Result<()> {
    let first = values.len() + 1;
    for chunk in ids.chunks(super::IDS_PER_QUERY) {
        let sql = format!(
            "UPDATE records SET {set} WHERE connection = ?{first} AND model = ?{} AND id IN ({})",
            first + 1,
            numbered_placeholders(first + 2, chunk.len())
        );
        let mut update = tx.prepare_cached(&sql)?;
        for (i, value) in values.iter().enumerate() {
            update.raw_bind_parameter(1 + i, value)?;
        }
        update.raw_bind_parameter(first, connection)?;
        update.raw_bind_parameter(first + 1, model)?;
        for (i, id) in chunk.iter().enumerate() {
            update.raw_bind_parameter(first + 2 + i, id)?;
        }
        update.raw_execute()?;
    }
    Ok(())
}

/// Inserts or overwrites the plan's rows, [`ROWS_PER_STATEMENT`](super::ROWS_PER_STATEMENT)
/// rows per statement (its cursors stay open from one row to the next, as they do not from
/// one statement to the next), the JSON texts bound from the batch. What all rows share is
/// bound once: `?1` connection, `?2` model, `?3` now, `?4` seq, `?5` run, `?6` epoch; then id,
/// JSON, hash and last action per row.
fn upsert_rows(
    tx: &Connection,
    run: RunIds,
    model: &str,
    rows: &[Upsert<'_>],
    now: i64,
    seq: i64,
) -> rusqlite::Result<()> {
    const SHARED: usize = 6;
    const PER_ROW: usize = 4;
    for chunk in rows.chunks(super::ROWS_PER_STATEMENT) {
        let mut sql = String::with_capacity(400 + chunk.len() * 60);
        sql.push_str(
            "INSERT INTO records (connection, model, id, json, hash, first_seen_at, last_modified_at, \
             last_action, deleted_at, seq, seen_run, seen_epoch) VALUES ",
        );
        for i in 0..chunk.len() {
            let n = SHARED + 1 + i * PER_ROW;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(?1, ?2, ?{n}, ?{}, ?{}, ?3, ?3, ?{}, NULL, ?4, ?5, ?6)", n + 1, n + 2, n + 3));
        }
        sql.push_str(
            " ON CONFLICT (connection, model, id) DO UPDATE SET json = excluded.json, hash = excluded.hash, \
             last_modified_at = excluded.last_modified_at, last_action = excluded.last_action, deleted_at = NULL, \
             seq = excluded.seq, seen_run = excluded.seen_run, seen_epoch = excluded.seen_epoch, pruned_at = NULL",
        );
        let mut upsert = tx.prepare_cached(&sql)?;
        upsert.raw_bind_parameter(1, run.connection.get())?;
        upsert.raw_bind_parameter(2, model)?;
        upsert.raw_bind_parameter(3, now)?;
        upsert.raw_bind_parameter(4, seq)?;
        upsert.raw_bind_parameter(5, run.run)?;
        upsert.raw_bind_parameter(6, run.epoch)?;
        for (i, row) in chunk.iter().enumerate() {
            let n = SHARED + 1 + i * PER_ROW;
            upsert.raw_bind_parameter(n, row.id)?;
            upsert.raw_bind_parameter(n + 1, row.json.as_ref())?;
            upsert.raw_bind_parameter(n + 2, &row.hash[..])?;
            upsert.raw_bind_parameter(n + 3, row.last_action.as_str())?;
        }
        upsert.raw_execute()?;
    }
    Ok(())
}

/// Adds a write's counts to its run's, in the write's transaction.
fn add_run_changes(tx: &Connection, run: i64, model: &str, counts: ChangeCounts) -> StoreResult<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let count = |n: u64| n.min(i64::MAX as u64) as i64;
    tx.prepare_cached(
        "INSERT INTO run_changes (run, model, added, updated, deleted) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (run, model) DO UPDATE SET added = added + excluded.added, \
         updated = updated + excluded.updated, deleted = deleted + excluded.deleted",
    )
    .and_then(|mut add| {
        add.execute(params![run, model, count(counts.added), count(counts.updated), count(counts.deleted)])
    })
    .writing("counting the run's changes")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::SqliteBackend;
    use crate::crypto::Sealer;
    use crate::store::{PreparedRecord, RecordQuery, RunCheckpoint, Store, StoreError};
    use crate::{Connection, RecordChange};
    use serde_json::{Value, json};
    use sqlx::Row;
    use std::sync::Arc;

    async fn open(dir: &tempfile::TempDir, name: &str) -> SqliteBackend {
        let url = format!("sqlite://{}?cache_kib=256", dir.path().join(name).display());
        SqliteBackend::open(&url).await.unwrap()
    }

    fn prepared(records: &[Value]) -> Vec<PreparedRecord> {
        records.iter().map(|r| PreparedRecord::new("Issue", r.clone()).unwrap()).collect()
    }

    /// Everything a batch writes, read back through the pool: the records (their times only as
    /// whether they differ), the runs' counts and the checkpoints.
    async fn dump(backend: &SqliteBackend) -> Vec<String> {
        let rows = sqlx::query(
            "SELECT 'record' AS what, connection || ' ' || model || ' ' || id || ' ' || json || ' ' || hex(hash) || ' ' \
             || last_action || ' ' || (deleted_at IS NULL) || ' ' || (first_seen_at = last_modified_at) || ' ' || seq \
             || ' ' || seen_run || ' ' || seen_epoch || ' ' || (pruned_at IS NULL) AS line FROM records \
             UNION ALL SELECT 'changes', run || ' ' || model || ' ' || added || ' ' || updated || ' ' || deleted \
             FROM run_changes \
             UNION ALL SELECT 'checkpoint', connection || ' ' || sync || ' ' || COALESCE(checkpoint, 'none') FROM sync_state \
             ORDER BY 1, 2",
        )
        .fetch_all(backend.pool())
        .await
        .unwrap();
        rows.iter().map(|r| format!("{}: {}", r.get::<String, _>("what"), r.get::<String, _>("line"))).collect()
    }

    /// The writer's connection and the pool write the same rows, counts and checkpoints for the
    /// same batches: adds, duplicates, changes, unchanged records marked seen, updates merged
    /// into stored records and of records not stored, deletes, a batch that is only a
    /// checkpoint, and a fenced run's batch (refused by both, writing nothing).
    #[tokio::test]
    async fn the_writer_writes_what_the_pool_writes() {
        let dir = tempfile::tempdir().unwrap();
        let written = open(&dir, "writer.db").await;
        let pooled = open(&dir, "pool.db").await;
        let pooled = SqliteBackend { writer: None, ..pooled };
        assert!(written.writer.is_some(), "a file has a writer");
        let mut dumps = Vec::new();
        for backend in [written, pooled] {
            let through_writer = backend.writer.is_some();
            let store = Store::from_backend(Arc::new(backend.clone()), Sealer::InsecureClear);
            let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
            let run = store.begin_run(key, "issues", true).await.unwrap();
            let counts = |c: crate::store::ChangeCounts| (c.added, c.updated, c.deleted);
            let first: Vec<Value> =
                (0..1200).map(|i| json!({"id": i, "title": format!("issue {i}"), "n": i})).collect();
            let mut with_duplicate = first.clone();
            with_duplicate.push(json!({"id": 5, "title": "the last one wins"}));
            let c = store.apply(run.ids, "Issue", RecordChange::Save, prepared(&with_duplicate)).await.unwrap();
            assert_eq!(counts(c), (1200, 0, 0));
            // A later run: two changed (3, and 5, which the duplicate changed), the rest
            // unchanged (marked seen), one new.
            let again = store.begin_run(key, "issues-2", true).await.unwrap();
            let mut second = first[..10].to_vec();
            second[3] = json!({"id": 3, "title": "changed"});
            second.push(json!({"id": "new"}));
            let checkpoint = json!({"page": 7});
            let at = RunCheckpoint { sync: "issues-2", checkpoint: Some(&checkpoint) };
            let c = store.apply_with_checkpoint(again.ids, "Issue", RecordChange::Save, prepared(&second), at).await;
            assert_eq!(counts(c.unwrap()), (1, 2, 0));
            let patches =
                [json!({"id": 20, "extra": {"a": 1}}), json!({"id": "nowhere", "x": 1}), json!({"id": 2, "n": 2})];
            let c = store.apply(again.ids, "Issue", RecordChange::Update, prepared(&patches)).await.unwrap();
            assert_eq!(counts(c), (0, 1, 0));
            let gone = [json!({"id": 7}), json!({"id": 8}), json!({"id": "never stored"})];
            let c = store.apply(again.ids, "Issue", RecordChange::Delete, prepared(&gone)).await.unwrap();
            assert_eq!(counts(c), (0, 0, 2));
            // A deleted record saved again comes back added.
            let c = store.apply(again.ids, "Issue", RecordChange::Save, prepared(&[json!({"id": 7})])).await.unwrap();
            assert_eq!(counts(c), (1, 0, 0));
            let cleared = RunCheckpoint { sync: "issues-2", checkpoint: None };
            store.apply_with_checkpoint(again.ids, "Issue", RecordChange::Save, Vec::new(), cleared).await.unwrap();
            // Another run of the first run's sync closes it (as a process that took its lapsed
            // lease over would): its late batch and checkpoint are fenced.
            store.begin_run(key, "issues", true).await.unwrap();
            let late = RunCheckpoint { sync: "issues", checkpoint: Some(&checkpoint) };
            let e = store
                .apply_with_checkpoint(run.ids, "Issue", RecordChange::Save, prepared(&[json!({"id": "late"})]), late)
                .await
                .unwrap_err();
            assert!(matches!(e, StoreError::RunFenced { .. }), "{e:?}");
            assert_eq!(backend.writer.as_ref().is_some_and(|w| w.is_open()), through_writer);
            dumps.push(dump(&backend).await);
            store.close().await;
        }
        assert!(dumps[0].len() > 1200, "{:?}", &dumps[0][..5]);
        assert!(dumps[0].iter().any(|line| line.starts_with("checkpoint:")), "{:?}", &dumps[0]);
        assert!(!dumps[0].iter().any(|line| line.contains("late") || line.contains(r#"{"page":7}"#)));
        assert_eq!(dumps[0], dumps[1]);
    }

    /// A reader (the records API's read-only connections) sees the writer's batches whole: every
    /// page it reads while batches of 500 are written holds a multiple of 500 records.
    #[tokio::test]
    async fn a_reader_sees_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::from_backend(Arc::new(open(&dir, "nango.db").await), Sealer::InsecureClear);
        let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        let run = store.begin_run(key, "issues", false).await.unwrap();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (store, done) = (store.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let query = RecordQuery { model: "Issue".into(), limit: 10_000, ..Default::default() };
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    seen.push(store.records(key, &query).await.unwrap().records.len());
                    tokio::task::yield_now().await;
                }
                seen
            })
        };
        for batch in 0..10 {
            let records: Vec<Value> =
                (0..500).map(|i| json!({"id": batch * 500 + i, "text": "x".repeat(200)})).collect();
            store.apply(run.ids, "Issue", RecordChange::Save, prepared(&records)).await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = reader.await.unwrap();
        assert!(!seen.is_empty());
        assert!(seen.iter().all(|n| n % 500 == 0), "{seen:?}");
        assert_eq!(store.record_counts(key).await.unwrap()["Issue"], 5000);
        store.close().await;
    }

    /// The writer's connection opens on the first batch, not before (a store that only reads
    /// never opens it), runs with the pool's settings, and closes before the pool, whose last
    /// connection then removes the WAL file. Two runs writing at once take turns on it.
    #[tokio::test]
    async fn the_writer_opens_on_the_first_batch_and_closes_before_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let backend = open(&dir, "nango.db").await;
        let writer = Arc::clone(backend.writer.as_ref().unwrap());
        let store = Store::from_backend(Arc::new(backend), Sealer::InsecureClear);
        let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        let other = store.save_connection(&Connection::new("github", "other", "github")).await.unwrap();
        assert!(!writer.is_open(), "nothing written yet");
        let runs = [
            store.begin_run(key, "issues", false).await.unwrap(),
            store.begin_run(other, "issues", false).await.unwrap(),
        ];
        assert!(!writer.is_open(), "runs are begun through the pool");
        let writes = runs.iter().map(|run| {
            let store = store.clone();
            let ids = run.ids;
            tokio::spawn(async move {
                for batch in 0..5 {
                    let records: Vec<Value> = (0..200).map(|i| json!({"id": batch * 200 + i})).collect();
                    store.apply(ids, "Issue", RecordChange::Save, prepared(&records)).await.unwrap();
                }
            })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap();
        }
        assert!(writer.is_open());
        let settings = writer
            .write(|conn, _| {
                let pragma = |name: &str| conn.pragma_query_value(None, name, |row| row.get::<_, i64>(0));
                let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).writing("test")?;
                Ok((mode, pragma("synchronous"), pragma("foreign_keys"), pragma("cache_size"), pragma("busy_timeout")))
            })
            .await
            .unwrap();
        let (mode, synchronous, foreign_keys, cache_size, busy_timeout) = settings;
        assert_eq!(mode, "wal");
        assert_eq!((synchronous.unwrap(), foreign_keys.unwrap(), cache_size.unwrap()), (1, 1, -256));
        assert_eq!(busy_timeout.unwrap(), super::super::read::BUSY_TIMEOUT.as_millis() as i64);
        for k in [key, other] {
            assert_eq!(store.record_counts(k).await.unwrap()["Issue"], 1000);
        }
        store.close().await;
        assert!(!writer.is_open());
        assert!(!dir.path().join("nango.db-wal").exists(), "the last connection removed the WAL");
        let e = writer.write(|_, _| Ok(())).await.unwrap_err();
        assert!(matches!(e, StoreError::Write { .. }), "{e:?}");
    }

    /// A batch whose caller stopped waiting (a run killed: its future dropped) before the batch
    /// committed is rolled back, as a sqlx transaction dropped with its future is: nothing a
    /// killed run handed over lands after it.
    #[tokio::test]
    async fn a_batch_whose_caller_is_gone_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let backend = open(&dir, "nango.db").await;
        let writer = Arc::clone(backend.writer.as_ref().unwrap());
        let store = Store::from_backend(Arc::new(backend.clone()), Sealer::InsecureClear);
        let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        let run = store.begin_run(key, "issues", false).await.unwrap();
        // Another connection holds the write lock: the batch waits in `BEGIN IMMEDIATE`.
        let lock = backend.pool().begin_with("BEGIN IMMEDIATE").await.unwrap();
        let batch = store.apply(run.ids, "Issue", RecordChange::Save, prepared(&[json!({"id": 1})]));
        let waited = tokio::time::timeout(std::time::Duration::from_millis(300), batch).await;
        assert!(waited.is_err(), "the batch cannot have committed: {waited:?}");
        lock.rollback().await.unwrap();
        // The next write's turn comes once the abandoned one is over.
        writer.write(|_, _| Ok(())).await.unwrap();
        assert_eq!(store.record_counts(key).await.unwrap().get("Issue"), None);
        let c = store.apply(run.ids, "Issue", RecordChange::Save, prepared(&[json!({"id": 1})])).await.unwrap();
        assert_eq!(c.added, 1, "the run goes on writing");
        store.close().await;
    }

    use super::Writing as _;
}
