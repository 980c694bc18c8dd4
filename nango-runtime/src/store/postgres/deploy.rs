//! Deployments in PostgreSQL: the history, record scans, and applying one in one transaction.
//!
//! There is no database-wide write lock here, so the transaction takes what it needs: an
//! advisory lock that deployments share (a second one waits, then finds the deployed state
//! changed, or already the one it brings), and the records lock of each (connection, model) it
//! checks or changes, the one record writers take, so no batch lands between the check of a
//! model's records and the commit (one advisory lock per connection and model: a store with
//! thousands of connections may need a larger `max_locks_per_transaction` for a deployment that
//! changes a model). A removed field is taken out in Rust, which keeps the stored
//! JSON's key order (a `jsonb` round trip would reorder it).

use super::super::StoreError;
use super::super::backend::DeployBackend;
use super::super::deploy::{
    DeployOutcome, DeployStep, Deployment, DeploymentWrite, QueuedDeployWebhook, RecordFilter, RecordVisitor,
    ScannedRecord,
};
use super::super::error::During;
use super::super::{ConnectionKey, StoreResult, from_micros, to_micros};
use super::{PostgresBackend, lock};
use async_trait::async_trait;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeSet;

/// Rows read per page of a record scan.
const SCAN_PAGE: i64 = 1000;

/// The connections of an integration, as a subquery on `$1`.
const OF_INTEGRATION: &str = "connection IN (SELECT pk FROM connections WHERE provider_config_key = $1)";

fn deployment_of(row: &PgRow) -> sqlx::Result<Deployment> {
    let changes: String = row.try_get("changes")?;
    Ok(Deployment {
        id: row.try_get("id")?,
        deployed_at: from_micros(row.try_get("deployed_at")?),
        fingerprint: row.try_get("fingerprint")?,
        previous: row.try_get("previous")?,
        applied_by: row.try_get("applied_by")?,
        manifest: row.try_get("manifest")?,
        changes: serde_json::from_str(&changes).unwrap_or(serde_json::Value::Null),
    })
}

/// One page of live records of a model after `after` (a record's `pk`), of one integration when
/// given: `(pk, record)`.
async fn scan_page(
    conn: &mut PgConnection,
    model: &str,
    integration: Option<&str>,
    after: i64,
) -> StoreResult<Vec<(i64, ScannedRecord)>> {
    const OP: &str = "reading the stored records of a model";
    let rows = sqlx::query(
        "SELECT r.pk, r.id, r.json, c.provider_config_key, c.connection_id FROM records r \
         JOIN connections c ON c.pk = r.connection \
         WHERE r.model = $1 AND r.deleted_at IS NULL AND r.pk > $2 \
         AND ($4::text IS NULL OR c.provider_config_key = $4) ORDER BY r.pk LIMIT $3",
    )
    .bind(model)
    .bind(after)
    .bind(SCAN_PAGE)
    .bind(integration)
    .fetch_all(&mut *conn)
    .await
    .during(OP)?;
    rows.iter()
        .map(|row| {
            let json: String = row.try_get("json").during(OP)?;
            let id: String = row.try_get("id").during(OP)?;
            let json = serde_json::from_str(&json).map_err(|source| StoreError::UnreadableRecord {
                model: model.to_owned(),
                id: id.clone(),
                source,
            })?;
            Ok((
                row.try_get("pk").during(OP)?,
                ScannedRecord {
                    integration: row.try_get("provider_config_key").during(OP)?,
                    connection_id: row.try_get("connection_id").during(OP)?,
                    model: model.to_owned(),
                    id,
                    json,
                },
            ))
        })
        .collect()
}

/// The models whose records a deployment reads or changes.
fn models_touched(deployment: &DeploymentWrite) -> BTreeSet<&str> {
    let mut models: BTreeSet<&str> = deployment.checks.iter().map(|c| c.model.as_str()).collect();
    for step in &deployment.steps {
        if let DeployStep::DeleteRecords { model, .. } | DeployStep::DropField { model, .. } = step {
            models.insert(model);
        }
    }
    models
}

async fn run_step(conn: &mut PgConnection, step: &DeployStep, now: i64) -> StoreResult<()> {
    const OP: &str = "applying a deployment";
    match step {
        DeployStep::ScheduleSync { integration, sync } => {
            sqlx::query(
                "INSERT INTO sync_state (connection, sync) SELECT pk, $2::text FROM connections \
                 WHERE provider_config_key = $1 ON CONFLICT (connection, sync) DO NOTHING",
            )
            .bind(integration)
            .bind(sync)
            .execute(&mut *conn)
            .await
            .during(OP)?;
        }
        DeployStep::UnscheduleSync { integration, sync } => {
            for table in ["sync_state", "webhook_announcements", "page_validators"] {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE sync = $2 AND {OF_INTEGRATION}")))
                    .bind(integration)
                    .bind(sync)
                    .execute(&mut *conn)
                    .await
                    .during(OP)?;
            }
            // Its runs going on now end here (their runner's next write or heartbeat is
            // refused, so nothing more of a removed sync is written), and its tasks and leases
            // go: no runner starts it again, whichever binary it runs.
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE runs SET status = 'FAILED', ended_at = $3, \
                 error = 'stopped: a deployment removed this sync' \
                 WHERE status = 'RUNNING' AND sync = $2 AND {OF_INTEGRATION}"
            )))
            .bind(integration)
            .bind(sync)
            .bind(now)
            .execute(&mut *conn)
            .await
            .during(OP)?;
            for table in ["sync_tasks", "sync_leases"] {
                sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE sync = $2 AND {OF_INTEGRATION}")))
                    .bind(integration)
                    .bind(sync)
                    .execute(&mut *conn)
                    .await
                    .during(OP)?;
            }
        }
        DeployStep::DeleteRecords { integration, model } => {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM records WHERE model = $2 AND {OF_INTEGRATION}")))
                .bind(integration)
                .bind(model)
                .execute(&mut *conn)
                .await
                .during(OP)?;
            // A page answered 304 later would leave the deleted records out for good.
            sqlx::query(AssertSqlSafe(format!("DELETE FROM page_validators WHERE {OF_INTEGRATION}")))
                .bind(integration)
                .execute(&mut *conn)
                .await
                .during(OP)?;
        }
        DeployStep::Reschedule { integration, sync, interval_secs } => {
            let interval = i64::try_from(*interval_secs).unwrap_or(i64::MAX / 2_000_000).saturating_mul(1_000_000);
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE sync_state SET next_run_at = \
                 (SELECT MAX(started_at) FROM runs WHERE runs.connection = sync_state.connection AND runs.sync = sync_state.sync) + $3 \
                 WHERE sync = $2 AND frequency_secs IS NULL AND {OF_INTEGRATION}"
            )))
            .bind(integration)
            .bind(sync)
            .bind(interval)
            .execute(&mut *conn)
            .await
            .during(OP)?;
        }
        DeployStep::Resync { integration, sync } => {
            sqlx::query(
                "INSERT INTO sync_state (connection, sync) SELECT pk, $2::text FROM connections \
                 WHERE provider_config_key = $1 ON CONFLICT (connection, sync) DO NOTHING",
            )
            .bind(integration)
            .bind(sync)
            .execute(&mut *conn)
            .await
            .during(OP)?;
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE sync_state SET last_sync_date = NULL, checkpoint = NULL, epoch = NULL, triggered_at = $3 \
                 WHERE sync = $2 AND {OF_INTEGRATION}"
            )))
            .bind(integration)
            .bind(sync)
            .bind(now)
            .execute(&mut *conn)
            .await
            .during(OP)?;
            sqlx::query(AssertSqlSafe(format!("DELETE FROM page_validators WHERE sync = $2 AND {OF_INTEGRATION}")))
                .bind(integration)
                .bind(sync)
                .execute(&mut *conn)
                .await
                .during(OP)?;
        }
        DeployStep::DropField { integration, model, field } => {
            let mut after = 0;
            loop {
                let page = scan_page(conn, model, Some(integration), after).await?;
                let Some((last, _)) = page.last() else { break };
                after = *last;
                for (pk, mut record) in page {
                    let Some(object) = record.json.as_object_mut() else { continue };
                    if object.shift_remove(field.as_str()).is_none() {
                        continue;
                    }
                    sqlx::query("UPDATE records SET json = $2 WHERE pk = $1")
                        .bind(pk)
                        .bind(record.json.to_string())
                        .execute(&mut *conn)
                        .await
                        .during(OP)?;
                }
            }
        }
    }
    Ok(())
}

#[async_trait]
impl DeployBackend for PostgresBackend {
    async fn deployments(&self, limit: u32) -> StoreResult<Vec<Deployment>> {
        const OP: &str = "reading the deployment history";
        let rows = sqlx::query("SELECT * FROM deployments ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .during(OP)?;
        rows.iter().map(|row| deployment_of(row).during(OP)).collect()
    }

    async fn scan_records(&self, models: &[&str], visit: RecordVisitor<'_>) -> StoreResult<()> {
        let mut conn = self.pool().acquire().await.during("reading the stored records of a model")?;
        for model in models {
            let mut after = 0;
            loop {
                let page = scan_page(&mut conn, model, None, after).await?;
                let Some((last, _)) = page.last() else { break };
                after = *last;
                page.iter().for_each(|(_, record)| visit(record));
            }
        }
        Ok(())
    }

    async fn apply_deployment(
        &self,
        deployment: &DeploymentWrite,
        accepts: RecordFilter<'_>,
    ) -> StoreResult<DeployOutcome> {
        const OP: &str = "applying a deployment";
        let mut tx = self.pool().begin().await.during(OP)?;
        // One deployment at a time; the deployed state is read after the lock, so it is the
        // latest committed one.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('nango:deploy', 0))")
            .execute(&mut *tx)
            .await
            .during("locking the deployments")?;
        let current = sqlx::query("SELECT * FROM deployments ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .during(OP)?
            .map(|row| deployment_of(&row).during(OP))
            .transpose()?;
        match &current {
            Some(current) if current.fingerprint == deployment.fingerprint => {
                return Ok(DeployOutcome::AlreadyDeployed(current.id));
            }
            Some(current) if Some(&current.fingerprint) != deployment.expected.as_ref() => {
                return Err(StoreError::DeploymentChanged {
                    expected: deployment.expected.clone(),
                    found: current.fingerprint.clone(),
                    deployment: current.id,
                    applied_by: current.applied_by.clone(),
                });
            }
            None if deployment.expected.is_some() => {
                return Err(StoreError::DeploymentChanged {
                    expected: deployment.expected.clone(),
                    found: "nothing deployed".into(),
                    deployment: 0,
                    applied_by: "nobody".into(),
                });
            }
            _ => {}
        }
        // Record writers of the models touched wait until this commits (in key order, as
        // every multi-lock holder takes them).
        let models = models_touched(deployment);
        if !models.is_empty() {
            let keys: Vec<i64> =
                sqlx::query_scalar("SELECT pk FROM connections ORDER BY pk").fetch_all(&mut *tx).await.during(OP)?;
            for key in keys {
                for model in &models {
                    lock(&mut tx, ConnectionKey::new(key), "records", model).await?;
                }
            }
        }
        let now = to_micros(deployment.at);
        for check in &deployment.checks {
            let mut after = 0;
            let mut failing: Vec<(i64, ScannedRecord)> = Vec::new();
            loop {
                let page = scan_page(&mut tx, &check.model, None, after).await?;
                let Some((last, _)) = page.last() else { break };
                after = *last;
                failing.extend(page.into_iter().filter(|(_, r)| !accepts(&r.model, &r.json)));
            }
            let Some((_, first)) = failing.first() else { continue };
            if !check.delete_failing {
                return Err(StoreError::IncompatibleRecords {
                    model: check.model.clone(),
                    count: failing.len() as u64,
                    example: first.id.clone(),
                    connection_id: first.connection_id.clone(),
                });
            }
            let pks: Vec<i64> = failing.iter().map(|(pk, _)| *pk).collect();
            sqlx::query(
                "DELETE FROM page_validators WHERE connection IN (SELECT connection FROM records WHERE pk = ANY($1))",
            )
            .bind(&pks)
            .execute(&mut *tx)
            .await
            .during(OP)?;
            sqlx::query("DELETE FROM records WHERE pk = ANY($1)").bind(&pks).execute(&mut *tx).await.during(OP)?;
        }
        for step in &deployment.steps {
            run_step(&mut tx, step, now).await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO deployments (deployed_at, fingerprint, previous, applied_by, manifest, changes, \
             sync_versions_recorded) VALUES ($1, $2, $3, $4, $5, $6, TRUE) RETURNING id",
        )
        .bind(now)
        .bind(&deployment.fingerprint)
        .bind(&deployment.expected)
        .bind(&deployment.applied_by)
        .bind(&deployment.manifest)
        .bind(deployment.changes.to_string())
        .fetch_one(&mut *tx)
        .await
        .during(OP)?;
        // The run versions runners are held to from the commit on.
        sqlx::query("DELETE FROM deployed_syncs").execute(&mut *tx).await.during(OP)?;
        for v in &deployment.sync_versions {
            sqlx::query("INSERT INTO deployed_syncs (integration, sync, version) VALUES ($1, $2, $3)")
                .bind(&v.integration)
                .bind(&v.sync)
                .bind(&v.version)
                .execute(&mut *tx)
                .await
                .during(OP)?;
        }
        for webhook in &deployment.webhooks {
            sqlx::query("INSERT INTO deploy_webhooks (deployment, model, body, queued_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(&webhook.model)
                .bind(&webhook.body)
                .bind(now)
                .execute(&mut *tx)
                .await
                .during(OP)?;
        }
        tx.commit().await.during(OP)?;
        Ok(DeployOutcome::Applied(id))
    }

    async fn pending_deploy_webhooks(&self, limit: u32) -> StoreResult<Vec<QueuedDeployWebhook>> {
        const OP: &str = "reading the queued deployment webhooks";
        let rows = sqlx::query(
            "SELECT id, deployment, model, body FROM deploy_webhooks WHERE done_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .during(OP)?;
        rows.iter()
            .map(|row| {
                Ok(QueuedDeployWebhook {
                    id: row.try_get("id").during(OP)?,
                    deployment: row.try_get("deployment").during(OP)?,
                    model: row.try_get("model").during(OP)?,
                    body: row.try_get("body").during(OP)?,
                })
            })
            .collect()
    }

    async fn deploy_webhook_done(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE deploy_webhooks SET done_at = $2 WHERE id = $1")
            .bind(id)
            .bind(to_micros(chrono::Utc::now()))
            .execute(self.pool())
            .await
            .during("taking a deployment webhook off the queue")?;
        Ok(())
    }
}
