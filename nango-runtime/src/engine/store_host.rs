//! A real run's [`SyncHost`]: its writes go to the store in the order the sync hands them over,
//! on a writer task of their own, so the sync fetches and decodes its next pages while a batch
//! is written.
//!
//! Why a task: a batch's transaction (its lookup, the rows, four B-trees per row, the WAL) is
//! about a quarter of a run's CPU. Awaiting it in the sync's own task leaves the machine's other
//! core idle for that time; handing it over lets the HTTP exchange and the decoding of the next
//! pages run beside it. Memory stays flat: at most one batch is being written while the sync
//! fills the next, and a sync whose next batch is full waits for the one before.
//!
//! (Preparing the records on the writer's side too, their canonical hash and JSON text, was
//! tried: no faster as a whole process, 0.3 MB more peak memory; see BENCHMARKS.md.)
//!
//! What does not change for the sync: writes, checkpoints and page validators reach the store in
//! the order they were handed over, each checkpoint with or after the records before it; the
//! first failure stops everything queued behind it (a checkpoint is never kept without the
//! records before it) and is returned by the sync's next call to the context, or ends the run
//! when the function has already returned. Reads that must see the run's own writes
//! (`get_records_by_ids`) wait for the queue to empty first.

use super::{AbortOnDrop, Progress};
use crate::store::{
    ChangeCounts, ConnectionKey, LogLine, ModelCounts, PageValidator, PreparedRecord, RecordQuery, RunCheckpoint,
    RunIds, Store, StoreError,
};
use crate::{BoxFutureRef, MergingStrategy, RecordChange, Result, SyncHost};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Lines a run keeps in its log (the rest is counted, not kept).
const MAX_LOG_LINES: usize = 1000;

/// What a run shares between its host, its writer task and the engine.
#[derive(Clone)]
pub(super) struct RunShared {
    pub(super) logs: Arc<Mutex<Vec<LogLine>>>,
    pub(super) counts: Arc<Mutex<ModelCounts>>,
    /// Set when a read or write of the store failed during the run (see
    /// [`RunReport::store_failed`](super::RunReport::store_failed)).
    pub(super) store_failed: Arc<AtomicBool>,
    pub(super) progress: Option<Progress>,
}

/// One write of the run, in the order the sync handed it over.
enum Write {
    /// A batch, with the checkpoint to save in its transaction (`Some`), if any; `done` is told
    /// when it is written (or refused).
    Batch {
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<Option<Value>>,
        done: oneshot::Sender<()>,
    },
    Checkpoint(Option<Value>),
    Validators(Vec<PageValidator>),
    Metadata(Value),
    /// Told once every write before it is done.
    Barrier(oneshot::Sender<()>),
}

/// The first failure of the writer: everything after it is dropped, not written.
type Failure = Arc<Mutex<Option<String>>>;

/// The engine's end of a run's writer: [`Writer::finish`] waits for every write handed over.
/// Dropped (the run stopped, or its future dropped), it stops the task with the writes still
/// queued, as the sync's own task is stopped.
pub(super) struct Writer {
    task: AbortOnDrop<()>,
    failure: Failure,
}

impl Writer {
    /// Waits until every write the host handed over is done (the host must be gone: the sync's
    /// task ended); the first failure, if any.
    pub(super) async fn finish(mut self) -> Option<String> {
        if let Err(e) = (&mut self.task.0).await {
            // The task runs store calls only; it ends early only if the runtime shuts down.
            return Some(format!("the run's writer stopped: {e}"));
        }
        self.failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Writes a real run's batches to the store, through its [writer task](write_in_order).
pub(super) struct StoreHost {
    shared: RunShared,
    store: Store,
    ids: RunIds,
    sync: &'static str,
    writes: mpsc::UnboundedSender<Write>,
    failure: Failure,
    /// Told when the last batch handed over is written: the next one waits for it.
    last_batch: Option<oneshot::Receiver<()>>,
    /// Models under [`MergingStrategy::IgnoreIfModifiedAfter`], with the time of this run's last
    /// write of them: stored records modified later were changed by someone else.
    merging: HashMap<&'static str, DateTime<Utc>>,
    started_at: DateTime<Utc>,
    /// Whether the sync had any page's validator stored when the run first asked for one
    /// (`None`: not asked yet). Without any, no page's is looked up: a run's first pages cost
    /// no query each.
    validators_stored: Option<bool>,
}

impl StoreHost {
    /// The host of run `ids` of `sync` and its writer task (spawned here).
    pub(super) fn start(
        store: Store,
        ids: RunIds,
        sync: &'static str,
        started_at: DateTime<Utc>,
        shared: RunShared,
    ) -> (StoreHost, Writer) {
        let (writes, queue) = mpsc::unbounded_channel();
        let failure = Failure::default();
        let task = tokio::spawn(write_in_order(store.clone(), ids, sync, queue, shared.clone(), failure.clone()));
        let host = StoreHost {
            shared,
            store,
            ids,
            sync,
            writes,
            failure: failure.clone(),
            last_batch: None,
            merging: HashMap::new(),
            started_at,
            validators_stored: None,
        };
        (host, Writer { task: AbortOnDrop(task), failure })
    }

    /// `result`, noting a failure of the store.
    fn noted<T>(&self, result: std::result::Result<T, StoreError>) -> std::result::Result<T, StoreError> {
        if result.is_err() {
            self.shared.store_failed.store(true, Ordering::Relaxed);
        }
        result
    }

    /// The writer's first failure, as the error of whatever the sync asks next.
    fn check(&self) -> Result<()> {
        match &*self.failure.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(failure) => Err(failure.clone().into()),
            None => Ok(()),
        }
    }

    /// Hands a write to the writer task.
    fn hand_over(&self, write: Write) -> Result<()> {
        self.check()?;
        self.writes.send(write).map_err(|_| "the run's writer stopped".into())
    }

    /// Waits until everything handed over so far is written; its failure, if any.
    async fn settled(&mut self) -> Result<()> {
        let (told, written) = oneshot::channel();
        self.hand_over(Write::Barrier(told))?;
        // A writer that failed drops the barrier instead of answering it: `check` says why.
        let _ = written.await;
        self.last_batch = None;
        self.check()
    }

    /// Hands a batch over; waits for the one before it first, so that one is written while
    /// the sync produces this one and no more are held.
    async fn write_batch(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<Option<Value>>,
    ) -> Result<()> {
        if self.merging.contains_key(model) {
            return self.write_merging(model, change, records, checkpoint).await;
        }
        if let Some(before) = self.last_batch.take() {
            let _ = before.await;
        }
        let (done, written) = oneshot::channel();
        self.hand_over(Write::Batch { model, change, records, checkpoint, done })?;
        self.last_batch = Some(written);
        Ok(())
    }

    /// A batch of a model under [`MergingStrategy::IgnoreIfModifiedAfter`]: which records
    /// someone else changed depends on when this run last wrote the model, so it is written
    /// before the sync goes on.
    async fn write_merging(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<Option<Value>>,
    ) -> Result<()> {
        self.settled().await?;
        let records = match change {
            RecordChange::Save | RecordChange::Update => self.without_newer(model, records).await?,
            RecordChange::Delete => records,
        };
        let (done, written) = oneshot::channel();
        self.hand_over(Write::Batch { model, change, records, checkpoint, done })?;
        let _ = written.await;
        self.check()?;
        if let Some(last_write) = self.merging.get_mut(model) {
            *last_write = Utc::now();
        }
        Ok(())
    }

    /// `records` without those another writer modified after this run's last write of `model`
    /// (when the model's merging strategy says to leave them).
    async fn without_newer(&self, model: &'static str, records: Vec<PreparedRecord>) -> Result<Vec<PreparedRecord>> {
        let Some(since) = self.merging.get(model).copied() else { return Ok(records) };
        let mut newer = HashSet::new();
        for chunk in records.chunks(500) {
            let query = RecordQuery {
                model: model.to_owned(),
                modified_after: Some(since),
                limit: chunk.len() as u32 + 1,
                ids: chunk.iter().map(|r| r.id.clone()).collect(),
                ..RecordQuery::default()
            };
            let page = self.noted(self.store.records(self.ids.connection, &query).await)?;
            newer.extend(page.records.into_iter().filter(|r| r.metadata.last_modified_at > since).map(|r| r.id));
        }
        Ok(records.into_iter().filter(|r| !newer.contains(&r.id)).collect())
    }
}

/// The writer task: applies the run's writes one after the other until the host is gone, and
/// after a failure drops the rest (answering no barrier, so their waiters read the failure).
async fn write_in_order(
    store: Store,
    ids: RunIds,
    sync: &'static str,
    mut queue: mpsc::UnboundedReceiver<Write>,
    shared: RunShared,
    failure: Failure,
) {
    let mut totals: HashMap<&'static str, u64> = HashMap::new();
    while let Some(write) = queue.recv().await {
        if failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            continue;
        }
        let written = match write {
            Write::Batch { model, change, records, checkpoint, done } => {
                let n = records.len() as u64;
                let applied = match &checkpoint {
                    Some(checkpoint) => {
                        let checkpoint = RunCheckpoint { sync, checkpoint: checkpoint.as_ref() };
                        store.apply_with_checkpoint(ids, model, change, records, checkpoint).await
                    }
                    None => store.apply(ids, model, change, records).await,
                };
                let counted = applied.map(|c| count(&shared, &mut totals, model, n, c));
                let _ = done.send(());
                counted
            }
            Write::Checkpoint(checkpoint) => store.save_run_checkpoint(ids, sync, checkpoint.as_ref()).await,
            Write::Validators(validators) => {
                store.save_page_validators(ids.connection, sync, ids.run, &validators).await
            }
            Write::Metadata(metadata) => store.set_metadata(ids.connection, &metadata).await,
            Write::Barrier(told) => {
                let _ = told.send(());
                Ok(())
            }
        };
        if let Err(e) = written {
            shared.store_failed.store(true, Ordering::Relaxed);
            *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(nango_types::text::error_chain(&e));
        }
    }
}

/// Adds a written batch to the run's counts and reports the progress.
fn count(shared: &RunShared, totals: &mut HashMap<&'static str, u64>, model: &'static str, n: u64, c: ChangeCounts) {
    shared.counts.lock().unwrap_or_else(|e| e.into_inner()).entry(model.to_owned()).or_default().add(c);
    let total = totals.entry(model).or_default();
    *total += n;
    if let Some(progress) = &shared.progress {
        progress(model, *total);
    }
}

impl SyncHost for StoreHost {
    fn log(&mut self, level: &str, message: String) {
        let mut logs = self.shared.logs.lock().unwrap_or_else(|e| e.into_inner());
        if logs.len() < MAX_LOG_LINES {
            logs.push(LogLine { at: Utc::now(), level: level.to_owned(), message });
        } else if logs.len() == MAX_LOG_LINES {
            logs.push(LogLine {
                at: Utc::now(),
                level: "warn".into(),
                message: "further log lines were dropped".into(),
            });
        }
    }

    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
    ) -> BoxFutureRef<'_, Result<()>> {
        Box::pin(self.write_batch(model, change, records, None))
    }

    fn write_with_checkpoint(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<PreparedRecord>,
        checkpoint: Option<Value>,
    ) -> BoxFutureRef<'_, Result<()>> {
        Box::pin(self.write_batch(model, change, records, Some(checkpoint)))
    }

    fn save_checkpoint(&mut self, checkpoint: Option<Value>) -> BoxFutureRef<'_, Result<()>> {
        let handed = self.hand_over(Write::Checkpoint(checkpoint));
        Box::pin(async move { handed })
    }

    fn set_metadata(&mut self, metadata: Value) -> BoxFutureRef<'_, Result<()>> {
        Box::pin(async move {
            self.hand_over(Write::Metadata(metadata))?;
            self.settled().await
        })
    }

    fn records_by_ids(&mut self, model: &'static str, ids: Vec<String>) -> BoxFutureRef<'_, Result<Vec<Value>>> {
        Box::pin(async move {
            self.settled().await?;
            let found = live_records_by_ids(&self.store, self.ids.connection, model, ids).await;
            if found.is_err() {
                self.shared.store_failed.store(true, Ordering::Relaxed);
            }
            found
        })
    }

    fn page_validator(&mut self, url: String) -> BoxFutureRef<'_, Result<Option<PageValidator>>> {
        // Not after the queue, nor the validators this run saved after it asked whether there
        // are any: one missed is only a page fetched whole, never a wrong one.
        Box::pin(async move {
            self.check()?;
            let (connection, sync) = (self.ids.connection, self.sync);
            let stored = match self.validators_stored {
                Some(stored) => stored,
                None => {
                    let stored = self.noted(self.store.has_page_validators(connection, sync).await)?;
                    *self.validators_stored.insert(stored)
                }
            };
            if !stored {
                return Ok(None);
            }
            Ok(self.noted(self.store.page_validator(connection, sync, &url).await)?)
        })
    }

    fn save_page_validators(&mut self, validators: Vec<PageValidator>) -> BoxFutureRef<'_, Result<()>> {
        let handed = self.hand_over(Write::Validators(validators));
        Box::pin(async move { handed })
    }

    fn set_merging_strategy(&mut self, model: &'static str, strategy: MergingStrategy) {
        match strategy {
            MergingStrategy::Override => {
                self.merging.remove(model);
            }
            MergingStrategy::IgnoreIfModifiedAfter => {
                // Until the run writes the model, anything modified since the run began is newer.
                self.merging.entry(model).or_insert(self.started_at);
            }
        }
    }
}

/// The live records of `model` with these ids, in the order asked.
pub(super) async fn live_records_by_ids(
    store: &Store,
    connection: ConnectionKey,
    model: &str,
    ids: Vec<String>,
) -> Result<Vec<Value>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let query =
        RecordQuery { model: model.to_owned(), limit: ids.len() as u32, ids: ids.clone(), ..RecordQuery::default() };
    let page = store.records(connection, &query).await?;
    let mut by_id: HashMap<String, Value> = page
        .records
        .into_iter()
        .filter(|r| r.metadata.deleted_at.is_none())
        .map(|r| (r.id.clone(), r.data()))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}
