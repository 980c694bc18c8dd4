//! Bearer tokens and the OAuth refresh-token grant.

use std::collections::HashSet;

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};

use crate::issue::mix;

/// How long issued access tokens say they last (they only expire through
/// [`crate::MockServer::expire_token`]).
pub(crate) const EXPIRES_IN: u64 = 3600;

/// The OAuth app a server accepts refreshes from.
#[derive(Debug, Clone)]
pub(crate) struct OAuthApp {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) refresh_token: String,
}

/// Which tokens are valid.
#[derive(Debug)]
pub(crate) struct Auth {
    required: bool,
    access_tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    app: Option<OAuthApp>,
    issued: u64,
}

impl Auth {
    /// Auth is required when there is a token or an OAuth app.
    pub(crate) fn new(token: Option<String>, app: Option<OAuthApp>) -> Self {
        Auth {
            required: token.is_some() || app.is_some(),
            access_tokens: token.into_iter().collect(),
            refresh_tokens: app.iter().map(|app| app.refresh_token.clone()).collect(),
            app,
            issued: 0,
        }
    }

    /// Whether `headers` carry `Authorization: Bearer <valid token>` (or GitHub's `token <t>`),
    /// or no auth is required.
    pub(crate) fn check(&self, headers: &HeaderMap) -> bool {
        if !self.required {
            return true;
        }
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
            && self.access_tokens.contains(token.trim())
    }

    /// Invalidates every access token issued so far.
    pub(crate) fn expire(&mut self) {
        self.access_tokens.clear();
    }

    /// The refresh-token grant: `params` are the body's fields, `headers` may carry the client
    /// credentials as HTTP Basic auth. Gives the JSON to answer with.
    pub(crate) fn refresh(&mut self, params: &[(String, String)], headers: &HeaderMap) -> (StatusCode, Value) {
        let Some(app) = &self.app else {
            return (
                StatusCode::NOT_FOUND,
                json!({"message": "OAuth is not configured on this mock server", "documentation_url": crate::faults::DOCS}),
            );
        };
        let param = |key: &str| crate::query::get(params, key);
        if param("grant_type").is_some_and(|grant| grant != "refresh_token") {
            return (
                StatusCode::BAD_REQUEST,
                json!({"error": "unsupported_grant_type", "error_description": "Only grant_type=refresh_token is supported."}),
            );
        }
        let basic = basic_credentials(headers);
        let client_id = param("client_id").map(str::to_string).or_else(|| basic.as_ref().map(|(id, _)| id.clone()));
        let secret = param("client_secret").map(str::to_string).or_else(|| basic.map(|(_, secret)| secret));
        if client_id.as_deref() != Some(&app.client_id) || secret.as_deref() != Some(&app.client_secret) {
            return (
                StatusCode::UNAUTHORIZED,
                json!({
                    "error": "incorrect_client_credentials",
                    "error_description": "The client_id and/or client_secret passed are incorrect."
                }),
            );
        }
        if !param("refresh_token").is_some_and(|token| self.refresh_tokens.contains(token)) {
            return (
                StatusCode::BAD_REQUEST,
                json!({"error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired."}),
            );
        }
        self.issued += 1;
        let access_token = format!("ghu_mock{}_{:016x}", self.issued, mix(self.issued));
        let refresh_token = format!("ghr_mock{}_{:016x}", self.issued, mix(!self.issued));
        self.access_tokens.insert(access_token.clone());
        self.refresh_tokens.insert(refresh_token.clone());
        (
            StatusCode::OK,
            json!({
                "access_token": access_token,
                "expires_in": EXPIRES_IN,
                "refresh_token": refresh_token,
                "refresh_token_expires_in": 15_811_200,
                "token_type": "bearer",
                "scope": ""
            }),
        )
    }
}

/// The `(client_id, client_secret)` of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((crate::query::decode(id), crate::query::decode(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        headers
    }

    #[test]
    fn refresh_then_expire() {
        let app = OAuthApp { client_id: "id".into(), client_secret: "secret".into(), refresh_token: "r0".into() };
        let mut auth = Auth::new(Some("t0".into()), Some(app));
        assert!(auth.check(&bearer("t0")));
        assert!(!auth.check(&HeaderMap::new()));
        let params = |refresh: &str| {
            vec![
                ("grant_type".to_string(), "refresh_token".to_string()),
                ("refresh_token".to_string(), refresh.to_string()),
                ("client_id".to_string(), "id".to_string()),
                ("client_secret".to_string(), "secret".to_string()),
            ]
        };
        assert_eq!(auth.refresh(&params("nope"), &HeaderMap::new()).0, StatusCode::BAD_REQUEST);
        let (status, body) = auth.refresh(&params("r0"), &HeaderMap::new());
        assert_eq!(status, StatusCode::OK);
        let token = body["access_token"].as_str().unwrap();
        assert!(auth.check(&bearer(token)) && auth.check(&bearer("t0")));
        auth.expire();
        assert!(!auth.check(&bearer(token)) && !auth.check(&bearer("t0")));
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, "Basic aWQ6c2VjcmV0".parse().unwrap());
        let refresh = body["refresh_token"].as_str().unwrap();
        let only_token = vec![("refresh_token".to_string(), refresh.to_string())];
        assert_eq!(auth.refresh(&only_token, &basic).0, StatusCode::OK);
        assert_eq!(auth.refresh(&only_token, &HeaderMap::new()).0, StatusCode::UNAUTHORIZED);
    }
}
