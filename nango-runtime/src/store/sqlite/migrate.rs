//! The SQLite schema: `migrations/sqlite/NNNN_name.sql`, run by sqlx's migrator.
//!
//! The files are embedded with `include_str!` and handed to [`Migrator::with_migrations`], so no
//! migration macro (and no `macros` feature of sqlx) is needed; a test checks that the list
//! below names every file of the folder.
//!
//! Databases made before the migrator kept their schema version in `PRAGMA user_version` (1 or
//! 2, one per migration). Such a database has no `_sqlx_migrations` table: the migrations up to
//! its version are recorded as applied without running them, then the rest run as usual.
//! `user_version` is still set to the latest version afterwards, so an older program that knows
//! only `user_version` keeps refusing a schema newer than its own.
//!
//! Migrations run on a connection of their own with foreign-key enforcement off, as SQLite's
//! procedure for rebuilding a table requires (with it on, dropping the old table would delete
//! every row that refers to it); `PRAGMA foreign_key_check` must then find no broken reference
//! before the transaction commits.

use crate::store::error::During;
use crate::store::{StoreError, StoreResult};
use sqlx::SqlSafeStr;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Connection, Row};
use std::borrow::Cow;

/// `(version, description, SQL)`, in order; the version is the file's number.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "connections records runs", include_str!("../../../migrations/sqlite/0001_connections_records_runs.sql")),
    (2, "schedules deliveries logs", include_str!("../../../migrations/sqlite/0002_schedules_deliveries_logs.sql")),
    (3, "console sessions", include_str!("../../../migrations/sqlite/0003_console_sessions.sql")),
    (4, "integrations action results", include_str!("../../../migrations/sqlite/0004_integrations_action_results.sql")),
    (5, "keys never reused", include_str!("../../../migrations/sqlite/0005_keys_never_reused.sql")),
    (
        6,
        "run leases and pending triggers",
        include_str!("../../../migrations/sqlite/0006_run_leases_and_pending_triggers.sql"),
    ),
    (7, "sealing key check", include_str!("../../../migrations/sqlite/0007_sealing_key_check.sql")),
    (8, "webhook announcements", include_str!("../../../migrations/sqlite/0008_webhook_announcements.sql")),
    (9, "connect sessions", include_str!("../../../migrations/sqlite/0009_connect_sessions.sql")),
    (10, "connection auth errors", include_str!("../../../migrations/sqlite/0010_connection_auth_errors.sql")),
    (11, "deployments", include_str!("../../../migrations/sqlite/0011_deployments.sql")),
    (12, "task queue", include_str!("../../../migrations/sqlite/0012_task_queue.sql")),
    (13, "deployed sync versions", include_str!("../../../migrations/sqlite/0013_deployed_sync_versions.sql")),
    (14, "page validators", include_str!("../../../migrations/sqlite/0014_page_validators.sql")),
];

/// The newest schema version this program knows.
pub(super) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

/// Brings the schema up to date, on a connection opened with foreign-key enforcement off. One
/// `BEGIN IMMEDIATE` transaction holds the write lock throughout (each migration runs in a
/// savepoint of it), so two processes opening a new database at once do not both create it.
pub(super) async fn migrate(conn: &mut SqliteConnection) -> StoreResult<()> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.during("locking the database to migrate it")?;
    let tracked: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *tx)
    .await
    .during("reading the schema version")?;
    let legacy: i64 =
        sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *tx).await.during("reading the schema version")?;
    let migrator = migrator();
    if !tracked && legacy > 0 {
        if legacy > latest() {
            return Err(StoreError::SchemaTooNew { found: legacy, known: latest() });
        }
        // Made by the `user_version` scheme: its first `legacy` migrations are in place.
        migrator.skip(&mut *tx, Some(legacy)).await.map_err(StoreError::Migrate)?;
    }
    migrator.run(&mut *tx).await.map_err(|e| match e {
        MigrateError::VersionMissing(found) => StoreError::SchemaTooNew { found, known: latest() },
        other => StoreError::Migrate(other),
    })?;
    let applied: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations")
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("v"))
        .during("reading the applied migrations")?;
    sqlx::raw_sql(AssertSqlSafe(format!("PRAGMA user_version = {applied}")))
        .execute(&mut *tx)
        .await
        .during("recording the schema version")?;
    // Enforcement was off while tables were rebuilt: every reference must still hold.
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_optional(&mut *tx)
        .await
        .during("checking references after the migration")?;
    if let Some(row) = broken {
        let table: String = row.try_get(0).during("checking references after the migration")?;
        let parent: String = row.try_get(2).during("checking references after the migration")?;
        return Err(StoreError::BrokenReferences { table, parent });
    }
    tx.commit().await.during("committing the migration")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn every_file_of_the_folder_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "migrations/sqlite has files the list does not name");
        for ((name, sql), (i, &(version, description, embedded))) in files.iter().zip(MIGRATIONS.iter().enumerate()) {
            assert_eq!(version, i as i64 + 1, "versions go 1, 2, 3...");
            let expected = format!("{version:04}_{}.sql", description.replace(' ', "_"));
            assert_eq!(name, &expected);
            assert_eq!(sql, embedded);
        }
    }
}
