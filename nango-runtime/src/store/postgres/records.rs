//! The record cache in PostgreSQL.

use super::super::backend::{ConnectionBackend, RecordBackend};
use super::super::error::During;
use super::super::page::{PageOf, PageSink, Records, gather_sqlx_rows};
use super::super::policy::{self, Batch, ExistingRecord, LastAction};
use super::super::*;
use super::{PostgresBackend, lock};
use async_trait::async_trait;
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;

/// A page of records (see [`RecordBackend::records`]) of a connection named by its key or by its
/// name (looked up in the page's own statement: one statement per page), gathered into `sink`;
/// `None` when the named connection does not exist. Columns read by position.
pub(super) async fn page<S: PageSink>(
    backend: &PostgresBackend,
    of: &PageOf,
    query: &RecordQuery,
    sink: S,
) -> StoreResult<Option<S::Page>> {
    const OP: &str = "reading a page of records";
    let mut sql = String::from(
        "SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records \
         WHERE ",
    );
    let mut n = match of {
        PageOf::Key(_) => {
            sql.push_str("connection = $1");
            1
        }
        PageOf::Name(..) => {
            sql.push_str(
                "connection = (SELECT pk FROM connections WHERE provider_config_key = $1 AND connection_id = $2)",
            );
            2
        }
    };
    n += 1;
    sql.push_str(&format!(" AND model = ${n}"));
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    if after.is_some() {
        sql.push_str(&format!(" AND (seq, pk) > (${}, ${})", n + 1, n + 2));
        n += 2;
    }
    if query.modified_after.is_some() {
        n += 1;
        sql.push_str(&format!(" AND last_modified_at >= ${n}"));
    }
    if let Some(condition) = query.filter.and_then(|f| f.sql_condition()) {
        sql.push_str(" AND ");
        sql.push_str(&condition);
    }
    if !query.ids.is_empty() {
        n += 1;
        sql.push_str(&format!(" AND id = ANY(${n})"));
    }
    sql.push_str(&format!(" ORDER BY seq, pk LIMIT ${}", n + 1));
    let limit = query.limit.max(1);
    let mut q = sqlx::query(AssertSqlSafe(sql));
    q = match of {
        PageOf::Key(key) => q.bind(key.get()),
        PageOf::Name(provider_config_key, connection_id) => q.bind(provider_config_key).bind(connection_id),
    };
    q = q.bind(&query.model);
    if let Some((seq, pk)) = after {
        q = q.bind(seq).bind(pk);
    }
    if let Some(t) = query.modified_after {
        q = q.bind(to_micros(t));
    }
    if !query.ids.is_empty() {
        q = q.bind(query.ids.as_slice());
    }
    q = q.bind(i64::from(limit) + 1);
    let rows = q.fetch_all(&backend.pool).await.during(OP)?;
    // An empty page: no such connection, or none of its records match.
    if let (true, PageOf::Name(provider_config_key, connection_id)) = (rows.is_empty(), of)
        && backend.connection_key(provider_config_key, connection_id).await?.is_none()
    {
        return Ok(None);
    }
    gather_sqlx_rows(&rows, limit as usize, sink, OP).map(Some)
}

fn hash_of(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    if bytes.len() == 16 {
        out.copy_from_slice(bytes);
    }
    out
}

/// Looks up the stored state of `ids`: `seen_in_run` against `run` (no run: never), the JSON
/// when `with_json`.
///
/// Not a prepared statement (`persistent(false)`): PostgreSQL plans it for the ids at hand
/// each time. Prepared, it switched to a generic plan after five runs, and on a table filling
/// fast (no statistics yet) that plan scanned every record of the (connection, model) and
/// filtered by id, so storing into a connection got slower with each record it held: 100,000
/// records took 107 s. Planned with the ids it is a probe of the unique
/// `(connection, model, id)` index per id.
async fn find(
    conn: &mut PgConnection,
    connection: ConnectionKey,
    model: &str,
    ids: &[&str],
    run: Option<i64>,
    with_json: bool,
) -> StoreResult<HashMap<String, ExistingRecord>> {
    const OP: &str = "reading the stored state of records";
    let sql = format!(
        "SELECT id, hash, deleted_at IS NOT NULL AS deleted, seen_run, last_action{} FROM records \
         WHERE connection = $1 AND model = $2 AND id = ANY($3)",
        if with_json { ", json" } else { "" },
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .persistent(false)
        .bind(connection.get())
        .bind(model)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .during(OP)?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
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
    Ok(found)
}

/// Writes a plan's rows in one statement, the batch's columns as arrays.
async fn upsert_rows(
    tx: &mut PgConnection,
    run: RunIds,
    model: &str,
    rows: &[policy::Upsert<'_>],
    now: i64,
    seq: i64,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id).collect();
    let jsons: Vec<&str> = rows.iter().map(|r| r.json.as_ref()).collect();
    let hashes: Vec<Vec<u8>> = rows.iter().map(|r| r.hash.to_vec()).collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.last_action.as_str()).collect();
    sqlx::query(
        "INSERT INTO records (connection, model, id, json, hash, first_seen_at, last_modified_at, last_action, \
         deleted_at, seq, seen_run, seen_epoch) \
         SELECT $1, $2, u.id, u.json, u.hash, $3, $3, u.last_action, NULL, $4, $5, $6 \
         FROM UNNEST($7::text[], $8::text[], $9::bytea[], $10::text[]) AS u (id, json, hash, last_action) \
         ON CONFLICT (connection, model, id) DO UPDATE SET json = excluded.json, hash = excluded.hash, \
         last_modified_at = excluded.last_modified_at, last_action = excluded.last_action, deleted_at = NULL, \
         seq = excluded.seq, seen_run = excluded.seen_run, seen_epoch = excluded.seen_epoch, pruned_at = NULL",
    )
    .bind(run.connection.get())
    .bind(model)
    .bind(now)
    .bind(seq)
    .bind(run.run)
    .bind(run.epoch)
    .bind(ids)
    .bind(jsons)
    .bind(hashes)
    .bind(actions)
    .execute(&mut *tx)
    .await
    .during("writing records")?;
    Ok(())
}

/// `UPDATE records SET <set>` for some ids of a model; `set` uses `$1`.. for `binds`.
async fn update_ids(
    tx: &mut PgConnection,
    set: &'static str,
    binds: &[i64],
    connection: ConnectionKey,
    model: &str,
    ids: &[&str],
    operation: &'static str,
) -> StoreResult<()> {
    let n = binds.len();
    let sql = format!(
        "UPDATE records SET {set} WHERE connection = ${} AND model = ${} AND id = ANY(${})",
        n + 1,
        n + 2,
        n + 3
    );
    // Planned for the ids at hand, as `find` is (see there).
    let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for b in binds {
        query = query.bind(*b);
    }
    query.bind(connection.get()).bind(model).bind(ids).execute(&mut *tx).await.during(operation)?;
    Ok(())
}

/// Starts a write of the records of one (connection, model): takes their lock, then a
/// sequence number. The lock is held until the transaction ends, so of two writes of the same
/// records the later one takes a larger number only once the earlier one committed: within a
/// (connection, model), `seq` grows in commit order, and a reader paging by `(seq, pk)` never
/// passes a number a write still in progress could commit under.
async fn begin_write(tx: &mut PgConnection, connection: ConnectionKey, model: &str) -> StoreResult<i64> {
    lock(tx, connection, "records", model).await?;
    sqlx::query_scalar::<_, i64>("SELECT nextval('records_seq')")
        .fetch_one(&mut *tx)
        .await
        .during("numbering the write")
}

/// Adds a write's counts to its run's, in the write's transaction.
async fn add_run_changes(tx: &mut PgConnection, run: i64, model: &str, counts: ChangeCounts) -> StoreResult<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let count = |n: u64| n.min(i64::MAX as u64) as i64;
    sqlx::query(
        "INSERT INTO run_changes (run, model, added, updated, deleted) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (run, model) DO UPDATE SET added = run_changes.added + excluded.added, \
         updated = run_changes.updated + excluded.updated, deleted = run_changes.deleted + excluded.deleted",
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

/// Writes a batch inside the caller's transaction (after the fence): reads the stored state of
/// its ids, plans, writes the plan and adds its counts to the run's.
async fn write_batch<'b>(
    tx: &mut PgConnection,
    run: RunIds,
    model: &str,
    batch: &'b Batch<'_>,
) -> StoreResult<policy::Plan<'b>> {
    let ids: Vec<&str> = batch.ids().collect();
    // Locked before the read: the plan is made from what no other write changes meanwhile.
    let seq = begin_write(tx, run.connection, model).await?;
    let found = find(tx, run.connection, model, &ids, Some(run.run), batch.needs_stored_json()).await?;
    let plan = batch.plan(&found, run.track_seen)?;
    let now = to_micros(Utc::now());
    upsert_rows(tx, run, model, &plan.upserts, now, seq).await?;
    if !plan.seen.is_empty() {
        update_ids(
            tx,
            // Only the generation: `seen_run` names the run that last wrote or deleted the record, which
            // is what the policy counts by (a record marked here and changed later in the run is this
            // run's update).
            "seen_epoch = $1",
            &[run.epoch],
            run.connection,
            model,
            &plan.seen,
            "marking records seen",
        )
        .await?;
    }
    if !plan.deleted.is_empty() {
        update_ids(
            tx,
            "deleted_at = $1, last_modified_at = $1, last_action = 'DELETED', seq = $2, seen_run = $3",
            &[now, seq, run.run],
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

#[async_trait]
impl RecordBackend for PostgresBackend {
    async fn apply(
        &self,
        run: RunIds,
        model: &str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<RunCheckpoint<'_>>,
    ) -> StoreResult<ChangeCounts> {
        const OP: &str = "writing records";
        let batch = Batch::new(model, change, records);
        if batch.is_empty() && checkpoint.is_none() {
            return Ok(ChangeCounts::default());
        }
        let mut tx = self.pool.begin().await.during(OP)?;
        super::tasks::check_fence(&mut tx, run.run).await?;
        let plan = if batch.is_empty() { None } else { Some(write_batch(&mut tx, run, model, &batch).await?) };
        if let Some(checkpoint) = checkpoint {
            super::tasks::save_checkpoint_in(&mut tx, run.connection, checkpoint).await?;
        }
        tx.commit().await.during(OP)?;
        let Some(plan) = plan else { return Ok(ChangeCounts::default()) };
        for id in &plan.ignored {
            tracing::warn!(model, id = %id, "batch_update of a record that is not stored: ignored");
        }
        Ok(plan.counts)
    }

    async fn sweep_unseen(&self, run: RunIds, model: &str) -> StoreResult<u64> {
        const OP: &str = "deleting records the run did not see";
        let mut tx = self.pool.begin().await.during(OP)?;
        super::tasks::check_fence(&mut tx, run.run).await?;
        let seq = begin_write(&mut tx, run.connection, model).await?;
        let now = to_micros(Utc::now());
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
        find(&mut conn, connection, model, ids, None, with_json).await
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
        Ok(page(self, &PageOf::Key(connection), query, Records::default()).await?.unwrap_or_default())
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
        let mut tx = self.pool.begin().await.during(OP)?;
        lock(&mut tx, connection, "records", model).await?;
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
            sqlx::query("UPDATE records SET json = $1, hash = '\\x'::bytea, pruned_at = $2 WHERE pk = $3")
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
