//! The web console: in a real headless Chromium (sign in, trigger a sync with its button, watch
//! the run and its webhook appear, resume the schedule, open the run's page), and over plain HTTP for what a
//! browser test would check slowly (key handling, escaping, unknown actions).
//!
//! The browser test needs Debian's `chromium` and `chromium-driver`; without them it fails and
//! says how to install them (CI installs them in `.ci/run`).

mod webdriver;

use nango_mock_provider::{MockProvider, MockServer};
use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::http::{HttpOptions, Pagination};
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::{ConnectionKey, RunStatus, Store};
use nango_runtime::{Connection, Credentials, NangoSync, Result, Secret};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use webdriver::{Browser, WdError};

mod models {
    nango_macros::nango_models!("tests/syncs/nango.yaml");
}
use models::Issue;

const KEY: &str = "console-test-key";
const INTEGRATION: &str = "github-pages";
const SYNC: &str = "issues-pages";

#[derive(Debug, Deserialize)]
struct GithubIssue {
    id: u64,
    number: u64,
    title: String,
    state: String,
    updated_at: String,
}

impl From<GithubIssue> for Issue {
    fn from(i: GithubIssue) -> Issue {
        Issue {
            id: i.id.to_string(),
            number: i.number as f64,
            title: i.title,
            state: i.state,
            updated_at: i.updated_at,
        }
    }
}

/// The page-number sync of `tests/sync_runs.rs`: 50 issues in two pages of 30.
#[nango_macros::nango_sync(path = "tests/syncs/nango.yaml", models = crate::models)]
async fn issues_pages(nango: &mut NangoSync<models::syncs::IssuesPages>) -> Result<()> {
    let repo = nango.metadata()?;
    let mut pages = nango
        .paginate::<GithubIssue>(format!("/repos/{}/{}/issues", repo.owner, repo.repo))
        .pagination(Pagination::page("page").limit_name_in_request("per_page"))
        .query("state", "all")
        .limit(30);
    while let Some(page) = pages.next_page().await? {
        nango.batch_save(page.into_iter().map(Issue::from)).await?;
    }
    Ok(())
}

struct Console {
    _dir: tempfile::TempDir,
    _mock: MockServer,
    server: Server,
    url: String,
}

impl Console {
    fn store(&self) -> &Store {
        self.server.state().store()
    }

    async fn key(&self, connection_id: &str) -> ConnectionKey {
        self.store().connection_key(INTEGRATION, connection_id).await.unwrap().unwrap()
    }
}

/// A webhook receiver that accepts everything, so runs leave delivery attempts to show.
async fn webhook_receiver() -> String {
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

/// The service on a free port with one `github-pages` connection per id, each sync paused
/// before the scheduler starts: only the console's buttons make anything run.
async fn console(connection_ids: &[&str]) -> Console {
    let mock = MockProvider::builder().issues(50).token("t0ken").start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
    for id in connection_ids {
        let mut c = Connection::new(INTEGRATION, *id, "github");
        c.credentials = Credentials::Bearer { token: Secret::new("t0ken") };
        c.base_url = Some(mock.url().to_owned());
        c.metadata = serde_json::json!({"owner": "a", "repo": "b"});
        let key = store.save_connection(&c).await.unwrap();
        store.set_paused(key, SYNC, Some(true)).await.unwrap();
    }
    let http = HttpOptions::default().min_delay(Duration::from_millis(1)).max_delay(Duration::from_millis(20));
    let options = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret_key: KEY.into(),
        webhook_urls: vec![webhook_receiver().await],
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    };
    let server = Server::start(Runtime::new(store).with_http_options(http), options).await.unwrap();
    let url = format!("http://{}", server.addr());
    Console { _dir: dir, _mock: mock, server, url }
}

/// Where screenshots go: the target directory (the parent of the test's scratch directory), so
/// CI can keep them as artefacts.
fn artefact(name: &str) -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), |p| p.to_path_buf()).join(name)
}

fn save_png(path: &PathBuf, png: &[u8]) {
    assert!(png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG screenshot ({} bytes)", png.len());
    std::fs::write(path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Clicks `button` inside `row`, finding both afresh on each try: the dashboard reloads itself
/// every 5 seconds, which can make an element found a moment ago stale.
async fn click_in_row(browser: &Browser, row: &str, button: &str) {
    let mut last = None;
    for _ in 0..5 {
        let attempt = async {
            let row = browser.find(row).await?;
            let button = browser.find_in(&row, button).await?;
            browser.click(&button).await
        };
        match attempt.await {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot click {button} in {row}: {}", last.map(|e| e.to_string()).unwrap_or_default());
}

/// Reloads the dashboard until `check` passes (up to 10 s); the last value it saw otherwise.
async fn poll<T, F>(browser: &Browser, what: &str, mut check: F) -> T
where
    F: AsyncFnMut(&Browser) -> std::result::Result<Option<T>, WdError>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match check(browser).await {
            Ok(Some(found)) => return found,
            // A reload can land between finding an element and reading it: look again.
            Ok(None) | Err(_) if Instant::now() < deadline => {}
            Ok(None) => panic!("{what}: not within 10 s\n{}", browser.source().await.unwrap_or_default()),
            Err(e) => panic!("{what}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.refresh().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_triggers_a_sync_and_reads_the_run() {
    webdriver::require_chromium();
    let console = console(&["acme"]).await;
    let browser = Browser::launch().await;

    // Signing in sets the cookie and lands on the dashboard.
    browser.goto(&format!("{}/login?key={KEY}", console.url)).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/", console.url));
    let row_css = format!("#sync-acme-{SYNC}");
    let row = browser.find(&row_css).await.unwrap_or_else(|e| {
        panic!("no row {row_css}: {e}");
    });
    let text = browser.text(&row).await.unwrap();
    assert!(text.contains(SYNC) && text.contains("PAUSED") && text.contains("never ran"), "{text}");
    let before = browser.find_all("#runs tr.run").await.unwrap().len();
    assert_eq!(before, 0, "the sync is paused: nothing ran before the click");

    // The Trigger button runs it although it is paused; the POST redirects back to `/`.
    click_in_row(&browser, &row_css, "button.trigger").await;
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/", console.url));
    let run_id = poll(&browser, "a new successful run row", async |b: &Browser| {
        let rows = b.find_all("#runs tr.run").await?;
        if rows.len() <= before {
            return Ok(None);
        }
        let newest = &rows[0];
        if b.attribute(newest, "data-status").await?.as_deref() != Some("SUCCESS") {
            return Ok(None);
        }
        b.attribute(newest, "data-run-id").await
    })
    .await;
    let runs = console.store().runs(None, None, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].id.to_string(), runs[0].status), (run_id.clone(), RunStatus::Success));

    // Resume: the schedule is live again, the row shows the last run's status and offers Pause.
    click_in_row(&browser, &row_css, "button.resume").await;
    let row_text = poll(&browser, "the resumed sync row", async |b: &Browser| {
        let row = b.find(&row_css).await?;
        let resumed = b.attribute(&row, "data-status").await?.as_deref() == Some("SUCCESS")
            && b.find_in(&row, "button.pause").await.is_ok();
        Ok(if resumed { Some(b.text(&row).await?) } else { None })
    })
    .await;
    assert!(row_text.contains("Issue 50") && row_text.contains("+50"), "{row_text}");
    let stored = console.store().sync_state(console.key("acme").await, SYNC).await.unwrap();
    assert_eq!(stored.paused, Some(false));

    // The run's webhook went out (from its own task, so it may land a moment after the run).
    let delivery = poll(&browser, "a webhook delivery row", async |b: &Browser| {
        let rows = b.find_all("#deliveries tr.delivery").await?;
        Ok(match rows.first() {
            Some(row) => Some(b.text(row).await?),
            None => None,
        })
    })
    .await;
    assert!(delivery.contains("Issue") && delivery.contains("/hook") && delivery.contains("200"), "{delivery}");

    let dashboard = artefact("console-screenshot.png");
    save_png(&dashboard, &browser.screenshot().await.unwrap());

    // The run's page: its status, counts and the log line the engine wrote.
    click_in_row(&browser, &format!("#runs tr.run[data-run-id=\"{run_id}\"]"), "a").await;
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/console/runs/{run_id}", console.url));
    let status = browser.text(&browser.find("#run-status").await.unwrap()).await.unwrap();
    assert_eq!(status, "SUCCESS");
    let counts = browser.text(&browser.find("#counts").await.unwrap()).await.unwrap();
    assert!(counts.contains("Issue") && counts.contains("50"), "{counts}");
    let log = browser.text(&browser.find("#logs").await.unwrap()).await.unwrap();
    assert!(log.contains("run succeeded"), "{log}");
    let deliveries = browser.text(&browser.find("#deliveries").await.unwrap()).await.unwrap();
    assert!(deliveries.contains("/hook") && deliveries.contains("200"), "{deliveries}");
    save_png(&artefact("console-run-screenshot.png"), &browser.screenshot().await.unwrap());

    browser.quit().await;
    console.server.shutdown().await;
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
}

#[tokio::test]
async fn the_console_checks_the_key_escapes_text_and_rejects_unknown_targets() {
    let hostile = r#"<img src=x onerror="alert(1)">"#;
    let console = console(&["acme", hostile]).await;
    let http = no_redirects();
    let url = &console.url;

    // Without the key: sent to the login form; with a wrong one: the form again.
    let anonymous_page = http.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(anonymous_page.status(), 303);
    assert_eq!(anonymous_page.headers()["location"], "/login");
    let form = http.get(format!("{url}/login")).send().await.unwrap();
    assert_eq!(form.status(), 401);
    assert!(form.text().await.unwrap().contains(r#"<form method="get" action="/login">"#));
    let wrong = http.get(format!("{url}/login?key=console-test-kez")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("That key is not valid."));

    // The right key: a strict, HTTP-only cookie and a 303 to the dashboard.
    let ok = http.get(format!("{url}/login?key={KEY}")).send().await.unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/");
    assert_eq!(ok.headers()["set-cookie"], format!("nango_key={KEY}; HttpOnly; SameSite=Strict; Path=/"));
    let cookie = format!("nango_key={KEY}");

    let page = http.get(format!("{url}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!(r#"id="sync-acme-{SYNC}""#)), "{html}");
    assert!(html.contains(r#"<meta http-equiv="refresh" content="5">"#));
    // The hostile connection id is shown, as text only.
    assert!(html.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"), "{html}");
    assert!(!html.contains("<img"), "{html}");

    // Actions: unknown action, connection or sync are 404 pages; known ones act and redirect.
    let key = console.key("acme").await;
    let post = |path: String| http.post(format!("{url}{path}")).header("cookie", &cookie).send();
    for path in [
        format!("/console/syncs/{key}/{SYNC}/explode"),
        format!("/console/syncs/999999/{SYNC}/trigger"),
        format!("/console/syncs/not-a-key/{SYNC}/trigger"),
        format!("/console/syncs/{key}/no-such-sync/trigger"),
    ] {
        let answer = post(path.clone()).await.unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        assert!(answer.text().await.unwrap().contains("<h2>Not Found</h2>"), "{path}");
    }
    // Without the cookie the actions are refused like the API.
    let anonymous = http.post(format!("{url}/console/syncs/{key}/{SYNC}/trigger")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // Resume and pause the other connection's sync (resuming makes it run, which must not mix
    // with the resync of `acme` below).
    let other = console.key(hostile).await;
    let resumed = post(format!("/console/syncs/{other}/{SYNC}/resume")).await.unwrap();
    assert_eq!((resumed.status().as_u16(), resumed.headers()["location"].to_str().unwrap()), (303, "/"));
    assert_eq!(console.store().sync_state(other, SYNC).await.unwrap().paused, Some(false));
    let paused = post(format!("/console/syncs/{other}/{SYNC}/pause")).await.unwrap();
    assert_eq!(paused.status(), 303);
    assert_eq!(console.store().sync_state(other, SYNC).await.unwrap().paused, Some(true));

    // A full resync runs it from scratch; its page shows the log.
    let resync = post(format!("/console/syncs/{key}/{SYNC}/resync")).await.unwrap();
    assert_eq!(resync.status(), 303);
    let deadline = Instant::now() + Duration::from_secs(10);
    let run = loop {
        let runs = console.store().runs(Some(key), None, 1).await.unwrap();
        if let Some(run) = runs.into_iter().find(|r| r.status != RunStatus::Running) {
            break run;
        }
        assert!(Instant::now() < deadline, "the resync did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.error);
    let page = http.get(format!("{url}/console/runs/{}", run.id)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("run succeeded: Issue: 50 added"), "{html}");
    for missing in ["/console/runs/123456", "/console/runs/abc"] {
        let answer = http.get(format!("{url}{missing}")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{missing}");
    }

    console.server.shutdown().await;
}
