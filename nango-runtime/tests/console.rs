//! The web console: in a real headless Chromium (sign in through the form, trigger a sync with
//! its button, watch the run and its webhook appear, resume the schedule, open the run's page,
//! connect and delete from the connections page, sign out), and over plain HTTP for what a browser test would check slowly (wrong keys, CSRF
//! tokens and origins, expired sessions, the key kept out of URLs and cookies, escaping,
//! unknown actions).
//!
//! The browser test needs Debian's `chromium` and `chromium-driver`; without them it fails and
//! says how to install them (CI installs them in `.ci/run`).

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

#[path = "support/hooks.rs"]
mod hooks;
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
use webdriver::{Browser, HANG_GUARD, WdError};

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
    dir: tempfile::TempDir,
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

/// The service on a free port with one `github-pages` connection per id, each sync paused
/// before the scheduler starts: only the console's buttons make anything run.
async fn console(connection_ids: &[&str]) -> Console {
    console_with(connection_ids, ServeOptions::default().console_session_ttl).await
}

/// [`console`] with sign-ins that last `session_ttl`.
async fn console_with(connection_ids: &[&str], session_ttl: Duration) -> Console {
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
        webhook_urls: vec![hooks::webhook_receiver().await.0],
        shutdown_grace: Duration::from_secs(5),
        console_session_ttl: session_ttl,
        ..Default::default()
    };
    let server = Server::start(Runtime::new(store).with_http_options(http), options).await.unwrap();
    let url = format!("http://{}", server.addr());
    Console { dir, _mock: mock, server, url }
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

/// Clicks `button` inside `row` and waits until the page it leads to has loaded. The dashboard
/// reloads itself every 5 seconds, which can make an element found a moment ago stale: then both
/// are found afresh in the reloaded page. Only a click that did not happen is tried again, so a
/// form is never posted twice.
async fn click_in_row(browser: &Browser, row: &str, button: &str) {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let found = async {
            let page = browser.mark_page().await?;
            let in_row = browser.find(row).await?;
            Ok::<_, WdError>((page, browser.find_in(&in_row, button).await?))
        };
        let error = match found.await {
            Ok((page, element)) => match browser.click(&element).await {
                Ok(()) => {
                    let loaded = browser.wait_for_next_page(&page).await;
                    loaded.unwrap_or_else(|e| panic!("after clicking {button} in {row}: {e}"));
                    return;
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        assert!(error.is_stale() && Instant::now() < deadline, "cannot click {button} in {row}: {error}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Reads the page shown with `read`, again from the start when the page reloaded itself under
/// it (an element went stale).
async fn read_page<T, F>(browser: &Browser, what: &str, mut read: F) -> T
where
    F: AsyncFnMut(&Browser) -> std::result::Result<T, WdError>,
{
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        match read(browser).await {
            Ok(found) => return found,
            Err(e) if e.is_stale() && Instant::now() < deadline => {}
            Err(e) => panic!("{what}: {e}\n{}", browser.visible_text().await),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the store says `ready` (the event the page is about: a run ended, a webhook was
/// delivered), then until the dashboard shows it: `check` on a freshly loaded dashboard, until
/// it finds what it looks for (the scheduler's own state settles a moment after the store's).
async fn when_shown<T, F>(
    console: &Console,
    browser: &Browser,
    what: &str,
    ready: impl AsyncFn(&Store) -> bool,
    mut check: F,
) -> T
where
    F: AsyncFnMut(&Browser) -> std::result::Result<Option<T>, WdError>,
{
    let deadline = Instant::now() + HANG_GUARD;
    while !ready(console.store()).await {
        assert!(Instant::now() < deadline, "{what}: the store did not get there within {HANG_GUARD:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    loop {
        browser.goto(&format!("{}/", console.url)).await.unwrap();
        match check(browser).await {
            Ok(Some(found)) => return found,
            // Not shown yet, or the page reloaded itself while it was read: look again.
            Ok(None) | Err(_) if Instant::now() < deadline => {}
            Ok(None) => {
                panic!("{what}: the store has it, the page does not\n{}", browser.visible_text().await)
            }
            Err(e) => panic!("{what}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Signs in through the form: types the key, submits, and lands on the dashboard.
async fn sign_in_in_browser(browser: &Browser, console: &Console) {
    browser.goto(&format!("{}/login", console.url)).await.unwrap();
    let field = browser.find("#login input[name=key]").await.unwrap();
    browser.send_keys(&field, KEY).await.unwrap();
    save_png(&artefact("console-signin-screenshot.png"), &browser.screenshot().await.unwrap());
    let submit = browser.find("#login button[type=submit]").await.unwrap();
    browser.click_to_next_page(&submit).await.unwrap();
    let landed = browser.current_url().await.unwrap();
    assert_eq!(landed, format!("{}/", console.url), "{}", browser.visible_text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_triggers_a_sync_reads_the_run_and_signs_out() {
    webdriver::require_chromium();
    let console = console(&["acme"]).await;
    let browser = Browser::launch().await;

    // Without a session the dashboard sends the browser to the sign-in form.
    browser.goto(&format!("{}/", console.url)).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/login", console.url));
    sign_in_in_browser(&browser, &console).await;

    // The browser holds a session id, not the key, in a strict HTTP-only cookie.
    let cookies = browser.cookies().await.unwrap();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert_eq!(cookie["name"], "nango_session", "{cookie}");
    assert_eq!((cookie["httpOnly"].as_bool(), cookie["sameSite"].as_str()), (Some(true), Some("Strict")), "{cookie}");
    assert!(!cookie["value"].as_str().unwrap().contains(KEY), "{cookie}");

    let row_css = format!("#sync-acme-{SYNC}");
    let (text, before) = read_page(&browser, &format!("the row {row_css}"), async |b: &Browser| {
        let text = b.text(&b.find(&row_css).await?).await?;
        Ok((text, b.find_all("#runs tr.run").await?.len()))
    })
    .await;
    assert!(text.contains(SYNC) && text.contains("PAUSED") && text.contains("never ran"), "{text}");
    assert_eq!(before, 0, "the sync is paused: nothing ran before the click");

    // The Trigger button runs it although it is paused; the POST (with the session's CSRF token,
    // from the same origin) redirects back to `/`.
    click_in_row(&browser, &row_css, "button.trigger").await;
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/", console.url));
    // The run has ended, and the scheduler has set the next one (an hour away), so resuming
    // below starts no other run.
    let ended = async |store: &Store| {
        let runs = store.runs(None, None, 10).await.unwrap();
        let Some(key) = store.connection_key(INTEGRATION, "acme").await.unwrap() else { return false };
        let next = store.sync_state(key, SYNC).await.unwrap().next_run_at;
        runs.first().is_some_and(|r| r.status != RunStatus::Running) && next.is_some_and(|t| t > chrono::Utc::now())
    };
    let run_id = when_shown(&console, &browser, "a new successful run row", ended, async |b: &Browser| {
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
    let resumed = async |store: &Store| {
        let Some(key) = store.connection_key(INTEGRATION, "acme").await.unwrap() else { return false };
        store.sync_state(key, SYNC).await.unwrap().paused == Some(false)
    };
    let row_text = when_shown(&console, &browser, "the resumed sync row", resumed, async |b: &Browser| {
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
    let delivered = async |store: &Store| !store.deliveries(None, 10).await.unwrap().is_empty();
    let delivery = when_shown(&console, &browser, "a webhook delivery row", delivered, async |b: &Browser| {
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
    let (status, counts, log, deliveries) = read_page(&browser, "the run's page", async |b: &Browser| {
        let text_of = async |css: &str| b.text(&b.find(css).await?).await;
        Ok((
            text_of("#run-status").await?,
            text_of("#counts").await?,
            text_of("#logs").await?,
            text_of("#deliveries").await?,
        ))
    })
    .await;
    assert_eq!(status, "SUCCESS");
    assert!(counts.contains("Issue") && counts.contains("50"), "{counts}");
    assert!(log.contains("run succeeded"), "{log}");
    assert!(deliveries.contains("/hook") && deliveries.contains("200"), "{deliveries}");
    save_png(&artefact("console-run-screenshot.png"), &browser.screenshot().await.unwrap());

    // The connections page, from the navigation: the connection, its integration and its sync.
    let nav = browser.find("nav a[href=\"/console/connections\"]").await.unwrap();
    browser.click_to_next_page(&nav).await.unwrap();
    let connections = format!("{}/console/connections", console.url);
    assert_eq!(browser.current_url().await.unwrap(), connections);
    let key = console.key("acme").await;
    let row_css = format!("#connection-{key}");
    let row = browser.text(&browser.find(&row_css).await.unwrap()).await.unwrap();
    assert!(row.contains("acme") && row.contains(INTEGRATION) && row.contains(SYNC) && row.contains("ok"), "{row}");
    assert!(console.store().record_counts(key).await.unwrap().values().sum::<u64>() > 0);
    save_png(&artefact("console-connections-screenshot.png"), &browser.screenshot().await.unwrap());

    // "Connect" makes a connect session for the chosen integration and opens its Connect UI.
    let option = browser.find(&format!("#connect option[value=\"{INTEGRATION}\"]")).await.unwrap();
    browser.click(&option).await.unwrap();
    browser.click_to_next_page(&browser.find("#connect button.connect").await.unwrap()).await.unwrap();
    let ui = browser.current_url().await.unwrap();
    assert!(ui.starts_with(&format!("{}/connect/ui?session_token=nango_connect_session_", console.url)), "{ui}");
    let offered = browser.find_all("li[data-integration]").await.unwrap();
    assert_eq!(offered.len(), 1, "{}", browser.visible_text().await);
    assert_eq!(browser.attribute(&offered[0], "data-integration").await.unwrap().as_deref(), Some(INTEGRATION));

    // "Delete" asks again (a disclosure), then deletes the connection and its records.
    browser.goto(&connections).await.unwrap();
    let summary = browser.find(&format!("{row_css} details.delete summary")).await.unwrap();
    browser.click(&summary).await.unwrap();
    click_in_row(&browser, &row_css, "button.delete").await;
    assert_eq!(browser.current_url().await.unwrap(), connections);
    assert!(browser.find_all(&row_css).await.unwrap().is_empty(), "{}", browser.visible_text().await);
    assert_eq!(console.store().connection_key(INTEGRATION, "acme").await.unwrap(), None);
    assert!(console.store().record_counts(key).await.unwrap().values().all(|n| *n == 0));

    // Sign out: back on the sign-in form, the cookie gone, and the dashboard closed again.
    let sign_out = browser.find("#sign-out button").await.unwrap();
    browser.click_to_next_page(&sign_out).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/login", console.url));
    assert!(browser.cookies().await.unwrap().is_empty());
    browser.goto(&format!("{}/", console.url)).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap(), format!("{}/login", console.url));
    browser.find("#login input[name=key]").await.unwrap();

    browser.quit().await;
    console.server.shutdown().await;
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
}

/// A signed-in HTTP client's credentials: the session cookie and the CSRF token its pages carry.
struct SignedIn {
    cookie: String,
    csrf: String,
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).unwrap_or_else(|| panic!("no CSRF field in\n{html}"));
    let rest = &html[start + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// `POST /login` with a form body.
async fn post_login(http: &reqwest::Client, url: &str, body: &str) -> reqwest::Response {
    http.post(format!("{url}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Signs in over HTTP and reads the CSRF token from the dashboard.
async fn sign_in(http: &reqwest::Client, url: &str) -> SignedIn {
    let answer = post_login(http, url, &format!("key={KEY}")).await;
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let set_cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let page = http.get(format!("{url}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    SignedIn { csrf: csrf_of(&page.text().await.unwrap()), cookie }
}

/// A header of a request: name and value.
type Header<'a> = (&'a str, &'a str);

/// A console POST with a form body.
async fn post_form(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    cookie: &str,
    body: &str,
    headers: &[Header<'_>],
) -> reqwest::Response {
    let mut request = http
        .post(format!("{url}{path}"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Every byte the store's files hold (the database and its write-ahead log).
fn database_bytes(console: &Console) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["nango.db", "nango.db-wal"] {
        bytes.extend(std::fs::read(console.dir.path().join(name)).unwrap_or_default());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn signing_in_takes_the_key_from_a_form_body_and_keeps_it_out_of_urls_and_cookies() {
    let console = console(&["acme"]).await;
    let http = no_redirects();
    let url = &console.url;

    // Without a session: sent to the form, which posts the key in its body.
    let anonymous = http.get(format!("{url}/")).send().await.unwrap();
    assert_eq!((anonymous.status().as_u16(), anonymous.headers()["location"].to_str().unwrap()), (303, "/login"));
    let form = http.get(format!("{url}/login")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.headers()["content-security-policy"].to_str().unwrap().contains("form-action 'self'"));
    let html = form.text().await.unwrap();
    assert!(html.contains(r#"<form method="post" action="/login">"#), "{html}");
    assert!(html.contains(r#"<input type="password" name="key""#), "{html}");

    // The old way, the key in the URL, signs nobody in, and the page says why without the key.
    let old = http.get(format!("{url}/login?key={KEY}")).send().await.unwrap();
    assert_eq!(old.status(), 200);
    assert!(old.headers().get("set-cookie").is_none());
    let html = old.text().await.unwrap();
    assert!(html.contains("no longer goes in the address"), "{html}");
    assert!(!html.contains(KEY), "{html}");

    // A wrong key: the form again, a clear error, nothing of what was typed, no cookie.
    let wrong = post_login(&http, url, "key=console-test-kez").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let html = wrong.text().await.unwrap();
    assert!(html.contains("That secret key is not valid."), "{html}");
    assert!(!html.contains("console-test-ke"), "the page hints at the key:\n{html}");
    let empty = post_login(&http, url, "key=").await;
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("Enter the secret key"));

    // The right key: a random session id in a strict, HTTP-only cookie, and a 303 to `/`.
    let ok = post_login(&http, url, &format!("key={KEY}")).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/");
    let set_cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    let id = set_cookie.strip_prefix("nango_session=").unwrap().strip_suffix("; HttpOnly; SameSite=Strict; Path=/");
    let id = id.unwrap_or_else(|| panic!("unexpected cookie {set_cookie}"));
    assert!(id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
    assert!(!set_cookie.contains(KEY));
    let cookie = format!("nango_session={id}");

    // The dashboard opens with it; nowhere in the page (links, forms) is the key.
    let page = http.get(format!("{url}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!(r#"id="sync-acme-{SYNC}""#)), "{html}");
    assert!(!html.contains(KEY), "{html}");

    // The store keeps neither the session id nor the key: only a keyed digest of the id.
    let stored = database_bytes(&console);
    assert!(!stored.is_empty());
    assert!(!contains(&stored, id) && !contains(&stored, KEY), "the database holds the session id or the key");

    // The console's cookie is not an API key, and the API key does not open the console.
    let api = http.get(format!("{url}/connection")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(api.status(), 401);
    let error: serde_json::Value = api.json().await.unwrap();
    assert_eq!(error["error"]["code"], "missing_auth_header", "{error}");
    let bearer = http.get(format!("{url}/connection")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let console_with_key = http.get(format!("{url}/")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(console_with_key.status(), 303);

    // Signing in again from the same browser replaces its session.
    let again = post_form(&http, url, "/login", &cookie, &format!("key={KEY}"), &[("origin", url.as_str())]).await;
    assert_eq!(again.status(), 303);
    let old_page = http.get(format!("{url}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(old_page.status(), 303, "the replaced session still opens the console");

    console.server.shutdown().await;
}

#[tokio::test]
async fn console_posts_need_the_sessions_csrf_token_and_the_same_origin() {
    let console = console(&["acme"]).await;
    let http = no_redirects();
    let url = &console.url;
    let me = sign_in(&http, url).await;
    let other = sign_in(&http, url).await;
    assert_ne!(me.csrf, other.csrf, "each session has its own token");
    let key = console.key("acme").await;
    let resume = format!("/console/syncs/{key}/{SYNC}/resume");
    let paused = async || console.store().sync_state(key, SYNC).await.unwrap().paused;

    // Refused, and nothing done: no token, a wrong one, another session's, a cross-site form.
    let token = format!("csrf={}", me.csrf);
    let refusals: [(&str, String, &[Header]); 6] = [
        ("no token", String::new(), &[]),
        ("an empty token", "csrf=".into(), &[]),
        ("a wrong token", format!("csrf={}x", me.csrf), &[]),
        ("another session's token", format!("csrf={}", other.csrf), &[]),
        ("another origin", token.clone(), &[("origin", "http://evil.example")]),
        ("a cross-site fetch", token.clone(), &[("sec-fetch-site", "cross-site")]),
    ];
    for (what, body, headers) in &refusals {
        let answer = post_form(&http, url, &resume, &me.cookie, body, headers).await;
        assert_eq!(answer.status(), 403, "{what}");
        let html = answer.text().await.unwrap();
        assert!(html.contains("nothing was done"), "{what}: {html}");
        assert_eq!(paused().await, Some(true), "{what}: the sync was resumed");
    }

    // Deleting a connection needs the token too: refused without it or with another session's.
    let delete = format!("/console/connections/{key}/delete");
    for body in [String::new(), format!("csrf={}", other.csrf)] {
        let answer = post_form(&http, url, &delete, &me.cookie, &body, &[]).await;
        assert_eq!(answer.status(), 403, "{body}");
        assert_eq!(console.store().connection_key(INTEGRATION, "acme").await.unwrap(), Some(key), "{body}");
    }

    // The session's own token from its own origin: done.
    let host_origin = url.as_str();
    let ok = post_form(
        &http,
        url,
        &resume,
        &me.cookie,
        &token,
        &[("origin", host_origin), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!((ok.status().as_u16(), ok.headers()["location"].to_str().unwrap()), (303, "/"));
    assert_eq!(paused().await, Some(false));
    let pause = post_form(&http, url, &format!("/console/syncs/{key}/{SYNC}/pause"), &me.cookie, &token, &[]).await;
    assert_eq!(pause.status(), 303);
    assert_eq!(paused().await, Some(true));

    // A sign-in form posted from another site signs nobody in.
    let forged = post_form(&http, url, "/login", "", &format!("key={KEY}"), &[("origin", "http://evil.example")]).await;
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none());

    // Sign-out is a POST with the token too; it ends the session for good.
    let no_token = post_form(&http, url, "/logout", &me.cookie, "", &[]).await;
    assert_eq!(no_token.status(), 403);
    let still = http.get(format!("{url}/")).header("cookie", &me.cookie).send().await.unwrap();
    assert_eq!(still.status(), 200, "a refused sign-out signed out");
    let out = post_form(&http, url, "/logout", &me.cookie, &token, &[]).await;
    assert_eq!((out.status().as_u16(), out.headers()["location"].to_str().unwrap()), (303, "/login"));
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("nango_session=;"));
    let after = http.get(format!("{url}/")).header("cookie", &me.cookie).send().await.unwrap();
    assert_eq!((after.status().as_u16(), after.headers()["location"].to_str().unwrap()), (303, "/login"));
    let replay = post_form(&http, url, &resume, &me.cookie, &token, &[]).await;
    assert_eq!(replay.status(), 401);
    assert!(replay.text().await.unwrap().contains("Sign in"));
    assert_eq!(paused().await, Some(true));
    // The other session is untouched.
    let theirs = http.get(format!("{url}/")).header("cookie", &other.cookie).send().await.unwrap();
    assert_eq!(theirs.status(), 200);

    console.server.shutdown().await;
}

/// While a sync of the connection runs, the console's delete is refused as the API's is (409),
/// and the connection stays; once the run ends it goes.
#[tokio::test]
async fn deleting_a_connection_is_refused_while_its_sync_runs() {
    let console = console(&["acme"]).await;
    // A provider that takes requests and answers none until told to: the run stays running.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held = Vec::new();
        tokio::select! {
            _ = async { loop { held.push(listener.accept().await.unwrap().0) } } => {}
            _ = released => {}
        }
    });
    let mut c = console.store().connection(INTEGRATION, "acme").await.unwrap().unwrap().connection;
    c.base_url = Some(silent);
    let key = console.store().save_connection(&c).await.unwrap();
    let http = no_redirects();
    let me = sign_in(&http, &console.url).await;
    let token = format!("csrf={}", me.csrf);
    let trigger = format!("/console/syncs/{key}/{SYNC}/trigger");
    assert_eq!(post_form(&http, &console.url, &trigger, &me.cookie, &token, &[]).await.status(), 303);
    let deadline = Instant::now() + HANG_GUARD;
    while !console.store().runs(None, None, 1).await.unwrap().first().is_some_and(|r| r.status == RunStatus::Running) {
        assert!(Instant::now() < deadline, "the run did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let delete = format!("/console/connections/{key}/delete");
    let refused = post_form(&http, &console.url, &delete, &me.cookie, &token, &[]).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("is running"));
    assert_eq!(console.store().connection_key(INTEGRATION, "acme").await.unwrap(), Some(key));

    // The provider hangs up: the run fails and ends, and the delete goes through.
    release.send(()).unwrap();
    loop {
        let deleted = post_form(&http, &console.url, &delete, &me.cookie, &token, &[]).await;
        if deleted.status() == 303 {
            break;
        }
        assert!(deleted.status() == 409 && Instant::now() < deadline, "{}", deleted.status());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(console.store().connection_key(INTEGRATION, "acme").await.unwrap(), None);
    console.server.shutdown().await;
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let ttl = Duration::from_secs(2);
    let console = console_with(&["acme"], ttl).await;
    let http = no_redirects();
    let url = &console.url;
    let signed_in_at = Instant::now();
    let me = sign_in(&http, url).await;
    assert!(signed_in_at.elapsed() < ttl, "signing in took longer than the session lasts");
    tokio::time::sleep(ttl.saturating_sub(signed_in_at.elapsed()) + Duration::from_millis(300)).await;

    // Reading: back to the form, and the browser is told to forget the cookie.
    let page = http.get(format!("{url}/")).header("cookie", &me.cookie).send().await.unwrap();
    assert_eq!((page.status().as_u16(), page.headers()["location"].to_str().unwrap()), (303, "/login"));
    assert!(page.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    // Acting, even with the session's own token: refused, nothing done.
    let key = console.key("acme").await;
    let body = format!("csrf={}", me.csrf);
    let answer = post_form(&http, url, &format!("/console/syncs/{key}/{SYNC}/resume"), &me.cookie, &body, &[]).await;
    assert_eq!(answer.status(), 401);
    assert!(answer.text().await.unwrap().contains("your session has ended"));
    assert_eq!(console.store().sync_state(key, SYNC).await.unwrap().paused, Some(true));

    console.server.shutdown().await;
}

#[tokio::test]
async fn the_console_escapes_text_and_rejects_unknown_targets() {
    let hostile = r#"<img src=x onerror="alert(1)">"#;
    let console = console(&["acme", hostile]).await;
    let http = no_redirects();
    let url = &console.url;
    let SignedIn { cookie, csrf } = sign_in(&http, url).await;

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
    let token = format!("csrf={csrf}");
    let post = async |path: String| post_form(&http, url, &path, &cookie, &token, &[]).await;
    for path in [
        format!("/console/syncs/{key}/{SYNC}/explode"),
        format!("/console/syncs/999999/{SYNC}/trigger"),
        format!("/console/syncs/not-a-key/{SYNC}/trigger"),
        format!("/console/syncs/{key}/no-such-sync/trigger"),
    ] {
        let answer = post(path.clone()).await;
        assert_eq!(answer.status(), 404, "{path}");
        assert!(answer.text().await.unwrap().contains("<h2>Not Found</h2>"), "{path}");
    }
    // Without a session the actions are refused.
    let anonymous = http.post(format!("{url}/console/syncs/{key}/{SYNC}/trigger")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // Resume and pause the other connection's sync (resuming makes it run, which must not mix
    // with the resync of `acme` below).
    let other = console.key(hostile).await;
    let resumed = post(format!("/console/syncs/{other}/{SYNC}/resume")).await;
    assert_eq!((resumed.status().as_u16(), resumed.headers()["location"].to_str().unwrap()), (303, "/"));
    assert_eq!(console.store().sync_state(other, SYNC).await.unwrap().paused, Some(false));
    let paused = post(format!("/console/syncs/{other}/{SYNC}/pause")).await;
    assert_eq!(paused.status(), 303);
    assert_eq!(console.store().sync_state(other, SYNC).await.unwrap().paused, Some(true));

    // A full resync runs it from scratch; its page shows the log.
    let resync = post(format!("/console/syncs/{key}/{SYNC}/resync")).await;
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

/// The deployments page: before any deployment it says nothing is deployed and lists what this
/// binary would deploy as pending; after one, the deployed version, its history entry with its
/// changes, and nothing pending. Signed-out visitors are sent to the sign-in form.
#[tokio::test]
async fn the_deployments_page_shows_the_deployed_version_its_history_and_pending_changes() {
    use nango_runtime::deploy::{ApplyOptions, Deployer, Manifest};
    let console = console(&["acme"]).await;
    let http = no_redirects();
    let url = &console.url;
    let signed_out = http.get(format!("{url}/console/deployments")).send().await.unwrap();
    assert_eq!(signed_out.status(), 303);
    let SignedIn { cookie, .. } = sign_in(&http, url).await;
    let page = async || {
        let answer = http.get(format!("{url}/console/deployments")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        answer.text().await.unwrap()
    };

    let before = page().await;
    assert!(before.contains("Nothing deployed yet"), "{before}");
    assert!(before.contains(&format!("+ sync {INTEGRATION}/{SYNC}: scheduled for 1 connection (acme)")), "{before}");
    assert!(before.contains(r#"href="/console/deployments""#), "the navigation links the page: {before}");

    let deployer = Deployer::new(console.store().clone(), "console-test");
    let plan = deployer.plan(Manifest::of_binary()).await.unwrap();
    deployer.apply(&plan, ApplyOptions::default()).await.unwrap();
    let after = page().await;
    let short = &plan.target[..12];
    assert!(after.contains(&format!("<code>{short}</code> (deployment #1,")), "{after}");
    assert!(after.contains("by console-test (pid "), "{after}");
    assert!(after.contains("None: this binary ("), "{after}");
    // The history row lists the deployment's changes.
    assert!(after.contains(&format!("+ model Issue of {INTEGRATION}")), "{after}");
}
