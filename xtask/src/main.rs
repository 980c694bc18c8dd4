//! The project's own tasks, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! * `cargo xtask test [ARGS] [-- FILTERS]`: makes sure the programs the test suite drives are
//!   there (installing them from Debian's packages, and cargo-nextest from crates.io, when they
//!   are missing and we may), then runs every test of the workspace: `cargo nextest run
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
}

const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        name: "Chromium and chromedriver",
        needed_by: "the console's browser test (nango-runtime/tests/console.rs)",
        check: check_chromium,
        debian_packages: &["chromium", "chromium-driver"],
    },
    Requirement {
        name: "Node.js 20 or later with npm",
        needed_by: "the tests that drive Nango's own JavaScript SDKs against `serve` (nango-runtime/tests/node_sdk.rs; the SDK needs Node.js 20)",
        check: check_node,
        debian_packages: &["nodejs", "npm"],
    },
    Requirement {
        name: "Python 3 with venv",
        needed_by: "the OpenAPI test, which installs Schemathesis from PyPI into a virtual environment under the target directory (nango-runtime/tests/openapi.rs)",
        check: check_python,
        debian_packages: &["python3", "python3-venv"],
    },
];

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
        eprintln!("xtask: {} is missing ({missing}); installing it with `{how}`", req.name);
        if let Err(e) = apt_install(req.debian_packages).and_then(|()| (req.check)()) {
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

test   installs what the tests need (Chromium, chromedriver, Node.js, cargo-nextest) when it is
       missing, then runs every test of the workspace (or of the packages given with -p):
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
