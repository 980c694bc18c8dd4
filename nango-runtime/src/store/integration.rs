//! Integrations as the store keeps them: the provider an integration key uses, its display name,
//! and the OAuth app (client id, secret, scopes) connections of it authenticate with.
//!
//! The app's credentials are sealed like a connection's (bound to the integration key), so
//! reading the database does not give the client secret away.

use crate::Secret;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The credentials of an integration's app, in the shapes of Nango's integration API
/// (`credentials` of `POST /integrations`), tagged by `type`.
///
/// ```
/// use nango_runtime::store::IntegrationCredentials;
/// let c: IntegrationCredentials = serde_json::from_str(
///     r#"{"type": "OAUTH2", "client_id": "id", "client_secret": "s3cret", "scopes": "repo,user"}"#,
/// ).unwrap();
/// assert_eq!(c.kind(), "OAUTH2");
/// assert_eq!(format!("{c:?}").contains("s3cret"), false);
/// // Fields of another type are refused by name.
/// let e = serde_json::from_str::<IntegrationCredentials>(r#"{"type": "OAUTH2", "client_id": "i", "client_secret": "s", "app_id": "x"}"#);
/// assert!(e.unwrap_err().to_string().contains("unknown field `app_id`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum IntegrationCredentials {
    /// An OAuth 2 app.
    #[serde(rename = "OAUTH2")]
    OAuth2(OAuthApp),
    /// An OAuth 1 app.
    #[serde(rename = "OAUTH1")]
    OAuth1(OAuthApp),
    /// NetSuite token-based authentication.
    #[serde(rename = "TBA")]
    Tba(OAuthApp),
    /// A GitHub-style app (an app id and its private key).
    #[serde(rename = "APP")]
    App {
        /// The app's id.
        app_id: String,
        /// Where users install the app.
        app_link: String,
        /// The app's private key (PEM).
        private_key: Secret,
    },
    /// An app that is both: an OAuth client and an installable app.
    #[serde(rename = "CUSTOM")]
    Custom {
        /// The OAuth client id.
        client_id: String,
        /// The OAuth client secret.
        client_secret: Secret,
        /// The app's id.
        app_id: String,
        /// Where users install the app.
        app_link: String,
        /// The app's private key (PEM).
        private_key: Secret,
    },
}

/// The OAuth client of an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthApp {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// The scopes to ask for, as written (comma separated in Nango).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    /// The secret the provider signs its webhooks with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
}

impl IntegrationCredentials {
    /// Nango's auth mode of these credentials: `OAUTH2`, `OAUTH1`, `TBA`, `APP` or `CUSTOM`.
    pub fn kind(&self) -> &'static str {
        match self {
            IntegrationCredentials::OAuth2(_) => "OAUTH2",
            IntegrationCredentials::OAuth1(_) => "OAUTH1",
            IntegrationCredentials::Tba(_) => "TBA",
            IntegrationCredentials::App { .. } => "APP",
            IntegrationCredentials::Custom { .. } => "CUSTOM",
        }
    }

    /// The OAuth client, for the credential types that have one.
    pub fn oauth_app(&self) -> Option<&OAuthApp> {
        match self {
            IntegrationCredentials::OAuth2(app)
            | IntegrationCredentials::OAuth1(app)
            | IntegrationCredentials::Tba(app) => Some(app),
            _ => None,
        }
    }
}

/// An integration: what `POST /integrations` creates.
///
/// ```
/// let i = nango_runtime::store::Integration::new("github-prod", "github");
/// assert_eq!((i.unique_key.as_str(), i.provider.as_str(), i.forward_webhooks), ("github-prod", "github", true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// Its key: the `provider_config_key` of its connections (the key in nango.yaml).
    pub unique_key: String,
    /// The provider in the catalog.
    pub provider: String,
    /// Its own name, instead of the provider's.
    pub display_name: Option<String>,
    /// The app connections of it authenticate with.
    pub credentials: Option<IntegrationCredentials>,
    /// Whether provider webhooks are forwarded (kept for Nango's API; see the README).
    pub forward_webhooks: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Integration {
    /// An integration without credentials, created now.
    pub fn new(unique_key: impl Into<String>, provider: impl Into<String>) -> Integration {
        let now = Utc::now();
        Integration {
            unique_key: unique_key.into(),
            provider: provider.into(),
            display_name: None,
            credentials: None,
            forward_webhooks: true,
            created_at: now,
            updated_at: now,
        }
    }
}
