//! The connection's credentials: how they go on a request (the provider's templates, else a
//! default `Authorization` header), and the token state that keeps OAuth 2 tokens valid
//! ([`Auth`]).

use super::error::excerpt;
use super::secrets::Secrets;
use crate::providers::{TemplateValues, interpolate};
use crate::{BoxFuture, Credentials, Secret};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use nango_types::text::error_chain;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A token this close to its expiry is refreshed before use, so it cannot expire in flight.
const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// Called with the new credentials after an OAuth refresh.
pub(crate) type RefreshCallback = dyn Fn(Credentials) -> BoxFuture<crate::Result<()>> + Send + Sync;

/// Called with why, when the provider refused a token refresh (the refresh token was revoked or
/// expired): the connection needs its user to authorize again.
pub(crate) type RefusedCallback = dyn Fn(String) -> BoxFuture<()> + Send + Sync;

/// The credentials of one connection's client, and what keeps them valid: OAuth 2 tokens are
/// refreshed through the token URL when they are about to expire or after a 401, one refresh
/// at a time, and the new credentials are handed to the on-refresh callback and their secrets
/// to the scrubber.
pub(crate) struct Auth {
    current: Mutex<Current>,
    /// Held while refreshing: concurrent requests that find the tokens stale refresh once, not
    /// once each.
    refresh_lock: tokio::sync::Mutex<()>,
    on_refreshed: Mutex<Option<Arc<RefreshCallback>>>,
    on_refused: Mutex<Option<Arc<RefusedCallback>>>,
    /// Where tokens are refreshed: set for OAuth connections whose provider has a `token_url`.
    token_url: Option<Url>,
    /// What the token request goes with: the client's HTTP connection pool (redirects off), its
    /// `User-Agent` and per-request timeout.
    http: reqwest::Client,
    user_agent: String,
    timeout: Duration,
    secrets: Arc<Secrets>,
    refreshes: AtomicU64,
    /// For logs and errors.
    provider: String,
    connection_id: String,
}

/// The credentials of now, and how many times they were replaced: a request that got a 401
/// with generation `n` refreshes only if nobody has since.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub credentials: Credentials,
    pub generation: u64,
}

/// What an [`Auth`] is made of, besides the credentials.
pub(crate) struct AuthSetup {
    pub token_url: Option<Url>,
    pub http: reqwest::Client,
    pub user_agent: String,
    pub timeout: Duration,
    pub secrets: Arc<Secrets>,
    pub provider: String,
    pub connection_id: String,
}

impl Auth {
    pub(crate) fn new(credentials: Credentials, setup: AuthSetup) -> Auth {
        let AuthSetup { token_url, http, user_agent, timeout, secrets, provider, connection_id } = setup;
        Auth {
            current: Mutex::new(Current { credentials, generation: 0 }),
            refresh_lock: tokio::sync::Mutex::new(()),
            on_refreshed: Mutex::new(None),
            on_refused: Mutex::new(None),
            token_url,
            http,
            user_agent,
            timeout,
            secrets,
            refreshes: AtomicU64::new(0),
            provider,
            connection_id,
        }
    }

    /// The credentials of now, with their generation.
    pub(crate) fn current(&self) -> Current {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The credentials of now.
    pub(crate) fn credentials(&self) -> Credentials {
        self.current().credentials
    }

    /// Sets the function called with the new credentials after each refresh.
    pub(crate) fn on_refreshed(&self, callback: Arc<RefreshCallback>) {
        *self.on_refreshed.lock().unwrap_or_else(|e| e.into_inner()) = Some(callback);
    }

    /// Sets what is told when the provider refuses a refresh.
    pub(crate) fn on_refused(&self, callback: Arc<RefusedCallback>) {
        *self.on_refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(callback);
    }

    /// Tells the refusal callback, if any, and gives the message back.
    async fn refused(&self, message: String) -> String {
        let callback = self.on_refused.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(callback) = callback {
            callback(message.clone()).await;
        }
        message
    }

    /// Successful refreshes so far.
    pub(crate) fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Whether a 401 can be answered by refreshing.
    pub(crate) fn can_refresh(&self) -> bool {
        can_refresh(&self.current.lock().unwrap_or_else(|e| e.into_inner()).credentials)
    }

    /// Refreshes OAuth tokens that expire within [`EXPIRY_MARGIN`], before they are sent. The
    /// error is a message for [`HttpError::InvalidCredentials`](super::error::HttpError).
    pub(crate) async fn refresh_if_expiring(&self) -> Result<(), String> {
        let Current { credentials, generation } = self.current();
        if !needs_refresh(&credentials, Utc::now()) {
            return Ok(());
        }
        tracing::info!(
            provider = %self.provider, connection = %self.connection_id,
            "The OAuth access token expires within a minute; refreshing it"
        );
        self.refresh(generation).await
    }

    /// Refreshes the OAuth tokens, unless they changed since the caller saw generation `seen`
    /// (another request refreshed them meanwhile: one refresh serves all). The error is a
    /// message for [`HttpError::InvalidCredentials`](super::error::HttpError).
    pub(crate) async fn refresh(&self, seen: u64) -> Result<(), String> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let Current { credentials, generation } = self.current();
        if generation != seen {
            return Ok(());
        }
        let Credentials::OAuth2 { refresh_token: Some(refresh_token), client_id, client_secret, .. } = &credentials
        else {
            return Err("the connection has no refresh token".into());
        };
        let token_url = self
            .token_url
            .as_ref()
            .ok_or_else(|| format!("provider `{}` has no token_url to refresh the token at", self.provider))?;
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
        if let Some(id) = client_id {
            form.push(("client_id", id));
        }
        if let Some(secret) = client_secret {
            form.push(("client_secret", secret.expose()));
        }
        let request = format!("POST {}", self.secrets.url(token_url));
        let failed = |e: reqwest::Error| format!("the token refresh ({request}) failed: {}", error_chain(&e));
        let response = self
            .http
            .post(token_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            // GitHub answers in form encoding unless JSON is asked for.
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, &self.user_agent)
            .timeout(self.timeout)
            .body(form_encode(&form))
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.bytes().await.map_err(failed)?;
        if !status.is_success() {
            let message = format!("the token refresh ({request}) returned {status}: {}", excerpt(&body));
            // A 4xx is the provider's answer about this refresh token (revoked, expired); a 5xx
            // or a 429 may pass.
            if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(self.refused(message).await);
            }
            return Err(message);
        }
        let new = match parse_token_response(&body, &credentials) {
            Ok(new) => new,
            Err(e) => {
                let message = format!(
                    "the token refresh ({request}) {e} (content-type: {})",
                    content_type.as_deref().unwrap_or("none")
                );
                if e.starts_with("was refused") {
                    return Err(self.refused(message).await);
                }
                return Err(message);
            }
        };
        self.secrets.learn(&new);
        {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            current.credentials = new.clone();
            current.generation += 1;
        }
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(provider = %self.provider, "Refreshed the OAuth access token");
        let callback = self.on_refreshed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(callback) = callback
            && let Err(error) = callback(new).await
        {
            // The new tokens work for this run; failing it would not bring the old refresh token
            // back. The caller's store is what is broken, and this says so loudly.
            tracing::error!(provider = %self.provider, %error, "Could not save the refreshed OAuth credentials");
        }
        Ok(())
    }
}

/// Whether a provider template reads the connection's credentials.
pub(crate) fn mentions_credentials(template: &str) -> bool {
    ["${apiKey}", "${accessToken}", "${credentials."].iter().any(|m| template.contains(m))
}

/// Values for the provider's `${...}` templates. A bearer token also fills `${apiKey}`: personal
/// access tokens are API keys to providers such as `github-pat` (`Bearer ${apiKey}`).
pub(crate) fn template_values(
    credentials: &Credentials,
    connection_config: &BTreeMap<String, String>,
) -> TemplateValues {
    let mut values = TemplateValues { connection_config: connection_config.clone(), ..TemplateValues::default() };
    match credentials {
        Credentials::None => {}
        Credentials::ApiKey { api_key } => {
            values.api_key = Some(api_key.expose().to_owned());
            values.credentials.insert("apiKey".into(), api_key.expose().to_owned());
            values.credentials.insert("api_key".into(), api_key.expose().to_owned());
        }
        Credentials::Bearer { token } => {
            values.api_key = Some(token.expose().to_owned());
            values.access_token = Some(token.expose().to_owned());
            values.credentials.insert("token".into(), token.expose().to_owned());
        }
        Credentials::Basic { username, password } => {
            values.credentials.insert("username".into(), username.clone());
            values.credentials.insert("password".into(), password.expose().to_owned());
        }
        Credentials::OAuth2 { access_token, .. } => {
            values.access_token = Some(access_token.expose().to_owned());
            values.credentials.insert("access_token".into(), access_token.expose().to_owned());
        }
    }
    values
}

/// The `Authorization` header a connection sends when the provider's templates do not place its
/// credentials themselves.
pub(crate) fn default_authorization(credentials: &Credentials) -> Option<HeaderValue> {
    let value = match credentials {
        Credentials::None => return None,
        Credentials::ApiKey { api_key: token } | Credentials::Bearer { token } => format!("Bearer {}", token.expose()),
        Credentials::OAuth2 { access_token, .. } => format!("Bearer {}", access_token.expose()),
        Credentials::Basic { username, password } => {
            let pair = format!("{username}:{}", password.expose());
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        }
    };
    let mut value = HeaderValue::from_str(&value).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Whether OAuth credentials should be refreshed before use: they expire within
/// [`EXPIRY_MARGIN`] and there is a refresh token to do it with.
fn needs_refresh(credentials: &Credentials, now: DateTime<Utc>) -> bool {
    matches!(
        credentials,
        Credentials::OAuth2 { expires_at: Some(at), refresh_token: Some(_), .. } if *at <= now + EXPIRY_MARGIN
    )
}

/// Whether a 401 can be answered by refreshing.
fn can_refresh(credentials: &Credentials) -> bool {
    matches!(credentials, Credentials::OAuth2 { refresh_token: Some(_), .. })
}

/// The URL tokens are refreshed at: the provider's `token_url` (a template), where
///
/// * a relative `token_url` is resolved against the origin of the API base URL, and
/// * when the connection overrides the base URL, the token URL's path and query are moved to the
///   override's origin: `https://github.com/login/oauth/access_token` with the override
///   `http://127.0.0.1:4000` becomes `http://127.0.0.1:4000/login/oauth/access_token`. That lets a
///   loopback mock serve both the API and the token endpoint, and it is also right for
///   self-hosted providers (GitHub Enterprise serves `/login/oauth/access_token` on its own host).
pub(crate) fn resolve_token_url(
    template: Option<&str>,
    values: &TemplateValues,
    base_override: Option<&str>,
    base: Option<&str>,
) -> Result<Option<Url>, String> {
    let Some(template) = template else { return Ok(None) };
    let token_url = interpolate(template, values).map_err(|e| format!("token_url: {e}"))?;
    let origin = |base: &str| -> Result<Url, String> {
        let mut url = Url::parse(base).map_err(|e| format!("base URL `{base}`: {e}"))?;
        url.set_path("/");
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    };
    match Url::parse(&token_url) {
        Ok(absolute) => match base_override {
            Some(base) => {
                let mut url = origin(base)?;
                url.set_path(absolute.path());
                url.set_query(absolute.query());
                Ok(Some(url))
            }
            None => Ok(Some(absolute)),
        },
        Err(_) => {
            let base = base_override.or(base).ok_or_else(|| {
                format!("token_url `{token_url}` is relative and there is no base URL to resolve it against")
            })?;
            origin(base)?.join(&token_url).map(Some).map_err(|e| format!("token_url `{token_url}`: {e}"))
        }
    }
}

/// `application/x-www-form-urlencoded` encoding (reqwest's `form` feature is off to keep its
/// dependencies small, and a token request needs nothing more).
fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn encode(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(k, &mut out);
        out.push('=');
        encode(v, &mut out);
    }
    out
}

/// New credentials from a token endpoint's JSON answer `{access_token, refresh_token?,
/// expires_in?}` (an `error` field is a refusal). The refresh token and client are kept when the
/// answer has none. Errors never quote a 2xx body: it may hold a token.
fn parse_token_response(body: &[u8], old: &Credentials) -> Result<Credentials, String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "answered with a body that is not JSON".to_owned())?;
    let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(error) = field("error") {
        let description = field("error_description").map(|d| format!(": {d}")).unwrap_or_default();
        return Err(format!("was refused by the provider: {error}{description}"));
    }
    let access_token = field("access_token").ok_or_else(|| "answered without an access_token".to_owned())?;
    let expires_in = json.get("expires_in").and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()));
    let Credentials::OAuth2 { refresh_token, client_id, client_secret, .. } = old else {
        return Err("needs OAuth2 credentials".into());
    };
    Ok(Credentials::OAuth2 {
        access_token: Secret::new(access_token),
        refresh_token: field("refresh_token").map(Secret::new).or_else(|| refresh_token.clone()),
        // Checked: a provider's number may be anything; one no date can hold is no known expiry.
        expires_at: expires_in.and_then(chrono::Duration::try_seconds).and_then(|d| Utc::now().checked_add_signed(d)),
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_follows_the_base_url_override() {
        let values = TemplateValues::default();
        let github = Some("https://github.com/login/oauth/access_token");
        let resolved = resolve_token_url(github, &values, Some("http://127.0.0.1:4000/api"), None).unwrap().unwrap();
        assert_eq!(resolved.as_str(), "http://127.0.0.1:4000/login/oauth/access_token");
        let resolved = resolve_token_url(github, &values, None, Some("https://api.github.com")).unwrap().unwrap();
        assert_eq!(resolved.as_str(), "https://github.com/login/oauth/access_token");
        let resolved =
            resolve_token_url(Some("/oauth/token"), &values, None, Some("https://x.io/v1")).unwrap().unwrap();
        assert_eq!(resolved.as_str(), "https://x.io/oauth/token");
        assert!(resolve_token_url(Some("/oauth/token"), &values, None, None).unwrap_err().contains("relative"));
        assert_eq!(resolve_token_url(None, &values, None, None).unwrap(), None);
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode(&[("a b", "x&y=z/é"), ("k", "")]), "a+b=x%26y%3Dz%2F%C3%A9&k=");
    }

    #[test]
    fn token_responses() {
        let old = Credentials::OAuth2 {
            access_token: Secret::new("old"),
            refresh_token: Some(Secret::new("r1")),
            expires_at: None,
            client_id: Some("id".into()),
            client_secret: None,
        };
        let new = parse_token_response(br#"{"access_token":"new","expires_in":"3600"}"#, &old).unwrap();
        let Credentials::OAuth2 { access_token, refresh_token, expires_at, client_id, .. } = new else { panic!() };
        assert_eq!((access_token.expose(), refresh_token.unwrap().expose()), ("new", "r1"));
        assert!(expires_at.unwrap() > Utc::now() + chrono::Duration::seconds(3500));
        assert_eq!(client_id.as_deref(), Some("id"));
        let err = parse_token_response(br#"{"error":"bad_refresh_token","error_description":"expired"}"#, &old);
        assert_eq!(err.unwrap_err(), "was refused by the provider: bad_refresh_token: expired");
        assert!(parse_token_response(b"access_token=abc", &old).unwrap_err().contains("not JSON"));
        // An expiry no date can hold is no known expiry, not a panic.
        for absurd in [i64::MAX, i64::MIN, 9_000_000_000_000_000] {
            let body = format!(r#"{{"access_token":"new","expires_in":{absurd}}}"#);
            let Credentials::OAuth2 { expires_at, .. } = parse_token_response(body.as_bytes(), &old).unwrap() else {
                panic!()
            };
            assert_eq!(expires_at, None, "{absurd}");
        }
    }
}
