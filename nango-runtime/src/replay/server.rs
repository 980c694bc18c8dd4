//! The loopback server a replayed script's requests go to: each request is answered with the
//! recording of the mocks folder that matches it, or 501 with why none does (kept for the
//! replay's report).

use super::mocks::{MockFolder, MockRequest};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};

struct Shared {
    folder: MockFolder,
    script: String,
    misses: Mutex<Vec<String>>,
}

/// A running replay server; stops when dropped.
pub(crate) struct ReplayServer {
    url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ReplayServer {
    /// Serves `folder`'s recordings of `script` on a free loopback port.
    pub async fn start(folder: MockFolder, script: &str) -> std::io::Result<ReplayServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared { folder, script: script.to_owned(), misses: Mutex::default() });
        let app = axum::Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ReplayServer { url, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Why requests found no recording, in order.
    pub fn misses(&self) -> Vec<String> {
        self.shared.misses.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = MockRequest {
        method: method.as_str().to_ascii_lowercase(),
        endpoint: percent_decode(uri.path().trim_start_matches('/')),
        params: uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
            .unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    match shared.folder.answer(&shared.script, &request) {
        Ok(recorded) => {
            let status = StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::OK);
            let mut response = (status, axum::Json(recorded.body)).into_response();
            for (name, value) in recorded.headers {
                if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(why) => {
            shared.misses.lock().unwrap_or_else(|e| e.into_inner()).push(why.clone());
            (StatusCode::NOT_IMPLEMENTED, axum::Json(serde_json::json!({ "error": why }))).into_response()
        }
    }
}

/// `%5B` → `[` (paths name endpoints as the script wrote them).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
