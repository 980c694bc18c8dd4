//! What every way of connecting ends with: the connection stored (sealed) with the session's
//! end user and tags, its `auto_start` syncs woken, the auth webhook, and the frontend told.

use super::sessions::random_token;
use crate::server::{ApiError, ApiResult, AppState};
use crate::store::ConnectSession;
use crate::webhooks::{AuthOperation, AuthWebhook, SyncErrorInfo, to_stable_json};
use crate::{Connection, Credentials};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An integration as the connect flow needs it: its provider and, for OAuth, its app.
pub(crate) struct FlowIntegration {
    pub key: String,
    pub provider_name: String,
    pub provider: crate::providers::Provider,
    pub app: Option<crate::store::OAuthApp>,
}

/// The integration `key` if the session allows it and it can be connected.
pub(crate) async fn integration(state: &AppState, session: &ConnectSession, key: &str) -> ApiResult<FlowIntegration> {
    if !session.data.allows(key) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "integration_not_allowed",
            format!("this connect session does not allow the integration `{key}`"),
        ));
    }
    let stored = state.store().integration(key).await?;
    let declared = crate::registered_integrations().contains(key);
    let (provider_name, app) = match stored {
        Some(integration) => {
            let app = integration.credentials.as_ref().and_then(|c| c.oauth_app()).cloned();
            (integration.provider, app)
        }
        None if declared => (key.to_owned(), None),
        None => return Err(ApiError::not_found("unknown_provider_config", format!("no integration `{key}`"))),
    };
    let provider = state.scheduler.runtime().providers().get(&provider_name).ok_or_else(|| {
        ApiError::bad_request(
            "unknown_provider",
            format!("integration `{key}` uses the provider `{provider_name}`, which the catalog does not have"),
        )
    })?;
    Ok(FlowIntegration { key: key.to_owned(), provider_name, provider, app })
}

/// The connection id the flow creates or re-authorizes: the reconnect session's, else the one
/// the frontend asked for (which must not exist yet: only a reconnect session re-authorizes a
/// connection), else a new random one.
pub(crate) async fn connection_id(
    state: &AppState,
    session: &ConnectSession,
    integration: &str,
    asked: Option<&str>,
) -> ApiResult<String> {
    if let Some(target) = &session.data.reconnect {
        if asked.is_some_and(|id| id != target.connection_id) {
            return Err(ApiError::bad_request(
                "invalid_connection_id",
                format!("this reconnect session re-authorizes `{}` only", target.connection_id),
            ));
        }
        return Ok(target.connection_id.clone());
    }
    match asked.filter(|id| !id.is_empty()) {
        Some(id) => {
            crate::check_connection_id(id)
                .map_err(|e| ApiError::bad_request("invalid_connection_id", e.to_string()))?;
            if state.store().connection_key(integration, id).await?.is_some() {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "connection_exists",
                    format!(
                        "connection `{id}` of `{integration}` exists; re-authorize it with a reconnect session (POST /connect/sessions/reconnect)"
                    ),
                ));
            }
            Ok(id.to_owned())
        }
        None => Ok(new_connection_id()),
    }
}

/// A random id shaped like a UUID (Nango's generated connection ids are UUIDs).
fn new_connection_id() -> String {
    let hex: String = random_token().bytes().take(32).map(|b| format!("{:x}", b % 16)).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The connection config the session sets for an integration (`integrations_config_defaults.
/// <key>.connection_config`, string values).
pub(crate) fn default_connection_config(session: &ConnectSession, integration: &str) -> BTreeMap<String, String> {
    session
        .data
        .integrations_config_defaults
        .get(integration)
        .and_then(|d| d.get("connection_config"))
        .and_then(Value::as_object)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Number(n) => Some((k.clone(), n.to_string())),
                    Value::Bool(b) => Some((k.clone(), b.to_string())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Stores the new credentials: a new connection, or the same connection with new credentials
/// (metadata, tags and history kept) for a reconnect. Gives what it was.
pub(crate) async fn save(
    state: &AppState,
    session: &ConnectSession,
    integration: &FlowIntegration,
    connection_id: &str,
    credentials: Credentials,
    mut connection_config: BTreeMap<String, String>,
) -> ApiResult<AuthOperation> {
    connection_config.extend(default_connection_config(session, &integration.key));
    let existing = match state.store().connection_key(&integration.key, connection_id).await? {
        Some(key) => state.store().connection_by_key(key).await.ok().flatten(),
        None => None,
    };
    let (operation, connection) = match existing {
        Some(stored) => {
            let mut connection = stored.connection;
            connection.credentials = credentials;
            connection.connection_config.extend(connection_config);
            connection.updated_at = chrono::Utc::now();
            (AuthOperation::Override, connection)
        }
        None => {
            let mut connection = Connection::new(&integration.key, connection_id, &integration.provider_name);
            connection.credentials = credentials;
            connection.connection_config = connection_config;
            let mut known = crate::registered_integrations();
            known.insert(integration.key.as_str());
            connection
                .check_new_among(&known, state.scheduler.runtime().providers(), Some(state.addr))
                .map_err(|e| ApiError::bad_request("invalid_connection", e.to_string()))?;
            (AuthOperation::Creation, connection)
        }
    };
    let key = state.store().save_connection(&connection).await?;
    // Authorized anew: no longer waiting for its user.
    state.store().set_auth_error(key, None).await?;
    let mut tags = session.data.tags.clone();
    if let Some(user) = &session.data.end_user {
        tags = crate::server::connections::with_end_user_tags(tags, &session.data.tags, user);
    }
    state.store().set_connection_profile(key, &tags, session.data.end_user.as_ref()).await?;
    state.scheduler.wake();
    send_auth_webhook(state, session, integration, connection_id, operation, None);
    Ok(operation)
}

/// Nango's `endUser` of an auth webhook.
fn end_user_json(session: &ConnectSession) -> Option<Value> {
    let user = session.data.end_user.as_ref()?;
    let mut out = json!({"endUserId": user.id});
    if let Some(email) = &user.email {
        out["endUserEmail"] = json!(email);
    }
    if let Some(org) = session.data.organization.as_ref().or(user.organization.as_ref()) {
        out["organizationId"] = json!(org.id);
    }
    Some(out)
}

/// The auth mode Nango names for a provider.
pub(crate) fn auth_mode_name(provider: &crate::providers::Provider) -> String {
    use crate::providers::AuthMode;
    match &provider.auth_mode {
        Some(AuthMode::OAuth2) => "OAUTH2".into(),
        Some(AuthMode::OAuth2ClientCredentials) => "OAUTH2_CC".into(),
        Some(AuthMode::ApiKey) => "API_KEY".into(),
        Some(AuthMode::Basic) => "BASIC".into(),
        Some(AuthMode::None) | None => "NONE".into(),
        Some(AuthMode::Other(name)) => name.clone(),
    }
}

/// Sends the auth webhook of a connect attempt in the background (a slow receiver must not
/// hold the popup); a failure is logged.
pub(crate) fn send_auth_webhook(
    state: &AppState,
    session: &ConnectSession,
    integration: &FlowIntegration,
    connection_id: &str,
    operation: AuthOperation,
    error: Option<SyncErrorInfo>,
) {
    let hook = AuthWebhook {
        from: "nango".into(),
        kind: "auth".into(),
        connection_id: connection_id.to_owned(),
        auth_mode: auth_mode_name(&integration.provider),
        provider_config_key: integration.key.clone(),
        provider: integration.provider_name.clone(),
        environment: "prod".into(),
        operation,
        success: error.is_none(),
        end_user: end_user_json(session),
        tags: (!session.data.tags.is_empty()).then(|| json!(session.data.tags)),
        error,
    };
    send(state, &hook);
}

/// Delivers an auth webhook in the background, when webhooks are configured.
pub(crate) fn send(state: &AppState, hook: &AuthWebhook) {
    let Some(sender) = state.webhooks.clone() else { return };
    deliver(sender, state.metrics.clone(), hook);
}

/// What the runtime calls when a provider refuses a token refresh: the auth webhook of a
/// failed `refresh`, so the developer's backend can ask the user to reconnect.
pub(crate) fn refresh_refused_hook(
    sender: std::sync::Arc<crate::webhooks::WebhookSender>,
    metrics: crate::server::Metrics,
) -> crate::engine::AuthRefusedHook {
    std::sync::Arc::new(move |connection: Connection, message: String| {
        let hook = AuthWebhook {
            from: "nango".into(),
            kind: "auth".into(),
            connection_id: connection.connection_id.clone(),
            auth_mode: "OAUTH2".into(),
            provider_config_key: connection.provider_config_key.clone(),
            provider: connection.provider.clone(),
            environment: "prod".into(),
            operation: AuthOperation::Refresh,
            success: false,
            end_user: None,
            tags: None,
            error: Some(SyncErrorInfo::new("refresh_token_refused", message)),
        };
        deliver(sender.clone(), metrics.clone(), &hook);
    })
}

fn deliver(
    sender: std::sync::Arc<crate::webhooks::WebhookSender>,
    metrics: crate::server::Metrics,
    hook: &AuthWebhook,
) {
    let body = to_stable_json(hook).unwrap_or_else(|_| b"{}".to_vec());
    let connection = hook.connection_id.clone();
    tokio::spawn(async move {
        let attempts = sender.deliver_body(&body).await;
        metrics.webhook_attempts(&attempts);
        if !attempts.iter().any(|a| a.succeeded()) {
            tracing::warn!(%connection, "the auth webhook was not delivered");
        }
    });
}
