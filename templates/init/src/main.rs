//! A nango-rs project: syncs and actions declared in nango.yaml, written in Rust.
//!
//! `cargo run -- --help` lists the commands the runtime gives this program: `connections add`,
//! `syncs`, `dryrun`, `run`, `records`, `runs` and `serve`.

mod actions;
mod models;
mod on_events;
mod syncs;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Every sync and action of nango.yaml needs exactly one #[nango_sync] / #[nango_action].
    let checks = [
        nango_runtime::check_registry(models::SYNCS, models::ACTIONS),
        nango_runtime::check_on_events(models::ON_EVENTS),
    ];
    let mut ok = true;
    for problems in checks.into_iter().filter_map(Result::err) {
        for problem in problems {
            eprintln!("error: {problem}");
        }
        ok = false;
    }
    if !ok {
        return ExitCode::FAILURE;
    }
    nango_runtime::cli::main()
}
