//! Integrations and the results of actions run in the background: the same SQL on both
//! backends.

/// `IntegrationBackend` and `ActionResultBackend` for a backend type with `pool()` and
/// `write_transaction()`, whose rows are `$row`.
macro_rules! integration_backends {
    ($backend:ty, $row:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use serde_json::Value;
            use sqlx::Row;
            use $crate::store::backend::{ActionResultBackend, IntegrationBackend, SealedCredentials, SealedIntegration};
            use $crate::store::error::During;
            use $crate::store::{ActionResult, ActionStatus, ConnectionKey, StoreResult, from_micros, to_micros};

            fn integration_from_row(row: &$row) -> StoreResult<SealedIntegration> {
                let read = || -> sqlx::Result<SealedIntegration> {
                    let sealed: Option<Vec<u8>> = row.try_get("credentials")?;
                    let kind: Option<String> = row.try_get("credentials_kind")?;
                    Ok(SealedIntegration {
                        unique_key: row.try_get("unique_key")?,
                        provider: row.try_get("provider")?,
                        display_name: row.try_get("display_name")?,
                        credentials: sealed.map(|sealed| SealedCredentials { sealed, kind: kind.unwrap_or_default() }),
                        forward_webhooks: row.try_get("forward_webhooks")?,
                        created_at: from_micros(row.try_get("created_at")?),
                        updated_at: from_micros(row.try_get("updated_at")?),
                    })
                };
                read().during("reading an integration")
            }

            #[async_trait]
            impl IntegrationBackend for $backend {
                async fn save_integration(&self, integration: &SealedIntegration, replacing: Option<&str>) -> StoreResult<()> {
                    const OP: &str = "saving an integration";
                    let mut tx = self.write_transaction().await.during(OP)?;
                    if let Some(old) = replacing {
                        sqlx::query("DELETE FROM integrations WHERE unique_key = $1")
                            .bind(old)
                            .execute(&mut *tx)
                            .await
                            .during(OP)?;
                    }
                    let credentials = integration.credentials.as_ref();
                    sqlx::query(
                        "INSERT INTO integrations (unique_key, provider, display_name, credentials, credentials_kind, \
                         forward_webhooks, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (unique_key) DO UPDATE SET provider = excluded.provider, display_name = excluded.display_name, \
                         credentials = excluded.credentials, credentials_kind = excluded.credentials_kind, \
                         forward_webhooks = excluded.forward_webhooks, updated_at = excluded.updated_at",
                    )
                    .bind(&integration.unique_key)
                    .bind(&integration.provider)
                    .bind(&integration.display_name)
                    .bind(credentials.map(|c| c.sealed.as_slice()))
                    .bind(credentials.map(|c| c.kind.as_str()))
                    .bind(integration.forward_webhooks)
                    .bind(to_micros(integration.created_at))
                    .bind(to_micros(integration.updated_at))
                    .execute(&mut *tx)
                    .await
                    .during(OP)?;
                    tx.commit().await.during(OP)?;
                    Ok(())
                }

                async fn integration(&self, unique_key: &str) -> StoreResult<Option<SealedIntegration>> {
                    let row = sqlx::query("SELECT * FROM integrations WHERE unique_key = $1")
                        .bind(unique_key)
                        .fetch_optional(self.pool())
                        .await
                        .during("reading an integration")?;
                    row.as_ref().map(integration_from_row).transpose()
                }

                async fn integrations(&self) -> StoreResult<Vec<SealedIntegration>> {
                    let rows = sqlx::query("SELECT * FROM integrations ORDER BY unique_key")
                        .fetch_all(self.pool())
                        .await
                        .during("listing integrations")?;
                    rows.iter().map(integration_from_row).collect()
                }

                async fn delete_integration(&self, unique_key: &str) -> StoreResult<bool> {
                    let done = sqlx::query("DELETE FROM integrations WHERE unique_key = $1")
                        .bind(unique_key)
                        .execute(self.pool())
                        .await
                        .during("deleting an integration")?;
                    Ok(done.rows_affected() > 0)
                }
            }

            #[async_trait]
            impl ActionResultBackend for $backend {
                async fn start_action(
                    &self,
                    id: &str,
                    connection: ConnectionKey,
                    action: &str,
                    at: DateTime<Utc>,
                ) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO action_results (id, connection, action, status, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(connection.get())
                    .bind(action)
                    .bind(ActionStatus::Running.as_str())
                    .bind(to_micros(at))
                    .execute(self.pool())
                    .await
                    .during("recording a background action")?;
                    Ok(())
                }

                async fn finish_action(
                    &self,
                    id: &str,
                    status: ActionStatus,
                    output: &Value,
                    at: DateTime<Utc>,
                ) -> StoreResult<()> {
                    sqlx::query("UPDATE action_results SET status = $1, output = $2, ended_at = $3 WHERE id = $4")
                        .bind(status.as_str())
                        .bind(output.to_string())
                        .bind(to_micros(at))
                        .bind(id)
                        .execute(self.pool())
                        .await
                        .during("recording the result of a background action")?;
                    Ok(())
                }

                async fn action_result(&self, id: &str) -> StoreResult<Option<ActionResult>> {
                    const OP: &str = "reading the result of a background action";
                    let row = sqlx::query("SELECT * FROM action_results WHERE id = $1")
                        .bind(id)
                        .fetch_optional(self.pool())
                        .await
                        .during(OP)?;
                    let Some(row) = row else { return Ok(None) };
                    let read = || -> sqlx::Result<ActionResult> {
                        let output: Option<String> = row.try_get("output")?;
                        Ok(ActionResult {
                            id: row.try_get("id")?,
                            action: row.try_get("action")?,
                            status: ActionStatus::parse(&row.try_get::<String, _>("status")?),
                            // Written by `finish_action` from a JSON value.
                            output: output.and_then(|text| serde_json::from_str(&text).ok()),
                            created_at: from_micros(row.try_get("created_at")?),
                            ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(from_micros),
                        })
                    };
                    read().during(OP).map(Some)
                }
            }
        };
    };
}
pub(in crate::store) use integration_backends;
