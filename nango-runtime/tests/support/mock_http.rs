//! A small HTTP mock server on loopback for the HTTP client's tests: mount mocks (request
//! matchers and a canned response), point the client at [`MockServer::uri`], and check on drop
//! that each mock with an expectation was hit exactly that often.
//!
//! Written here rather than taken from wiremock, which was the only crate of the workspace to
//! bring HTTP/2 (h2, hyper's `full`), a full `regex` and `futures`' macros into every test build
//! and `cargo clippy` run; cargo unifies features over the workspace, so they also made the
//! workspace's hyper, hyper-util and futures-util differ from a `nango init` project's. The API
//! is the small part of wiremock's these tests use, so the tests read as before.
//!
//! The server runs on a thread and runtime of its own, so it answers even while the test's
//! runtime is busy or blocked.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the server received, as the tests inspect it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub url: reqwest::Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A condition on a request; mocks answer only requests every one of their matchers accepts.
pub struct Matcher(Box<dyn Fn(&Request) -> bool + Send + Sync>);

fn matcher(f: impl Fn(&Request) -> bool + Send + Sync + 'static) -> Matcher {
    Matcher(Box::new(f))
}

pub mod matchers {
    //! The request conditions the tests use.
    use super::{Matcher, matcher};
    use base64::Engine;

    /// The request's method, in any case.
    pub fn method(name: impl AsRef<str>) -> Matcher {
        let name = name.as_ref().to_ascii_uppercase();
        matcher(move |r| r.method.as_str() == name)
    }

    /// The request's path, exactly (without the query).
    pub fn path(path: impl AsRef<str>) -> Matcher {
        let path = path.as_ref().to_owned();
        matcher(move |r| r.url.path() == path)
    }

    /// A header with exactly this value (one of its values, when it is repeated).
    pub fn header(name: impl AsRef<str>, value: impl AsRef<str>) -> Matcher {
        let (name, value) = (name.as_ref().to_owned(), value.as_ref().to_owned());
        matcher(move |r| r.headers.get_all(name.as_str()).iter().any(|v| v.as_bytes() == value.as_bytes()))
    }

    /// A header, whatever its value.
    pub fn header_exists(name: impl AsRef<str>) -> Matcher {
        let name = name.as_ref().to_owned();
        matcher(move |r| r.headers.contains_key(name.as_str()))
    }

    /// A query parameter with this (decoded) value.
    pub fn query_param(name: impl AsRef<str>, value: impl AsRef<str>) -> Matcher {
        let (name, value) = (name.as_ref().to_owned(), value.as_ref().to_owned());
        matcher(move |r| r.url.query_pairs().any(|(k, v)| k == name && v == value))
    }

    /// No query parameter of this name.
    pub fn query_param_is_missing(name: impl AsRef<str>) -> Matcher {
        let name = name.as_ref().to_owned();
        matcher(move |r| !r.url.query_pairs().any(|(k, _)| k == name))
    }

    /// A body (read as UTF-8) that contains this text.
    pub fn body_string_contains(text: impl AsRef<str>) -> Matcher {
        let text = text.as_ref().to_owned();
        matcher(move |r| String::from_utf8_lossy(&r.body).contains(&text))
    }

    /// `Authorization: Basic` with these credentials.
    pub fn basic_auth(user: impl AsRef<str>, password: impl AsRef<str>) -> Matcher {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", user.as_ref(), password.as_ref()))
        );
        header("authorization", &expected)
    }
}

/// What a mock answers: a status, headers, a body and an optional delay.
#[derive(Clone, Debug)]
pub struct ResponseTemplate {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    delay: Option<Duration>,
}

impl ResponseTemplate {
    pub fn new(status: u16) -> Self {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        ResponseTemplate { status, headers: HeaderMap::new(), body: Vec::new(), delay: None }
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn set_body_json(self, body: impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(&body).expect("a JSON body");
        self.set_body_raw(body, "application/json")
    }

    /// A text body, with `content-type: text/plain`.
    pub fn set_body_string(self, body: impl Into<String>) -> Self {
        self.set_body_raw(body.into(), "text/plain")
    }

    /// These bytes as the body, with this content type.
    pub fn set_body_raw(mut self, body: impl AsRef<[u8]>, content_type: &str) -> Self {
        self.body = body.as_ref().to_vec();
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).expect("a content type"));
        self
    }

    /// A header (replacing one of the same name).
    pub fn insert_header(mut self, name: &str, value: impl AsRef<str>) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        self.headers.insert(name, HeaderValue::from_str(value.as_ref()).expect("a header value"));
        self
    }

    /// Answer only after this long.
    pub fn set_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

/// Matchers and a response, to mount on a [`MockServer`].
pub struct Mock {
    matchers: Vec<Matcher>,
    response: Option<ResponseTemplate>,
    up_to: Option<u64>,
    expected: Option<u64>,
}

impl Mock {
    pub fn given(first: Matcher) -> Self {
        Mock { matchers: vec![first], response: None, up_to: None, expected: None }
    }

    pub fn and(mut self, next: Matcher) -> Self {
        self.matchers.push(next);
        self
    }

    pub fn respond_with(mut self, response: ResponseTemplate) -> Self {
        self.response = Some(response);
        self
    }

    /// Answer at most this many requests; later ones go to the next mock that matches.
    pub fn up_to_n_times(mut self, times: u64) -> Self {
        self.up_to = Some(times);
        self
    }

    /// The server, when dropped, checks that this mock answered exactly this many requests.
    pub fn expect(mut self, times: u64) -> Self {
        self.expected = Some(times);
        self
    }

    pub async fn mount(self, server: &MockServer) {
        assert!(self.response.is_some(), "a mock needs `respond_with` before `mount`");
        server.shared.mocks.lock().unwrap().push(Mounted { mock: self, hits: 0 });
    }
}

struct Mounted {
    mock: Mock,
    hits: u64,
}

#[derive(Default)]
struct Shared {
    mocks: Mutex<Vec<Mounted>>,
    requests: Mutex<Vec<Request>>,
}

impl Shared {
    /// The first mounted mock that accepts the request and has answers left, counted as hit.
    fn answer(&self, request: &Request) -> Option<ResponseTemplate> {
        self.requests.lock().unwrap().push(request.clone());
        let mut mocks = self.mocks.lock().unwrap();
        let mounted = mocks.iter_mut().find(|m| {
            m.mock.up_to.is_none_or(|up_to| m.hits < up_to) && m.mock.matchers.iter().all(|f| (f.0)(request))
        })?;
        mounted.hits += 1;
        mounted.mock.response.clone()
    }
}

/// An HTTP/1.1 server on a free loopback port; requests no mock accepts get a 404.
pub struct MockServer {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(state);
                tokio::spawn(async move { axum::serve(listener, app).await });
                let _ = stopped.await;
            });
            // Dropping the runtime here ends the server and every open connection.
        });
        MockServer { shared, address, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> &SocketAddr {
        &self.address
    }

    /// Every request received so far, in order.
    pub async fn received_requests(&self) -> Option<Vec<Request>> {
        Some(self.shared.requests.lock().unwrap().clone())
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if std::thread::panicking() {
            return;
        }
        let unmet: Vec<String> = self
            .shared
            .mocks
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let expected = m.mock.expected?;
                (m.hits != expected).then(|| format!("mock #{i} expected {expected} request(s), got {}", m.hits))
            })
            .collect();
        assert!(unmet.is_empty(), "mock server expectations not met:\n{}", unmet.join("\n"));
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = reqwest::Url::parse(&format!("http://{host}{target}")).expect("a request URL");
    let request = Request { method, url, headers, body: body.to_vec() };
    let Some(template) = shared.answer(&request) else {
        let mut response = Response::new(Body::from("no mock matches this request"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    if let Some(delay) = template.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::new(Body::from(template.body));
    *response.status_mut() = template.status;
    *response.headers_mut() = template.headers;
    response
}
