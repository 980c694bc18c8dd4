//! The PostgreSQL schema: `migrations/postgres/NNNN_name.sql`, run by sqlx's migrator.
//!
//! The files are embedded with `include_str!` (no migration macro), as for SQLite. Versions
//! follow SQLite's: the first file, 0010, is the schema of SQLite's 0001 to 0010 in one step,
//! and a later change of both schemas takes the same number in both folders (a change of one
//! backend only takes a number neither folder uses yet).
//!
//! sqlx's migrator holds an advisory lock while it runs and each migration is a transaction, so
//! processes starting at once on a new database migrate it once.

use crate::store::{StoreError, StoreResult};
use sqlx::SqlSafeStr;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::postgres::PgConnection;
use std::borrow::Cow;

/// `(version, description, SQL)`, in order; the version is the file's number.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        10,
        "schema of sqlite 0001 to 0010",
        include_str!("../../../migrations/postgres/0010_schema_of_sqlite_0001_to_0010.sql"),
    ),
    (11, "deployments", include_str!("../../../migrations/postgres/0011_deployments.sql")),
    (12, "task queue", include_str!("../../../migrations/postgres/0012_task_queue.sql")),
    (
        13,
        "records by change time and deleted",
        include_str!("../../../migrations/postgres/0013_records_by_change_time_and_deleted.sql"),
    ),
    (14, "deployed sync versions", include_str!("../../../migrations/postgres/0014_deployed_sync_versions.sql")),
    (15, "page validators", include_str!("../../../migrations/postgres/0015_page_validators.sql")),
];

/// The newest schema version this program knows.
fn latest() -> i64 {
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

/// Brings the schema up to date; a database migrated by a newer program is refused.
pub(super) async fn migrate(conn: &mut PgConnection) -> StoreResult<()> {
    migrator().run(conn).await.map_err(|e| match e {
        MigrateError::VersionMissing(found) => StoreError::SchemaTooNew { found, known: latest() },
        other => StoreError::Migrate(other),
    })
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn every_file_of_the_folder_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "migrations/postgres has files the list does not name");
        let mut last = 0;
        for ((name, sql), &(version, description, embedded)) in files.iter().zip(MIGRATIONS) {
            assert!(version > last, "versions grow");
            last = version;
            assert_eq!(name, &format!("{version:04}_{}.sql", description.replace(' ', "_")));
            assert_eq!(sql, embedded);
        }
    }
}
