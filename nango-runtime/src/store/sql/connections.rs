//! Connections (credentials sealed by the facade), their profiles and console sessions: the
//! same SQL on both backends.

/// `ConnectionBackend` and `SessionBackend` for a backend type over the sqlx database `$db`.
/// The backend brings `write_transaction()`, `METADATA_FOR_MERGE` (the statement that reads a
/// connection's metadata for a merge, locking it where the database locks rows) and
/// `rotate_credentials` (`write_rotation` in a transaction, and the old sealed values
/// scrubbed the database's own way).
macro_rules! connection_backends {
    ($backend:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;
            use std::collections::HashMap;
            use $crate::store::backend::{
                ConnectionBackend, IntegrationReseal, Reseal, SealedConnection, SealedCredentials, SealedRow,
                SessionBackend,
            };
            use $crate::store::error::During;
            use $crate::store::*;

            impl $backend {
                /// The writes of a key rotation, in the caller's transaction: each credential replaced
                /// only where it still holds the value the rotation read (else the rotation is refused:
                /// something changed it meanwhile), then the new key check.
                async fn write_rotation(
                    conn: &mut <$db as sqlx::Database>::Connection,
                    changes: &[Reseal],
                    integrations: &[IntegrationReseal],
                    key_check: &[u8],
                ) -> StoreResult<()> {
                    const OP: &str = "re-sealing credentials";
                    for change in changes {
                        let before = &change.before;
                        let done = sqlx::query(
                            "UPDATE connections SET credentials = $1, credentials_kind = $2 WHERE pk = $3 AND credentials = $4",
                        )
                        .bind(&change.after.sealed)
                        .bind(&change.after.kind)
                        .bind(before.key.get())
                        .bind(&before.credentials.sealed)
                        .execute(&mut *conn)
                        .await
                        .during(OP)?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::ChangedDuringRotation {
                                owner: format!("connection `{}` of `{}`", before.connection_id, before.provider_config_key),
                            });
                        }
                    }
                    for change in integrations {
                        let done = sqlx::query(
                            "UPDATE integrations SET credentials = $1, credentials_kind = $2 \
                             WHERE unique_key = $3 AND credentials = $4",
                        )
                        .bind(&change.after.sealed)
                        .bind(&change.after.kind)
                        .bind(&change.unique_key)
                        .bind(&change.before.sealed)
                        .execute(&mut *conn)
                        .await
                        .during(OP)?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::ChangedDuringRotation {
                                owner: format!("integration `{}`", change.unique_key),
                            });
                        }
                    }
                    sqlx::query(
                        "INSERT INTO sealing_key_check (id, sealed, created_at) VALUES (1, $1, $2) \
                         ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at",
                    )
                    .bind(key_check)
                    .bind(to_micros(Utc::now()))
                    .execute(&mut *conn)
                    .await
                    .during(OP)?;
                    Ok(())
                }
            }

            /// A connection row; its metadata and connection config parsed.
            fn connection_from_row(row: &<$db as sqlx::Database>::Row) -> StoreResult<(ConnectionKey, SealedConnection)> {
                const OP: &str = "reading a connection";
                let provider_config_key: String = row.try_get("provider_config_key").during(OP)?;
                let connection_id: String = row.try_get("connection_id").during(OP)?;
                let json = |column: &'static str| -> StoreResult<Value> {
                    let text: String = row.try_get(column).during(OP)?;
                    serde_json::from_str(&text).map_err(|source| StoreError::UnreadableConnection {
                        what: column,
                        provider_config_key: provider_config_key.clone(),
                        connection_id: connection_id.clone(),
                        source,
                    })
                };
                let connection_config = match json("connection_config")? {
                    Value::Object(map) => {
                        map.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
                    }
                    _ => Default::default(),
                };
                let metadata = json("metadata")?;
                let key = ConnectionKey::new(row.try_get("pk").during(OP)?);
                Ok((
                    key,
                    SealedConnection {
                        provider: row.try_get("provider").during(OP)?,
                        credentials: SealedCredentials {
                            sealed: row.try_get("credentials").during(OP)?,
                            kind: row.try_get("credentials_kind").during(OP)?,
                        },
                        connection_config,
                        metadata,
                        base_url: row.try_get("base_url").during(OP)?,
                        created_at: from_micros(row.try_get("created_at").during(OP)?),
                        updated_at: from_micros(row.try_get("updated_at").during(OP)?),
                        provider_config_key,
                        connection_id,
                    },
                ))
            }

            #[async_trait]
            impl ConnectionBackend for $backend {
                async fn save_connection(&self, connection: &SealedConnection) -> StoreResult<ConnectionKey> {
                    let config = serde_json::to_string(&connection.connection_config).unwrap_or_else(|_| "{}".into());
                    let metadata = serde_json::to_string(&connection.metadata).unwrap_or_else(|_| "{}".into());
                    let key: i64 = sqlx::query_scalar(
                        "INSERT INTO connections (provider_config_key, connection_id, provider, credentials, credentials_kind, \
                         connection_config, metadata, base_url, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT (provider_config_key, connection_id) DO UPDATE SET provider = excluded.provider, \
                         credentials = excluded.credentials, credentials_kind = excluded.credentials_kind, \
                         connection_config = excluded.connection_config, metadata = excluded.metadata, base_url = excluded.base_url, \
                         updated_at = excluded.updated_at RETURNING pk",
                    )
                    .bind(&connection.provider_config_key)
                    .bind(&connection.connection_id)
                    .bind(&connection.provider)
                    .bind(&connection.credentials.sealed)
                    .bind(&connection.credentials.kind)
                    .bind(config)
                    .bind(metadata)
                    .bind(&connection.base_url)
                    .bind(to_micros(connection.created_at))
                    .bind(to_micros(connection.updated_at))
                    .fetch_one(&self.pool)
                    .await
                    .during("saving the connection")?;
                    Ok(ConnectionKey::new(key))
                }

                async fn connection(
                    &self,
                    provider_config_key: &str,
                    connection_id: &str,
                ) -> StoreResult<Option<(ConnectionKey, SealedConnection)>> {
                    let row = sqlx::query("SELECT * FROM connections WHERE provider_config_key = $1 AND connection_id = $2")
                        .bind(provider_config_key)
                        .bind(connection_id)
                        .fetch_optional(&self.pool)
                        .await
                        .during("reading a connection")?;
                    row.map(|r| connection_from_row(&r)).transpose()
                }

                async fn connection_by_key(&self, key: ConnectionKey) -> StoreResult<Option<(ConnectionKey, SealedConnection)>> {
                    let row = sqlx::query("SELECT * FROM connections WHERE pk = $1")
                        .bind(key.get())
                        .fetch_optional(&self.pool)
                        .await
                        .during("reading a connection")?;
                    row.map(|r| connection_from_row(&r)).transpose()
                }

                async fn connections(&self) -> StoreResult<Vec<(ConnectionKey, SealedConnection)>> {
                    let rows = sqlx::query("SELECT * FROM connections ORDER BY provider_config_key, connection_id")
                        .fetch_all(&self.pool)
                        .await
                        .during("listing connections")?;
                    rows.iter().map(connection_from_row).collect()
                }

                async fn connection_key(
                    &self,
                    provider_config_key: &str,
                    connection_id: &str,
                ) -> StoreResult<Option<ConnectionKey>> {
                    let key: Option<i64> =
                        sqlx::query_scalar("SELECT pk FROM connections WHERE provider_config_key = $1 AND connection_id = $2")
                            .bind(provider_config_key)
                            .bind(connection_id)
                            .fetch_optional(&self.pool)
                            .await
                            .during("looking up a connection")?;
                    Ok(key.map(ConnectionKey::new))
                }

                async fn delete_connection(&self, provider_config_key: &str, connection_id: &str) -> StoreResult<bool> {
                    let done = sqlx::query("DELETE FROM connections WHERE provider_config_key = $1 AND connection_id = $2")
                        .bind(provider_config_key)
                        .bind(connection_id)
                        .execute(&self.pool)
                        .await
                        .during("deleting a connection")?;
                    Ok(done.rows_affected() > 0)
                }

                async fn set_metadata(&self, connection: ConnectionKey, metadata: &Value) -> StoreResult<()> {
                    sqlx::query("UPDATE connections SET metadata = $1, updated_at = $2 WHERE pk = $3")
                        .bind(metadata.to_string())
                        .bind(to_micros(Utc::now()))
                        .bind(connection.get())
                        .execute(&self.pool)
                        .await
                        .during("saving the connection's metadata")?;
                    Ok(())
                }

                async fn set_credentials(&self, connection: ConnectionKey, credentials: &SealedCredentials) -> StoreResult<()> {
                    let done = sqlx::query(
                        "UPDATE connections SET credentials = $1, credentials_kind = $2, updated_at = $3 WHERE pk = $4",
                    )
                    .bind(&credentials.sealed)
                    .bind(&credentials.kind)
                    .bind(to_micros(Utc::now()))
                    .bind(connection.get())
                    .execute(&self.pool)
                    .await
                    .during("saving refreshed credentials")?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::UnknownConnectionKey { key: connection });
                    }
                    Ok(())
                }

                async fn sealed_credentials(&self) -> StoreResult<Vec<SealedRow>> {
                    const OP: &str = "reading sealed credentials";
                    let rows = sqlx::query(
                        "SELECT pk, provider_config_key, connection_id, credentials, credentials_kind FROM connections \
                         ORDER BY provider_config_key, connection_id",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .during(OP)?;
                    rows.iter()
                        .map(|row| {
                            let read = || -> sqlx::Result<SealedRow> {
                                Ok(SealedRow {
                                    key: ConnectionKey::new(row.try_get("pk")?),
                                    provider_config_key: row.try_get("provider_config_key")?,
                                    connection_id: row.try_get("connection_id")?,
                                    credentials: SealedCredentials {
                                        sealed: row.try_get("credentials")?,
                                        kind: row.try_get("credentials_kind")?,
                                    },
                                })
                            };
                            read().during(OP)
                        })
                        .collect()
                }

                async fn key_check(&self) -> StoreResult<Option<Vec<u8>>> {
                    sqlx::query_scalar("SELECT sealed FROM sealing_key_check WHERE id = 1")
                        .fetch_optional(&self.pool)
                        .await
                        .during("reading the sealing key check")
                }

                async fn establish_key_check(&self, sealed: &[u8]) -> StoreResult<Vec<u8>> {
                    const OP: &str = "recording the sealing key check";
                    let mut tx = self.write_transaction().await.during(OP)?;
                    // Of two processes inserting at once, the second waits for the first (SQLite's write
                    // lock, PostgreSQL's row lock) and inserts nothing; the next statement reads the one
                    // that won.
                    sqlx::query(
                        "INSERT INTO sealing_key_check (id, sealed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(sealed)
                    .bind(to_micros(Utc::now()))
                    .execute(&mut *tx)
                    .await
                    .during(OP)?;
                    let stored: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM sealing_key_check WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await
                        .during(OP)?;
                    tx.commit().await.during(OP)?;
                    Ok(stored)
                }

                async fn reseal_credentials(
                    &self,
                    changes: &[Reseal],
                    integrations: &[IntegrationReseal],
                    key_check: &[u8],
                ) -> StoreResult<()> {
                    // How the old sealed values are scrubbed differs between the two databases.
                    self.rotate_credentials(changes, integrations, key_check).await
                }

                async fn update_metadata(&self, connections: &[ConnectionKey], metadata: &Value, merge: bool) -> StoreResult<()> {
                    const OP: &str = "saving the metadata of connections";
                    let now = to_micros(Utc::now());
                    let mut tx = self.write_transaction().await.during(OP)?;
                    for key in connections {
                        let text = if merge {
                            // Locked until the transaction ends (SQLite: the whole database, PostgreSQL:
                            // the row): a merge at the same time waits and merges into this one's result.
                            let old: Option<String> = sqlx::query_scalar(<$backend>::METADATA_FOR_MERGE)
                                .bind(key.get())
                                .fetch_optional(&mut *tx)
                                .await
                                .during(OP)?;
                            let Some(old) = old else { return Err(StoreError::UnknownConnectionKey { key: *key }) };
                            let old: Value = serde_json::from_str(&old).unwrap_or(Value::Null);
                            merge_metadata(&old, metadata).to_string()
                        } else {
                            metadata.to_string()
                        };
                        let done = sqlx::query("UPDATE connections SET metadata = $1, updated_at = $2 WHERE pk = $3")
                            .bind(text)
                            .bind(now)
                            .bind(key.get())
                            .execute(&mut *tx)
                            .await
                            .during(OP)?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::UnknownConnectionKey { key: *key });
                        }
                    }
                    tx.commit().await.during(OP)?;
                    Ok(())
                }

                async fn connection_profile(&self, connection: ConnectionKey) -> StoreResult<Option<ConnectionProfile>> {
                    let row = sqlx::query("SELECT pk, tags, end_user, last_fetched_at FROM connections WHERE pk = $1")
                        .bind(connection.get())
                        .fetch_optional(&self.pool)
                        .await
                        .during("reading a connection's tags")?;
                    row.map(|r| profile_from_row(&r).map(|(_, profile)| profile)).transpose()
                }

                async fn connection_profiles(&self) -> StoreResult<HashMap<ConnectionKey, ConnectionProfile>> {
                    let rows = sqlx::query("SELECT pk, tags, end_user, last_fetched_at FROM connections")
                        .fetch_all(&self.pool)
                        .await
                        .during("reading the tags of connections")?;
                    rows.iter().map(profile_from_row).collect()
                }

                async fn set_connection_profile(
                    &self,
                    connection: ConnectionKey,
                    tags: &BTreeMap<String, String>,
                    end_user: Option<&EndUser>,
                ) -> StoreResult<()> {
                    // Tags and end users are strings and maps of strings: they always serialize.
                    let tags = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
                    let end_user = end_user.map(|u| serde_json::to_string(u).unwrap_or_default());
                    let done = sqlx::query("UPDATE connections SET tags = $1, end_user = $2, updated_at = $3 WHERE pk = $4")
                        .bind(tags)
                        .bind(end_user)
                        .bind(to_micros(Utc::now()))
                        .bind(connection.get())
                        .execute(&self.pool)
                        .await
                        .during("saving a connection's tags and end user")?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::UnknownConnectionKey { key: connection });
                    }
                    Ok(())
                }

                async fn mark_fetched(&self, connection: ConnectionKey, at: DateTime<Utc>) -> StoreResult<()> {
                    sqlx::query("UPDATE connections SET last_fetched_at = $1 WHERE pk = $2")
                        .bind(to_micros(at))
                        .bind(connection.get())
                        .execute(&self.pool)
                        .await
                        .during("recording a credentials fetch")?;
                    Ok(())
                }
            }

            /// A connection's tags, end user and last fetch from a row with those columns and `pk`. Values
            /// that are not the JSON they should be read as empty: they are shown, never acted on.
            fn profile_from_row(row: &<$db as sqlx::Database>::Row) -> StoreResult<(ConnectionKey, ConnectionProfile)> {
                const OP: &str = "reading a connection's tags";
                let tags: String = row.try_get("tags").during(OP)?;
                let end_user: Option<String> = row.try_get("end_user").during(OP)?;
                let profile = ConnectionProfile {
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                    end_user: end_user.and_then(|text| serde_json::from_str(&text).ok()),
                    last_fetched_at: row.try_get::<Option<i64>, _>("last_fetched_at").during(OP)?.map(from_micros),
                };
                Ok((ConnectionKey::new(row.try_get("pk").during(OP)?), profile))
            }

            #[async_trait]
            impl SessionBackend for $backend {
                async fn create_session(&self, session: &ConsoleSession) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO console_sessions (digest, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&session.digest)
                    .bind(&session.csrf_token)
                    .bind(to_micros(session.created_at))
                    .bind(to_micros(session.expires_at))
                    .execute(&self.pool)
                    .await
                    .during("keeping a console session")?;
                    Ok(())
                }

                async fn session(&self, digest: &[u8]) -> StoreResult<Option<ConsoleSession>> {
                    const OP: &str = "reading a console session";
                    let row = sqlx::query("SELECT csrf_token, created_at, expires_at FROM console_sessions WHERE digest = $1")
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await
                        .during(OP)?;
                    row.map(|r| {
                        let read = || -> sqlx::Result<ConsoleSession> {
                            Ok(ConsoleSession {
                                digest: digest.to_vec(),
                                csrf_token: r.try_get("csrf_token")?,
                                created_at: from_micros(r.try_get("created_at")?),
                                expires_at: from_micros(r.try_get("expires_at")?),
                            })
                        };
                        read().during(OP)
                    })
                    .transpose()
                }

                async fn delete_session(&self, digest: &[u8]) -> StoreResult<bool> {
                    let done = sqlx::query("DELETE FROM console_sessions WHERE digest = $1")
                        .bind(digest)
                        .execute(&self.pool)
                        .await
                        .during("deleting a console session")?;
                    Ok(done.rows_affected() > 0)
                }

                async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                    let done = sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
                        .bind(to_micros(now))
                        .execute(&self.pool)
                        .await
                        .during("deleting expired console sessions")?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(in crate::store) use connection_backends;
