//! Webhooks the service sends after each sync run: their payload, their signatures, and how a
//! receiver verifies them. The service (`nango-runtime`) sends with these same types and
//! signatures, so sender and receivers cannot drift apart.
//!
//! * The payload: [`SyncWebhook`] and the exact bytes sent ([`serialize_body`]).
//! * The signatures: three headers, made by [`sign`] and checked by [`verify_hmac`] /
//!   [`verify_timestamped`], in one module so that both sides use the same code.
//! * [`WebhookVerifier`]: a receiver's key and rules, for headers and a body from any HTTP stack.
//! * `VerifiedWebhook` (feature `axum`): an axum extractor that verifies and parses.
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
//!   The sender takes the time again for every retry, so a late retry is not refused as stale.
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
//! Each sync webhook counts what changed since the previous one for its sync and model, runs
//! that failed or were killed included, and its `modifiedAfter` reaches back to the earliest of
//! those runs; webhooks are delivered at least once, a redelivery carrying the same
//! [`WEBHOOK_ID_HEADER`] and body, so a receiver that sums the counts drops the ids it has seen.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use nango_client::webhooks::{self, ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
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

mod auth;
mod deploy;
#[cfg(feature = "axum")]
mod extractor;
mod payload;
mod signature;
mod verifier;

pub use auth::{AuthOperation, AuthWebhook};
pub use deploy::ModelRemovedWebhook;
#[cfg(feature = "axum")]
pub use extractor::{VerifiedWebhook, WebhookRejection};
pub use payload::{
    ChangeCounts, Checkpoints, SyncErrorInfo, SyncIdentity, SyncWebhook, WEBHOOK_ID_HEADER, WebhookSyncType,
    serialize_body, to_stable_json,
};
pub use signature::{
    HMAC_HEADER, LEGACY_HEADER, SignedHeaders, TIMESTAMPED_HEADER, WebhookError, sign, verify_hmac, verify_timestamped,
};
pub use verifier::WebhookVerifier;
