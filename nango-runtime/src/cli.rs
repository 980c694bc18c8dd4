//! The ready-made command line of a program that links the runtime.
//!
//! ```no_run
//! // src/main.rs of a program with #[nango_sync] functions:
//! fn main() -> std::process::ExitCode {
//!     nango_runtime::cli::main()
//! }
//! ```
//!
//! The store is chosen by `--database URL` or `NANGO_DATABASE_URL` (default `sqlite://nango.db`
//! in the working folder; see [`Store::open`]); credentials are sealed with
//! `NANGO_ENCRYPTION_KEY`.
//!
//! Errors are printed with their causes and, where this command line offers a fix (a flag, a
//! command), a hint: the runtime's own messages name no flags, since they also reach HTTP
//! responses.

use crate::crypto::{CryptoError, Sealer};
use crate::engine::{DryRunOptions, RunError, Runtime};
use crate::providers::ProviderCatalog;
use crate::store::{ActionFilter, ConnectionKey, RecordQuery, RunStatus, Store, StoredConnection};
use crate::{Connection, Credentials, Secret, SyncRegistration, registered_syncs};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `println!` that ignores a closed stdout (`| head`), where `println!` would panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Command line of a nango-rs program.
#[derive(Debug, Parser)]
#[command(version, about = "Run the syncs of this program: connections, dry runs, runs and records")]
pub struct Cli {
    /// Database URL.
    #[arg(long, global = true, env = "NANGO_DATABASE_URL", default_value = "sqlite://nango.db")]
    pub database: String,
    /// Extra providers (providers.yaml format) added to the built-in catalog.
    #[arg(long, global = true, env = "NANGO_PROVIDERS_FILE")]
    pub providers: Option<PathBuf>,
    /// Store credentials unencrypted when NANGO_ENCRYPTION_KEY is not set (local development only).
    #[arg(long, global = true)]
    pub insecure_store_secrets_in_clear: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list or remove connections.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// List the syncs of this program.
    Syncs,
    /// Run a sync against the real API without writing the store.
    Dryrun(DryrunArgs),
    /// Run a sync once, into the store.
    Run(RunArgs),
    /// Print stored records of a model.
    Records(RecordsArgs),
    /// Print the run history.
    Runs(RunsArgs),
    /// Run the service: scheduler, records API, webhooks, console, metrics.
    Serve(ServeArgs),
}

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
    /// Seconds running runs may take to finish at shutdown before they are cancelled.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
}

/// `connections ...`
#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Add (or replace) a connection.
    Add(Box<AddConnection>),
    /// List connections (credentials are never printed).
    List {
        /// `json` for machine-readable output.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Remove a connection with its records and runs.
    Remove {
        /// Connection id.
        id: String,
        /// Integration key (nango.yaml).
        #[arg(long)]
        integration: String,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
}

/// `connections add`
#[derive(Debug, Args)]
pub struct AddConnection {
    /// Connection id.
    pub id: String,
    /// Integration key (nango.yaml).
    #[arg(long)]
    pub integration: String,
    /// Provider in the catalog (default: the integration key).
    #[arg(long)]
    pub provider: Option<String>,
    /// Bearer token.
    #[arg(long, group = "auth")]
    pub token: Option<String>,
    /// API key.
    #[arg(long, group = "auth")]
    pub api_key: Option<String>,
    /// Basic auth as USER:PASS.
    #[arg(long, group = "auth")]
    pub basic: Option<String>,
    /// OAuth 2 access token.
    #[arg(long, group = "auth")]
    pub oauth2_access: Option<String>,
    /// OAuth 2 refresh token.
    #[arg(long, requires = "oauth2_access")]
    pub oauth2_refresh: Option<String>,
    /// When the access token expires (RFC 3339).
    #[arg(long, requires = "oauth2_access")]
    pub expires_at: Option<DateTime<Utc>>,
    /// OAuth client id (for refreshing).
    #[arg(long, requires = "oauth2_access")]
    pub client_id: Option<String>,
    /// OAuth client secret (for refreshing).
    #[arg(long, requires = "oauth2_access")]
    pub client_secret: Option<String>,
    /// Replaces the provider's base URL (GitHub Enterprise, a mock provider).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Metadata as JSON, or @file.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Connection config values for the provider's templates (key=value, repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

/// `dryrun`
#[derive(Debug, Args)]
pub struct DryrunArgs {
    /// Sync name (nango.yaml).
    pub sync: String,
    /// Connection id.
    #[arg(long)]
    pub connection: String,
    /// Integration key (default: the sync's).
    #[arg(long)]
    pub integration: Option<String>,
    /// Use this last sync date (RFC 3339) instead of the stored one.
    #[arg(long)]
    pub last_sync_date: Option<DateTime<Utc>>,
    /// Use this metadata (JSON or @file) instead of the connection's.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Start from this checkpoint (JSON or @file).
    #[arg(long)]
    pub checkpoint: Option<String>,
    /// Save every HTTP exchange in this folder (the mock provider can replay them).
    #[arg(long)]
    pub save_responses: Option<PathBuf>,
    /// Write the records as JSON Lines in this folder.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Records shown per model.
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
}

/// `run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Sync name (nango.yaml).
    pub sync: String,
    /// Connection id.
    #[arg(long)]
    pub connection: String,
    /// Integration key (default: the sync's).
    #[arg(long)]
    pub integration: Option<String>,
    /// Forget the last sync date and checkpoint first (a full resync).
    #[arg(long)]
    pub full: bool,
}

/// `records`
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// Model name.
    pub model: String,
    /// Connection id.
    #[arg(long)]
    pub connection: String,
    /// Integration key (default: the only one the connection id has).
    #[arg(long)]
    pub integration: Option<String>,
    /// Only records modified at or after this time (RFC 3339).
    #[arg(long)]
    pub modified_after: Option<DateTime<Utc>>,
    /// Only these last actions: added,updated,deleted.
    #[arg(long)]
    pub filter: Option<String>,
    /// At most this many records (all when absent).
    #[arg(long)]
    pub limit: Option<u64>,
    /// `json`: one array of records with `_nango_metadata`.
    #[arg(long, default_value = "table")]
    pub format: Format,
}

/// `runs`
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this connection id.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only this sync.
    #[arg(long)]
    pub sync: Option<String>,
    /// How many.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Output format.
    #[arg(long, default_value = "table")]
    pub format: Format,
}

/// Parses the process arguments and runs; prints errors to stderr. Exit code 1 on error.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// [`main`] with given arguments.
pub fn main_from(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let cli = Cli::parse_from(args);
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(code) => code,
        // The reader went away (`| head`): not an error of ours.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", report(&*e));
            ExitCode::FAILURE
        }
    }
}

/// An error with its causes, and the fix this command line offers for it, if any.
///
/// ```
/// use nango_runtime::engine::RunError;
/// let e = RunError::UnknownConnection { integration: "github".into(), connection: "acme".into() };
/// assert_eq!(
///     nango_runtime::cli::report(&e),
///     "no connection `acme` for integration `github`; add it with `connections add acme --integration github ...`"
/// );
/// ```
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = nango_types::text::error_chain(error);
    if let Some(hint) = hint(error) {
        text.push_str(&hint);
    }
    text
}

/// What to do about an error on this command line (flags and commands the runtime's messages do
/// not name), found by matching the errors of the chain.
fn hint(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        match e.downcast_ref::<RunError>() {
            Some(RunError::UnknownConnection { integration, connection }) => {
                return Some(format!("; add it with `connections add {connection} --integration {integration} ...`"));
            }
            Some(RunError::UnknownProvider { .. }) => {
                return Some(
                    "; pass --provider with one of the built-in providers or add it with --providers FILE".into(),
                );
            }
            _ => {}
        }
        if let Some(CryptoError::NoKey) = e.downcast_ref::<CryptoError>() {
            return Some(", or pass --insecure-store-secrets-in-clear for local development".into());
        }
        current = e.source();
    }
    None
}

/// Logs to stderr, filtered by `RUST_LOG` (default: warnings, and info of the runtime).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

type CliResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Opens the store the arguments name.
pub async fn open_store(cli: &Cli) -> CliResult<Store> {
    let sealer = Sealer::from_env(cli.insecure_store_secrets_in_clear)?;
    Ok(Store::open(&cli.database, sealer).await?)
}

/// The provider catalog the arguments name.
pub fn providers(cli: &Cli) -> CliResult<ProviderCatalog> {
    let mut catalog = ProviderCatalog::builtin();
    if let Some(file) = &cli.providers {
        catalog.extend_from_file(file)?;
    }
    Ok(catalog)
}

/// Runs one parsed command.
pub async fn execute(cli: Cli) -> CliResult<ExitCode> {
    match &cli.command {
        Command::Syncs => {
            for sync in registered_syncs() {
                let d = sync.descriptor;
                out!(
                    "{:<30} {:<16} {:<12} {:<20} models: {}",
                    d.name,
                    d.integration,
                    format!("{:?}", d.sync_type).to_lowercase(),
                    d.runs,
                    d.outputs.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Connections(command) => connections(&cli, command).await,
        Command::Dryrun(args) => dryrun(&cli, args).await,
        Command::Run(args) => run(&cli, args).await,
        Command::Records(args) => records(&cli, args).await,
        Command::Runs(args) => runs(&cli, args).await,
        Command::Serve(args) => serve(&cli, args).await,
    }
}

/// Reads `JSON` or `@file`.
fn json_arg(flag: &str, text: &str) -> CliResult<Value> {
    let (source, body) = match text.strip_prefix('@') {
        Some(path) => {
            (path.to_owned(), std::fs::read_to_string(path).map_err(|e| format!("--{flag}: cannot read {path}: {e}"))?)
        }
        None => (format!("--{flag}"), text.to_owned()),
    };
    serde_json::from_str(&body)
        .map_err(|e| format!("{source}: invalid JSON at line {} column {}: {e}", e.line(), e.column()).into())
}

async fn connections(cli: &Cli, command: &ConnectionsCommand) -> CliResult<ExitCode> {
    let store = open_store(cli).await?;
    match command {
        ConnectionsCommand::Add(add) => {
            let provider = add.provider.clone().unwrap_or_else(|| add.integration.clone());
            let catalog = providers(cli)?;
            if catalog.get(&provider).is_none() {
                let known: Vec<&str> = catalog.keys().collect();
                return Err(format!(
                    "provider `{provider}` is not in the catalog (known: {}); pass --provider or --providers FILE",
                    known.join(", ")
                )
                .into());
            }
            let mut connection = Connection::new(&add.integration, &add.id, provider);
            if let Some(existing) = store.connection(&add.integration, &add.id).await.ok().flatten() {
                connection.created_at = existing.connection.created_at;
            }
            connection.credentials = credentials(add)?;
            connection.base_url = add.base_url.clone();
            if let Some(m) = &add.metadata {
                connection.metadata = json_arg("metadata", m)?;
            }
            for pair in &add.config {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--config `{pair}`: expected KEY=VALUE, e.g. --config subdomain=acme"))?;
                connection.connection_config.insert(k.to_owned(), v.to_owned());
            }
            store.save_connection(&connection).await?;
            out!(
                "connection `{}` of `{}` saved ({} credentials{})",
                add.id,
                add.integration,
                connection.credentials.kind(),
                if connection.credentials.is_secret() { ", sealed" } else { "" }
            );
        }
        ConnectionsCommand::List { format } => {
            let list: Vec<Connection> = store.connections().await?.into_iter().map(|c| c.connection).collect();
            match format {
                Format::Json => {
                    let items: Vec<Value> = list
                        .iter()
                        .map(|c| {
                            serde_json::json!({
                                "provider_config_key": c.provider_config_key, "connection_id": c.connection_id,
                                "provider": c.provider, "auth": c.credentials.kind(), "base_url": c.base_url,
                                "metadata": c.metadata, "created_at": c.created_at,
                            })
                        })
                        .collect();
                    out!("{}", serde_json::to_string_pretty(&items)?);
                }
                Format::Table => {
                    out!("{:<20} {:<24} {:<16} {:<8} BASE URL", "INTEGRATION", "CONNECTION", "PROVIDER", "AUTH");
                    for c in list {
                        out!(
                            "{:<20} {:<24} {:<16} {:<8} {}",
                            c.provider_config_key,
                            c.connection_id,
                            c.provider,
                            c.credentials.kind(),
                            c.base_url.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
        }
        ConnectionsCommand::Remove { id, integration } => {
            if !store.delete_connection(integration, id).await? {
                return Err(format!("no connection `{id}` for integration `{integration}`").into());
            }
            out!("connection `{id}` of `{integration}` removed with its records and runs");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn credentials(add: &AddConnection) -> CliResult<Credentials> {
    Ok(if let Some(t) = &add.token {
        Credentials::Bearer { token: Secret::new(t) }
    } else if let Some(k) = &add.api_key {
        Credentials::ApiKey { api_key: Secret::new(k) }
    } else if let Some(b) = &add.basic {
        let (username, password) =
            b.split_once(':').ok_or("--basic: expected USER:PASS (the password may be empty: `user:`)")?;
        Credentials::Basic { username: username.to_owned(), password: Secret::new(password) }
    } else if let Some(a) = &add.oauth2_access {
        Credentials::OAuth2 {
            access_token: Secret::new(a),
            refresh_token: add.oauth2_refresh.as_deref().map(Secret::new),
            expires_at: add.expires_at,
            client_id: add.client_id.clone(),
            client_secret: add.client_secret.as_deref().map(Secret::new),
        }
    } else {
        Credentials::None
    })
}

fn find_sync(name: &str) -> CliResult<&'static SyncRegistration> {
    let all: Vec<&'static SyncRegistration> = registered_syncs().collect();
    if let Some(s) = all.iter().find(|s| s.descriptor.name == name) {
        return Ok(s);
    }
    let names: Vec<&str> = all.iter().map(|s| s.descriptor.name).collect();
    Err(format!(
        "no sync `{name}` in this program; its syncs: {}",
        if names.is_empty() { "none".into() } else { names.join(", ") }
    )
    .into())
}

async fn runtime(cli: &Cli) -> CliResult<Runtime> {
    Ok(Runtime::new(open_store(cli).await?).with_providers(providers(cli)?))
}

fn progress_bar() -> (indicatif::ProgressBar, crate::engine::Progress) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let shown = bar.clone();
    let counts = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<String, u64>::new()));
    let progress: crate::engine::Progress = Arc::new(move |model: &str, total: u64| {
        let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.insert(model.to_owned(), total);
        let text: Vec<String> = counts.iter().map(|(m, n)| format!("{m}: {n} records")).collect();
        shown.set_message(text.join(", "));
    });
    (bar, progress)
}

fn print_counts(counts: &crate::store::ModelCounts) {
    if counts.is_empty() {
        out!("  no records");
    }
    for (model, c) in counts {
        out!("  {model}: {} added, {} updated, {} deleted", c.added, c.updated, c.deleted);
    }
}

async fn dryrun(cli: &Cli, args: &DryrunArgs) -> CliResult<ExitCode> {
    let sync = find_sync(&args.sync)?;
    let integration = args.integration.clone().unwrap_or_else(|| sync.descriptor.integration.to_owned());
    let (bar, progress) = progress_bar();
    let runtime = runtime(cli).await?.with_progress(progress);
    let options = DryRunOptions {
        last_sync_date: args.last_sync_date,
        metadata: args.metadata.as_deref().map(|m| json_arg("metadata", m)).transpose()?,
        checkpoint: args.checkpoint.as_deref().map(|c| json_arg("checkpoint", c)).transpose()?,
        save_responses: args.save_responses.clone(),
        output: args.output.clone(),
        samples: args.samples,
    };
    let report = runtime.dry_run(sync, &integration, &args.connection, options).await?;
    bar.finish_and_clear();
    out!(
        "dry run of `{}` for `{}` ({:.1?}); nothing was written to the store",
        args.sync,
        args.connection,
        report.duration
    );
    out!("would be:");
    print_counts(&report.counts);
    for (model, samples) in &report.samples {
        out!("first {} {model} record(s):", samples.len());
        for s in samples {
            out!("{}", serde_json::to_string_pretty(s)?);
        }
    }
    if let Some(c) = &report.checkpoint {
        out!("checkpoint left: {c}");
    }
    if let Some(dir) = &args.save_responses {
        out!("HTTP exchanges saved in {}", dir.display());
    }
    match report.error {
        Some(e) => {
            eprintln!("error: the sync failed: {e}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

async fn run(cli: &Cli, args: &RunArgs) -> CliResult<ExitCode> {
    let sync = find_sync(&args.sync)?;
    let integration = args.integration.clone().unwrap_or_else(|| sync.descriptor.integration.to_owned());
    let (bar, progress) = progress_bar();
    let runtime = runtime(cli).await?.with_progress(progress);
    if args.full {
        let key = runtime
            .store()
            .connection_key(&integration, &args.connection)
            .await?
            .ok_or_else(|| format!("no connection `{}` for integration `{integration}`", args.connection))?;
        runtime.store().reset_sync(key, sync.descriptor.name, &[], false).await?;
    }
    let report = runtime.run_sync(sync, &integration, &args.connection).await?;
    bar.finish_and_clear();
    let status = match report.status {
        RunStatus::Success => "succeeded",
        _ => "failed",
    };
    out!("run {} of `{}` for `{}` {status} in {:.1?}", report.run_id, args.sync, args.connection, report.duration);
    print_counts(&report.counts);
    match report.error {
        Some(e) => {
            eprintln!("error: {e}");
            eprintln!("records saved before the failure are kept; the next run resumes from the last checkpoint");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

async fn connection_of(store: &Store, id: &str, integration: Option<&str>) -> CliResult<ConnectionKey> {
    if let Some(integration) = integration {
        return store
            .connection_key(integration, id)
            .await?
            .ok_or_else(|| format!("no connection `{id}` for integration `{integration}`").into());
    }
    let matching: Vec<StoredConnection> =
        store.connections().await?.into_iter().filter(|c| c.connection.connection_id == id).collect();
    match matching.as_slice() {
        [one] => Ok(one.key),
        [] => Err(format!("no connection `{id}`; see `connections list`").into()),
        many => Err(format!(
            "connection id `{id}` exists for several integrations ({}); pass --integration",
            many.iter().map(|c| c.connection.provider_config_key.as_str()).collect::<Vec<_>>().join(", ")
        )
        .into()),
    }
}

async fn records(cli: &Cli, args: &RecordsArgs) -> CliResult<ExitCode> {
    let models: std::collections::BTreeSet<&str> =
        registered_syncs().flat_map(|s| s.descriptor.outputs.iter().copied()).collect();
    if !models.is_empty() && !models.contains(args.model.as_str()) {
        let list: Vec<&str> = models.into_iter().collect();
        return Err(format!(
            "no model `{}` among the outputs of this program's syncs: {}",
            args.model,
            list.join(", ")
        )
        .into());
    }
    let store = open_store(cli).await?;
    let key = connection_of(&store, &args.connection, args.integration.as_deref()).await?;
    let filter = args.filter.as_deref().map(ActionFilter::parse).transpose().map_err(|e| format!("--filter: {e}"))?;
    let mut query = RecordQuery {
        model: args.model.clone(),
        modified_after: args.modified_after,
        limit: 1000,
        filter,
        ..Default::default()
    };
    let mut left = args.limit.unwrap_or(u64::MAX);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    let mut first = true;
    let mut count = 0u64;
    if args.format == Format::Json {
        write!(out, "[")?;
    } else {
        writeln!(out, "{:<24} {:<9} {:<27} RECORD", "ID", "ACTION", "LAST MODIFIED")?;
    }
    while left > 0 {
        query.limit = left.min(1000) as u32;
        let page = store.records(key, &query).await?;
        for r in &page.records {
            count += 1;
            match args.format {
                Format::Json => {
                    write!(out, "{}\n  {}", if first { "" } else { "," }, serde_json::to_string(&r.to_json())?)?;
                    first = false;
                }
                Format::Table => {
                    let mut text = r.json.clone();
                    if text.len() > 100 {
                        let cut = (0..=100).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                        text.truncate(cut);
                        text.push('…');
                    }
                    writeln!(
                        out,
                        "{:<24} {:<9} {:<27} {text}",
                        r.id,
                        r.metadata.last_action,
                        r.metadata.last_modified_at.format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    )?;
                }
            }
        }
        left = left.saturating_sub(page.records.len() as u64);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    if args.format == Format::Json {
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    } else {
        writeln!(out, "{count} record(s) of {}", args.model)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn runs(cli: &Cli, args: &RunsArgs) -> CliResult<ExitCode> {
    let store = open_store(cli).await?;
    let key = match &args.connection {
        Some(id) => Some(connection_of(&store, id, None).await?),
        None => None,
    };
    let list = store.runs(key, args.sync.as_deref(), args.limit).await?;
    if args.format == Format::Json {
        out!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{:<6} {:<24} {:<20} {:<8} {:<20} {:<10} COUNTS / ERROR",
        "RUN",
        "SYNC",
        "CONNECTION",
        "STATUS",
        "STARTED",
        "TOOK"
    );
    for r in list {
        let took = r.ended_at.map(|e| format!("{:.1}s", (e - r.started_at).num_milliseconds() as f64 / 1000.0));
        let counts: Vec<String> =
            r.counts.iter().map(|(m, c)| format!("{m} +{} ~{} -{}", c.added, c.updated, c.deleted)).collect();
        out!(
            "{:<6} {:<24} {:<20} {:<8} {:<20} {:<10} {}{}",
            r.id,
            r.sync,
            r.connection_id,
            format!("{:?}", r.status).to_uppercase(),
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            took.unwrap_or_else(|| "-".into()),
            counts.join(", "),
            r.error.map(|e| format!(" {e}")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A random key for a service started without `NANGO_SECRET_KEY`.
fn random_key() -> String {
    use base64::Engine;
    // 32 random bytes from the same source as encryption keys, URL-safe for `/login?key=`.
    let key = Sealer::generate_key();
    let raw = base64::engine::general_purpose::STANDARD.decode(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

async fn serve(cli: &Cli, args: &ServeArgs) -> CliResult<ExitCode> {
    let secret_key = match &args.secret_key {
        Some(k) if !k.trim().is_empty() => k.trim().to_owned(),
        _ => {
            let k = random_key();
            eprintln!("NANGO_SECRET_KEY is not set; this run uses the key {k}");
            k
        }
    };
    let runtime = runtime(cli).await?;
    let options = crate::server::ServeOptions {
        addr: std::net::SocketAddr::new(args.host, args.port),
        secret_key: secret_key.clone(),
        webhook_urls: args.webhook_url.iter().filter(|u| !u.trim().is_empty()).cloned().collect(),
        webhook_signing_key: args.webhook_signing_key.clone(),
        webhook_always: args.webhook_always,
        shutdown_grace: std::time::Duration::from_secs(args.shutdown_grace),
        ..Default::default()
    };
    let server = crate::server::Server::start(runtime, options)
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let url = format!("http://{}", server.addr());
    eprintln!("serving on {url} (console: {url}/login?key=<secret key>, API: {url}/openapi.json); Ctrl-C stops");
    server.wait_for_signal().await;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `--help` of the command and of every subcommand, each under the command line that prints it.
    fn help_texts(command: &mut clap::Command, path: &str, out: &mut String) {
        let help = command.render_long_help().to_string();
        out.push_str(&format!("$ {path} --help\n{}\n\n", without_env_values(&help)));
        for sub in command.get_subcommands_mut() {
            let path = format!("{path} {}", sub.get_name());
            help_texts(sub, &path, out);
        }
    }

    /// `[env: NAME=]` whatever the variable holds in the test's environment: clap shows the value
    /// of a variable that is set.
    fn without_env_values(help: &str) -> String {
        let lines = help.lines().map(|line| match (line.find("[env: "), line.rfind(']')) {
            (Some(start), Some(end)) if end > start => match line[start..end].find('=') {
                Some(eq) => format!("{}{}", &line[..start + eq + 1], &line[end..]),
                None => line.to_owned(),
            },
            _ => line.to_owned(),
        });
        lines.collect::<Vec<_>>().join("\n")
    }

    /// The flags, defaults and help texts of every command, as a user sees them: a change shows
    /// up in the golden file's diff (`EXPECTORATE=overwrite` accepts it).
    #[test]
    fn help_texts_match_the_golden_file() {
        let mut command = Cli::command().bin_name("nango-program");
        command.build();
        let mut out = String::new();
        help_texts(&mut command, "nango-program", &mut out);
        expectorate::assert_contents("tests/golden/cli-help.txt", &out);
    }
}
