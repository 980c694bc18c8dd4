//! Credentials on requests: template values, default auth headers, OAuth 2 refresh, and keeping
//! secrets out of logs and errors.

use super::client::Inner;
use super::error::excerpt;
use crate::providers::{TemplateValues, interpolate};
use crate::{Credentials, Secret};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// A token this close to its expiry is refreshed before use, so it cannot expire in flight.
pub(crate) const EXPIRY_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// Secrets shorter than this are not scrubbed from messages: replacing every `a` of a message
/// because a test password is `a` would make errors unreadable and protect nothing.
const MIN_SCRUBBED_LEN: usize = 4;

/// Query parameter names that carry secrets in common APIs; their values are shown as `***` in
/// logs and errors even when the caller (not a provider template) added them.
const SECRET_PARAM_NAMES: [&str; 14] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "api_key",
    "apikey",
    "api-key",
    "key",
    "token",
    "private_token",
    "password",
    "secret",
    "signature",
    "sig",
];

/// The credentials a client holds, and how many times they were replaced (so that concurrent
/// 401s refresh once, not once each).
#[derive(Debug)]
pub(crate) struct AuthState {
    pub credentials: Credentials,
    pub generation: u64,
    /// Every secret value the client has held, old tokens included, for scrubbing messages.
    pub secrets: Vec<String>,
}

impl AuthState {
    pub(crate) fn new(credentials: Credentials) -> AuthState {
        let mut secrets = secrets_of(&credentials);
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        AuthState { credentials, generation: 0, secrets }
    }
}

/// The secret values of credentials.
fn secrets_of(credentials: &Credentials) -> Vec<String> {
    let secrets: Vec<&Secret> = match credentials {
        Credentials::None => vec![],
        Credentials::ApiKey { api_key } => vec![api_key],
        Credentials::Bearer { token } => vec![token],
        Credentials::Basic { password, .. } => vec![password],
        Credentials::OAuth2 { access_token, refresh_token, client_secret, .. } => {
            [Some(access_token), refresh_token.as_ref(), client_secret.as_ref()].into_iter().flatten().collect()
        }
    };
    secrets.into_iter().map(|s| s.expose().to_owned()).filter(|s| s.len() >= MIN_SCRUBBED_LEN).collect()
}

/// Replaces every secret in `text` by `***`.
pub(crate) fn scrub(text: String, secrets: &[String]) -> String {
    secrets.iter().fold(
        text,
        |text, secret| if text.contains(secret.as_str()) { text.replace(secret.as_str(), "***") } else { text },
    )
}

/// Whether a provider template reads the connection's credentials.
pub(crate) fn mentions_credentials(template: &str) -> bool {
    ["${apiKey}", "${accessToken}", "${credentials."].iter().any(|m| template.contains(m))
}

/// Whether a query parameter is shown as `***`: it came from a provider template that reads
/// credentials, or its name is one that carries secrets in common APIs.
pub(crate) fn is_secret_param(name: &str, template_params: &[String]) -> bool {
    let name = name.to_ascii_lowercase();
    template_params.contains(&name) || SECRET_PARAM_NAMES.contains(&name.as_str())
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
pub(crate) fn needs_refresh(credentials: &Credentials, now: DateTime<Utc>) -> bool {
    matches!(
        credentials,
        Credentials::OAuth2 { expires_at: Some(at), refresh_token: Some(_), .. } if *at <= now + EXPIRY_MARGIN
    )
}

/// Whether a 401 can be answered by refreshing.
pub(crate) fn can_refresh(credentials: &Credentials) -> bool {
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
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
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

impl Inner {
    /// Refreshes the OAuth tokens, unless they changed since the caller saw generation `seen`
    /// (another request refreshed them meanwhile: one refresh serves all). Refreshes are
    /// serialized by `refresh_lock`. The error is a message for
    /// [`HttpError::InvalidCredentials`](super::HttpError).
    pub(crate) async fn refresh(&self, seen: u64) -> Result<(), String> {
        let _one_at_a_time = self.refresh_lock.lock().await;
        let credentials = {
            let state = self.auth.lock().unwrap_or_else(|e| e.into_inner());
            if state.generation != seen {
                return Ok(());
            }
            state.credentials.clone()
        };
        let Credentials::OAuth2 { refresh_token: Some(refresh_token), client_id, client_secret, .. } = &credentials
        else {
            return Err("the connection has no refresh token".into());
        };
        let token_url = self
            .token_url
            .as_ref()
            .ok_or_else(|| format!("provider `{}` has no token_url to refresh the token at", self.provider_key))?;
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
        if let Some(id) = client_id {
            form.push(("client_id", id));
        }
        if let Some(secret) = client_secret {
            form.push(("client_secret", secret.expose()));
        }
        let request = format!("POST {}", self.redact_url(token_url));
        let response = self
            .http
            .post(token_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            // GitHub answers in form encoding unless JSON is asked for.
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, &self.options.user_agent)
            .timeout(self.options.timeout)
            .body(form_encode(&form))
            .send()
            .await
            .map_err(|e| format!("the token refresh ({request}) failed: {}", nango_types::text::error_chain(&e)))?;
        let status = response.status();
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("the token refresh ({request}) failed: {}", nango_types::text::error_chain(&e)))?;
        if !status.is_success() {
            return Err(format!("the token refresh ({request}) returned {status}: {}", excerpt(&body)));
        }
        let new = parse_token_response(&body, &credentials).map_err(|e| {
            format!("the token refresh ({request}) {e} (content-type: {})", content_type.as_deref().unwrap_or("none"))
        })?;
        {
            let mut state = self.auth.lock().unwrap_or_else(|e| e.into_inner());
            state.secrets.extend(secrets_of(&new));
            state.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            state.secrets.dedup();
            state.credentials = new.clone();
            state.generation += 1;
        }
        self.stats.refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(provider = %self.provider_key, "Refreshed the OAuth access token");
        let callback = self.on_refreshed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(callback) = callback
            && let Err(error) = callback(new).await
        {
            // The new tokens work for this run; failing it would not bring the old refresh token
            // back. The caller's store is what is broken, and this says so loudly.
            tracing::error!(provider = %self.provider_key, %error, "Could not save the refreshed OAuth credentials");
        }
        Ok(())
    }
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
        expires_at: expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s)),
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
    }

    #[test]
    fn secrets_are_scrubbed_longest_first() {
        let secrets = vec!["token-123".to_owned(), "abc".to_owned()];
        assert_eq!(scrub("a token-123 b".into(), &secrets), "a *** b");
        assert!(secrets_of(&Credentials::Basic { username: "u".into(), password: Secret::new("pw") }).is_empty());
    }
}
