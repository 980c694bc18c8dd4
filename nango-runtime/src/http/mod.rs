//! The typed HTTP client sync functions call their provider's API with: [`HttpClient`].
//!
//! It reads the provider's entry of the catalog ([`crate::providers`]) for the base URL,
//! headers, retry and rate-limit headers and pagination, and the [`Connection`](crate::Connection)
//! for the credentials; it retries with backoff by default, refreshes OAuth tokens, throttles on
//! rate-limit headers, decodes bodies into types with errors that name the failing field, walks
//! pages ([`Paginate`]) and can save every exchange for replay
//! ([`HttpOptions::save_responses`]; the format is below).
//!
//! Requests are logged with `tracing`: one `debug` line per attempt (method, URL with secrets
//! taken out, status, milliseconds) and one `warn` line per retry or rate-limit wait
//! (`Retrying GET https://... (reason: 429 Too Many Requests). Waiting 1000 ms [1/5]`, with the
//! fields `reason`, `wait_ms`, `attempt`, `max`).
//!
//! # Layers
//!
//! Each module imports only from the ones below it:
//!
//! * `client.rs`: [`HttpClient`], the face: it hands out [`RequestBuilder`]s (`request.rs`) and
//!   [`Paginate`]s (`paginate.rs`: a builder sent once per page, by the settings that
//!   `pagination.rs` merges and checks).
//! * `session.rs`: one connection's requests made ready: the URL, the provider's header and
//!   query templates, and the credentials of the moment on each attempt.
//! * `auth.rs`: the token state: the credentials, their OAuth 2 refresh through the token URL
//!   (one at a time), the on-refresh callback. `transport.rs`: sending one request attempt by
//!   attempt: retries and the waits the provider asks for (`retry.rs`), rate limits, timeouts,
//!   refused redirects, saved exchanges (`record.rs`), counters.
//! * At the bottom: `secrets.rs` (the connection's secrets, kept out of every message),
//!   [`Response`] and typed decoding (`response.rs`), [`HttpError`], [`HttpOptions`].
//!
//! # Saved exchanges
//!
//! With [`HttpOptions::save_responses`] set to a folder, each final exchange (after the retries)
//! becomes `NNNNNN.json` there, numbered per client from `000000`
//! (the numbering and format `nango-mock-provider`'s replay reads):
//!
//! ```json
//! {
//!   "origin": "https://api.github.com",
//!   "request": { "method": "GET", "path": "/repos/o/r/issues", "query": "per_page=100&page=2" },
//!   "response": {
//!     "status": 200,
//!     "headers": { "link": "<https://api.github.com/repos/o/r/issues?per_page=100&page=3>; rel=\"next\"" },
//!     "body": [{ "id": 1 }]
//!   }
//! }
//! ```
//!
//! `body` is the JSON value when the body parses, else the text. Response headers are kept only
//! when a replay needs them (`link`, `content-type`, `retry-after`, `x-ratelimit-*`,
//! `ratelimit-*` and the provider's retry headers), with lower-case names. Request headers are
//! never written, and query parameters carrying credentials are left out of `query`.

mod auth;
mod client;
mod error;
mod options;
mod paginate;
mod pagination;
mod record;
mod request;
mod response;
mod retry;
mod secrets;
mod session;
mod transport;

pub use client::HttpClient;
pub use error::HttpError;
pub use options::{HttpOptions, HttpStats, RateLimit};
pub use paginate::Paginate;
pub use pagination::{OffsetCalculation, Pagination, PaginationType};
pub use request::{IfNoneMatch, RequestBuilder};
pub use reqwest::header::HeaderMap;
pub use reqwest::{Method, StatusCode};
pub use response::Response;
