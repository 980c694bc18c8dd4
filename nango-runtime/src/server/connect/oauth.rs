//! The OAuth 2.0 authorization code flow: `/oauth/connect/{integration}` sends the user to the
//! provider with a `state` bound to the connect session and a PKCE challenge;
//! `/oauth/callback` takes the state out (once), exchanges the code and stores the
//! connection. Every failure is a page in the popup and an `error` message on the frontend
//! SDK's socket; nothing is stored unless the exchange worked.
//!
//! The PKCE verifier is never stored: it is a keyed digest of the state, recomputed at the
//! callback.

use super::outcome::{self, FlowIntegration};
use super::page;
use super::sessions::{self, keyed_digest, random_token};
use crate::Credentials;
use crate::Secret;
use crate::providers::{AuthMode, Provider, TemplateValues, interpolate};
use crate::server::{ApiError, AppState};
use crate::store::{ConnectSession, OAuthApp, OAuthFlow};
use crate::webhooks::{AuthOperation, SyncErrorInfo};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long the provider has to redirect back (GitHub's codes live 10 minutes).
const FLOW_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// A failure of the flow: the popup's page, and the message for the SDK's socket.
struct Failure {
    status: StatusCode,
    code: String,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Failure { status, code: code.into(), message: message.into() }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::new(e.status, e.code, e.message)
    }
}

/// Shows the failure in the popup and tells the socket, if there is one.
fn fail(state: &AppState, ws_client_id: Option<&str>, failure: Failure) -> Response {
    if let Some(client) = ws_client_id {
        state.ws_clients.notify(
            client,
            &json!({"message_type": "error", "error_type": failure.code, "error_desc": failure.message}),
        );
    }
    page::failure(failure.status, &failure.code, &failure.message)
}

/// The query's pairs.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The redirect URI registered with providers.
pub(crate) fn callback_url(state: &AppState) -> String {
    format!("{}/oauth/callback", state.public_url)
}

/// The PKCE verifier of a state: 43 characters of base64url, as RFC 7636 allows.
fn pkce_verifier(state: &AppState, oauth_state: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(keyed_digest(
        &state.secret_key,
        "nango-rs pkce",
        oauth_state,
    ))
}

fn state_digest(state: &AppState, oauth_state: &str) -> Vec<u8> {
    keyed_digest(&state.secret_key, "nango-rs oauth state", oauth_state)
}

/// The session's per-integration string map `field` (`authorization_params`).
fn session_defaults(session: &ConnectSession, integration: &str, field: &str) -> Vec<(String, String)> {
    session
        .data
        .integrations_config_defaults
        .get(integration)
        .and_then(|d| d.get(field))
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

/// The OAuth app of an OAuth 2 integration, or why it cannot start the flow.
fn oauth_app(integration: &FlowIntegration) -> Result<&OAuthApp, Failure> {
    if integration.provider.auth_mode != Some(AuthMode::OAuth2) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_auth_mode",
            format!(
                "integration `{}` does not use OAuth 2 (its provider `{}` does not)",
                integration.key, integration.provider_name
            ),
        ));
    }
    integration.app.as_ref().ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "missing_oauth_app",
            format!(
                "integration `{}` has no OAuth app: set its client id and secret with POST /integrations (credentials of type OAUTH2)",
                integration.key
            ),
        )
    })
}

/// `GET /oauth/connect/{integration}?connect_session_token=&ws_client_id=&connection_id=`:
/// redirects the popup to the provider's authorization page.
pub(super) async fn connect(
    State(state): State<Arc<AppState>>,
    Path(integration): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let ws_client_id = param(&pairs, "ws_client_id").map(str::to_owned);
    match start(&state, &integration, &pairs, ws_client_id.as_deref()).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(failure) => fail(&state, ws_client_id.as_deref(), failure),
    }
}

async fn start(
    state: &AppState,
    key: &str,
    pairs: &[(String, String)],
    ws_client_id: Option<&str>,
) -> Result<String, Failure> {
    let session = sessions::open(state, param(pairs, "connect_session_token"))
        .await
        .map_err(|p| Failure::new(StatusCode::UNAUTHORIZED, p.code(), p.message()))?;
    let integration = outcome::integration(state, &session, key).await?;
    let app = oauth_app(&integration)?;
    let connection_id = outcome::connection_id(state, &session, key, param(pairs, "connection_id")).await?;
    let provider = &integration.provider;
    let template = provider.authorization_url.as_deref().ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_provider",
            format!("provider `{}` has no authorization_url", integration.provider_name),
        )
    })?;
    let values = TemplateValues {
        connection_config: outcome::default_connection_config(&session, key),
        ..TemplateValues::default()
    };
    let base = interpolate(template, &values).map_err(|e| {
        Failure::new(StatusCode::BAD_REQUEST, "invalid_connection_config", format!("authorization_url: {e}"))
    })?;
    let mut url = reqwest::Url::parse(&base).map_err(|e| {
        Failure::new(StatusCode::BAD_REQUEST, "invalid_provider", format!("authorization_url `{base}`: {e}"))
    })?;

    let oauth_state = random_token();
    let redirect_uri = callback_url(state);
    let now = Utc::now();
    let flow = OAuthFlow {
        state_digest: state_digest(state, &oauth_state),
        session_digest: session.digest.clone(),
        integration: key.to_owned(),
        connection_id,
        ws_client_id: ws_client_id.map(str::to_owned),
        redirect_uri: redirect_uri.clone(),
        created_at: now,
        expires_at: (now + FLOW_TTL).min(session.expires_at),
    };
    state.store().start_oauth_flow(&flow).await.map_err(ApiError::from)?;

    let scopes: Vec<String> = match app.scopes.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(scopes) => scopes.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
        None => provider.default_scopes.clone(),
    };
    let separator = provider.scope_separator.as_deref().unwrap_or(" ");
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", &app.client_id);
        query.append_pair("redirect_uri", &redirect_uri);
        query.append_pair("response_type", "code");
        query.append_pair("state", &oauth_state);
        if !scopes.is_empty() {
            query.append_pair("scope", &scopes.join(separator));
        }
        if !provider.disable_pkce {
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(pkce_verifier(state, &oauth_state)));
            query.append_pair("code_challenge", &challenge);
            query.append_pair("code_challenge_method", "S256");
        }
        let mut extra: BTreeMap<String, String> = provider.authorization_params.clone();
        extra.extend(session_defaults(&session, key, "authorization_params"));
        for (name, value) in pairs {
            if let Some(inner) = name.strip_prefix("authorization_params[").and_then(|n| n.strip_suffix(']')) {
                extra.insert(inner.to_owned(), value.clone());
            }
        }
        for (name, value) in &extra {
            if value != "undefined" {
                query.append_pair(name, value);
            }
        }
    }
    Ok(url.into())
}

/// `GET /oauth/callback?code=&state=` (or `error=&error_description=&state=`): where the
/// provider sends the user back.
pub(super) async fn callback(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    _headers: HeaderMap,
) -> Response {
    let pairs = query_pairs(raw.as_deref());
    let Some(oauth_state) = param(&pairs, "state").filter(|s| !s.is_empty()) else {
        return fail(
            &state,
            None,
            Failure::new(
                StatusCode::BAD_REQUEST,
                "missing_state",
                "the provider's redirect has no `state`: start the connection again",
            ),
        );
    };
    let flow = match state.store().take_oauth_flow(&state_digest(&state, oauth_state)).await {
        Ok(Some(flow)) => flow,
        Ok(None) => {
            return fail(
                &state,
                None,
                Failure::new(
                    StatusCode::NOT_FOUND,
                    "invalid_state",
                    "this authorization is unknown or was already used (a `state` works once): start the connection again",
                ),
            );
        }
        Err(e) => return fail(&state, None, ApiError::from(e).into()),
    };
    let ws = flow.ws_client_id.clone();
    match finish(&state, &flow, oauth_state, &pairs).await {
        Ok(()) => {
            if let Some(client) = &ws {
                state.ws_clients.notify(
                    client,
                    &json!({"message_type": "success", "provider_config_key": flow.integration,
                            "connection_id": flow.connection_id, "is_pending": false}),
                );
            }
            page::success(&flow.integration, &flow.connection_id)
        }
        Err(failure) => fail(&state, ws.as_deref(), failure),
    }
}

async fn finish(
    state: &AppState,
    flow: &OAuthFlow,
    oauth_state: &str,
    pairs: &[(String, String)],
) -> Result<(), Failure> {
    if flow.expires_at <= Utc::now() {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "expired_state",
            "the authorization took too long (10 minutes at most): start the connection again",
        ));
    }
    let session = match state.store().connect_session(&flow.session_digest).await.map_err(ApiError::from)? {
        Some(session) if session.expires_at > Utc::now() => session,
        Some(session) => {
            return Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                "expired_connect_session_token",
                sessions::SessionProblem::Expired(session.expires_at).message(),
            ));
        }
        None => {
            return Err(Failure::new(
                StatusCode::UNAUTHORIZED,
                "invalid_connect_session_token",
                "the connect session of this authorization was deleted: ask the backend for a new session",
            ));
        }
    };
    let integration = outcome::integration(state, &session, &flow.integration).await?;
    let operation = if session.data.reconnect.is_some() { AuthOperation::Override } else { AuthOperation::Creation };
    if let Some(error) = param(pairs, "error") {
        let description = param(pairs, "error_description").unwrap_or("no description");
        let (status, code) = if error == "access_denied" {
            (StatusCode::FORBIDDEN, "access_denied")
        } else {
            (StatusCode::BAD_GATEWAY, "provider_error")
        };
        let message = format!("{} answered `{error}`: {description}", integration.provider_name);
        outcome::send_auth_webhook(
            state,
            &session,
            &integration,
            &flow.connection_id,
            operation,
            Some(SyncErrorInfo::new(code, &message)),
        );
        return Err(Failure::new(status, code, message));
    }
    let Some(code) = param(pairs, "code").filter(|c| !c.is_empty()) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "missing_code",
            "the provider's redirect has neither a `code` nor an `error`",
        ));
    };
    let app = oauth_app(&integration)?;
    let verifier = (!integration.provider.disable_pkce).then(|| pkce_verifier(state, oauth_state));
    let mut form = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".to_owned(), code.to_owned()),
        ("redirect_uri".to_owned(), flow.redirect_uri.clone()),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier".to_owned(), verifier));
    }
    let tokens = match token_request(state, &integration, app, form).await {
        Ok(tokens) => tokens,
        Err(message) => {
            outcome::send_auth_webhook(
                state,
                &session,
                &integration,
                &flow.connection_id,
                operation,
                Some(SyncErrorInfo::new("token_exchange_failed", &message)),
            );
            return Err(Failure::new(StatusCode::BAD_GATEWAY, "token_exchange_failed", message));
        }
    };
    let credentials = Credentials::OAuth2 {
        access_token: Secret::new(tokens.access_token),
        refresh_token: tokens.refresh_token.map(Secret::new),
        expires_at: tokens.expires_at,
        client_id: Some(app.client_id.clone()),
        client_secret: Some(app.client_secret.clone()),
    };
    outcome::save(state, &session, &integration, &flow.connection_id, credentials, BTreeMap::new()).await?;
    Ok(())
}

/// What a token endpoint gave.
pub(crate) struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<chrono::DateTime<Utc>>,
}

/// A POST to the provider's token URL with the app's credentials (in the body, or as HTTP
/// Basic auth when the provider says so) and the provider's `token_params`; the tokens, or
/// what went wrong (never quoting a 2xx body: it may hold a token).
pub(crate) async fn token_request(
    state: &AppState,
    integration: &FlowIntegration,
    app: &OAuthApp,
    mut form: Vec<(String, String)>,
) -> Result<Tokens, String> {
    let provider: &Provider = &integration.provider;
    let template = provider
        .token_url
        .as_deref()
        .ok_or_else(|| format!("provider `{}` has no token_url", integration.provider_name))?;
    let token_url = interpolate(template, &TemplateValues::default()).map_err(|e| format!("token_url: {e}"))?;
    for (name, value) in &provider.token_params {
        if !form.iter().any(|(k, _)| k == name) {
            form.push((name.clone(), value.clone()));
        }
    }
    let basic = provider.token_request_auth_method.as_deref() == Some("basic");
    if !basic {
        form.push(("client_id".to_owned(), app.client_id.clone()));
        form.push(("client_secret".to_owned(), app.client_secret.expose().to_owned()));
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(state.auth_timeout)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    let mut request = http.post(&token_url).header(reqwest::header::ACCEPT, "application/json");
    if basic {
        let pair = format!("{}:{}", app.client_id, app.client_secret.expose());
        request = request.header(
            reqwest::header::AUTHORIZATION,
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)),
        );
    }
    request = if provider.body_format.as_deref() == Some("json") {
        let body: serde_json::Map<String, Value> = form.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        request.json(&body)
    } else {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        request.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body)
    };
    let at = format!("POST {}", nango_types::text::scrub(&token_url, &[]));
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("the token endpoint ({at}) did not answer within {} s", state.auth_timeout.as_secs_f64())
        } else {
            format!("the token endpoint ({at}) could not be reached: {}", nango_types::text::error_chain(&e))
        }
    })?;
    let status = response.status();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = response.bytes().await.map_err(|e| format!("the token endpoint ({at}) broke off its answer: {e}"))?;
    let json: Value = if content_type.contains("json") || body.trim_ascii_start().starts_with(b"{") {
        serde_json::from_slice(&body)
            .map_err(|_| format!("the token endpoint ({at}) answered {status} with a body that is not valid JSON"))?
    } else if content_type.contains("x-www-form-urlencoded") {
        Value::Object(
            form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect(),
        )
    } else {
        let kind = if content_type.is_empty() { "no content type".to_owned() } else { content_type };
        return Err(format!(
            "the token endpoint ({at}) answered {status} with {kind}, not JSON (an error page of the provider or of a proxy?)"
        ));
    };
    let text = |path: &str| {
        path.split('.').try_fold(&json, |v, part| v.get(part)).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    if let Some(error) = text("error") {
        let description = text("error_description").map(|d| format!(": {d}")).unwrap_or_default();
        return Err(format!("the provider refused ({at} answered {status}): {error}{description}"));
    }
    if !status.is_success() {
        return Err(format!("the token endpoint ({at}) answered {status}"));
    }
    let path = provider.alternate_access_token_response_path.as_deref().unwrap_or("access_token");
    let access_token = text(path)
        .or_else(|| text("access_token"))
        .ok_or_else(|| format!("the token endpoint ({at}) answered without an access token"))?;
    let expires_in = text("expires_in").and_then(|v| v.trim().parse::<f64>().ok());
    let seconds =
        expires_in.map(|v| if provider.expires_in_unit.as_deref() == Some("milliseconds") { v / 1000.0 } else { v });
    let expires_at = seconds
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e10)
        .and_then(|s| chrono::Duration::try_milliseconds((s * 1000.0) as i64))
        .and_then(|d| Utc::now().checked_add_signed(d));
    Ok(Tokens { access_token, refresh_token: text("refresh_token"), expires_at })
}
