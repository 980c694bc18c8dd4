//! `nango-mock-provider`: runs the mock GitHub issues API until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nango_mock_provider::{Faults, MockProvider, RetryAfter};

/// A GitHub-like issues API on 127.0.0.1, with injectable faults, for trying syncs.
///
/// Control it from another process under /_mock (see the crate docs), e.g.
/// `curl -X PUT localhost:3004/_mock/faults -d '{"error_rate":0.2}'`.
#[derive(Debug, Parser)]
#[command(name = "nango-mock-provider", version)]
struct Args {
    /// Port on 127.0.0.1 (0 for a free one).
    #[arg(long, default_value_t = 3004)]
    port: u16,
    /// Number of generated issues.
    #[arg(long, default_value_t = 1000)]
    issues: u64,
    /// Require `Authorization: Bearer TOKEN`.
    #[arg(long)]
    token: Option<String>,
    /// Also accept refreshes of this refresh token (with --client-id and --client-secret).
    #[arg(long, requires_all = ["client_id", "client_secret"])]
    refresh_token: Option<String>,
    /// Be an OAuth 2.0 server for the app with this client id (authorize page, code exchange
    /// with PKCE, refresh and client credentials grants).
    #[arg(long, requires = "client_secret")]
    client_id: Option<String>,
    /// The OAuth app's client secret.
    #[arg(long, requires = "client_id")]
    client_secret: Option<String>,
    /// The only redirect URI the OAuth app accepts (any when unset).
    #[arg(long, requires = "client_id")]
    redirect_uri: Option<String>,
    /// Share of API requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of API requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    rate_limit_rate: f64,
    /// Retry-After of the 429s, in seconds.
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// Send Retry-After as an HTTP date instead of seconds.
    #[arg(long)]
    retry_after_date: bool,
    /// Share of API requests whose connection is dropped mid-body.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Share of API requests answered by a 502 HTML page.
    #[arg(long, default_value_t = 0.0)]
    html_error_rate: f64,
    /// Share of API requests answered 200 with truncated JSON.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Delay added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Serve the exchanges recorded in this folder instead of generated issues.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let faults = Faults {
        error_rate: args.error_rate,
        rate_limit_rate: args.rate_limit_rate,
        retry_after: if args.retry_after_date {
            RetryAfter::HttpDate(args.retry_after)
        } else {
            RetryAfter::Seconds(args.retry_after)
        },
        drop_rate: args.drop_rate,
        html_error_rate: args.html_error_rate,
        malformed_rate: args.malformed_rate,
        latency: Duration::from_millis(args.latency_ms),
        seed: args.seed,
        ..Faults::default()
    };
    let mut builder = match args.replay {
        Some(dir) => MockProvider::replay(dir),
        None => MockProvider::builder(),
    };
    builder = builder.issues(args.issues).faults(faults).port(args.port);
    if let Some(token) = args.token {
        builder = builder.token(token);
    }
    if let (Some(id), Some(secret)) = (args.client_id, args.client_secret) {
        builder = match args.refresh_token {
            Some(refresh) => builder.oauth(id, secret, refresh),
            None => builder.oauth_app(id, secret),
        };
        if let Some(uri) = args.redirect_uri {
            builder = builder.redirect_uri(uri);
        }
    }
    let server = match builder.start().await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("nango-mock-provider: {error}");
            return ExitCode::from(2);
        }
    };
    println!("listening on {}", server.url());
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("nango-mock-provider: cannot wait for Ctrl-C: {error}");
    }
    let stats = server.stats();
    server.shutdown().await;
    eprintln!(
        "served {} requests: {} ok, {} injected 500, {} injected 429, {} injected 502, {} malformed, {} dropped, {} unauthorized, {} token refreshes",
        stats.requests,
        stats.served_ok,
        stats.injected_500,
        stats.injected_429,
        stats.injected_502,
        stats.malformed,
        stats.dropped,
        stats.unauthorized,
        stats.token_refreshes
    );
    ExitCode::SUCCESS
}
