//! Load on `GET /records` with 1M stored records, beside the same query run straight on the
//! database in the same process (no HTTP, no JSON), at the same concurrency: through sqlx's
//! pool, and on SQLite also with rusqlite on blocking threads (how the SQLite store reads the
//! API's pages, so the ratio to it is what HTTP and the JSON cost). Last, the HTTP floor: the
//! same clients against a bare axum server answering each request with the API's own page for
//! that cursor from memory, which is what HTTP alone costs on the same cores.
//!
//! `cargo bench -p nango-runtime --bench records_api` (`RECORDS_BENCH_N`, `RECORDS_BENCH_SECS`
//! and `RECORDS_BENCH_CONCURRENCY` override 1,000,000 records, 10 s and 32 clients). With
//! `RECORDS_BENCH_BACKEND=postgres` the store is a new database on the test server
//! (`NANGO_TEST_POSTGRES_URL`, default the local one), dropped at the end, and the same query
//! is also run by PostgreSQL's own load generator in the same run:
//! `pgbench -n -f query.sql -c 32 -j 2 -T 10`, once with `-M simple` (text statements, as psql
//! sends them) and once with `-M prepared` (as sqlx sends them), with the cursor spread over the
//! same start points (`\set` random); `RECORDS_BENCH_PGBENCH` names the program
//! (default `pgbench` on the `PATH`) and `RECORDS_BENCH_PGBENCH_THREADS` its `-j` (2);
//! `RECORDS_BENCH_PG_POOL=N` sets the store's pool size (`pool_size=N`, default 10).

// The shared test syncs' generated code names the runtime `::nango` (the facade crate).
extern crate nango_runtime as nango;

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/db.rs"]
mod db;

use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::backend::Backend;
use nango_runtime::store::{ConnectionKey, PostgresBackend, PreparedRecord, SqliteBackend, Store};
use nango_runtime::{Connection, RecordChange};
use sqlx::Row;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Figures {
    requests: u64,
    records: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }
}

/// Runs `concurrency` workers for `secs`; each call of `one(start)` reads one page starting at
/// the cursor `start` and returns how many records it got.
async fn load<F, Fut>(concurrency: u64, secs: u64, starts: Arc<Vec<String>>, one: F) -> Figures
where
    F: Fn(String) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = u64> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (one, starts) = (one.clone(), starts.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut records = 0;
            let mut i = worker as usize * 7919;
            while Instant::now() < deadline {
                let start = starts[i % starts.len()].clone();
                i += 104_729;
                let t = Instant::now();
                records += one(start).await;
                latencies.push(t.elapsed());
            }
            (latencies, records)
        }));
    }
    let mut figures = Figures { requests: 0, records: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    for t in tasks {
        let (latencies, records) = t.await.expect("worker");
        figures.requests += latencies.len() as u64;
        figures.records += records;
        figures.latencies.extend(latencies);
    }
    figures.elapsed = started.elapsed();
    figures
}

/// The database's own pool, for the baseline: the query the API runs, straight on it.
#[derive(Clone)]
enum Direct {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    /// Read-only rusqlite connections used on blocking threads, at most as many at once as the
    /// store's own readers (how the SQLite store reads the API's pages).
    Blocking(Arc<Blocking>),
}

/// Idle read-only connections and the permits that bound how many read at once.
struct Blocking {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Blocking {
    fn new(path: std::path::PathBuf) -> Blocking {
        // As the store sizes its readers (`store/sqlite/mod.rs`).
        let readers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
        Blocking { path, idle: Default::default(), permits: Arc::new(tokio::sync::Semaphore::new(readers)) }
    }

    async fn page(self: &Arc<Self>, key: ConnectionKey, seq: i64, pk: i64) -> u64 {
        let permit = self.permits.clone().acquire_owned().await.expect("permit");
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = this.idle.lock().unwrap().pop().unwrap_or_else(|| {
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = rusqlite::Connection::open_with_flags(&this.path, flags).expect("reader");
                // As the store's readers: plans never depend on bound values, so statements are
                // not re-prepared for each cursor.
                conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).expect("QPSG");
                conn
            });
            let mut count = 0;
            {
                let mut statement = conn.prepare_cached(PAGE).expect("prepare");
                let mut rows = statement.query(rusqlite::params![key.get(), "Issue", seq, pk, 101i64]).expect("query");
                while let Some(row) = rows.next().expect("row") {
                    if count < 100 && row.get_ref(2).expect("json").as_str().is_ok() {
                        count += 1;
                    }
                }
            }
            this.idle.lock().unwrap().push(conn);
            count
        })
        .await
        .expect("reader")
    }
}

/// The query of `GET /records` after a cursor (the same text on both: `$n` placeholders and a
/// row comparison; on PostgreSQL the very text `store/postgres/records.rs` sends); rows fetched
/// and their JSON read, nothing encoded.
const PAGE: &str = "SELECT pk, id, json, first_seen_at, last_modified_at, last_action, deleted_at, pruned_at, seq FROM records \
                    WHERE connection = $1 AND model = $2 AND (seq, pk) > ($3, $4) ORDER BY seq, pk LIMIT $5";

impl Direct {
    fn name(&self) -> &'static str {
        match self {
            Direct::Sqlite(_) | Direct::Blocking(_) => "SQLite",
            Direct::Postgres(_) => "PostgreSQL",
        }
    }

    /// One page of 100 after `(seq, pk)`; how many records it got.
    async fn page(&self, key: ConnectionKey, seq: i64, pk: i64) -> u64 {
        let json = |rows: Vec<String>| rows.into_iter().take(100).count() as u64;
        match self {
            Direct::Sqlite(pool) => {
                let rows = sqlx::query(PAGE).bind(key.get()).bind("Issue").bind(seq).bind(pk).bind(101i64);
                let rows = rows.fetch_all(pool).await.expect("query");
                json(rows.iter().map(|row| row.get("json")).collect())
            }
            Direct::Postgres(pool) => {
                let rows = sqlx::query(PAGE).bind(key.get()).bind("Issue").bind(seq).bind(pk).bind(101i64);
                let rows = rows.fetch_all(pool).await.expect("query");
                json(rows.iter().map(|row| row.get("json")).collect())
            }
            Direct::Blocking(readers) => readers.page(key, seq, pk).await,
        }
    }
}

#[tokio::main]
async fn main() {
    let n = env("RECORDS_BENCH_N", 1_000_000);
    let secs = env("RECORDS_BENCH_SECS", 10);
    let concurrency = env("RECORDS_BENCH_CONCURRENCY", 32);
    let dir = tempfile::tempdir().expect("temp dir");
    let postgres = std::env::var("RECORDS_BENCH_BACKEND").is_ok_and(|b| b == "postgres");
    // Dropped at the end (the guard).
    let pg_database = if postgres { Some(db::PostgresDatabase::create().await) } else { None };
    // The backend is opened directly so the baseline below can query its pool.
    let (backend, direct): (Arc<dyn Backend>, Direct) = match &pg_database {
        Some(database) => {
            // `RECORDS_BENCH_PG_POOL=N`: the store's pool size (`pool_size=N`), shared by the
            // API and the direct query.
            let url = match std::env::var("RECORDS_BENCH_PG_POOL") {
                Ok(n) => {
                    format!("{}{}pool_size={n}", database.url(), if database.url().contains('?') { '&' } else { '?' })
                }
                Err(_) => database.url().to_owned(),
            };
            let backend = PostgresBackend::open(&url).await.expect("store");
            let pool = backend.pool().clone();
            (Arc::new(backend), Direct::Postgres(pool))
        }
        None => {
            let url = format!("sqlite://{}", dir.path().join("nango.db").display());
            let backend = SqliteBackend::open(&url).await.expect("store");
            let pool = backend.pool().clone();
            (Arc::new(backend), Direct::Sqlite(pool))
        }
    };
    let store = Store::from_backend(backend, Sealer::InsecureClear);
    let key = store.save_connection(&Connection::new("github", "bench", "github")).await.expect("connection");

    let fill = Instant::now();
    let run = store.begin_run(key, "issues-incremental", false).await.expect("run");
    for chunk in 0..n.div_ceil(1000) {
        let records: Vec<PreparedRecord> = (chunk * 1000..((chunk + 1) * 1000).min(n))
            .map(|i| {
                let json = serde_json::json!({"id": (1_000_000 + i).to_string(), "number": i, "title": format!("Issue #{i}: something to fix in the sync engine"),
                    "state": if i % 3 == 0 { "closed" } else { "open" }, "updated_at": "2024-01-01T00:00:00Z"});
                PreparedRecord::new("Issue", json).expect("record")
            })
            .collect();
        store.apply(run.ids, "Issue", RecordChange::Save, records).await.expect("apply");
    }
    eprintln!("stored {n} records in {:.1?}", fill.elapsed());

    // Start points spread over the whole table: the cursor of every 1000th record.
    let mut starts = Vec::new();
    let mut query = nango_runtime::store::RecordQuery { model: "Issue".into(), limit: 1000, ..Default::default() };
    loop {
        let page = store.records(key, &query).await.expect("page");
        if let Some(first) = page.records.first() {
            starts.push(first.metadata.cursor.clone());
        }
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    let starts = Arc::new(starts);

    // Baseline: the query the API runs, straight on the database (rows fetched, nothing encoded).
    let decode = |cursor: &str| -> (i64, i64) {
        use base64::Engine;
        let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(cursor).unwrap()).unwrap();
        let (_, pos) = text.split_once("||").unwrap();
        let (seq, pk) = pos.split_once('.').unwrap();
        (seq.parse().unwrap(), pk.parse().unwrap())
    };
    let positions: Vec<(i64, i64)> = starts.iter().map(|c| decode(c)).collect();
    let baseline_direct = direct.clone();
    let mut baseline = load(concurrency, secs, starts.clone(), move |cursor| {
        let direct = baseline_direct.clone();
        let (seq, pk) = decode(&cursor);
        async move { direct.page(key, seq, pk).await }
    })
    .await;

    // On SQLite, the same query as the store reads the API's pages: rusqlite on blocking threads.
    let mut others = Vec::new();
    if pg_database.is_none() {
        let readers = Direct::Blocking(Arc::new(Blocking::new(dir.path().join("nango.db"))));
        let figures = load(concurrency, secs, starts.clone(), move |cursor| {
            let readers = readers.clone();
            let (seq, pk) = decode(&cursor);
            async move { readers.page(key, seq, pk).await }
        })
        .await;
        others.push(("same query on SQLite (rusqlite, blocking threads)".to_owned(), figures));
    }

    // PostgreSQL's own client on the same query and start points, between the two.
    if let Some(database) = &pg_database {
        for mode in ["simple", "prepared"] {
            let (url, dir) = (database.url().to_owned(), dir.path().to_owned());
            let positions = positions.clone();
            let figures =
                tokio::task::spawn_blocking(move || pgbench(&url, key, &positions, concurrency, secs, mode, &dir))
                    .await
                    .expect("pgbench");
            others.push((format!("same query by pgbench -M {mode}"), figures));
        }
    }

    let mut options =
        ServeOptions { addr: "127.0.0.1:0".parse().unwrap(), secret_key: KEY.into(), ..Default::default() };
    // Only the API is measured: no schedule may run during the load.
    options.scheduler.tick = Duration::from_secs(3600);
    store.set_paused(key, "issues-incremental", Some(true)).await.expect("pause");
    let server = Server::start(Runtime::new(store), options).await.expect("server");
    let base = format!("http://{}/records?model=Issue&limit=100&cursor=", server.addr());
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency as usize).build().expect("client");
    // Each start point's page as the API serves it, for the HTTP floor below.
    let mut bodies = std::collections::HashMap::new();
    for cursor in starts.iter() {
        let body = get_page(&client, format!("{base}{}", urlencode(cursor))).await;
        bodies.insert(cursor.clone(), axum::body::Bytes::from(body));
    }
    let api_client = client.clone();
    let mut api = load(concurrency, secs, starts.clone(), move |cursor| {
        let (client, url) = (api_client.clone(), format!("{base}{}", urlencode(&cursor)));
        async move { count_records(&get_page(&client, url).await) }
    })
    .await;
    server.shutdown().await;

    // The HTTP floor: the same clients and requests against a bare axum server in the same
    // process that answers each with the API's own page for that cursor, held in memory (no
    // store, no query). What HTTP alone costs on these cores: the API can serve no more.
    let floor_addr = http_floor(bodies).await;
    let floor_base = format!("http://{floor_addr}/records?model=Issue&limit=100&cursor=");
    let mut floor = load(concurrency, secs, starts.clone(), move |cursor| {
        let (client, url) = (client.clone(), format!("{floor_base}{}", urlencode(&cursor)));
        async move { count_records(&get_page(&client, url).await) }
    })
    .await;

    let rate = |f: &Figures| f.requests as f64 / f.elapsed.as_secs_f64();
    println!("| | requests/s | records/s | p50 | p99 |");
    println!("| --- | --- | --- | --- | --- |");
    let direct_name = format!("same query on {} (sqlx)", direct.name());
    let (floor_rate, direct_rate) = (rate(&floor), rate(&baseline));
    let mut rows = vec![
        ("GET /records (HTTP, JSON)".to_owned(), &mut api),
        (direct_name, &mut baseline),
        ("HTTP floor: the same pages from memory (axum, no store)".to_owned(), &mut floor),
    ];
    rows.extend(others.iter_mut().map(|(name, f)| (name.clone(), f)));
    for (name, f) in rows {
        let (p50, p99) = (f.percentile(0.5), f.percentile(0.99));
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} ms | {:.2} ms |",
            rate(f),
            f.records as f64 / f.elapsed.as_secs_f64(),
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    }
    println!(
        "\n{n} records stored, {concurrency} concurrent clients, {secs} s each; API throughput = {:.2}x the direct query (sqlx)",
        rate(&api) / rate(&baseline)
    );
    // If a request cost the cores the HTTP floor's work and then the direct query's, one after
    // the other, the API could serve at most this many a second.
    let chained = 1.0 / (1.0 / floor_rate + 1.0 / direct_rate);
    println!(
        "HTTP floor = {:.2}x the direct query; the floor and the query one after the other: {chained:.0} requests/s = {:.2}x the direct query; API = {:.2}x that",
        floor_rate / direct_rate,
        chained / direct_rate,
        rate(&api) / chained
    );
    for (name, f) in &others {
        let chained = 1.0 / (1.0 / floor_rate + 1.0 / rate(f));
        println!(
            "API throughput = {:.2}x the {name}; the direct query (sqlx) = {:.2}x it; the floor and it one after the other: {chained:.0} requests/s = {:.2}x the direct query (sqlx); API = {:.2}x that",
            rate(&api) / rate(f),
            rate(&baseline) / rate(f),
            chained / direct_rate,
            rate(&api) / chained
        );
    }
}

/// One `GET /records` page's body, as a Nango SDK asks for it.
async fn get_page(client: &reqwest::Client, url: String) -> String {
    let response = client
        .get(url)
        .bearer_auth(KEY)
        .header("Connection-Id", "bench")
        .header("Provider-Config-Key", "github")
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response.text().await.expect("body")
}

/// The records of a page, counted, not parsed: the load generator shares the cores with the
/// server.
fn count_records(body: &str) -> u64 {
    body.matches("\"_nango_metadata\"").count() as u64
}

/// Starts the HTTP floor: `GET /records?cursor=…` answered with `bodies[cursor]` as JSON
/// (after the same bearer check a request of the API needs); its address.
async fn http_floor(bodies: std::collections::HashMap<String, axum::body::Bytes>) -> std::net::SocketAddr {
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use std::collections::HashMap;
    type Bodies = Arc<HashMap<String, axum::body::Bytes>>;
    async fn page(
        State(bodies): State<Bodies>,
        headers: HeaderMap,
        Query(query): Query<HashMap<String, String>>,
    ) -> Result<([(header::HeaderName, &'static str); 1], axum::body::Bytes), StatusCode> {
        let bearer = format!("Bearer {KEY}");
        if headers.get(header::AUTHORIZATION).is_none_or(|v| v.as_bytes() != bearer.as_bytes()) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let body = query.get("cursor").and_then(|c| bodies.get(c)).ok_or(StatusCode::NOT_FOUND)?;
        Ok(([(header::CONTENT_TYPE, "application/json")], body.clone()))
    }
    let app = axum::Router::new().route("/records", axum::routing::get(page)).with_state(Arc::new(bodies));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("floor listener");
    let addr = listener.local_addr().expect("floor address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("floor server") });
    addr
}

/// Runs `pgbench` (`-M mode`, `concurrency` clients, 2 threads, `secs` seconds) on the page
/// query with the cursor drawn at random among `positions` (the `(seq, pk)` of the start points,
/// which the fill makes evenly spaced: one batch of 1,000 records, one `seq`, per start); its
/// figures, latencies from its per-transaction log.
fn pgbench(
    url: &str,
    key: ConnectionKey,
    positions: &[(i64, i64)],
    concurrency: u64,
    secs: u64,
    mode: &str,
    dir: &std::path::Path,
) -> Figures {
    let (seq0, pk0) = positions[0];
    let (dseq, dpk) = positions.get(1).map_or((0, 0), |(s, p)| (s - seq0, p - pk0));
    let regular =
        positions.iter().enumerate().all(|(j, &(s, p))| s == seq0 + j as i64 * dseq && p == pk0 + j as i64 * dpk);
    assert!(regular, "the start points are not evenly spaced; pgbench's \\set cannot draw them");
    // The store's text with the values pgbench substitutes (simple) or binds (prepared).
    let sql = PAGE
        .replace("$1", &key.get().to_string())
        .replace("$2", "'Issue'")
        .replace("$3", ":seq")
        .replace("$4", ":pk")
        .replace("$5", "101");
    let script = format!(
        "\\set j random(0, {})\n\\set seq {seq0} + :j * {dseq}\n\\set pk {pk0} + :j * {dpk}\n{sql};\n",
        positions.len() - 1
    );
    let file = dir.join("query.sql");
    std::fs::write(&file, &script).expect("query.sql");
    let logs = dir.join(format!("pgbench-{mode}"));
    std::fs::create_dir_all(&logs).expect("log folder");
    let program = std::env::var("RECORDS_BENCH_PGBENCH").unwrap_or_else(|_| "pgbench".into());
    let threads = env("RECORDS_BENCH_PGBENCH_THREADS", 2).to_string();
    let (clients, secs_text) = (concurrency.to_string(), secs.to_string());
    let args = ["-n", "-f", file.to_str().expect("path"), "-c", &clients, "-j", &threads, "-T", &secs_text, "-M", mode];
    eprintln!("{program} {} {url}\n{script}", args.join(" "));
    let prefix = logs.join("log");
    let out = std::process::Command::new(&program)
        .args(args)
        .args(["-l", "--log-prefix", prefix.to_str().expect("path"), url])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{program} failed: {said}{}", String::from_utf8_lossy(&out.stderr));
    let tps: f64 = said
        .lines()
        .find_map(|l| l.strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench's output: {said}"));
    // One line per transaction: client, number, latency in microseconds, ...
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&logs).expect("logs") {
        let text = std::fs::read_to_string(entry.expect("log").path()).expect("log");
        latencies.extend(
            text.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()).map(Duration::from_micros),
        );
    }
    let requests = latencies.len() as u64;
    Figures {
        requests,
        records: requests * 100,
        elapsed: Duration::from_secs_f64(requests as f64 / tps.max(f64::EPSILON)),
        latencies,
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
