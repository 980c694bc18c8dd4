//! The service the connect-flow tests run against (shared by `connect.rs` and
//! `connect_ui.rs`): two mock providers (one OAuth server whose token endpoint breaks on
//! demand), a `serve` with their integrations, and a webhook receiver. One per test binary.
#![allow(dead_code)]

use nango_mock_provider::{MockProvider, MockServer};
use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::providers::ProviderCatalog;
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::Store;
use nango_runtime::{NangoSync, Result};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::OnceCell;

pub mod models {
    nango_macros::nango_models!("tests/connect/nango.yaml");
}

/// Every issue of the mock's repository.
#[nango_macros::nango_sync(path = "tests/connect/nango.yaml", models = crate::env::models)]
pub async fn issues(nango: &mut NangoSync<models::syncs::Issues>) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct GithubIssue {
        id: u64,
        number: u64,
        title: String,
    }
    let mut pages = nango.paginate::<GithubIssue>("/repos/octocat/hello-world/issues").query("state", "all");
    while let Some(page) = pages.next_page().await? {
        nango
            .batch_save(page.into_iter().map(|i| models::Issue {
                id: i.id.to_string(),
                number: i.number as f64,
                title: i.title,
            }))
            .await?;
    }
    Ok(())
}

pub const KEY: &str = "connect-test-secret-key";
pub const CLIENT_ID: &str = "mock-client";
pub const CLIENT_SECRET: &str = "mock-client-secret";
/// The API key the mock accepts (its verification endpoint `/user` takes it as a token).
pub const GOOD_API_KEY: &str = "good-api-key";

pub use crate::hooks::{Received, webhook_receiver};

pub struct Env {
    pub server: Server,
    pub mock: MockServer,
    /// A second OAuth server, whose token endpoint the fault tests break.
    pub broken: MockServer,
    /// A third OAuth server, whose refresh tokens the re-authorization test revokes.
    pub revoking: MockServer,
    pub http: reqwest::Client,
    pub webhooks: Received,
    _dir: tempfile::TempDir,
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    pub fn store(&self) -> &Store {
        self.server.state().store()
    }

    /// `POST /connect/sessions` with the secret key; the answer's status and body.
    pub async fn create_session(&self, body: Value) -> (StatusCode, Value) {
        let response = self.http.post(self.url("/connect/sessions")).bearer_auth(KEY).json(&body).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    /// A session token for end user `user`, allowed `integrations`.
    pub async fn token(&self, user: &str, integrations: &[&str]) -> String {
        let (status, body) =
            self.create_session(json!({"end_user": {"id": user}, "allowed_integrations": integrations})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["token"].as_str().unwrap().to_owned()
    }
}

/// The service of this file: one per test binary, on its own runtime thread so every test's
/// runtime can reach it.
pub async fn env() -> &'static Env {
    static ENV: OnceCell<Env> = OnceCell::const_new();
    ENV.get_or_init(|| async {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let env = start().await;
                let _ = tx.send(env);
                std::future::pending::<()>().await;
            });
        });
        rx.await.unwrap()
    })
    .await
}

pub async fn start() -> Env {
    let mock = MockProvider::builder()
        .issues(30)
        .token(GOOD_API_KEY)
        .oauth_app(CLIENT_ID, CLIENT_SECRET)
        .code_lifetime(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let broken = MockProvider::builder().issues(1).oauth_app(CLIENT_ID, CLIENT_SECRET).start().await.unwrap();
    let revoking = MockProvider::builder().issues(1).oauth_app(CLIENT_ID, CLIENT_SECRET).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let providers_file = dir.path().join("providers.yaml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/connect/providers.yaml")).unwrap();
    std::fs::write(
        &providers_file,
        text.replace("MOCK_URL", mock.url())
            .replace("BROKEN_URL", broken.url())
            .replace("REVOKING_URL", revoking.url()),
    )
    .unwrap();
    let (webhook_url, webhooks) = webhook_receiver().await;
    let mut providers = ProviderCatalog::builtin();
    providers.extend_from_file(&providers_file).unwrap();
    let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("nango.db").display()), sealer).await.unwrap();
    let runtime = Runtime::new(store).with_providers(providers);
    let mut options = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret_key: KEY.into(),
        webhook_urls: vec![webhook_url],
        webhook_retry_delay: Duration::from_millis(20),
        auth_timeout: Duration::from_secs(2),
        ..ServeOptions::default()
    };
    options.scheduler.tick = Duration::from_millis(50);
    let server = Server::start(runtime, options).await.unwrap();
    // No pooled connections: each test has its own tokio runtime, and a connection kept from a test
    // that ended would be dead for the next (`runtime dropped the dispatch task`).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let env = Env { server, mock, broken, revoking, http, webhooks, _dir: dir };
    // The integrations: nango.yaml's `github` on the mock's OAuth app, and one per credential form.
    for (key, provider, credentials) in [
        (
            "github",
            "mock-github",
            Some(
                json!({"type": "OAUTH2", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": "repo,user"}),
            ),
        ),
        (
            "broken",
            "broken-github",
            Some(json!({"type": "OAUTH2", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})),
        ),
        (
            "revoking",
            "revoking-github",
            Some(json!({"type": "OAUTH2", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})),
        ),
        ("keys", "mock-keys", None),
        ("basic", "mock-basic", None),
        ("cc", "mock-cc", None),
    ] {
        let mut body = json!({"unique_key": key, "provider": provider});
        if let Some(credentials) = credentials {
            body["credentials"] = credentials;
        }
        let response = env.http.post(env.url("/integrations")).bearer_auth(KEY).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{key}: {}", response.text().await.unwrap());
    }
    env
}

/// The value of `name` in the query of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl Env {
    /// `/oauth/connect/{integration}` with `token`: the answer (a redirect to the provider, or
    /// the popup's error page).
    pub async fn oauth_connect(&self, integration: &str, token: &str, extra: &str) -> reqwest::Response {
        let url = self.url(&format!("/oauth/connect/{integration}?connect_session_token={token}{extra}"));
        self.http.get(url).send().await.unwrap()
    }

    /// The user's decision on the provider's page for the authorization URL `authorize`: the
    /// URL the provider sends the popup back to.
    pub async fn decide(&self, authorize: &str, approve: bool) -> String {
        let page = self.http.get(authorize).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{authorize}");
        let url = reqwest::Url::parse(authorize).unwrap();
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("decision".into(), if approve { "approve" } else { "deny" }.into()));
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let origin = format!("{}://{}", url.scheme(), url.host_str().unwrap()) + &format!(":{}", url.port().unwrap());
        let decided = self
            .http
            .post(format!("{origin}/login/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status(), StatusCode::FOUND);
        decided.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A GET of the callback URL: status and page.
    pub async fn callback(&self, url: &str) -> (StatusCode, String) {
        let response = self.http.get(url).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// `GET /connections` with the secret key.
    pub async fn connections(&self) -> Vec<Value> {
        let list: Value =
            self.http.get(self.url("/connections")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
        list["connections"].as_array().cloned().unwrap_or_default()
    }

    pub async fn connections_of(&self, end_user: &str) -> Vec<Value> {
        self.connections().await.into_iter().filter(|c| c["end_user"]["id"] == end_user).collect()
    }

    /// The auth webhooks received for a connection so far, their signatures checked.
    pub fn auth_webhooks(&self, connection_id: &str) -> Vec<Value> {
        let got = self.webhooks.lock().unwrap().clone();
        got.iter()
            .filter_map(|(headers, body)| {
                let json: Value = serde_json::from_slice(body).ok()?;
                (json["type"] == "auth" && json["connectionId"] == connection_id).then(|| {
                    let hmac = headers["x-nango-hmac-sha256"].to_str().unwrap();
                    nango_runtime::webhooks::verify_hmac(KEY, body, hmac).expect("signed with the secret key");
                    json
                })
            })
            .collect()
    }

    pub async fn wait_auth_webhook(&self, connection_id: &str) -> Value {
        for _ in 0..400 {
            if let Some(hook) = self.auth_webhooks(connection_id).pop() {
                return hook;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no auth webhook for {connection_id}");
    }
}

/// The digest the store files a session token under (the server's keyed digest).
pub fn session_digest(token: &str) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(b"nango-rs connect session\0");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Makes a session expire now, as 30 minutes passing would.
pub async fn expire(env: &Env, token: &str) {
    let digest = session_digest(token);
    let mut session = env.store().connect_session(&digest).await.unwrap().expect("the session is stored");
    session.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    env.store().create_connect_session(&session).await.unwrap();
}
