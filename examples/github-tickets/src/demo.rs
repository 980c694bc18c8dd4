//! `github-tickets demo`: the seed's loop end to end on embedded defaults.

use clap::Parser;
use nango::crypto::Sealer;
use nango::engine::Runtime;
use nango::store::{ModelCounts, RecordQuery, Store};
use nango::{Connection, Credentials, Secret};
use nango_mock_provider::{IssueState, IssueUpdate, MockProvider};
use std::process::ExitCode;

/// `println!` that ignores a closed stdout (`| head`), where `println!` would panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Runs the github-tickets sync end to end and prints the tickets.
#[derive(Debug, Parser)]
#[command(name = "github-tickets demo")]
struct DemoArgs {
    /// GitHub repository owner (with GITHUB_TOKEN: sync real GitHub).
    #[arg(long, requires = "repo")]
    owner: Option<String>,
    /// GitHub repository name.
    #[arg(long, requires = "owner")]
    repo: Option<String>,
    /// Issues the mock provider serves.
    #[arg(long, default_value_t = 250)]
    issues: u64,
    /// Database URL.
    #[arg(long, env = "NANGO_DATABASE_URL", default_value = "sqlite://nango.db")]
    database: String,
    /// Tickets printed at the end.
    #[arg(long, default_value_t = 10)]
    show: u32,
    /// Then keep running as the service: the sync on its schedule, the records API, the
    /// console and `/metrics`, until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Port of the service.
    #[arg(long, env = "NANGO_PORT", default_value_t = 3003)]
    port: u16,
}

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Parses the demo's arguments and runs it.
pub fn main(args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    let args = DemoArgs::parse_from(std::iter::once("github-tickets demo".into()).chain(args));
    nango::cli::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_counts(label: &str, counts: &ModelCounts) {
    let text: Vec<String> = counts
        .iter()
        .map(|(m, c)| format!("{m}: {} added, {} updated, {} deleted", c.added, c.updated, c.deleted))
        .collect();
    out!("{label}: {}", if text.is_empty() { "no changes".to_string() } else { text.join("; ") });
}

async fn run(args: DemoArgs) -> DemoResult<()> {
    let real = match (&args.owner, &args.repo, std::env::var("GITHUB_TOKEN")) {
        (Some(_), Some(_), Ok(token)) if !token.is_empty() && !cfg!(feature = "tls") => {
            return Err(
                "syncing real GitHub needs HTTPS: run with `cargo run -p github-tickets --features tls -- ...`".into(),
            );
        }
        (Some(owner), Some(repo), Ok(token)) if !token.is_empty() => Some((owner.clone(), repo.clone(), token)),
        (Some(_), Some(_), _) => return Err("--owner/--repo sync real GitHub and need GITHUB_TOKEN to be set".into()),
        _ => None,
    };
    let mut mock = None;
    let (connection, store) = match &real {
        Some((owner, repo, token)) => {
            // A real token is a secret: it is stored only sealed with NANGO_ENCRYPTION_KEY.
            let store = Store::open(&args.database, Sealer::from_env(false)?).await?;
            let mut c = Connection::new("github", format!("{owner}-{repo}"), "github");
            c.credentials = Credentials::Bearer { token: Secret::new(token) };
            c.metadata = serde_json::json!({"owner": owner, "repo": repo});
            (c, store)
        }
        None => {
            let server = MockProvider::builder().issues(args.issues).token("demo-token").start().await?;
            out!("mock GitHub serving {} issues at {}", args.issues, server.url());
            // The mock's token is not a secret; without NANGO_ENCRYPTION_KEY it is stored in clear.
            let store = Store::open(&args.database, Sealer::from_env(true)?).await?;
            let mut c = Connection::new("github", "demo", "github");
            c.credentials = Credentials::Bearer { token: Secret::new("demo-token") };
            c.base_url = Some(server.url().to_owned());
            c.metadata = serde_json::json!({"owner": "nango-rs", "repo": "demo"});
            mock = Some(server);
            (c, store)
        }
    };
    let key = store.save_connection(&connection).await?;
    let sync = nango::registered_syncs()
        .find(|s| s.descriptor.name == "github-tickets")
        .ok_or("the github-tickets sync is not registered")?;
    let runtime = Runtime::new(store);
    // A mock URL changes on every start: forget the previous demo's sync state and records.
    if mock.is_some() {
        runtime.store().reset_sync(key, "github-tickets", &["Ticket"], true).await?;
    }
    out!("connection `{}` saved in {}", connection.connection_id, args.database);

    let report = runtime.run_sync(sync, "github", &connection.connection_id).await?;
    if let Some(e) = &report.error {
        return Err(format!("run {} failed: {e}", report.run_id).into());
    }
    print_counts(&format!("run {} ({:.2?})", report.run_id, report.duration), &report.counts);

    if let Some(server) = &mock {
        // Change a few issues upstream; the next run fetches only what changed since the last one.
        server.update_issue(1, IssueUpdate { title: Some("Issue #1, edited".into()), state: Some(IssueState::Closed) });
        server.update_issue(2, IssueUpdate { title: None, state: Some(IssueState::Closed) });
        server.add_issues(3);
        let report = runtime.run_sync(sync, "github", &connection.connection_id).await?;
        if let Some(e) = &report.error {
            return Err(format!("run {} failed: {e}", report.run_id).into());
        }
        print_counts(&format!("run {} ({:.2?}, incremental)", report.run_id, report.duration), &report.counts);
    }

    let counts = runtime.store().record_counts(key).await?;
    let query = RecordQuery { model: "Ticket".into(), limit: args.show, ..Default::default() };
    let page = runtime.store().records(key, &query).await?;
    out!("\n{} tickets stored; the first {}:", counts.get("Ticket").copied().unwrap_or(0), page.records.len());
    out!("{:<10} {:<7} {:<8} {:<14} TITLE", "ID", "NUMBER", "STATE", "AUTHOR");
    for r in &page.records {
        let t = &r.data();
        out!(
            "{:<10} {:<7} {:<8} {:<14} {}",
            r.id,
            t["number"].as_f64().unwrap_or_default() as u64,
            t["state"].as_str().unwrap_or(""),
            t["author"].as_str().unwrap_or(""),
            t["title"].as_str().unwrap_or("")
        );
    }
    out!(
        "\nmore: cargo run -p github-tickets -- records Ticket --connection {} --format json",
        connection.connection_id
    );
    if args.serve {
        serve(runtime, &connection, args.port).await?;
    }
    if let Some(server) = mock {
        server.shutdown().await;
    }
    Ok(())
}

/// Runs the service on the demo's store until Ctrl-C, and says how to use it.
async fn serve(runtime: Runtime, connection: &Connection, port: u16) -> DemoResult<()> {
    let secret_key =
        std::env::var("NANGO_SECRET_KEY").ok().filter(|k| !k.is_empty()).unwrap_or_else(|| "demo-secret-key".into());
    let options = nango::server::ServeOptions {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        secret_key: secret_key.clone(),
        webhook_urls: std::env::var("NANGO_WEBHOOK_URL")
            .map(|u| u.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        webhook_signing_key: std::env::var("NANGO_WEBHOOK_SIGNING_KEY").ok(),
        ..Default::default()
    };
    let server = nango::server::Server::start(runtime, options)
        .await
        .map_err(|e| format!("cannot listen on port {port}: {e} (pass --port)"))?;
    let url = format!("http://{}", server.addr());
    out!("\nserving on {url}; the sync runs every 5 minutes. Ctrl-C stops.");
    out!("  console:  open {url}/login and sign in with the secret key {secret_key}");
    out!(
        "  records:  curl -H 'Authorization: Bearer {secret_key}' -H 'Connection-Id: {}' -H 'Provider-Config-Key: github' '{url}/records?model=Ticket&limit=2'",
        connection.connection_id
    );
    out!(
        "  trigger:  curl -X POST -H 'Authorization: Bearer {secret_key}' -H 'Content-Type: application/json' -d '{{\"syncs\":[\"github-tickets\"],\"provider_config_key\":\"github\",\"connection_id\":\"{}\"}}' {url}/sync/trigger",
        connection.connection_id
    );
    out!("  API:      {url}/openapi.json   metrics: {url}/metrics");
    server.wait_for_signal().await;
    Ok(())
}
