//! Connect sessions and OAuth authorizations in progress: the same SQL on both backends.

use serde::{Deserialize, Serialize};

/// What an OAuth flow keeps besides its keys and times.
#[derive(Serialize, Deserialize)]
pub(in crate::store) struct FlowBody {
    pub integration: String,
    pub connection_id: String,
    pub ws_client_id: Option<String>,
    pub redirect_uri: String,
}

/// A JSON body that does not encode or decode, as the database error of `operation`.
pub(in crate::store) fn corrupt(operation: &'static str, e: serde_json::Error) -> crate::store::StoreError {
    crate::store::StoreError::Database { operation, source: sqlx::Error::Decode(Box::new(e)) }
}

/// `ConnectBackend` for a backend type with a `pool` field.
macro_rules! connect_backend {
    ($backend:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::Row;
            use std::collections::HashMap;
            use $crate::store::backend::ConnectBackend;
            use $crate::store::error::During;
            use $crate::store::sql::connect::{FlowBody, corrupt};
            use $crate::store::{ConnectSession, ConnectionKey, OAuthFlow, StoreResult, from_micros, to_micros};

            #[async_trait]
            impl ConnectBackend for $backend {
                async fn create_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
                    let body = serde_json::to_string(&session.data).map_err(|e| corrupt("reading a connect session", e))?;
                    sqlx::query(
                        "INSERT INTO connect_sessions (digest, body, created_at, expires_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (digest) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
                    )
                    .bind(&session.digest)
                    .bind(body)
                    .bind(to_micros(session.created_at))
                    .bind(to_micros(session.expires_at))
                    .execute(&self.pool)
                    .await
                    .during("keeping a connect session")?;
                    Ok(())
                }

                async fn connect_session(&self, digest: &[u8]) -> StoreResult<Option<ConnectSession>> {
                    const OP: &str = "reading a connect session";
                    let row = sqlx::query("SELECT body, created_at, expires_at FROM connect_sessions WHERE digest = $1")
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await
                        .during(OP)?;
                    let Some(row) = row else { return Ok(None) };
                    let body: String = row.try_get("body").during(OP)?;
                    let created: i64 = row.try_get("created_at").during(OP)?;
                    let expires: i64 = row.try_get("expires_at").during(OP)?;
                    Ok(Some(ConnectSession {
                        digest: digest.to_vec(),
                        data: serde_json::from_str(&body).map_err(|e| corrupt("reading a connect session", e))?,
                        created_at: from_micros(created),
                        expires_at: from_micros(expires),
                    }))
                }

                async fn delete_connect_session(&self, digest: &[u8]) -> StoreResult<bool> {
                    const OP: &str = "deleting a connect session";
                    let mut tx = self.pool.begin().await.during(OP)?;
                    sqlx::query("DELETE FROM oauth_flows WHERE session_digest = $1")
                        .bind(digest)
                        .execute(&mut *tx)
                        .await
                        .during(OP)?;
                    let done = sqlx::query("DELETE FROM connect_sessions WHERE digest = $1")
                        .bind(digest)
                        .execute(&mut *tx)
                        .await
                        .during(OP)?;
                    tx.commit().await.during(OP)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn start_oauth_flow(&self, flow: &OAuthFlow) -> StoreResult<()> {
                    let body = FlowBody {
                        integration: flow.integration.clone(),
                        connection_id: flow.connection_id.clone(),
                        ws_client_id: flow.ws_client_id.clone(),
                        redirect_uri: flow.redirect_uri.clone(),
                    };
                    let body = serde_json::to_string(&body).map_err(|e| corrupt("reading an OAuth flow", e))?;
                    sqlx::query(
                        "INSERT INTO oauth_flows (state_digest, session_digest, body, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&flow.state_digest)
                    .bind(&flow.session_digest)
                    .bind(body)
                    .bind(to_micros(flow.created_at))
                    .bind(to_micros(flow.expires_at))
                    .execute(&self.pool)
                    .await
                    .during("keeping an OAuth flow")?;
                    Ok(())
                }

                async fn take_oauth_flow(&self, state_digest: &[u8]) -> StoreResult<Option<OAuthFlow>> {
                    const OP: &str = "taking an OAuth flow";
                    let row = sqlx::query(
                        "DELETE FROM oauth_flows WHERE state_digest = $1 RETURNING session_digest, body, created_at, expires_at",
                    )
                    .bind(state_digest)
                    .fetch_optional(&self.pool)
                    .await
                    .during(OP)?;
                    let Some(row) = row else { return Ok(None) };
                    let body: String = row.try_get("body").during(OP)?;
                    let body: FlowBody = serde_json::from_str(&body).map_err(|e| corrupt("reading an OAuth flow", e))?;
                    Ok(Some(OAuthFlow {
                        state_digest: state_digest.to_vec(),
                        session_digest: row.try_get("session_digest").during(OP)?,
                        integration: body.integration,
                        connection_id: body.connection_id,
                        ws_client_id: body.ws_client_id,
                        redirect_uri: body.redirect_uri,
                        created_at: from_micros(row.try_get("created_at").during(OP)?),
                        expires_at: from_micros(row.try_get("expires_at").during(OP)?),
                    }))
                }

                async fn delete_expired_connect(&self, now: DateTime<Utc>) -> StoreResult<()> {
                    const OP: &str = "deleting expired connect sessions";
                    let now = to_micros(now);
                    sqlx::query("DELETE FROM oauth_flows WHERE expires_at <= $1").bind(now).execute(&self.pool).await.during(OP)?;
                    sqlx::query("DELETE FROM connect_sessions WHERE expires_at <= $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .during(OP)?;
                    Ok(())
                }

                async fn set_auth_error(&self, connection: ConnectionKey, error: Option<(&str, DateTime<Utc>)>) -> StoreResult<()> {
                    const OP: &str = "marking a connection as needing re-authorization";
                    match error {
                        Some((message, at)) => {
                            sqlx::query(
                                "INSERT INTO connection_auth_errors (connection, message, at) VALUES ($1, $2, $3) \
                                 ON CONFLICT (connection) DO UPDATE SET message = excluded.message, at = excluded.at",
                            )
                            .bind(connection.get())
                            .bind(message)
                            .bind(to_micros(at))
                            .execute(&self.pool)
                            .await
                            .during(OP)?;
                        }
                        None => {
                            sqlx::query("DELETE FROM connection_auth_errors WHERE connection = $1")
                                .bind(connection.get())
                                .execute(&self.pool)
                                .await
                                .during(OP)?;
                        }
                    }
                    Ok(())
                }

                async fn auth_errors(&self) -> StoreResult<HashMap<ConnectionKey, String>> {
                    const OP: &str = "reading the connections that need re-authorization";
                    let rows = sqlx::query("SELECT connection, message FROM connection_auth_errors")
                        .fetch_all(&self.pool)
                        .await
                        .during(OP)?;
                    rows.iter()
                        .map(|r| Ok((ConnectionKey::new(r.try_get("connection").during(OP)?), r.try_get("message").during(OP)?)))
                        .collect()
                }
            }
        };
    };
}
pub(in crate::store) use connect_backend;
