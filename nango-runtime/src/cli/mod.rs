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
//! in the working folder; see [`Store::open`](crate::store::Store::open)); credentials are sealed
//! with `NANGO_ENCRYPTION_KEY`.
//!
//! Errors are printed with their causes and, where this command line offers a fix (a flag, a
//! command), a hint: the runtime's own messages name no flags, since they also reach HTTP
//! responses.
//!
//! One file per command group: `connections.rs`, `syncs.rs` (`syncs`, `dryrun`, `run`),
//! `records.rs` (`records`, `runs`), `serve.rs`, `deploy.rs` (`deploy`, and what `serve` applies at
//! start), `replay.rs`; the argument groups several commands share are
//! defined once in `args.rs` and flattened where they are used.

use crate::crypto::CryptoError;
use crate::engine::RunError;
use clap::{Parser, Subcommand};
use serde_json::Value;
use std::ffi::OsString;
use std::process::ExitCode;

/// `println!` that ignores a closed stdout (`| head`), where `println!` would panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod actions;
mod args;
mod connections;
mod deploy;
mod records;
mod replay;
mod serve;
mod syncs;

pub use actions::ActionArgs;
pub use args::{ConnectionRef, Format, RuntimeArgs, SyncTarget};
pub use connections::{AddConnection, ConnectionsCommand, CredentialArgs};
pub use deploy::DeployArgs;
pub use records::{RecordsArgs, RunsArgs};
pub use replay::ReplayArgs;
pub use serve::ServeArgs;
pub use syncs::{DryrunArgs, RunArgs};

/// Command line of a nango-rs program.
#[derive(Debug, Parser)]
#[command(version, about = "Run the syncs of this program: connections, dry runs, runs and records")]
pub struct Cli {
    /// The store and the provider catalog (global options).
    #[command(flatten)]
    pub runtime: RuntimeArgs,
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
    /// Run an action once for a connection and print its output.
    Action(ActionArgs),
    /// Print stored records of a model.
    Records(RecordsArgs),
    /// Print the run history.
    Runs(RunsArgs),
    /// Run the service: scheduler, records API, webhooks, console, metrics.
    Serve(ServeArgs),
    /// Compare this binary's syncs, actions and models with the deployed ones and apply the
    /// difference (`--plan` only prints it).
    Deploy(DeployArgs),
    /// Run a sync or action against a Nango template's recorded mocks and compare what it saves
    /// or returns with the template's expected records or output.
    Replay(ReplayArgs),
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
            Some(RunError::Busy { .. }) => {
                return Some("; wait for it to end, or pass --wait to wait for it".into());
            }
            _ => {}
        }
        match e.downcast_ref::<crate::store::StoreError>() {
            Some(crate::store::StoreError::KeyMismatch { .. }) => {
                return Some(
                    "; to re-seal them under this key, put the old key in a variable and run `connections rotate-key --old-key-env VAR`"
                        .into(),
                );
            }
            Some(crate::store::StoreError::RotationBlocked { .. }) => {
                return Some("; pass each old key with --old-key-env VAR".into());
            }
            Some(crate::store::StoreError::DeploymentChanged { .. }) => {
                return Some("; see the new plan with `deploy --plan`".into());
            }
            Some(crate::store::StoreError::IncompatibleRecords { .. }) => {
                return Some("; `deploy --allow-destructive` deletes them and resyncs their syncs in full".into());
            }
            _ => {}
        }
        if let Some(crate::deploy::DeployError::Destructive { .. }) = e.downcast_ref::<crate::deploy::DeployError>() {
            return Some("\napply them with `deploy --allow-destructive` after reviewing `deploy --plan`".into());
        }
        if let Some(CryptoError::NoKey) = e.downcast_ref::<CryptoError>() {
            return Some(", or pass --insecure-store-secrets-in-clear for local development".into());
        }
        current = e.source();
    }
    None
}

/// Logs to stderr, filtered by `RUST_LOG` (default: [`DEFAULT_LOG_FILTER`]: warnings, and what
/// scripts log with `nango.log(..)` from info up, so `run` and `dryrun` show it).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    // Colours only for a terminal: piped or captured logs stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// The log filter without `RUST_LOG`: warnings, and the scripts' own log lines (logged by the
/// contexts, under `nango_runtime::context`) from info up.
pub const DEFAULT_LOG_FILTER: &str = "warn,nango_runtime::context=info";

/// What the commands return: an error for [`report`].
type CliResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Runs one parsed command.
pub async fn execute(cli: Cli) -> CliResult<ExitCode> {
    let runtime = &cli.runtime;
    match &cli.command {
        Command::Syncs => Ok(syncs::list()),
        Command::Connections(command) => connections::connections(runtime, command).await,
        Command::Dryrun(args) => syncs::dryrun(runtime, args).await,
        Command::Run(args) => syncs::run(runtime, args).await,
        Command::Action(args) => actions::action(runtime, args).await,
        Command::Records(args) => records::records(runtime, args).await,
        Command::Runs(args) => records::runs(runtime, args).await,
        Command::Serve(args) => serve::serve(runtime, args).await,
        Command::Deploy(args) => deploy::deploy(runtime, args).await,
        Command::Replay(args) => replay::replay(runtime.providers()?, args).await,
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
