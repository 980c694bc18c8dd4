//! Sync webhooks in PostgreSQL: what was announced, the queue, the delivery attempts.

use super::super::DeliveryRecord;
use super::super::backend::{ComposeWebhooks, DeliveryBackend};
use super::super::error::During;
use super::super::*;
use super::{PostgresBackend, lock};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

pub(super) fn queued_from_row(row: &PgRow) -> StoreResult<QueuedWebhook> {
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
async fn queue_in(tx: &mut PgConnection, run: i64, webhooks: &[OutgoingWebhook]) -> StoreResult<Vec<QueuedWebhook>> {
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
impl DeliveryBackend for PostgresBackend {
    async fn announce(
        &self,
        connection: ConnectionKey,
        sync: &str,
        run: i64,
        models: &[&str],
        compose: ComposeWebhooks<'_>,
    ) -> StoreResult<Vec<QueuedWebhook>> {
        const OP: &str = "announcing a run's changes";
        let mut tx = self.pool.begin().await.during(OP)?;
        // Two announcements of one sync at once would both sum the same runs.
        lock(&mut tx, connection, "announce", sync).await?;
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
                "SELECT COALESCE(SUM(c.added), 0)::BIGINT AS added, COALESCE(SUM(c.updated), 0)::BIGINT AS updated, \
                 COALESCE(SUM(c.deleted), 0)::BIGINT AS deleted, \
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
                 ON CONFLICT (connection, sync, model) DO UPDATE SET last_run = GREATEST(webhook_announcements.last_run, excluded.last_run)",
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
        let mut tx = self.pool.begin().await.during("queueing webhooks")?;
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
