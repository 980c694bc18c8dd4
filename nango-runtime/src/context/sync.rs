//! The context of a sync run.

use super::{
    BATCH_SIZE, BoxFutureRef, EnvironmentVariable, LogLevel, MergingStrategy, NangoScript, RecordBatch, RecordChange,
    Result, SyncEnv, SyncHost, SyncInput,
};
#[cfg(feature = "runtime")]
use crate::http::{HttpClient, Paginate, RequestBuilder};
use crate::store::{PageValidator, PreparedRecord};
use crate::{Connection, Model, SyncDefinition, SyncDescriptor, SyncOutput};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// The context of a run of sync `S`: what `#[nango_sync]` functions receive.
///
/// Records handed to `batch_save`/`batch_update`/`batch_delete` are checked (every record needs
/// an `id`), buffered up to [`BATCH_SIZE`] and written as they fill up; what is still buffered is
/// written when the function returns, also when it returns an error, so records handed over
/// before a failure are kept. In a real run a full batch is written while the function goes on
/// (one batch at a time, in order): a write that fails is the error of the function's next call
/// to the context, or of the run when the function has returned.
///
/// ```
/// use nango_runtime::{Model, NangoSync, SyncDefinition, SyncDescriptor, SyncInput, SyncOutput, SyncType};
///
/// #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Issue { id: i64 }
/// impl Model for Issue {
///     const NAME: &'static str = "Issue";
///     fn id(&self) -> String { self.id.to_string() }
/// }
/// struct Issues;
/// impl SyncDefinition for Issues {
///     const DESCRIPTOR: SyncDescriptor = SyncDescriptor {
///         name: "issues", integration: "github", description: "", runs: "every hour",
///         interval: std::time::Duration::from_secs(3600), sync_type: SyncType::Full,
///         track_deletes: false, auto_start: true, input: None, outputs: &["Issue"],
///         endpoints: &[], scopes: &[], webhook_subscriptions: &[], version: "",
///     };
///     type Metadata = ();
/// }
/// impl SyncOutput<Issue> for Issues {}
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut ctx = NangoSync::<Issues>::new(SyncInput::default());
/// ctx.batch_save(vec![Issue { id: 1 }]).await.unwrap();
/// assert_eq!(ctx.into_batches().await.unwrap()[0].records[0]["id"], 1);
/// # });
/// ```
pub struct NangoSync<S: SyncDefinition> {
    input: SyncInput,
    pub(super) host: Box<dyn SyncHost>,
    connection: Connection,
    environment: Vec<EnvironmentVariable>,
    #[cfg(feature = "runtime")]
    http: HttpClient,
    pending: Option<(&'static str, RecordChange, Vec<PreparedRecord>)>,
    /// Validators of pages (conditional requests), written after the records before them.
    pub(super) validators: Vec<PageValidator>,
    memory: bool,
    _sync: PhantomData<fn() -> S>,
}

impl<S: SyncDefinition> NangoSync<S> {
    /// A context that keeps records in memory and has no provider (tests); see
    /// [`NangoSync::into_batches`].
    pub fn new(input: SyncInput) -> Self {
        let mut ctx = Self::from_env(SyncEnv::in_memory(input));
        ctx.memory = true;
        ctx
    }

    /// The context of a run the runtime prepared.
    pub fn from_env(env: SyncEnv) -> Self {
        NangoSync {
            input: env.input,
            host: env.host,
            connection: env.connection,
            environment: env.environment,
            #[cfg(feature = "runtime")]
            http: env.http,
            pending: None,
            validators: Vec::new(),
            memory: false,
            _sync: PhantomData,
        }
    }

    /// What nango.yaml says about this sync.
    pub fn descriptor(&self) -> &'static SyncDescriptor {
        &S::DESCRIPTOR
    }

    /// The connection this run is for.
    pub fn connection_id(&self) -> &str {
        &self.input.connection_id
    }

    /// Start of the last successful run (`None`: fetch everything).
    pub fn last_sync_date(&self) -> Option<DateTime<Utc>> {
        self.input.last_sync_date
    }

    /// The HTTP client for the connection's provider (credentials, retries, rate limits).
    #[cfg(feature = "runtime")]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// A GET request to the provider's API (relative to its base URL), sent with
    /// `.send_json()` (the answer decoded into a type of yours) or `.send()` (the raw response):
    ///
    /// ```no_run
    /// # async fn demo<S: nango_runtime::SyncDefinition>(nango: &mut nango_runtime::NangoSync<S>) -> nango_runtime::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct User {
    ///     login: String,
    /// }
    ///
    /// let user: User = nango.get("/user").query("per_page", 1).send_json().await?;
    /// nango.log(format!("syncing as {}", user.login));
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "runtime")]
    pub fn get(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http.get(endpoint)
    }

    /// A POST request to the provider.
    #[cfg(feature = "runtime")]
    pub fn post(&self, endpoint: impl Into<String>) -> RequestBuilder {
        self.http.post(endpoint)
    }

    /// Pages of `T` from a paginated endpoint, with the provider's pagination settings unless
    /// overridden on the returned value.
    #[cfg(feature = "runtime")]
    pub fn paginate<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        endpoint: impl Into<String>,
    ) -> Paginate<T> {
        self.http.paginate(endpoint)
    }

    /// The connection's metadata, typed by the sync's `input` model.
    pub fn metadata(&self) -> Result<S::Metadata>
    where
        S::Metadata: serde::de::DeserializeOwned,
    {
        let value = if self.input.metadata.is_null() { serde_json::json!({}) } else { self.input.metadata.clone() };
        serde_json::from_value(value).map_err(|e| {
            format!("the connection's metadata does not match the sync's input model: {e}; replace the connection's metadata with one that matches").into()
        })
    }

    /// Replaces the connection's metadata.
    pub async fn set_metadata(&mut self, metadata: &S::Metadata) -> Result<()>
    where
        S::Metadata: serde::Serialize,
    {
        let value = serde_json::to_value(metadata)?;
        self.input.metadata = value.clone();
        self.host.set_metadata(value).await
    }

    /// The checkpoint saved by an earlier run (or earlier in this one), if any.
    pub fn checkpoint<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>> {
        self.input
            .checkpoint
            .clone()
            .map(|c| {
                serde_json::from_value(c)
                    .map_err(|e| format!("the saved checkpoint does not match its type: {e}").into())
            })
            .transpose()
    }

    /// Saves a checkpoint, durably, with every record handed over before it: the records still
    /// buffered and the checkpoint commit in one transaction (on SQLite and PostgreSQL alike),
    /// together with the run's counts and progress, and earlier batches were committed before.
    /// So whatever stops the run (a crash of the process, of the machine or of the database, a
    /// lost lease), the stored checkpoint never runs ahead of the stored records, and the
    /// records of the batch it came with are never kept without it: a run that resumes from it
    /// has lost nothing and redoes at most the work after it. A run that lost its lease writes
    /// neither. Full syncs' checkpoints are cleared when a run succeeds; incremental syncs keep
    /// theirs until [`NangoSync::clear_checkpoint`].
    pub async fn save_checkpoint<T: serde::Serialize>(&mut self, checkpoint: &T) -> Result<()> {
        let value = serde_json::to_value(checkpoint)?;
        self.flush_with_checkpoint(Some(value.clone())).await?;
        self.input.checkpoint = Some(value);
        Ok(())
    }

    /// Forgets the checkpoint (in the same transaction as the records still buffered).
    pub async fn clear_checkpoint(&mut self) -> Result<()> {
        self.flush_with_checkpoint(None).await?;
        self.input.checkpoint = None;
        Ok(())
    }

    /// Writes the buffered records and the checkpoint with them (see
    /// [`NangoSync::save_checkpoint`]); only the checkpoint when nothing is buffered.
    async fn flush_with_checkpoint(&mut self, checkpoint: Option<serde_json::Value>) -> Result<()> {
        match self.pending.take() {
            Some((model, change, records)) if !records.is_empty() => {
                self.host.write_with_checkpoint(model, change, records, checkpoint).await?
            }
            _ => self.host.save_checkpoint(checkpoint).await?,
        }
        self.save_validators().await
    }

    /// Writes the pages' validators kept so far: after the records handed over before them, so
    /// that a page is never skipped whose records were not written.
    async fn save_validators(&mut self) -> Result<()> {
        if self.validators.is_empty() {
            return Ok(());
        }
        let validators = std::mem::take(&mut self.validators);
        self.host.save_page_validators(validators).await
    }

    /// Logs a message in the run's log (kept with the run, shown by the console) and to
    /// `tracing`, at the `info` level.
    pub fn log(&mut self, message: impl std::fmt::Display) {
        self.log_at(LogLevel::Info, message);
    }

    /// Logs at a level.
    pub fn log_at(&mut self, level: LogLevel, message: impl std::fmt::Display) {
        let message = message.to_string();
        let (sync, connection) = (S::DESCRIPTOR.name, &self.input.connection_id);
        match level {
            LogLevel::Error => tracing::error!(sync, connection = %connection, "{message}"),
            LogLevel::Warn => tracing::warn!(sync, connection = %connection, "{message}"),
            LogLevel::Info => tracing::info!(sync, connection = %connection, "{message}"),
            LogLevel::Debug => tracing::debug!(sync, connection = %connection, "{message}"),
        }
        self.host.log(level.as_str(), message);
    }

    /// The stored records of one of the sync's output models with these ids, by id (Nango's
    /// `getRecordsByIds`); ids without a live record are left out. Records handed over earlier
    /// in this run are written first, so they are found.
    pub async fn get_records_by_ids<M: Model + serde::de::DeserializeOwned>(
        &mut self,
        ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<BTreeMap<String, M>>
    where
        S: SyncOutput<M>,
    {
        self.flush().await?;
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        let mut found = BTreeMap::new();
        // In chunks, as Nango does, so that one call never asks the store for everything.
        for chunk in ids.chunks(100) {
            for json in self.host.records_by_ids(M::NAME, chunk.to_vec()).await? {
                let record: M = serde_path_to_error::deserialize(json).map_err(|e| {
                    format!("a stored `{}` record does not decode at `{}`: {}", M::NAME, e.path(), e.inner())
                })?;
                found.insert(record.id(), record);
            }
        }
        Ok(found)
    }

    /// How later `batch_save`/`batch_update` calls of model `M` treat records changed by
    /// someone else (a webhook, an action) during the run (Nango's `setMergingStrategy`).
    pub async fn set_merging_strategy<M: Model>(&mut self, strategy: MergingStrategy) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.flush().await?;
        self.host.set_merging_strategy(M::NAME, strategy);
        Ok(())
    }

    async fn push<M: Model>(&mut self, change: RecordChange, records: impl IntoIterator<Item = M>) -> Result<()> {
        for record in records {
            let prepared = PreparedRecord::from_typed(M::NAME, &record)?;
            let same = matches!(&self.pending, Some((m, c, _)) if *m == M::NAME && *c == change);
            if !same {
                self.flush().await?;
                self.pending = Some((M::NAME, change, Vec::with_capacity(BATCH_SIZE.min(256))));
            }
            let full = match &mut self.pending {
                Some((_, _, buffer)) => {
                    buffer.push(prepared);
                    buffer.len() >= BATCH_SIZE
                }
                None => false,
            };
            if full {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Writes the buffered records now (and then the validators of the pages fetched
    /// before, see [`NangoSync::page_done`]).
    pub async fn flush(&mut self) -> Result<()> {
        if let Some((model, change, records)) = self.pending.take()
            && !records.is_empty()
        {
            self.host.write(model, change, records).await?;
        }
        self.save_validators().await
    }

    /// Saves records of one of the sync's output models.
    pub async fn batch_save<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Save, records).await
    }

    /// Merges changes into existing records of one of the sync's output models (objects merged
    /// key by key, arrays replaced).
    pub async fn batch_update<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Update, records).await
    }

    /// Deletes records of one of the sync's output models.
    pub async fn batch_delete<M: Model>(&mut self, records: impl IntoIterator<Item = M>) -> Result<()>
    where
        S: SyncOutput<M>,
    {
        self.push(RecordChange::Delete, records).await
    }

    /// Ends the run: writes what is buffered (also after an error of the function, so records
    /// handed over before it are kept) and returns the function's result.
    pub async fn finish(mut self, result: Result<()>) -> Result<()> {
        let flushed = self.flush().await;
        result.and(flushed)
    }

    /// For contexts made by [`NangoSync::new`]: the batches written, in order.
    pub async fn into_batches(mut self) -> Result<Vec<RecordBatch>> {
        self.flush().await?;
        if !self.memory {
            return Err("into_batches is only for contexts made by NangoSync::new".into());
        }
        Ok(self.host.take_batches())
    }
}

impl<S: SyncDefinition> NangoScript for NangoSync<S> {
    fn connection(&self) -> &Connection {
        &self.connection
    }

    fn metadata_json(&self) -> &serde_json::Value {
        &self.input.metadata
    }

    fn replace_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
        self.input.metadata = metadata.clone();
        self.host.set_metadata(metadata)
    }

    fn log_at(&mut self, level: LogLevel, message: impl std::fmt::Display) {
        NangoSync::log_at(self, level, message);
    }

    fn get_environment_variables(&self) -> &[EnvironmentVariable] {
        &self.environment
    }

    #[cfg(feature = "runtime")]
    fn http(&self) -> &HttpClient {
        &self.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SyncType;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Issue {
        id: i64,
    }
    impl Model for Issue {
        const NAME: &'static str = "Issue";
        fn id(&self) -> String {
            self.id.to_string()
        }
    }
    struct Issues;
    impl SyncDefinition for Issues {
        const DESCRIPTOR: SyncDescriptor = SyncDescriptor {
            name: "issues",
            integration: "github",
            description: "",
            runs: "every hour",
            interval: std::time::Duration::from_secs(3600),
            sync_type: SyncType::Full,
            track_deletes: false,
            auto_start: true,
            input: None,
            outputs: &["Issue"],
            endpoints: &[],
            scopes: &[],
            webhook_subscriptions: &[],
            version: "",
        };
        type Metadata = ();
    }
    impl SyncOutput<Issue> for Issues {}

    /// What a host was asked to write: `(records, checkpoint)` per call, the checkpoint being
    /// `None` for a batch alone.
    type Calls = Arc<Mutex<Vec<(usize, Option<Option<serde_json::Value>>)>>>;

    struct Recording(Calls);

    impl SyncHost for Recording {
        fn write(
            &mut self,
            _: &'static str,
            _: RecordChange,
            records: Vec<PreparedRecord>,
        ) -> BoxFutureRef<'_, Result<()>> {
            self.0.lock().unwrap().push((records.len(), None));
            Box::pin(async { Ok(()) })
        }
        fn save_checkpoint(&mut self, checkpoint: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>> {
            self.0.lock().unwrap().push((0, Some(checkpoint)));
            Box::pin(async { Ok(()) })
        }
        fn write_with_checkpoint(
            &mut self,
            _: &'static str,
            _: RecordChange,
            records: Vec<PreparedRecord>,
            checkpoint: Option<serde_json::Value>,
        ) -> BoxFutureRef<'_, Result<()>> {
            self.0.lock().unwrap().push((records.len(), Some(checkpoint)));
            Box::pin(async { Ok(()) })
        }
        fn set_metadata(&mut self, _: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
            Box::pin(async { Ok(()) })
        }
    }

    /// The records still buffered when a checkpoint is saved go to the host in one call with
    /// it (one transaction in the store); with nothing buffered, the checkpoint goes alone.
    #[tokio::test]
    async fn a_checkpoint_is_handed_over_with_the_batch_still_buffered() {
        let calls = Calls::default();
        let mut env = SyncEnv::in_memory(SyncInput::default());
        env.host = Box::new(Recording(calls.clone()));
        let mut ctx = NangoSync::<Issues>::from_env(env);
        ctx.batch_save((0..3).map(|id| Issue { id })).await.unwrap();
        ctx.save_checkpoint(&serde_json::json!({"page": 1})).await.unwrap();
        ctx.save_checkpoint(&serde_json::json!({"page": 2})).await.unwrap();
        ctx.batch_save([Issue { id: 3 }]).await.unwrap();
        ctx.clear_checkpoint().await.unwrap();
        ctx.finish(Ok(())).await.unwrap();
        let page = |n: i64| Some(Some(serde_json::json!({"page": n})));
        assert_eq!(*calls.lock().unwrap(), [(3, page(1)), (0, page(2)), (1, Some(None))]);
    }
}
