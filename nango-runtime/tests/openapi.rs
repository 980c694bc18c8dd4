//! `/openapi.json` describes what `serve` does: every route the router serves is in the document
//! and every path and method of the document is served (both enumerated), and Schemathesis
//! (from PyPI, pinned) run against the document of a real `serve` with every check finds no
//! failure: statuses, bodies, headers and content types as documented, valid input accepted and
//! invalid input refused. It tests every operation of the document, signed in as each one's
//! security says (the secret key, a console session, a connect session; see [`sign_ins`]),
//! then in the stateful phase (the document's links from a created connection or integration to
//! the operations that take it, and those Schemathesis infers), with a fixed seed so that a run
//! is repeatable; `tests/openapi/hooks.py` keeps the service's
//! outgoing requests on loopback, signs the console's forms and generates the document's own
//! string formats, and `tests/openapi/schemathesis.toml` gives the reason of each setting.
//!
//! Schemathesis is installed once into a virtual environment under the target directory
//! (`python3 -m venv`, then `pip install schemathesis==<pinned>`), again only when the pinned
//! version changes. Python 3 with the `venv` module is needed (`cargo xtask setup` installs it
//! from Debian's packages); without it the test fails and says how to get it.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

mod common;

use nango_mock_provider::{MockProvider, MockServer};
use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::Store;
use nango_runtime::{Connection, Credentials, Secret};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const KEY: &str = "openapi-secret-key";
/// The Schemathesis release the proof runs (a newer one may add checks: change it on purpose).
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// Test cases per operation in the fuzzing phase (the coverage phase makes its own, for every
/// boundary and every documented status): few enough that the run over the ~70 operations
/// takes under a minute on two shared cores (about 45 s).
const EXAMPLES_PER_OPERATION: &str = "5";

struct Service {
    _dir: tempfile::TempDir,
    mock: MockServer,
    server: Server,
    url: String,
}

/// `serve` over real SQLite, with one connection whose syncs read the mock provider.
async fn service() -> Service {
    let mock = MockProvider::builder().issues(20).token("t0ken").start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
    let mut c = Connection::new("github-full", "acme", "github");
    c.credentials = Credentials::Bearer { token: Secret::new("t0ken") };
    c.base_url = Some(mock.url().to_owned());
    c.metadata = json!({"owner": "a", "repo": "b", "per_page": 50});
    store.save_connection(&c).await.unwrap();
    let options = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret_key: KEY.into(),
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    };
    let server = Server::start(Runtime::new(store), options).await.unwrap();
    let url = format!("http://{}", server.addr());
    Service { _dir: dir, mock, server, url }
}

/// The methods OpenAPI can describe, as the document's keys.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// `(path, method)` pairs of the document, paths in axum's syntax.
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        // The document writes a catch-all as `{path}`; the router as `{*path}`.
        let path = path.replace("/proxy/{path}", "/proxy/{*path}");
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            out.insert((path.clone(), method.to_string()));
        }
    }
    out
}

/// A console session: its cookie and its CSRF form field, so probes get past the console's
/// checks to its routing.
async fn console_session(http: &reqwest::Client, url: &str) -> (String, String) {
    let resp = http
        .post(format!("{url}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={KEY}"))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = http.get(format!("{url}/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let at = page.find("name=\"csrf").unwrap_or_else(|| panic!("no CSRF field in the dashboard: {page:.500}"));
    let field = &page[at + "name=\"".len()..];
    let name = &field[..field.find('"').unwrap()];
    let value_at = field.find("value=\"").unwrap() + "value=\"".len();
    let value = &field[value_at..value_at + field[value_at..].find('"').unwrap()];
    (cookie, format!("{name}={value}"))
}

/// `(path, method)` pairs the router serves: each path of [`nango_runtime::server::route_paths`]
/// asked with a method no route but the proxy's takes (`TRACE`); a 405 names the methods the
/// route takes in `Allow`, anything else means it takes every method.
async fn served(s: &Service) -> BTreeSet<(String, String)> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (cookie, csrf) = console_session(&http, &s.url).await;
    let mut out = BTreeSet::new();
    for path in nango_runtime::server::route_paths(s.server.state().clone()) {
        let concrete: String =
            path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/");
        let resp = http
            .request(reqwest::Method::TRACE, format!("{}{concrete}", s.url))
            .bearer_auth(KEY)
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(csrf.clone())
            .send()
            .await
            .unwrap();
        let methods: Vec<String> = if resp.status() == 405 {
            let allow = resp.headers().get("allow").unwrap_or_else(|| panic!("405 of {path} without Allow"));
            allow.to_str().unwrap().split(',').map(|m| m.trim().to_ascii_lowercase()).collect()
        } else {
            METHODS.iter().map(|m| m.to_string()).collect()
        };
        for method in methods {
            out.insert((path.to_owned(), method));
        }
    }
    out
}

#[tokio::test]
async fn every_route_served_is_described_and_every_described_route_is_served() {
    let s = service().await;
    let document: Value = reqwest::Client::new()
        .get(format!("{}/openapi.json", s.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented = documented(&document);
    let mut served = served(&s).await;
    // HEAD comes with every GET (axum answers it as the GET without the body); OpenAPI
    // leaves it implied.
    let heads: Vec<_> = served.iter().filter(|(_, m)| m == "head").cloned().collect();
    for (path, _) in heads {
        if served.contains(&(path.clone(), "get".into())) && !documented.contains(&(path.clone(), "head".into())) {
            served.remove(&(path, "head".into()));
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not in /openapi.json: {undocumented:?}");
    assert!(unserved.is_empty(), "in /openapi.json but not served: {unserved:?}");
    s.server.shutdown().await;
}

/// The version of Python 3 here, or a failure saying how to install it.
fn require_python() {
    let how = "the OpenAPI test runs Schemathesis (from PyPI) and needs Python 3 with the venv module on PATH: \
               install them (Debian: `sudo apt-get install python3 python3-venv`, or run `cargo xtask setup`) and \
               run the tests again";
    match Command::new("python3").args(["-c", "import venv, ensurepip"]).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("python3 has no usable venv module ({}): {how}", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => panic!("cannot run `python3` ({e}): {how}"),
    }
}

/// The `schemathesis` program of a virtual environment under the target directory, installing
/// the pinned release when it is not there yet.
fn schemathesis() -> PathBuf {
    require_python();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis");
    let program = venv.join("bin/schemathesis");
    let stamp = venv.join(".installed");
    // The stamp names the release and where the environment was made: a venv's scripts carry
    // its absolute path, so a target directory that was moved or copied gets a fresh install
    // instead of scripts pointing at a Python that is no longer there.
    let wanted = format!("{SCHEMATHESIS} in {}", venv.display());
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && program.exists() {
        return program;
    }
    // Made in place; the stamp is written last, so a half-made environment is never used and
    // is made again by the next run.
    let _ = std::fs::remove_dir_all(&venv);
    let out = Command::new("python3").args(["-m", "venv"]).arg(&venv).output().unwrap();
    assert!(out.status.success(), "`python3 -m venv` failed: {}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "--no-input", SCHEMATHESIS])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`pip install {SCHEMATHESIS}` failed (pip needs to reach PyPI once; later runs reuse the install):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, wanted).unwrap();
    program
}

/// A connect session's token, made with the secret key.
async fn connect_token(url: &str) -> String {
    let issued: Value = reqwest::Client::new()
        .post(format!("{url}/connect/sessions"))
        .bearer_auth(KEY)
        .json(&json!({"end_user": {"id": "schemathesis"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    issued["data"]["token"].as_str().unwrap_or_else(|| panic!("no session token: {issued}")).to_owned()
}

/// What Schemathesis signs in with, as the environment its configuration and hooks read: the
/// secret key, a console session (its cookie and CSRF token) and a connect session's token;
/// and a second console and connect session for the operations that end theirs (`POST /logout`,
/// `DELETE /connect/session`), so the others keep theirs.
async fn sign_ins(url: &str) -> Vec<(&'static str, String)> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let console = |(cookie, csrf): (String, String)| {
        let id = cookie.strip_prefix("nango_session=").unwrap().to_owned();
        (id, csrf.split_once('=').unwrap().1.to_owned())
    };
    let (session, csrf) = console(console_session(&http, url).await);
    let (session_to_end, csrf_to_end) = console(console_session(&http, url).await);
    vec![
        ("NANGO_TEST_KEY", KEY.to_owned()),
        ("NANGO_TEST_CONSOLE_SESSION", session),
        ("NANGO_TEST_CONSOLE_CSRF", csrf),
        ("NANGO_TEST_CONSOLE_SESSION_TO_END", session_to_end),
        ("NANGO_TEST_CONSOLE_CSRF_TO_END", csrf_to_end),
        ("NANGO_TEST_CONNECT_TOKEN", connect_token(url).await),
        ("NANGO_TEST_CONNECT_TOKEN_TO_END", connect_token(url).await),
    ]
}

#[tokio::test]
async fn schemathesis_with_every_check_finds_no_failure() {
    let program = schemathesis();
    let s = service().await;
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi");
    let reports = tempfile::tempdir().unwrap();
    // The document as the service gives it (with the key; Schemathesis' own requests sign in
    // per operation, as the document's security says).
    let document = reqwest::Client::new()
        .get(format!("{}/openapi.json", s.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(reports.path().join("openapi.json"), &document).unwrap();
    // Its output goes to files: a pipe nobody reads while it runs could fill and stall it.
    let log = |name: &str| std::fs::File::create(reports.path().join(name)).unwrap();
    let mut child = Command::new(program)
        .arg("--config-file")
        .arg(here.join("schemathesis.toml"))
        .arg("run")
        .arg(reports.path().join("openapi.json"))
        .args(["--url", &s.url])
        .args(["--checks", "all", "--max-examples", EXAMPLES_PER_OPERATION, "--seed", "17"])
        .args([
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--no-color",
            "--request-timeout",
            "10",
            "--suppress-health-check",
            "all",
        ])
        .args(["--output-sanitize", "false", "--generation-database", "none"])
        .envs(sign_ins(&s.url).await)
        .arg("--report-dir")
        .arg(reports.path())
        .env("SCHEMATHESIS_HOOKS", here.join("hooks.py"))
        .current_dir(reports.path())
        .env("NANGO_TEST_MOCK_URL", s.mock.url())
        .stdout(log("stdout.txt"))
        .stderr(log("stderr.txt"))
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            panic!("schemathesis took over 4 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let read = |name: &str| std::fs::read_to_string(reports.path().join(name)).unwrap_or_default();
    eprintln!("schemathesis ran {:.1?}", started.elapsed());
    assert!(
        status.success(),
        "schemathesis found failures ({status}):\n{}\n{}",
        read("stdout.txt"),
        read("stderr.txt")
    );
    s.server.shutdown().await;
}
