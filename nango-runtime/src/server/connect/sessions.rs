//! Connect sessions: Nango's `POST /connect/sessions` (and `/reconnect`), `GET` and `DELETE
//! /connect/session`, and the tokens that carry them.
//!
//! A token is 32 random bytes (`nango_connect_session_` + base64url); the store keeps only a
//! digest keyed by the secret key. It lasts [`SESSION_TTL`] and authorizes nothing but the
//! connect flow of its integrations.

use crate::server::extract::Body;
use crate::server::{ApiError, ApiResult, AppState};
use crate::store::{ConnectSession, ConnectSessionData, EndUser, EndUserOrganization, ReconnectTarget, StoreResult};
use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long a connect session lasts (Nango: 30 minutes).
pub(crate) const SESSION_TTL: chrono::Duration = chrono::Duration::minutes(30);

/// The prefix of session tokens (Nango's).
const TOKEN_PREFIX: &str = "nango_connect_session_";

/// 32 random bytes from the operating system, base64url without padding.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A digest of `value` keyed by the secret key, under a label that keeps kinds apart (a
/// session token's digest is never a state's).
pub(crate) fn keyed_digest(secret_key: &str, label: &str, value: &str) -> Vec<u8> {
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(label.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn session_digest(state: &AppState, token: &str) -> Vec<u8> {
    keyed_digest(&state.secret_key, "nango-rs connect session", token)
}

/// The token a request carries: `Authorization: Bearer <token>` or the frontend SDK's
/// `connect_session_token` query parameter.
pub(crate) fn request_token(headers: &HeaderMap, raw_query: Option<&str>) -> Option<String> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    bearer.or_else(|| {
        form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
            .find(|(key, _)| key == "connect_session_token")
            .map(|(_, value)| value.into_owned())
    })
}

/// Why a token does not open a session; also what the popup and the Connect UI show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionProblem {
    /// No token at all.
    Missing,
    /// No session has it (never made, deleted, or swept after it expired).
    Unknown,
    /// It expired at this time.
    Expired(DateTime<Utc>),
}

impl SessionProblem {
    /// The stable code (Nango's where it has one).
    pub(crate) fn code(&self) -> &'static str {
        match self {
            SessionProblem::Missing => "missing_connect_session_token",
            SessionProblem::Unknown => "invalid_connect_session_token",
            SessionProblem::Expired(_) => "expired_connect_session_token",
        }
    }

    /// What happened and what to do.
    pub(crate) fn message(&self) -> String {
        match self {
            SessionProblem::Missing => {
                "no connect session token: pass the token of `POST /connect/sessions` as `Authorization: Bearer <token>` \
                 (or `connect_session_token` for the auth routes)"
                    .into()
            }
            SessionProblem::Unknown => {
                "the connect session token is not valid (never issued, or deleted); ask the backend for a new session".into()
            }
            SessionProblem::Expired(at) => format!(
                "the connect session expired at {}; ask the backend for a new session (they last 30 minutes)",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        }
    }

    /// As an API error (401).
    pub(crate) fn api_error(&self) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, self.code(), self.message())
    }
}

/// The valid session `token` opens.
pub(crate) async fn open(state: &AppState, token: Option<&str>) -> Result<ConnectSession, SessionProblem> {
    let token = token.filter(|t| !t.is_empty()).ok_or(SessionProblem::Missing)?;
    let digest = session_digest(state, token);
    let stored = state.store().connect_session(&digest).await.map_err(|e| {
        tracing::error!(error = %nango_types::text::error_chain(&e), "cannot read a connect session");
        SessionProblem::Unknown
    })?;
    let session = stored.ok_or(SessionProblem::Unknown)?;
    if session.expires_at <= Utc::now() {
        // Kept until the next sweep (when a session is created), so it keeps saying "expired".
        return Err(SessionProblem::Expired(session.expires_at));
    }
    Ok(session)
}

/// `end_user` as `POST /connect/sessions` takes it (Nango's `EndUserInput`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndUserInput {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

/// The body of `POST /connect/sessions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSession {
    #[serde(default)]
    end_user: Option<EndUserInput>,
    #[serde(default)]
    organization: Option<EndUserOrganization>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    allowed_integrations: Option<Vec<String>>,
    #[serde(default)]
    integrations_config_defaults: Option<BTreeMap<String, Value>>,
    /// Accepted and kept out: documentation links of Nango's own Connect UI.
    #[serde(default)]
    #[allow(dead_code)]
    overrides: Option<Value>,
    #[serde(default)]
    webhook_url_override: Option<String>,
}

/// The body of `POST /connect/sessions/reconnect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewReconnectSession {
    connection_id: String,
    integration_id: String,
    #[serde(default)]
    end_user: Option<EndUserInput>,
    #[serde(default)]
    organization: Option<EndUserOrganization>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    integrations_config_defaults: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    #[allow(dead_code)]
    overrides: Option<Value>,
    #[serde(default)]
    webhook_url_override: Option<String>,
}

/// The integrations connections can be made for: nango.yaml's and those created through the API.
pub(crate) async fn known_integrations(state: &AppState) -> ApiResult<Vec<String>> {
    let mut known: Vec<String> = crate::registered_integrations().into_iter().map(str::to_owned).collect();
    known.extend(state.store().integration_providers().await?.into_keys());
    known.sort();
    known.dedup();
    Ok(known)
}

fn refuse_webhook_override(value: &Option<String>) -> ApiResult<()> {
    if value.is_some() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "`webhook_url_override` is not supported: webhooks go to NANGO_WEBHOOK_URL",
        ));
    }
    Ok(())
}

fn end_user(input: Option<EndUserInput>, organization: &Option<EndUserOrganization>) -> ApiResult<Option<EndUser>> {
    let Some(input) = input else { return Ok(None) };
    if input.id.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_body", "`end_user.id` must not be empty"));
    }
    Ok(Some(EndUser {
        id: input.id,
        email: input.email,
        display_name: input.display_name,
        tags: input.tags,
        organization: organization.clone(),
    }))
}

/// Checks the per-integration defaults: known integrations, and objects of the keys Nango has.
fn check_defaults(defaults: &BTreeMap<String, Value>, known: &[String]) -> ApiResult<()> {
    for (integration, value) in defaults {
        if !known.contains(integration) {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!(
                    "`integrations_config_defaults.{integration}`: no integration `{integration}`; known: {}",
                    known.join(", ")
                ),
            ));
        }
        let Some(fields) = value.as_object() else {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("`integrations_config_defaults.{integration}` must be an object"),
            ));
        };
        for key in fields.keys() {
            if !["user_scopes", "authorization_params", "connection_config"].contains(&key.as_str()) {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    format!(
                        "`integrations_config_defaults.{integration}.{key}` is not a field (user_scopes, authorization_params, connection_config)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Stores a new session for `data` (sweeping expired ones first); its token and expiry. The
/// API and the console's "connect" both start sessions here.
pub(crate) async fn start(state: &AppState, data: ConnectSessionData) -> StoreResult<(String, DateTime<Utc>)> {
    let now = Utc::now();
    state.store().delete_expired_connect(now).await?;
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let session =
        ConnectSession { digest: session_digest(state, &token), data, created_at: now, expires_at: now + SESSION_TTL };
    state.store().create_connect_session(&session).await?;
    Ok((token, session.expires_at))
}

/// Stores a session and answers Nango's `{data: {token, connect_link, expires_at}}`.
async fn issue(state: &AppState, data: ConnectSessionData) -> ApiResult<impl IntoResponse + use<>> {
    let (token, expires_at) = start(state, data).await?;
    let connect_link = format!("{}/connect/ui?session_token={token}", state.public_url);
    let expires_at = expires_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    Ok((
        StatusCode::CREATED,
        Json(json!({"data": {"token": token, "connect_link": connect_link, "expires_at": expires_at}})),
    ))
}

/// `POST /connect/sessions`.
pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    Body(body): Body<NewSession>,
) -> ApiResult<impl IntoResponse> {
    refuse_webhook_override(&body.webhook_url_override)?;
    if body.end_user.is_none() && body.tags.is_none() {
        return Err(ApiError::bad_request("invalid_body", "`end_user` is required (or give `tags` instead)"));
    }
    let known = known_integrations(&state).await?;
    if let Some(allowed) = &body.allowed_integrations {
        if allowed.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "`allowed_integrations` is empty: list at least one integration, or leave it out to allow all",
            ));
        }
        if let Some(unknown) = allowed.iter().find(|i| !known.contains(i)) {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("`allowed_integrations`: no integration `{unknown}`; known: {}", known.join(", ")),
            ));
        }
    }
    let defaults = body.integrations_config_defaults.unwrap_or_default();
    check_defaults(&defaults, &known)?;
    let tags = crate::server::connections::valid_tags(&body.tags.unwrap_or_default())?;
    let data = ConnectSessionData {
        end_user: end_user(body.end_user, &body.organization)?,
        organization: body.organization,
        tags,
        allowed_integrations: body.allowed_integrations,
        integrations_config_defaults: defaults,
        reconnect: None,
    };
    issue(&state, data).await
}

/// `POST /connect/sessions/reconnect`: a session that re-authorizes one existing connection.
pub(super) async fn create_reconnect(
    State(state): State<Arc<AppState>>,
    Body(body): Body<NewReconnectSession>,
) -> ApiResult<impl IntoResponse> {
    refuse_webhook_override(&body.webhook_url_override)?;
    let Some(key) = state.store().connection_key(&body.integration_id, &body.connection_id).await? else {
        return Err(ApiError::not_found(
            "unknown_connection",
            format!("no connection `{}` for integration `{}`", body.connection_id, body.integration_id),
        ));
    };
    let defaults = body.integrations_config_defaults.unwrap_or_default();
    check_defaults(&defaults, &known_integrations(&state).await?)?;
    let profile = state.store().connection_profile(key).await?.unwrap_or_default();
    let end_user = end_user(body.end_user, &body.organization)?.or(profile.end_user);
    let tags = match body.tags {
        Some(tags) => crate::server::connections::valid_tags(&tags)?,
        None => BTreeMap::new(),
    };
    let data = ConnectSessionData {
        end_user,
        organization: body.organization,
        tags,
        allowed_integrations: Some(vec![body.integration_id.clone()]),
        integrations_config_defaults: defaults,
        reconnect: Some(ReconnectTarget { integration: body.integration_id, connection_id: body.connection_id }),
    };
    issue(&state, data).await
}

/// `GET /connect/session` with the session token: what the session allows, as Nango's
/// `ConnectSessionOutput`.
pub(super) async fn get_current(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let token = request_token(&headers, raw.as_deref());
    let session = open(&state, token.as_deref()).await.map_err(|p| p.api_error())?;
    let data = &session.data;
    let end_user = data.end_user.as_ref().map(|user| {
        json!({"id": user.id, "email": user.email, "display_name": user.display_name,
               "tags": user.tags, "organization": user.organization})
    });
    Ok(Json(json!({"data": {
        "allowed_integrations": data.allowed_integrations,
        "integrations_config_defaults": data.integrations_config_defaults,
        "endUser": end_user,
        "tags": data.tags,
        "isReconnecting": data.reconnect.is_some(),
        "connectUISettings": {"showWatermark": false, "theme": {}},
        "websocketsPath": "/",
    }})))
}

/// `DELETE /connect/session` with the session token: ends it (and the authorizations it
/// started).
pub(super) async fn delete_current(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<StatusCode> {
    let token = request_token(&headers, raw.as_deref());
    let session = open(&state, token.as_deref()).await.map_err(|p| p.api_error())?;
    state.store().delete_connect_session(&session.digest).await?;
    Ok(StatusCode::NO_CONTENT)
}
