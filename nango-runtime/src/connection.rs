//! Connections: who a sync runs for, with which credentials.
//!
//! A connection is keyed by `(provider_config_key, connection_id)` as in Nango. Its credentials
//! are kept in [`Secret`]s so they never reach a log through `Debug`; the store encrypts them
//! (see [`crate::crypto`]).
//!
//! What may be stored is checked here, once, for every way a connection comes in (the CLI's
//! `connections add`, `POST /connection`, and any other route that creates connections):
//! [`Connection::check_new`], and [`check_connection_id`] for ids alone.

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

/// The longest connection id (Nango's limit).
pub const MAX_CONNECTION_ID_LEN: usize = 255;

/// Why a connection is refused: the field (as the API names it) and what is wrong with it, with
/// how to fix it. Quoted values are cut short, so a 100 KB id does not make a 100 KB message.
///
/// ```
/// let e = nango_runtime::check_connection_id("../../etc").unwrap_err();
/// assert_eq!(e.field, "connection_id");
/// assert!(e.to_string().starts_with("`connection_id`: `../../etc` has a `..` path segment"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {problem}")]
pub struct InvalidConnection {
    /// `connection_id`, `provider_config_key`, `provider` or `base_url`.
    pub field: &'static str,
    /// What is wrong, and how to fix it.
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> InvalidConnection {
    InvalidConnection { field, problem: problem.into() }
}

/// A value quoted in a message: at most 40 characters, control characters escaped.
fn quoted(value: &str) -> String {
    let mut out: String = value.chars().take(40).flat_map(char::escape_debug).collect();
    if value.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Checks a connection id as Nango does (1 to 255 characters among letters, digits, space and
/// `, . ; : = + ~ [ ] | @ $ { } " ' \ / _ -`), and also refuses `.` and `..` path segments:
/// ids name URL paths (`/connection/{id}`) and may name files, where `../../etc` means
/// something else (Nango accepts it; we differ on purpose).
///
/// ```
/// assert!(nango_runtime::check_connection_id("user@example.com").is_ok());
/// assert!(nango_runtime::check_connection_id("tab\there").is_err());
/// assert!(nango_runtime::check_connection_id(&"x".repeat(256)).is_err());
/// ```
pub fn check_connection_id(id: &str) -> Result<(), InvalidConnection> {
    const FIELD: &str = "connection_id";
    if id.is_empty() {
        return Err(invalid(FIELD, "must not be empty"));
    }
    let length = id.chars().count();
    if length > MAX_CONNECTION_ID_LEN {
        return Err(invalid(
            FIELD,
            format!("`{}` is {length} characters long; at most {MAX_CONNECTION_ID_LEN} are allowed", quoted(id)),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || ",.;:=+~[]|@${}\"'\\/_ -".contains(c);
    if let Some(c) = id.chars().find(|c| !allowed(*c)) {
        return Err(invalid(
            FIELD,
            format!(
                "`{}` holds {:?} (U+{:04X}); connection ids are made of letters, digits, spaces and , . ; : = + ~ [ ] | @ $ {{ }} \" ' \\ / _ -",
                quoted(id),
                c,
                c as u32
            ),
        ));
    }
    if id.split(['/', '\\']).any(|segment| segment == "." || segment == "..") {
        return Err(invalid(
            FIELD,
            format!(
                "`{}` has a `..` path segment (or `.`); connection ids may not, since they also name paths",
                quoted(id)
            ),
        ));
    }
    Ok(())
}

/// Checks a base URL: `http://` or `https://` with a host, and, when this process serves at
/// `serving_at`, not this service itself (a connection calling its own API would loop).
///
/// ```
/// use nango_runtime::check_base_url;
/// assert!(check_base_url("https://ghe.example.com/api/v3", None).is_ok());
/// assert!(check_base_url("file:///etc/passwd", None).is_err());
/// let own = "127.0.0.1:3003".parse().unwrap();
/// assert!(check_base_url("http://localhost:3003", Some(own)).is_err());
/// ```
#[cfg(feature = "runtime")]
pub fn check_base_url(url: &str, serving_at: Option<std::net::SocketAddr>) -> Result<(), InvalidConnection> {
    const FIELD: &str = "base_url";
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        invalid(FIELD, format!("`{}` is not a URL ({e}); give one like https://api.example.com", quoted(url)))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            FIELD,
            format!("`{}` is a {}: URL; only http:// and https:// URLs are called", quoted(url), parsed.scheme()),
        ));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(invalid(FIELD, format!("`{}` has no host", quoted(url))));
    };
    if let Some(own) = serving_at {
        let port = parsed.port_or_known_default();
        let local = match host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip.is_unspecified() || ip == own.ip(),
            Err(_) => host.eq_ignore_ascii_case("localhost"),
        };
        if local && port == Some(own.port()) {
            return Err(invalid(
                FIELD,
                format!("`{}` is this service itself; give the provider's address", quoted(url)),
            ));
        }
    }
    Ok(())
}

#[cfg(feature = "runtime")]
impl Connection {
    /// Checks a connection before it is stored: its id ([`check_connection_id`]), its
    /// integration (one this program has scripts for, see
    /// [`registered_integrations`](crate::registered_integrations)), its provider (in
    /// `providers`) and its base URL ([`check_base_url`]).
    ///
    /// ```
    /// use nango_runtime::{Connection, providers::ProviderCatalog};
    /// let c = Connection::new("not-declared-here", "acme", "github");
    /// let e = c.check_new(&ProviderCatalog::builtin(), None).unwrap_err();
    /// assert_eq!(e.field, "provider_config_key");
    /// ```
    pub fn check_new(
        &self,
        providers: &crate::providers::ProviderCatalog,
        serving_at: Option<std::net::SocketAddr>,
    ) -> Result<(), InvalidConnection> {
        self.check_new_among(&crate::registered_integrations(), providers, serving_at)
    }

    /// [`check_new`](Connection::check_new) with the integrations a connection may be made for
    /// given: those this program has scripts for and those stored in the store (created
    /// through `POST /integrations`).
    ///
    /// ```
    /// use nango_runtime::{Connection, providers::ProviderCatalog};
    /// let c = Connection::new("github-prod", "acme", "github");
    /// let known = std::collections::BTreeSet::from(["github-prod"]);
    /// assert!(c.check_new_among(&known, &ProviderCatalog::builtin(), None).is_ok());
    /// ```
    pub fn check_new_among(
        &self,
        integrations: &std::collections::BTreeSet<&str>,
        providers: &crate::providers::ProviderCatalog,
        serving_at: Option<std::net::SocketAddr>,
    ) -> Result<(), InvalidConnection> {
        check_connection_id(&self.connection_id)?;
        if !integrations.contains(self.provider_config_key.as_str()) {
            let known: Vec<&str> = integrations.iter().copied().collect();
            return Err(invalid(
                "provider_config_key",
                format!(
                    "`{}` is not an integration of this program; its integrations: {}",
                    quoted(&self.provider_config_key),
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ),
            ));
        }
        if providers.get(&self.provider).is_none() {
            let mut known: Vec<&str> = providers.keys().collect();
            known.sort_unstable();
            let more = known.len().saturating_sub(12);
            known.truncate(12);
            return Err(invalid(
                "provider",
                format!(
                    "`{}` is not in the provider catalog; known: {}{}",
                    quoted(&self.provider),
                    known.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                ),
            ));
        }
        if let Some(url) = &self.base_url {
            check_base_url(url, serving_at)?;
        }
        Ok(())
    }
}
