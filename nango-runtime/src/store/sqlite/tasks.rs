//! The task queue, the cluster's processes, the webhook outbox claims and fenced checkpoints,
//! in SQLite. Every claim runs in a `BEGIN IMMEDIATE` transaction: SQLite has one writer at a
//! time, so a claim's read and its update are never split by another process's.

use super::super::backend::TaskBackend;
use super::super::error::During;
use super::super::{
    ClaimedTask, ConnectionKey, NewTask, NodeBeat, QueueStats, QueuedWebhook, RunCheckpoint, RunIds, StoreError,
    StoreResult, TaskClaim, TaskReason, from_micros, to_micros,
};
use super::{SqliteBackend, queued_from_row};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;

/// Refuses the write of a run that is no longer `RUNNING` (another process closed it after it
/// lost its lease), inside the write's transaction, and records the run as alive now: its
/// progress commits with the write. The time only moves forward (a lease renewal may have
/// recorded a later one).
pub(super) async fn check_fence(tx: &mut sqlx::SqliteConnection, run: i64) -> StoreResult<()> {
    let held = sqlx::query(
        "UPDATE runs SET heartbeat_at = MAX(COALESCE(heartbeat_at, 0), $2) WHERE id = $1 AND status = 'RUNNING'",
    )
    .bind(run)
    .bind(to_micros(Utc::now()))
    .execute(&mut *tx)
    .await
    .during("checking that the run still holds its sync")?;
    if held.rows_affected() == 1 { Ok(()) } else { Err(StoreError::RunFenced { run }) }
}

/// Saves (`Some`) or clears (`None`) a run's checkpoint inside the caller's transaction (after
/// [`check_fence`]).
pub(super) async fn save_checkpoint_in(
    tx: &mut sqlx::SqliteConnection,
    connection: ConnectionKey,
    checkpoint: RunCheckpoint<'_>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sync_state (connection, sync, checkpoint) VALUES ($1, $2, $3) \
         ON CONFLICT (connection, sync) DO UPDATE SET checkpoint = excluded.checkpoint",
    )
    .bind(connection.get())
    .bind(checkpoint.sync)
    .bind(checkpoint.checkpoint.map(Value::to_string))
    .execute(&mut *tx)
    .await
    .during("saving the checkpoint")?;
    Ok(())
}

/// No deployment recorded the versions it deploys (a store deployed only before rolling deploys,
/// or never): every sync a binary has may run.
const VERSIONS_UNRECORDED: &str = "NOT EXISTS (SELECT 1 FROM deployments WHERE sync_versions_recorded)";

/// A `running` task counts as live (for limits and stats) while its lease lives (`$1`: now).
const LIVE_RUNNING: &str = "EXISTS (SELECT 1 FROM sync_leases l \
     WHERE l.connection = r.connection AND l.sync = r.sync AND l.expires_at > $1)";

#[async_trait]
impl TaskBackend for SqliteBackend {
    async fn enqueue_task(&self, task: &NewTask, now: DateTime<Utc>) -> StoreResult<bool> {
        let now = to_micros(now);
        // Nothing when a live task exists (the unique index), and for a scheduled task nothing
        // when a run ended since the scheduler looked (the next run time moved) and no trigger
        // waits.
        // A sync the deployment does not have (an older scheduler's, in a rolling deploy) gets
        // none either.
        let unrecorded = VERSIONS_UNRECORDED;
        let sql = format!(
            "INSERT INTO sync_tasks (connection, sync, provider, reason, state, queued_at, available_at) \
             SELECT $1, $2, $3, $4, 'queued', $5, $5 \
             WHERE ($4 = 'trigger' OR NOT EXISTS (SELECT 1 FROM sync_state s WHERE s.connection = $1 AND s.sync = $2 \
               AND s.triggered_at IS NULL AND s.next_run_at IS NOT $6)) \
             AND ({unrecorded} OR EXISTS (SELECT 1 FROM deployed_syncs d JOIN connections c \
               ON c.provider_config_key = d.integration WHERE c.pk = $1 AND d.sync = $2)) \
             ON CONFLICT (connection, sync) WHERE state IN ('queued', 'running') DO NOTHING"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(task.connection.get())
            .bind(&task.sync)
            .bind(&task.provider)
            .bind(task.reason.as_str())
            .bind(now)
            .bind(task.seen_next_run.map(to_micros))
            .execute(&self.pool)
            .await
            .during("enqueuing a task")?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_task(&self, claim: &TaskClaim, now: DateTime<Utc>) -> StoreResult<Option<ClaimedTask>> {
        const OP: &str = "claiming a task";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        let live = LIVE_RUNNING;
        let unrecorded = VERSIONS_UNRECORDED;
        // Claimable: its sync has no live lease (a queued task whose sync runs outside the queue
        // waits; a running task whose runner's lease lapsed comes back), within the limits, and
        // this runner's binary has its sync (`$4`: `[[integration, sync, version], ..]`), at the
        // deployed version once one is recorded.
        let sql = format!(
            "SELECT t.id, t.connection, t.sync, t.reason, t.state, t.attempts FROM sync_tasks t \
             WHERE t.available_at <= $1 \
             AND EXISTS (SELECT 1 FROM connections c, json_each($4) h \
               WHERE c.pk = t.connection AND h.value ->> 0 = c.provider_config_key AND h.value ->> 1 = t.sync \
               AND ({unrecorded} OR EXISTS (SELECT 1 FROM deployed_syncs d \
                 WHERE d.integration = h.value ->> 0 AND d.sync = h.value ->> 1 AND d.version = h.value ->> 2))) \
             AND NOT EXISTS (SELECT 1 FROM sync_leases l WHERE l.connection = t.connection AND l.sync = t.sync \
               AND l.expires_at > $1) \
             AND ($2 IS NULL OR (SELECT count(*) FROM sync_tasks r WHERE r.state = 'running' AND r.id <> t.id \
               AND r.provider = t.provider AND {live}) < $2) \
             AND ($3 IS NULL OR (SELECT count(*) FROM sync_tasks r WHERE r.state = 'running' AND r.id <> t.id \
               AND r.connection = t.connection AND {live}) < $3) \
             ORDER BY t.available_at, t.id LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_micros(now))
            .bind(claim.max_per_provider.map(i64::from))
            .bind(claim.max_per_connection.map(i64::from))
            .bind(
                serde_json::Value::from(
                    claim
                        .syncs
                        .iter()
                        .map(|v| serde_json::json!([v.integration, v.sync, v.version]))
                        .collect::<Vec<_>>(),
                )
                .to_string(),
            )
            .fetch_optional(&mut *tx)
            .await
            .during(OP)?;
        let Some(row) = row else {
            tx.rollback().await.during(OP)?;
            return Ok(None);
        };
        let read = || -> sqlx::Result<(i64, i64, String, String, String, i64)> {
            Ok((
                row.try_get("id")?,
                row.try_get("connection")?,
                row.try_get("sync")?,
                row.try_get("reason")?,
                row.try_get("state")?,
                row.try_get("attempts")?,
            ))
        };
        let (id, connection, sync, reason, state, attempts) = read().during(OP)?;
        sqlx::query(
            "UPDATE sync_tasks SET state = 'running', owner = $1, label = $2, claimed_at = $3, \
             attempts = attempts + 1, cancel_requested_at = NULL WHERE id = $4",
        )
        .bind(&claim.owner)
        .bind(&claim.label)
        .bind(to_micros(now))
        .bind(id)
        .execute(&mut *tx)
        .await
        .during(OP)?;
        // The lease is free or lapsed (checked above, in this transaction).
        sqlx::query(
            "INSERT INTO sync_leases (connection, sync, owner, label, acquired_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (connection, sync) DO UPDATE SET owner = excluded.owner, label = excluded.label, \
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
        )
        .bind(connection)
        .bind(&sync)
        .bind(&claim.owner)
        .bind(&claim.label)
        .bind(to_micros(now))
        .bind(to_micros(claim.lease_until))
        .execute(&mut *tx)
        .await
        .during("taking the lease of a claimed task")?;
        let next_run_at: Option<i64> =
            sqlx::query_scalar("SELECT next_run_at FROM sync_state WHERE connection = $1 AND sync = $2")
                .bind(connection)
                .bind(&sync)
                .fetch_optional(&mut *tx)
                .await
                .during(OP)?
                .flatten();
        tx.commit().await.during(OP)?;
        Ok(Some(ClaimedTask {
            id,
            connection: ConnectionKey::new(connection),
            sync,
            reason: TaskReason::from_stored(&reason),
            attempts: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
            reclaimed: state == "running",
            next_run_at: next_run_at.map(from_micros),
        }))
    }

    async fn finish_task(
        &self,
        id: i64,
        owner: &str,
        next_run: Option<(Option<DateTime<Utc>>, DateTime<Utc>)>,
    ) -> StoreResult<bool> {
        const OP: &str = "finishing a task";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        let row: Option<(i64, String)> =
            sqlx::query_as("DELETE FROM sync_tasks WHERE id = $1 AND owner = $2 RETURNING connection, sync")
                .bind(id)
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await
                .during(OP)?;
        let Some((connection, sync)) = row else {
            tx.rollback().await.during(OP)?;
            return Ok(false);
        };
        release_lease_in(&mut tx, connection, &sync, owner).await?;
        if let Some((seen, at)) = next_run {
            // As `set_next_run_if`: kept when it changed during the run.
            sqlx::query(
                "INSERT INTO sync_state (connection, sync, next_run_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (connection, sync) DO UPDATE SET next_run_at = excluded.next_run_at \
                 WHERE sync_state.next_run_at IS $4",
            )
            .bind(connection)
            .bind(&sync)
            .bind(to_micros(at))
            .bind(seen.map(to_micros))
            .execute(&mut *tx)
            .await
            .during("saving the next run time")?;
        }
        tx.commit().await.during(OP)?;
        Ok(true)
    }

    async fn release_task(&self, id: i64, owner: &str, available_at: DateTime<Utc>) -> StoreResult<bool> {
        const OP: &str = "handing a task back";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        let row: Option<(i64, String)> = sqlx::query_as(
            "UPDATE sync_tasks SET state = 'queued', owner = NULL, label = NULL, claimed_at = NULL, \
             available_at = $3 WHERE id = $1 AND owner = $2 RETURNING connection, sync",
        )
        .bind(id)
        .bind(owner)
        .bind(to_micros(available_at))
        .fetch_optional(&mut *tx)
        .await
        .during(OP)?;
        let Some((connection, sync)) = row else {
            tx.rollback().await.during(OP)?;
            return Ok(false);
        };
        release_lease_in(&mut tx, connection, &sync, owner).await?;
        tx.commit().await.during(OP)?;
        Ok(true)
    }

    async fn request_task_cancel(
        &self,
        connection: ConnectionKey,
        sync: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sync_tasks SET cancel_requested_at = $3 WHERE connection = $1 AND sync = $2 AND state = 'running'",
        )
        .bind(connection.get())
        .bind(sync)
        .bind(to_micros(now))
        .execute(&self.pool)
        .await
        .during("asking a runner to stop a task")?;
        Ok(done.rows_affected() > 0)
    }

    async fn task_cancel_requested(&self, id: i64) -> StoreResult<bool> {
        let at: Option<Option<i64>> = sqlx::query_scalar("SELECT cancel_requested_at FROM sync_tasks WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .during("reading whether a task must stop")?;
        Ok(matches!(at, Some(Some(_))))
    }

    async fn task_running(&self, connection: ConnectionKey, sync: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sync_tasks WHERE connection = $1 AND sync = $2 AND state = 'running'",
        )
        .bind(connection.get())
        .bind(sync)
        .fetch_one(&self.pool)
        .await
        .during("reading whether a task runs")?;
        Ok(n > 0)
    }

    async fn queue_stats(&self, now: DateTime<Utc>, alive_since: DateTime<Utc>) -> StoreResult<QueueStats> {
        const OP: &str = "counting the task queue";
        let live = LIVE_RUNNING;
        let sql = format!(
            "SELECT \
               (SELECT count(*) FROM sync_tasks WHERE state = 'queued') AS queued, \
               (SELECT count(*) FROM sync_tasks r WHERE r.state = 'running' AND {live}) AS running, \
               (SELECT count(*) FROM sync_tasks r WHERE r.state = 'running' AND NOT {live}) AS lapsed, \
               (SELECT count(*) FROM cluster_nodes WHERE seen_at > $2 AND ',' || roles || ',' LIKE '%,runner,%') \
                 AS runners, \
               (SELECT count(*) FROM cluster_nodes WHERE seen_at > $2) AS nodes"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to_micros(now))
            .bind(to_micros(alive_since))
            .fetch_one(&self.pool)
            .await
            .during(OP)?;
        let count = |name: &str| -> StoreResult<u64> { Ok(row.try_get::<i64, _>(name).during(OP)?.max(0) as u64) };
        Ok(QueueStats {
            queued: count("queued")?,
            running: count("running")?,
            lapsed: count("lapsed")?,
            runners: count("runners")?,
            nodes: count("nodes")?,
        })
    }

    async fn save_run_checkpoint(&self, run: RunIds, sync: &str, checkpoint: Option<&Value>) -> StoreResult<()> {
        const OP: &str = "saving the checkpoint";
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
        check_fence(&mut tx, run.run).await?;
        save_checkpoint_in(&mut tx, run.connection, RunCheckpoint { sync, checkpoint }).await?;
        tx.commit().await.during(OP)?;
        Ok(())
    }

    async fn node_beat(&self, beat: &NodeBeat, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO cluster_nodes (owner, label, roles, started_at, seen_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at, roles = excluded.roles",
        )
        .bind(&beat.owner)
        .bind(&beat.label)
        .bind(&beat.roles)
        .bind(to_micros(beat.started_at))
        .bind(to_micros(now))
        .execute(&self.pool)
        .await
        .during("recording that this process is alive")?;
        Ok(())
    }

    async fn node_gone(&self, owner: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM cluster_nodes WHERE owner = $1")
            .bind(owner)
            .execute(&self.pool)
            .await
            .during("removing this process from the cluster")?;
        Ok(())
    }

    async fn claim_webhooks(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        alive_since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<QueuedWebhook>> {
        let rows = sqlx::query(
            "UPDATE webhook_queue SET claimed_by = $1, claimed_until = $3 WHERE id IN (SELECT w.id FROM webhook_queue w \
             WHERE w.done_at IS NULL AND (w.claimed_until IS NULL OR w.claimed_until <= $2 OR NOT EXISTS \
               (SELECT 1 FROM cluster_nodes n WHERE n.owner = w.claimed_by AND n.seen_at > $5)) \
             ORDER BY w.id LIMIT $4) \
             RETURNING id, run, model, body, queued_at",
        )
        .bind(owner)
        .bind(to_micros(now))
        .bind(to_micros(until))
        .bind(i64::from(limit))
        .bind(to_micros(alive_since))
        .fetch_all(&self.pool)
        .await
        .during("claiming queued webhooks")?;
        let mut claimed = rows.iter().map(queued_from_row).collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|w| w.id);
        Ok(claimed)
    }
}

/// Gives `owner`'s lease of a (connection, sync) up, in the task's transaction.
async fn release_lease_in(
    tx: &mut sqlx::SqliteConnection,
    connection: i64,
    sync: &str,
    owner: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM sync_leases WHERE connection = $1 AND sync = $2 AND owner = $3")
        .bind(connection)
        .bind(sync)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .during("giving the lease of a task up")?;
    Ok(())
}
