//! The provider catalog: how to reach and authenticate each API, in the format of Nango's
//! providers.yaml (a subset of its keys; unknown keys are accepted and ignored, so entries taken
//! from Nango's own file load too).
//!
//! A built-in catalog written for nango-rs ships with the crate (`providers.yaml` beside this
//! crate's `Cargo.toml`); user files add or replace entries. Templates such as
//! `https://${connectionConfig.subdomain}.zendesk.com` are filled by [`interpolate`].

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

mod template;

pub use template::{TemplateValues, interpolate};

const BUILTIN: &str = include_str!("../../providers.yaml");

/// How a provider authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum AuthMode {
    /// OAuth 2 authorization code (access + refresh token).
    OAuth2,
    /// OAuth 2 client credentials.
    OAuth2ClientCredentials,
    /// An API key placed by the provider's headers or query (`${apiKey}`).
    ApiKey,
    /// HTTP basic auth.
    Basic,
    /// No authentication.
    None,
    /// Any other Nango mode (`TWO_STEP`, `JWT`, ...), kept by name.
    Other(String),
}

impl From<String> for AuthMode {
    fn from(s: String) -> Self {
        match s.as_str() {
            "OAUTH2" => AuthMode::OAuth2,
            "OAUTH2_CC" => AuthMode::OAuth2ClientCredentials,
            "API_KEY" => AuthMode::ApiKey,
            "BASIC" => AuthMode::Basic,
            "NONE" => AuthMode::None,
            _ => AuthMode::Other(s),
        }
    }
}

/// A string or a list of strings in the YAML, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// When and how long to wait before retrying (`proxy.retry`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct RetryConfig {
    /// Headers holding the time the limit resets (epoch seconds or milliseconds).
    #[serde(default, deserialize_with = "one_or_many")]
    pub at: Vec<String>,
    /// Headers holding how long to wait (`Retry-After`: seconds or an HTTP date).
    #[serde(default, deserialize_with = "one_or_many")]
    pub after: Vec<String>,
    /// Header with the requests left; `0` means wait for the reset.
    pub remaining: Option<String>,
    /// Status codes to retry (`429`, `5xx`, ...).
    #[serde(default, deserialize_with = "one_or_many")]
    pub error_code: Vec<String>,
}

/// The provider's pagination (`proxy.paginate`): `type` plus the style's parameters
/// (`cursor_path_in_response`, `link_rel_in_response_header`, `offset_name_in_request`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct PaginationConfig {
    /// `cursor`, `link`, `offset` (or another style name).
    #[serde(rename = "type")]
    pub kind: String,
    /// The other keys, as written (numbers such as `offset_start_value: 0` as their text).
    #[serde(flatten, deserialize_with = "scalars_as_text")]
    pub params: BTreeMap<String, String>,
}

/// A map of strings, numbers and booleans, each as its text.
fn scalars_as_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Integer(i64),
        Number(f64),
        Flag(bool),
    }
    let map = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Scalar::Text(s) => s,
                Scalar::Integer(i) => i.to_string(),
                Scalar::Number(n) => n.to_string(),
                Scalar::Flag(b) => b.to_string(),
            };
            (k, text)
        })
        .collect())
}

/// How requests reach the API (`proxy`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ProxyConfig {
    /// Base URL (a template).
    pub base_url: Option<String>,
    /// Headers added to every request (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query parameters added to every request (templates).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Retry and rate-limit headers.
    pub retry: Option<RetryConfig>,
    /// Default pagination.
    pub paginate: Option<PaginationConfig>,
    /// A request that checks new credentials (API keys, basic auth) before they are stored.
    pub verification: Option<VerificationConfig>,
}

/// How new credentials are checked (`proxy.verification`): the first endpoint is called with
/// them, and anything but a 2xx refuses them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct VerificationConfig {
    /// `GET` by default.
    pub method: Option<String>,
    /// Paths under the base URL (the first is called).
    #[serde(default, deserialize_with = "one_or_many")]
    pub endpoints: Vec<String>,
    /// Another base URL for the check.
    pub base_url_override: Option<String>,
}

/// One provider.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Provider {
    /// Human name.
    pub display_name: Option<String>,
    /// Categories (`crm`, `ticketing`, ...).
    #[serde(default)]
    pub categories: Vec<String>,
    /// How it authenticates.
    pub auth_mode: Option<AuthMode>,
    /// Another entry this one inherits from (its own keys win).
    pub alias: Option<String>,
    /// OAuth authorization URL (a template).
    pub authorization_url: Option<String>,
    /// OAuth token URL (a template; Nango's per-mode map form is accepted, first value used).
    #[serde(default, deserialize_with = "token_url")]
    pub token_url: Option<String>,
    /// Extra query parameters of the authorization URL (OAuth 2).
    #[serde(default, deserialize_with = "string_map")]
    pub authorization_params: BTreeMap<String, String>,
    /// Extra fields of the token request (OAuth 2).
    #[serde(default, deserialize_with = "string_map")]
    pub token_params: BTreeMap<String, String>,
    /// What joins scopes in the authorization URL (a space by default).
    pub scope_separator: Option<String>,
    /// Scopes asked for when the integration names none.
    #[serde(default, deserialize_with = "one_or_many_opt")]
    pub default_scopes: Vec<String>,
    /// The provider does not take PKCE (the code challenge is left out).
    #[serde(default)]
    pub disable_pkce: bool,
    /// `json` to send the token request as JSON (a form by default).
    pub body_format: Option<String>,
    /// `basic` to send the client credentials as HTTP Basic auth (in the body by default).
    pub token_request_auth_method: Option<String>,
    /// The unit of `expires_in` in token answers (`seconds` by default, or `milliseconds`).
    pub expires_in_unit: Option<String>,
    /// Where the access token is in a token answer that does not have it at `access_token`
    /// (a dotted path).
    pub alternate_access_token_response_path: Option<String>,
    /// How requests reach the API.
    pub proxy: Option<ProxyConfig>,
    /// Documentation link.
    pub docs: Option<String>,
    /// What a connection must provide (`connectionConfig.x`), as written.
    #[serde(default)]
    pub connection_config: BTreeMap<String, serde_json::Value>,
    /// Credential fields (`credentials.x`), as written.
    #[serde(default)]
    pub credentials: BTreeMap<String, serde_json::Value>,
}

/// A string, or a list of strings, or nothing: a list.
fn one_or_many_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        Some(OneOrMany::One(s)) => s.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
        Some(OneOrMany::Many(v)) => v,
        None => Vec::new(),
    })
}

/// A map whose values may be strings, numbers or booleans in the YAML (Nango writes
/// `prompt: consent` and `access_type: offline` beside numbers), as strings.
fn string_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Null => None,
            other if other.is_number() || other.is_boolean() => Some((k, other.to_string())),
            // Nested forms (per-grant maps) are not used here.
            _ => None,
        })
        .collect())
}

fn token_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TokenUrl {
        One(String),
        PerMode(BTreeMap<String, String>),
    }
    Ok(match Option::<TokenUrl>::deserialize(d)? {
        Some(TokenUrl::One(s)) => Some(s),
        Some(TokenUrl::PerMode(m)) => m.into_values().next(),
        None => None,
    })
}

impl Provider {
    /// This entry with the keys it lacks taken from `parent` (Nango's `alias`).
    fn inherit(self, parent: &Provider) -> Provider {
        let proxy = match (self.proxy, &parent.proxy) {
            (Some(own), Some(p)) => Some(ProxyConfig {
                base_url: own.base_url.or_else(|| p.base_url.clone()),
                headers: p.headers.clone().into_iter().chain(own.headers).collect(),
                query: p.query.clone().into_iter().chain(own.query).collect(),
                retry: own.retry.or_else(|| p.retry.clone()),
                paginate: own.paginate.or_else(|| p.paginate.clone()),
                verification: own.verification.or_else(|| p.verification.clone()),
            }),
            (own, p) => own.or_else(|| p.clone()),
        };
        Provider {
            display_name: self.display_name.or_else(|| parent.display_name.clone()),
            categories: if self.categories.is_empty() { parent.categories.clone() } else { self.categories },
            auth_mode: self.auth_mode.or_else(|| parent.auth_mode.clone()),
            alias: None,
            authorization_url: self.authorization_url.or_else(|| parent.authorization_url.clone()),
            token_url: self.token_url.or_else(|| parent.token_url.clone()),
            authorization_params: parent
                .authorization_params
                .clone()
                .into_iter()
                .chain(self.authorization_params)
                .collect(),
            token_params: parent.token_params.clone().into_iter().chain(self.token_params).collect(),
            scope_separator: self.scope_separator.or_else(|| parent.scope_separator.clone()),
            default_scopes: if self.default_scopes.is_empty() {
                parent.default_scopes.clone()
            } else {
                self.default_scopes
            },
            disable_pkce: self.disable_pkce || parent.disable_pkce,
            body_format: self.body_format.or_else(|| parent.body_format.clone()),
            token_request_auth_method: self
                .token_request_auth_method
                .or_else(|| parent.token_request_auth_method.clone()),
            expires_in_unit: self.expires_in_unit.or_else(|| parent.expires_in_unit.clone()),
            alternate_access_token_response_path: self
                .alternate_access_token_response_path
                .or_else(|| parent.alternate_access_token_response_path.clone()),
            proxy,
            docs: self.docs.or_else(|| parent.docs.clone()),
            connection_config: parent.connection_config.clone().into_iter().chain(self.connection_config).collect(),
            credentials: parent.credentials.clone().into_iter().chain(self.credentials).collect(),
        }
    }
}

/// A problem with a providers file: `file:line:column: message`, or `file: message` when the
/// position is not known.
///
/// ```
/// use nango_runtime::providers::ProviderError;
/// let e = ProviderError { file: "providers.yaml".into(), position: Some((3, 7)), message: "unknown field".into() };
/// assert_eq!(e.to_string(), "providers.yaml:3:7: unknown field");
/// let e = ProviderError { position: None, ..e };
/// assert_eq!(e.to_string(), "providers.yaml: unknown field");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", at_position(.position))]
pub struct ProviderError {
    /// The file.
    pub file: String,
    /// 1-based line and column, when known.
    pub position: Option<(u64, u64)>,
    /// What is wrong (the cause's text: the first line of the YAML parser's message, the I/O
    /// error's).
    pub message: String,
}

/// `:line:column`, or nothing.
fn at_position(position: &Option<(u64, u64)>) -> String {
    position.map(|(line, column)| format!(":{line}:{column}")).unwrap_or_default()
}

/// Providers by key (Nango's provider name, e.g. `github`).
///
/// ```
/// let catalog = nango_runtime::providers::ProviderCatalog::builtin();
/// let github = catalog.get("github").unwrap();
/// assert_eq!(github.proxy.unwrap().base_url.as_deref(), Some("https://api.github.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProviderCatalog {
    entries: BTreeMap<String, Provider>,
}

impl ProviderCatalog {
    /// The catalog that ships with nango-runtime.
    pub fn builtin() -> Self {
        // The built-in file is tested; failing here is a bug in this crate, not user input.
        Self::from_yaml(BUILTIN, "nango-runtime/providers.yaml").expect("the built-in providers.yaml is valid")
    }

    /// Reads providers from YAML text (`file` is used in errors).
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, ProviderError> {
        let entries: BTreeMap<String, Provider> = serde_saphyr::from_str(text).map_err(|e| ProviderError {
            file: file.to_owned(),
            position: e.location().map(|l| (l.line(), l.column())),
            message: e.to_string().lines().next().unwrap_or("invalid providers file").to_owned(),
        })?;
        let catalog = ProviderCatalog { entries };
        for (key, provider) in &catalog.entries {
            if let Some(alias) = &provider.alias
                && !catalog.entries.contains_key(alias)
            {
                return Err(ProviderError {
                    file: file.to_owned(),
                    position: None,
                    message: format!("provider `{key}` is an alias of `{alias}`, which is not defined"),
                });
            }
        }
        Ok(catalog)
    }

    /// Adds the providers of a user file; its entries replace built-in ones of the same key.
    pub fn extend_from_file(&mut self, path: impl AsRef<Path>) -> Result<(), ProviderError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ProviderError {
            file: file.clone(),
            position: None,
            message: e.to_string(),
        })?;
        let other = Self::from_yaml(&text, &file)?;
        self.entries.extend(other.entries);
        Ok(())
    }

    /// A provider, with its alias resolved.
    pub fn get(&self, key: &str) -> Option<Provider> {
        let mut provider = self.entries.get(key)?.clone();
        let mut seen = vec![key.to_owned()];
        while let Some(alias) = provider.alias.clone() {
            if seen.contains(&alias) {
                break;
            }
            let parent = self.entries.get(&alias)?;
            seen.push(alias);
            let grandparent = parent.alias.clone();
            provider = provider.inherit(parent);
            provider.alias = grandparent;
        }
        Some(provider)
    }

    /// Every provider key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog() {
        let catalog = ProviderCatalog::builtin();
        assert!(catalog.keys().count() >= 12);
        let github = catalog.get("github").unwrap();
        assert_eq!(github.auth_mode, Some(AuthMode::OAuth2));
        let proxy = github.proxy.unwrap();
        let retry = proxy.retry.unwrap();
        assert_eq!(retry.at, ["x-ratelimit-reset"]);
        assert_eq!(retry.remaining.as_deref(), Some("x-ratelimit-remaining"));
        assert_eq!(retry.error_code, ["403", "5xx", "401", "429"]);
        let paginate = proxy.paginate.unwrap();
        assert_eq!(paginate.kind, "link");
        assert_eq!(paginate.params["link_rel_in_response_header"], "next");
        for key in catalog.keys().collect::<Vec<_>>() {
            let p = catalog.get(key).unwrap();
            assert!(p.auth_mode.is_some() && p.proxy.and_then(|p| p.base_url).is_some(), "{key}");
        }
    }

    #[test]
    fn alias_inherits_and_overrides() {
        let enterprise = ProviderCatalog::builtin().get("github-enterprise").unwrap();
        assert_eq!(enterprise.auth_mode, Some(AuthMode::ApiKey));
        let proxy = enterprise.proxy.unwrap();
        assert_eq!(proxy.base_url.as_deref(), Some("https://${connectionConfig.hostname}/api/v3"));
        assert_eq!(proxy.headers["authorization"], "Bearer ${apiKey}");
        assert!(enterprise.connection_config.contains_key("hostname"));
    }

    #[test]
    fn user_files_extend_and_report_positions() {
        let dir = std::env::temp_dir().join(format!("nango-providers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("providers.yaml");
        std::fs::write(&file, "github:\n  auth_mode: API_KEY\n  proxy:\n    base_url: http://127.0.0.1:9999\n  extra_nango_key: [kept, ignored]\n").unwrap();
        let mut catalog = ProviderCatalog::builtin();
        catalog.extend_from_file(&file).unwrap();
        let github = catalog.get("github").unwrap();
        assert_eq!(github.proxy.unwrap().base_url.as_deref(), Some("http://127.0.0.1:9999"));

        std::fs::write(&file, "github:\n  proxy:\n    headers: [not, a, map]\n").unwrap();
        let err = catalog.extend_from_file(&file).unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(3), "{err}");
        assert!(err.to_string().starts_with(&format!("{}:3:", file.display())), "{err}");

        std::fs::write(&file, "mine:\n  alias: nowhere\n").unwrap();
        let err = catalog.extend_from_file(&file).unwrap_err();
        assert!(err.message.contains("`nowhere`"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
