//! Connections in PostgreSQL: what differs from SQLite (the rest is `store/sql/connections.rs`).

use super::super::backend::{IntegrationReseal, Reseal};
use super::super::error::During;
use super::super::*;
use super::PostgresBackend;

super::super::sql::connections::connection_backends!(PostgresBackend, sqlx::Postgres);

impl PostgresBackend {
    /// Reads a connection's metadata for a merge, locking its row until the transaction ends.
    const METADATA_FOR_MERGE: &str = "SELECT metadata FROM connections WHERE pk = $1 FOR UPDATE";

    /// A key rotation in one transaction, then the old sealed values rewritten out of the tables.
    async fn rotate_credentials(
        &self,
        changes: &[Reseal],
        integrations: &[IntegrationReseal],
        key_check: &[u8],
    ) -> StoreResult<()> {
        const OP: &str = "re-sealing credentials";
        let mut tx = self.pool.begin().await.during(OP)?;
        Self::write_rotation(&mut tx, changes, integrations, key_check).await?;
        tx.commit().await.during(OP)?;
        // The old values stay in the tables' files as dead row versions until they are
        // vacuumed: rewrite the three small tables now. (The server's write-ahead log and its
        // backups keep them until they are recycled, which only the server's operator controls.)
        sqlx::raw_sql("VACUUM (FULL) connections, integrations, sealing_key_check")
            .execute(&self.pool)
            .await
            .during("rewriting the tables of the old sealed values")?;
        Ok(())
    }
}
