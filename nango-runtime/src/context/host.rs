//! Where a sync's records, checkpoints and metadata go.

use super::{
    BoxFutureRef, EnvironmentVariable, LogLevel, MergingStrategy, RecordBatch, RecordChange, Result, SyncInput,
};
#[cfg(feature = "runtime")]
use crate::http::HttpClient;
use crate::store::{PageValidator, PreparedRecord};
use crate::{Connection, SyncRegistration};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Where a sync's records, checkpoints and metadata go: the store in a real run, counters in a
/// dry run, memory in tests. The runtime provides the implementations.
pub trait SyncHost: Send {
    /// Writes one batch (at most [`BATCH_SIZE`] records of one model and one change).
    ///
    /// A host may return before the batch is written and write it while the sync goes on (a
    /// real run's host does: one batch at a time, in order, with the checkpoints and validators
    /// handed over after it behind it). Its failure then comes back from a later call, and
    /// nothing handed over after the failed batch is written.
    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> BoxFutureRef<'_, Result<()>>;
    /// Saves (`Some`) or clears (`None`) the checkpoint, durably, after every earlier write.
    fn save_checkpoint(&mut self, checkpoint: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>>;
    /// Writes one batch and saves (`Some`) or clears (`None`) the checkpoint with it: a host
    /// with transactions commits both at once, so the checkpoint is never kept without the
    /// batch, nor the batch without the checkpoint. This default writes one, then the other.
    fn write_with_checkpoint(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<serde_json::Value>,
    ) -> BoxFutureRef<'_, Result<()>> {
        Box::pin(async move {
            self.write(model, change, records).await?;
            self.save_checkpoint(checkpoint).await
        })
    }
    /// Replaces the connection's metadata.
    fn set_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>>;
    /// Keeps a line in the run's log (`debug`, `info`, `warn` or `error`).
    fn log(&mut self, level: &str, message: String) {
        let _ = (level, message);
    }
    /// The batches kept in memory ([`MemoryHost`] only; others keep none).
    fn take_batches(&mut self) -> Vec<RecordBatch> {
        Vec::new()
    }
    /// The stored records of `model` with these ids (deleted ones left out), after every write
    /// handed over before the call (Nango's `getRecordsByIds`).
    fn records_by_ids(
        &mut self,
        model: &'static str,
        ids: Vec<String>,
    ) -> BoxFutureRef<'_, Result<Vec<serde_json::Value>>> {
        let _ = (model, ids);
        Box::pin(async { Err("this run keeps no records to read back".into()) })
    }
    /// The validator stored for the page at `url` (conditional requests: see
    /// [`NangoSync::send_json_if_changed`](crate::NangoSync::send_json_if_changed)); hosts that
    /// keep none (memory, dry runs: every page is fetched) have none.
    fn page_validator(&mut self, url: String) -> BoxFutureRef<'_, Result<Option<PageValidator>>> {
        let _ = url;
        Box::pin(async { Ok(None) })
    }
    /// Stores pages' validators (after every write handed over before the call).
    fn save_page_validators(&mut self, validators: Vec<PageValidator>) -> BoxFutureRef<'_, Result<()>> {
        let _ = validators;
        Box::pin(async { Ok(()) })
    }
    /// How later batches of `model` treat records changed by someone else during the run. Hosts
    /// where nothing else writes meanwhile (memory, dry runs) have nothing to do.
    fn set_merging_strategy(&mut self, model: &'static str, strategy: MergingStrategy) {
        let _ = (model, strategy);
    }
}

/// Where an action's or on-event script's metadata changes and log lines go: the store in a
/// real run, memory in tests ([`MemoryScriptHost`]).
pub trait ScriptHost: Send {
    /// Replaces the connection's metadata.
    fn set_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>>;
    /// Keeps a line of the script's log.
    fn log(&mut self, level: LogLevel, message: String) {
        let _ = (level, message);
    }
}

/// A [`ScriptHost`] in memory; clones share it, so a test keeps one to read what the script did.
///
/// ```
/// use nango_runtime::{LogLevel, MemoryScriptHost, ScriptHost};
/// let host = MemoryScriptHost::default();
/// let mut handed_out = host.clone();
/// handed_out.log(LogLevel::Warn, "careful".into());
/// assert_eq!(host.logs(), [(LogLevel::Warn, "careful".to_owned())]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryScriptHost {
    state: Arc<Mutex<MemoryScriptState>>,
}

#[derive(Debug, Default)]
struct MemoryScriptState {
    metadata: Option<serde_json::Value>,
    logs: Vec<(LogLevel, String)>,
}

impl MemoryScriptHost {
    /// The last metadata set, if any.
    pub fn metadata(&self) -> Option<serde_json::Value> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).metadata.clone()
    }

    /// The lines logged, in order.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).logs.clone()
    }
}

impl ScriptHost for MemoryScriptHost {
    fn set_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).metadata = Some(metadata);
        Box::pin(async { Ok(()) })
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).logs.push((level, message));
    }
}

/// The live records of `model` in `batches` with these ids, in the order asked (a batch
/// replaces, merges into or deletes records as the store would).
pub(crate) fn records_in_batches(batches: &[RecordBatch], model: &str, ids: &[String]) -> Vec<serde_json::Value> {
    let mut live: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for batch in batches.iter().filter(|b| b.model == model) {
        for record in &batch.records {
            let id = crate::__private::id_string(&record["id"]);
            if !ids.contains(&id) {
                continue;
            }
            match batch.change {
                RecordChange::Save => {
                    live.insert(id, record.clone());
                }
                RecordChange::Update => match live.get_mut(&id) {
                    Some(stored) => crate::store::policy::deep_merge(stored, record.clone()),
                    None => {
                        live.insert(id, record.clone());
                    }
                },
                RecordChange::Delete => {
                    live.remove(&id);
                }
            }
        }
    }
    ids.iter().filter_map(|id| live.remove(id)).collect()
}

/// Records are handed to the [`SyncHost`] in batches of at most this many: memory stays flat
/// whatever a run produces, and each batch is one transaction.
pub const BATCH_SIZE: usize = 1000;

/// Keeps every batch in memory (tests, and [`NangoSync::new`](crate::NangoSync::new)).
#[derive(Debug, Default)]
pub struct MemoryHost {
    /// The batches written, in order.
    pub batches: Vec<RecordBatch>,
    /// The last checkpoint saved.
    pub checkpoint: Option<serde_json::Value>,
    /// The last metadata set.
    pub metadata: Option<serde_json::Value>,
}

impl SyncHost for MemoryHost {
    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> BoxFutureRef<'_, Result<()>> {
        let values = records.iter().map(PreparedRecord::value).collect::<std::result::Result<Vec<_>, _>>();
        let pushed = values.map(|records| self.batches.push(RecordBatch { model, change, records }));
        Box::pin(async move { Ok(pushed?) })
    }

    fn save_checkpoint(&mut self, checkpoint: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>> {
        self.checkpoint = checkpoint;
        Box::pin(async { Ok(()) })
    }

    fn set_metadata(&mut self, metadata: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
        self.metadata = Some(metadata);
        Box::pin(async { Ok(()) })
    }

    fn take_batches(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.batches)
    }

    fn records_by_ids(
        &mut self,
        model: &'static str,
        ids: Vec<String>,
    ) -> BoxFutureRef<'_, Result<Vec<serde_json::Value>>> {
        let found = records_in_batches(&self.batches, model, &ids);
        Box::pin(async move { Ok(found) })
    }
}

/// Everything a sync run gets from the runtime: its input, where records go and an HTTP client
/// for the connection.
pub struct SyncEnv {
    /// Connection, metadata, last sync date and checkpoint.
    pub input: SyncInput,
    /// Where records, checkpoints and metadata go.
    pub host: Box<dyn SyncHost>,
    /// The connection as it was when the run started (its metadata is `input.metadata`).
    pub connection: Connection,
    /// The environment variables scripts get.
    pub environment: Vec<EnvironmentVariable>,
    /// Requests to the provider with the connection's credentials.
    #[cfg(feature = "runtime")]
    pub http: HttpClient,
}

impl SyncEnv {
    /// An environment that keeps records in memory and has no provider (tests).
    pub fn in_memory(input: SyncInput) -> SyncEnv {
        SyncEnv {
            connection: detached_connection(&input.connection_id, &input.metadata),
            environment: Vec::new(),
            input,
            host: Box::new(MemoryHost::default()),
            #[cfg(feature = "runtime")]
            http: HttpClient::detached(),
        }
    }
}

/// Runs a registered sync in memory (no store, no provider) and returns the batches it wrote:
/// for unit tests of sync functions that do not call the network.
pub async fn run_in_memory(sync: &SyncRegistration, input: SyncInput) -> Result<Vec<RecordBatch>> {
    let host = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<RecordBatch>>>);
    impl SyncHost for Shared {
        fn write(
            &mut self,
            model: &'static str,
            change: RecordChange,
            records: Vec<PreparedRecord>,
        ) -> BoxFutureRef<'_, Result<()>> {
            let values = records.iter().map(PreparedRecord::value).collect::<std::result::Result<Vec<_>, _>>();
            let pushed = values.map(|records| {
                self.0.lock().unwrap_or_else(|e| e.into_inner()).push(RecordBatch { model, change, records });
            });
            Box::pin(async move { Ok(pushed?) })
        }
        fn save_checkpoint(&mut self, _: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>> {
            Box::pin(async { Ok(()) })
        }
        fn set_metadata(&mut self, _: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
            Box::pin(async { Ok(()) })
        }
    }
    let env = SyncEnv {
        connection: detached_connection(&input.connection_id, &input.metadata),
        environment: Vec::new(),
        input,
        host: Box::new(Shared(host.clone())),
        #[cfg(feature = "runtime")]
        http: HttpClient::detached(),
    };
    (sync.run)(env).await?;
    let batches = std::mem::take(&mut *host.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(batches)
}

/// The connection of a context made without a store: its id and metadata only.
pub(crate) fn detached_connection(connection_id: &str, metadata: &serde_json::Value) -> Connection {
    let mut connection = Connection::new("", connection_id, "");
    connection.metadata = metadata.clone();
    connection
}
