//! The project's own tasks, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! * `cargo xtask test [ARGS] [-- FILTERS]`: makes sure the programs the test suite drives are
//!   there (installing them from Debian's packages, and cargo-nextest from crates.io, when they
//!   are missing and we may; starting PostgreSQL when it is installed but not running), then runs every test of the workspace: `cargo nextest run
//!   --workspace` and `cargo test --doc --workspace`. This is the README's test command and what
//!   `.ci/run` runs, so a fresh machine needs nothing but this command.
//! * `cargo xtask setup`: only the first half.
//!
//! With `--no-install`, a missing program is reported (with how to get it) instead of installed.
//! Everything here uses only the standard library, so the task runner builds in a second.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

/// Something the tests need from the machine.
struct Requirement {
    /// What it is, for messages.
    name: &'static str,
    /// Which tests need it, for messages.
    needed_by: &'static str,
    /// `Ok` when it is there and usable, else what is wrong.
    check: fn() -> Result<(), String>,
    /// Debian packages that provide it (installed with apt-get when it is missing).
    debian_packages: &'static [&'static str],
    /// Makes it usable once installed (starts a service), when there is something to do.
    start: Option<fn() -> Result<(), String>>,
}

const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        name: "Chromium and chromedriver",
        needed_by: "the console's browser test (nango-runtime/tests/console.rs)",
        check: check_chromium,
        debian_packages: &["chromium", "chromium-driver"],
        start: None,
    },
    Requirement {
        name: "Node.js 20 or later with npm",
        needed_by: "the tests that drive Nango's own JavaScript SDKs against `serve` (nango-runtime/tests/node_sdk.rs; the SDK needs Node.js 20)",
        check: check_node,
        debian_packages: &["nodejs", "npm"],
        start: None,
    },
    Requirement {
        name: "Python 3 with venv",
        needed_by: "the OpenAPI test, which installs Schemathesis from PyPI into a virtual environment under the target directory (nango-runtime/tests/openapi.rs)",
        check: check_python,
        debian_packages: &["python3", "python3-venv"],
        start: None,
    },
    Requirement {
        name: "PostgreSQL on 127.0.0.1:5432 (user `postgres`, trust authentication)",
        needed_by: "the store tests, which run on SQLite and PostgreSQL alike, and the end-to-end tests on PostgreSQL (each test creates a database of its own and drops it)",
        check: check_postgres,
        debian_packages: &["postgresql"],
        start: Some(start_postgres),
    },
];

/// The server the tests use: `NANGO_TEST_POSTGRES_URL`, or the local one.
fn postgres_url() -> String {
    std::env::var("NANGO_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| LOCAL_POSTGRES.to_owned())
}

const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn check_postgres() -> Result<(), String> {
    let url = postgres_url();
    output_of("psql", &[url.as_str(), "-XAtqc", "SELECT 1"]).map(drop).map_err(|e| format!("{e} (at {url})"))
}

/// Starts a local cluster on port 5432 that takes the user `postgres` over loopback without a
/// password, with Debian's cluster tools: the cluster on that port if there is one (Debian's
/// package makes `main` when it is installed), else a new one of the newest installed version.
/// A server named by `NANGO_TEST_POSTGRES_URL` is someone else's: it is left alone.
fn start_postgres() -> Result<(), String> {
    if postgres_url() != LOCAL_POSTGRES {
        return Err("NANGO_TEST_POSTGRES_URL names a server of its own; start it yourself".to_owned());
    }
    let listed = output_of("pg_lsclusters", &["--no-header"])?;
    let on_5432 = listed.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).find(|c| c.get(2) == Some(&"5432"));
    let (version, cluster, online) = match on_5432 {
        Some(c) if c.len() >= 4 => (c[0].to_owned(), c[1].to_owned(), c[3] == "online"),
        _ => {
            let newest = std::fs::read_dir("/usr/lib/postgresql")
                .map_err(|e| format!("no PostgreSQL server is installed in /usr/lib/postgresql: {e}"))?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .max()
                .ok_or("no PostgreSQL server is installed in /usr/lib/postgresql")?
                .to_string();
            run(as_root("pg_createcluster").args([newest.as_str(), "nango", "--port", "5432"]))?;
            (newest, "nango".to_owned(), false)
        }
    };
    trust_postgres_over_loopback(&format!("/etc/postgresql/{version}/{cluster}/pg_hba.conf"))?;
    let action = if online { "reload" } else { "start" };
    run(as_root("pg_ctlcluster").args([version.as_str(), cluster.as_str(), action]))?;
    for _ in 0..30 {
        if check_postgres().is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    check_postgres()
}

/// Puts lines that let the user `postgres` in over loopback without a password first in a
/// cluster's `pg_hba.conf` (its first matching line decides), once.
fn trust_postgres_over_loopback(path: &str) -> Result<(), String> {
    const MARK: &str = "# nango-rs tests (cargo xtask setup)";
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if text.contains(MARK) {
        return Ok(());
    }
    let lines = format!(
        "{MARK}: the local test server takes the user `postgres` over loopback without a password.\n\
         host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust\n\n"
    );
    std::fs::write(path, format!("{lines}{text}")).map_err(|e| format!("cannot write {path}: {e}"))
}

/// A command run as root: directly when we are root, else through sudo.
fn as_root(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut command = Command::new("sudo");
        command.arg(program);
        command
    }
}

fn check_python() -> Result<(), String> {
    output_of("python3", &["-c", "import venv, ensurepip"]).map(drop)
}

fn check_chromium() -> Result<(), String> {
    for binary in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        if !Path::new(binary).exists() {
            return Err(format!("{binary} is missing"));
        }
    }
    Ok(())
}

fn check_node() -> Result<(), String> {
    let version = output_of("node", &["--version"])?;
    // `v20.20.2` -> 20
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("`node --version` printed {version:?}"))?;
    if major < 20 {
        return Err(format!("node {} is too old", version.trim()));
    }
    output_of("npm", &["--version"]).map(drop)
}

/// The standard output of a command that succeeded.
fn output_of(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{program} {}` failed ({})", args.join(" "), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a command with inherited output; `Err` names it when it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{shown} failed ({status})")) }
}

fn is_root() -> bool {
    output_of("id", &["-u"]).is_ok_and(|uid| uid.trim() == "0")
}

/// `apt-get install` of the packages, as root or through sudo.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    let apt = |args: &[&str]| {
        let mut command = if is_root() { Command::new("apt-get") } else { Command::new("sudo") };
        if !is_root() {
            // `env` inside sudo: sudo drops a DEBIAN_FRONTEND set around it.
            command.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        }
        command.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        command
    };
    run(apt(&["update", "-qq"]).arg("-y"))?;
    run(apt(&["install", "-y", "-qq", "--no-install-recommends"]).args(packages))
}

/// Checks every requirement, installing what is missing unless `install` is false.
fn setup(install: bool) -> Result<(), String> {
    let mut problems = Vec::new();
    for req in REQUIREMENTS {
        let Err(missing) = (req.check)() else { continue };
        let how = format!("apt-get install {}", req.debian_packages.join(" "));
        if !install || !Path::new("/usr/bin/apt-get").exists() {
            problems.push(format!("{} ({missing}), needed by {}: install it with `{how}`", req.name, req.needed_by));
            continue;
        }
        // Installed but not running: starting it is enough.
        if let Some(start) = req.start {
            eprintln!("xtask: {} does not answer ({missing}); starting it", req.name);
            match start().and_then(|()| (req.check)()) {
                Ok(()) => continue,
                Err(e) => eprintln!("xtask: {} did not start ({e})", req.name),
            }
        }
        eprintln!("xtask: {} is missing ({missing}); installing it with `{how}`", req.name);
        let start = || req.start.map_or(Ok(()), |start| start());
        if let Err(e) = apt_install(req.debian_packages).and_then(|()| start()).and_then(|()| (req.check)()) {
            problems.push(format!("{}, needed by {}: {e}", req.name, req.needed_by));
        }
    }
    if !has_nextest() {
        if install {
            eprintln!("xtask: cargo-nextest is missing; installing it with `cargo install --locked cargo-nextest`");
            run(cargo().args(["install", "--locked", "cargo-nextest"]))?;
        } else {
            problems.push(
                "cargo-nextest, which runs the test binaries side by side: install it with `cargo install --locked \
                 cargo-nextest`"
                    .to_owned(),
            );
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the tests need what this machine lacks:\n  - {}", problems.join("\n  - ")))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Whether `cargo nextest` runs here.
fn has_nextest() -> bool {
    cargo().args(["nextest", "--version"]).output().is_ok_and(|out| out.status.success())
}

/// Every test of the workspace: cargo-nextest runs the test binaries side by side (the few that
/// build other crates take most of the time, and start first: `.config/nextest.toml`), then
/// `cargo test --doc` runs the doctests, which nextest does not. The caller's arguments go to
/// both (`-p nango-runtime`, a test name filter).
fn test(args: Vec<OsString>) -> Result<(), String> {
    let (options, filters) = match args.iter().position(|a| a == "--") {
        Some(i) => (args[..i].to_vec(), args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let package =
        options.iter().any(|a| a == "-p" || a == "--package" || a.to_string_lossy().starts_with("--package="));
    let scope: &[&str] = if package { &[] } else { &["--workspace"] };
    run(cargo().args(["nextest", "run"]).args(scope).args(&options).args(&filters))?;
    let mut doc = cargo();
    doc.args(["test", "--doc"]).args(scope).args(&options);
    if !filters.is_empty() {
        doc.arg("--").args(&filters);
    }
    run(&mut doc)
}

const USAGE: &str = "usage: cargo xtask test [--no-install] [CARGO ARGS...] [-- TEST NAME FILTERS...]
       cargo xtask setup [--no-install]

test   installs what the tests need (Chromium, chromedriver, Node.js, PostgreSQL, cargo-nextest)
       when it is missing (and starts PostgreSQL when it is not running), then runs every test of the workspace (or of the packages given with -p):
       `cargo nextest run`, then the doctests with `cargo test --doc`
setup  only installs (or, with --no-install, only checks)";

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let task = if args.is_empty() { None } else { Some(args.remove(0)) };
    let install = match args.iter().position(|a| a == "--no-install") {
        Some(i) => {
            args.remove(i);
            false
        }
        None => true,
    };
    let result = match task.as_ref().and_then(|t| t.to_str()) {
        Some("test") => setup(install).and_then(|()| test(args)),
        Some("setup") if args.is_empty() => setup(install),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
