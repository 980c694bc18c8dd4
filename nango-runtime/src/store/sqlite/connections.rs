//! Connections in SQLite: what differs from PostgreSQL (the rest is `store/sql/connections.rs`).

use super::super::backend::{IntegrationReseal, Reseal};
use super::super::error::During;
use super::super::*;
use super::SqliteBackend;
use sqlx::Connection as _;

super::super::sql::connections::connection_backends!(SqliteBackend, sqlx::Sqlite);

impl SqliteBackend {
    /// Reads a connection's metadata for a merge (the write transaction already holds the
    /// database's one write lock, so there is no row lock to take).
    const METADATA_FOR_MERGE: &str = "SELECT metadata FROM connections WHERE pk = $1";

    /// A key rotation in one transaction, with the old sealed values overwritten where they are
    /// freed and the write-ahead log emptied.
    async fn rotate_credentials(
        &self,
        changes: &[Reseal],
        integrations: &[IntegrationReseal],
        key_check: &[u8],
    ) -> StoreResult<()> {
        const OP: &str = "re-sealing credentials";
        let mut conn = self.pool.acquire().await.during(OP)?;
        // Old values are overwritten where they are freed, not just unlinked.
        sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await.during(OP)?;
        let written = async {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.during(OP)?;
            Self::write_rotation(&mut tx, changes, integrations, key_check).await?;
            tx.commit().await.during(OP)
        }
        .await;
        let _ = sqlx::query("PRAGMA secure_delete = OFF").execute(&mut *conn).await;
        written?;
        // The write-ahead log still holds the pages as they were: fold it into the database and
        // empty it.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await.during(OP)?;
        Ok(())
    }
}
