//! The credential forms: API keys (`POST /api-auth/api-key/{integration}`), basic auth
//! (`/api-auth/basic/{integration}`) and OAuth 2 client credentials
//! (`/oauth2/auth/{integration}`), as Nango's frontend SDK sends them (`nango.auth(key,
//! {credentials})`). Each is checked against the provider's descriptors and, where the
//! provider has one, its verification request, before anything is stored.

use super::outcome::{self, FlowIntegration};
use super::sessions;
use crate::providers::AuthMode;
use crate::server::extract::Body;
use crate::server::{ApiError, ApiResult, AppState};
use crate::store::ConnectSession;
use crate::{Connection, Credentials, Secret};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The query of the credential routes: the session token, and the connection id and config the
/// frontend may give (`params[x]`).
struct FormQuery {
    token: Option<String>,
    connection_id: Option<String>,
    params: BTreeMap<String, String>,
}

fn form_query(headers: &HeaderMap, raw: Option<&str>) -> FormQuery {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect();
    let params = pairs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("params[")?.strip_suffix(']')?.to_owned(), v.clone())))
        .collect();
    FormQuery {
        token: sessions::request_token(headers, raw),
        connection_id: pairs.iter().find(|(k, _)| k == "connection_id").map(|(_, v)| v.clone()),
        params,
    }
}

/// The session, the integration (which must use `mode`) and the connection id of a request.
async fn prepare(
    state: &AppState,
    key: &str,
    query: &FormQuery,
    mode: AuthMode,
) -> ApiResult<(ConnectSession, FlowIntegration, String)> {
    let session = sessions::open(state, query.token.as_deref()).await.map_err(|p| p.api_error())?;
    let integration = outcome::integration(state, &session, key).await?;
    if integration.provider.auth_mode.as_ref() != Some(&mode) {
        return Err(ApiError::bad_request(
            "invalid_auth_mode",
            format!(
                "integration `{key}` uses {} credentials, not {}",
                outcome::auth_mode_name(&integration.provider),
                match mode {
                    AuthMode::ApiKey => "an API key",
                    AuthMode::Basic => "a user name and password",
                    _ => "client credentials",
                }
            ),
        ));
    }
    let connection_id = outcome::connection_id(state, &session, key, query.connection_id.as_deref()).await?;
    Ok((session, integration, connection_id))
}

/// Checks a credential field against the provider's descriptor (`credentials.<name>`): present,
/// and matching its `pattern` when it has one.
fn check_field(integration: &FlowIntegration, name: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_credentials", format!("`{name}` is empty")));
    }
    let descriptor = integration.provider.credentials.get(name);
    if let Some(pattern) = descriptor.and_then(|d| d.get("pattern")).and_then(Value::as_str) {
        // The simple patterns providers use: a character class with a `+` or `*`, anchored.
        if let Some(allowed) = simple_class(pattern)
            && let Some(bad) = value.chars().find(|c| !allowed(*c))
        {
            let title = descriptor.and_then(|d| d.get("title")).and_then(Value::as_str).unwrap_or(name);
            return Err(ApiError::bad_request(
                "invalid_credentials",
                format!(
                    "`{name}` ({title}) has the character `{}`, which {} does not allow (pattern {pattern})",
                    bad.escape_debug(),
                    integration.provider_name
                ),
            ));
        }
    }
    Ok(())
}

/// `^[...]+$` / `^[...]*$` as a test of characters (ranges, `\-`, `\w`, `\d`); `None` for any
/// other pattern, which is left to the provider's verification.
fn simple_class(pattern: &str) -> Option<impl Fn(char) -> bool> {
    let inner =
        pattern.strip_prefix("^[")?.strip_suffix("]+$").or_else(|| pattern.strip_prefix("^[")?.strip_suffix("]*$"))?;
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        let c = if c == '\\' {
            match chars.next()? {
                'w' => {
                    ranges.extend([('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')]);
                    continue;
                }
                'd' => {
                    ranges.push(('0', '9'));
                    continue;
                }
                other => other,
            }
        } else {
            c
        };
        if chars.peek() == Some(&'-') {
            let mut ahead = chars.clone();
            ahead.next();
            if let Some(end) = ahead.next().filter(|e| *e != ']') {
                chars = ahead;
                ranges.push((c, end));
                continue;
            }
        }
        ranges.push((c, c));
    }
    Some(move |c: char| ranges.iter().any(|(a, b)| (*a..=*b).contains(&c)))
}

/// Calls the provider's verification request with the new credentials; refuses them when it
/// does not answer 2xx.
async fn verify(
    state: &AppState,
    integration: &FlowIntegration,
    connection_id: &str,
    credentials: &Credentials,
    config: &BTreeMap<String, String>,
) -> ApiResult<()> {
    let Some(check) = integration.provider.proxy.as_ref().and_then(|p| p.verification.as_ref()) else { return Ok(()) };
    let Some(endpoint) = check.endpoints.first() else { return Ok(()) };
    let mut connection = Connection::new(&integration.key, connection_id, &integration.provider_name);
    connection.credentials = credentials.clone();
    connection.connection_config = config.clone();
    let options = state.scheduler.runtime().http_options().clone().max_retries(0).timeout(state.auth_timeout);
    let client = crate::http::HttpClient::new(integration.provider.clone(), connection, options)
        .map_err(|e| ApiError::bad_request("invalid_credentials", nango_types::text::error_chain(&e)))?;
    let method = check.method.as_deref().unwrap_or("GET").parse().unwrap_or(reqwest::Method::GET);
    let mut request = client.request(method.clone(), endpoint.clone()).any_status();
    if let Some(base) = &check.base_url_override {
        request = request.base_url(base.clone());
    }
    let answer = request.send().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "connection_test_failed",
            format!("the provider's check ({method} {endpoint}) failed: {}", nango_types::text::error_chain(&e)),
        )
    })?;
    if !answer.status().is_success() {
        return Err(ApiError::bad_request(
            "connection_test_failed",
            format!(
                "{} refused the credentials: {method} {endpoint} answered {}",
                integration.provider_name,
                answer.status()
            ),
        ));
    }
    Ok(())
}

/// Credentials typed into a form of the Connect UI.
pub(super) enum Typed {
    ApiKey(String),
    Basic { username: String, password: String },
    ClientCredentials { client_id: String, client_secret: String },
}

/// Connects `key` with credentials from the Connect UI (the same checks as the SDK's routes);
/// gives the connection id.
pub(super) async fn connect_typed(state: &AppState, key: &str, token: &str, typed: Typed) -> ApiResult<String> {
    let query = FormQuery { token: Some(token.to_owned()), connection_id: None, params: BTreeMap::new() };
    match typed {
        Typed::ApiKey(api_key) => {
            let (session, integration, connection_id) = prepare(state, key, &query, AuthMode::ApiKey).await?;
            check_field(&integration, "apiKey", &api_key)?;
            let credentials = Credentials::ApiKey { api_key: Secret::new(api_key) };
            verify(state, &integration, &connection_id, &credentials, &query.params).await?;
            outcome::save(state, &session, &integration, &connection_id, credentials, query.params).await?;
            Ok(connection_id)
        }
        Typed::Basic { username, password } => {
            let (session, integration, connection_id) = prepare(state, key, &query, AuthMode::Basic).await?;
            check_field(&integration, "username", &username)?;
            let credentials = Credentials::Basic { username, password: Secret::new(password) };
            verify(state, &integration, &connection_id, &credentials, &query.params).await?;
            outcome::save(state, &session, &integration, &connection_id, credentials, query.params).await?;
            Ok(connection_id)
        }
        Typed::ClientCredentials { client_id, client_secret } => {
            let (session, integration, connection_id) =
                prepare(state, key, &query, AuthMode::OAuth2ClientCredentials).await?;
            grant_client_credentials(
                state,
                &session,
                &integration,
                &connection_id,
                client_id,
                client_secret,
                query.params,
            )
            .await?;
            Ok(connection_id)
        }
    }
}

/// The client credentials grant with the end user's client, and the connection it gives.
async fn grant_client_credentials(
    state: &AppState,
    session: &ConnectSession,
    integration: &FlowIntegration,
    connection_id: &str,
    client_id: String,
    secret: String,
    params: BTreeMap<String, String>,
) -> ApiResult<()> {
    if client_id.trim().is_empty() || secret.is_empty() {
        return Err(ApiError::bad_request("invalid_credentials", "`client_id` and `client_secret` are both needed"));
    }
    let app =
        crate::store::OAuthApp { client_id, client_secret: Secret::new(secret), scopes: None, webhook_secret: None };
    let form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    let tokens = super::oauth::token_request(state, integration, &app, form)
        .await
        .map_err(|message| ApiError::bad_request("token_exchange_failed", message))?;
    let credentials = Credentials::OAuth2 {
        access_token: Secret::new(tokens.access_token),
        refresh_token: tokens.refresh_token.map(Secret::new),
        expires_at: tokens.expires_at,
        client_id: Some(app.client_id),
        client_secret: Some(app.client_secret),
    };
    outcome::save(state, session, integration, connection_id, credentials, params).await?;
    Ok(())
}

/// The answer of the credential routes: `{providerConfigKey, connectionId}`, as Nango's.
fn connected(integration: &FlowIntegration, connection_id: &str) -> Json<Value> {
    Json(json!({"providerConfigKey": integration.key, "connectionId": connection_id}))
}

/// `{apiKey}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ApiKeyBody {
    api_key: String,
}

/// `POST /api-auth/api-key/{integration}`.
pub(super) async fn api_key(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Body(body): Body<ApiKeyBody>,
) -> ApiResult<Json<Value>> {
    let query = form_query(&headers, raw.as_deref());
    let (session, integration, connection_id) = prepare(&state, &key, &query, AuthMode::ApiKey).await?;
    check_field(&integration, "apiKey", &body.api_key)?;
    let credentials = Credentials::ApiKey { api_key: Secret::new(body.api_key) };
    verify(&state, &integration, &connection_id, &credentials, &query.params).await?;
    outcome::save(&state, &session, &integration, &connection_id, credentials, query.params).await?;
    Ok(connected(&integration, &connection_id))
}

/// `{username, password}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BasicBody {
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /api-auth/basic/{integration}`.
pub(super) async fn basic(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Body(body): Body<BasicBody>,
) -> ApiResult<Json<Value>> {
    let query = form_query(&headers, raw.as_deref());
    let (session, integration, connection_id) = prepare(&state, &key, &query, AuthMode::Basic).await?;
    check_field(&integration, "username", &body.username)?;
    let credentials = Credentials::Basic { username: body.username, password: Secret::new(body.password) };
    verify(&state, &integration, &connection_id, &credentials, &query.params).await?;
    outcome::save(&state, &session, &integration, &connection_id, credentials, query.params).await?;
    Ok(connected(&integration, &connection_id))
}

/// `{client_id, client_secret}` (Nango's SDK also sends the certificate fields, empty).
#[derive(Deserialize)]
pub(super) struct ClientCredentialsBody {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
}

/// `POST /oauth2/auth/{integration}`: the client credentials grant with the end user's client.
pub(super) async fn client_credentials(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Body(body): Body<ClientCredentialsBody>,
) -> ApiResult<Json<Value>> {
    let query = form_query(&headers, raw.as_deref());
    let (session, integration, connection_id) =
        prepare(&state, &key, &query, AuthMode::OAuth2ClientCredentials).await?;
    let secret = body.client_secret.unwrap_or_default();
    grant_client_credentials(&state, &session, &integration, &connection_id, body.client_id, secret, query.params)
        .await?;
    Ok(connected(&integration, &connection_id))
}

#[cfg(test)]
mod tests {
    use super::simple_class;

    #[test]
    fn simple_patterns_test_characters() {
        let allowed = simple_class(r"^[A-Za-z0-9_\-]+$").unwrap();
        assert!("abc_D-9".chars().all(&allowed));
        assert!(!allowed(' ') && !allowed('/'));
        let word = simple_class(r"^[\w.]*$").unwrap();
        assert!(word('x') && word('.') && !word('-'));
        assert!(simple_class("^sk_[a-z]+$").is_none());
    }
}
