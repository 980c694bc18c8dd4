//! `github-tickets` (or `github-tickets demo`) runs the whole loop on embedded defaults: it
//! starts the mock provider on loopback, adds a connection, runs the sync twice into SQLite
//! (the second run is incremental) and prints the tickets. With `GITHUB_TOKEN` set and
//! `--owner/--repo` it syncs real GitHub instead. Every other command is the runtime's CLI:
//! `github-tickets connections add ...`, `dryrun`, `run`, `records`, `runs`.

use github_tickets::models::PROJECT;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        None | Some("demo") => match PROJECT.start() {
            Ok(()) => github_tickets::demo::main(args.into_iter().skip(2)),
            Err(code) => code,
        },
        _ => PROJECT.main_from(args),
    }
}
