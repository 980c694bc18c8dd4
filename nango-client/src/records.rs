//! Records: `GET /records` one page at a time ([`RecordsRequest::page`]) or as a stream that
//! follows `next_cursor` ([`RecordsRequest::stream`]), and the shapes it returns.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Stream, StreamExt};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::error::decode;
use crate::{ClientError, Model, NangoClient};

impl NangoClient {
    /// Records of model `M` for a connection: set the options, then read a
    /// [page](RecordsRequest::page) or [stream](RecordsRequest::stream) them.
    ///
    /// ```no_run
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
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
}

pub use nango_types::RecordMetadata;

/// A record as the records API returns it: the model's fields and `_nango_metadata`.
///
/// ```
/// use nango_client::Record;
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
/// use nango_client::RecordsPage;
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
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
/// # struct Ticket { id: String }
/// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
/// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk");
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk");
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk");
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk");
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk");
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// let client = nango_client::NangoClient::new("http://localhost:3003", "sk");
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
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
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
    /// use futures_util::TryStreamExt;
    /// let all: Vec<_> = client.records::<Ticket>("github", "acme").stream().try_collect().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream(self) -> RecordStream<M> {
        let state = StreamState { request: self, buffer: VecDeque::new(), done: false };
        let records = futures_util::stream::unfold(state, |mut state| async move {
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
        });
        RecordStream { records: Box::pin(records) }
    }
}

/// The records of a [`RecordsRequest`], one page fetched at a time: a [`Stream`], and
/// [`RecordStream::next`] for consumers that use no stream combinators.
///
/// ```no_run
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
/// # struct Ticket { id: String }
/// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
/// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
/// let mut records = client.records::<Ticket>("github", "acme").stream();
/// while let Some(record) = records.next().await {
///     println!("{}", record?.record.id);
/// }
/// # Ok(())
/// # }
/// ```
pub struct RecordStream<M> {
    // Boxed: the state machine of the page loop has no name to write in a field.
    records: Pin<Box<dyn Stream<Item = Result<Record<M>, ClientError>> + Send>>,
}

impl<M> RecordStream<M> {
    /// The next record, `None` after the last one or after an error.
    ///
    /// ```no_run
    /// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    /// # struct Ticket { id: String }
    /// # impl nango_client::Model for Ticket { const NAME: &'static str = "Ticket"; fn id(&self) -> String { self.id.clone() } }
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
    /// let first = client.records::<Ticket>("github", "acme").limit(1).stream().next().await.transpose()?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<Result<Record<M>, ClientError>> {
        self.records.next().await
    }
}

impl<M> Stream for RecordStream<M> {
    type Item = Result<Record<M>, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.records.as_mut().poll_next(cx)
    }
}

impl<M> fmt::Debug for RecordStream<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordStream").finish_non_exhaustive()
    }
}

struct StreamState<M> {
    request: RecordsRequest<M>,
    buffer: VecDeque<Record<M>>,
    done: bool,
}
