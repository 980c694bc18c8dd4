//! The page validators of conditional requests ([`super::super::validators`]): the same SQL on
//! both backends.

/// `ValidatorBackend` for a backend type with `pool()` and `write_transaction()`.
macro_rules! validator_backend {
    ($backend:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;
            use $crate::store::backend::ValidatorBackend;
            use $crate::store::error::During;
            use $crate::store::{ConnectionKey, PageValidator, StoreResult};

            #[async_trait]
            impl ValidatorBackend for $backend {
                async fn page_validator(
                    &self,
                    connection: ConnectionKey,
                    sync: &str,
                    url: &str,
                ) -> StoreResult<Option<PageValidator>> {
                    const OP: &str = "reading a page's validator";
                    let row = sqlx::query(
                        "SELECT etag, led_to FROM page_validators WHERE connection = $1 AND sync = $2 AND url = $3",
                    )
                    .bind(connection.get())
                    .bind(sync)
                    .bind(url)
                    .fetch_optional(self.pool())
                    .await
                    .during(OP)?;
                    let Some(row) = row else { return Ok(None) };
                    let etag: String = row.try_get("etag").during(OP)?;
                    let led_to: Option<String> = row.try_get("led_to").during(OP)?;
                    // A value this program did not write is no validator: the page is fetched.
                    let led_to = match led_to.map(|text| serde_json::from_str(&text)).transpose() {
                        Ok(led_to) => led_to,
                        Err(_) => return Ok(None),
                    };
                    Ok(Some(PageValidator { url: url.to_owned(), etag, led_to }))
                }

                async fn has_page_validators(&self, connection: ConnectionKey, sync: &str) -> StoreResult<bool> {
                    let row = sqlx::query("SELECT 1 FROM page_validators WHERE connection = $1 AND sync = $2 LIMIT 1")
                        .bind(connection.get())
                        .bind(sync)
                        .fetch_optional(self.pool())
                        .await
                        .during("looking for pages' validators")?;
                    Ok(row.is_some())
                }

                async fn save_page_validators(
                    &self,
                    connection: ConnectionKey,
                    sync: &str,
                    run: i64,
                    validators: &[PageValidator],
                ) -> StoreResult<()> {
                    const OP: &str = "saving pages' validators";
                    if validators.is_empty() {
                        return Ok(());
                    }
                    let mut tx = self.write_transaction().await.during(OP)?;
                    for v in validators {
                        sqlx::query(
                            "INSERT INTO page_validators (connection, sync, url, etag, led_to, run) \
                             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connection, sync, url) DO UPDATE \
                             SET etag = excluded.etag, led_to = excluded.led_to, run = excluded.run",
                        )
                        .bind(connection.get())
                        .bind(sync)
                        .bind(&v.url)
                        .bind(&v.etag)
                        .bind(v.led_to.as_ref().map(|led_to| led_to.to_string()))
                        .bind(run)
                        .execute(&mut *tx)
                        .await
                        .during(OP)?;
                    }
                    tx.commit().await.during(OP)?;
                    Ok(())
                }

                async fn forget_unused_validators(
                    &self,
                    connection: ConnectionKey,
                    sync: &str,
                    run: i64,
                ) -> StoreResult<u64> {
                    let done =
                        sqlx::query("DELETE FROM page_validators WHERE connection = $1 AND sync = $2 AND run <> $3")
                            .bind(connection.get())
                            .bind(sync)
                            .bind(run)
                            .execute(self.pool())
                            .await
                            .during("forgetting pages' validators")?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}

pub(in crate::store) use validator_backend;
