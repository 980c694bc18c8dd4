//! Nango Auth over real HTTP: connect sessions, the OAuth authorization code flow with PKCE
//! against the mock provider's OAuth server, client credentials, API key and basic credential
//! forms, and every bad input of the flow. One service and one mock provider for the file.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

use axum::body::Bytes;
use axum::http::HeaderMap;
use nango_mock_provider::{MockProvider, MockServer};
use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::providers::ProviderCatalog;
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::Store;
use nango_runtime::{NangoSync, Result};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
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
/// The API key the mock accepts (its verification endpoint `/user` takes it as a token).
const GOOD_API_KEY: &str = "good-api-key";

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

#[allow(dead_code)] // parts used by the flow tests
struct Env {
    server: Server,
    mock: MockServer,
    /// A second OAuth server, whose token endpoint the fault tests break.
    broken: MockServer,
    http: reqwest::Client,
    webhooks: Received,
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

/// A webhook receiver on loopback, keeping what it gets.
async fn webhook_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn start() -> Env {
    let mock = MockProvider::builder()
        .issues(30)
        .token(GOOD_API_KEY)
        .oauth_app(CLIENT_ID, CLIENT_SECRET)
        .code_lifetime(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let broken = MockProvider::builder().issues(1).oauth_app(CLIENT_ID, CLIENT_SECRET).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let providers_file = dir.path().join("providers.yaml");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/connect/providers.yaml")).unwrap();
    std::fs::write(&providers_file, text.replace("MOCK_URL", mock.url()).replace("BROKEN_URL", broken.url())).unwrap();
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
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let env = Env { server, mock, broken, http, webhooks, _dir: dir };
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

/// The value of `name` in the query of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl Env {
    /// `/oauth/connect/{integration}` with `token`: the answer (a redirect to the provider, or
    /// the popup's error page).
    async fn oauth_connect(&self, integration: &str, token: &str, extra: &str) -> reqwest::Response {
        let url = self.url(&format!("/oauth/connect/{integration}?connect_session_token={token}{extra}"));
        self.http.get(url).send().await.unwrap()
    }

    /// The user's decision on the provider's page for the authorization URL `authorize`: the
    /// URL the provider sends the popup back to.
    async fn decide(&self, authorize: &str, approve: bool) -> String {
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
    async fn callback(&self, url: &str) -> (StatusCode, String) {
        let response = self.http.get(url).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// `GET /connections` with the secret key.
    async fn connections(&self) -> Vec<Value> {
        let list: Value =
            self.http.get(self.url("/connections")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
        list["connections"].as_array().cloned().unwrap_or_default()
    }

    async fn connections_of(&self, end_user: &str) -> Vec<Value> {
        self.connections().await.into_iter().filter(|c| c["end_user"]["id"] == end_user).collect()
    }

    /// The auth webhooks received for a connection so far, their signatures checked.
    fn auth_webhooks(&self, connection_id: &str) -> Vec<Value> {
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

    async fn wait_auth_webhook(&self, connection_id: &str) -> Value {
        for _ in 0..400 {
            if let Some(hook) = self.auth_webhooks(connection_id).pop() {
                return hook;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no auth webhook for {connection_id}");
    }
}

#[tokio::test]
async fn the_code_flow_with_pkce_stores_the_connection_and_its_first_sync_runs() {
    let env = env().await;
    let token = env.token("flow-user", &["github"]).await;
    // A redirect_uri of the caller's is not taken: the provider gets the configured callback.
    let started = env.oauth_connect("github", &token, "&redirect_uri=http://evil.example/cb").await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(&format!("{}/login/oauth/authorize?", env.mock.url())), "{authorize}");
    assert_eq!(query_param(&authorize, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query_param(&authorize, "redirect_uri"), Some(env.url("/oauth/callback")));
    assert_eq!(query_param(&authorize, "scope").as_deref(), Some("repo user"));
    assert_eq!(query_param(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert!(!authorize.contains(&token), "the session token does not go to the provider");

    let back = env.decide(&authorize, true).await;
    let (status, page) = env.callback(&back).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Connected"), "{page}");
    let connections = env.connections_of("flow-user").await;
    assert_eq!(connections.len(), 1, "{connections:?}");
    let connection_id = connections[0]["connection_id"].as_str().unwrap().to_owned();
    assert_eq!(connections[0]["provider_config_key"], "github");

    // Stored sealed, refreshable, with the app's client.
    let full: Value = env
        .http
        .get(env.url(&format!("/connections/{connection_id}?provider_config_key=github&refresh_token=true")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(full["credentials"]["type"], "OAUTH2", "{full}");
    assert!(full["credentials"]["refresh_token"].as_str().is_some_and(|t| t.starts_with("ghr_mock")), "{full}");
    assert!(full["credentials"]["expires_at"].is_string(), "{full}");
    assert_eq!(full["end_user"]["id"], "flow-user");

    // The same redirect again (a replayed state, a code used twice) changes nothing.
    let (status, page) = env.callback(&back).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("already used"), "{page}");
    assert_eq!(env.connections_of("flow-user").await.len(), 1);

    // The auth webhook, signed; then the first run of the auto_start sync.
    let hook = env.wait_auth_webhook(&connection_id).await;
    assert_eq!((hook["operation"].as_str(), hook["success"].as_bool()), (Some("creation"), Some(true)), "{hook}");
    assert_eq!(hook["authMode"], "OAUTH2");
    assert_eq!(hook["endUser"]["endUserId"], "flow-user");
    assert!(!hook.to_string().contains("ghu_mock"), "no token in a webhook");
    let records_url = env.url("/records?model=Issue");
    for attempt in 0.. {
        let page: Value = env
            .http
            .get(&records_url)
            .bearer_auth(KEY)
            .header("Connection-Id", &connection_id)
            .header("Provider-Config-Key", "github")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["records"].as_array().is_some_and(|r| r.len() == 30) {
            break;
        }
        assert!(attempt < 800, "the first sync did not store the 30 issues: {page}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn denied_consent_forged_states_and_foreign_integrations_store_nothing() {
    let env = env().await;
    let token = env.token("deny-user", &["github"]).await;
    let started = env.oauth_connect("github", &token, "").await;
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    let back = env.decide(&authorize, false).await;
    let (status, page) = env.callback(&back).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("access_denied") && page.contains("denied"), "{page}");

    // A state nobody issued, and none at all.
    let (status, page) = env.callback(&env.url("/oauth/callback?code=x&state=forged")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("unknown or was already used"), "{page}");
    let (status, _) = env.callback(&env.url("/oauth/callback?code=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // An integration outside the session's list; a token of no session.
    let outside = env.oauth_connect("broken", &token, "").await;
    assert_eq!(outside.status(), StatusCode::FORBIDDEN);
    assert!(outside.text().await.unwrap().contains("does not allow the integration `broken`"));
    let foreign = env.oauth_connect("github", "nango_connect_session_forged", "").await;
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);

    // A provider's error page instead of a code.
    let started = env.oauth_connect("github", &token, "").await;
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    let state = query_param(&authorize, "state").unwrap();
    let (status, page) = env
        .callback(&env.url(&format!("/oauth/callback?error=server_error&error_description=Down&state={state}")))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(page.contains("server_error") && page.contains("Down"), "{page}");
    assert!(env.connections_of("deny-user").await.is_empty());
}

/// The digest the store files a session token under (the server's keyed digest).
fn session_digest(token: &str) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(b"nango-rs connect session\0");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Makes a session expire now, as 30 minutes passing would.
async fn expire(env: &Env, token: &str) {
    let digest = session_digest(token);
    let mut session = env.store().connect_session(&digest).await.unwrap().expect("the session is stored");
    session.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    env.store().create_connect_session(&session).await.unwrap();
}

#[tokio::test]
async fn an_expired_session_is_refused_at_every_step() {
    let env = env().await;
    let token = env.token("late-user", &["github", "keys"]).await;
    let started = env.oauth_connect("github", &token, "").await;
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    let back = env.decide(&authorize, true).await;
    expire(env, &token).await;
    let (status, page) = env.callback(&back).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("expired"), "{page}");
    let again = env.oauth_connect("github", &token, "").await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let key = env
        .http
        .post(env.url(&format!("/api-auth/api-key/keys?connect_session_token={token}")))
        .json(&json!({"apiKey": GOOD_API_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), StatusCode::UNAUTHORIZED);
    let body: Value = key.json().await.unwrap();
    assert_eq!(body["error"]["code"], "expired_connect_session_token", "{body}");
    assert!(env.connections_of("late-user").await.is_empty());
}

#[tokio::test]
async fn a_token_endpoint_answering_html_or_nothing_stores_nothing() {
    let env = env().await;
    let token = env.token("broken-user", &["broken"]).await;
    for (fault, expected) in [
        (nango_mock_provider::TokenEndpoint::Html, "text/html, not JSON"),
        (nango_mock_provider::TokenEndpoint::Hang, "did not answer within 2 s"),
    ] {
        env.broken.set_token_endpoint(fault);
        let started = env.oauth_connect("broken", &token, "").await;
        let authorize = started.headers()["location"].to_str().unwrap().to_owned();
        let back = env.decide(&authorize, true).await;
        let (status, page) = env.callback(&back).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
        assert!(page.contains(expected), "{fault:?}: {page}");
    }
    assert!(env.connections_of("broken-user").await.is_empty());
}

#[tokio::test]
async fn api_keys_basic_and_client_credentials_are_checked_before_they_are_stored() {
    let env = env().await;
    let token = env.token("form-user", &["keys", "basic", "cc"]).await;
    let post = |path: &str, body: Value| {
        env.http.post(env.url(&format!("{path}?connect_session_token={token}"))).json(&body).send()
    };
    let refused = |status: StatusCode, expected: &'static str| {
        move |response: reqwest::Response| async move {
            assert_eq!(response.status(), status);
            let body: Value = response.json().await.unwrap();
            assert!(body["error"]["message"].as_str().unwrap().contains(expected), "{body}");
        }
    };
    refused(StatusCode::BAD_REQUEST, "refused the credentials: GET /user answered 401")(
        post("/api-auth/api-key/keys", json!({"apiKey": "wrong-key"})).await.unwrap(),
    )
    .await;
    refused(StatusCode::BAD_REQUEST, "has the character ` `")(
        post("/api-auth/api-key/keys", json!({"apiKey": "with space"})).await.unwrap(),
    )
    .await;
    refused(StatusCode::BAD_REQUEST, "`apiKey` is empty")(
        post("/api-auth/api-key/keys", json!({"apiKey": ""})).await.unwrap(),
    )
    .await;
    refused(StatusCode::BAD_REQUEST, "uses API_KEY credentials, not a user name")(
        post("/api-auth/basic/keys", json!({"username": "u", "password": "p"})).await.unwrap(),
    )
    .await;
    refused(StatusCode::BAD_REQUEST, "incorrect_client_credentials")(
        post("/oauth2/auth/cc", json!({"client_id": CLIENT_ID, "client_secret": "guess"})).await.unwrap(),
    )
    .await;
    assert!(env.connections_of("form-user").await.is_empty());

    let made: Value =
        post("/api-auth/api-key/keys", json!({"apiKey": GOOD_API_KEY})).await.unwrap().json().await.unwrap();
    assert_eq!(made["providerConfigKey"], "keys", "{made}");
    let basic = post("/api-auth/basic/basic", json!({"username": "octocat", "password": "pw"})).await.unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let cc = post("/oauth2/auth/cc", json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})).await.unwrap();
    assert_eq!(cc.status(), StatusCode::OK, "{}", cc.text().await.unwrap());
    let mut kinds: Vec<String> = env
        .connections_of("form-user")
        .await
        .iter()
        .map(|c| c["provider_config_key"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["basic", "cc", "keys"]);
    let hook = env.wait_auth_webhook(made["connectionId"].as_str().unwrap()).await;
    assert_eq!(hook["authMode"], "API_KEY");
    assert!(!hook.to_string().contains(GOOD_API_KEY));
}
