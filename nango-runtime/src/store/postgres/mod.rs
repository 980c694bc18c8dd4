//! The store for many processes on many machines: one PostgreSQL database, through sqlx.
//!
//! Same behaviour as the SQLite backend behind the same traits (one store test suite runs
//! against both); the statements are PostgreSQL's:
//! - `$n` placeholders and arrays (`id = ANY($3)`, `UNNEST` for a batch's rows), so a batch of
//!   any size is one statement;
//! - no database-wide write lock: writers that read, decide and write take a transaction-scoped
//!   advisory lock on what they change (see [`lock`]), so writers of different connections never
//!   wait for each other;
//! - keys from identity columns and the records' `seq` from a sequence; times as integer
//!   microseconds, as in SQLite (the records cursor carries them).
//!
//! The schema is in `migrations/postgres/`, run by sqlx's migrator (which holds an advisory lock
//! while it migrates, so processes starting at once do not both migrate).

mod connections;
mod delivery;
mod deploy;
mod migrate;
mod records;
mod schedule;
mod tasks;

use super::backend::Backend;
use super::error::During;
use super::page::{Body, PageOf, Records};
use super::sql::take_pool_size;
use super::*;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _};
use std::str::FromStr;
use std::time::Duration;

// Connect sessions, integrations and action results: the SQL shared with SQLite.
super::sql::connect::connect_backend!(PostgresBackend);
super::sql::integrations::integration_backends!(PostgresBackend, sqlx::postgres::PgRow);
super::sql::validators::validator_backend!(PostgresBackend);

/// Connections per process unless the URL says `pool_size=N`: API handlers, the scheduler and
/// runs share them. PostgreSQL's default limit is 100 connections for the whole server, so
/// several processes fit.
const POOL_SIZE: u32 = 10;

/// The PostgreSQL backend. Most programs open it through [`Store::open`] with a `postgres://`
/// URL (`NANGO_DATABASE_URL`).
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use nango_runtime::store::{PostgresBackend, Store, backend::Backend};
/// // Creates the database `nango` when the server has none of that name.
/// let backend = PostgresBackend::open("postgres://postgres@127.0.0.1:5432/nango").await.unwrap();
/// assert_eq!(backend.name(), "postgres");
/// let store = Store::from_backend(std::sync::Arc::new(backend), nango_runtime::crypto::Sealer::InsecureClear);
/// store.save_connection(&nango_runtime::Connection::new("github", "acme", "github")).await.unwrap();
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pool: PgPool,
    /// A pool of one connection for runners' `LISTEN`, which holds its connection for good: it
    /// never takes one of `pool`'s, so a small or busy pool cannot leave the queue's work waiting
    /// behind the listener.
    listen: PgPool,
}

impl PostgresBackend {
    /// Opens the database a `postgres://user[:password]@host[:port]/database` URL names,
    /// creating the database when the server has none of that name (as SQLite creates its file),
    /// and brings its schema up to date (see `migrations/postgres/`). `?pool_size=N` sets how
    /// many connections the process keeps open at most (10 by default; one more is kept for
    /// runners' `LISTEN`); the other parameters are libpq's.
    pub async fn open(url: &str) -> StoreResult<PostgresBackend> {
        let shown = without_password(url);
        let invalid = |source| StoreError::InvalidUrl { url: shown.clone(), source };
        let (url, pool_size) = take_pool_size(url).map_err(|e| invalid(sqlx::Error::Configuration(e.into())))?;
        let options = PgConnectOptions::from_str(&url).map_err(invalid)?;
        // One attempt first, on a connection of its own that then migrates: a server that does
        // not answer is reported at once (a pool would retry until its timeout), and a missing
        // database is created.
        let mut first = match options.connect().await {
            Err(e) if is_missing_database(&e) => {
                create_database(&options).await.map_err(|source| StoreError::Open { url: shown.clone(), source })?;
                options.connect().await
            }
            other => other,
        }
        .map_err(|source| StoreError::Open { url: shown.clone(), source })?;
        let migrated = migrate::migrate(&mut first).await;
        let _ = first.close().await;
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.unwrap_or(POOL_SIZE))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options.clone());
        let listen = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        Ok(PostgresBackend { pool, listen })
    }

    /// The pool, for queries the traits do not cover (benchmarks, inspection).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction for writing: PostgreSQL takes row locks as statements need them, so this
    /// is a plain `BEGIN` (the SQLite backend's takes the write lock up front).
    async fn write_transaction(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await
    }
}

/// Whether connecting failed because the database does not exist (SQLSTATE 3D000).
fn is_missing_database(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|code| code == "3D000")
}

/// Creates the database `options` names, from the server's `postgres` database. Another process
/// creating it at the same time is no error.
async fn create_database(options: &PgConnectOptions) -> sqlx::Result<()> {
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = options.clone().database("postgres").connect().await?;
    let created =
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {}", quote_identifier(&name)))).execute(&mut admin).await;
    let _ = admin.close().await;
    match created {
        // 42P04: duplicate_database.
        Err(e) if e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "42P04") => Ok(()),
        other => other.map(drop),
    }
}

/// An SQL identifier in double quotes (a database name is not a bind parameter).
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL with its password (if any) replaced by `***`, for messages.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Takes a transaction-scoped advisory lock on `(connection, scope, name)`: writers of the same
/// thing (the records of one model, the runs of one sync) wait for each other until the holder's
/// transaction ends; others go on. Keys are 64-bit hashes, so two things may share one now and
/// then: they then wait for each other, which is slower but never wrong.
async fn lock(conn: &mut PgConnection, connection: ConnectionKey, scope: &str, name: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind(format!("nango:{scope}:{name}"))
        .bind(connection.get())
        .execute(&mut *conn)
        .await
        .during("locking what the transaction changes")?;
    Ok(())
}

#[async_trait]
impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn records_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<RecordPage>> {
        let of = PageOf::Name(provider_config_key.to_owned(), connection_id.to_owned());
        records::page(self, &of, query, Records::default()).await
    }

    async fn records_json_of(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        query: &RecordQuery,
    ) -> StoreResult<Option<String>> {
        let of = PageOf::Name(provider_config_key.to_owned(), connection_id.to_owned());
        records::page(self, &of, query, Body::new(query.limit.max(1) as usize)).await
    }

    async fn close(&self) {
        self.listen.close().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::{quote_identifier, without_password};

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(without_password("postgres://nango:s3cret@db:5432/nango"), "postgres://nango:***@db:5432/nango");
        assert_eq!(without_password("postgres://a:b@c@db/x?sslmode=require"), "postgres://a:***@db/x?sslmode=require");
        assert_eq!(without_password("postgres://postgres@127.0.0.1/nango"), "postgres://postgres@127.0.0.1/nango");
        assert_eq!(without_password("postgres:///nango"), "postgres:///nango");
    }

    #[test]
    fn database_names_are_quoted() {
        assert_eq!(quote_identifier("nango"), "\"nango\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
