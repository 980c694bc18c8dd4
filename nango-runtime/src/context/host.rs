//! Where a sync's records, checkpoints and metadata go.

use super::{BoxFutureRef, RecordBatch, RecordChange, Result, SyncInput};
use crate::SyncRegistration;
#[cfg(feature = "runtime")]
use crate::http::HttpClient;
use crate::store::PreparedRecord;

/// Where a sync's records, checkpoints and metadata go: the store in a real run, counters in a
/// dry run, memory in tests. The runtime provides the implementations.
pub trait SyncHost: Send {
    /// Writes one batch (at most [`BATCH_SIZE`] records of one model and one change).
    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> BoxFutureRef<'_, Result<()>>;
    /// Saves (`Some`) or clears (`None`) the checkpoint, durably, after every earlier write.
    fn save_checkpoint(&mut self, checkpoint: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>>;
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
        self.batches.push(RecordBatch { model, change, records: records.into_iter().map(|r| r.json).collect() });
        Box::pin(async { Ok(()) })
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
}

/// Everything a sync run gets from the runtime: its input, where records go and an HTTP client
/// for the connection.
pub struct SyncEnv {
    /// Connection, metadata, last sync date and checkpoint.
    pub input: SyncInput,
    /// Where records, checkpoints and metadata go.
    pub host: Box<dyn SyncHost>,
    /// Requests to the provider with the connection's credentials.
    #[cfg(feature = "runtime")]
    pub http: HttpClient,
}

impl SyncEnv {
    /// An environment that keeps records in memory and has no provider (tests).
    pub fn in_memory(input: SyncInput) -> SyncEnv {
        SyncEnv {
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
            let batch = RecordBatch { model, change, records: records.into_iter().map(|r| r.json).collect() };
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(batch);
            Box::pin(async { Ok(()) })
        }
        fn save_checkpoint(&mut self, _: Option<serde_json::Value>) -> BoxFutureRef<'_, Result<()>> {
            Box::pin(async { Ok(()) })
        }
        fn set_metadata(&mut self, _: serde_json::Value) -> BoxFutureRef<'_, Result<()>> {
            Box::pin(async { Ok(()) })
        }
    }
    let env = SyncEnv {
        input,
        host: Box::new(Shared(host.clone())),
        #[cfg(feature = "runtime")]
        http: HttpClient::detached(),
    };
    (sync.run)(env).await?;
    let batches = std::mem::take(&mut *host.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(batches)
}
