//! Keeping a connection's secrets out of logs and errors: which query parameters carry them,
//! every secret value the client has held, and URLs and messages with them taken out.

use super::error::HttpError;
use crate::{Credentials, Secret};
use reqwest::{Method, Url};
use std::sync::Mutex;

/// Secrets shorter than this are not scrubbed from messages: replacing every `a` of a message
/// because a test password is `a` would make errors unreadable and protect nothing.
const MIN_SCRUBBED_LEN: usize = 4;

/// Query parameter names that carry secrets in common APIs; their values are shown as `***` in
/// logs and errors even when the caller (not a provider template) added them, and left out of
/// saved exchanges.
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

/// The secrets of one connection's client, shared by its parts: the token state adds the ones a
/// refresh brings, the transport and the request layer name requests with them taken out.
///
/// Old values stay after a refresh: a provider may still echo a token it has just replaced.
#[derive(Debug)]
pub(crate) struct Secrets {
    /// Query parameters (lower case) whose provider template reads credentials.
    template_params: Vec<String>,
    /// Every secret value the client has held, longest first, so that a secret containing
    /// another is replaced whole.
    known: Mutex<Vec<String>>,
}

impl Secrets {
    /// The secrets of `credentials`, with `template_params` the query parameters (lower case)
    /// that the provider fills from credentials.
    pub(crate) fn new(template_params: Vec<String>, credentials: &Credentials) -> Secrets {
        let secrets = Secrets { template_params, known: Mutex::new(Vec::new()) };
        secrets.learn(credentials);
        secrets
    }

    /// Adds the secret values of `credentials` (new tokens after a refresh).
    pub(crate) fn learn(&self, credentials: &Credentials) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.extend(values_of(credentials));
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        known.dedup();
    }

    /// Whether a query parameter is shown as `***` and left out of saved exchanges: it came from
    /// a provider template that reads credentials, or its name is one that carries secrets in
    /// common APIs.
    pub(crate) fn is_secret_param(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.template_params.contains(&name) || SECRET_PARAM_NAMES.contains(&name.as_str())
    }

    /// `text` with every secret the client has held replaced by `***`, and whatever else looks
    /// like one (the shared [`nango_types::text::scrub`]).
    pub(crate) fn scrub(&self, text: &str) -> String {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        nango_types::text::scrub(text, &known)
    }

    /// `bytes` with every secret the client has held replaced by `***`, and nothing else
    /// changed: for what a proxy passes on from the provider (a body or header echoing the
    /// credentials the proxy put on the request).
    pub(crate) fn scrub_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = bytes.to_vec();
        for secret in known.iter().map(String::as_bytes) {
            if secret.is_empty() || !out.windows(secret.len()).any(|w| w == secret) {
                continue;
            }
            let mut replaced = Vec::with_capacity(out.len());
            let mut i = 0;
            while i < out.len() {
                if out[i..].starts_with(secret) {
                    replaced.extend_from_slice(b"***");
                    i += secret.len();
                } else {
                    replaced.push(out[i]);
                    i += 1;
                }
            }
            out = replaced;
        }
        out
    }

    /// `error` with [`scrub`](Self::scrub) applied to every text in it, so that no credential
    /// can reach a message, whichever way it got in.
    pub(crate) fn scrub_error(&self, error: HttpError) -> HttpError {
        error.map_text(|text| self.scrub(&text))
    }

    /// The URL as logs and errors show it: no user info, secret query values as `***`, and no
    /// credential anywhere (a token in a path is replaced too).
    pub(crate) fn url(&self, url: &Url) -> String {
        let mut url = url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        if url.query_pairs().any(|(k, _)| self.is_secret_param(&k)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if self.is_secret_param(&k) { "***".to_owned() } else { v.into_owned() };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        self.scrub(url.as_str())
    }

    /// `METHOD url` of a request, as logs and errors name it.
    pub(crate) fn describe(&self, method: &Method, url: &Url) -> String {
        format!("{method} {}", self.url(url))
    }
}

/// The secret values of credentials that are long enough to scrub.
fn values_of(credentials: &Credentials) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_longest_first() {
        let secrets = Secrets::new(Vec::new(), &Credentials::Bearer { token: Secret::new("abc") });
        assert_eq!(secrets.scrub("abc is too short to be scrubbed"), "abc is too short to be scrubbed");
        secrets.learn(&Credentials::Bearer { token: Secret::new("token-123") });
        secrets.learn(&Credentials::Bearer { token: Secret::new("token-1234") });
        assert_eq!(secrets.scrub("a token-1234 b token-123 c"), "a *** b *** c");
        assert!(values_of(&Credentials::Basic { username: "u".into(), password: Secret::new("pw") }).is_empty());
    }

    #[test]
    fn bytes_lose_known_secrets_and_nothing_else() {
        let secrets = Secrets::new(Vec::new(), &Credentials::Bearer { token: Secret::new("tok-123") });
        assert_eq!(secrets.scrub_bytes(b"Bearer tok-123, tok-123x; token=abc"), b"Bearer ***, ***x; token=abc");
        assert_eq!(secrets.scrub_bytes(&[0xff, b't', 0]), vec![0xff, b't', 0]);
    }

    #[test]
    fn urls_lose_user_info_secret_parameters_and_known_secrets() {
        let secrets = Secrets::new(vec!["auth".into()], &Credentials::ApiKey { api_key: Secret::new("k-42-x") });
        let url = Url::parse("https://u:p@api.x.io/bot/k-42-x/send?AUTH=1&Token=2&page=3").unwrap();
        assert_eq!(secrets.describe(&Method::GET, &url), "GET https://api.x.io/bot/***/send?AUTH=***&Token=***&page=3");
        assert!(secrets.is_secret_param("Api_Key") && !secrets.is_secret_param("page"));
        // The shared scrub also hides values whose names look like secrets in messages, though
        // saved exchanges keep them (a replay needs a `page_token` cursor).
        let url = Url::parse("https://api.x.io/items?page_token=c2&per_page=5").unwrap();
        assert_eq!(secrets.url(&url), "https://api.x.io/items?page_token=***&per_page=5");
        assert!(!secrets.is_secret_param("page_token"));
    }
}
