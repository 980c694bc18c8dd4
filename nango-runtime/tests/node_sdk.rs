//! Nango's own Node SDK (`@nangohq/node`, installed from npm) against a real `serve`: every
//! method whose feature the service has, for the current release line (0.71) and the
//! nango.yaml-era line (0.69), driven by `tests/node_sdk/checks.mjs` against the mock provider.
//!
//! Each line's packages are installed once (`npm ci` from the line's `package-lock.json`, so the
//! versions are pinned) into a folder under the target directory, and again only when the lock
//! file changes. Node.js and npm are needed: without them the test fails and says how to get
//! them.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

mod common;
#[path = "support/hooks.rs"]
mod hooks;
#[path = "support/npm.rs"]
mod npm;

/// The action of `tests/node_sdk/nango.yaml`.
mod actions {
    use nango_runtime::{ActionError, NangoAction, Result};

    pub mod models {
        nango_macros::nango_models!("tests/node_sdk/nango.yaml");
    }

    /// Creates an issue through the provider's API (a POST), or fails as the input asks.
    #[nango_macros::nango_action(path = "tests/node_sdk/nango.yaml", models = crate::actions::models)]
    pub async fn create_issue(
        nango: &mut NangoAction<models::actions::CreateIssue>,
        input: models::NewIssue,
    ) -> Result<models::CreatedIssue> {
        if input.fail == Some(true) {
            return Err(ActionError::new(serde_json::json!({"code": "refused", "title": input.title})).into());
        }
        #[derive(serde::Deserialize)]
        struct Issue {
            number: u64,
            title: String,
            state: String,
        }
        let issue: Issue = nango
            .post(format!("/repos/{}/{}/issues", input.owner, input.repo))
            .json(&serde_json::json!({"title": input.title}))
            .send_json()
            .await?;
        Ok(models::CreatedIssue { number: issue.number as f64, title: issue.title, state: issue.state })
    }
}

use nango_mock_provider::{IssueUpdate, MockProvider};
use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::http::HttpOptions;
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::{RunStatus, Store};
use nango_runtime::{Connection, Credentials, Secret};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hooks::webhook_receiver;

const KEY: &str = "node-sdk-secret-key";
const TOKEN: &str = "t0ken-of-acme";

/// `tests/node_sdk`, where the checks and each line's package files are.
fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node_sdk")
}

/// The folder where the SDK of `line` is installed, installing it when its lock file changed.
fn install(line: &str) -> PathBuf {
    const WHY: &str = "the Node SDK tests drive Nango's @nangohq/node from npm";
    let node = npm::require("node", WHY);
    let major: u32 = node.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 20, "Node.js {node} is too old for @nangohq/node (it needs 20 or newer); upgrade it");
    npm::require("npm", WHY);
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("node-sdk").join(format!("v{line}"));
    npm::npm_ci(&sources().join(format!("v{line}")), &target, "@nangohq/node", &format!("the {line} SDK line"));
    target
}

/// A host nothing should reach: counts the connections made to it.
async fn elsewhere() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, reached)
}

async fn save(store: &Store, integration: &str, id: &str, credentials: Credentials, base_url: &str, metadata: Value) {
    let mut c = Connection::new(integration, id, "github");
    c.credentials = credentials;
    c.base_url = Some(base_url.to_owned());
    c.metadata = metadata;
    store.save_connection(&c).await.unwrap();
}

/// Waits until `n` runs of a connection's syncs have ended successfully.
async fn wait_runs(store: &Store, integration: &str, id: &str, n: usize) {
    let key = store.connection_key(integration, id).await.unwrap().unwrap();
    for _ in 0..400 {
        let runs = store.runs(Some(key), None, 100).await.unwrap();
        if let Some(failed) = runs.iter().find(|r| r.status == RunStatus::Failed) {
            panic!("a run of {integration}/{id} failed: {:?}", failed.error);
        }
        if runs.iter().filter(|r| r.status == RunStatus::Success).count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {n} runs of {integration}/{id} ended in time");
}

/// One SDK line against its own service and mock provider.
async fn drive(line: &str) {
    let sdk = tokio::task::spawn_blocking({
        let line = line.to_owned();
        move || install(&line)
    })
    .await
    .unwrap();
    std::fs::copy(sources().join("checks.mjs"), sdk.join("checks.mjs")).unwrap();

    let mock = MockProvider::builder()
        .issues(120)
        .token(TOKEN)
        .oauth("app-client", "app-secret", "refresh-1")
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("nango.db").display()), Sealer::InsecureClear)
        .await
        .unwrap();
    let repo = json!({"owner": "octocat", "repo": "hello-world", "per_page": 50});
    let bearer = || Credentials::Bearer { token: Secret::new(TOKEN) };
    save(&store, "github-full", "acme", bearer(), mock.url(), repo.clone()).await;
    save(&store, "github-full", "other", bearer(), mock.url(), repo.clone()).await;
    save(&store, "github-actions", "acme", bearer(), mock.url(), json!({})).await;
    save(&store, "github-actions", "to-delete", bearer(), mock.url(), json!({})).await;
    let oauth = Credentials::OAuth2 {
        access_token: Secret::new(TOKEN),
        refresh_token: Some(Secret::new("refresh-1")),
        expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        client_id: Some("app-client".into()),
        client_secret: Some(Secret::new("app-secret")),
    };
    save(&store, "github-actions", "oauth-user", oauth, mock.url(), json!({})).await;

    let (webhook_url, webhooks) = webhook_receiver().await;
    let (elsewhere_url, reached) = elsewhere().await;
    let http_options = HttpOptions::default().min_delay(Duration::from_millis(1)).max_delay(Duration::from_millis(20));
    let runtime = Runtime::new(store).with_http_options(http_options);
    let mut options = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret_key: KEY.into(),
        webhook_urls: vec![webhook_url],
        shutdown_grace: Duration::from_secs(5),
        webhook_retry_delay: Duration::from_millis(20),
        ..Default::default()
    };
    options.scheduler.tick = Duration::from_millis(50);
    let server = Server::start(runtime, options).await.unwrap();
    let store = server.state().store().clone();

    // A first run of both connections (auto_start), then one change and one deletion at the
    // provider and a second run of `acme`: its records are added, updated and deleted ones.
    wait_runs(&store, "github-full", "acme", 1).await;
    wait_runs(&store, "github-full", "other", 1).await;
    mock.update_issue(5, IssueUpdate { title: Some("Renamed at the provider".into()), state: None }).unwrap();
    assert!(mock.delete_issue(7));
    let acme = store.connection("github-full", "acme").await.unwrap().unwrap();
    let sync = nango_runtime::registered_syncs().find(|s| s.descriptor.name == "issues-full").unwrap();
    server.state().scheduler.trigger(acme.key, sync, false, false).await.unwrap();
    wait_runs(&store, "github-full", "acme", 2).await;
    let webhook = loop {
        if let Some((headers, body)) = webhooks.lock().unwrap().first().cloned() {
            break (headers, body);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let webhook_headers: serde_json::Map<String, Value> = webhook
        .0
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.to_str().unwrap_or_default().to_owned())))
        .collect();

    let config = json!({
        "line": line,
        "host": format!("http://{}", server.addr()),
        "secretKey": KEY,
        "token": TOKEN,
        "mockUrl": mock.url(),
        "elsewhereUrl": elsewhere_url,
        "records": {"total": 120, "updatedId": "1000005", "updatedTitle": "Renamed at the provider", "deletedId": "1000007"},
        "webhook": {"headers": webhook_headers, "body": String::from_utf8_lossy(&webhook.1)},
    });
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("checks.mjs")
            .env("NANGO_SDK_CHECK_CONFIG", config.to_string())
            .current_dir(&sdk)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("@nangohq/node {line}:\n{stdout}{stderr}");
    assert!(output.status.success(), "the {line} SDK checks failed:\n{stdout}{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert_eq!(reached.load(Ordering::SeqCst), 0, "a redirect was followed to another host");
    server.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_node_sdk_line_works_against_serve() {
    drive("0.71").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nango_yaml_era_node_sdk_line_works_against_serve() {
    drive("0.69").await;
}
