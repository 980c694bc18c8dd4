//! A small WebDriver client over `reqwest`: enough of the W3C protocol to drive headless
//! Chromium through `chromedriver` (navigate, find, type, click, read, cookies, screenshot), without a browser
//! automation crate.
//!
//! [`Browser`] owns the `chromedriver` process and the browser profile; dropping it (also while
//! a failing test unwinds) ends the session and kills `chromedriver`, so no browser outlives
//! the test.

use base64::Engine;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The key WebDriver names element references with.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a wait for something a test expects may last before the test gives up: a guard
/// against hanging, not a measure of speed. What is awaited (a page, a run, a delivery) usually
/// comes within milliseconds; on a machine loaded by parallel builds it may take seconds.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// How often a wait looks again.
const LOOK_AGAIN: Duration = Duration::from_millis(25);

/// An error answered by the driver (`no such element`, `stale element reference`...) or a
/// failure to talk to it.
#[derive(Debug, Clone)]
pub struct WdError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl WdError {
    /// Whether the element was in a page that has been replaced since (a navigation, or the
    /// page reloading itself): looking it up again in the new page is the way on. Chromedriver
    /// says so in several ways: `stale element reference`, `no such element` for an element of
    /// a document it no longer knows, or an `unknown error` from the browser's inspector about a
    /// node that does not belong to the document (or is detached from it).
    pub fn is_stale(&self) -> bool {
        match self.error.as_str() {
            "stale element reference" | "no such element" => true,
            "unknown error" => ["does not belong to the document", "detached"].iter().any(|m| self.message.contains(m)),
            _ => false,
        }
    }
}

/// A mark left on the page shown (a property of its window): another page, which has a window
/// of its own, does not carry it. See [`Browser::mark_page`].
#[derive(Debug, Clone)]
pub struct PageMark(String);

impl From<reqwest::Error> for WdError {
    fn from(e: reqwest::Error) -> Self {
        WdError { error: "transport".into(), message: e.to_string() }
    }
}

/// A reference to an element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// A headless Chromium session through a `chromedriver` child process.
pub struct Browser {
    child: Child,
    port: u16,
    session: Option<String>,
    http: reqwest::Client,
    log: PathBuf,
    // Kept for its Drop: the fresh profile directory is removed after the browser quits.
    _profile: tempfile::TempDir,
}

/// Panics, saying how to install them, when Chromium or chromedriver is missing: the test must
/// fail loudly in CI rather than pass without having looked at the page.
pub fn require_chromium() {
    for binary in [CHROMEDRIVER, CHROMIUM] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: the console test drives a real browser. Install Chromium and its driver with \
             `sudo apt-get install chromium chromium-driver` (Debian/Ubuntu); .ci/run does this in CI"
        );
    }
}

fn free_port() -> u16 {
    // Bound and released at once: chromedriver binds it a moment later. A collision is
    // possible in theory and would show as a clear start-up failure.
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port")
}

impl Browser {
    /// Starts chromedriver on a free port, waits until it is ready and opens a session with a
    /// fresh profile.
    pub async fn launch() -> Browser {
        require_chromium();
        let port = free_port();
        let profile = tempfile::tempdir().expect("profile dir");
        let log = profile.path().with_extension("chromedriver.log");
        let log_file = std::fs::File::create(&log).expect("chromedriver log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        // Loopback only: a proxy from the environment must not see (or break) these requests.
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        let mut browser = Browser { child, port, session: None, http, log, _profile: profile };
        browser.wait_ready().await;
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-proxy-server".into(),
            "--window-size=1400,1000".into(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let answer = browser.http.post(format!("{}/session", browser.base())).json(&capabilities).send().await;
        let body: Value = match answer {
            Ok(resp) => resp.json().await.unwrap_or(Value::Null),
            Err(e) => panic!("cannot reach chromedriver to open a session: {e}\n{}", browser.driver_log()),
        };
        let Some(id) = body["value"]["sessionId"].as_str() else {
            panic!("chromedriver did not open a session: {body}\n{}", browser.driver_log());
        };
        browser.session = Some(id.to_owned());
        browser
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The end of chromedriver's log, for failure messages.
    pub fn driver_log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- chromedriver log ({}) ---\n{}", self.log.display(), tail.join("\n"))
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start ({status})\n{}", self.driver_log());
            }
            let status = self.http.get(format!("{}/status", self.base())).send().await;
            if let Ok(resp) = status
                && let Ok(body) = resp.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return;
            }
            assert!(Instant::now() < deadline, "chromedriver was not ready within 15 s\n{}", self.driver_log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One command of the session; the `value` of the answer, or the driver's error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let session = self.session.as_deref().expect("the session is open");
        let url = format!("{}/session/{session}{path}", self.base());
        let mut request = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            // POST commands need a JSON body even when they take no parameters.
            request = request.json(&body.unwrap_or_else(|| json!({})));
        }
        let response = request.send().await?;
        let ok = response.status().is_success();
        let answer: Value = response.json().await?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(WdError {
                error: value["error"].as_str().unwrap_or("unknown error").to_owned(),
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            })
        }
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<(), WdError> {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await.map(drop)
    }

    /// The URL of the page shown.
    pub async fn current_url(&self) -> Result<String, WdError> {
        Ok(self.command(reqwest::Method::GET, "/url", None).await?.as_str().unwrap_or_default().to_owned())
    }

    /// What the page shown says (its body's text, without the markup and the inlined style
    /// sheet), for failure messages.
    pub async fn visible_text(&self) -> String {
        match self.find("body").await {
            Ok(body) => self.text(&body).await.unwrap_or_else(|e| format!("(cannot read the page: {e})")),
            Err(e) => format!("(cannot read the page: {e})"),
        }
    }

    fn element_of(value: &Value) -> Result<Element, WdError> {
        value[ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_owned()))
            .ok_or_else(|| WdError { error: "bad answer".into(), message: format!("no element reference in {value}") })
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element, WdError> {
        let body = json!({"using": "css selector", "value": css});
        Self::element_of(&self.command(reqwest::Method::POST, "/element", Some(body)).await?)
    }

    /// Every element matching a CSS selector.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, WdError> {
        let body = json!({"using": "css selector", "value": css});
        let found = self.command(reqwest::Method::POST, "/elements", Some(body)).await?;
        found.as_array().map(|a| a.iter().map(Self::element_of).collect()).unwrap_or_else(|| Ok(Vec::new()))
    }

    /// The first element matching a CSS selector inside another.
    pub async fn find_in(&self, parent: &Element, css: &str) -> Result<Element, WdError> {
        let body = json!({"using": "css selector", "value": css});
        let path = format!("/element/{}/element", parent.0);
        Self::element_of(&self.command(reqwest::Method::POST, &path, Some(body)).await?)
    }

    /// Clicks an element (a button submits its form; the command returns once the navigation
    /// it starts has loaded).
    pub async fn click(&self, element: &Element) -> Result<(), WdError> {
        self.command(reqwest::Method::POST, &format!("/element/{}/click", element.0), None).await.map(drop)
    }

    /// Marks the page shown, so that [`Browser::wait_for_next_page`] can tell when another
    /// one has replaced it.
    pub async fn mark_page(&self) -> Result<PageMark, WdError> {
        static MARKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = MARKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mark = format!("page-{}-{n}", std::process::id());
        self.execute(&format!("window.__testPageMark = '{mark}'; return true")).await?;
        Ok(PageMark(mark))
    }

    /// Waits until the page marked with `mark` has been replaced by another and that one has
    /// loaded. A click's command can return before the browser has started the navigation the
    /// click causes (a form's POST and its redirect), so the URL and the page read right after
    /// a click may still be the old ones; this waits for the navigation itself. While the
    /// browser is between two pages it may refuse a script for a moment: it is asked again.
    pub async fn wait_for_next_page(&self, mark: &PageMark) -> Result<(), WdError> {
        let deadline = Instant::now() + HANG_GUARD;
        let mut refused = None;
        loop {
            match self.execute("return [window.__testPageMark || null, document.readyState]").await {
                Ok(seen) if seen[0] != json!(mark.0) && seen[1] == json!("complete") => return Ok(()),
                Ok(_) => {}
                Err(e) if e.error == "transport" => return Err(e),
                Err(e) => refused = Some(e),
            }
            if Instant::now() > deadline {
                let last = refused.map(|e| format!(" (last refusal: {e})")).unwrap_or_default();
                return Err(WdError {
                    error: "timeout".into(),
                    message: format!("the page was not replaced by the next one within {HANG_GUARD:?}{last}"),
                });
            }
            tokio::time::sleep(LOOK_AGAIN).await;
        }
    }

    /// Clicks an element that leads to another page (a link, a form's button) and returns once
    /// that page has loaded (see [`Browser::wait_for_next_page`]).
    pub async fn click_to_next_page(&self, element: &Element) -> Result<(), WdError> {
        let mark = self.mark_page().await?;
        self.click(element).await?;
        self.wait_for_next_page(&mark).await
    }

    /// Runs `script` (a function body: `return` gives the value) in the page shown.
    pub async fn execute(&self, script: &str) -> Result<Value, WdError> {
        let body = json!({"script": script, "args": []});
        self.command(reqwest::Method::POST, "/execute/sync", Some(body)).await
    }

    /// Types text into an element (an input field).
    pub async fn send_keys(&self, element: &Element, text: &str) -> Result<(), WdError> {
        let path = format!("/element/{}/value", element.0);
        self.command(reqwest::Method::POST, &path, Some(json!({"text": text}))).await.map(drop)
    }

    /// The cookies the browser holds for the page shown, as WebDriver describes them (`name`,
    /// `value`, `path`, `httpOnly`, `sameSite`...).
    pub async fn cookies(&self) -> Result<Vec<Value>, WdError> {
        let value = self.command(reqwest::Method::GET, "/cookie", None).await?;
        Ok(value.as_array().cloned().unwrap_or_default())
    }

    /// The rendered text of an element.
    pub async fn text(&self, element: &Element) -> Result<String, WdError> {
        let value = self.command(reqwest::Method::GET, &format!("/element/{}/text", element.0), None).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// An attribute of an element.
    pub async fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>, WdError> {
        let value =
            self.command(reqwest::Method::GET, &format!("/element/{}/attribute/{name}", element.0), None).await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The handles of the browser's windows (tabs and popups).
    #[allow(dead_code)] // the console test has one window
    pub async fn window_handles(&self) -> Result<Vec<String>, WdError> {
        let value = self.command(reqwest::Method::GET, "/window/handles", None).await?;
        Ok(value.as_array().into_iter().flatten().filter_map(|h| h.as_str().map(str::to_owned)).collect())
    }

    /// The handle of the window commands go to.
    #[allow(dead_code)] // the console test has one window
    pub async fn window_handle(&self) -> Result<String, WdError> {
        Ok(self.command(reqwest::Method::GET, "/window", None).await?.as_str().unwrap_or_default().to_owned())
    }

    /// Sends the next commands to another window (a popup the page opened).
    #[allow(dead_code)] // the console test has one window
    pub async fn switch_to_window(&self, handle: &str) -> Result<(), WdError> {
        self.command(reqwest::Method::POST, "/window", Some(json!({"handle": handle}))).await.map(drop)
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>, WdError> {
        let value = self.command(reqwest::Method::GET, "/screenshot", None).await?;
        base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .map_err(|e| WdError { error: "bad answer".into(), message: format!("screenshot is not base64: {e}") })
    }

    /// Ends the session (the browser quits) and stops chromedriver.
    pub async fn quit(mut self) {
        if self.session.is_some() {
            let _ = self.command(reqwest::Method::DELETE, "", None).await;
            self.session = None;
        }
        // Drop kills chromedriver.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            // Drop cannot await: a plain blocking HTTP request ends the session so Chromium
            // quits too (killing only chromedriver could leave the browser behind).
            let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                    self.port
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    read_answer(&mut stream);
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Reads one HTTP answer to its end as `Content-Length` gives it: chromedriver keeps the
/// connection open after answering, so reading to EOF would wait for the read timeout.
fn read_answer(stream: &mut TcpStream) {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            return;
        }
        answer.extend_from_slice(&chunk[..n]);
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if answer.len() >= end + 4 + length {
            return;
        }
    }
}
