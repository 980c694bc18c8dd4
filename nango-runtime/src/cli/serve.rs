//! `serve`: the service (scheduler, API, webhooks, console, metrics).

use super::CliResult;
use super::args::RuntimeArgs;
use crate::crypto::Sealer;
use clap::Args;
use std::process::ExitCode;

/// `serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port (Nango's default).
    #[arg(long, env = "NANGO_PORT", default_value_t = 3003)]
    pub port: u16,
    /// Address to listen on (`0.0.0.0` to accept other machines).
    #[arg(long, env = "NANGO_HOST", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// The API key clients send as `Authorization: Bearer <key>`; a random one is made and
    /// printed when unset.
    #[arg(long, env = "NANGO_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Where sync webhooks go (comma separated for several).
    #[arg(long, env = "NANGO_WEBHOOK_URL", value_delimiter = ',')]
    pub webhook_url: Vec<String>,
    /// Key signing webhooks (the secret key when unset, as Nango).
    #[arg(long, env = "NANGO_WEBHOOK_SIGNING_KEY", hide_env_values = true)]
    pub webhook_signing_key: Option<String>,
    /// Send a webhook after every run, also when nothing changed.
    #[arg(long)]
    pub webhook_always: bool,
    /// The URL browsers reach this service at (connect links; the OAuth redirect URI is
    /// `<url>/oauth/callback`); `http://HOST:PORT` when unset.
    #[arg(long, env = "NANGO_SERVER_URL")]
    pub server_url: Option<String>,
    /// Seconds running runs may take to finish at shutdown before they are cancelled.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Seconds a client has to send a request's head (also how long an idle kept-alive
    /// connection stays open).
    #[arg(long, env = "NANGO_HEADER_READ_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout: u64,
    /// Seconds a client has to send a request's body once its head arrived.
    #[arg(long, env = "NANGO_REQUEST_BODY_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_body_timeout: u64,
    /// What this process does, comma separated: `api` (HTTP API and console), `scheduler`
    /// (due schedules become tasks), `runner` (runs tasks), `webhooks` (delivers sync
    /// webhooks). Every process answers `/health` and `/metrics`. Any number of processes with
    /// any roles may share one database.
    #[arg(long, env = "NANGO_ROLES", default_value = "api,scheduler,runner,webhooks")]
    pub roles: crate::server::Roles,
    /// Runs this runner does at once.
    #[arg(long, env = "NANGO_RUNNER_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub runner_concurrency: u64,
    /// Runs at once per provider, across every runner on the database (unlimited when unset).
    #[arg(long, env = "NANGO_MAX_RUNS_PER_PROVIDER", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_runs_per_provider: Option<u32>,
    /// Runs at once per connection, across every runner on the database (unlimited when unset).
    #[arg(long, env = "NANGO_MAX_RUNS_PER_CONNECTION", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_runs_per_connection: Option<u32>,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "NANGO_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Apply this binary's destructive changes at start too (see `deploy --plan`); without it
    /// `serve` does not start while one is pending.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Resync in full the syncs whose `version` changed, when this start deploys them.
    #[arg(long)]
    pub resync: bool,
}

/// A random key for a service started without `NANGO_SECRET_KEY`.
fn random_key() -> String {
    use base64::Engine;
    // 32 random bytes from the same source as encryption keys, URL-safe for `/login?key=`.
    let key = Sealer::generate_key();
    let raw = base64::engine::general_purpose::STANDARD.decode(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub(super) async fn serve(runtime: &RuntimeArgs, args: &ServeArgs) -> CliResult<ExitCode> {
    let secret_key = match &args.secret_key {
        Some(k) if !k.trim().is_empty() => k.trim().to_owned(),
        _ => {
            let k = random_key();
            eprintln!("NANGO_SECRET_KEY is not set; this run uses the key {k}");
            k
        }
    };
    let runtime = runtime.runtime("serve").await?;
    // The binary is the deployment: what it changes is applied before anything runs.
    let deploy = crate::deploy::ApplyOptions { allow_destructive: args.allow_destructive, resync: args.resync };
    super::deploy::at_start(runtime.store(), deploy).await?;
    let options = crate::server::ServeOptions {
        addr: std::net::SocketAddr::new(args.host, args.port),
        secret_key: secret_key.clone(),
        webhook_urls: args.webhook_url.iter().filter(|u| !u.trim().is_empty()).cloned().collect(),
        webhook_signing_key: args.webhook_signing_key.clone(),
        webhook_always: args.webhook_always,
        public_url: args.server_url.clone(),
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
        limits: crate::server::ServerLimits {
            header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout),
            request_body_timeout: std::time::Duration::from_secs(args.request_body_timeout),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        },
        roles: args.roles,
        scheduler: crate::scheduler::SchedulerConfig {
            concurrency: usize::try_from(args.runner_concurrency).unwrap_or(4),
            max_per_provider: args.max_runs_per_provider,
            max_per_connection: args.max_runs_per_connection,
            ..Default::default()
        },
        ..Default::default()
    };
    let server = crate::server::Server::start(runtime, options)
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let url = format!("http://{}", server.addr());
    if args.roles.api {
        eprintln!(
            "serving on {url} as {} (console: {url}/login?key=<secret key>, API: {url}/openapi.json); Ctrl-C stops",
            args.roles
        );
    } else {
        eprintln!("serving on {url} as {} ({url}/health, {url}/metrics); Ctrl-C stops", args.roles);
    }
    server.wait_for_signal().await;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}
