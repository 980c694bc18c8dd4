//! Connect sessions and the OAuth authorizations in progress, as the store keeps them.
//!
//! The store never holds a session token or an OAuth `state`, only keyed digests of them (the
//! server makes them), so reading the database does not let anyone use a session. What a
//! session allows is kept as JSON ([`ConnectSessionData`]); whether it is still valid is the
//! server's decision, from `expires_at`.

use super::{EndUser, EndUserOrganization};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a connect session allows, as `POST /connect/sessions` set it.
///
/// ```
/// let data: nango_runtime::store::ConnectSessionData =
///     serde_json::from_str(r#"{"allowed_integrations": ["github"]}"#).unwrap();
/// assert!(data.allows("github") && !data.allows("slack"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectSessionData {
    /// The end user whose connection it makes.
    pub end_user: Option<EndUser>,
    /// Their organization.
    pub organization: Option<EndUserOrganization>,
    /// Tags the connection gets.
    pub tags: BTreeMap<String, String>,
    /// The integrations it may connect (all when `None`).
    pub allowed_integrations: Option<Vec<String>>,
    /// Per integration: `user_scopes`, `authorization_params`, `connection_config`.
    pub integrations_config_defaults: BTreeMap<String, Value>,
    /// For a reconnect session: the connection it re-authorizes (only that one).
    pub reconnect: Option<ReconnectTarget>,
}

impl ConnectSessionData {
    /// Whether the session may connect `integration`.
    pub fn allows(&self, integration: &str) -> bool {
        match &self.reconnect {
            Some(target) => target.integration == integration,
            None => self.allowed_integrations.as_ref().is_none_or(|list| list.iter().any(|i| i == integration)),
        }
    }
}

/// The connection a reconnect session re-authorizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconnectTarget {
    /// Its integration.
    pub integration: String,
    /// Its id.
    pub connection_id: String,
}

/// A connect session as the store keeps it.
///
/// ```
/// use nango_runtime::store::{ConnectSession, ConnectSessionData};
/// let now = chrono::Utc::now();
/// let session = ConnectSession { digest: vec![1; 32], data: ConnectSessionData::default(), created_at: now, expires_at: now };
/// assert!(!format!("{session:?}").contains("[1, 1"));
/// ```
#[derive(Clone, PartialEq)]
pub struct ConnectSession {
    /// The keyed digest of the token: what the session is found by.
    pub digest: Vec<u8>,
    /// What it allows.
    pub data: ConnectSessionData,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConnectSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSession")
            .field("data", &self.data)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An OAuth authorization in progress: sent to the provider, waiting for it to redirect back.
///
/// ```
/// use nango_runtime::store::OAuthFlow;
/// let now = chrono::Utc::now();
/// let flow = OAuthFlow {
///     state_digest: vec![2; 32], session_digest: vec![1; 32], integration: "github".into(),
///     connection_id: "c1".into(), ws_client_id: None, redirect_uri: "http://127.0.0.1:3003/oauth/callback".into(),
///     created_at: now, expires_at: now,
/// };
/// assert_eq!(flow.integration, "github");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthFlow {
    /// The keyed digest of the `state` sent to the provider.
    pub state_digest: Vec<u8>,
    /// The digest of the connect session that started it.
    pub session_digest: Vec<u8>,
    /// The integration being connected.
    pub integration: String,
    /// The connection id it will have.
    pub connection_id: String,
    /// The frontend SDK's WebSocket client waiting for the outcome.
    pub ws_client_id: Option<String>,
    /// The redirect URI sent to the provider (sent again with the code).
    pub redirect_uri: String,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When the provider's redirect is no longer accepted.
    pub expires_at: DateTime<Utc>,
}
