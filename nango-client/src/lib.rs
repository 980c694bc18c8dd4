//! The client of nango-rs for the applications that consume synced records: read records, run
//! and pause syncs, and receive the webhooks the service sends after each run.
//!
//! It speaks Nango's wire format (spec §5.1, §6.2 and §7.3), so it also works against Nango
//! itself. It is light on purpose: reqwest (without a default TLS stack), serde and the shared
//! vocabulary of [`nango_types`]; no database driver, no web framework, no CLI and no async
//! runtime of its own, so a consumer's build gets none of the service's weight.
//! `nango-runtime` re-exports it (`nango_runtime::client`, `nango_runtime::webhooks`) and signs
//! its webhooks with this crate's [`webhooks::sign`].
//!
//! * [`NangoClient`]: `GET /records` one page at a time ([`RecordsRequest::page`]) or as a
//!   stream that follows `next_cursor` ([`RecordsRequest::stream`]); each record carries
//!   `_nango_metadata.cursor` ([`RecordMetadata`]), so a consumer can save the cursor of the last
//!   record it handled and resume after it ([`RecordsRequest::cursor`]). `GET /sync/status`,
//!   `POST /sync/trigger`, `POST /sync/pause`, `POST /sync/start`.
//! * [`webhooks`]: the payload ([`webhooks::SyncWebhook`]), the signatures, and
//!   [`webhooks::WebhookVerifier`] for receivers; with the `axum` feature, the
//!   `webhooks::VerifiedWebhook` extractor.
//!
//! Every request carries `Authorization: Bearer <secret key>`. Errors ([`ClientError`]) name the
//! request and carry the HTTP status and the server's error code and message, read from
//! nango-rs' `{"error": {"code", "message"}}` and Nango's older `{"error": "..", "type": ".."}`;
//! a response that does not decode names the failing field (`records[3].title: invalid type..`).
//!
//! # Features
//!
//! * `axum`: `webhooks::VerifiedWebhook`, an extractor that verifies and parses webhooks in an
//!   axum handler (it needs axum-core only).
//! * `tls`: HTTPS (rustls with the ring provider and the platform's root certificates). Without
//!   it the client speaks plain HTTP, which is enough for a service on the same host or network.
//!
//! # Reading records
//!
//! A model is any type implementing [`Model`]: the code generated from nango.yaml does, and a
//! consumer without the generator writes the few lines below.
//!
//! ```no_run
//! use nango_client::{Model, NangoClient};
//!
//! #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
//! struct Ticket { id: String, title: String }
//!
//! impl Model for Ticket {
//!     const NAME: &'static str = "Ticket";
//!     fn id(&self) -> String { self.id.clone() }
//! }
//!
//! # async fn demo(saved_cursor: Option<String>) -> Result<(), nango_client::ClientError> {
//! let client = NangoClient::new("http://localhost:3003", "secret-key");
//! let mut request = client.records::<Ticket>("github", "acme").limit(500);
//! if let Some(cursor) = saved_cursor {
//!     request = request.cursor(cursor);
//! }
//! let mut records = request.stream();
//! while let Some(record) = records.next().await {
//!     let record = record?;
//!     println!("{} {}", record.record.title, record.metadata.last_action);
//!     // Store record.metadata.cursor to resume from here next time.
//! }
//! client.trigger_sync("github", Some("acme"), &["tickets"], false).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Verifying a webhook
//!
//! ```
//! use nango_client::http::HeaderMap;
//! use nango_client::webhooks::{self, SyncWebhook, WebhookVerifier};
//!
//! # let body = webhooks::serialize_body(&SyncWebhook::success(
//! #     webhooks::SyncIdentity::new("acme", "github", "tickets", "Ticket"),
//! #     webhooks::WebhookSyncType::Incremental, chrono::Utc::now(), Default::default()));
//! # let mut headers = HeaderMap::new();
//! # for (name, value) in webhooks::sign("signing-key", &body, chrono::Utc::now()).pairs() {
//! #     headers.insert(name, value.parse().unwrap());
//! # }
//! // `headers` and `body` as they arrived, from any HTTP stack.
//! let verifier = WebhookVerifier::new("signing-key").require_timestamp(true);
//! verifier.verify(&headers, &body, chrono::Utc::now()).expect("signed by the service");
//! let hook: SyncWebhook = serde_json::from_slice(&body).unwrap();
//! assert_eq!((hook.model.as_str(), hook.success), ("Ticket", true));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod error;
mod records;
mod sync;
pub mod webhooks;

pub use client::NangoClient;
pub use error::ClientError;
pub use records::{Record, RecordMetadata, RecordStream, RecordsPage, RecordsRequest};
pub use sync::{SyncState, SyncStatus};

/// Records added, updated and deleted (`latestResult` of a sync's status, `responseResults` of a
/// webhook): the shared vocabulary's type.
pub use nango_types::ChangeCounts;
/// A record type of a nango.yaml model (the shared vocabulary's trait): what
/// [`NangoClient::records`] reads.
pub use nango_types::Model;

/// The time types of the API (record metadata, sync status, webhook timestamps).
pub use chrono;
/// The HTTP types of the API ([`http::HeaderMap`] for [`webhooks::WebhookVerifier::verify`]),
/// the same crate reqwest, hyper and axum use.
pub use http;
/// The HTTP client underneath, for [`NangoClient::with_http_client`].
pub use reqwest;
