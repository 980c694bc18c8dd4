//! Connections: who a sync runs for, with which credentials.
//!
//! A connection is keyed by `(provider_config_key, connection_id)` as in Nango. Its credentials
//! are kept in [`Secret`]s so they never reach a log through `Debug`; the store encrypts them
//! (see [`crate::crypto`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A secret string: `Debug` and `Display` print `***`, never the value.
///
/// ```
/// let token = nango_runtime::Secret::new("ghp_123");
/// assert_eq!(format!("{token:?}"), "***");
/// assert_eq!(token.expose(), "ghp_123");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How requests for a connection authenticate.
///
/// ```
/// use nango_runtime::{Credentials, Secret};
/// let c = Credentials::Bearer { token: Secret::new("t") };
/// assert_eq!(c.kind(), "bearer");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credentials {
    /// No credentials (public APIs, tests).
    #[default]
    None,
    /// An API key, sent as the provider's `proxy.headers` / `proxy.query` say (`${apiKey}`),
    /// else as `Authorization: Bearer <key>`.
    ApiKey {
        /// The key.
        api_key: Secret,
    },
    /// A bearer token (personal access tokens and the like).
    Bearer {
        /// The token.
        token: Secret,
    },
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// OAuth 2 tokens, refreshed through the provider's `token_url` when expired or on a 401.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// The access token.
        access_token: Secret,
        /// The refresh token, if the provider gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<Secret>,
        /// When the access token expires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
        /// The OAuth client id used to refresh.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The OAuth client secret used to refresh.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<Secret>,
    },
}

impl Credentials {
    /// A short name of the kind: `none`, `api_key`, `bearer`, `basic` or `oauth2`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::None => "none",
            Credentials::ApiKey { .. } => "api_key",
            Credentials::Bearer { .. } => "bearer",
            Credentials::Basic { .. } => "basic",
            Credentials::OAuth2 { .. } => "oauth2",
        }
    }

    /// Whether there is anything secret to store.
    pub fn is_secret(&self) -> bool {
        !matches!(self, Credentials::None)
    }
}

/// A connection: an integration (`provider_config_key`, the key in nango.yaml) used for one
/// end customer (`connection_id`).
///
/// ```
/// let c = nango_runtime::Connection::new("github", "acme", "github");
/// assert_eq!((c.provider_config_key.as_str(), c.connection_id.as_str()), ("github", "acme"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// The integration's key in nango.yaml.
    pub provider_config_key: String,
    /// The connection's id.
    pub connection_id: String,
    /// The provider in the catalog (`github`, ...); by default the integration's key.
    pub provider: String,
    /// How requests authenticate.
    pub credentials: Credentials,
    /// Values for `${connectionConfig.x}` templates of the provider (hostname, subdomain...).
    pub connection_config: BTreeMap<String, String>,
    /// The connection's metadata (the sync's `input` model), as JSON.
    pub metadata: serde_json::Value,
    /// Replaces the provider's `proxy.base_url` (GitHub Enterprise, tests).
    pub base_url: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Connection {
    /// A connection without credentials or metadata.
    pub fn new(
        provider_config_key: impl Into<String>,
        connection_id: impl Into<String>,
        provider: impl Into<String>,
    ) -> Self {
        let now = Utc::now();
        Connection {
            provider_config_key: provider_config_key.into(),
            connection_id: connection_id.into(),
            provider: provider.into(),
            credentials: Credentials::None,
            connection_config: BTreeMap::new(),
            metadata: serde_json::Value::Object(Default::default()),
            base_url: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Checks a connection id as Nango does: 1 to 255 characters, each a letter, a digit, a space
/// or one of ``,.;:=+~[]|@${}"'\/_-``. The error says what is wrong.
///
/// ```
/// use nango_runtime::validate_connection_id;
/// assert!(validate_connection_id("acme-42").is_ok());
/// assert!(validate_connection_id("user@example.com").is_ok());
/// assert!(validate_connection_id("").unwrap_err().contains("1 to 255"));
/// assert!(validate_connection_id("a?b").unwrap_err().contains("`?`"));
/// ```
pub fn validate_connection_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.chars().count() > 255 {
        return Err(format!("a connection id is 1 to 255 characters, not {}", id.chars().count()));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || ",.;:=+~[]|@${}\"'\\/_ -".contains(c);
    match id.chars().find(|c| !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "a connection id may hold letters, digits, spaces and `,.;:=+~[]|@${{}}\"'\\/_-`, not `{}`",
            c.escape_default()
        )),
    }
}
