//! A template's `mocks/` folder, in the layout of Nango's template tests
//! (`vitest.setup.ts`): which recording answers a request, and what a script is expected to
//! save, delete or return.
//!
//! ```text
//! mocks/nango/getConnection.json                       the connection (connection_config, metadata)
//! mocks/nango/getMetadata.json                         its metadata
//! mocks/nango/<method>/proxy/<endpoint>/<script>.json  the body answering every such request (legacy)
//! mocks/nango/<method>/proxy/<endpoint>/<script>/<sha1>.json
//!     {requestIdentity: {method, endpoint, params, headers, data}, response, status, headers}
//! mocks/<sync>/<Model>/batchSave.json, batchDelete.json  the records expected
//! mocks/<action>/input.json, output.json                 an action's input and expected output
//! ```

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Headers Nango's mocks leave out of a request's identity (and `content-length`, which its
/// recorder sometimes kept: it follows from the body).
const FILTER_HEADERS: &[&str] = &[
    "authorization",
    "user-agent",
    "nango-proxy-user-agent",
    "accept-encoding",
    "retries",
    "host",
    "connection-id",
    "provider-config-key",
    "content-length",
];

/// Response headers a replay passes on: those a script or the pagination reads.
const KEPT_HEADERS: &[&str] = &["link", "content-type", "retry-after"];

/// A request as the replay server received it.
#[derive(Debug, Clone)]
pub(crate) struct MockRequest {
    /// Lower case.
    pub method: String,
    /// The path without its leading `/`, percent-decoded.
    pub endpoint: String,
    /// The query parameters, in order.
    pub params: Vec<(String, String)>,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A recorded answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// A template's `mocks/` folder.
#[derive(Debug, Clone)]
pub(crate) struct MockFolder {
    root: PathBuf,
}

impl MockFolder {
    /// The folder `mocks/` itself, or a template folder holding one.
    pub fn open(path: &Path) -> Result<MockFolder, String> {
        let root = if path.join("nango").is_dir() { path.to_owned() } else { path.join("mocks") };
        if !root.join("nango").is_dir() {
            return Err(format!(
                "{} is not a mocks folder of Nango's layout: it has no `nango/` (recorded requests); \
                 pass the template's `mocks/` folder",
                path.display()
            ));
        }
        Ok(MockFolder { root })
    }

    /// A JSON file of the folder, `None` when it does not exist.
    pub fn read(&self, relative: &str) -> Result<Option<Value>, String> {
        let path = self.root.join(relative);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
    }

    /// The connection's config (values as text) and metadata: `getConnection.json` and
    /// `getMetadata.json` (either may be missing).
    pub fn connection(&self) -> Result<(BTreeMap<String, String>, Value), String> {
        let connection = self.read("nango/getConnection.json")?.unwrap_or(Value::Null);
        let config = match connection.get("connection_config") {
            Some(Value::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            }
            _ => BTreeMap::new(),
        };
        let metadata = match self.read("nango/getMetadata.json")? {
            Some(metadata) => metadata,
            None => connection.get("metadata").cloned().unwrap_or(Value::Null),
        };
        Ok((config, metadata))
    }

    /// The recording that answers `request` made by `script`.
    pub fn answer(&self, script: &str, request: &MockRequest) -> Result<MockResponse, String> {
        let base = format!("nango/{}/proxy/{}/{script}", request.method, request.endpoint);
        let dir = self.root.join(&base);
        if !dir.is_dir() {
            return match self.read(&format!("{base}.json"))? {
                Some(body) => Ok(MockResponse { status: 200, headers: Vec::new(), body }),
                None => Err(format!(
                    "no recording answers {} /{} of `{script}`: neither {base}.json nor {base}/ is in {}",
                    request.method.to_uppercase(),
                    request.endpoint,
                    self.root.display()
                )),
            };
        }
        let mut tried = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let relative = file.strip_prefix(&self.root).unwrap_or(&file).to_string_lossy().into_owned();
            let recording = self.read(&relative)?.unwrap_or(Value::Null);
            let identity = recording.get("requestIdentity").cloned().unwrap_or(Value::Null);
            match mismatch(&identity, request) {
                None => {
                    let status = recording.get("status").and_then(Value::as_u64).unwrap_or(200) as u16;
                    let headers = match recording.get("headers") {
                        Some(Value::Object(map)) => map
                            .iter()
                            .filter(|(k, _)| KEPT_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
                            .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned())))
                            .collect(),
                        _ => Vec::new(),
                    };
                    let body = recording.get("response").cloned().unwrap_or(Value::Null);
                    return Ok(MockResponse { status, headers, body });
                }
                Some(why) => tried.push(format!("{relative}: {why}")),
            }
        }
        Err(format!(
            "no recording answers {} /{} of `{script}` with {}: {}",
            request.method.to_uppercase(),
            request.endpoint,
            describe_params(&request.params),
            tried.join("; ")
        ))
    }
}

fn describe_params(params: &[(String, String)]) -> String {
    if params.is_empty() {
        return "no query parameters".into();
    }
    let pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("`{}`", pairs.join("&"))
}

/// Why `identity` (Nango's recorded request identity) is not `request`; `None` when it is.
///
/// Parameters must be the same set (values compared as text: Nango records numbers as
/// numbers); every recorded header must be sent with its value (the client adds others: the
/// provider's, `content-type`); the body must be the recorded text, or for a long one hash to
/// its `sha1:` digest, or be the same JSON.
fn mismatch(identity: &Value, request: &MockRequest) -> Option<String> {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let mut recorded: Vec<(String, String)> = pairs(identity.get("params")).map(|(k, v)| (k, text(&v))).collect();
    let mut sent = request.params.clone();
    recorded.sort();
    sent.sort();
    if recorded != sent {
        return Some(format!("recorded with {}", describe_params(&recorded)));
    }
    for (name, value) in pairs(identity.get("headers")) {
        let name = name.to_ascii_lowercase();
        if FILTER_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = text(&value);
        if !request.headers.iter().any(|(n, v)| *n == name && *v == value) {
            return Some(format!("recorded with the header `{name}: {value}`"));
        }
    }
    match identity.get("data").and_then(Value::as_str) {
        None if request.body.is_empty() => None,
        None => Some("recorded without a body".into()),
        Some(data) => {
            let body = String::from_utf8_lossy(&request.body);
            let same = if let Some(digest) = data.strip_prefix("sha1:") {
                sha1_hex(body.as_bytes()) == digest
            } else {
                data == body
                    || serde_json::from_str::<Value>(data)
                        .ok()
                        .zip(serde_json::from_slice::<Value>(&request.body).ok())
                        .is_some_and(|(a, b)| a == b)
            };
            (!same).then(|| format!("recorded with another body ({} characters)", data.len()))
        }
    }
}

/// `[[name, value], ...]` entries.
fn pairs(list: Option<&Value>) -> impl Iterator<Item = (String, Value)> + '_ {
    list.and_then(Value::as_array).into_iter().flatten().filter_map(|pair| {
        let name = pair.get(0)?.as_str()?.to_owned();
        Some((name, pair.get(1).cloned().unwrap_or(Value::Null)))
    })
}

fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(params: &[(&str, &str)], body: &str) -> MockRequest {
        MockRequest {
            method: "get".into(),
            endpoint: "api/v2/users".into(),
            params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn identities_match_by_params_headers_and_body() {
        let identity =
            json!({"params": [["page[size]", 100], ["roles", "agent"]], "headers": [["Content-Length", "2"]]});
        assert_eq!(mismatch(&identity, &request(&[("roles", "agent"), ("page[size]", "100")], "")), None);
        let why = mismatch(&identity, &request(&[("roles", "agent")], "")).unwrap();
        assert!(why.contains("page[size]=100"), "{why}");

        let with_header = json!({"params": [], "headers": [["Content-Type", "application/json"]], "data": "{\"a\":1}"});
        assert_eq!(mismatch(&with_header, &request(&[], "{\"a\": 1}")), None);
        assert!(mismatch(&with_header, &request(&[], "{\"a\":2}")).unwrap().contains("another body"));
        let other_header = json!({"params": [], "headers": [["X-Team", "a"]]});
        assert!(mismatch(&other_header, &request(&[], "")).unwrap().contains("x-team: a"));

        let long = "x".repeat(1200);
        let digest = json!({"params": [], "headers": [], "data": format!("sha1:{}", sha1_hex(long.as_bytes()))});
        assert_eq!(mismatch(&digest, &request(&[], &long)), None);
    }
}
