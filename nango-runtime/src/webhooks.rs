//! Webhooks the service sends after each sync run: payloads, signatures, delivery, and an axum
//! extractor for receivers that verifies them.
//!
//! # Payload
//!
//! [`SyncWebhook`] is Nango's sync webhook (one per model and run), with its field names
//! (`connectionId`, `providerConfigKey`, `syncName`, `syncVariant`, `model`, `syncType`, `success`,
//! `modifiedAfter`, `responseResults`, `queryTimeStamp`, `checkpoints`, and on errors `error`,
//! `startedAt`, `failedAt`). Timestamps are written as JavaScript's `Date.toISOString()` does
//! (`2026-01-02T10:00:00.000Z`). The body is serialised once by [`serialize_body`], as Nango's
//! `safe-stable-stringify`: compact JSON with the keys of every object sorted, and exactly those
//! bytes are signed and sent.
//!
//! # Signature headers
//!
//! With a signing key, every request carries three headers (see [`sign`]):
//!
//! * `X-Nango-Hmac-Sha256: <hex>`: lowercase hex of HMAC-SHA256(key = signing key,
//!   message = body). Nango's recommended header: receivers written for Nango verify it unchanged
//!   ([`verify_hmac`]).
//! * `X-Nango-Rs-Signature: t=<unix seconds>,v1=<hex>`: ours, with replay protection.
//!   `<hex>` is lowercase hex of HMAC-SHA256(key, `"<t>." || body`), where `<t>` is the decimal
//!   text of the `t=` value; since the time is signed, a receiver can refuse a captured request
//!   replayed later ([`verify_timestamped`] with a tolerance, 5 minutes in [`WebhookVerifier`]).
//!   Parsing follows Stripe's scheme: comma-separated `key=value` items, unknown keys ignored,
//!   several `v1=` allowed (any one matching is enough, which allows rotating keys).
//!   The time is taken again for every retry, so a late retry is not refused as stale.
//! * `X-Nango-Signature: <hex>`: lowercase hex of SHA-256(key ‖ body) (string concatenation),
//!   Nango's legacy header, sent only so that old receivers keep working; it is open to
//!   length-extension attacks, so nothing here verifies it.
//!
//! Nango signs no timestamp, so the timestamped header is the only replay protection; a receiver
//! that wants it must refuse requests without it ([`WebhookVerifier::require_timestamp`]),
//! otherwise an attacker can replay a captured request with that header removed.
//!
//! # Delivery
//!
//! [`WebhookSender::deliver`] posts to every URL independently (Nango: primary and secondary
//! URL), retries network errors and 5xx responses with exponential backoff, never 3xx or 4xx,
//! does not follow redirects, and returns every attempt ([`DeliveryAttempt`]) for the caller to
//! store: a failing receiver never fails the sync.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use nango_runtime::webhooks::{self, ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
//!
//! let at = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
//! let payload = SyncWebhook::success(
//!     SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
//!     WebhookSyncType::Incremental,
//!     at,
//!     ChangeCounts { added: 3, updated: 1, deleted: 0 },
//! );
//! let body = webhooks::serialize_body(&payload);
//! assert!(body.starts_with(br#"{"connectionId":"c1","from":"nango","model":"GithubIssue","#));
//!
//! let headers = webhooks::sign("signing-key", &body, at);
//! webhooks::verify_hmac("signing-key", &body, &headers.hmac_sha256).unwrap();
//! assert_eq!(headers.timestamped.split(',').next(), Some("t=1767348000"));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Nango's recommended signature header: hex HMAC-SHA256 of the body.
///
/// ```
/// # let headers = axum::http::HeaderMap::new();
/// let signature = headers.get(nango_runtime::webhooks::HMAC_HEADER);
/// # assert!(signature.is_none());
/// ```
pub const HMAC_HEADER: &str = "X-Nango-Hmac-Sha256";
/// Our replay-protected signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.body">`.
///
/// ```
/// # let headers = axum::http::HeaderMap::new();
/// let signature = headers.get(nango_runtime::webhooks::TIMESTAMPED_HEADER);
/// # assert!(signature.is_none());
/// ```
pub const TIMESTAMPED_HEADER: &str = "X-Nango-Rs-Signature";
/// Nango's legacy signature header: hex SHA-256 of key ‖ body.
///
/// ```
/// assert_eq!(nango_runtime::webhooks::LEGACY_HEADER, "X-Nango-Signature");
/// ```
pub const LEGACY_HEADER: &str = "X-Nango-Signature";

/// `user-agent` of webhook requests (Nango sends `nango/<version> (...)`).
const USER_AGENT_VALUE: &str = concat!("nango-rs/", env!("CARGO_PKG_VERSION"));

/// Receiver answers quoted in [`DeliveryAttempt::error`] are cut to this many bytes: enough to
/// read the receiver's message, small enough for the run history.
const ERROR_EXCERPT_BYTES: usize = 256;

type HmacSha256 = Hmac<Sha256>;

// ---------------------------------------------------------------------------------------------
// Payload
// ---------------------------------------------------------------------------------------------

/// `syncType` of a sync webhook (deprecated by Nango, still sent). Not to be confused with
/// nango.yaml's [`SyncType`](crate::SyncType) (full or incremental).
///
/// ```
/// use nango_runtime::webhooks::WebhookSyncType;
/// assert_eq!(serde_json::to_string(&WebhookSyncType::Initial).unwrap(), r#""INITIAL""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookSyncType {
    /// A run without a previous successful run (a full sync).
    Initial,
    /// A run after a previous successful one.
    Incremental,
    /// A run of the sync's webhook handler.
    Webhook,
}

/// Counts of a run for one model (`responseResults`): the shared [`ChangeCounts`].
pub use nango_types::ChangeCounts;

/// `checkpoints` of a sync webhook: the checkpoint the run started from and the one it ended
/// with (either may be `null`).
///
/// ```
/// use nango_runtime::webhooks::Checkpoints;
/// let c = Checkpoints { from: None, to: Some(serde_json::json!({"page": 4})) };
/// assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"from":null,"to":{"page":4}}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Checkpoints {
    /// The checkpoint at the start of the run.
    pub from: Option<Value>,
    /// The checkpoint at the end of the run.
    pub to: Option<Value>,
}

/// `error` of a failed run's webhook.
///
/// ```
/// use nango_runtime::webhooks::SyncErrorInfo;
/// let e = SyncErrorInfo::new("script_http_error", "GET /issues returned 500");
/// assert_eq!(serde_json::to_value(&e).unwrap()["type"], "script_http_error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncErrorInfo {
    /// A stable error code.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, for people.
    pub description: String,
}

impl SyncErrorInfo {
    /// An error with its code and description.
    ///
    /// ```
    /// let e = nango_runtime::webhooks::SyncErrorInfo::new("timeout", "run took too long");
    /// assert_eq!(e.kind, "timeout");
    /// ```
    pub fn new(kind: impl Into<String>, description: impl Into<String>) -> Self {
        SyncErrorInfo { kind: kind.into(), description: description.into() }
    }
}

/// Which sync, connection and model a webhook is about (the fields every sync webhook has).
///
/// ```
/// use nango_runtime::webhooks::SyncIdentity;
/// let id = SyncIdentity::new("c1", "github", "issues", "GithubIssue").variant("eu");
/// assert_eq!(id.sync_variant, "eu");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncIdentity {
    /// `connectionId`.
    pub connection_id: String,
    /// `providerConfigKey` (the integration).
    pub provider_config_key: String,
    /// `syncName`.
    pub sync_name: String,
    /// `syncVariant` (`base` unless set).
    pub sync_variant: String,
    /// `model`.
    pub model: String,
}

impl SyncIdentity {
    /// The identity of the base variant of a sync.
    ///
    /// ```
    /// let id = nango_runtime::webhooks::SyncIdentity::new("c1", "github", "issues", "GithubIssue");
    /// assert_eq!(id.sync_variant, "base");
    /// ```
    pub fn new(
        connection_id: impl Into<String>,
        provider_config_key: impl Into<String>,
        sync_name: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        SyncIdentity {
            connection_id: connection_id.into(),
            provider_config_key: provider_config_key.into(),
            sync_name: sync_name.into(),
            sync_variant: "base".to_owned(),
            model: model.into(),
        }
    }

    /// Sets the variant.
    ///
    /// ```
    /// let id = nango_runtime::webhooks::SyncIdentity::new("c", "p", "s", "M").variant("v2");
    /// assert_eq!(id.sync_variant, "v2");
    /// ```
    pub fn variant(mut self, variant: impl Into<String>) -> Self {
        self.sync_variant = variant.into();
        self
    }
}

/// The sync webhook (spec §6.2): sent after each run, one per model.
///
/// Fields that Nango sends only on successes (`modifiedAfter`, `responseResults`,
/// `queryTimeStamp`) or only on errors (`error`, `startedAt`, `failedAt`) are `Option`s and left
/// out of the JSON when `None`, as is `checkpoints` for syncs without checkpoints.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use nango_runtime::webhooks::{SyncErrorInfo, SyncIdentity, WebhookSyncType, SyncWebhook};
///
/// let started = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
/// let failed = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 5).unwrap();
/// let hook = SyncWebhook::error(
///     SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
///     WebhookSyncType::Incremental,
///     SyncErrorInfo::new("script_error", "boom"),
///     started,
///     failed,
/// );
/// let json = serde_json::to_value(&hook).unwrap();
/// assert_eq!(json["success"], false);
/// assert_eq!(json["failedAt"], "2026-01-02T10:00:05.000Z");
/// assert!(json.get("responseResults").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncWebhook {
    /// Always `nango`.
    pub from: String,
    /// Always `sync`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The connection.
    pub connection_id: String,
    /// The integration.
    pub provider_config_key: String,
    /// The sync.
    pub sync_name: String,
    /// The sync's variant; receivers of old Nango versions got none, hence the default.
    #[serde(default = "base_variant")]
    pub sync_variant: String,
    /// The model the counts are about.
    pub model: String,
    /// `INITIAL`, `INCREMENTAL` or `WEBHOOK`.
    pub sync_type: WebhookSyncType,
    /// Whether the run succeeded.
    pub success: bool,
    /// Start of the run: fetch records modified at or after it (successes only).
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub modified_after: Option<DateTime<Utc>>,
    /// Counts of the run (successes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_results: Option<ChangeCounts>,
    /// Deprecated duplicate of `modifiedAfter` (successes only).
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub query_time_stamp: Option<DateTime<Utc>>,
    /// Checkpoints before and after the run, for syncs that use checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<Checkpoints>,
    /// What failed (errors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SyncErrorInfo>,
    /// Start of the failed run (errors only).
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the run failed (errors only).
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<DateTime<Utc>>,
}

fn base_variant() -> String {
    "base".to_owned()
}

impl SyncWebhook {
    fn base(identity: SyncIdentity, sync_type: WebhookSyncType, success: bool) -> Self {
        SyncWebhook {
            from: "nango".to_owned(),
            kind: "sync".to_owned(),
            connection_id: identity.connection_id,
            provider_config_key: identity.provider_config_key,
            sync_name: identity.sync_name,
            sync_variant: identity.sync_variant,
            model: identity.model,
            sync_type,
            success,
            modified_after: None,
            response_results: None,
            query_time_stamp: None,
            checkpoints: None,
            error: None,
            started_at: None,
            failed_at: None,
        }
    }

    /// The webhook of a successful run that started at `modified_after`.
    ///
    /// `queryTimeStamp` repeats `modifiedAfter`, as in Nango's example payloads.
    ///
    /// ```
    /// use chrono::Utc;
    /// use nango_runtime::webhooks::{ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
    /// let hook = SyncWebhook::success(
    ///     SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
    ///     WebhookSyncType::Initial,
    ///     Utc::now(),
    ///     ChangeCounts { added: 10, ..Default::default() },
    /// );
    /// assert!(hook.success && hook.error.is_none());
    /// ```
    pub fn success(
        identity: SyncIdentity,
        sync_type: WebhookSyncType,
        modified_after: DateTime<Utc>,
        results: ChangeCounts,
    ) -> Self {
        SyncWebhook {
            modified_after: Some(modified_after),
            response_results: Some(results),
            query_time_stamp: Some(modified_after),
            ..SyncWebhook::base(identity, sync_type, true)
        }
    }

    /// The webhook of a failed run.
    ///
    /// ```
    /// use chrono::Utc;
    /// use nango_runtime::webhooks::{SyncErrorInfo, SyncIdentity, WebhookSyncType, SyncWebhook};
    /// let now = Utc::now();
    /// let hook = SyncWebhook::error(
    ///     SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
    ///     WebhookSyncType::Incremental,
    ///     SyncErrorInfo::new("script_error", "boom"),
    ///     now,
    ///     now,
    /// );
    /// assert!(!hook.success && hook.modified_after.is_none());
    /// ```
    pub fn error(
        identity: SyncIdentity,
        sync_type: WebhookSyncType,
        error: SyncErrorInfo,
        started_at: DateTime<Utc>,
        failed_at: DateTime<Utc>,
    ) -> Self {
        SyncWebhook {
            error: Some(error),
            started_at: Some(started_at),
            failed_at: Some(failed_at),
            ..SyncWebhook::base(identity, sync_type, false)
        }
    }

    /// Adds the checkpoints before and after the run.
    ///
    /// ```
    /// use chrono::Utc;
    /// use nango_runtime::webhooks::{ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
    /// let hook = SyncWebhook::success(
    ///     SyncIdentity::new("c", "p", "s", "M"), WebhookSyncType::Incremental, Utc::now(), ChangeCounts::default(),
    /// )
    /// .with_checkpoints(None, Some(serde_json::json!({"page": 4})));
    /// assert_eq!(hook.checkpoints.unwrap().to.unwrap()["page"], 4);
    /// ```
    pub fn with_checkpoints(mut self, from: Option<Value>, to: Option<Value>) -> Self {
        self.checkpoints = Some(Checkpoints { from, to });
        self
    }
}

/// Timestamps as JavaScript's `Date.toISOString()` writes them (milliseconds, `Z`), which is what
/// Nango receivers parse; any RFC 3339 time is read.
mod js_time_opt {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}

/// The body of a webhook: [`to_stable_json`] of the payload, the bytes to sign and send.
///
/// ```
/// use chrono::Utc;
/// use nango_runtime::webhooks::{serialize_body, ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
/// let hook = SyncWebhook::success(
///     SyncIdentity::new("c", "p", "s", "M"), WebhookSyncType::Incremental, Utc::now(), ChangeCounts::default(),
/// );
/// let body = serialize_body(&hook);
/// assert_eq!(serde_json::from_slice::<SyncWebhook>(&body).unwrap().connection_id, "c");
/// ```
pub fn serialize_body(payload: &SyncWebhook) -> Vec<u8> {
    // A SyncWebhook has string keys and no floats that JSON cannot hold, so serialising cannot
    // fail; the empty object keeps this total without a panic path.
    to_stable_json(payload).unwrap_or_else(|_| b"{}".to_vec())
}

/// Deterministic compact JSON with the keys of every object sorted, as `safe-stable-stringify`
/// (Nango's webhook serialiser) writes it.
///
/// Keys are ordered by UTF-16 code units, as JavaScript's default sort does (it differs from
/// byte order only between characters above U+FFFF and U+E000..U+FFFF). The order is applied
/// here rather than relying on maps: the workspace builds serde_json with `preserve_order`.
///
/// ```
/// let json = nango_runtime::webhooks::to_stable_json(&serde_json::json!({"b": 1, "a": {"d": [2], "c": null}})).unwrap();
/// assert_eq!(json, br#"{"a":{"c":null,"d":[2]},"b":1}"#);
/// ```
pub fn to_stable_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(512);
    write_sorted(&value, &mut out)?;
    Ok(out)
}

fn write_sorted(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                write_sorted(item, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Signing and verification
// ---------------------------------------------------------------------------------------------

/// The signature headers of one request (see the [module docs](self)).
///
/// ```
/// let h = nango_runtime::webhooks::sign("k", b"{}", chrono::Utc::now());
/// assert_eq!(h.hmac_sha256.len(), 64);
/// assert_eq!(h.pairs().len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Value of `X-Nango-Hmac-Sha256`.
    pub hmac_sha256: String,
    /// Value of `X-Nango-Rs-Signature` (`t=..,v1=..`).
    pub timestamped: String,
    /// Value of the legacy `X-Nango-Signature`.
    pub legacy: String,
}

impl SignedHeaders {
    /// The headers as (name, value) pairs.
    ///
    /// ```
    /// let h = nango_runtime::webhooks::sign("k", b"{}", chrono::Utc::now());
    /// assert_eq!(h.pairs()[0].0, "X-Nango-Hmac-Sha256");
    /// ```
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HMAC_HEADER, self.hmac_sha256.as_str()),
            (TIMESTAMPED_HEADER, self.timestamped.as_str()),
            (LEGACY_HEADER, self.legacy.as_str()),
        ]
    }
}

/// Signs a body at time `now`: the values of the three signature headers.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
/// let h = nango_runtime::webhooks::sign("key", b"body", at);
/// assert!(h.timestamped.starts_with("t=1700000000,v1="));
/// nango_runtime::webhooks::verify_hmac("key", b"body", &h.hmac_sha256).unwrap();
/// ```
pub fn sign(key: impl AsRef<[u8]>, body: &[u8], now: DateTime<Utc>) -> SignedHeaders {
    let key = key.as_ref();
    let legacy = {
        let mut hash = Sha256::new();
        hash.update(key);
        hash.update(body);
        to_hex(&hash.finalize())
    };
    SignedHeaders {
        hmac_sha256: to_hex(&mac(key, &[body]).finalize().into_bytes()),
        timestamped: timestamped_value(key, body, now.timestamp()),
        legacy,
    }
}

fn timestamped_value(key: &[u8], body: &[u8], t: i64) -> String {
    let t = t.to_string();
    let sig = mac(key, &[t.as_bytes(), b".", body]).finalize().into_bytes();
    format!("t={t},v1={}", to_hex(&sig))
}

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Why a webhook's signature was refused.
///
/// ```
/// let err = nango_runtime::webhooks::verify_hmac("k", b"{}", "zz").unwrap_err();
/// assert_eq!(err.code(), "invalid_signature_header");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required signature header is absent.
    MissingHeader {
        /// The header.
        header: &'static str,
    },
    /// The header is not in the expected format.
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The signature does not match the body and key.
    Mismatch {
        /// The header.
        header: &'static str,
    },
    /// The signed timestamp is older than the tolerance allows (a replay, or a very late retry).
    TooOld {
        /// Age of the signature in seconds.
        age_secs: u64,
        /// The tolerance in seconds.
        tolerance_secs: u64,
    },
    /// The signed timestamp is further in the future than the tolerance allows.
    InFuture {
        /// How far ahead, in seconds.
        ahead_secs: u64,
        /// The tolerance in seconds.
        tolerance_secs: u64,
    },
}

impl WebhookError {
    /// A stable code for the error (the `code` of the extractor's JSON rejections).
    ///
    /// ```
    /// use nango_runtime::webhooks::WebhookError;
    /// assert_eq!(WebhookError::Mismatch { header: "X-Nango-Hmac-Sha256" }.code(), "invalid_signature");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader { .. } => "missing_signature",
            WebhookError::InvalidHeader { .. } => "invalid_signature_header",
            WebhookError::Mismatch { .. } => "invalid_signature",
            WebhookError::TooOld { .. } => "stale_signature",
            WebhookError::InFuture { .. } => "future_signature",
        }
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::MissingHeader { header } => write!(f, "missing {header} header"),
            WebhookError::InvalidHeader { header, message } => write!(f, "invalid {header} header: {message}"),
            WebhookError::Mismatch { header } => {
                write!(f, "{header} does not match the body: wrong signing key, or the body was modified")
            }
            WebhookError::TooOld { age_secs, tolerance_secs } => write!(
                f,
                "{TIMESTAMPED_HEADER} timestamp is too old by {} s ({age_secs} s old, tolerance {tolerance_secs} s)",
                age_secs - tolerance_secs
            ),
            WebhookError::InFuture { ahead_secs, tolerance_secs } => write!(
                f,
                "{TIMESTAMPED_HEADER} timestamp is {ahead_secs} s in the future (tolerance {tolerance_secs} s)"
            ),
        }
    }
}

impl std::error::Error for WebhookError {}

/// Verifies `X-Nango-Hmac-Sha256` (hex, either case) against the body, in constant time.
///
/// ```
/// use nango_runtime::webhooks::{sign, verify_hmac, WebhookError};
/// let h = sign("key", b"{\"a\":1}", chrono::Utc::now());
/// assert!(verify_hmac("key", b"{\"a\":1}", &h.hmac_sha256).is_ok());
/// assert!(matches!(verify_hmac("key", b"{\"a\":2}", &h.hmac_sha256), Err(WebhookError::Mismatch { .. })));
/// ```
pub fn verify_hmac(key: impl AsRef<[u8]>, body: &[u8], header_value: &str) -> Result<(), WebhookError> {
    let tag = decode_tag(HMAC_HEADER, header_value.trim())?;
    mac(key.as_ref(), &[body]).verify_slice(&tag).map_err(|_| WebhookError::Mismatch { header: HMAC_HEADER })
}

/// Verifies `X-Nango-Rs-Signature` against the body (constant time) and refuses timestamps more
/// than `tolerance` away from `now`, in the past (replays) or in the future.
///
/// The signature is checked before the time, so a stale error is only reported for a genuine
/// request.
///
/// ```
/// use chrono::{Duration as Span, Utc};
/// use nango_runtime::webhooks::{sign, verify_timestamped, WebhookError};
/// use std::time::Duration;
///
/// let now = Utc::now();
/// let h = sign("key", b"{}", now - Span::seconds(400));
/// let five_min = Duration::from_secs(300);
/// let err = verify_timestamped("key", b"{}", &h.timestamped, now, five_min).unwrap_err();
/// assert!(matches!(err, WebhookError::TooOld { age_secs: 400, .. }));
/// assert!(verify_timestamped("key", b"{}", &h.timestamped, now - Span::seconds(300), five_min).is_ok());
/// ```
pub fn verify_timestamped(
    key: impl AsRef<[u8]>,
    body: &[u8],
    header_value: &str,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let invalid =
        |message: &str| WebhookError::InvalidHeader { header: TIMESTAMPED_HEADER, message: message.to_owned() };
    let mut timestamp: Option<&str> = None;
    let mut signatures = Vec::new();
    for item in header_value.split(',') {
        let Some((name, value)) = item.trim().split_once('=') else {
            return Err(invalid("expected comma-separated key=value items (t=<unix seconds>,v1=<hex>)"));
        };
        match name {
            "t" => timestamp = Some(value),
            "v1" => signatures.push(decode_tag(TIMESTAMPED_HEADER, value)?),
            // Unknown schemes are skipped so that a sender can add one (v2=...) without breaking
            // receivers that only know v1.
            _ => {}
        }
    }
    let t_text = timestamp.ok_or_else(|| invalid("no t=<unix seconds> item"))?;
    let t: i64 = t_text.parse().map_err(|_| invalid(&format!("t={t_text} is not a number of seconds")))?;
    if signatures.is_empty() {
        return Err(invalid("no v1=<hex> item"));
    }
    // The MAC covers the timestamp as sent, so a reformatted one (leading zeros) cannot match a
    // signature made for another text of the same number.
    let expected = mac(key.as_ref(), &[t_text.as_bytes(), b".", body]);
    let matched = signatures.iter().any(|tag| expected.clone().verify_slice(tag).is_ok());
    if !matched {
        return Err(WebhookError::Mismatch { header: TIMESTAMPED_HEADER });
    }
    let tolerance_secs = tolerance.as_secs();
    let age = now.timestamp().saturating_sub(t);
    if age > 0 && age.unsigned_abs() > tolerance_secs {
        return Err(WebhookError::TooOld { age_secs: age.unsigned_abs(), tolerance_secs });
    }
    if age < 0 && age.unsigned_abs() > tolerance_secs {
        return Err(WebhookError::InFuture { ahead_secs: age.unsigned_abs(), tolerance_secs });
    }
    Ok(())
}

fn decode_tag(header: &'static str, hex: &str) -> Result<Vec<u8>, WebhookError> {
    let invalid = |message: String| WebhookError::InvalidHeader { header, message };
    if hex.len() != 64 {
        return Err(invalid(format!("expected 64 hex digits (HMAC-SHA256), got {} characters", hex.len())));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    hex.as_bytes()
        .chunks(2)
        .map(|pair| match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => Ok((hi << 4) | lo),
            _ => Err(invalid(format!("not hexadecimal: {hex:?}"))),
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// One POST of a webhook to one URL, as stored with the run.
///
/// ```
/// use nango_runtime::webhooks::DeliveryAttempt;
/// let a = DeliveryAttempt {
///     url: "https://example.com/hook".into(), attempt: 1, status: Some(204), error: None,
///     duration_ms: 12, at: chrono::Utc::now(),
/// };
/// assert!(a.succeeded());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The receiver.
    pub url: String,
    /// 1 for the first try, 2 for the first retry...
    pub attempt: u32,
    /// The response status, `None` when no response came.
    pub status: Option<u16>,
    /// Why the attempt failed (`None` on a 2xx): the network error, or the status and the start
    /// of the receiver's answer.
    pub error: Option<String>,
    /// From sending to the end of the response.
    pub duration_ms: u64,
    /// When the attempt started.
    pub at: DateTime<Utc>,
}

impl DeliveryAttempt {
    /// Whether the receiver answered 2xx.
    ///
    /// ```
    /// use nango_runtime::webhooks::DeliveryAttempt;
    /// let a = DeliveryAttempt { url: "u".into(), attempt: 1, status: Some(500), error: Some("500".into()), duration_ms: 1, at: chrono::Utc::now() };
    /// assert!(!a.succeeded());
    /// ```
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends webhooks to the configured URLs, signed when a key is set.
///
/// Defaults (Nango's in parentheses): timeout 20 s (20 s), 3 retries after the first attempt (2),
/// delays from 3 s doubling with jitter (3 s doubling), capped at 60 s.
///
/// ```no_run
/// # async fn demo(payload: nango_runtime::webhooks::SyncWebhook) {
/// use nango_runtime::webhooks::WebhookSender;
///
/// let sender = WebhookSender::new(vec!["https://example.com/nango".into()], Some("signing-key".into()));
/// let attempts = sender.deliver(&payload).await;
/// let delivered = attempts.iter().any(|a| a.succeeded());
/// # }
/// ```
#[derive(Clone)]
pub struct WebhookSender {
    /// The HTTP client (built without redirects by [`WebhookSender::new`]).
    pub client: reqwest::Client,
    /// Every URL receives every webhook.
    pub urls: Vec<String>,
    /// The signing key; without it no signature header is sent.
    pub signing_key: Option<String>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Delay before the first retry; later ones double (with jitter), up to 60 s.
    pub min_delay: Duration,
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key must never reach a log line.
        f.debug_struct("WebhookSender")
            .field("urls", &self.urls)
            .field("signing_key", &self.signing_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("min_delay", &self.min_delay)
            .finish_non_exhaustive()
    }
}

impl WebhookSender {
    /// A sender with the default settings.
    ///
    /// Redirects are not followed: a signed body must go to the configured URL only, and a 3xx
    /// counts as a failed (not retried) attempt.
    ///
    /// ```
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec!["http://127.0.0.1:9/hook".into()], None);
    /// assert_eq!(s.retries, 3);
    /// ```
    pub fn new(urls: Vec<String>, signing_key: Option<String>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        WebhookSender {
            client,
            urls,
            signing_key,
            timeout: Duration::from_secs(20),
            retries: 3,
            min_delay: Duration::from_secs(3),
        }
    }

    /// Sets the per-attempt timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec![], None).timeout(Duration::from_secs(5));
    /// assert_eq!(s.timeout, Duration::from_secs(5));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the number of retries after the first attempt.
    ///
    /// ```
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec![], None).retries(0);
    /// assert_eq!(s.retries, 0);
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the delay before the first retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec![], None).min_delay(Duration::from_millis(10));
    /// assert_eq!(s.min_delay, Duration::from_millis(10));
    /// ```
    pub fn min_delay(mut self, min_delay: Duration) -> Self {
        self.min_delay = min_delay;
        self
    }

    /// Posts the webhook to every URL (concurrently, each with its own retries) and returns every
    /// attempt, grouped by URL in the order of [`WebhookSender::urls`].
    ///
    /// Never fails: receivers' failures are in the attempts (and in `warn` log lines).
    ///
    /// ```no_run
    /// # async fn demo(sender: nango_runtime::webhooks::WebhookSender, hook: nango_runtime::webhooks::SyncWebhook) {
    /// for attempt in sender.deliver(&hook).await {
    ///     println!("{} #{}: {:?} {:?}", attempt.url, attempt.attempt, attempt.status, attempt.error);
    /// }
    /// # }
    /// ```
    pub async fn deliver(&self, payload: &SyncWebhook) -> Vec<DeliveryAttempt> {
        self.deliver_body(&serialize_body(payload)).await
    }

    /// Posts an already serialised JSON body (for other webhook types; see [`to_stable_json`]):
    /// exactly these bytes are signed and sent.
    ///
    /// ```no_run
    /// # async fn demo(sender: nango_runtime::webhooks::WebhookSender) {
    /// let body = nango_runtime::webhooks::to_stable_json(&serde_json::json!({"from": "nango", "type": "auth"})).unwrap();
    /// let attempts = sender.deliver_body(&body).await;
    /// # }
    /// ```
    pub async fn deliver_body(&self, body: &[u8]) -> Vec<DeliveryAttempt> {
        let per_url = self.urls.iter().map(|url| self.deliver_to(url, body));
        futures_util::future::join_all(per_url).await.into_iter().flatten().collect()
    }

    async fn deliver_to(&self, url: &str, body: &[u8]) -> Vec<DeliveryAttempt> {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(Duration::from_secs(60).max(self.min_delay))
            .with_factor(2.0)
            // Jitter spreads the retries of many runs that failed together (a receiver outage).
            .with_jitter()
            .with_max_times(self.retries as usize)
            .build();
        let mut attempts = Vec::new();
        let max = self.retries + 1;
        for attempt in 1..=max {
            let (record, retryable) = self.attempt(url, body, attempt).await;
            let failed = !record.succeeded();
            let error = record.error.clone();
            attempts.push(record);
            if !failed {
                tracing::info!(url, attempt, "Webhook delivered");
                break;
            }
            let error = error.unwrap_or_default();
            let delay = if retryable { delays.next() } else { None };
            match delay {
                Some(delay) => {
                    tracing::warn!(
                        url,
                        attempt,
                        max,
                        wait_ms = delay.as_millis() as u64,
                        reason = %error,
                        "Retrying webhook POST {url} (reason: {error}). Waiting {} ms [{attempt}/{max}]",
                        delay.as_millis()
                    );
                    tokio::time::sleep(delay).await;
                }
                None => {
                    let why = if retryable { "no retries left" } else { "not retried" };
                    tracing::warn!(url, attempt, reason = %error, "Webhook POST {url} failed ({why}): {error}");
                    break;
                }
            }
        }
        attempts
    }

    /// One POST; the record and whether a failure may be retried (network errors and 5xx).
    async fn attempt(&self, url: &str, body: &[u8], attempt: u32) -> (DeliveryAttempt, bool) {
        let at = Utc::now();
        let started = Instant::now();
        let mut request = self
            .client
            .post(url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(body.to_vec());
        if let Some(key) = &self.signing_key {
            // Signed per attempt so the timestamp is the send time of this attempt.
            for (name, value) in sign(key, body, at).pairs() {
                request = request.header(name, value);
            }
        }
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    // Drain the body so the connection can be reused; its content is not used.
                    let _ = response.bytes().await;
                    (Some(status.as_u16()), None, false)
                } else {
                    let text = response
                        .bytes()
                        .await
                        .map(|b| nango_types::text::excerpt(&b, ERROR_EXCERPT_BYTES))
                        .unwrap_or_default();
                    let error = if text.is_empty() { status.to_string() } else { format!("{status}: {text}") };
                    (Some(status.as_u16()), Some(error), status.is_server_error())
                }
            }
            // A URL reqwest cannot use is not going to work on a retry either.
            Err(e) if e.is_builder() => (None, Some(nango_types::text::error_chain(&e)), false),
            Err(e) => (None, Some(nango_types::text::error_chain(&e)), true),
        };
        let (status, error, retryable) = outcome;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(url, attempt, status, duration_ms, "POST {url} (webhook)");
        (DeliveryAttempt { url: url.to_owned(), attempt, status, error, duration_ms, at }, retryable)
    }
}

// ---------------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------------

/// What a receiver verifies webhooks with: the signing key and the rules of
/// [`VerifiedWebhook`].
///
/// The extractor finds it in the router's state through axum's [`FromRef`]: use it as the state
/// (`.with_state(WebhookVerifier::new(key))`), or implement `FromRef<AppState>` for it.
///
/// ```
/// use nango_runtime::webhooks::{sign, WebhookVerifier};
/// use axum::http::HeaderMap;
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
    body_limit: usize,
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
    /// let v = nango_runtime::webhooks::WebhookVerifier::new("key");
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
    /// let v = nango_runtime::webhooks::WebhookVerifier::new("key").tolerance(Duration::from_secs(60));
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
    /// let v = nango_runtime::webhooks::WebhookVerifier::new("key").require_timestamp(true);
    /// # let _ = v;
    /// ```
    pub fn require_timestamp(mut self, require: bool) -> Self {
        self.require_timestamp = require;
        self
    }

    /// Sets the largest body accepted, in bytes.
    ///
    /// ```
    /// let v = nango_runtime::webhooks::WebhookVerifier::new("key").body_limit(64 * 1024);
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
    /// use axum::http::HeaderMap;
    /// let err = nango_runtime::webhooks::WebhookVerifier::new("key")
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

/// An axum extractor: the request's body, verified with the state's [`WebhookVerifier`] and
/// parsed as JSON into `T`.
///
/// Rejections are JSON `{"error": {"code", "message"}}`: 401 for a missing or wrong signature
/// (codes of [`WebhookError::code`]), 400 `invalid_json` for a body that does not parse into `T`,
/// 413 `body_too_large` over the verifier's limit, 400 `invalid_body` when it cannot be read. The
/// signature is checked before the JSON, so unsigned requests learn nothing about the format.
///
/// ```no_run
/// use axum::{Router, routing::post};
/// use nango_runtime::webhooks::{SyncWebhook, VerifiedWebhook, WebhookVerifier};
///
/// async fn on_webhook(VerifiedWebhook(hook): VerifiedWebhook<SyncWebhook>) -> &'static str {
///     println!("{} {} added", hook.model, hook.response_results.map_or(0, |r| r.added));
///     "ok"
/// }
///
/// # async fn serve() {
/// let app: Router = Router::new()
///     .route("/nango", post(on_webhook))
///     .with_state(WebhookVerifier::new("signing-key"));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedWebhook<T>(pub T);

/// Why [`VerifiedWebhook`] refused a request; answers with its status and a JSON error body.
///
/// ```
/// use axum::response::IntoResponse;
/// use nango_runtime::webhooks::WebhookRejection;
/// let r = WebhookRejection { status: axum::http::StatusCode::UNAUTHORIZED, code: "invalid_signature", message: "no".into() };
/// assert_eq!(r.into_response().status(), 401);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRejection {
    /// 400, 401 or 413.
    pub status: StatusCode,
    /// A stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for WebhookRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for WebhookRejection {}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl<S, T> FromRequest<S> for VerifiedWebhook<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
    WebhookVerifier: FromRef<S>,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let (parts, body) = req.into_parts();
        let mut stream = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| WebhookRejection {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_body",
                message: format!("could not read the body: {e}"),
            })?;
            // Checked per chunk so an oversized body is never held in memory whole.
            if bytes.len() + chunk.len() > verifier.body_limit {
                return Err(WebhookRejection {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "body_too_large",
                    message: format!("the body is larger than {} bytes", verifier.body_limit),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        verifier.verify(&parts.headers, &bytes, Utc::now()).map_err(|e| {
            tracing::warn!(code = e.code(), "Refused webhook: {e}");
            WebhookRejection { status: StatusCode::UNAUTHORIZED, code: e.code(), message: e.to_string() }
        })?;
        let invalid =
            |message: String| WebhookRejection { status: StatusCode::BAD_REQUEST, code: "invalid_json", message };
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        // The path names the field that does not fit `T` (`responseResults.added: invalid type...`).
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            invalid(if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) })
        })?;
        // Trailing bytes after the JSON value are refused, as `serde_json::from_slice` would.
        de.end().map_err(|e| invalid(e.to_string()))?;
        Ok(VerifiedWebhook(value))
    }
}
