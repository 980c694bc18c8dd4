//! Bearer tokens and an OAuth 2.0 server: the authorization code grant (with PKCE), the
//! client credentials grant and the refresh-token grant.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

use crate::issue::mix;

/// How long issued access tokens say they last when no lifetime is set (they then only expire
/// through [`crate::MockServer::expire_token`]).
pub(crate) const EXPIRES_IN: u64 = 3600;

/// How long an authorization code can be exchanged (GitHub: 10 minutes; shorter here so tests
/// of expiry stay short, yet long enough for a loaded machine).
pub(crate) const DEFAULT_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// The OAuth app a server accepts.
#[derive(Debug, Clone)]
pub(crate) struct OAuthApp {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// A refresh token valid from the start (for connections made without the code flow).
    pub(crate) refresh_token: Option<String>,
    /// The only redirect URI accepted, when set (else any).
    pub(crate) redirect_uri: Option<String>,
}

/// What the token endpoint does, for tests of clients facing a broken provider
/// ([`crate::MockServer::set_token_endpoint`] or `PUT /_mock/token-endpoint`).
///
/// ```
/// use nango_mock_provider::TokenEndpoint;
/// assert_eq!(serde_json::from_str::<TokenEndpoint>(r#""html""#).unwrap(), TokenEndpoint::Html);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpoint {
    /// Answers as an OAuth server does.
    #[default]
    Normal,
    /// Answers `200` with an HTML page (a proxy's or a login page).
    Html,
    /// Never answers (the client's timeout must end the wait).
    Hang,
}

/// A code handed out by the authorize page, until it is exchanged or expires.
#[derive(Debug)]
struct PendingCode {
    redirect_uri: String,
    scope: String,
    /// `(challenge, method)` when the client used PKCE.
    challenge: Option<(String, String)>,
    issued: Instant,
}

/// Which tokens are valid, and the codes not exchanged yet.
#[derive(Debug)]
pub(crate) struct Auth {
    required: bool,
    /// Access tokens and when each stops working (`None`: only through [`Auth::expire`]).
    access_tokens: HashMap<String, Option<Instant>>,
    refresh_tokens: HashSet<String>,
    app: Option<OAuthApp>,
    codes: HashMap<String, PendingCode>,
    issued: u64,
    token_lifetime: Option<Duration>,
    code_lifetime: Duration,
    pub(crate) token_endpoint: TokenEndpoint,
}

/// An OAuth error answer: `{"error", "error_description"}`.
fn refusal(status: StatusCode, error: &str, description: &str) -> (StatusCode, Value) {
    (status, json!({"error": error, "error_description": description}))
}

/// What the authorize page decided, for the redirect back to the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authorization {
    /// Redirect to `redirect_uri` with these query parameters (`code` or `error`, and `state`).
    Redirect { redirect_uri: String, params: Vec<(String, String)> },
    /// Show this error on the provider's own page: the request cannot be trusted with a
    /// redirect (unknown client, redirect URI not registered).
    Page(String),
}

impl Auth {
    /// Auth is required when there is a token or an OAuth app.
    pub(crate) fn new(token: Option<String>, app: Option<OAuthApp>) -> Self {
        Auth {
            required: token.is_some() || app.is_some(),
            access_tokens: token.into_iter().map(|t| (t, None)).collect(),
            refresh_tokens: app.iter().filter_map(|app| app.refresh_token.clone()).collect(),
            app,
            codes: HashMap::new(),
            issued: 0,
            token_lifetime: None,
            code_lifetime: DEFAULT_CODE_LIFETIME,
            token_endpoint: TokenEndpoint::Normal,
        }
    }

    /// Access tokens issued from now on stop working after `lifetime` (and say so in
    /// `expires_in`); codes expire after `codes`.
    pub(crate) fn lifetimes(&mut self, tokens: Option<Duration>, codes: Duration) {
        self.token_lifetime = tokens;
        self.code_lifetime = codes;
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
            && self.access_tokens.get(token.trim()).is_some_and(|expiry| expiry.is_none_or(|at| Instant::now() < at))
    }

    /// Invalidates every access token issued so far.
    pub(crate) fn expire(&mut self) {
        self.access_tokens.clear();
    }

    /// Invalidates every refresh token issued so far (the user revoked the app): refreshes fail
    /// until the user authorizes again.
    pub(crate) fn revoke_refresh_tokens(&mut self) {
        self.refresh_tokens.clear();
    }

    /// The app, or the answer for a server without one.
    fn app(&self) -> Result<&OAuthApp, (StatusCode, Value)> {
        self.app.as_ref().ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                json!({"message": "OAuth is not configured on this mock server", "documentation_url": crate::faults::DOCS}),
            )
        })
    }

    /// The authorize page's question, checked: the app's name when the request may be shown
    /// to the user, else why not.
    pub(crate) fn check_authorize(&self, params: &[(String, String)]) -> Result<String, String> {
        let param = |key: &str| crate::query::get(params, key);
        let Some(app) = &self.app else { return Err("OAuth is not configured on this mock server.".into()) };
        if param("client_id") != Some(app.client_id.as_str()) {
            return Err(format!("No OAuth app has the client_id `{}`.", param("client_id").unwrap_or("")));
        }
        let Some(redirect_uri) = param("redirect_uri") else {
            return Err("The request has no redirect_uri.".into());
        };
        if app.redirect_uri.as_deref().is_some_and(|registered| registered != redirect_uri) {
            return Err(format!("The redirect_uri `{redirect_uri}` is not the one registered for this app."));
        }
        Ok(app.client_id.clone())
    }

    /// The user approved (or denied) the request `params` on the authorize page.
    pub(crate) fn decide(&mut self, params: &[(String, String)], approve: bool) -> Authorization {
        if let Err(message) = self.check_authorize(params) {
            return Authorization::Page(message);
        }
        let param = |key: &str| crate::query::get(params, key).map(str::to_owned);
        let redirect_uri = param("redirect_uri").unwrap_or_default();
        let mut back = Vec::new();
        let challenge = param("code_challenge");
        let method = param("code_challenge_method").unwrap_or_else(|| "plain".into());
        if param("response_type").is_some_and(|kind| kind != "code") {
            back.push(("error".into(), "unsupported_response_type".into()));
            back.push(("error_description".into(), "Only response_type=code is supported.".into()));
        } else if challenge.is_some() && method != "S256" && method != "plain" {
            back.push(("error".into(), "invalid_request".into()));
            back.push(("error_description".into(), format!("Unknown code_challenge_method `{method}`.")));
        } else if !approve {
            back.push(("error".into(), "access_denied".into()));
            back.push(("error_description".into(), "The user has denied your application access.".into()));
        } else {
            self.issued += 1;
            let code = format!("mockcode{:016x}{:016x}", mix(self.issued ^ now_nanos()), mix(!self.issued));
            self.codes.insert(
                code.clone(),
                PendingCode {
                    redirect_uri: redirect_uri.clone(),
                    scope: param("scope").unwrap_or_default(),
                    challenge: challenge.map(|c| (c, method)),
                    issued: Instant::now(),
                },
            );
            back.push(("code".into(), code));
        }
        if let Some(state) = param("state") {
            back.push(("state".into(), state));
        }
        Authorization::Redirect { redirect_uri, params: back }
    }

    /// `POST /login/oauth/access_token`: `params` are the body's fields, `headers` may carry the
    /// client credentials as HTTP Basic auth. Gives the JSON to answer with.
    pub(crate) fn token(&mut self, params: &[(String, String)], headers: &HeaderMap) -> (StatusCode, Value) {
        let app = match self.app() {
            Ok(app) => app.clone(),
            Err(answer) => return answer,
        };
        let param = |key: &str| crate::query::get(params, key);
        let basic = basic_credentials(headers);
        let client_id = param("client_id").map(str::to_string).or_else(|| basic.as_ref().map(|(id, _)| id.clone()));
        let secret = param("client_secret").map(str::to_string).or_else(|| basic.map(|(_, secret)| secret));
        if client_id.as_deref() != Some(&app.client_id) || secret.as_deref() != Some(&app.client_secret) {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            );
        }
        match param("grant_type").unwrap_or("refresh_token") {
            "refresh_token" => {
                if !param("refresh_token").is_some_and(|token| self.refresh_tokens.contains(token)) {
                    return refusal(
                        StatusCode::BAD_REQUEST,
                        "bad_refresh_token",
                        "The refresh token passed is incorrect or expired.",
                    );
                }
                self.grant("", true)
            }
            "authorization_code" => {
                // Taken out whatever follows: a code is good for one attempt only.
                let Some(pending) = param("code").and_then(|code| self.codes.remove(code)) else {
                    return refusal(
                        StatusCode::BAD_REQUEST,
                        "bad_verification_code",
                        "The code passed is incorrect, was already used, or expired.",
                    );
                };
                if pending.issued.elapsed() > self.code_lifetime {
                    return refusal(StatusCode::BAD_REQUEST, "bad_verification_code", "The code passed has expired.");
                }
                if param("redirect_uri").is_some_and(|uri| uri != pending.redirect_uri) {
                    return refusal(
                        StatusCode::BAD_REQUEST,
                        "redirect_uri_mismatch",
                        "The redirect_uri must match the one the code was issued for.",
                    );
                }
                if let Some((challenge, method)) = &pending.challenge {
                    let Some(verifier) = param("code_verifier") else {
                        return refusal(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The code_verifier is missing (PKCE).",
                        );
                    };
                    let computed = if method == "S256" {
                        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
                    } else {
                        verifier.to_owned()
                    };
                    if &computed != challenge {
                        return refusal(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "The code_verifier does not match the code_challenge (PKCE).",
                        );
                    }
                }
                self.grant(&pending.scope, true)
            }
            "client_credentials" => self.grant(param("scope").unwrap_or(""), false),
            other => refusal(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type `{other}` is not supported (authorization_code, refresh_token, client_credentials)."
                ),
            ),
        }
    }

    /// Issues a new access token (and refresh token) with `scope`.
    fn grant(&mut self, scope: &str, with_refresh: bool) -> (StatusCode, Value) {
        self.issued += 1;
        let access_token = format!("ghu_mock{}_{:016x}", self.issued, mix(self.issued ^ now_nanos()));
        let expiry = self.token_lifetime.map(|lifetime| Instant::now() + lifetime);
        self.access_tokens.insert(access_token.clone(), expiry);
        let expires_in = self.token_lifetime.map_or(EXPIRES_IN, |lifetime| lifetime.as_secs().max(1));
        let mut answer = json!({
            "access_token": access_token,
            "expires_in": expires_in,
            "token_type": "bearer",
            "scope": scope,
        });
        if with_refresh {
            let refresh_token = format!("ghr_mock{}_{:016x}", self.issued, mix(!self.issued ^ now_nanos()));
            self.refresh_tokens.insert(refresh_token.clone());
            answer["refresh_token"] = json!(refresh_token);
            answer["refresh_token_expires_in"] = json!(15_811_200);
        }
        (StatusCode::OK, answer)
    }
}

/// Nanoseconds of the wall clock, to make codes and tokens differ between runs.
fn now_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
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

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn app() -> OAuthApp {
        OAuthApp {
            client_id: "id".into(),
            client_secret: "secret".into(),
            refresh_token: Some("r0".into()),
            redirect_uri: Some("http://app/cb".into()),
        }
    }

    #[test]
    fn refresh_then_expire() {
        let mut auth = Auth::new(Some("t0".into()), Some(app()));
        assert!(auth.check(&bearer("t0")));
        assert!(!auth.check(&HeaderMap::new()));
        let params = |refresh: &str| {
            pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", "id"),
                ("client_secret", "secret"),
            ])
        };
        assert_eq!(auth.token(&params("nope"), &HeaderMap::new()).0, StatusCode::BAD_REQUEST);
        let (status, body) = auth.token(&params("r0"), &HeaderMap::new());
        assert_eq!(status, StatusCode::OK);
        let token = body["access_token"].as_str().unwrap();
        assert!(auth.check(&bearer(token)) && auth.check(&bearer("t0")));
        auth.expire();
        assert!(!auth.check(&bearer(token)) && !auth.check(&bearer("t0")));
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, "Basic aWQ6c2VjcmV0".parse().unwrap());
        let refresh = body["refresh_token"].as_str().unwrap();
        let only_token = pairs(&[("refresh_token", refresh)]);
        assert_eq!(auth.token(&only_token, &basic).0, StatusCode::OK);
        assert_eq!(auth.token(&only_token, &HeaderMap::new()).0, StatusCode::UNAUTHORIZED);
        auth.revoke_refresh_tokens();
        assert_eq!(auth.token(&only_token, &basic).1["error"], "bad_refresh_token");
    }

    #[test]
    fn code_flow_with_pkce() {
        let mut auth = Auth::new(None, Some(app()));
        let verifier = "a-verifier-of-forty-three-characters-at-least-0123";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
        let request = pairs(&[
            ("client_id", "id"),
            ("redirect_uri", "http://app/cb"),
            ("state", "s1"),
            ("scope", "repo"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let Authorization::Redirect { redirect_uri, params } = auth.decide(&request, true) else { panic!() };
        assert_eq!(redirect_uri, "http://app/cb");
        let code = crate::query::get(&params, "code").unwrap().to_owned();
        assert_eq!(crate::query::get(&params, "state"), Some("s1"));
        let exchange = |verifier: &str| {
            pairs(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", "id"),
                ("client_secret", "secret"),
                ("redirect_uri", "http://app/cb"),
                ("code_verifier", verifier),
            ])
        };
        // A wrong verifier uses the code up.
        assert_eq!(auth.token(&exchange("wrong"), &HeaderMap::new()).1["error"], "invalid_grant");
        assert_eq!(auth.token(&exchange(verifier), &HeaderMap::new()).1["error"], "bad_verification_code");

        let Authorization::Redirect { params, .. } = auth.decide(&request, true) else { panic!() };
        let code = crate::query::get(&params, "code").unwrap().to_owned();
        let exchange = pairs(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "id"),
            ("client_secret", "secret"),
            ("code_verifier", verifier),
        ]);
        let (status, body) = auth.token(&exchange, &HeaderMap::new());
        assert_eq!((status, body["scope"].as_str()), (StatusCode::OK, Some("repo")));
        assert!(auth.check(&bearer(body["access_token"].as_str().unwrap())));
        assert_eq!(auth.token(&exchange, &HeaderMap::new()).1["error"], "bad_verification_code", "single use");

        let Authorization::Redirect { params, .. } = auth.decide(&request, false) else { panic!() };
        assert_eq!(crate::query::get(&params, "error"), Some("access_denied"));
        assert_eq!(crate::query::get(&params, "code"), None);
        let elsewhere = pairs(&[("client_id", "id"), ("redirect_uri", "http://evil/cb")]);
        assert!(
            matches!(auth.decide(&elsewhere, true), Authorization::Page(m) if m.contains("not the one registered"))
        );
    }

    #[test]
    fn codes_and_tokens_expire() {
        let mut auth = Auth::new(None, Some(app()));
        auth.lifetimes(Some(Duration::from_millis(1)), Duration::ZERO);
        let request = pairs(&[("client_id", "id"), ("redirect_uri", "http://app/cb")]);
        let Authorization::Redirect { params, .. } = auth.decide(&request, true) else { panic!() };
        let code = crate::query::get(&params, "code").unwrap().to_owned();
        std::thread::sleep(Duration::from_millis(2));
        let exchange = pairs(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "id"),
            ("client_secret", "secret"),
        ]);
        assert_eq!(auth.token(&exchange, &HeaderMap::new()).1["error_description"], "The code passed has expired.");
        let cc = pairs(&[("grant_type", "client_credentials"), ("client_id", "id"), ("client_secret", "secret")]);
        let (status, body) = auth.token(&cc, &HeaderMap::new());
        assert_eq!(status, StatusCode::OK);
        assert!(body.get("refresh_token").is_none());
        std::thread::sleep(Duration::from_millis(2));
        assert!(!auth.check(&bearer(body["access_token"].as_str().unwrap())), "expired");
        let wrong = pairs(&[("grant_type", "client_credentials"), ("client_id", "id"), ("client_secret", "nope")]);
        assert_eq!(auth.token(&wrong, &HeaderMap::new()).0, StatusCode::UNAUTHORIZED);
    }
}
