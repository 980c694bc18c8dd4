//! The auth webhook: sent when an end user's connection is created or re-authorized, when that
//! fails, and when a token refresh fails (the connection then needs re-authorization).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::payload::SyncErrorInfo;

/// Nango's auth webhook body: `{from, type: "auth", connectionId, authMode, providerConfigKey,
/// provider, environment, operation, success, endUser?, tags?, error?}`.
///
/// ```
/// use nango_client::webhooks::{AuthOperation, AuthWebhook};
/// let hook: AuthWebhook = serde_json::from_str(r#"{"from": "nango", "type": "auth", "connectionId": "c1",
///     "authMode": "OAUTH2", "providerConfigKey": "github", "provider": "github", "environment": "prod",
///     "operation": "creation", "success": true, "endUser": {"endUserId": "u1"}}"#).unwrap();
/// assert_eq!(hook.operation, AuthOperation::Creation);
/// assert_eq!(hook.end_user.unwrap()["endUserId"], "u1");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthWebhook {
    /// Always `nango`.
    pub from: String,
    /// Always `auth`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The connection.
    pub connection_id: String,
    /// `OAUTH2`, `OAUTH2_CC`, `API_KEY`, `BASIC`...
    pub auth_mode: String,
    /// The integration.
    pub provider_config_key: String,
    /// The provider of the catalog.
    pub provider: String,
    /// Nango's environment name (`prod` here: there is one).
    pub environment: String,
    /// What happened.
    pub operation: AuthOperation,
    /// Whether it worked.
    pub success: bool,
    /// The end user of the connection (`{endUserId, endUserEmail?, organizationId?}`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<Value>,
    /// The connection's tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SyncErrorInfo>,
}

/// What an auth webhook is about.
///
/// ```
/// assert_eq!(serde_json::to_value(nango_client::webhooks::AuthOperation::Refresh).unwrap(), "refresh");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthOperation {
    /// A new connection.
    Creation,
    /// An existing connection authorized again (a reconnect).
    Override,
    /// A token refresh (only failures are announced).
    Refresh,
}
