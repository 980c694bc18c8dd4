//! What sync, action and on-event functions receive from the runtime.
//!
//! - [`NangoSync`] (`sync.rs`): the context of a sync run, typed by the sync, so saving a model
//!   that nango.yaml does not list as the sync's output does not compile.
//! - [`NangoAction`] and [`NangoEvent`] (`script.rs`): the contexts of actions and on-event
//!   scripts, over a [`ScriptEnv`].
//! - [`SyncHost`] (`host.rs`): where a sync's records go; the runtime's engine provides the
//!   store and dry-run hosts, [`MemoryHost`] keeps them in memory for tests.
//!
//! - [`PageIfChanged`] (`conditional.rs`): conditional requests of a sync, a page skipped when
//!   the provider answers `304 Not Modified` to its stored `ETag`.
//! - [`NangoScript`] (`nango_script.rs`): what every script's context offers (requests, the
//!   connection, metadata, logs, environment variables), so helpers are written once for syncs,
//!   actions and on-event scripts.
//! - [`ActionError`] (`action_error.rs`): how an action failed, as its caller is answered.
//! - [`LogLevel`], [`EnvironmentVariable`], [`MergingStrategy`] (`vocabulary.rs`): the small types
//!   of the scripts' SDK.
//!
//! The registry of the functions of a binary is [`crate::registry`].

mod action_error;
#[cfg(feature = "runtime")]
mod conditional;
mod host;
mod nango_script;
mod script;
mod sync;
mod vocabulary;

pub use action_error::ActionError;
#[cfg(feature = "runtime")]
pub use conditional::{FetchedPage, PageIfChanged};
pub use host::*;
pub use nango_script::NangoScript;
pub use script::*;
pub use sync::*;
pub use vocabulary::*;

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;

/// The error type of sync and action functions.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Result` with [`Error`].
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a sync run starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncInput {
    /// The connection the run is for.
    pub connection_id: String,
    /// The connection's metadata (the sync's `input` model), as JSON.
    pub metadata: serde_json::Value,
    /// Start of the last successful run; `None` on a first or full run.
    pub last_sync_date: Option<DateTime<Utc>>,
    /// The checkpoint an earlier run saved (`None` if none or cleared).
    pub checkpoint: Option<serde_json::Value>,
}

/// What a batch does to the records it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordChange {
    /// Insert or replace.
    Save,
    /// Merge into existing records.
    Update,
    /// Delete (records carry at least their `id`).
    Delete,
}

/// Records a sync handed over, as one write.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordBatch {
    /// The model's name.
    pub model: &'static str,
    /// What to do with them.
    pub change: RecordChange,
    /// The records, as JSON.
    pub records: Vec<serde_json::Value>,
}

/// A boxed, sendable future borrowing its receiver.
pub type BoxFutureRef<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
