//! Webhooks the service sends after each sync run.
//!
//! The payload ([`SyncWebhook`]), its body ([`serialize_body`]), the signature headers
//! ([`sign`], [`verify_hmac`], [`verify_timestamped`]) and the receivers' side
//! ([`WebhookVerifier`], the [`VerifiedWebhook`] axum extractor) live in the `nango-client`
//! crate, which consumers use without the runtime; they are re-exported here under their old
//! paths, and the formats are described in `nango_client::webhooks`. What only the service does:
//! deciding what a run's webhooks announce ([`webhooks_for`], in `webhooks/announcing.rs`: every
//! change since the previous webhook, killed runs included, queued in the store until delivered)
//! and sending them ([`WebhookSender`], in `webhooks/sending.rs`).
//!
//! # Delivery
//!
//! [`WebhookSender::deliver`] posts to every URL independently (Nango: primary and secondary
//! URL), retries network errors and 5xx responses with exponential backoff, never 3xx or 4xx,
//! does not follow redirects, and returns every attempt ([`DeliveryAttempt`]) for the caller to
//! store: a failing receiver never fails the sync. Each attempt is signed at its own send time,
//! so a late retry is not refused as stale. A webhook from the store's queue
//! ([`WebhookSender::deliver_queued`]) also carries its delivery id ([`WEBHOOK_ID_HEADER`]),
//! the same when a restarted service sends it again.
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

mod announcing;
mod sending;

pub use announcing::webhooks_for;
pub use nango_client::webhooks::{
    AuthOperation, AuthWebhook, ChangeCounts, Checkpoints, HMAC_HEADER, LEGACY_HEADER, ModelRemovedWebhook,
    SignedHeaders, SyncErrorInfo, SyncIdentity, SyncWebhook, TIMESTAMPED_HEADER, VerifiedWebhook, WEBHOOK_ID_HEADER,
    WebhookError, WebhookRejection, WebhookSyncType, WebhookVerifier, serialize_body, sign, to_stable_json,
    verify_hmac, verify_timestamped,
};
pub use sending::{DeliveryAttempt, WebhookSender};
