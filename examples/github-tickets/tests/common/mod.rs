//! What the test binaries that run `github-tickets` as separate processes share: the mock
//! provider on loopback, the program's command line with a clean environment, and `serve`
//! started on a free port.
//!
//! Each test binary that declares `mod common;` compiles its own copy and uses part of it.
#![allow(dead_code)]

use nango_mock_provider::{Faults, MockProvider, MockServer};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The token the mock provider accepts.
pub const TOKEN: &str = "demo-token";

/// How long `serve` may take to say where it listens (a cold start on a loaded machine).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(20);

/// The connection `demo` of integration `github` to the mock provider (bearer [`TOKEN`], the
/// repository the example syncs).
pub fn demo_connection(server: &MockServer) -> nango::Connection {
    let mut connection = nango::Connection::new("github", "demo", "github");
    connection.credentials = nango::Credentials::Bearer { token: nango::Secret::new(TOKEN) };
    connection.base_url = Some(server.url().to_owned());
    connection.metadata = serde_json::json!({"owner": "octocat", "repo": "hello-world"});
    connection
}

/// The mock GitHub on loopback, with `issues` issues (numbered from 1), accepting [`TOKEN`].
pub async fn mock_provider(issues: u64, faults: Faults) -> MockServer {
    MockProvider::builder().issues(issues).token(TOKEN).faults(faults).start().await.unwrap()
}

/// The example program, with no input and its output piped. None of the settings the tests'
/// own environment may carry reach it: each test sets what it means to.
pub fn program() -> Command {
    clean(Command::new(env!("CARGO_BIN_EXE_github-tickets")))
}

/// The example's next version (`github-tickets-next`: one more sync), as [`program`].
pub fn next_program() -> Command {
    clean(Command::new(env!("CARGO_BIN_EXE_github-tickets-next")))
}

fn clean(mut command: Command) -> Command {
    for name in [
        "NANGO_DATABASE_URL",
        "NANGO_ENCRYPTION_KEY",
        "NANGO_SECRET_KEY",
        "NANGO_PORT",
        "NANGO_WEBHOOK_URL",
        "NANGO_WEBHOOK_SIGNING_KEY",
        "NANGO_LEASE_TTL",
        "NANGO_RETRY_DELAY_MS",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Spawns `command` (a `serve --port 0`) and waits until it prints where it listens; the process
/// and its URL. Its stderr is drained from then on, so it never blocks on a full pipe.
pub async fn serve(mut command: Command) -> (Child, String) {
    command.stderr(Stdio::piped());
    let mut child = command.spawn().expect("serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("serving on ") {
                let url = rest.split_whitespace().next().unwrap_or_default().trim_end_matches(['(', ';']);
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let url = tokio::task::spawn_blocking(move || rx.recv_timeout(LISTEN_TIMEOUT)).await.unwrap();
    match url {
        Ok(url) => (child, url),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            panic!("serve did not say where it listens within {LISTEN_TIMEOUT:?} ({status:?})");
        }
    }
}

/// Waits for the program to end; what it printed.
pub async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap()
}

/// SIGKILL, and waits until the process is gone.
pub async fn kill(mut child: Child) {
    child.kill().unwrap();
    tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
}

/// Printed bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
