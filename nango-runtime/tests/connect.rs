//! Nango Auth over real HTTP: connect sessions, the OAuth authorization code flow with PKCE
//! against the mock provider's OAuth server, client credentials, API key and basic credential
//! forms, and every bad input of the flow. One service and one mock provider for the file
//! (`connect/env.rs`).

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

#[path = "connect/env.rs"]
mod env;
#[path = "support/hooks.rs"]
mod hooks;

use env::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

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

    // The same redirect again (a replayed state, a code used twice) changes nothing: no
    // authorization has that state any more.
    let (status, page) = env.callback(&back).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
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

    // A state nobody issued (no such authorization: 404), and none at all.
    let (status, page) = env.callback(&env.url("/oauth/callback?code=x&state=forged")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
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

/// Connects `integration` through the code flow (approved) with a session token; the
/// connection id.
async fn connect_through_flow(env: &Env, integration: &str, token: &str) -> String {
    let started = env.oauth_connect(integration, token, "").await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let authorize = started.headers()["location"].to_str().unwrap().to_owned();
    let back = env.decide(&authorize, true).await;
    let (status, page) = env.callback(&back).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let marker = "data-connection-id=\"";
    let start = page.find(marker).unwrap() + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// `GET /proxy/user` of a connection: the status.
async fn proxy_user(env: &Env, integration: &str, connection_id: &str) -> StatusCode {
    env.http
        .get(env.url("/proxy/user"))
        .bearer_auth(KEY)
        .header("Connection-Id", connection_id)
        .header("Provider-Config-Key", integration)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_refused_refresh_marks_the_connection_and_a_reconnect_session_fixes_it() {
    let env = env().await;
    let token = env.token("revoked-user", &["revoking"]).await;
    let connection_id = connect_through_flow(env, "revoking", &token).await;
    assert_eq!(proxy_user(env, "revoking", &connection_id).await, StatusCode::OK);
    let errors_of = |connections: Vec<Value>| {
        connections.into_iter().find(|c| c["connection_id"] == connection_id.as_str()).unwrap()["errors"].clone()
    };
    assert_eq!(errors_of(env.connections_of("revoked-user").await), json!([]));

    // The user revokes the app: the access token stops working and the refresh is refused.
    env.revoking.revoke_refresh_tokens();
    env.revoking.expire_token();
    assert_ne!(proxy_user(env, "revoking", &connection_id).await, StatusCode::OK);
    let errors = errors_of(env.connections_of("revoked-user").await);
    assert_eq!(errors[0]["type"], "auth", "{errors}");
    assert!(errors[0]["message"].as_str().unwrap().contains("bad_refresh_token"), "{errors}");
    let start = std::time::Instant::now();
    let refused = loop {
        let hooks = env.auth_webhooks(&connection_id);
        if let Some(hook) = hooks.into_iter().find(|h| h["operation"] == "refresh") {
            break hook;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no refresh webhook");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(refused["success"], false);
    assert_eq!(refused["error"]["type"], "refresh_token_refused");

    // A reconnect session authorizes it again: same connection, mark cleared, requests work.
    let session: Value = env
        .http
        .post(env.url("/connect/sessions/reconnect"))
        .bearer_auth(KEY)
        .json(&json!({"connection_id": connection_id, "integration_id": "revoking"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = connect_through_flow(env, "revoking", session["data"]["token"].as_str().unwrap()).await;
    assert_eq!(again, connection_id);
    assert_eq!(errors_of(env.connections_of("revoked-user").await), json!([]));
    assert_eq!(proxy_user(env, "revoking", &connection_id).await, StatusCode::OK);
    let start = std::time::Instant::now();
    while !env.auth_webhooks(&connection_id).iter().any(|h| h["operation"] == "override" && h["success"] == true) {
        assert!(start.elapsed() < Duration::from_secs(30), "no override webhook");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
