//! A fresh database per test, on either backend: an SQLite file in a temporary folder, or a new
//! database on the machine's PostgreSQL server, dropped when the test ends (also when it fails:
//! the guard drops it while unwinding). Included by `#[path]` from each test file that needs it.
//!
//! The server is `postgres://postgres@127.0.0.1:5432` unless `NANGO_TEST_POSTGRES_URL` names
//! another (its database part is the one to connect to for creating and dropping; each test
//! gets a database of its own beside it). An unreachable server fails the test with how to start
//! one: the PostgreSQL half of a suite is never skipped in silence.
#![allow(dead_code)]

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use std::sync::atomic::{AtomicU32, Ordering};

/// The server the tests create their databases on, as a URL to its maintenance database.
pub fn postgres_admin_url() -> String {
    std::env::var("NANGO_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database replaced by `database` (the query string, if any, is kept).
fn with_database(url: &str, database: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let base = match before_query[authority_start..].find('/') {
        Some(slash) => &before_query[..authority_start + slash],
        None => before_query,
    };
    format!("{base}/{database}{query}")
}

async fn admin_connection(admin_url: &str) -> PgConnection {
    match PgConnection::connect(admin_url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {admin_url} ({e}). The store tests run against SQLite and \
             PostgreSQL alike; `cargo xtask setup` installs and starts a local server (127.0.0.1:5432, user \
             `postgres`, trust authentication), or set NANGO_TEST_POSTGRES_URL to a server where this user \
             may create databases"
        ),
    }
}

/// A database of its own on the test server, dropped with the guard.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    /// Creates a new, empty database (named after the process and a counter, so tests of
    /// several processes at once never share one).
    pub async fn create() -> PostgresDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin_url = postgres_admin_url();
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let name = format!(
            "nango_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            stamp.subsec_micros()
        );
        let mut admin = admin_connection(&admin_url).await;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name} at {admin_url}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        PostgresDatabase { admin_url, name, url }
    }

    /// The database's URL, for `Store::open` or `NANGO_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Does to the database's clients what a restart of the server does, without touching the
    /// other databases of the shared server: new connections are refused, every open one is
    /// ended (`pg_terminate_backend`: the error a shutting-down server sends), and after
    /// `down` connections are accepted again. How many connections it ended.
    pub async fn restart(&self, down: std::time::Duration) -> u64 {
        let mut admin = admin_connection(&self.admin_url).await;
        let quoted = format!("\"{}\"", self.name);
        sqlx::raw_sql(AssertSqlSafe(format!("ALTER DATABASE {quoted} ALLOW_CONNECTIONS false")))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut ended = 0;
        // Twice: a connection that was starting when connections were refused shows up late.
        for pause in [std::time::Duration::from_millis(100), down.saturating_sub(std::time::Duration::from_millis(100))]
        {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1) t",
            )
            .bind(&self.name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
            ended += n as u64;
            tokio::time::sleep(pause).await;
        }
        sqlx::raw_sql(AssertSqlSafe(format!("ALTER DATABASE {quoted} ALLOW_CONNECTIONS true")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        ended
    }

    /// How many sessions of the database are listening (their last statement a `LISTEN`).
    pub async fn listening_sessions(&self) -> i64 {
        let mut admin = admin_connection(&self.admin_url).await;
        let n =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'")
                .bind(&self.name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        let _ = admin.close().await;
        n
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // On a thread of its own with its own runtime: a guard may be dropped inside the test's
        // runtime (which must not block on itself) or while a failed test unwinds. `FORCE`
        // ends the sessions a store still holds.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                let done = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
                done.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop the test database {} at {}", self.name, self.admin_url);
        }
    }
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file in a temporary folder.
    Sqlite,
    /// A database on the test server.
    Postgres,
}

/// A test's database on one backend.
pub enum TestDb {
    /// The folder holding `nango.db`.
    Sqlite(tempfile::TempDir),
    /// The database on the test server.
    Postgres(PostgresDatabase),
}

impl TestDb {
    /// A new, empty database on `backend`.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::Sqlite(tempfile::tempdir().unwrap()),
            Backend::Postgres => TestDb::Postgres(PostgresDatabase::create().await),
        }
    }

    /// Its backend.
    pub fn backend(&self) -> Backend {
        match self {
            TestDb::Sqlite(_) => Backend::Sqlite,
            TestDb::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL `Store::open` takes.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}", dir.path().join("nango.db").display()),
            TestDb::Postgres(db) => db.url().to_owned(),
        }
    }

    /// Whether `needle` is anywhere in what the database keeps: the bytes of its files (SQLite),
    /// or the text form of every row of every table, where binary columns show as hex, so the
    /// needle is looked for in clear and in hex (PostgreSQL).
    pub async fn contains(&self, needle: &[u8]) -> bool {
        match self {
            TestDb::Sqlite(dir) => std::fs::read_dir(dir.path()).unwrap().any(|entry| {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                bytes.windows(needle.len()).any(|w| w == needle)
            }),
            TestDb::Postgres(db) => {
                let mut conn = PgConnection::connect(db.url()).await.unwrap();
                let tables: Vec<String> =
                    sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
                let clear = String::from_utf8_lossy(needle).into_owned();
                let mut found = false;
                for table in tables {
                    let rows: Vec<String> =
                        sqlx::query_scalar(AssertSqlSafe(format!("SELECT t::text FROM \"{table}\" t")))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    found |= rows.iter().any(|row| row.contains(&clear) || row.contains(&hex));
                }
                let _ = conn.close().await;
                found
            }
        }
    }
}

/// Runs each named `async fn name(db: TestDb)` on both backends, as the tests `name::sqlite` and
/// `name::postgres`, so the two cannot drift apart. Two worker threads, so that tasks a test
/// spawns (concurrent writers, readers) truly run at once.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test(super::db::TestDb::new(super::db::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test(super::db::TestDb::new(super::db::Backend::Postgres).await).await
            }
        }
    )*};
}

#[test]
fn database_urls_keep_the_server_and_the_options() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(with_database("postgres://u:p@h/postgres?sslmode=disable", "t1"), "postgres://u:p@h/t1?sslmode=disable");
    assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
}
