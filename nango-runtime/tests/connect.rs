//! Nango Auth over real HTTP: connect sessions, the OAuth authorization code flow with PKCE
//! against the mock provider's OAuth server, client credentials, API key and basic credential
//! forms, and every bad input of the flow. One service and one mock provider for the file.

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

mod models {
    nango_macros::nango_models!("tests/connect/nango.yaml");
}

/// Every issue of the mock's repository.
#[nango_macros::nango_sync(path = "tests/connect/nango.yaml", models = crate::models)]
async fn issues(nango: &mut NangoSync<models::syncs::Issues>) -> Result<()> {
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

const KEY: &str = "connect-test-secret-key";
const CLIENT_ID: &str = "mock-client";
const CLIENT_SECRET: &str = "mock-client-secret";

#[allow(dead_code)] // parts used by the flow tests
struct Env {
    server: Server,
    mock: MockServer,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl Env {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    fn store(&self) -> &Store {
        self.server.state().store()
    }

    /// `POST /connect/sessions` with the secret key; the answer's status and body.
    async fn create_session(&self, body: Value) -> (StatusCode, Value) {
        let response = self.http.post(self.url("/connect/sessions")).bearer_auth(KEY).json(&body).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    /// A session token for end user `user`, allowed `integrations`.
    async fn token(&self, user: &str, integrations: &[&str]) -> String {
        let (status, body) =
            self.create_session(json!({"end_user": {"id": user}, "allowed_integrations": integrations})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["token"].as_str().unwrap().to_owned()
    }
}

/// The service of this file: one per test binary, on its own runtime thread so every test's
/// runtime can reach it.
async fn env() -> &'static Env {
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

async fn start() -> Env {
    let mock = MockProvider::builder()
        .issues(30)
        .oauth_app(CLIENT_ID, CLIENT_SECRET)
        .code_lifetime(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let providers_file = dir.path().join("providers.yaml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/connect/providers.yaml")).unwrap();
    std::fs::write(&providers_file, text.replace("MOCK_URL", mock.url())).unwrap();
    let mut providers = ProviderCatalog::builtin();
    providers.extend_from_file(&providers_file).unwrap();
    let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("nango.db").display()), sealer).await.unwrap();
    let runtime = Runtime::new(store).with_providers(providers);
    let mut options =
        ServeOptions { addr: "127.0.0.1:0".parse().unwrap(), secret_key: KEY.into(), ..ServeOptions::default() };
    options.scheduler.tick = Duration::from_millis(50);
    let server = Server::start(runtime, options).await.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let env = Env { server, mock, http, _dir: dir };
    // The integrations: nango.yaml's `github` on the mock's OAuth app, and one per credential form.
    for (key, provider, credentials) in [
        (
            "github",
            "mock-github",
            Some(
                json!({"type": "OAUTH2", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": "repo,user"}),
            ),
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

#[tokio::test]
async fn sessions_are_created_read_and_deleted_with_their_token() {
    let env = env().await;
    let (status, body) = env
        .create_session(json!({
            "end_user": {"id": "u1", "email": "u1@example.com", "display_name": "User One"},
            "organization": {"id": "org1", "display_name": "Org"},
            "allowed_integrations": ["github", "keys"],
            "integrations_config_defaults": {"github": {"user_scopes": "repo"}},
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["data"]["token"].as_str().unwrap();
    assert!(token.starts_with("nango_connect_session_"));
    assert!(body["data"]["connect_link"].as_str().unwrap().contains("/connect/ui?session_token="));
    let expires = chrono::DateTime::parse_from_rfc3339(body["data"]["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.signed_duration_since(chrono::Utc::now());
    assert!(left > chrono::Duration::minutes(29) && left <= chrono::Duration::minutes(30), "{left}");

    // The token reads its own session, and nothing else.
    let read = env.http.get(env.url("/connect/session")).bearer_auth(token).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["data"]["allowed_integrations"], json!(["github", "keys"]));
    assert_eq!(read["data"]["endUser"]["email"], "u1@example.com");
    assert_eq!(read["data"]["endUser"]["organization"]["id"], "org1");
    assert_eq!(read["data"]["isReconnecting"], false);
    let api = env.http.get(env.url("/connections")).bearer_auth(token).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED, "a session token is not the secret key");
    // The secret key is not a session token either.
    let with_key = env.http.get(env.url("/connect/session")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(with_key.status(), StatusCode::UNAUTHORIZED);
    let missing = env.http.get(env.url("/connect/session")).send().await.unwrap();
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["error"]["code"], "missing_connect_session_token");

    let deleted = env.http.delete(env.url("/connect/session")).bearer_auth(token).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = env.http.get(env.url("/connect/session")).bearer_auth(token).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(gone.json::<Value>().await.unwrap()["error"]["code"], "invalid_connect_session_token");
}

#[tokio::test]
async fn session_requests_with_bad_fields_are_refused_by_name() {
    let env = env().await;
    let cases = [
        (json!({"allowed_integrations": ["github"]}), "`end_user` is required"),
        (json!({"end_user": {"id": "u"}, "allowed_integrations": ["nope"]}), "no integration `nope`"),
        (json!({"end_user": {"id": "u"}, "allowed_integrations": []}), "`allowed_integrations` is empty"),
        (json!({"end_user": {"id": ""}}), "`end_user.id` must not be empty"),
        (json!({"end_user": {"id": "u", "mail": "x"}}), "unknown field `mail`"),
        (json!({"end_user": {"id": "u"}, "webhook_url_override": "http://x"}), "webhook_url_override"),
        (
            json!({"end_user": {"id": "u"}, "integrations_config_defaults": {"github": {"scopes": "x"}}}),
            "github.scopes",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = env.create_session(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let no_key =
        env.http.post(env.url("/connect/sessions")).json(&json!({"end_user": {"id": "u"}})).send().await.unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_reconnect_session_names_one_existing_connection() {
    let env = env().await;
    let created = env
        .http
        .post(env.url("/connection"))
        .bearer_auth(KEY)
        .json(&json!({"provider_config_key": "keys", "connection_id": "to-reconnect", "credentials": {"type": "api_key", "api_key": "k1"}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.text().await.unwrap());
    let unknown = env
        .http
        .post(env.url("/connect/sessions/reconnect"))
        .bearer_auth(KEY)
        .json(&json!({"connection_id": "nobody", "integration_id": "keys"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let session: Value = env
        .http
        .post(env.url("/connect/sessions/reconnect"))
        .bearer_auth(KEY)
        .json(&json!({"connection_id": "to-reconnect", "integration_id": "keys", "end_user": {"id": "u9"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["data"]["token"].as_str().unwrap();
    let read: Value =
        env.http.get(env.url("/connect/session")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["data"]["isReconnecting"], true);
    assert_eq!(read["data"]["allowed_integrations"], json!(["keys"]));
}
