//! [`WebhookVerifier`]: a receiver's signing key and rules, applied to a request's headers and
//! body.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;

use super::signature::{HMAC_HEADER, TIMESTAMPED_HEADER, WebhookError, verify_hmac, verify_timestamped};

/// What a receiver verifies webhooks with: the signing key, how old a signed timestamp may be,
/// whether one is required, and the largest body accepted.
///
/// [`WebhookVerifier::verify`] checks a request's headers and body from any HTTP stack (a
/// queue, a serverless function's event). With the `axum` feature, the `VerifiedWebhook`
/// extractor finds the verifier in the router's state through axum's `FromRef`: use it as the
/// state (`.with_state(WebhookVerifier::new(key))`), or implement `FromRef<AppState>` for it.
///
/// ```
/// use nango_client::webhooks::{sign, WebhookVerifier};
/// use nango_client::http::HeaderMap;
///
/// let verifier = WebhookVerifier::new("key").require_timestamp(true);
/// let body = br#"{"from":"nango"}"#;
/// let mut headers = HeaderMap::new();
/// for (name, value) in sign("key", body, chrono::Utc::now()).pairs() {
///     headers.insert(name, value.parse().unwrap());
/// }
/// verifier.verify(&headers, body, chrono::Utc::now()).unwrap();
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    key: Arc<[u8]>,
    tolerance: Duration,
    require_timestamp: bool,
    pub(super) body_limit: usize,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("key", &"***")
            .field("tolerance", &self.tolerance)
            .field("require_timestamp", &self.require_timestamp)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

impl WebhookVerifier {
    /// A verifier with the signing key: 5-minute tolerance, timestamped header checked when
    /// present but not required (Nango itself does not send it), bodies up to 1 MiB.
    ///
    /// ```
    /// let v = nango_client::webhooks::WebhookVerifier::new("key");
    /// # let _ = v;
    /// ```
    pub fn new(signing_key: impl AsRef<[u8]>) -> Self {
        WebhookVerifier {
            key: Arc::from(signing_key.as_ref()),
            tolerance: Duration::from_secs(300),
            require_timestamp: false,
            body_limit: 1024 * 1024,
        }
    }

    /// Sets how far a signed timestamp may be from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let v = nango_client::webhooks::WebhookVerifier::new("key").tolerance(Duration::from_secs(60));
    /// # let _ = v;
    /// ```
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Refuses requests without `X-Nango-Rs-Signature`: set it when only nango-rs sends to this
    /// receiver, to get replay protection (without it, a replayed request with that header
    /// removed would still pass on `X-Nango-Hmac-Sha256`).
    ///
    /// ```
    /// let v = nango_client::webhooks::WebhookVerifier::new("key").require_timestamp(true);
    /// # let _ = v;
    /// ```
    pub fn require_timestamp(mut self, require: bool) -> Self {
        self.require_timestamp = require;
        self
    }

    /// Sets the largest body accepted, in bytes.
    ///
    /// ```
    /// let v = nango_client::webhooks::WebhookVerifier::new("key").body_limit(64 * 1024);
    /// # let _ = v;
    /// ```
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Verifies a request's headers against its body: `X-Nango-Hmac-Sha256` always, and
    /// `X-Nango-Rs-Signature` when present (or always, with
    /// [`WebhookVerifier::require_timestamp`]).
    ///
    /// ```
    /// use nango_client::http::HeaderMap;
    /// let err = nango_client::webhooks::WebhookVerifier::new("key")
    ///     .verify(&HeaderMap::new(), b"{}", chrono::Utc::now())
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "missing X-Nango-Hmac-Sha256 header");
    /// ```
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<(), WebhookError> {
        let header = |name: &'static str| -> Result<Option<&str>, WebhookError> {
            match headers.get(name) {
                None => Ok(None),
                Some(value) => value
                    .to_str()
                    .map(Some)
                    .map_err(|_| WebhookError::InvalidHeader { header: name, message: "not visible ASCII".to_owned() }),
            }
        };
        let hmac = header(HMAC_HEADER)?.ok_or(WebhookError::MissingHeader { header: HMAC_HEADER })?;
        verify_hmac(&self.key, body, hmac)?;
        match header(TIMESTAMPED_HEADER)? {
            Some(value) => verify_timestamped(&self.key, body, value, now, self.tolerance),
            None if self.require_timestamp => Err(WebhookError::MissingHeader { header: TIMESTAMPED_HEADER }),
            None => Ok(()),
        }
    }
}
