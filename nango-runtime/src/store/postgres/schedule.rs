//! Per-sync state, runs and their logs, and the leases that give a (connection, sync) to one
//! process at a time, in PostgreSQL.

use super::super::backend::{LeaseBackend, ScheduleBackend};
use super::super::error::During;
use super::super::*;
use super::{PostgresBackend, lock};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};

fn run_from_row(row: &PgRow) -> StoreResult<RunRecord> {
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

/// The counts of the run of the `runs` row being updated, as `runs.counts` keeps them (a JSON
/// object of model to counts), summed from `run_changes`: what its writes counted, each in its
/// own transaction. A macro so that it can be `concat!`ed into statements.
macro_rules! run_changes_of_runs_row {
    () => {
        "(SELECT COALESCE(json_object_agg(c.model, json_build_object('added', c.added, 'updated', c.updated, \
         'deleted', c.deleted))::text, '{}') FROM run_changes c WHERE c.run = runs.id)"
    };
}

#[async_trait]
impl ScheduleBackend for PostgresBackend {
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
        let mut tx = self.pool.begin().await.during(OP)?;
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
                lock(&mut tx, connection, "records", model).await?;
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
        let mut tx = self.pool.begin().await.during(OP)?;
        // The lease holder alone starts runs; the lock keeps even two of its own calls apart.
        lock(&mut tx, connection, "runs", sync).await?;
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
        let mut tx = self.pool.begin().await.during(OP)?;
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
impl LeaseBackend for PostgresBackend {
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
        let mut tx = self.pool.begin().await.during(OP)?;
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
