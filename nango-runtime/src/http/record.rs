//! Saving exchanges for replay ([`HttpOptions::save_responses`](super::HttpOptions)); the format
//! is described in the module docs of [`crate::http`].

use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct Recorder {
    dir: PathBuf,
    counter: AtomicU64,
    /// Extra response headers to keep (the provider's retry headers), lower case.
    headers: Vec<String>,
}

impl Recorder {
    /// A recorder writing to `dir`, which is created now so that a bad path fails at start-up.
    pub(crate) fn new(dir: &Path, headers: Vec<String>) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        Ok(Recorder { dir: dir.to_owned(), counter: AtomicU64::new(0), headers })
    }

    fn keeps(&self, name: &str) -> bool {
        matches!(name, "link" | "content-type" | "retry-after")
            || name.starts_with("x-ratelimit-")
            || name.starts_with("ratelimit-")
            || self.headers.iter().any(|h| h == name)
    }

    /// Writes one exchange; `is_secret` tells which query parameters to leave out. Returns the
    /// file, or it and the error.
    pub(crate) async fn save(
        &self,
        method: &Method,
        url: &Url,
        is_secret: impl Fn(&str) -> bool,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<PathBuf, (PathBuf, std::io::Error)> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{n:06}.json"));
        let query = match url.query() {
            Some(_) if url.query_pairs().any(|(k, _)| is_secret(&k)) => {
                let kept: Vec<_> = url.query_pairs().filter(|(k, _)| !is_secret(k)).collect();
                let mut encoder = Url::parse("http://q/").expect("static URL parses");
                encoder.query_pairs_mut().extend_pairs(kept);
                encoder.query().unwrap_or_default().to_owned()
            }
            Some(q) => q.to_owned(),
            None => String::new(),
        };
        let mut kept_headers: Vec<(String, String)> = Vec::new();
        for name in headers.keys() {
            let name = name.as_str().to_ascii_lowercase();
            if !self.keeps(&name) {
                continue;
            }
            let values: Vec<&str> = headers.get_all(&name).iter().filter_map(|v| v.to_str().ok()).collect();
            kept_headers.push((name, values.join(", ")));
        }
        kept_headers.sort();
        let body = serde_json::from_slice::<Value>(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        let exchange = json!({
            "origin": url.origin().ascii_serialization(),
            "request": { "method": method.as_str(), "path": url.path(), "query": query },
            "response": {
                "status": status,
                "headers": kept_headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<Map<_, _>>(),
                "body": body,
            },
        });
        let mut text = serde_json::to_vec_pretty(&exchange).expect("JSON values serialize");
        text.push(b'\n');
        // Written aside and renamed, so that a replayer watching the folder never reads half a file.
        let tmp = self.dir.join(format!(".{n:06}.json.tmp"));
        let write = async {
            tokio::fs::write(&tmp, &text).await?;
            tokio::fs::rename(&tmp, &path).await
        };
        match write.await {
            Ok(()) => Ok(path),
            Err(e) => Err((path, e)),
        }
    }
}
