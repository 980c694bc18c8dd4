//! Pages of records: their statement, and reading them on blocking threads with read-only
//! connections of the store's own (rusqlite) beside sqlx's pool.
//!
//! Why not through sqlx: it runs each SQLite connection on a worker thread of its own and sends
//! every row to the async side as a copy of all its columns. In the records API's profile
//! (BENCHMARKS.md, "Records API under load") that worker, its copies and the hand-offs took 43% of
//! the CPU and reading the copies back on the async side 12%, while writing the page's JSON took
//! under 3%. Here a page costs one hand-off: its statement is stepped on a blocking thread and
//! the response written straight from the columns, each stored record's text spliced in as it is.
//!
//! The connections open the file read-only; the pool keeps it in WAL mode, so these readers and
//! the writer never wait for each other, and each statement reads one consistent snapshot.

use super::super::page::{PageOf, PageRow, PageSink};
use super::super::{RecordQuery, StoreError, StoreResult, decode_cursor, to_micros};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a reader waits for a lock (SQLite's `busy_timeout`), as the pool's connections do.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What is read when a page is read.
pub(super) const OP: &str = "reading a page of records";

/// A value bound to a page's statement (owned: the statement may run on another thread).
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Int(i64),
    Text(String),
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Arg::Int(n) => ValueRef::Integer(*n),
            Arg::Text(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

/// The statement of a page and its values, for sqlx or rusqlite alike: anonymous `?`
/// placeholders bound in the order they appear (an `ids` filter can have hundreds, see
/// `anonymous_placeholders`), columns read by position (see [`PageRow`]). It asks for
/// `limit + 1` rows: the extra one only says that there is a next page.
#[derive(Debug, Clone)]
pub(super) struct PageSql {
    pub(super) sql: String,
    pub(super) args: Vec<Arg>,
    pub(super) limit: usize,
}

impl PageSql {
    /// The statement of the page `query` asks of `of`'s records.
    pub(super) fn new(of: &PageOf, query: &RecordQuery) -> StoreResult<PageSql> {
        let mut sql = String::from(
            "SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records WHERE ",
        );
        let mut args = Vec::with_capacity(6 + query.ids.len());
        match of {
            PageOf::Key(key) => {
                sql.push_str("connection = ?");
                args.push(Arg::Int(key.get()));
            }
            PageOf::Name(provider_config_key, connection_id) => {
                sql.push_str(
                    "connection = (SELECT pk FROM connections WHERE provider_config_key = ? AND connection_id = ?)",
                );
                args.push(Arg::Text(provider_config_key.clone()));
                args.push(Arg::Text(connection_id.clone()));
            }
        }
        sql.push_str(" AND model = ?");
        args.push(Arg::Text(query.model.clone()));
        if let Some((seq, pk)) = query.cursor.as_deref().map(decode_cursor).transpose()? {
            sql.push_str(" AND (seq, pk) > (?, ?)");
            args.push(Arg::Int(seq));
            args.push(Arg::Int(pk));
        }
        if let Some(t) = query.modified_after {
            sql.push_str(" AND last_modified_at >= ?");
            args.push(Arg::Int(to_micros(t)));
        }
        if let Some(condition) = query.filter.and_then(|f| f.sql_condition()) {
            sql.push_str(" AND ");
            sql.push_str(&condition);
        }
        if !query.ids.is_empty() {
            sql.push_str(&format!(" AND id IN ({})", super::anonymous_placeholders(query.ids.len())));
            args.extend(query.ids.iter().map(|id| Arg::Text(id.clone())));
        }
        sql.push_str(" ORDER BY seq, pk LIMIT ?");
        let limit = query.limit.max(1);
        args.push(Arg::Int(i64::from(limit) + 1));
        Ok(PageSql { sql, args, limit: limit as usize })
    }
}

/// Text of column `i` of a rusqlite row, borrowed.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    let value = row.get_ref(i)?;
    value.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(e)))
}

/// Steps `page`'s statement on `conn`, giving its rows to `sink`; the page and how many rows
/// the statement gave (0: an empty page).
pub(super) fn read_page<S: PageSink>(
    conn: &Connection,
    page: &PageSql,
    mut sink: S,
) -> rusqlite::Result<(S::Page, usize)> {
    let mut statement = conn.prepare_cached(&page.sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(page.args.iter()))?;
    let mut seen = 0;
    while let Some(row) = rows.next()? {
        if seen == page.limit {
            return Ok((sink.finish(true), seen + 1));
        }
        seen += 1;
        sink.row(&PageRow {
            pk: row.get(0)?,
            id: text(row, 1)?,
            json: text(row, 2)?,
            first_seen_at: row.get(3)?,
            last_modified_at: row.get(4)?,
            last_action: text(row, 5)?,
            deleted_at: row.get(6)?,
            pruned_at: row.get(7)?,
            seq: row.get(8)?,
        });
    }
    Ok((sink.finish(false), seen))
}

/// Whether the connection `connection_id` of `provider_config_key` exists.
pub(super) fn connection_exists(
    conn: &Connection,
    provider_config_key: &str,
    connection_id: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM connections WHERE provider_config_key = ? AND connection_id = ?")?
        .exists([provider_config_key, connection_id])
}

/// The store's read-only connections to its file, used on blocking threads (tokio's
/// `spawn_blocking`): at most as many at once as there are permits, each kept for the next read.
#[derive(Debug)]
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    max: usize,
}

impl Readers {
    /// Readers of the database file `path`, at most `max` at once; one is opened now, so a file
    /// they cannot read is found here rather than on the first page.
    pub(super) fn open(path: &Path, max: usize) -> rusqlite::Result<Readers> {
        let first = Self::connect(path)?;
        Ok(Readers {
            path: path.to_owned(),
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(max)),
            max,
        })
    }

    fn connect(path: &Path) -> rusqlite::Result<Connection> {
        // Not `SQLITE_OPEN_URI`: the path is the file sqlx opened, not a URI.
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // The query planner stability guarantee: plans never depend on bound values. Without it
        // SQLite marks the page's `LIMIT ?` and cursor range as values the plan looked at, so
        // each new binding expired the cached statement and every page re-prepared it
        // (`sqlite3Reprepare`, 11% of the records API's CPU); the plan of a page is the same
        // index range whatever the values.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        Ok(conn)
    }

    /// Runs `read` with one of the connections on a blocking thread (waiting for a permit first,
    /// so no more than `max` reads run at once); its error as [`StoreError::Read`].
    pub(super) async fn read<T, F>(self: &Arc<Self>, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Read { operation: OP, source };
        // Owned and moved into the task: a request dropped while its read runs keeps the permit
        // taken until the read is over, so `close` can wait for every read.
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|e| fail(Box::new(e)))?;
        let readers = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = readers.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match taken {
                Some(conn) => conn,
                None => Self::connect(&readers.path)?,
            };
            let result = read(&conn);
            let mut idle = readers.idle.lock().unwrap_or_else(|e| e.into_inner());
            if !readers.permits.is_closed() && idle.len() < readers.max {
                idle.push(conn);
            }
            result
        })
        .await;
        match joined {
            Ok(result) => result.map_err(|e| fail(Box::new(e))),
            Err(e) => Err(fail(Box::new(e))),
        }
    }

    /// Waits for the reads that run, refuses new ones and closes the connections (so that the
    /// pool's last connection, closed after them, checkpoints and removes the WAL file).
    pub(super) async fn close(&self) {
        let max = u32::try_from(self.max).unwrap_or(u32::MAX);
        let all = self.permits.acquire_many(max).await;
        self.permits.close();
        drop(all);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::page::{Body, PageOf, Records};
    use super::super::SqliteBackend;
    use super::PageSql;
    use crate::crypto::Sealer;
    use crate::store::{ActionFilter, PreparedRecord, RecordQuery, Store};
    use crate::{Connection, RecordChange};
    use serde_json::json;
    use std::sync::Arc;

    /// The readers' pages (records and the API's body) are, byte for byte, those read through
    /// the pool, and the body is the records' [`crate::store::RecordPage::to_api_json`]: deleted,
    /// updated and pruned records, text that needs escaping, every filter, paging to the end,
    /// an unknown connection (`None`) and an unknown model (an empty page).
    #[tokio::test]
    async fn the_readers_read_the_pages_the_pool_reads() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("nango.db").display());
        let backend = SqliteBackend::open(&url).await.unwrap();
        assert!(backend.readers.is_some(), "a file has readers");
        let store = Store::from_backend(Arc::new(backend.clone()), Sealer::InsecureClear);
        let key = store.save_connection(&Connection::new("github", "acme", "github")).await.unwrap();
        let run = store.begin_run(key, "issues", false).await.unwrap();
        let records = (0..30)
            .map(|i| {
                let title = format!("Issue \"{i}\" \\ é \u{1F600} \n\t{}", "<x>");
                PreparedRecord::new("Issue", json!({"id": i, "title": title, "n": i, "tags": [i, null]})).unwrap()
            })
            .collect();
        store.apply(run.ids, "Issue", RecordChange::Save, records).await.unwrap();
        // Changed by a later run: UPDATED.
        let later = store.begin_run(key, "issues-again", false).await.unwrap();
        let changed = vec![PreparedRecord::new("Issue", json!({"id": 3})).unwrap()];
        store.apply(later.ids, "Issue", RecordChange::Save, changed).await.unwrap();
        let deleted = vec![PreparedRecord::new("Issue", json!({"id": 4})).unwrap()];
        store.apply(run.ids, "Issue", RecordChange::Delete, deleted).await.unwrap();
        let first = RecordQuery { model: "Issue".into(), limit: 2, ..Default::default() };
        let until = store.records(key, &first).await.unwrap().records[1].metadata.cursor.clone();
        store.prune(key, "Issue", &until, 10).await.unwrap();

        let query = |limit: u32| RecordQuery { model: "Issue".into(), limit, ..Default::default() };
        let mut queries = vec![
            query(1),
            query(7),
            query(100),
            RecordQuery { model: "Nothing".into(), ..query(10) },
            RecordQuery { ids: vec!["3".into(), "4".into(), "29".into(), "none".into()], ..query(10) },
            RecordQuery { modified_after: Some(chrono::Utc::now() - chrono::Duration::hours(1)), ..query(5) },
        ];
        for (added, updated, deleted) in [(true, false, false), (false, true, false), (false, false, true)] {
            queries.push(RecordQuery { filter: Some(ActionFilter { added, updated, deleted }), ..query(50) });
        }
        // Every page of 4 to the end, by cursor.
        let mut paging = query(4);
        loop {
            let page = store.records(key, &paging).await.unwrap();
            queries.push(paging.clone());
            match page.next_cursor {
                Some(cursor) => paging.cursor = Some(cursor),
                None => break,
            }
        }
        assert!(queries.len() > 15);
        let name = |connection_id: &str| PageOf::Name("github".into(), connection_id.into());
        for q in &queries {
            for of in [name("acme"), PageOf::Key(key)] {
                let body = backend.page(of.clone(), q, Body::new(q.limit as usize)).await.unwrap().unwrap();
                let statement = PageSql::new(&of, q).unwrap();
                let pooled = backend.page_through_pool(of.clone(), &statement, Body::new(1)).await.unwrap();
                assert_eq!(Some(&body), pooled.as_ref(), "{q:?}");
                let page = backend.page(of.clone(), q, Records::default()).await.unwrap().unwrap();
                let pooled = backend.page_through_pool(of.clone(), &statement, Records::default()).await.unwrap();
                assert_eq!(Some(&page), pooled.as_ref(), "{q:?}");
                assert_eq!(page.to_api_json(), body, "{q:?}");
                serde_json::from_str::<serde_json::Value>(&body).unwrap();
            }
            let unknown = backend.page(name("nobody"), q, Body::new(1)).await.unwrap();
            assert_eq!(unknown, None, "{q:?}");
            let statement = PageSql::new(&name("nobody"), q).unwrap();
            assert_eq!(backend.page_through_pool(name("nobody"), &statement, Body::new(1)).await.unwrap(), None);
        }
        let all = backend.page(name("acme"), &query(100), Records::default()).await.unwrap().unwrap();
        assert!(all.records.iter().any(|r| r.metadata.pruned_at.is_some()));
        assert!(all.records.iter().any(|r| r.metadata.deleted_at.is_some()));
        assert!(all.records.iter().any(|r| r.metadata.last_action == "UPDATED"));
        store.close().await;
    }
}
