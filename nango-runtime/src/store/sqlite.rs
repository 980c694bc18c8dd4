//! The embedded default store: one SQLite file in WAL mode, through sqlx.

use super::*;
use crate::Credentials;
use crate::crypto::Sealer;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// Schema versions, applied in order; `PRAGMA user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE connections (
    pk INTEGER PRIMARY KEY,
    provider_config_key TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    credentials BLOB NOT NULL,
    credentials_kind TEXT NOT NULL,
    connection_config TEXT NOT NULL,
    metadata TEXT NOT NULL,
    base_url TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (provider_config_key, connection_id)
);
CREATE TABLE records (
    pk INTEGER PRIMARY KEY,
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    model TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    hash BLOB NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_modified_at INTEGER NOT NULL,
    last_action TEXT NOT NULL,
    deleted_at INTEGER,
    seq INTEGER NOT NULL,
    seen_run INTEGER NOT NULL,
    seen_epoch INTEGER NOT NULL,
    UNIQUE (connection, model, id)
);
CREATE INDEX records_by_seq ON records (connection, model, seq);
CREATE INDEX records_seq ON records (seq);
CREATE TABLE sync_state (
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    last_sync_date INTEGER,
    checkpoint TEXT,
    epoch INTEGER,
    PRIMARY KEY (connection, sync)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    connection INTEGER NOT NULL REFERENCES connections (pk) ON DELETE CASCADE,
    sync TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    status TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    error TEXT
);
CREATE INDEX runs_by_sync ON runs (connection, sync, id);
"#,
    r#"
ALTER TABLE sync_state ADD COLUMN paused INTEGER;
ALTER TABLE sync_state ADD COLUMN frequency_secs INTEGER;
ALTER TABLE sync_state ADD COLUMN next_run_at INTEGER;
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    url TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_run ON webhook_deliveries (run);
CREATE TABLE run_logs (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX run_logs_by_run ON run_logs (run, id);
"#,
];

/// Rows per multi-row statement (12 parameters each, under SQLite's parameter limit).
const ROWS_PER_STATEMENT: usize = 80;
/// Ids per `IN (...)` list.
const IDS_PER_QUERY: usize = 500;

/// The SQLite store.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use nango_runtime::store::{SqliteStore, Store};
/// let dir = std::env::temp_dir().join(format!("nango-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let url = format!("sqlite://{}", dir.join("nango.db").display());
/// let store = SqliteStore::open(&url, nango_runtime::crypto::Sealer::InsecureClear).await.unwrap();
/// store.save_connection(&nango_runtime::Connection::new("github", "acme", "github")).await.unwrap();
/// assert_eq!(store.connections().await.unwrap().len(), 1);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    sealer: Sealer,
}

/// What a record write found in the table.
struct Found {
    hash: [u8; 16],
    deleted: bool,
    seen_run: i64,
    last_action: String,
    json: Option<String>,
}

/// One row to insert or overwrite.
struct Row_ {
    id: String,
    json: String,
    hash: [u8; 16],
    last_action: &'static str,
}

fn hash_of(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    if bytes.len() == 16 {
        out.copy_from_slice(bytes);
    }
    out
}

fn placeholders(start: usize, count: usize) -> String {
    (start..start + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn sealing_context(provider_config_key: &str, connection_id: &str) -> Vec<u8> {
    format!("{provider_config_key}\0{connection_id}").into_bytes()
}

impl SqliteStore {
    /// Opens (creating if needed) the database at a `sqlite://path` URL and brings its schema up
    /// to date. `sealer` seals credentials.
    pub async fn open(url: &str, sealer: Sealer) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("invalid database URL `{url}`: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Database(format!("cannot open {url}: {e}")))?;
        let store = SqliteStore { pool, sealer };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for queries the trait does not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *tx).await?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::Invalid(format!(
                "the database has schema version {version}, newer than this program knows ({}); use a newer nango-runtime",
                MIGRATIONS.len()
            )));
        }
        for (i, script) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            sqlx::raw_sql(AssertSqlSafe(*script)).execute(&mut *tx).await?;
            sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA user_version = {}", i + 1))).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn seal(&self, connection: &Connection) -> StoreResult<Vec<u8>> {
        let plain = serde_json::to_vec(&connection.credentials).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let context = sealing_context(&connection.provider_config_key, &connection.connection_id);
        let sealer = if connection.credentials.is_secret() { &self.sealer } else { &Sealer::InsecureClear };
        Ok(sealer.seal(&plain, &context)?)
    }

    fn connection_from_row(&self, row: &sqlx::sqlite::SqliteRow) -> StoreResult<Connection> {
        let provider_config_key: String = row.try_get("provider_config_key")?;
        let connection_id: String = row.try_get("connection_id")?;
        let sealed: Vec<u8> = row.try_get("credentials")?;
        let plain = self.sealer.open(&sealed, &sealing_context(&provider_config_key, &connection_id))?;
        let credentials: Credentials = serde_json::from_slice(&plain)
            .map_err(|e| StoreError::Invalid(format!("stored credentials are unreadable: {e}")))?;
        let json = |column: &str| -> StoreResult<Value> {
            let text: String = row.try_get(column)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Invalid(format!("stored {column} is unreadable: {e}")))
        };
        let connection_config = match json("connection_config")? {
            Value::Object(map) => {
                map.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            }
            _ => Default::default(),
        };
        Ok(Connection {
            provider_config_key,
            connection_id,
            provider: row.try_get("provider")?,
            credentials,
            connection_config,
            metadata: json("metadata")?,
            base_url: row.try_get("base_url")?,
            created_at: from_micros(row.try_get("created_at")?),
            updated_at: from_micros(row.try_get("updated_at")?),
        })
    }

    /// Looks up the stored state of `ids` (with the JSON when `with_json`).
    async fn find(
        tx: &mut sqlx::SqliteConnection,
        connection: i64,
        model: &str,
        ids: &[&str],
        with_json: bool,
    ) -> StoreResult<HashMap<String, Found>> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT id, hash, deleted_at IS NOT NULL AS deleted, seen_run, last_action{} FROM records \
                 WHERE connection = $1 AND model = $2 AND id IN ({})",
                if with_json { ", json" } else { "" },
                placeholders(3, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(connection).bind(model);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *tx).await? {
                let hash: Vec<u8> = row.try_get("hash")?;
                found.insert(
                    row.try_get("id")?,
                    Found {
                        hash: hash_of(&hash),
                        deleted: row.try_get("deleted")?,
                        seen_run: row.try_get("seen_run")?,
                        last_action: row.try_get("last_action")?,
                        json: if with_json { Some(row.try_get("json")?) } else { None },
                    },
                );
            }
        }
        Ok(found)
    }

    async fn upsert_rows(
        tx: &mut sqlx::SqliteConnection,
        run: RunIds,
        model: &str,
        rows: &[Row_],
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
                 seq = excluded.seq, seen_run = excluded.seen_run, seen_epoch = excluded.seen_epoch",
            );
            // Anonymous `?` placeholders: sqlx resolves each `$n` by scanning the statement's
            // parameter names, which made binding 80 rows quadratic (PostgreSQL would use `$n`).
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                query = query
                    .bind(run.connection)
                    .bind(model)
                    .bind(row.id.as_str())
                    .bind(row.json.as_str())
                    .bind(&row.hash[..])
                    .bind(now)
                    .bind(now)
                    .bind(row.last_action)
                    .bind(seq)
                    .bind(run.run)
                    .bind(run.epoch);
            }
            query.execute(&mut *tx).await?;
        }
        Ok(())
    }

    async fn update_ids(
        tx: &mut sqlx::SqliteConnection,
        set: &'static str,
        binds: &[i64],
        connection: i64,
        model: &str,
        ids: &[&str],
    ) -> StoreResult<()> {
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let n = binds.len();
            let sql = format!(
                "UPDATE records SET {set} WHERE connection = ${} AND model = ${} AND id IN ({})",
                n + 1,
                n + 2,
                placeholders(n + 3, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for b in binds {
                query = query.bind(*b);
            }
            query = query.bind(connection).bind(model);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&mut *tx).await?;
        }
        Ok(())
    }
}

fn run_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<RunRecord> {
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
}

/// The next commit-ordered sequence number (the write lock is held, so it is ours alone).
async fn next_seq(tx: &mut sqlx::SqliteConnection) -> StoreResult<i64> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(seq), 0) + 1 FROM records").fetch_one(&mut *tx).await?)
}

impl Store for SqliteStore {
    async fn save_connection(&self, connection: &Connection) -> StoreResult<()> {
        let sealed = self.seal(connection)?;
        let config = serde_json::to_string(&connection.connection_config).unwrap_or_else(|_| "{}".into());
        let metadata = serde_json::to_string(&connection.metadata).unwrap_or_else(|_| "{}".into());
        sqlx::query(
            "INSERT INTO connections (provider_config_key, connection_id, provider, credentials, credentials_kind, \
             connection_config, metadata, base_url, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (provider_config_key, connection_id) DO UPDATE SET provider = excluded.provider, \
             credentials = excluded.credentials, credentials_kind = excluded.credentials_kind, \
             connection_config = excluded.connection_config, metadata = excluded.metadata, base_url = excluded.base_url, \
             updated_at = excluded.updated_at",
        )
        .bind(&connection.provider_config_key)
        .bind(&connection.connection_id)
        .bind(&connection.provider)
        .bind(sealed)
        .bind(connection.credentials.kind())
        .bind(config)
        .bind(metadata)
        .bind(&connection.base_url)
        .bind(to_micros(connection.created_at))
        .bind(to_micros(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn connection(&self, provider_config_key: &str, connection_id: &str) -> StoreResult<Option<Connection>> {
        let row = sqlx::query("SELECT * FROM connections WHERE provider_config_key = $1 AND connection_id = $2")
            .bind(provider_config_key)
            .bind(connection_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.connection_from_row(&r)).transpose()
    }

    async fn connections(&self) -> StoreResult<Vec<Connection>> {
        let rows = sqlx::query("SELECT * FROM connections ORDER BY provider_config_key, connection_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.connection_from_row(r)).collect()
    }

    async fn delete_connection(&self, provider_config_key: &str, connection_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM connections WHERE provider_config_key = $1 AND connection_id = $2")
            .bind(provider_config_key)
            .bind(connection_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn connection_key(&self, provider_config_key: &str, connection_id: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT pk FROM connections WHERE provider_config_key = $1 AND connection_id = $2")
            .bind(provider_config_key)
            .bind(connection_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_metadata(&self, connection: i64, metadata: &Value) -> StoreResult<()> {
        sqlx::query("UPDATE connections SET metadata = $1, updated_at = $2 WHERE pk = $3")
            .bind(metadata.to_string())
            .bind(to_micros(Utc::now()))
            .bind(connection)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_credentials(&self, connection: i64, credentials: &Credentials) -> StoreResult<()> {
        let row = sqlx::query("SELECT provider_config_key, connection_id FROM connections WHERE pk = $1")
            .bind(connection)
            .fetch_one(&self.pool)
            .await?;
        let mut c = Connection::new(
            row.try_get::<String, _>("provider_config_key")?,
            row.try_get::<String, _>("connection_id")?,
            "",
        );
        c.credentials = credentials.clone();
        let sealed = self.seal(&c)?;
        sqlx::query("UPDATE connections SET credentials = $1, credentials_kind = $2, updated_at = $3 WHERE pk = $4")
            .bind(sealed)
            .bind(credentials.kind())
            .bind(to_micros(Utc::now()))
            .bind(connection)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn sync_state(&self, connection: i64, sync: &str) -> StoreResult<SyncState> {
        let row = sqlx::query(
            "SELECT last_sync_date, checkpoint, paused, frequency_secs, next_run_at FROM sync_state \
             WHERE connection = $1 AND sync = $2",
        )
        .bind(connection)
        .bind(sync)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(SyncState::default()) };
        let checkpoint: Option<String> = row.try_get("checkpoint")?;
        Ok(SyncState {
            last_sync_date: row.try_get::<Option<i64>, _>("last_sync_date")?.map(from_micros),
            checkpoint: checkpoint.and_then(|c| serde_json::from_str(&c).ok()),
            paused: row.try_get::<Option<bool>, _>("paused")?,
            frequency_secs: row.try_get::<Option<i64>, _>("frequency_secs")?.map(|f| f.max(0) as u64),
            next_run_at: row.try_get::<Option<i64>, _>("next_run_at")?.map(from_micros),
        })
    }

    async fn save_checkpoint(&self, connection: i64, sync: &str, checkpoint: Option<&Value>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, checkpoint) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET checkpoint = excluded.checkpoint",
        )
        .bind(connection)
        .bind(sync)
        .bind(checkpoint.map(Value::to_string))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reset_sync(&self, connection: i64, sync: &str, models: &[&str], clear_records: bool) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE sync_state SET last_sync_date = NULL, checkpoint = NULL, epoch = NULL WHERE connection = $1 AND sync = $2",
        )
        .bind(connection)
        .bind(sync)
        .execute(&mut *tx)
        .await?;
        if clear_records {
            for model in models {
                sqlx::query("DELETE FROM records WHERE connection = $1 AND model = $2")
                    .bind(connection)
                    .bind(*model)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn begin_run(&self, connection: i64, sync: &str, track_deletes: bool) -> StoreResult<RunStart> {
        let started_at = Utc::now();
        let now = to_micros(started_at);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE runs SET status = 'FAILED', ended_at = $1, \
             error = 'interrupted: the process stopped before the run ended' \
             WHERE connection = $2 AND sync = $3 AND status = 'RUNNING'",
        )
        .bind(now)
        .bind(connection)
        .bind(sync)
        .execute(&mut *tx)
        .await?;
        let state =
            sqlx::query("SELECT last_sync_date, checkpoint, epoch FROM sync_state WHERE connection = $1 AND sync = $2")
                .bind(connection)
                .bind(sync)
                .fetch_optional(&mut *tx)
                .await?;
        let last_status: Option<String> =
            sqlx::query_scalar("SELECT status FROM runs WHERE connection = $1 AND sync = $2 ORDER BY id DESC LIMIT 1")
                .bind(connection)
                .bind(sync)
                .fetch_optional(&mut *tx)
                .await?;
        let run: i64 = sqlx::query_scalar(
            "INSERT INTO runs (connection, sync, started_at, status) VALUES ($1, $2, $3, 'RUNNING') RETURNING id",
        )
        .bind(connection)
        .bind(sync)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let (last_sync_date, checkpoint, old_epoch) = match &state {
            Some(row) => (
                row.try_get::<Option<i64>, _>("last_sync_date")?.map(from_micros),
                row.try_get::<Option<String>, _>("checkpoint")?.and_then(|c| serde_json::from_str::<Value>(&c).ok()),
                row.try_get::<Option<i64>, _>("epoch")?,
            ),
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
        .bind(connection)
        .bind(sync)
        .bind(epoch)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RunStart {
            ids: RunIds { connection, run, epoch, track_seen: track_deletes },
            started_at,
            last_sync_date,
            checkpoint,
        })
    }

    async fn finish_run(&self, run: &RunStart, sync: &str, end: &RunEnd) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE runs SET status = $1, ended_at = $2, counts = $3, error = $4 WHERE id = $5")
            .bind(end.status.as_str())
            .bind(to_micros(Utc::now()))
            .bind(serde_json::to_string(&end.counts).unwrap_or_else(|_| "{}".into()))
            .bind(&end.error)
            .bind(run.ids.run)
            .execute(&mut *tx)
            .await?;
        if end.advance_last_sync_date {
            sqlx::query("UPDATE sync_state SET last_sync_date = $1 WHERE connection = $2 AND sync = $3")
                .bind(to_micros(run.started_at))
                .bind(run.ids.connection)
                .bind(sync)
                .execute(&mut *tx)
                .await?;
        }
        if end.clear_checkpoint {
            sqlx::query("UPDATE sync_state SET checkpoint = NULL WHERE connection = $1 AND sync = $2")
                .bind(run.ids.connection)
                .bind(sync)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn runs(&self, connection: Option<i64>, sync: Option<&str>, limit: u32) -> StoreResult<Vec<RunRecord>> {
        let rows = sqlx::query(
            "SELECT r.*, c.provider_config_key, c.connection_id FROM runs r JOIN connections c ON c.pk = r.connection \
             WHERE ($1 IS NULL OR r.connection = $1) AND ($2 IS NULL OR r.sync = $2) ORDER BY r.id DESC LIMIT $3",
        )
        .bind(connection)
        .bind(sync)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn apply(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> StoreResult<ChangeCounts> {
        let mut counts = ChangeCounts::default();
        if records.is_empty() {
            return Ok(counts);
        }
        // Last occurrence wins within the batch (and across batches of the run, below).
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            last.insert(r.id.as_str(), i);
        }
        let mut order: Vec<usize> = last.values().copied().collect();
        order.sort_unstable();
        let ids: Vec<&str> = order.iter().map(|&i| records[i].id.as_str()).collect();

        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let found = Self::find(&mut tx, run.connection, model, &ids, change == RecordChange::Update).await?;
        let now = to_micros(Utc::now());
        let seq = next_seq(&mut tx).await?;
        let mut rows: Vec<Row_> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        let mut deleted: Vec<&str> = Vec::new();
        for &i in &order {
            let record = &records[i];
            let existing = found.get(&record.id);
            match change {
                RecordChange::Save => match existing {
                    None => {
                        counts.added += 1;
                        rows.push(Row_ {
                            id: record.id.clone(),
                            json: record.json.to_string(),
                            hash: record.hash,
                            last_action: "ADDED",
                        });
                    }
                    Some(e) if e.deleted => {
                        counts.added += 1;
                        rows.push(Row_ {
                            id: record.id.clone(),
                            json: record.json.to_string(),
                            hash: record.hash,
                            last_action: "ADDED",
                        });
                    }
                    Some(e) if e.hash != record.hash => {
                        let again = e.seen_run == run.run;
                        if !again {
                            counts.updated += 1;
                        }
                        let last_action = if again && e.last_action == "ADDED" { "ADDED" } else { "UPDATED" };
                        rows.push(Row_ {
                            id: record.id.clone(),
                            json: record.json.to_string(),
                            hash: record.hash,
                            last_action,
                        });
                    }
                    Some(e) => {
                        if run.track_seen && e.seen_run != run.run {
                            seen.push(&record.id);
                        }
                    }
                },
                RecordChange::Update => match existing {
                    Some(e) if !e.deleted => {
                        let mut merged: Value =
                            serde_json::from_str(e.json.as_deref().unwrap_or("{}")).map_err(|err| {
                                StoreError::Invalid(format!("stored record {} is unreadable: {err}", record.id))
                            })?;
                        deep_merge(&mut merged, record.json.clone());
                        let hash = canonical_hash(&merged);
                        if hash != e.hash {
                            let again = e.seen_run == run.run;
                            if !again {
                                counts.updated += 1;
                            }
                            let last_action = if again && e.last_action == "ADDED" { "ADDED" } else { "UPDATED" };
                            rows.push(Row_ { id: record.id.clone(), json: merged.to_string(), hash, last_action });
                        } else if run.track_seen && e.seen_run != run.run {
                            seen.push(&record.id);
                        }
                    }
                    _ => tracing::warn!(model, id = %record.id, "batch_update of a record that is not stored: ignored"),
                },
                RecordChange::Delete => {
                    if let Some(e) = existing
                        && !e.deleted
                    {
                        counts.deleted += 1;
                        deleted.push(&record.id);
                    }
                }
            }
        }
        Self::upsert_rows(&mut tx, run, model, &rows, now, seq).await?;
        if !seen.is_empty() {
            Self::update_ids(
                &mut tx,
                "seen_run = $1, seen_epoch = $2",
                &[run.run, run.epoch],
                run.connection,
                model,
                &seen,
            )
            .await?;
        }
        if !deleted.is_empty() {
            Self::update_ids(
                &mut tx,
                "deleted_at = $1, last_modified_at = $1, last_action = 'DELETED', seq = $2, seen_run = $3",
                &[now, seq, run.run],
                run.connection,
                model,
                &deleted,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn sweep_unseen(&self, run: RunIds, model: &str) -> StoreResult<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = to_micros(Utc::now());
        let seq = next_seq(&mut tx).await?;
        let done = sqlx::query(
            "UPDATE records SET deleted_at = $1, last_modified_at = $1, last_action = 'DELETED', seq = $2 \
             WHERE connection = $3 AND model = $4 AND deleted_at IS NULL AND seen_epoch < $5",
        )
        .bind(now)
        .bind(seq)
        .bind(run.connection)
        .bind(model)
        .bind(run.epoch)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn existing(
        &self,
        connection: i64,
        model: &str,
        ids: &[String],
    ) -> StoreResult<BTreeMap<String, ExistingRecord>> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let found = Self::find(&mut conn, connection, model, &ids, false).await?;
        Ok(found.into_iter().map(|(id, f)| (id, ExistingRecord { hash: f.hash, deleted: f.deleted })).collect())
    }

    async fn live_ids(&self, connection: i64, model: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM records WHERE connection = $1 AND model = $2 AND deleted_at IS NULL")
            .bind(connection)
            .bind(model)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn records(&self, connection: i64, query: &RecordQuery) -> StoreResult<RecordPage> {
        let mut sql = String::from(
            "SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, seq FROM records \
             WHERE connection = $1 AND model = $2",
        );
        let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
        let mut n = 2;
        if after.is_some() {
            sql.push_str(&format!(" AND (seq, pk) > (${}, ${})", n + 1, n + 2));
            n += 2;
        }
        if query.modified_after.is_some() {
            n += 1;
            sql.push_str(&format!(" AND last_modified_at >= ${n}"));
        }
        if let Some(f) = query.filter {
            let mut parts = Vec::new();
            if f.added {
                parts.push("(deleted_at IS NULL AND last_action = 'ADDED')");
            }
            if f.updated {
                parts.push("(deleted_at IS NULL AND last_action = 'UPDATED')");
            }
            if f.deleted {
                parts.push("deleted_at IS NOT NULL");
            }
            if !parts.is_empty() {
                sql.push_str(&format!(" AND ({})", parts.join(" OR ")));
            }
        }
        if !query.ids.is_empty() {
            sql.push_str(&format!(" AND id IN ({})", placeholders(n + 1, query.ids.len())));
            n += query.ids.len();
        }
        sql.push_str(&format!(" ORDER BY seq, pk LIMIT ${}", n + 1));
        let limit = query.limit.max(1);
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(connection).bind(&query.model);
        if let Some((seq, pk)) = after {
            q = q.bind(seq).bind(pk);
        }
        if let Some(t) = query.modified_after {
            q = q.bind(to_micros(t));
        }
        for id in &query.ids {
            q = q.bind(id.as_str());
        }
        q = q.bind(i64::from(limit) + 1);
        let rows = q.fetch_all(&self.pool).await?;
        let more = rows.len() > limit as usize;
        let mut records = Vec::with_capacity(rows.len().min(limit as usize));
        for row in rows.iter().take(limit as usize) {
            let json: String = row.try_get("json")?;
            let last_modified: i64 = row.try_get("last_modified_at")?;
            records.push(StoredRecord {
                id: row.try_get("id")?,
                json,
                metadata: RecordMetadata {
                    first_seen_at: from_micros(row.try_get("first_seen_at")?),
                    last_modified_at: from_micros(last_modified),
                    last_action: row.try_get("last_action")?,
                    deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(from_micros),
                    pruned_at: None,
                    cursor: encode_cursor(last_modified, row.try_get("seq")?, row.try_get("pk")?),
                },
            });
        }
        let next_cursor = if more { records.last().map(|r| r.metadata.cursor.clone()) } else { None };
        Ok(RecordPage { records, next_cursor })
    }

    async fn set_paused(&self, connection: i64, sync: &str, paused: Option<bool>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, paused) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET paused = excluded.paused",
        )
        .bind(connection)
        .bind(sync)
        .bind(paused)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_frequency(&self, connection: i64, sync: &str, frequency_secs: Option<u64>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, frequency_secs) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET frequency_secs = excluded.frequency_secs",
        )
        .bind(connection)
        .bind(sync)
        .bind(frequency_secs.map(|f| f.min(i64::MAX as u64) as i64))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_next_run(&self, connection: i64, sync: &str, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sync_state (connection, sync, next_run_at) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, sync) DO UPDATE SET next_run_at = excluded.next_run_at",
        )
        .bind(connection)
        .bind(sync)
        .bind(at.map(to_micros))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn run(&self, id: i64) -> StoreResult<Option<RunRecord>> {
        let row = sqlx::query(
            "SELECT r.*, c.provider_config_key, c.connection_id FROM runs r JOIN connections c ON c.pk = r.connection \
             WHERE r.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn record_deliveries(&self, attempts: &[DeliveryRecord]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
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
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(&self, run: Option<i64>, limit: u32) -> StoreResult<Vec<DeliveryRecord>> {
        let rows =
            sqlx::query("SELECT * FROM webhook_deliveries WHERE ($1 IS NULL OR run = $1) ORDER BY id DESC LIMIT $2")
                .bind(run)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
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
            })
            .collect()
    }

    async fn append_logs(&self, run: i64, lines: &[LogLine]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for line in lines {
            sqlx::query("INSERT INTO run_logs (run, at, level, message) VALUES ($1, $2, $3, $4)")
                .bind(run)
                .bind(to_micros(line.at))
                .bind(&line.level)
                .bind(&line.message)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn run_logs(&self, run: i64) -> StoreResult<Vec<LogLine>> {
        let rows = sqlx::query("SELECT at, level, message FROM run_logs WHERE run = $1 ORDER BY id")
            .bind(run)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LogLine {
                    at: from_micros(r.try_get("at")?),
                    level: r.try_get("level")?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    async fn record_counts(&self, connection: i64) -> StoreResult<BTreeMap<String, u64>> {
        let rows = sqlx::query(
            "SELECT model, COUNT(*) AS n FROM records WHERE connection = $1 AND deleted_at IS NULL GROUP BY model",
        )
        .bind(connection)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("model")?, r.try_get::<i64, _>("n")? as u64))).collect()
    }
}
