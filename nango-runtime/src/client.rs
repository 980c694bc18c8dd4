//! A typed client of the service's HTTP API, for the applications that consume synced records:
//! [`NangoClient`].
//!
//! It speaks Nango's wire format (spec §5.1 and §7.3), so it also reads from Nango itself:
//!
//! * `GET /records?model=..` with the `Connection-Id` and `Provider-Config-Key` headers, one
//!   page at a time ([`RecordsRequest::page`]) or as a stream of records that follows
//!   `next_cursor` ([`RecordsRequest::stream`]). Each record carries `_nango_metadata.cursor`, so
//!   a consumer can save the cursor of the last record it handled and resume after it
//!   ([`RecordsRequest::cursor`]).
//! * `GET /sync/status`, `POST /sync/trigger`, `POST /sync/pause`, `POST /sync/start`.
//!
//! Every request carries `Authorization: Bearer <secret key>`. Errors ([`ClientError`]) name the
//! request and carry the HTTP status and the server's error code and message, read from our
//! server's `{"error": {"code", "message"}}` and Nango's older `{"error": "..", "type": ".."}`;
//! a response that does not decode names the failing field (`records[3].title: invalid type..`).
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use nango_runtime::client::NangoClient;
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
//! # struct Ticket { id: String, title: String }
//! # impl nango_runtime::Model for Ticket {
//! #     const NAME: &'static str = "Ticket";
//! #     fn id(&self) -> String { self.id.clone() }
//! # }
//!
//! # async fn demo(saved_cursor: Option<String>) -> Result<(), nango_runtime::client::ClientError> {
//! let client = NangoClient::new("http://localhost:3003", "secret-key");
//! let mut request = client.records::<Ticket>("github", "acme").limit(500);
//! if let Some(cursor) = saved_cursor {
//!     request = request.cursor(cursor);
//! }
//! let mut records = std::pin::pin!(request.stream());
//! while let Some(record) = records.try_next().await? {
//!     println!("{} {}", record.record.title, record.metadata.last_action);
//!     // Store record.metadata.cursor to resume from here next time.
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

// `bytes::Bytes` (what reqwest returns), through a dependency the crate already has.
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::Stream;
use reqwest::header::{ACCEPT, USER_AGENT};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Model;

pub use crate::store::RecordMetadata;
pub use crate::webhooks::ChangeCounts;

/// Server messages quoted in errors are cut to this many bytes: enough to read an HTML error page's
/// start, small enough for a log line.
const EXCERPT_BYTES: usize = 512;

/// A client of the service's (or Nango's) HTTP API.
///
/// Cheap to clone: clones share the connection pool.
///
/// ```
/// use nango_runtime::client::NangoClient;
/// let client = NangoClient::new("http://localhost:3003/", "secret-key");
/// assert_eq!(client.base_url(), "http://localhost:3003");
/// assert!(!format!("{client:?}").contains("secret-key"));
/// ```
#[derive(Clone)]
pub struct NangoClient {
    http: reqwest::Client,
    base_url: Arc<str>,
    secret_key: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for NangoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret key must never reach a log line.
        f.debug_struct("NangoClient")
            .field("base_url", &self.base_url)
            .field("secret_key", &"***")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl NangoClient {
    /// A client of the API at `base_url` (`https://api.nango.dev`, `http://localhost:3003`),
    /// authenticated with the environment's secret key. Requests time out after 30 s.
    ///
    /// ```
    /// let client = nango_runtime::client::NangoClient::new("https://api.nango.dev", "sk");
    /// # let _ = client;
    /// ```
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<String>) -> Self {
        // The secret key goes in a header: a redirect to another host must not receive it.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let base_url: String = base_url.into();
        NangoClient {
            http,
            base_url: Arc::from(base_url.trim_end_matches('/')),
            secret_key: Arc::from(secret_key.into()),
            timeout: Duration::from_secs(30),
        }
    }

    /// Uses this reqwest client (proxies, TLS settings, a shared pool).
    ///
    /// ```
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk")
    ///     .with_http_client(reqwest::Client::new());
    /// # let _ = client;
    /// ```
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Sets the timeout of each request.
    ///
    /// ```
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk")
    ///     .timeout(std::time::Duration::from_secs(5));
    /// # let _ = client;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL, without a trailing `/`.
    ///
    /// ```
    /// assert_eq!(nango_runtime::client::NangoClient::new("http://h:1/api/", "k").base_url(), "http://h:1/api");
    /// ```
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Records of model `M` for a connection: set the options, then read a
    /// [page](RecordsRequest::page) or [stream](RecordsRequest::stream) them.
    ///
    /// ```no_run
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
    /// let page = client.records::<Ticket>("github", "acme").filter("added,updated").limit(100).page().await?;
    /// println!("{} records, more: {}", page.records.len(), page.next_cursor.is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn records<M: Model>(
        &self,
        provider_config_key: impl Into<String>,
        connection_id: impl Into<String>,
    ) -> RecordsRequest<M> {
        RecordsRequest {
            client: self.clone(),
            provider_config_key: provider_config_key.into(),
            connection_id: connection_id.into(),
            variant: None,
            modified_after: None,
            cursor: None,
            limit: None,
            filter: None,
            ids: Vec::new(),
            model: PhantomData,
        }
    }

    /// Status of syncs of a connection (`GET /sync/status`); an empty `syncs` asks for all (`*`).
    ///
    /// ```no_run
    /// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
    /// for sync in client.sync_status("github", "acme", &["issues"]).await? {
    ///     println!("{}: {:?}, next run {:?}", sync.name, sync.status, sync.next_scheduled_sync_at);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn sync_status(
        &self,
        provider_config_key: &str,
        connection_id: &str,
        syncs: &[&str],
    ) -> Result<Vec<SyncStatus>, ClientError> {
        let syncs = if syncs.is_empty() { "*".to_owned() } else { syncs.join(",") };
        let query =
            [("syncs", syncs.as_str()), ("provider_config_key", provider_config_key), ("connection_id", connection_id)];
        let builder = self.request(Method::GET, "/sync/status").query(&query);
        let (request, bytes) = self.send(builder).await?;
        let response: SyncStatusResponse = decode(&request, &bytes)?;
        Ok(response.syncs)
    }

    /// Runs syncs now (`POST /sync/trigger`); `reset` runs them from scratch (Nango's
    /// `RUN_FULL`: checkpoints and last sync date cleared). Without a connection, for all
    /// connections of the integration.
    ///
    /// ```no_run
    /// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
    /// client.trigger_sync("github", Some("acme"), &["issues"], true).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn trigger_sync(
        &self,
        provider_config_key: &str,
        connection_id: Option<&str>,
        syncs: &[&str],
        reset: bool,
    ) -> Result<(), ClientError> {
        let mut body = command_body(provider_config_key, connection_id, syncs);
        body["opts"] = serde_json::json!({ "reset": reset });
        self.command("/sync/trigger", &body).await
    }

    /// Pauses the schedules of syncs (`POST /sync/pause`); without a connection, for all
    /// connections of the integration.
    ///
    /// ```no_run
    /// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
    /// client.pause_sync("github", Some("acme"), &["issues"]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn pause_sync(
        &self,
        provider_config_key: &str,
        connection_id: Option<&str>,
        syncs: &[&str],
    ) -> Result<(), ClientError> {
        self.command("/sync/pause", &command_body(provider_config_key, connection_id, syncs)).await
    }

    /// Starts (unpauses) the schedules of syncs (`POST /sync/start`); without a connection, for
    /// all connections of the integration.
    ///
    /// ```no_run
    /// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
    /// client.start_sync("github", None, &["issues"]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_sync(
        &self,
        provider_config_key: &str,
        connection_id: Option<&str>,
        syncs: &[&str],
    ) -> Result<(), ClientError> {
        self.command("/sync/start", &command_body(provider_config_key, connection_id, syncs)).await
    }

    async fn command(&self, path: &str, body: &Value) -> Result<(), ClientError> {
        // The answer (`{"success": true}` from Nango) carries nothing more than the status.
        self.send(self.request(Method::POST, path).json(body)).await.map(|_| ())
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .timeout(self.timeout)
            .bearer_auth(&*self.secret_key)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("nango-rs/", env!("CARGO_PKG_VERSION")))
    }

    /// Sends, and returns `METHOD url` with the body of a 2xx answer.
    async fn send(&self, builder: RequestBuilder) -> Result<(String, Bytes), ClientError> {
        let request =
            builder.build().map_err(|e| ClientError::InvalidRequest { message: nango_types::text::error_chain(&e) })?;
        let name = format!("{} {}", request.method(), request.url());
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| ClientError::Network { request: name.clone(), message: nango_types::text::error_chain(&e) })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Network { request: name.clone(), message: nango_types::text::error_chain(&e) })?;
        tracing::debug!(request = %name, status = status.as_u16(), "nango API request");
        if status.is_success() {
            return Ok((name, bytes));
        }
        let (code, message) = server_error(&bytes, status);
        Err(ClientError::Api { request: name, status: status.as_u16(), code, message })
    }
}

fn command_body(provider_config_key: &str, connection_id: Option<&str>, syncs: &[&str]) -> Value {
    let mut body = serde_json::json!({ "syncs": syncs, "provider_config_key": provider_config_key });
    if let Some(connection_id) = connection_id {
        body["connection_id"] = Value::from(connection_id);
    }
    body
}

/// A record as the records API returns it: the model's fields and `_nango_metadata`.
///
/// ```
/// use nango_runtime::client::Record;
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// # struct Ticket { id: String }
/// let r: Record<Ticket> = serde_json::from_value(serde_json::json!({
///     "id": "1",
///     "_nango_metadata": {
///         "first_seen_at": "2026-01-01T10:00:00.123456+00:00", "last_modified_at": "2026-01-01T10:00:00.123456+00:00",
///         "last_action": "ADDED", "deleted_at": null, "pruned_at": null, "cursor": "abc"
///     }
/// })).unwrap();
/// assert_eq!((r.record.id.as_str(), r.metadata.cursor.as_str()), ("1", "abc"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<M> {
    /// The record.
    #[serde(flatten)]
    pub record: M,
    /// Its `_nango_metadata`; `metadata.cursor` resumes just after this record.
    #[serde(rename = "_nango_metadata")]
    pub metadata: RecordMetadata,
}

/// One page of `GET /records`.
///
/// ```
/// use nango_runtime::client::RecordsPage;
/// let p: RecordsPage<serde_json::Value> = serde_json::from_str(r#"{"records":[],"next_cursor":null}"#).unwrap();
/// assert!(p.records.is_empty() && p.next_cursor.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsPage<M> {
    /// The records, in modification order.
    pub records: Vec<Record<M>>,
    /// The cursor of the next page, `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A `GET /records` request being set up (see [`NangoClient::records`]).
///
/// ```no_run
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// # struct Ticket { id: String }
/// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
/// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
/// use chrono::{TimeZone, Utc};
/// let page = client
///     .records::<Ticket>("github", "acme")
///     .modified_after(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
///     .ids(["1", "2"])
///     .page()
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct RecordsRequest<M> {
    client: NangoClient,
    provider_config_key: String,
    connection_id: String,
    variant: Option<String>,
    modified_after: Option<DateTime<Utc>>,
    cursor: Option<String>,
    limit: Option<u32>,
    filter: Option<String>,
    ids: Vec<String>,
    // `fn() -> M`: the request holds no `M`, so it is Send and Sync whatever `M` is.
    model: PhantomData<fn() -> M>,
}

impl<M> Clone for RecordsRequest<M> {
    fn clone(&self) -> Self {
        RecordsRequest {
            client: self.client.clone(),
            provider_config_key: self.provider_config_key.clone(),
            connection_id: self.connection_id.clone(),
            variant: self.variant.clone(),
            modified_after: self.modified_after,
            cursor: self.cursor.clone(),
            limit: self.limit,
            filter: self.filter.clone(),
            ids: self.ids.clone(),
            model: PhantomData,
        }
    }
}

impl<M> fmt::Debug for RecordsRequest<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordsRequest")
            .field("provider_config_key", &self.provider_config_key)
            .field("connection_id", &self.connection_id)
            .field("variant", &self.variant)
            .field("modified_after", &self.modified_after)
            .field("cursor", &self.cursor)
            .field("limit", &self.limit)
            .field("filter", &self.filter)
            .field("ids", &self.ids)
            .finish()
    }
}

impl<M: Model> RecordsRequest<M> {
    /// Only records modified at or after this time (`modified_after`).
    ///
    /// ```
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk");
    /// let request = client.records::<Ticket>("github", "acme").modified_after(chrono::Utc::now());
    /// # let _ = request;
    /// ```
    pub fn modified_after(mut self, time: DateTime<Utc>) -> Self {
        self.modified_after = Some(time);
        self
    }

    /// Resumes after the record or page this cursor came from (`_nango_metadata.cursor` or
    /// `next_cursor`).
    ///
    /// ```
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk");
    /// let request = client.records::<Ticket>("github", "acme").cursor("MjAyNi0wMS0wMlQ...");
    /// # let _ = request;
    /// ```
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Page size (the server's default is 100, its maximum 10 000).
    ///
    /// ```
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk");
    /// let request = client.records::<Ticket>("github", "acme").limit(1000);
    /// # let _ = request;
    /// ```
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only records whose last action is one of these: a comma list of `added`, `updated`,
    /// `deleted`.
    ///
    /// ```
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk");
    /// let request = client.records::<Ticket>("github", "acme").filter("deleted");
    /// # let _ = request;
    /// ```
    pub fn filter(mut self, filter: &str) -> Self {
        self.filter = Some(filter.to_owned());
        self
    }

    /// Only records with these ids (sent as repeated `ids=` parameters).
    ///
    /// ```
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk");
    /// let request = client.records::<Ticket>("github", "acme").ids(["7", "9"]);
    /// # let _ = request;
    /// ```
    pub fn ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Records of this variant of the sync (`variant`; `base` when not set).
    ///
    /// ```
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_runtime::client::NangoClient::new("http://localhost:3003", "sk");
    /// let request = client.records::<Ticket>("github", "acme").variant("eu");
    /// # let _ = request;
    /// ```
    pub fn variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("model", M::NAME.to_owned())];
        if let Some(variant) = &self.variant {
            query.push(("variant", variant.clone()));
        }
        if let Some(time) = self.modified_after {
            // `Z` rather than `+00:00`: Nango validates with zod's `datetime()`, which takes no
            // offsets.
            query.push(("modified_after", time.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
        }
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(filter) = &self.filter {
            query.push(("filter", filter.clone()));
        }
        if let Some(cursor) = &self.cursor {
            query.push(("cursor", cursor.clone()));
        }
        query.extend(self.ids.iter().map(|id| ("ids", id.clone())));
        query
    }

    /// Reads one page.
    ///
    /// ```no_run
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
    /// let mut request = client.records::<Ticket>("github", "acme");
    /// loop {
    ///     let page = request.page().await?;
    ///     println!("{} records", page.records.len());
    ///     match page.next_cursor {
    ///         Some(cursor) => request = request.cursor(cursor),
    ///         None => break,
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn page(&self) -> Result<RecordsPage<M>, ClientError> {
        let builder = self
            .client
            .request(Method::GET, "/records")
            .header("Connection-Id", &self.connection_id)
            .header("Provider-Config-Key", &self.provider_config_key)
            .query(&self.query());
        let (request, bytes) = self.client.send(builder).await?;
        decode(&request, &bytes)
    }

    /// Every record from the request's starting point to the end, following `next_cursor` one
    /// page at a time (memory holds one page). The stream ends after the first error.
    ///
    /// To resume later, keep the `metadata.cursor` of the last record handled and start the next
    /// stream with [`RecordsRequest::cursor`].
    ///
    /// ```no_run
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Ticket { id: String }
    /// # impl nango_runtime::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// # async fn demo(client: nango_runtime::client::NangoClient) -> Result<(), nango_runtime::client::ClientError> {
    /// use futures_util::TryStreamExt;
    /// let all: Vec<_> = client.records::<Ticket>("github", "acme").stream().try_collect().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream(self) -> impl Stream<Item = Result<Record<M>, ClientError>> + Send + 'static {
        let state = StreamState { request: self, buffer: VecDeque::new(), done: false };
        futures_util::stream::unfold(state, |mut state| async move {
            loop {
                if let Some(record) = state.buffer.pop_front() {
                    return Some((Ok(record), state));
                }
                if state.done {
                    return None;
                }
                match state.request.page().await {
                    Ok(page) => {
                        state.buffer.extend(page.records);
                        match page.next_cursor {
                            // A server answering the cursor it was given would make this loop
                            // forever; stop with an error instead.
                            Some(next) if state.request.cursor.as_deref() == Some(next.as_str()) => {
                                state.done = true;
                                state.buffer.clear();
                                let error = ClientError::InvalidResponse {
                                    request: format!("GET {}/records", state.request.client.base_url),
                                    message: format!("next_cursor {next:?} is the cursor of the request itself"),
                                };
                                return Some((Err(error), state));
                            }
                            Some(next) => state.request.cursor = Some(next),
                            None => state.done = true,
                        }
                    }
                    Err(error) => {
                        state.done = true;
                        return Some((Err(error), state));
                    }
                }
            }
        })
    }
}

struct StreamState<M> {
    request: RecordsRequest<M>,
    buffer: VecDeque<Record<M>>,
    done: bool,
}

/// State of a sync or of its last execution (`status`, `latestExecutionStatus`).
///
/// ```
/// use nango_runtime::client::SyncState;
/// assert_eq!(serde_json::from_str::<SyncState>(r#""PAUSED""#).unwrap(), SyncState::Paused);
/// assert_eq!(serde_json::from_str::<SyncState>(r#""FAILED""#).unwrap(), SyncState::Error);
/// assert_eq!(serde_json::from_str::<SyncState>(r#""SOMETHING_NEW""#).unwrap(), SyncState::Unknown);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncState {
    /// A run is in progress.
    Running,
    /// The schedule is paused.
    Paused,
    /// Stopped (Nango: schedule deleted or never started).
    Stopped,
    /// The last run succeeded.
    Success,
    /// The last run failed. `FAILED` (a run's state in nango-rs' store) reads as this too.
    #[serde(alias = "FAILED")]
    Error,
    /// A state this client does not know (a newer server).
    #[serde(other)]
    Unknown,
}

/// One sync of `GET /sync/status` (spec §7.3). Fields a server may leave out or set to `null`
/// are `Option`s.
///
/// ```
/// use nango_runtime::client::{SyncState, SyncStatus};
/// let s: SyncStatus = serde_json::from_value(serde_json::json!({
///     "id": "5f3c", "name": "issues", "status": "SUCCESS", "type": "INCREMENTAL",
///     "finishedAt": "2026-01-02T10:00:05.000Z", "nextScheduledSyncAt": null, "frequency": "every hour",
///     "latestResult": {"Issue": {"added": 3, "updated": 1, "deleted": 0}}, "recordCount": {"Issue": 120}
/// })).unwrap();
/// assert_eq!(s.status, SyncState::Success);
/// assert_eq!(s.record_count.unwrap()["Issue"], 120);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The sync's id for this connection.
    pub id: String,
    /// The sync's name.
    pub name: String,
    /// Its variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// The connection.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// `RUNNING`, `PAUSED`, `STOPPED`, `SUCCESS` or `ERROR`.
    pub status: SyncState,
    /// `INITIAL` or `INCREMENTAL` (deprecated by Nango).
    #[serde(rename = "type", default)]
    pub sync_type: Option<String>,
    /// End of the last run.
    #[serde(rename = "finishedAt", default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// When the next run is due (`None` when paused).
    #[serde(rename = "nextScheduledSyncAt", default)]
    pub next_scheduled_sync_at: Option<DateTime<Utc>>,
    /// The schedule (`every hour`).
    #[serde(default)]
    pub frequency: Option<String>,
    /// Counts of the last run, per model.
    #[serde(rename = "latestResult", default)]
    pub latest_result: Option<BTreeMap<String, ChangeCounts>>,
    /// State of the last execution.
    #[serde(rename = "latestExecutionStatus", default)]
    pub latest_execution_status: Option<SyncState>,
    /// Records stored, per model.
    #[serde(rename = "recordCount", default)]
    pub record_count: Option<BTreeMap<String, u64>>,
    /// The saved checkpoint.
    #[serde(default)]
    pub checkpoint: Option<Value>,
}

#[derive(Deserialize)]
struct SyncStatusResponse {
    syncs: Vec<SyncStatus>,
}

/// An error of [`NangoClient`], naming the request (`GET http://host/records?model=Ticket`;
/// the secret key is in a header, never in the URL).
///
/// ```
/// use nango_runtime::client::ClientError;
/// let err = ClientError::Api {
///     request: "GET http://localhost:3003/records?model=Ticket".into(),
///     status: 400,
///     code: Some("invalid_query_params".into()),
///     message: "limit: must be at most 10000".into(),
/// };
/// assert_eq!(err.status(), Some(400));
/// assert_eq!(err.code(), Some("invalid_query_params"));
/// assert_eq!(
///     err.to_string(),
///     "GET http://localhost:3003/records?model=Ticket returned 400 invalid_query_params: limit: must be at most 10000"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The request could not be built (bad base URL, a header value with line breaks).
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// No response: connection refused or reset, timeout, truncated body.
    Network {
        /// `METHOD url`.
        request: String,
        /// The transport error with its causes.
        message: String,
    },
    /// The server answered with an error status.
    Api {
        /// `METHOD url`.
        request: String,
        /// The HTTP status.
        status: u16,
        /// The server's error code (`unknown_connection`), when it sent one.
        code: Option<String>,
        /// The server's message, or the start of the body when it is not a JSON error.
        message: String,
    },
    /// A 2xx body that does not decode into the expected type.
    Decode {
        /// `METHOD url`.
        request: String,
        /// Where it fails (`records[3].title`, `.` for the top level).
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A body that decodes but cannot be right (a `next_cursor` that does not move).
    InvalidResponse {
        /// `METHOD url`.
        request: String,
        /// What is wrong.
        message: String,
    },
}

impl ClientError {
    /// The HTTP status of an [`ClientError::Api`] error.
    ///
    /// ```
    /// let err = nango_runtime::client::ClientError::InvalidRequest { message: "bad".into() };
    /// assert_eq!(err.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's error code of an [`ClientError::Api`] error.
    ///
    /// ```
    /// let err = nango_runtime::client::ClientError::Api {
    ///     request: "GET /x".into(), status: 404, code: Some("unknown_connection".into()), message: "no".into(),
    /// };
    /// assert_eq!(err.code(), Some("unknown_connection"));
    /// ```
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidRequest { message } => write!(f, "invalid request: {message}"),
            ClientError::Network { request, message } => write!(f, "{request} failed: {message}"),
            ClientError::Api { request, status, code: Some(code), message } => {
                write!(f, "{request} returned {status} {code}: {message}")
            }
            ClientError::Api { request, status, code: None, message } => {
                write!(f, "{request} returned {status}: {message}")
            }
            ClientError::Decode { request, path, message } => {
                write!(f, "{request}: unexpected response at {path}: {message}")
            }
            ClientError::InvalidResponse { request, message } => write!(f, "{request}: invalid response: {message}"),
        }
    }
}

impl std::error::Error for ClientError {}

fn decode<T: DeserializeOwned>(request: &str, bytes: &[u8]) -> Result<T, ClientError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| ClientError::Decode {
        request: request.to_owned(),
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })?;
    de.end().map_err(|e| ClientError::Decode {
        request: request.to_owned(),
        path: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// The code and message of an error body, in the shapes our server and Nango use:
/// `{"error": {"code", "message", "errors"?}}`, `{"error": "message", "type"?: "code"}`,
/// `{"message": ..}`; anything else is quoted.
fn server_error(bytes: &[u8], status: reqwest::StatusCode) -> (Option<String>, String) {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
        let quoted = excerpt(bytes);
        return (None, if quoted.is_empty() { status.to_string() } else { quoted });
    };
    match body.get("error") {
        Some(Value::Object(error)) => {
            let code = error.get("code").and_then(text);
            let mut message = error.get("message").and_then(text);
            // Validation errors (`invalid_query_params`) list the problems in `errors`, often
            // without a message: those are the useful part.
            if let Some(Value::Array(issues)) = error.get("errors") {
                let details: Vec<String> = issues.iter().map(issue_text).collect();
                if !details.is_empty() {
                    let joined = details.join("; ");
                    message = Some(match message {
                        Some(m) => format!("{m} ({joined})"),
                        None => joined,
                    });
                }
            }
            (code, message.unwrap_or_else(|| status.to_string()))
        }
        Some(Value::String(message)) => {
            let code = body.get("type").and_then(text).or_else(|| body.get("code").and_then(text));
            (code, message.clone())
        }
        _ => {
            let code = body.get("code").and_then(text).or_else(|| body.get("type").and_then(text));
            let message = body.get("message").and_then(text).unwrap_or_else(|| excerpt(bytes));
            (code, message)
        }
    }
}

fn issue_text(issue: &Value) -> String {
    let message = issue.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| issue.to_string());
    match issue.get("path") {
        Some(Value::Array(path)) if !path.is_empty() => {
            let path: Vec<String> =
                path.iter().map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned)).collect();
            format!("{}: {message}", path.join("."))
        }
        Some(Value::String(path)) if !path.is_empty() => format!("{path}: {message}"),
        _ => message,
    }
}

/// The start of a body for an error message, scrubbed of secrets.
fn excerpt(bytes: &[u8]) -> String {
    nango_types::text::excerpt(bytes, EXCERPT_BYTES)
}
