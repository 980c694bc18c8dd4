//! Nango's frontend SDK, unmodified, in headless Chromium: a test page built from
//! `@nangohq/frontend` (installed by npm, bundled by esbuild) gets a session token from the
//! developer's backend (`@nangohq/node`'s `createConnectSession`) and connects GitHub through
//! the OAuth popup (approve: the connection appears, its first sync stores the issues and
//! `listRecords` returns them, the auth webhook verifies; deny: an error, nothing stored), an
//! API-key provider, and an expired session; the Connect UI is opened by `openConnectUI` and
//! kept as screenshots under the target folder. One browser session for the file.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

#[path = "connect/env.rs"]
mod env;
#[path = "support/hooks.rs"]
mod hooks;
#[path = "support/npm.rs"]
mod npm;
// Shared with the console test, which uses more of it.
#[allow(dead_code)]
mod webdriver;

use env::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use webdriver::{Browser, HANG_GUARD};

/// `tests/connect_ui`: the page's script, the backend's script and the pinned packages.
fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/connect_ui")
}

/// The packages installed (once per lock file) under the target folder, with the page bundled.
fn install() -> PathBuf {
    const WHY: &str = "the Connect UI test bundles Nango's @nangohq/frontend from npm and runs @nangohq/node";
    npm::require("node", WHY);
    npm::require("npm", WHY);
    let source = sources();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("connect-ui");
    npm::npm_ci(&source, &target, "@nangohq/frontend", "the Connect UI test's packages");
    for file in ["page.mjs", "backend.mjs"] {
        std::fs::copy(source.join(file), target.join(file)).unwrap();
    }
    let out = Command::new("node")
        .args(["node_modules/esbuild/bin/esbuild", "page.mjs", "--bundle", "--format=iife", "--outfile=bundle.js"])
        .current_dir(&target)
        .output()
        .unwrap();
    assert!(out.status.success(), "esbuild could not bundle the page:\n{}", String::from_utf8_lossy(&out.stderr));
    target
}

/// Serves the test page and its bundle on loopback (another origin than the service, as a
/// developer's app is); gives its URL.
async fn page_server(bundle: Vec<u8>) -> String {
    const PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>My app</title></head><body>
<h1>My app</h1>
<button id="oauth">Connect GitHub</button> <button id="apikey">Connect with an API key</button> <button id="ui">Open Connect UI</button>
<pre id="result"></pre><pre id="events"></pre>
<script src="/bundle.js"></script></body></html>"#;
    let app = axum::Router::new().route("/", axum::routing::get(|| async { axum::response::Html(PAGE) })).route(
        "/bundle.js",
        axum::routing::get(move || {
            let bundle = bundle.clone();
            async move { ([("content-type", "text/javascript")], bundle) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Runs the developer's backend script with Nango's Node SDK; its JSON output.
async fn backend(dir: &Path, host: &str, args: &[&str]) -> Value {
    let mut command = Command::new("node");
    command.arg("backend.mjs").args(args).current_dir(dir).env("NANGO_HOST", host).env("NANGO_SECRET_KEY", KEY);
    let out = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    assert!(out.status.success(), "backend.mjs {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("backend.mjs printed no JSON ({e})"))
}

/// Where screenshots go: the target folder, so CI can keep them.
fn artefact(name: &str) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), |p| p.to_path_buf()).join(name)
}

fn save_png(name: &str, png: &[u8]) {
    assert!(png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG screenshot ({} bytes)", png.len());
    std::fs::write(artefact(name), png).unwrap();
}

/// Waits until `script` (a function body) returns something other than null/false/"".
async fn wait_for(browser: &Browser, what: &str, script: &str) -> Value {
    let start = Instant::now();
    loop {
        if let Ok(value) = browser.execute(script).await
            && !matches!(&value, Value::Null | Value::Bool(false))
            && value.as_str() != Some("")
        {
            return value;
        }
        assert!(start.elapsed() < HANG_GUARD, "waited too long for {what}: {}", browser.visible_text().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The outcome the page shows: `(kind, value)`.
async fn outcome(browser: &Browser) -> (String, Value) {
    let text = wait_for(browser, "the outcome", "var r = document.getElementById('result'); return r.dataset.kind ? r.dataset.kind + ' ' + r.textContent : null;").await;
    let text = text.as_str().unwrap().to_owned();
    let (kind, json) = text.split_once(' ').unwrap();
    (kind.to_owned(), serde_json::from_str(json).unwrap())
}

async fn clear_outcome(browser: &Browser) {
    browser
        .execute("var r = document.getElementById('result'); delete r.dataset.kind; r.textContent = ''; return true;")
        .await
        .unwrap();
}

/// Waits for the popup the page opened; gives its handle.
async fn popup(browser: &Browser, main: &str) -> String {
    let start = Instant::now();
    loop {
        let handles = browser.window_handles().await.unwrap();
        if let Some(other) = handles.iter().find(|h| *h != main) {
            return other.clone();
        }
        assert!(start.elapsed() < HANG_GUARD, "no popup opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until only the main window is left (the SDK closes its popup).
async fn popup_closed(browser: &Browser) {
    let start = Instant::now();
    while browser.window_handles().await.unwrap().len() > 1 {
        assert!(start.elapsed() < HANG_GUARD, "the popup stayed open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks `selector` on the popup's current page, once it is there.
async fn click_in_popup(browser: &Browser, handle: &str, selector: &str) {
    browser.switch_to_window(handle).await.unwrap();
    let start = Instant::now();
    let button = loop {
        match browser.find(selector).await {
            Ok(button) => break button,
            Err(e) => assert!(
                start.elapsed() < Duration::from_secs(15),
                "no {selector} in the popup ({}): {e}\n{}",
                browser.current_url().await.unwrap_or_default(),
                browser.visible_text().await
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    browser.click(&button).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nangos_frontend_sdk_connects_through_popups_forms_and_the_connect_ui() {
    webdriver::require_chromium();
    let env = env().await;
    let dir = tokio::task::spawn_blocking(install).await.unwrap();
    let host = env.url("");
    let page = page_server(std::fs::read(dir.join("bundle.js")).unwrap()).await;
    let session = backend(&dir, &host, &["session", "browser-user", "github,keys"]).await;
    let token = session["token"].as_str().unwrap().to_owned();
    let browser = Browser::launch().await;
    browser.goto(&format!("{page}/?host={host}&token={token}&apiKey={GOOD_API_KEY}")).await.unwrap();
    let main = browser.window_handle().await.unwrap();

    // Approve: the SDK's promise resolves with the new connection.
    browser.click(&browser.find("#oauth").await.unwrap()).await.unwrap();
    let handle = popup(&browser, &main).await;
    click_in_popup(&browser, &handle, "#approve").await;
    browser.switch_to_window(&main).await.unwrap();
    let (kind, made) = outcome(&browser).await;
    assert_eq!(kind, "ok", "{made}");
    assert_eq!(made["providerConfigKey"], "github");
    let connection_id = made["connectionId"].as_str().unwrap().to_owned();
    popup_closed(&browser).await;
    let connections = env.connections_of("browser-user").await;
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["connection_id"], connection_id.as_str());
    let hook = env.wait_auth_webhook(&connection_id).await;
    assert_eq!((hook["operation"].as_str(), hook["success"].as_bool()), (Some("creation"), Some(true)));
    // The first sync ran at once: the backend's listRecords returns the issues.
    let start = Instant::now();
    loop {
        let records = backend(&dir, &host, &["records", &connection_id]).await;
        if records["count"] == 30 {
            assert!(records["first"]["title"].as_str().unwrap().starts_with("Issue #"), "{records}");
            break;
        }
        assert!(start.elapsed() < HANG_GUARD, "the first sync did not store the issues: {records}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Deny: the promise fails with the provider's answer, nothing is stored.
    clear_outcome(&browser).await;
    browser.click(&browser.find("#oauth").await.unwrap()).await.unwrap();
    let handle = popup(&browser, &main).await;
    click_in_popup(&browser, &handle, "#deny").await;
    browser.switch_to_window(&main).await.unwrap();
    let (kind, error) = outcome(&browser).await;
    assert_eq!(kind, "error", "{error}");
    assert_eq!(error["type"], "access_denied", "{error}");
    popup_closed(&browser).await;
    assert_eq!(env.connections_of("browser-user").await.len(), 1);

    // An API-key provider: no popup, the key is checked by the provider and stored.
    clear_outcome(&browser).await;
    browser.click(&browser.find("#apikey").await.unwrap()).await.unwrap();
    let (kind, made) = outcome(&browser).await;
    assert_eq!(kind, "ok", "{made}");
    assert_eq!(made["providerConfigKey"], "keys");
    assert_eq!(env.connections_of("browser-user").await.len(), 2);

    // openConnectUI: our Connect UI in the SDK's frame, the session token handed over.
    browser.click(&browser.find("#ui").await.unwrap()).await.unwrap();
    wait_for(
        &browser,
        "the Connect UI's ready event",
        "return document.getElementById('events').textContent.includes('ready');",
    )
    .await;
    wait_for(
        &browser,
        "the Connect UI's frame",
        "var f = document.getElementById('connect-ui'); return !!f && f.src.includes('/connect/ui/');",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the frame reloads with the token
    save_png("connect-ui-frame-screenshot.png", &browser.screenshot().await.unwrap());
    // The same page from the session's connect link, without the SDK.
    browser.goto(session["connect_link"].as_str().unwrap()).await.unwrap();
    let text = browser.visible_text().await;
    assert!(text.contains("Mock GitHub") && text.contains("API key"), "{text}");
    save_png("connect-ui-screenshot.png", &browser.screenshot().await.unwrap());

    // An expired session: the popup says so and the promise fails.
    let late = backend(&dir, &host, &["session", "late-browser-user", "github"]).await;
    let late_token = late["token"].as_str().unwrap();
    expire(env, late_token).await;
    browser.goto(&format!("{page}/?host={host}&token={late_token}")).await.unwrap();
    browser.click(&browser.find("#oauth").await.unwrap()).await.unwrap();
    let (kind, error) = outcome(&browser).await;
    assert_eq!(kind, "error", "{error}");
    assert_eq!(error["type"], "expired_connect_session_token", "{error}");
    assert!(env.connections_of("late-browser-user").await.is_empty());
    browser.quit().await;
}
