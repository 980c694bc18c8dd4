//! A nango-rs project: syncs and actions declared in nango.yaml, written in Rust.
//!
//! `cargo run -- --help` lists the commands the runtime gives this program: `connections add`,
//! `syncs`, `dryrun`, `run`, `action`, `records`, `runs` and `serve`.

mod actions;
mod models;
mod on_events;
mod syncs;

fn main() -> std::process::ExitCode {
    // Checks that every script of nango.yaml has its function, then runs the command line.
    models::PROJECT.main()
}
