//! The embedded default backend: one SQLite file in WAL mode, through sqlx, except for the two
//! hot paths, which use connections of the store's own on blocking threads (rusqlite, the same
//! SQLite library): pages of records are read on read-only ones (`read.rs`), and a run's record
//! batches are written on one read-write connection (`write.rs`).
//!
//! The SQL here is SQLite's: `?` placeholders in the multi-row insert (sqlx resolves each `$n`
//! by scanning the statement's parameter names, which made binding 80 rows quadratic),
//! `BEGIN IMMEDIATE` to take the write lock up front, row values compared with `(seq, pk) > (?, ?)`,
//! `$1 IS NULL OR ...` for optional filters, integer microseconds for timestamps and `PRAGMA`s.
//! A PostgreSQL backend writes its own statements behind the same traits.

mod connections;
mod deploy;
mod migrate;
mod read;
mod tasks;
mod write;

use super::backend::{
    Backend, ComposeWebhooks, ConnectionBackend, DeliveryBackend, LeaseBackend, RecordBackend, ScheduleBackend,
};
use super::error::During;
use super::page::{self, PageOf};
use super::policy::{Batch, ExistingRecord, LastAction};
use super::*;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Row};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

// Connect sessions, integrations and action results: the SQL shared with PostgreSQL.
super::sql::connect::connect_backend!(SqliteBackend);
super::sql::integrations::integration_backends!(SqliteBackend, sqlx::sqlite::SqliteRow);
super::sql::validators::validator_backend!(SqliteBackend);

/// Rows per multi-row statement (12 parameters each, under SQLite's parameter limit).
const ROWS_PER_STATEMENT: usize = 80;
/// Ids per `IN (...)` list.
const IDS_PER_QUERY: usize = 500;

/// Connections the pool opens at most unless the URL says `pool_size=N`: `serve`'s API handlers
/// read while a run writes (WAL lets readers go on beside the one writer). Each connection is a
/// thread of sqlx's with its own page cache, so a process that makes its calls one after another
/// (the CLI's `run`) asks for one.
const POOL_SIZE: u32 = 4;

/// The URL parameter that caps each connection's page cache, in KiB (SQLite's `cache_size`).
const CACHE_KIB: &str = "cache_kib";

/// The SQLite backend. Most programs open it through [`Store::open`] with a `sqlite://` URL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use nango_runtime::store::{SqliteBackend, Store};
/// let dir = std::env::temp_dir().join(format!("nango-doc-sqlite-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let url = format!("sqlite://{}", dir.join("nango.db").display());
/// let backend = SqliteBackend::open(&url).await.unwrap();
/// let store = Store::from_backend(std::sync::Arc::new(backend), nango_runtime::crypto::Sealer::InsecureClear);
/// store.save_connection(&nango_runtime::Connection::new("github", "acme", "github")).await.unwrap();
/// assert_eq!(store.connections().await.unwrap().len(), 1);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    pool: SqlitePool,
    /// Read-only connections of its own for pages of records (see `read.rs`); `None` for a
    /// database in memory, which only the pool's connections see.
    readers: Option<Arc<read::Readers>>,
    /// The connection of its own that writes record batches (see `write.rs`); `None` for a
    /// database in memory, which only the pool's connections see.
    writer: Option<Arc<write::Writer>>,
}

fn hash_of(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    if bytes.len() == 16 {
        out.copy_from_slice(bytes);
    }
    out
}

/// `?, ?, ...`: anonymous placeholders, bound in the order they appear. sqlx resolves each `$n`
/// by scanning the statement's parameter names, which makes binding hundreds of them quadratic;
/// the statements of a batch (hundreds of ids) use these instead.
fn anonymous_placeholders(count: usize) -> String {
    let mut text = String::with_capacity(count * 3);
    for i in 0..count {
        text.push_str(if i == 0 { "?" } else { ", ?" });
    }
    text
}

impl SqliteBackend {
    /// A page of records (see [`RecordBackend::records`]), gathered into `sink`: on a blocking
    /// thread with one of the store's read-only connections (see `read.rs`), or through the pool
    /// when the store has none (a database in memory).
    async fn page<S: page::PageSink + Send + 'static>(
        &self,
        of: PageOf,
        query: &RecordQuery,
        sink: S,
    ) -> StoreResult<Option<S::Page>>
    where
        S::Page: Send + 'static,
    {
        let statement = read::PageSql::new(&of, query)?;
        let Some(readers) = &self.readers else {
            return self.page_through_pool(of, &statement, sink).await;
        };
        readers
            .read(move |conn| {
                let (out, rows) = read::read_page(conn, &statement, sink)?;
                // An empty page: no such connection, or none of its records match.
                if let (0, PageOf::Name(provider_config_key, connection_id)) = (rows, &of)
                    && !read::connection_exists(conn, provider_config_key, connection_id)?
                {
                    return Ok(None);
                }
                Ok(Some(out))
            })
            .await
    }

    /// [`SqliteBackend::page`] through sqlx's pool.
    async fn page_through_pool<S: page::PageSink>(
        &self,
        of: PageOf,
        statement: &read::PageSql,
        sink: S,
    ) -> StoreResult<Option<S::Page>> {
        let mut q = sqlx::query(AssertSqlSafe(statement.sql.clone()));
        for arg in &statement.args {
            q = match arg {
                read::Arg::Int(n) => q.bind(*n),
                read::Arg::Text(text) => q.bind(text.as_str()),
            };
        }
        let rows = q.fetch_all(&self.pool).await.during(read::OP)?;
        if let (true, PageOf::Name(provider_config_key, connection_id)) = (rows.is_empty(), &of)
            && self.connection_key(provider_config_key, connection_id).await?.is_none()
        {
            return Ok(None);
        }
        page::gather_sqlx_rows(&rows, statement.limit, sink, read::OP).map(Some)
    }

    /// Opens (creating if needed) the database at a `sqlite://path` URL in WAL mode and brings
    /// its schema up to date (see `migrations/sqlite/`). `?pool_size=N` sets how many
    /// connections the process opens at most (4 by default), `cache_kib=N` each one's page cache
    /// (SQLite's default is 2,048 KiB); the other parameters are sqlx's.
    ///
    /// With `pool_size=1` every call waits for the one before it to hand its connection back:
    /// no method of this backend holds a connection while it asks for another, so nothing
    /// waits for itself.
    ///
    /// Beside the pool, a file database gets one read-write connection for record batches,
    /// opened on the first batch with the same settings (`cache_kib` included), and read-only
    /// connections for pages of records (one now, more as pages are read at once).
    pub async fn open(url: &str) -> StoreResult<SqliteBackend> {
        let invalid = |source| StoreError::InvalidUrl { url: url.to_owned(), source };
        let taken = super::sql::take_pool_size(url).and_then(|(url, pool_size)| {
            let (url, cache_kib) = super::sql::take_number(&url, CACHE_KIB, "the page cache in KiB")?;
            Ok((url, pool_size, cache_kib))
        });
        let (sqlx_url, pool_size, cache_kib) = taken.map_err(|e| invalid(sqlx::Error::Configuration(e.into())))?;
        let options = SqliteConnectOptions::from_str(&sqlx_url)
            .map_err(invalid)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(read::BUSY_TIMEOUT)
            .foreign_keys(true);
        // SQLite's default page cache is 2 MB per connection; `cache_kib` caps it (a negative
        // `cache_size` is in KiB).
        let options = match cache_kib {
            Some(kib) => options.pragma("cache_size", format!("-{kib}")),
            None => options,
        };
        // Migrations get a connection of their own without foreign-key enforcement (see
        // `migrate.rs`); every other statement runs with it.
        let mut migrating = options
            .clone()
            .foreign_keys(false)
            .connect()
            .await
            .map_err(|source| StoreError::Open { url: url.to_owned(), source })?;
        let migrated = migrate::migrate(&mut migrating).await;
        let _ = migrating.close().await;
        migrated?;
        let filename = options.get_filename().to_owned();
        let pool = SqlitePoolOptions::new()
            .max_connections(pool_size.unwrap_or(POOL_SIZE))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { url: url.to_owned(), source })?;
        // As many readers as cores: a page is CPU work (stepping the statement, writing JSON),
        // and requests beyond that wait for a permit rather than for the CPU.
        let readers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = (!in_memory).then(|| Arc::new(write::Writer::new(&filename, cache_kib)));
        let readers = if in_memory {
            None
        } else {
            match read::Readers::open(&filename, readers) {
                Ok(readers) => Some(Arc::new(readers)),
                Err(e) => {
                    // The pool reads the file, so pages can still be read through it.
                    tracing::warn!(url, error = %e, "cannot open read-only connections; pages of records go through the pool");
                    None
                }
            }
        };
        Ok(SqliteBackend { pool, readers, writer })
    }

    /// The pool, for queries the traits do not cover (benchmarks, inspection).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that takes the write lock up front (`BEGIN IMMEDIATE`): one that starts
    /// reading and then writes could fail with SQLITE_BUSY when another writer came between.
    async fn write_transaction(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Looks up the stored state of `ids`: `seen_in_run` against `run` (no run: never), the
    /// JSON when `with_json`.
    async fn find(
        conn: &mut sqlx::SqliteConnection,
        connection: ConnectionKey,
        model: &str,
        ids: &[&str],
        run: Option<i64>,
        with_json: bool,
    ) -> StoreResult<HashMap<String, ExistingRecord>> {
        const OP: &str = "reading the stored state of records";
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT id, hash, deleted_at IS NOT NULL AS deleted, seen_run, last_action{} FROM records \
                 WHERE connection = ? AND model = ? AND id IN ({})",
                if with_json { ", json" } else { "" },
                anonymous_placeholders(chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(connection.get()).bind(model);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *conn).await.during(OP)? {
                let read = || -> sqlx::Result<(String, ExistingRecord)> {
                    let hash: Vec<u8> = row.try_get("hash")?;
                    let seen_run: i64 = row.try_get("seen_run")?;
                    let last_action: String = row.try_get("last_action")?;
                    let existing = ExistingRecord {
                        hash: hash_of(&hash),
                        deleted: row.try_get("deleted")?,
                        seen_in_run: run == Some(seen_run),
                        last_action: LastAction::parse(&last_action),
                        json: if with_json { Some(row.try_get("json")?) } else { None },
                    };
                    Ok((row.try_get("id")?, existing))
                };
                let (id, existing) = read().during(OP)?;
                found.insert(id, existing);
            }
        }
        Ok(found)
    }

    /// Writes a batch inside the caller's transaction (after the fence): reads the stored state
    /// of its ids, plans, writes the plan and adds its counts to the run's.
    async fn write_batch<'b>(
        tx: &mut sqlx::SqliteConnection,
        run: RunIds,
        model: &str,
        batch: &'b Batch<'_>,
    ) -> StoreResult<super::policy::Plan<'b>> {
        let ids: Vec<&str> = batch.ids().collect();
        let found = Self::find(tx, run.connection, model, &ids, Some(run.run), batch.needs_stored_json()).await?;
        let plan = batch.plan(&found, run.track_seen)?;
        let now = to_micros(Utc::now());
        let seq = next_seq(tx).await?;
        Self::upsert_rows(tx, run, model, &plan.upserts, now, seq).await?;
        if !plan.seen.is_empty() {
            Self::update_ids(
                tx,
                "seen_run = ?, seen_epoch = ?",
                &[run.run, run.epoch],
                run.connection,
                model,
                &plan.seen,
                "marking records seen",
            )
            .await?;
        }
        if !plan.deleted.is_empty() {
            Self::update_ids(
                tx,
                "deleted_at = ?, last_modified_at = ?, last_action = 'DELETED', seq = ?, seen_run = ?",
                &[now, now, seq, run.run],
                run.connection,
                model,
                &plan.deleted,
                "deleting records",
            )
            .await?;
        }
        add_run_changes(tx, run.run, model, plan.counts).await?;
        Ok(plan)
    }

    /// [`RecordBackend::apply`] through sqlx's pool, for a database in memory (which the
    /// writer's connection of its own cannot see): the same transaction, statement by statement.
    async fn apply_through_pool(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<RunCheckpoint<'_>>,
    ) -> StoreResult<ChangeCounts> {
        const OP: &str = "writing records";
        let batch = Batch::new(model, change, records);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        tasks::check_fence(&mut tx, run.run).await?;
        let plan = if batch.is_empty() { None } else { Some(Self::write_batch(&mut tx, run, model, &batch).await?) };
        if let Some(checkpoint) = checkpoint {
            tasks::save_checkpoint_in(&mut tx, run.connection, checkpoint).await?;
        }
        tx.commit().await.during(OP)?;
        let Some(plan) = plan else { return Ok(ChangeCounts::default()) };
        warn_ignored(model, plan.ignored.iter().copied());
        Ok(plan.counts)
    }

    async fn upsert_rows(
        tx: &mut sqlx::SqliteConnection,
        run: RunIds,
        model: &str,
        rows: &[policy::Upsert<'_>],
        now: i64,
        seq: i64,
    ) -> StoreResult<()> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO records (connection, model, id, json, hash, first_seen_at, last_modified_at, \
                 last_action, deleted_at, seq, seen_run, seen_epoch) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)");
            }
            sql.push_str(
                " ON CONFLICT (connection, model, id) DO UPDATE SET json = excluded.json, hash = excluded.hash, \
                 last_modified_at = excluded.last_modified_at, last_action = excluded.last_action, deleted_at = NULL, \
                 seq = excluded.seq, seen_run = excluded.seen_run, seen_epoch = excluded.seen_epoch, pruned_at = NULL",
            );
            // Anonymous `?` placeholders: sqlx resolves each `$n` by scanning the statement's
            // parameter names, which made binding 80 rows quadratic (PostgreSQL would use `$n`).
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                query = query
                    .bind(run.connection.get())
                    .bind(model)
                    .bind(row.id)
                    .bind(row.json.as_ref())
                    .bind(&row.hash[..])
                    .bind(now)
                    .bind(now)
                    .bind(row.last_action.as_str())
                    .bind(seq)
                    .bind(run.run)
                    .bind(run.epoch);
            }
            query.execute(&mut *tx).await.during("writing records")?;
        }
        Ok(())
    }

    /// `UPDATE records SET {set}` (with `?` placeholders, bound from `binds` in order) for `ids`.
    async fn update_ids(
        tx: &mut sqlx::SqliteConnection,
        set: &'static str,
        binds: &[i64],
        connection: ConnectionKey,
        model: &str,
        ids: &[&str],
        operation: &'static str,
    ) -> StoreResult<()> {
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "UPDATE records SET {set} WHERE connection = ? AND model = ? AND id IN ({})",
                anonymous_placeholders(chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for b in binds {
                query = query.bind(*b);
            }
            query = query.bind(connection.get()).bind(model);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await.during(operation)?;
        }
        Ok(())
    }
}

/// Warns of each update of a record that is not stored (the batch ignored it).
fn warn_ignored<'a>(model: &str, ids: impl Iterator<Item = &'a str>) {
    for id in ids {
        tracing::warn!(model, id = %id, "batch_update of a record that is not stored: ignored");
    }
}

fn run_from_row(row: &SqliteRow) -> StoreResult<RunRecord> {
    let read = || -> sqlx::Result<RunRecord> {
        let counts: String = row.try_get("counts")?;
        Ok(RunRecord {
            id: row.try_get("id")?,
            provider_config_key: row.try_get("provider_config_key")?,
            connection_id: row.try_get("connection_id")?,
            sync: row.try_get("sync")?,
            started_at: from_micros(row.try_get("started_at")?),
            ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(from_micros),
            status: RunStatus::parse(&row.try_get::<String, _>("status")?),
            counts: serde_json::from_str(&counts).unwrap_or_default(),
            error: row.try_get("error")?,
        })
    };
    read().during("reading runs")
}

/// The next commit-ordered sequence number (the write lock is held, so it is ours alone).
async fn next_seq(tx: &mut sqlx::SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(seq), 0) + 1 FROM records")
        .fetch_one(&mut *tx)
        .await
        .during("numbering the write")
}

/// The counts of the run of the `runs` row being updated, as `runs.counts` keeps them (a JSON
/// object of model to counts), summed from `run_changes`: what its writes counted, each in its
/// own transaction. A macro so that it can be `concat!`ed into statements.
macro_rules! run_changes_of_runs_row {
    () => {
        "(SELECT COALESCE(json_group_object(c.model, json_object('added', c.added, 'updated', c.updated, \
         'deleted', c.deleted)), '{}') FROM run_changes c WHERE c.run = runs.id)"
    };
}

/// Adds a write's counts to its run's, in the write's transaction.
async fn add_run_changes(
    tx: &mut sqlx::SqliteConnection,
    run: i64,
    model: &str,
    counts: ChangeCounts,
) -> StoreResult<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let count = |n: u64| n.min(i64::MAX as u64) as i64;
    sqlx::query(
        "INSERT INTO run_changes (run, model, added, updated, deleted) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (run, model) DO UPDATE SET added = added + excluded.added, \
         updated = updated + excluded.updated, deleted = deleted + excluded.deleted",
    )
    .bind(run)
    .bind(model)
    .bind(count(counts.added))
    .bind(count(counts.updated))
    .bind(count(counts.deleted))
    .execute(&mut *tx)
    .await
    .during("counting the run's changes")?;
    Ok(())
}

fn queued_from_row(row: &SqliteRow) -> StoreResult<QueuedWebhook> {
    let read = || -> sqlx::Result<QueuedWebhook> {
        Ok(QueuedWebhook {
            id: row.try_get("id")?,
            run: row.try_get("run")?,
            model: row.try_get("model")?,
            body: row.try_get("body")?,
            queued_at: from_micros(row.try_get("queued_at")?),
        })
    };
    read().during("reading queued webhooks")
}

/// Queues webhooks in an open transaction.
async fn queue_in(
    tx: &mut sqlx::SqliteConnection,
    run: i64,
    webhooks: &[OutgoingWebhook],
) -> StoreResult<Vec<QueuedWebhook>> {
    let queued_at = Utc::now();
    let mut queued = Vec::with_capacity(webhooks.len());
    for webhook in webhooks {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhook_queue (run, model, body, queued_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(run)
        .bind(&webhook.model)
        .bind(&webhook.body)
        .bind(to_micros(queued_at))
        .fetch_one(&mut *tx)
        .await
        .during("queueing a webhook")?;
        queued.push(QueuedWebhook {
            id,
            run,
            model: webhook.model.clone(),
            body: webhook.body.clone(),
            queued_at: from_micros(to_micros(queued_at)),
        });
    }
    Ok(queued)
}

#[async_trait]
impl ScheduleBackend for SqliteBackend {
    async fn sync_state(&self, connection: ConnectionKey, sync: &str) -> StoreResult<SyncState> {
        const OP: &str = "reading the state of a sync";
        let row = sqlx::query(
            "SELECT last_sync_date, checkpoint, paused, frequency_secs, frequency_text, next_run_at, triggered_at \
             FROM sync_state \
             WHERE connection = $1 AND sync = $2",
        )
        .bind(connection.get())
        .bind(sync)
        .fetch_optional(&self.pool)
        .await
        .during(OP)?;
        let Some(row) = row else { return Ok(SyncState::default()) };
        let read = || -> sqlx::Result<SyncState> {
            let checkpoint: Option<String> = row.try_get("checkpoint")?;
            Ok(SyncState {
                last_sync_date: row.try_get::<Option<i64>, _>("last_sync_date")?.map(from_micros),
                checkpoint: checkpoint.and_then(|c| serde_json::from_str(&c).ok()),
                paused: row.try_get::<Option<bool>, _>("paused")?,
                frequency_secs: row.try_get::<Option<i64>, _>("frequency_secs")?.map(|f| f.max(0) as u64),
                frequency_text: row.try_get("frequency_text")?,
                next_run_at: row.try_get::<Option<i64>, _>("next_run_at")?.map(from_micros),
                triggered_at: row.try_get::<Option<i64>, _>("triggered_at")?.map(from_micros),
            })
        };
        read().during(OP)
    }

    async fn save_checkpoint(
        &self,
        connection: ConnectionKey,
        sync: &str,
        checkpoint: Option<&Value>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, checkpoint) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET checkpoint = excluded.checkpoint",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(checkpoint.map(Value::to_string))
        .execute(&self.pool)
        .await
        .during("saving the checkpoint")?;
        Ok(())
    }

    async fn reset_sync(
        &self,
        connection: ConnectionKey,
        sync: &str,
        models: &[&str],
        clear_records: bool,
    ) -> StoreResult<()> {
        const OP: &str = "resetting a sync";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        sqlx::query(
            "UPDATE sync_state SET last_sync_date = NULL, checkpoint = NULL, epoch = NULL WHERE connection = $1 AND sync = $2",
        )
        .bind(connection.get())
        .bind(sync)
        .execute(&mut *tx)
        .await
        .during(OP)?;
        // A reset fetches everything again: a stored validator would answer it "unchanged".
        sqlx::query("DELETE FROM page_validators WHERE connection = $1 AND sync = $2")
            .bind(connection.get())
            .bind(sync)
            .execute(&mut *tx)
            .await
            .during("forgetting pages' validators")?;
        if clear_records {
            for model in models {
                sqlx::query("DELETE FROM records WHERE connection = $1 AND model = $2")
                    .bind(connection.get())
                    .bind(*model)
                    .execute(&mut *tx)
                    .await
                    .during("deleting the records of a sync")?;
            }
        }
        tx.commit().await.during(OP)?;
        Ok(())
    }

    async fn begin_run(&self, connection: ConnectionKey, sync: &str, track_deletes: bool) -> StoreResult<RunStart> {
        const OP: &str = "starting a run";
        let started_at = Utc::now();
        let now = to_micros(started_at);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        // The caller holds the lease: whoever ran these is gone.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE runs SET {CLOSE_INTERRUPTED} WHERE connection = $1 AND sync = $2 AND status = 'RUNNING'"
        )))
        .bind(connection.get())
        .bind(sync)
        .execute(&mut *tx)
        .await
        .during("marking interrupted runs as failed")?;
        sqlx::query(
            "UPDATE sync_state SET triggered_at = NULL WHERE connection = $1 AND sync = $2 AND triggered_at <= $3",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(now)
        .execute(&mut *tx)
        .await
        .during("taking the pending trigger")?;
        let state =
            sqlx::query("SELECT last_sync_date, checkpoint, epoch FROM sync_state WHERE connection = $1 AND sync = $2")
                .bind(connection.get())
                .bind(sync)
                .fetch_optional(&mut *tx)
                .await
                .during(OP)?;
        let last_status: Option<String> =
            sqlx::query_scalar("SELECT status FROM runs WHERE connection = $1 AND sync = $2 ORDER BY id DESC LIMIT 1")
                .bind(connection.get())
                .bind(sync)
                .fetch_optional(&mut *tx)
                .await
                .during(OP)?;
        let run: i64 = sqlx::query_scalar(
            "INSERT INTO runs (connection, sync, started_at, status, heartbeat_at) VALUES ($1, $2, $3, 'RUNNING', $3) \
             RETURNING id",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .during(OP)?;
        let (last_sync_date, checkpoint, old_epoch) = match &state {
            Some(row) => {
                let read = || -> sqlx::Result<_> {
                    Ok((
                        row.try_get::<Option<i64>, _>("last_sync_date")?.map(from_micros),
                        row.try_get::<Option<String>, _>("checkpoint")?
                            .and_then(|c| serde_json::from_str::<Value>(&c).ok()),
                        row.try_get::<Option<i64>, _>("epoch")?,
                    ))
                };
                read().during(OP)?
            }
            None => (None, None, None),
        };
        // A run resuming an interrupted enumeration (checkpoint left by a run that did not
        // succeed) keeps that enumeration's generation, so records it saw are not deleted.
        let resumes = checkpoint.is_some() && last_status.as_deref() != Some("SUCCESS");
        let epoch = match old_epoch {
            Some(e) if resumes => e,
            _ => run,
        };
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, epoch) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET epoch = excluded.epoch",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(epoch)
        .execute(&mut *tx)
        .await
        .during(OP)?;
        tx.commit().await.during(OP)?;
        Ok(RunStart {
            ids: RunIds { connection, run, epoch, track_seen: track_deletes },
            started_at,
            last_sync_date,
            checkpoint,
        })
    }

    async fn finish_run(&self, run: &RunStart, sync: &str, end: &RunEnd) -> StoreResult<()> {
        const OP: &str = "recording the end of a run";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        let ended = sqlx::query(
            "UPDATE runs SET status = $1, ended_at = $2, counts = $3, error = $4 WHERE id = $5 AND status = 'RUNNING'",
        )
        .bind(end.status.as_str())
        .bind(to_micros(Utc::now()))
        .bind(serde_json::to_string(&end.counts).unwrap_or_else(|_| "{}".into()))
        .bind(&end.error)
        .bind(run.ids.run)
        .execute(&mut *tx)
        .await
        .during(OP)?;
        if ended.rows_affected() == 0 {
            // Another process closed it after this one lost its lease: its verdict stands, but
            // this process may have written since, so the counts are taken again.
            sqlx::query(concat!("UPDATE runs SET counts = ", run_changes_of_runs_row!(), " WHERE id = $1"))
                .bind(run.ids.run)
                .execute(&mut *tx)
                .await
                .during(OP)?;
            tx.commit().await.during(OP)?;
            return Ok(());
        }
        if end.advance_last_sync_date {
            sqlx::query("UPDATE sync_state SET last_sync_date = $1 WHERE connection = $2 AND sync = $3")
                .bind(to_micros(run.started_at))
                .bind(run.ids.connection.get())
                .bind(sync)
                .execute(&mut *tx)
                .await
                .during(OP)?;
        }
        if end.clear_checkpoint {
            sqlx::query("UPDATE sync_state SET checkpoint = NULL WHERE connection = $1 AND sync = $2")
                .bind(run.ids.connection.get())
                .bind(sync)
                .execute(&mut *tx)
                .await
                .during(OP)?;
        }
        tx.commit().await.during(OP)?;
        Ok(())
    }

    async fn runs(
        &self,
        connection: Option<ConnectionKey>,
        sync: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<RunRecord>> {
        let rows = sqlx::query(
            "SELECT r.*, c.provider_config_key, c.connection_id FROM runs r JOIN connections c ON c.pk = r.connection \
             WHERE ($1 IS NULL OR r.connection = $1) AND ($2 IS NULL OR r.sync = $2) ORDER BY r.id DESC LIMIT $3",
        )
        .bind(connection.map(ConnectionKey::get))
        .bind(sync)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .during("reading runs")?;
        rows.iter().map(run_from_row).collect()
    }

    async fn run(&self, id: i64) -> StoreResult<Option<RunRecord>> {
        let row = sqlx::query(
            "SELECT r.*, c.provider_config_key, c.connection_id FROM runs r JOIN connections c ON c.pk = r.connection \
             WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .during("reading a run")?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn append_logs(&self, run: i64, lines: &[LogLine]) -> StoreResult<()> {
        const OP: &str = "keeping the run's log";
        let mut tx = self.pool.begin().await.during(OP)?;
        for line in lines {
            sqlx::query("INSERT INTO run_logs (run, at, level, message) VALUES ($1, $2, $3, $4)")
                .bind(run)
                .bind(to_micros(line.at))
                .bind(&line.level)
                .bind(&line.message)
                .execute(&mut *tx)
                .await
                .during(OP)?;
        }
        tx.commit().await.during(OP)?;
        Ok(())
    }

    async fn run_logs(&self, run: i64) -> StoreResult<Vec<LogLine>> {
        const OP: &str = "reading a run's log";
        let rows = sqlx::query("SELECT at, level, message FROM run_logs WHERE run = $1 ORDER BY id")
            .bind(run)
            .fetch_all(&self.pool)
            .await
            .during(OP)?;
        rows.iter()
            .map(|r| {
                let read = || -> sqlx::Result<LogLine> {
                    Ok(LogLine {
                        at: from_micros(r.try_get("at")?),
                        level: r.try_get("level")?,
                        message: r.try_get("message")?,
                    })
                };
                read().during(OP)
            })
            .collect()
    }

    async fn set_paused(&self, connection: ConnectionKey, sync: &str, paused: Option<bool>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, paused) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET paused = excluded.paused",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(paused)
        .execute(&self.pool)
        .await
        .during("pausing or starting a sync")?;
        Ok(())
    }

    async fn set_frequency(
        &self,
        connection: ConnectionKey,
        sync: &str,
        frequency_secs: Option<u64>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, frequency_secs) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET frequency_secs = excluded.frequency_secs",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(frequency_secs.map(|f| f.min(i64::MAX as u64) as i64))
        .execute(&self.pool)
        .await
        .during("saving the connection's frequency")?;
        Ok(())
    }

    async fn set_next_run(&self, connection: ConnectionKey, sync: &str, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, next_run_at) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET next_run_at = excluded.next_run_at",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(at.map(to_micros))
        .execute(&self.pool)
        .await
        .during("saving the next run time")?;
        Ok(())
    }

    async fn set_next_run_if(
        &self,
        connection: ConnectionKey,
        sync: &str,
        seen: Option<DateTime<Utc>>,
        at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        // One statement each way: the check and the write cannot be split by another writer.
        let done = match seen {
            Some(seen) => sqlx::query(
                "UPDATE sync_state SET next_run_at = $3 WHERE connection = $1 AND sync = $2 AND next_run_at = $4",
            )
            .bind(connection.get())
            .bind(sync)
            .bind(at.map(to_micros))
            .bind(to_micros(seen)),
            // A missing row has no next run time either.
            None => sqlx::query(
                "INSERT INTO sync_state (connection, sync, next_run_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (connection, sync) DO UPDATE SET next_run_at = excluded.next_run_at \
                 WHERE sync_state.next_run_at IS NULL",
            )
            .bind(connection.get())
            .bind(sync)
            .bind(at.map(to_micros)),
        }
        .execute(&self.pool)
        .await
        .during("saving the next run time")?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_frequency_text(&self, connection: ConnectionKey, sync: &str, text: Option<&str>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, frequency_text) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET frequency_text = excluded.frequency_text",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(text)
        .execute(&self.pool)
        .await
        .during("saving the connection's frequency")?;
        Ok(())
    }
    async fn set_triggered(&self, connection: ConnectionKey, sync: &str, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, triggered_at) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET triggered_at = excluded.triggered_at",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(at.map(to_micros))
        .execute(&self.pool)
        .await
        .during("saving a trigger")?;
        Ok(())
    }
}

/// The `SET` list that closes a run whose process stopped: failed, ended when it was last known
/// alive, and with the counts its writes added to `run_changes` (each in its own transaction, so
/// they are exactly what it wrote before it died) instead of the `{}` it started with.
const CLOSE_INTERRUPTED: &str = concat!(
    "status = 'FAILED', ended_at = COALESCE(heartbeat_at, started_at), error = 'interrupted: the process running it \
     stopped before it ended; it ended when it was last known alive', counts = ",
    run_changes_of_runs_row!()
);

#[async_trait]
impl LeaseBackend for SqliteBackend {
    async fn acquire_lease(
        &self,
        connection: ConnectionKey,
        sync: &str,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Result<(), LeaseHolder>> {
        const OP: &str = "taking the lease of a sync";
        // Taken when free, lapsed or already the owner's, in one statement; otherwise who holds
        // it. A holder that lets go between the two statements is asked again.
        for _ in 0..3 {
            let taken: Option<String> = sqlx::query_scalar(
                "INSERT INTO sync_leases (connection, sync, owner, label, acquired_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (connection, sync) DO UPDATE SET owner = excluded.owner, label = excluded.label, \
                 acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
                 WHERE sync_leases.owner = excluded.owner OR sync_leases.expires_at <= excluded.acquired_at \
                 RETURNING owner",
            )
            .bind(connection.get())
            .bind(sync)
            .bind(owner.token())
            .bind(owner.label())
            .bind(to_micros(now))
            .bind(to_micros(expires_at))
            .fetch_optional(&self.pool)
            .await
            .during(OP)?;
            if taken.is_some() {
                return Ok(Ok(()));
            }
            let holder = sqlx::query(
                "SELECT label, acquired_at, expires_at FROM sync_leases WHERE connection = $1 AND sync = $2",
            )
            .bind(connection.get())
            .bind(sync)
            .fetch_optional(&self.pool)
            .await
            .during(OP)?;
            if let Some(row) = holder {
                let read = || -> sqlx::Result<LeaseHolder> {
                    Ok(LeaseHolder {
                        label: row.try_get("label")?,
                        since: from_micros(row.try_get("acquired_at")?),
                        expires_at: from_micros(row.try_get("expires_at")?),
                    })
                };
                return Ok(Err(read().during(OP)?));
            }
        }
        Err(StoreError::LeaseContended { sync: sync.to_owned() })
    }

    async fn renew_lease(
        &self,
        connection: ConnectionKey,
        sync: &str,
        owner: &LeaseOwner,
        run: Option<i64>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        const OP: &str = "renewing the lease of a sync";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        let renewed =
            sqlx::query("UPDATE sync_leases SET expires_at = $1 WHERE connection = $2 AND sync = $3 AND owner = $4")
                .bind(to_micros(expires_at))
                .bind(connection.get())
                .bind(sync)
                .bind(owner.token())
                .execute(&mut *tx)
                .await
                .during(OP)?;
        if renewed.rows_affected() == 0 {
            tx.rollback().await.during(OP)?;
            return Ok(false);
        }
        if let Some(run) = run {
            sqlx::query("UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND status = 'RUNNING'")
                .bind(to_micros(now))
                .bind(run)
                .execute(&mut *tx)
                .await
                .during(OP)?;
        }
        tx.commit().await.during(OP)?;
        Ok(true)
    }

    async fn release_lease(&self, connection: ConnectionKey, sync: &str, owner: &LeaseOwner) -> StoreResult<()> {
        sqlx::query("DELETE FROM sync_leases WHERE connection = $1 AND sync = $2 AND owner = $3")
            .bind(connection.get())
            .bind(sync)
            .bind(owner.token())
            .execute(&self.pool)
            .await
            .during("giving the lease of a sync up")?;
        Ok(())
    }

    async fn close_stale_runs(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let closed = sqlx::query(AssertSqlSafe(format!(
            "UPDATE runs SET {CLOSE_INTERRUPTED} WHERE status = 'RUNNING' AND NOT EXISTS (SELECT 1 FROM sync_leases l \
             WHERE l.connection = runs.connection AND l.sync = runs.sync AND l.expires_at > $1)"
        )))
        .bind(to_micros(now))
        .execute(&self.pool)
        .await
        .during("closing the runs of processes that stopped")?;
        Ok(closed.rows_affected())
    }
}

#[async_trait]
impl RecordBackend for SqliteBackend {
    async fn apply(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<RunCheckpoint<'_>>,
    ) -> StoreResult<ChangeCounts> {
        if records.is_empty() && checkpoint.is_none() {
            return Ok(ChangeCounts::default());
        }
        let Some(writer) = &self.writer else {
            return self.apply_through_pool(run, model, change, records, checkpoint).await;
        };
        let owned_model = model.to_owned();
        let checkpoint = checkpoint.map(|c| (c.sync.to_owned(), c.checkpoint.map(Value::to_string)));
        let applied = writer
            .write(move |conn, abandoned| {
                let batch = Batch::new(&owned_model, change, records);
                write::apply(conn, abandoned, run, &batch, checkpoint)
            })
            .await?;
        warn_ignored(model, applied.ignored.iter().map(String::as_str));
        Ok(applied.counts)
    }

    async fn sweep_unseen(&self, run: RunIds, model: &str) -> StoreResult<u64> {
        const OP: &str = "deleting records the run did not see";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        tasks::check_fence(&mut tx, run.run).await?;
        let now = to_micros(Utc::now());
        let seq = next_seq(&mut tx).await?;
        let done = sqlx::query(
            "UPDATE records SET deleted_at = $1, last_modified_at = $1, last_action = 'DELETED', seq = $2 \
             WHERE connection = $3 AND model = $4 AND deleted_at IS NULL AND seen_epoch < $5",
        )
        .bind(now)
        .bind(seq)
        .bind(run.connection.get())
        .bind(model)
        .bind(run.epoch)
        .execute(&mut *tx)
        .await
        .during(OP)?;
        let deleted = done.rows_affected();
        add_run_changes(&mut tx, run.run, model, ChangeCounts { deleted, ..Default::default() }).await?;
        tx.commit().await.during(OP)?;
        Ok(deleted)
    }

    async fn existing(
        &self,
        connection: ConnectionKey,
        model: &str,
        ids: &[&str],
        with_json: bool,
    ) -> StoreResult<HashMap<String, ExistingRecord>> {
        let mut conn = self.pool.acquire().await.during("reading the stored state of records")?;
        Self::find(&mut conn, connection, model, ids, None, with_json).await
    }

    async fn live_ids(&self, connection: ConnectionKey, model: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT id FROM records WHERE connection = $1 AND model = $2 AND deleted_at IS NULL")
            .bind(connection.get())
            .bind(model)
            .fetch_all(&self.pool)
            .await
            .during("listing live records")
    }

    async fn records(&self, connection: ConnectionKey, query: &RecordQuery) -> StoreResult<RecordPage> {
        // A page of a key is never `None` (only a page of a name checks that the name exists).
        Ok(self.page(PageOf::Key(connection), query, page::Records::default()).await?.unwrap_or_default())
    }

    async fn record_counts(&self, connection: ConnectionKey) -> StoreResult<BTreeMap<String, u64>> {
        const OP: &str = "counting records";
        let rows = sqlx::query(
            "SELECT model, COUNT(*) AS n FROM records WHERE connection = $1 AND deleted_at IS NULL GROUP BY model",
        )
        .bind(connection.get())
        .fetch_all(&self.pool)
        .await
        .during(OP)?;
        rows.iter().map(|r| Ok((r.try_get("model").during(OP)?, r.try_get::<i64, _>("n").during(OP)? as u64))).collect()
    }

    async fn prune(&self, connection: ConnectionKey, model: &str, until: &str, limit: u32) -> StoreResult<Pruned> {
        const OP: &str = "pruning records";
        let (seq, pk) = decode_cursor(until)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        let rows = sqlx::query(
            "SELECT pk, id, last_modified_at, seq FROM records WHERE connection = $1 AND model = $2 \
             AND pruned_at IS NULL AND (seq, pk) <= ($3, $4) ORDER BY seq, pk LIMIT $5",
        )
        .bind(connection.get())
        .bind(model)
        .bind(seq)
        .bind(pk)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *tx)
        .await
        .during(OP)?;
        let now = to_micros(Utc::now());
        let mut pruned = Pruned::default();
        for row in &rows {
            let read = || -> sqlx::Result<(i64, String, i64, i64)> {
                Ok((row.try_get("pk")?, row.try_get("id")?, row.try_get("last_modified_at")?, row.try_get("seq")?))
            };
            let (pk, id, last_modified, seq) = read().during(OP)?;
            // The payload goes; the id stays (as the string the records API shows). An empty hash
            // matches no record, so saving the record again restores it.
            sqlx::query("UPDATE records SET json = $1, hash = X'', pruned_at = $2 WHERE pk = $3")
                .bind(serde_json::json!({ "id": id }).to_string())
                .bind(now)
                .bind(pk)
                .execute(&mut *tx)
                .await
                .during(OP)?;
            pruned.count += 1;
            pruned.last_cursor = Some(encode_cursor(last_modified, seq, pk));
        }
        tx.commit().await.during(OP)?;
        Ok(pruned)
    }
}

#[async_trait]
impl DeliveryBackend for SqliteBackend {
    async fn announce(
        &self,
        connection: ConnectionKey,
        sync: &str,
        run: i64,
        models: &[&str],
        compose: ComposeWebhooks<'_>,
    ) -> StoreResult<Vec<QueuedWebhook>> {
        const OP: &str = "announcing a run's changes";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        let mut unannounced = Vec::with_capacity(models.len());
        for model in models {
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT last_run FROM webhook_announcements WHERE connection = $1 AND sync = $2 AND model = $3",
            )
            .bind(connection.get())
            .bind(sync)
            .bind(*model)
            .fetch_optional(&mut *tx)
            .await
            .during(OP)?;
            let row = sqlx::query(
                "SELECT COALESCE(SUM(c.added), 0) AS added, COALESCE(SUM(c.updated), 0) AS updated, \
                 COALESCE(SUM(c.deleted), 0) AS deleted, \
                 MIN(CASE WHEN c.added + c.updated + c.deleted > 0 THEN r.started_at END) AS since \
                 FROM runs r JOIN run_changes c ON c.run = r.id \
                 WHERE r.connection = $1 AND r.sync = $2 AND r.id > $3 AND r.id <= $4 AND c.model = $5",
            )
            .bind(connection.get())
            .bind(sync)
            .bind(last.unwrap_or(0))
            .bind(run)
            .bind(*model)
            .fetch_one(&mut *tx)
            .await
            .during(OP)?;
            let read = || -> sqlx::Result<Unannounced> {
                let count = |column: &str| row.try_get::<i64, _>(column).map(|n| n.max(0) as u64);
                Ok(Unannounced {
                    model: (*model).to_owned(),
                    counts: ChangeCounts {
                        added: count("added")?,
                        updated: count("updated")?,
                        deleted: count("deleted")?,
                    },
                    since: row.try_get::<Option<i64>, _>("since")?.map(from_micros),
                })
            };
            unannounced.push(read().during(OP)?);
            sqlx::query(
                "INSERT INTO webhook_announcements (connection, sync, model, last_run) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (connection, sync, model) DO UPDATE SET last_run = MAX(last_run, excluded.last_run)",
            )
            .bind(connection.get())
            .bind(sync)
            .bind(*model)
            .bind(run)
            .execute(&mut *tx)
            .await
            .during(OP)?;
        }
        let queued = queue_in(&mut tx, run, &compose(&unannounced)).await?;
        tx.commit().await.during(OP)?;
        Ok(queued)
    }

    async fn queue_webhooks(&self, run: i64, webhooks: &[OutgoingWebhook]) -> StoreResult<Vec<QueuedWebhook>> {
        if webhooks.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during("queueing webhooks")?;
        let queued = queue_in(&mut tx, run, webhooks).await?;
        tx.commit().await.during("queueing webhooks")?;
        Ok(queued)
    }

    async fn pending_webhooks(&self, limit: u32) -> StoreResult<Vec<QueuedWebhook>> {
        let rows = sqlx::query(
            "SELECT id, run, model, body, queued_at FROM webhook_queue WHERE done_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .during("reading queued webhooks")?;
        rows.iter().map(queued_from_row).collect()
    }

    async fn webhook_done(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE webhook_queue SET done_at = $1 WHERE id = $2")
            .bind(to_micros(Utc::now()))
            .bind(id)
            .execute(&self.pool)
            .await
            .during("taking a webhook off the queue")?;
        Ok(())
    }

    async fn record_deliveries(&self, attempts: &[DeliveryRecord]) -> StoreResult<()> {
        const OP: &str = "keeping webhook delivery attempts";
        let mut tx = self.pool.begin().await.during(OP)?;
        for a in attempts {
            sqlx::query(
                "INSERT INTO webhook_deliveries (run, model, url, attempt, status, error, duration_ms, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(a.run)
            .bind(&a.model)
            .bind(&a.attempt.url)
            .bind(i64::from(a.attempt.attempt))
            .bind(a.attempt.status.map(i64::from))
            .bind(&a.attempt.error)
            .bind(a.attempt.duration_ms.min(i64::MAX as u64) as i64)
            .bind(to_micros(a.attempt.at))
            .execute(&mut *tx)
            .await
            .during(OP)?;
        }
        tx.commit().await.during(OP)?;
        Ok(())
    }

    async fn deliveries(&self, run: Option<i64>, limit: u32) -> StoreResult<Vec<DeliveryRecord>> {
        const OP: &str = "reading webhook delivery attempts";
        let rows =
            sqlx::query("SELECT * FROM webhook_deliveries WHERE ($1 IS NULL OR run = $1) ORDER BY id DESC LIMIT $2")
                .bind(run)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .during(OP)?;
        rows.iter()
            .map(|r| {
                let read = || -> sqlx::Result<DeliveryRecord> {
                    Ok(DeliveryRecord {
                        run: r.try_get("run")?,
                        model: r.try_get("model")?,
                        attempt: crate::webhooks::DeliveryAttempt {
                            url: r.try_get("url")?,
                            attempt: r.try_get::<i64, _>("attempt")?.clamp(0, u32::MAX as i64) as u32,
                            status: r.try_get::<Option<i64>, _>("status")?.map(|s| s.clamp(0, 999) as u16),
                            error: r.try_get("error")?,
                            duration_ms: r.try_get::<i64, _>("duration_ms")?.max(0) as u64,
                            at: from_micros(r.try_get("at")?),
                        },
                    })
                };
                read().during(OP)
            })
            .collect()
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn records_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<RecordPage>> {
        let of = PageOf::Name(provider_config_key.to_owned(), connection_id.to_owned());
        self.page(of, query, page::Records::default()).await
    }

    async fn records_json_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<String>> {
        let of = PageOf::Name(provider_config_key.to_owned(), connection_id.to_owned());
        let body = page::Body::new(query.limit.max(1) as usize);
        self.page(of, query, body).await
    }

    async fn close(&self) {
        // The readers and the writer first: the pool's last connection then checkpoints and
        // removes the WAL.
        if let Some(readers) = &self.readers {
            readers.close().await;
        }
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}
