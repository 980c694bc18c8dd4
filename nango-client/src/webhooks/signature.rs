//! Webhook signatures, made and checked in one place: [`sign`] for the service that sends,
//! [`verify_hmac`] and [`verify_timestamped`] for the receivers (the formats are in the
//! [module docs](super)).

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Nango's recommended signature header: hex HMAC-SHA256 of the body.
///
/// ```
/// # let headers = nango_client::http::HeaderMap::new();
/// let signature = headers.get(nango_client::webhooks::HMAC_HEADER);
/// # assert!(signature.is_none());
/// ```
pub const HMAC_HEADER: &str = "X-Nango-Hmac-Sha256";
/// Our replay-protected signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.body">`.
///
/// ```
/// # let headers = nango_client::http::HeaderMap::new();
/// let signature = headers.get(nango_client::webhooks::TIMESTAMPED_HEADER);
/// # assert!(signature.is_none());
/// ```
pub const TIMESTAMPED_HEADER: &str = "X-Nango-Rs-Signature";
/// Nango's legacy signature header: hex SHA-256 of key ‖ body.
///
/// ```
/// assert_eq!(nango_client::webhooks::LEGACY_HEADER, "X-Nango-Signature");
/// ```
pub const LEGACY_HEADER: &str = "X-Nango-Signature";

type HmacSha256 = Hmac<Sha256>;

/// The signature headers of one request (see the [module docs](super)).
///
/// ```
/// let h = nango_client::webhooks::sign("k", b"{}", chrono::Utc::now());
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
    /// let h = nango_client::webhooks::sign("k", b"{}", chrono::Utc::now());
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
/// let h = nango_client::webhooks::sign("key", b"body", at);
/// assert!(h.timestamped.starts_with("t=1700000000,v1="));
/// nango_client::webhooks::verify_hmac("key", b"body", &h.hmac_sha256).unwrap();
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
/// let err = nango_client::webhooks::verify_hmac("k", b"{}", "zz").unwrap_err();
/// assert_eq!(err.code(), "invalid_signature_header");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required signature header is absent.
    #[error("missing {header} header")]
    MissingHeader {
        /// The header.
        header: &'static str,
    },
    /// The header is not in the expected format.
    #[error("invalid {header} header: {message}")]
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The signature does not match the body and key.
    #[error("{header} does not match the body: wrong signing key, or the body was modified")]
    Mismatch {
        /// The header.
        header: &'static str,
    },
    /// The signed timestamp is older than the tolerance allows (a replay, or a very late retry).
    #[error(
        "{TIMESTAMPED_HEADER} timestamp is too old by {} s ({age_secs} s old, tolerance {tolerance_secs} s)",
        excess(.age_secs, .tolerance_secs)
    )]
    TooOld {
        /// Age of the signature in seconds.
        age_secs: u64,
        /// The tolerance in seconds.
        tolerance_secs: u64,
    },
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error("{TIMESTAMPED_HEADER} timestamp is {ahead_secs} s in the future (tolerance {tolerance_secs} s)")]
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
    /// use nango_client::webhooks::WebhookError;
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

/// How much older than the tolerance a signature is.
fn excess(age_secs: &u64, tolerance_secs: &u64) -> u64 {
    age_secs.saturating_sub(*tolerance_secs)
}

/// Verifies `X-Nango-Hmac-Sha256` (hex, either case) against the body, in constant time.
///
/// ```
/// use nango_client::webhooks::{sign, verify_hmac, WebhookError};
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
/// use nango_client::webhooks::{sign, verify_timestamped, WebhookError};
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Published answers, so the signatures are checked against HMAC-SHA256 and SHA-256 as
    /// everyone else computes them, not against this module's own output.
    #[test]
    fn signatures_match_published_test_vectors() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        // RFC 4231, test case 2.
        let signed = sign("Jefe", b"what do ya want for nothing?", at);
        assert_eq!(signed.hmac_sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        verify_hmac("Jefe", b"what do ya want for nothing?", &signed.hmac_sha256).unwrap();
        // The legacy header hashes key ‖ body: SHA-256("abc") from FIPS 180-2.
        assert_eq!(sign("ab", b"c", at).legacy, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // The timestamped one is HMAC(key, "<t>." ‖ body): the tag of the joined message.
        let stamped = timestamped_value(b"Jefe", b"what do ya want for nothing?", 1_700_000_000);
        assert!(stamped.starts_with("t=1700000000,v1="), "{stamped}");
        let tag = stamped.trim_start_matches("t=1700000000,v1=");
        let expected = to_hex(&mac(b"Jefe", &[b"1700000000.what do ya want for nothing?"]).finalize().into_bytes());
        assert_eq!(tag, expected);
    }

    #[test]
    fn tags_are_hex_of_exactly_32_bytes() {
        assert_eq!(decode_tag(HMAC_HEADER, &"Ab".repeat(32)).unwrap(), vec![0xab; 32]);
        let short = decode_tag(HMAC_HEADER, "ab").unwrap_err();
        assert_eq!(
            short.to_string(),
            "invalid X-Nango-Hmac-Sha256 header: expected 64 hex digits (HMAC-SHA256), got 2 characters"
        );
        assert!(matches!(decode_tag(HMAC_HEADER, &"zz".repeat(32)), Err(WebhookError::InvalidHeader { .. })));
        assert_eq!(to_hex(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn every_message_reads_as_before() {
        let h = "X-Nango-Hmac-Sha256";
        let cases = [
            (WebhookError::MissingHeader { header: h }, "missing X-Nango-Hmac-Sha256 header"),
            (
                WebhookError::InvalidHeader { header: h, message: "not hex".into() },
                "invalid X-Nango-Hmac-Sha256 header: not hex",
            ),
            (
                WebhookError::Mismatch { header: h },
                "X-Nango-Hmac-Sha256 does not match the body: wrong signing key, or the body was modified",
            ),
            (
                WebhookError::TooOld { age_secs: 400, tolerance_secs: 300 },
                "X-Nango-Rs-Signature timestamp is too old by 100 s (400 s old, tolerance 300 s)",
            ),
            (
                WebhookError::InFuture { ahead_secs: 90, tolerance_secs: 60 },
                "X-Nango-Rs-Signature timestamp is 90 s in the future (tolerance 60 s)",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected, "{error:?}");
        }
    }
}
