//! The record cache and the state of connections, syncs and runs.
//!
//! ## Layers
//! - [`Store`] (`facade.rs`) is what the runtime, the scheduler, the server and the CLI hold: a
//!   cloneable handle over an `Arc<dyn Backend>`, opened from a URL by [`Store::open`] (the one
//!   place that chooses the backend: `sqlite://` or `postgres://`). It seals credentials with a [`Sealer`](crate::crypto::Sealer) before they reach the
//!   backend and opens them on the way back, so a backend never sees a secret or the key.
//! - [`policy`] decides what a batch does to the records (duplicates, added / updated /
//!   unchanged / re-added, deep merge for `batch_update`, seen-marking for deletion detection),
//!   without a database. Backends call it inside their write transaction; the dry run calls it
//!   over the store's state overlaid with what it virtually wrote, so both count alike.
//! - [`backend`] holds the traits a database implements, split by concern: records,
//!   connections, schedules/runs/logs, deliveries, console sessions, integrations, the
//!   results of actions run in the background, the validators of conditional requests
//!   ([`PageValidator`]), and deployments ([`deploy`]: what is deployed,
//!   the history, applying one in one transaction).
//! - [`SqliteBackend`] (`sqlite/`) is the embedded default: one file in WAL mode, its schema in
//!   `migrations/sqlite/` run by sqlx's migrator. Its SQL is SQLite's, not portable: `?`
//!   placeholders in the multi-row insert (for binding speed), `BEGIN IMMEDIATE`, `PRAGMA`s,
//!   integer microseconds for timestamps.
//! - [`PostgresBackend`] (`postgres/`) is the store for many processes on many machines: the same
//!   [`backend`] traits with PostgreSQL's statements (arrays, `UNNEST`, advisory locks per
//!   connection instead of one write lock), its schema in `migrations/postgres/`. The store tests
//!   run every behaviour on both.
//! - [`JsonlCache`] writes records as JSON Lines per model, for dry runs and inspection without a
//!   database.
//!
//! ## Policies
//! - Every record needs an `id` (string or number; numbers are written in decimal).
//! - A record saved twice in one run is stored once with its last content and counted once
//!   (as added if it was new at the start of the run). Nango keeps the first occurrence in a
//!   batch and the last in its dry run; we do the same thing in both, and across batches.
//! - A record whose canonical content did not change is neither counted nor re-stamped.
//! - Saving a deleted record brings it back and counts it as added (as Nango).

#[cfg(feature = "runtime")]
pub mod backend;
mod canonical;
mod connect;
#[cfg(feature = "runtime")]
pub mod deploy;
mod error;
#[cfg(feature = "runtime")]
mod facade;
mod hash;
mod integration;
mod jsonl;
#[cfg(feature = "runtime")]
mod page;
pub mod policy;
#[cfg(feature = "runtime")]
mod postgres;
mod profile;
#[cfg(feature = "runtime")]
mod sql;
#[cfg(feature = "runtime")]
mod sqlite;
mod tasks;
mod validators;

pub use connect::{ConnectSession, ConnectSessionData, OAuthFlow, ReconnectTarget};
pub use error::{StoreError, StoreResult};
#[cfg(feature = "runtime")]
pub use facade::Store;
pub use hash::canonical_hash;
pub use integration::{Integration, IntegrationCredentials, OAuthApp};
pub use jsonl::JsonlCache;
pub use policy::{ExistingRecord, LastAction, deep_merge};
#[cfg(feature = "runtime")]
pub use postgres::PostgresBackend;
pub use profile::{
    ActionResult, ActionStatus, ConnectionProfile, EndUser, EndUserOrganization, Pruned, merge_metadata,
};
#[cfg(feature = "runtime")]
pub use sqlite::SqliteBackend;
pub use tasks::{ClaimedTask, NewTask, NodeBeat, QueueStats, RunCheckpoint, SyncVersion, TaskClaim, TaskReason};
pub use validators::PageValidator;

use crate::Connection;
#[cfg(feature = "runtime")]
use crate::webhooks::DeliveryAttempt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A connection's key in the store: what runs, schedules and records are filed under.
///
/// Keys come from the store ([`Store::save_connection`], and every read of a connection returns
/// its key in a [`StoredConnection`]); there is no default key.
///
/// ```
/// use nango_runtime::store::ConnectionKey;
/// let key: ConnectionKey = "12".parse().unwrap();
/// assert_eq!((key.get(), key.to_string()), (12, "12".to_owned()));
/// assert!("twelve".parse::<ConnectionKey>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionKey(i64);

impl ConnectionKey {
    /// The key a backend gave a connection (backends make keys; other code gets them from the
    /// store).
    pub const fn new(raw: i64) -> ConnectionKey {
        ConnectionKey(raw)
    }

    /// The number (the API's connection `id`, the console's URLs).
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for ConnectionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ConnectionKey {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ConnectionKey)
    }
}

/// A connection as read from the store: with its key, so no caller looks the key up again.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConnection {
    /// Its key in the store.
    pub key: ConnectionKey,
    /// The connection, credentials opened.
    pub connection: Connection,
}

/// A connection whose credentials could not be opened (sealed under another key, or without a
/// key to open them): listed with the reason, so that one bad connection is a problem of its
/// own and not of every listing.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableConnection {
    /// Its key in the store.
    pub key: ConnectionKey,
    /// Everything stored but the credentials, which are what could not be read:
    /// `connection.credentials` is [`Credentials::None`](crate::Credentials::None) here and must
    /// not be used to call the provider.
    pub connection: Connection,
    /// The kind of the stored credentials (`bearer`, `oauth2`...), kept in clear.
    pub auth_mode: String,
    /// Why they could not be read, with the fix: `cannot open the stored credentials of
    /// connection `acme` of `github`: NANGO_ENCRYPTION_KEY is not the key they were stored with`.
    pub reason: String,
}

/// One connection as listings see it: its credentials opened, or not (with the reason).
#[derive(Debug, Clone, PartialEq)]
pub enum ListedConnection {
    /// Its credentials opened.
    Readable(StoredConnection),
    /// Its credentials did not.
    Unreadable(UnreadableConnection),
}

impl ListedConnection {
    /// Its key.
    pub fn key(&self) -> ConnectionKey {
        match self {
            ListedConnection::Readable(c) => c.key,
            ListedConnection::Unreadable(c) => c.key,
        }
    }

    /// Its stored fields (with credentials only when readable).
    pub fn connection(&self) -> &Connection {
        match self {
            ListedConnection::Readable(c) => &c.connection,
            ListedConnection::Unreadable(c) => &c.connection,
        }
    }

    /// The kind of its credentials (`bearer`...), readable or not.
    pub fn auth_mode(&self) -> &str {
        match self {
            ListedConnection::Readable(c) => c.connection.credentials.kind(),
            ListedConnection::Unreadable(c) => &c.auth_mode,
        }
    }

    /// Why its credentials cannot be read, when they cannot.
    pub fn unreadable_reason(&self) -> Option<&str> {
        match self {
            ListedConnection::Readable(_) => None,
            ListedConnection::Unreadable(c) => Some(&c.reason),
        }
    }
}

/// Every connection of the store, readable or not, each list ordered by integration key and
/// connection id.
///
/// ```
/// use nango_runtime::store::ConnectionList;
/// let list = ConnectionList::default();
/// assert_eq!(list.len(), 0);
/// assert!(list.identities().next().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectionList {
    /// The connections whose credentials opened.
    pub readable: Vec<StoredConnection>,
    /// The connections whose credentials did not, with the reason.
    pub unreadable: Vec<UnreadableConnection>,
}

impl ConnectionList {
    /// How many connections, readable or not.
    pub fn len(&self) -> usize {
        self.readable.len() + self.unreadable.len()
    }

    /// Whether the store has no connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every connection's key and stored fields (credentials aside), readable ones first: what
    /// listings, schedules and statuses need, which never use credentials.
    pub fn identities(&self) -> impl Iterator<Item = (ConnectionKey, &Connection)> {
        self.readable
            .iter()
            .map(|c| (c.key, &c.connection))
            .chain(self.unreadable.iter().map(|c| (c.key, &c.connection)))
    }

    /// Every connection in one list, readable or not, ordered by integration key and connection
    /// id.
    pub fn listed(self) -> Vec<ListedConnection> {
        let mut all: Vec<ListedConnection> = self
            .readable
            .into_iter()
            .map(ListedConnection::Readable)
            .chain(self.unreadable.into_iter().map(ListedConnection::Unreadable))
            .collect();
        all.sort_by(|a, b| {
            let (a, b) = (a.connection(), b.connection());
            (&a.provider_config_key, &a.connection_id).cmp(&(&b.provider_config_key, &b.connection_id))
        });
        all
    }

    /// The reason a connection's credentials cannot be read, if they cannot.
    pub fn unreadable_reason(&self, key: ConnectionKey) -> Option<&str> {
        self.unreadable.iter().find(|c| c.key == key).map(|c| c.reason.as_str())
    }
}

/// Who holds a lease: a random token that only its process knows (so no two processes can take
/// each other's lease for their own), and a label naming the process in messages.
///
/// ```
/// use nango_runtime::store::LeaseOwner;
/// let a = LeaseOwner::new("worker a");
/// assert_eq!(a.label(), "worker a");
/// assert_ne!(a.token(), LeaseOwner::new("worker a").token());
/// assert!(LeaseOwner::for_this_process("run").label().contains(&format!("pid {}", std::process::id())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner {
    token: String,
    label: String,
}

impl LeaseOwner {
    /// An owner with a fresh token.
    pub fn new(label: impl Into<String>) -> LeaseOwner {
        use std::hash::BuildHasher;
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The standard library's randomly keyed hasher: 64 unpredictable bits per process without
        // a dependency; the pid, the clock and a counter make tokens unique besides.
        let random = std::collections::hash_map::RandomState::new().hash_one(n);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        LeaseOwner { token: format!("{random:016x}-{:x}-{nanos:x}-{n}", std::process::id()), label: label.into() }
    }

    /// An owner named after this process: `github-tickets run (pid 4242 on build-01)`.
    pub fn for_this_process(command: &str) -> LeaseOwner {
        let program = std::env::args_os()
            .next()
            .map(std::path::PathBuf::from)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "nango-rs".into());
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "this host".into());
        LeaseOwner::new(format!("{program} {command} (pid {} on {host})", std::process::id()))
    }

    /// The token (stored in the lease row; never shown).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The label (shown to whoever finds the lease held).
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// A lease someone else holds, for the message of whoever asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// Its holder's [`LeaseOwner::label`].
    pub label: String,
    /// Since when it holds it.
    pub since: DateTime<Utc>,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// What [`Store::rotate_key`] did (or would do, in a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyRotation {
    /// Credentials sealed under one of the old keys, re-sealed under the new one.
    pub from_old_keys: usize,
    /// Credentials stored in clear, sealed under the new key.
    pub from_clear: usize,
    /// Credentials already sealed under the new key, left as they were.
    pub already_sealed: usize,
    /// Of those re-sealed, how many are integrations' app credentials (the others are
    /// connections').
    pub integrations: usize,
}

impl KeyRotation {
    /// How many credentials were (or would be) re-sealed.
    pub fn resealed(&self) -> usize {
        self.from_old_keys + self.from_clear
    }
}

/// A record ready to be written: its id, its JSON text and its canonical hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRecord {
    /// The record's `id`, as a string.
    pub id: String,
    /// The record as JSON text (without `_nango_metadata`): what the store keeps.
    pub text: String,
    /// [`canonical_hash`] of the record.
    pub hash: [u8; 16],
}

impl PreparedRecord {
    /// Checks the `id` and computes the hash; `_nango_metadata` is dropped (it is ours to write).
    ///
    /// ```
    /// use nango_runtime::store::PreparedRecord;
    /// let r = PreparedRecord::new("Ticket", serde_json::json!({"id": 42, "title": "x"})).unwrap();
    /// assert_eq!(r.id, "42");
    /// assert_eq!(r.text, r#"{"id":42,"title":"x"}"#);
    /// let e = PreparedRecord::new("Ticket", serde_json::json!({"title": "x"})).unwrap_err();
    /// assert!(e.contains("Missing id field"));
    /// ```
    pub fn new(model: &str, mut json: Value) -> Result<PreparedRecord, String> {
        let Value::Object(map) = &mut json else {
            return Err(format!("a record of model {model} must be a JSON object, not {json}"));
        };
        map.shift_remove("_nango_metadata");
        let id = match map.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.replace('\0', ""),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                let mut text = json.to_string();
                if text.len() > 300 {
                    let cut = (0..=300).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                    text.truncate(cut);
                    text.push('…');
                }
                return Err(format!(
                    "Missing id field in record: {text}. Model: {model}. Every record needs an `id` (a non-empty string or a number)"
                ));
            }
        };
        let hash = canonical_hash(&json);
        Ok(PreparedRecord { id, text: json.to_string(), hash })
    }

    /// [`PreparedRecord::new`] of a typed record, with the same id, text and hash, without
    /// building a `serde_json::Value` on the way: the hash comes from its `Serialize` calls and
    /// the text is written once. Records the fast path does not cover (see `canonical.rs`) take
    /// the `Value` path.
    ///
    /// ```
    /// use nango_runtime::store::PreparedRecord;
    /// #[derive(serde::Serialize)]
    /// struct Ticket { title: String, id: u32 }
    /// let typed = PreparedRecord::from_typed("Ticket", &Ticket { title: "x".into(), id: 42 }).unwrap();
    /// let value = PreparedRecord::new("Ticket", serde_json::json!({"id": 42, "title": "x"})).unwrap();
    /// assert_eq!((typed.id.as_str(), typed.hash), (value.id.as_str(), value.hash));
    /// ```
    pub fn from_typed<T: Serialize + ?Sized>(model: &str, record: &T) -> Result<PreparedRecord, String> {
        if let Some(encoded) = canonical::encode(record)
            && let Ok(text) = serde_json::to_string(record)
        {
            return Ok(PreparedRecord { id: encoded.id, text, hash: encoded.hash });
        }
        let value =
            serde_json::to_value(record).map_err(|e| format!("a record of model {model} cannot be encoded: {e}"))?;
        PreparedRecord::new(model, value)
    }

    /// The record as a JSON value (parsed from [`PreparedRecord::text`]).
    ///
    /// ```
    /// use nango_runtime::store::PreparedRecord;
    /// let r = PreparedRecord::new("Ticket", serde_json::json!({"id": "a", "n": 1})).unwrap();
    /// assert_eq!(r.value().unwrap(), serde_json::json!({"id": "a", "n": 1}));
    /// ```
    pub fn value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&self.text)
    }
}

/// What a batch does.
pub use crate::RecordChange;

/// Added / updated / deleted counts of one model (the shared vocabulary type).
pub use nango_types::ChangeCounts;

/// Counts per model.
pub type ModelCounts = BTreeMap<String, ChangeCounts>;

/// The identity of a run as the record writes need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunIds {
    /// The connection's key in the store.
    pub connection: ConnectionKey,
    /// The run.
    pub run: i64,
    /// The deletion-detection generation: the run that started the current full enumeration
    /// (a resumed run keeps the interrupted run's generation).
    pub epoch: i64,
    /// Whether records seen unchanged must still be marked (deletion detection is on).
    pub track_seen: bool,
}

/// State of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Still going (or the process died during it).
    Running,
    /// Finished without error.
    Success,
    /// Failed; records saved before the failure stay.
    Failed,
}

impl RunStatus {
    /// `RUNNING`, `SUCCESS` or `FAILED`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Success => "SUCCESS",
            RunStatus::Failed => "FAILED",
        }
    }

    /// From [`RunStatus::as_str`]'s text (anything else reads as failed).
    pub fn parse(s: &str) -> RunStatus {
        match s {
            "SUCCESS" => RunStatus::Success,
            "RUNNING" => RunStatus::Running,
            _ => RunStatus::Failed,
        }
    }
}

/// One run in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id.
    pub id: i64,
    /// Integration key.
    pub provider_config_key: String,
    /// Connection id.
    pub connection_id: String,
    /// Sync name.
    pub sync: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub status: RunStatus,
    /// Counts per model.
    pub counts: ModelCounts,
    /// The error of a failed run.
    pub error: Option<String>,
}

/// What a new run starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    /// Ids for record writes.
    pub ids: RunIds,
    /// When the run started (becomes `last_sync_date` when it succeeds).
    pub started_at: DateTime<Utc>,
    /// Start of the last successful run.
    pub last_sync_date: Option<DateTime<Utc>>,
    /// The checkpoint left by an earlier run.
    pub checkpoint: Option<Value>,
}

/// How a run ended, for `Store::finish_run`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// Success or failure.
    pub status: RunStatus,
    /// Counts per model.
    pub counts: ModelCounts,
    /// The error of a failed run.
    pub error: Option<String>,
    /// Set `last_sync_date` to the run's start (successful runs).
    pub advance_last_sync_date: bool,
    /// Clear the checkpoint (successful full runs).
    pub clear_checkpoint: bool,
}

/// Which last actions `/records` returns (`filter=added,updated,deleted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActionFilter {
    /// Records whose last action is ADDED.
    pub added: bool,
    /// Records whose last action is UPDATED.
    pub updated: bool,
    /// Deleted records.
    pub deleted: bool,
}

impl ActionFilter {
    /// Parses `added,updated,deleted` (any case); an unknown word is an error naming it.
    ///
    /// ```
    /// let f = nango_runtime::store::ActionFilter::parse("added,DELETED").unwrap();
    /// assert!(f.added && f.deleted && !f.updated);
    /// assert!(nango_runtime::store::ActionFilter::parse("added,new").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<ActionFilter, String> {
        let mut f = ActionFilter::default();
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word.to_ascii_lowercase().as_str() {
                "added" => f.added = true,
                "updated" => f.updated = true,
                "deleted" => f.deleted = true,
                _ => {
                    return Err(format!("unknown filter `{word}`: use added, updated and/or deleted, comma separated"));
                }
            }
        }
        Ok(f)
    }

    /// The filter as one SQL condition on the records table's columns, the same text on both
    /// backends; `None` when it names no action (which filters nothing).
    #[cfg(feature = "runtime")]
    pub(crate) fn sql_condition(&self) -> Option<String> {
        let parts: Vec<&str> = [
            (self.added, "(deleted_at IS NULL AND last_action = 'ADDED')"),
            (self.updated, "(deleted_at IS NULL AND last_action = 'UPDATED')"),
            (self.deleted, "deleted_at IS NOT NULL"),
        ]
        .into_iter()
        .filter_map(|(wanted, condition)| wanted.then_some(condition))
        .collect();
        (!parts.is_empty()).then(|| format!("({})", parts.join(" OR ")))
    }
}

/// A query of stored records (the records API and the CLI's `records`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordQuery {
    /// The model.
    pub model: String,
    /// Only records modified at or after this time.
    pub modified_after: Option<DateTime<Utc>>,
    /// Resume after this record (a cursor from an earlier page or record).
    pub cursor: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Only these last actions (all when `None`).
    pub filter: Option<ActionFilter>,
    /// Only these ids.
    pub ids: Vec<String>,
}

/// `_nango_metadata` of a record (spec §5.1): the shared vocabulary type.
pub use nango_types::RecordMetadata;

/// A record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Its id.
    pub id: String,
    /// Its content as stored: a JSON object's text (kept as text so pages are served without
    /// parsing and re-encoding every record).
    pub json: String,
    /// Its metadata.
    pub metadata: RecordMetadata,
}

impl StoredRecord {
    /// Its content, parsed.
    pub fn data(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }

    /// `_nango_metadata` as the records API writes it (timestamps with microseconds and
    /// `+00:00`, as Nango's).
    fn metadata_json(&self) -> Value {
        let ts = |t: &DateTime<Utc>| {
            let mut text = String::with_capacity(32);
            write_timestamp(&mut text, t);
            Value::String(text)
        };
        let mut meta = serde_json::Map::new();
        meta.insert("first_seen_at".into(), ts(&self.metadata.first_seen_at));
        meta.insert("last_modified_at".into(), ts(&self.metadata.last_modified_at));
        meta.insert("last_action".into(), Value::String(self.metadata.last_action.clone()));
        meta.insert("deleted_at".into(), self.metadata.deleted_at.as_ref().map_or(Value::Null, ts));
        meta.insert("pruned_at".into(), self.metadata.pruned_at.as_ref().map_or(Value::Null, ts));
        meta.insert("cursor".into(), Value::String(self.metadata.cursor.clone()));
        Value::Object(meta)
    }

    /// The record with `_nango_metadata`, as the records API returns it.
    pub fn to_json(&self) -> Value {
        let mut data = self.data();
        if let Value::Object(map) = &mut data {
            map.insert("_nango_metadata".into(), self.metadata_json());
        }
        data
    }

    /// [`StoredRecord::to_json`] as text, written without parsing the stored record: the
    /// metadata is spliced in before the object's closing brace.
    ///
    /// ```
    /// # use nango_runtime::store::{RecordMetadata, StoredRecord};
    /// let t = chrono::Utc::now();
    /// let r = StoredRecord { id: "1".into(), json: r#"{"id":"1"}"#.into(), metadata: RecordMetadata {
    ///     first_seen_at: t, last_modified_at: t, last_action: "ADDED".into(), deleted_at: None, pruned_at: None,
    ///     cursor: "c".into() } };
    /// let text = r.to_json_text();
    /// assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), r.to_json());
    /// ```
    pub fn to_json_text(&self) -> String {
        let mut out = String::with_capacity(self.json.len() + 320);
        self.write_json_text(&mut out);
        out
    }

    /// [`StoredRecord::to_json_text`], appended to `out` (the records API writes a page into one
    /// buffer this way, the metadata without a `Value` on the way).
    ///
    /// ```
    /// # use nango_runtime::store::{RecordMetadata, StoredRecord};
    /// let t = chrono::Utc::now();
    /// let r = StoredRecord { id: "1".into(), json: "{}".into(), metadata: RecordMetadata {
    ///     first_seen_at: t, last_modified_at: t, last_action: "ADDED".into(), deleted_at: None, pruned_at: None,
    ///     cursor: "c".into() } };
    /// let mut page = String::from("[");
    /// r.write_json_text(&mut page);
    /// assert!(page.starts_with(r#"[{"_nango_metadata":{"first_seen_at":""#), "{page}");
    /// ```
    pub fn write_json_text(&self, out: &mut String) {
        write_record_json(out, &self.json, &self.metadata_ref());
    }

    /// Its metadata, borrowed, for [`write_record_json`].
    fn metadata_ref(&self) -> MetadataRef<'_> {
        let m = &self.metadata;
        MetadataRef {
            first_seen_at: m.first_seen_at,
            last_modified_at: m.last_modified_at,
            last_action: &m.last_action,
            deleted_at: m.deleted_at,
            pruned_at: m.pruned_at,
            cursor: &m.cursor,
        }
    }
}

/// `_nango_metadata` of a record, borrowed: what [`write_record_json`] needs, so a backend can
/// write a page straight from its rows without building a [`StoredRecord`] per row.
pub(crate) struct MetadataRef<'a> {
    pub(crate) first_seen_at: DateTime<Utc>,
    pub(crate) last_modified_at: DateTime<Utc>,
    pub(crate) last_action: &'a str,
    pub(crate) deleted_at: Option<DateTime<Utc>>,
    pub(crate) pruned_at: Option<DateTime<Utc>>,
    pub(crate) cursor: &'a str,
}

/// A stored record's text `json` with `_nango_metadata` spliced in before the object's closing
/// brace, as the records API returns it (see [`StoredRecord::to_json_text`]).
pub(crate) fn write_record_json(out: &mut String, json: &str, metadata: &MetadataRef<'_>) {
    let body = json.trim_end();
    match body.strip_suffix('}') {
        Some(open) => {
            let open = open.trim_end();
            out.push_str(open);
            if !open.ends_with('{') {
                out.push(',');
            }
            out.push_str("\"_nango_metadata\":");
            write_metadata(out, metadata);
            out.push('}');
        }
        None => {
            // Not an object's text (never stored by the store itself): what
            // `StoredRecord::to_json` gives, the content as parsed (null when it is not JSON),
            // with the metadata only if it is an object after all.
            let mut data: Value = serde_json::from_str(json).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut data {
                let mut text = String::with_capacity(320);
                write_metadata(&mut text, metadata);
                map.insert("_nango_metadata".into(), serde_json::from_str(&text).unwrap_or(Value::Null));
            }
            out.push_str(&data.to_string());
        }
    }
}

/// `_nango_metadata` (what [`StoredRecord::metadata_json`] builds) as text, written straight
/// into `out`.
fn write_metadata(out: &mut String, m: &MetadataRef<'_>) {
    let optional = |out: &mut String, t: Option<&DateTime<Utc>>| match t {
        Some(t) => {
            out.push('"');
            write_timestamp(out, t);
            out.push('"');
        }
        None => out.push_str("null"),
    };
    out.push_str("{\"first_seen_at\":");
    optional(out, Some(&m.first_seen_at));
    out.push_str(",\"last_modified_at\":");
    optional(out, Some(&m.last_modified_at));
    out.push_str(",\"last_action\":");
    write_json_string(out, m.last_action);
    out.push_str(",\"deleted_at\":");
    optional(out, m.deleted_at.as_ref());
    out.push_str(",\"pruned_at\":");
    optional(out, m.pruned_at.as_ref());
    out.push_str(",\"cursor\":");
    write_json_string(out, m.cursor);
    out.push('}');
}

/// The records API's response body, `{"records":[...],"next_cursor":...}`, written record by
/// record into one buffer (stored records spliced in as their text, not parsed and
/// re-encoded).
pub(crate) struct PageJson {
    out: String,
    records: usize,
}

impl PageJson {
    /// An empty page with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> PageJson {
        let mut out = String::with_capacity(capacity.max(64));
        out.push_str("{\"records\":[");
        PageJson { out, records: 0 }
    }

    /// Appends a record (see [`write_record_json`]).
    pub(crate) fn record(&mut self, json: &str, metadata: &MetadataRef<'_>) {
        if self.records > 0 {
            self.out.push(',');
        }
        self.records += 1;
        write_record_json(&mut self.out, json, metadata);
    }

    /// The body, with `next_cursor` (`null` on the last page).
    pub(crate) fn finish(mut self, next_cursor: Option<&str>) -> String {
        self.out.push_str("],\"next_cursor\":");
        match next_cursor {
            Some(cursor) => write_json_string(&mut self.out, cursor),
            None => self.out.push_str("null"),
        }
        self.out.push('}');
        self.out
    }
}

/// A JSON string literal of `text`, as serde_json writes it.
fn write_json_string(out: &mut String, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(&Value::String(text.to_owned()).to_string());
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

/// `t` as chrono's `%Y-%m-%dT%H:%M:%S%.6f+00:00` (how Nango writes record timestamps), without
/// parsing that format on every call: the records API writes three per record.
///
/// For example `1970-01-01T00:00:00.000001+00:00` for 1,500 ns after the epoch.
pub(crate) fn write_timestamp(out: &mut String, t: &DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let (year, nanos) = (t.year(), t.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Signed or five-digit years and leap seconds: chrono's own formatting.
        let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"));
        return;
    }
    // Digits pushed by hand: `write!` with widths was most of the time of a page's metadata
    // (three timestamps a record, one of them in the cursor) in the records API's profile.
    push_digits(out, year as u32, 4);
    out.push('-');
    push_digits(out, t.month(), 2);
    out.push('-');
    push_digits(out, t.day(), 2);
    out.push('T');
    push_digits(out, t.hour(), 2);
    out.push(':');
    push_digits(out, t.minute(), 2);
    out.push(':');
    push_digits(out, t.second(), 2);
    out.push('.');
    push_digits(out, nanos / 1000, 6);
    out.push_str("+00:00");
}

/// The last `width` decimal digits of `n`, zero-padded (`n` is below `10^width` wherever it
/// is called).
fn push_digits(out: &mut String, mut n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    for digit in digits[..width].iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &digit in &digits[..width] {
        out.push(char::from(digit));
    }
}

/// A page of records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordPage {
    /// The records, in modification order.
    pub records: Vec<StoredRecord>,
    /// The cursor to pass for the next page, `None` at the end.
    pub next_cursor: Option<String>,
}

impl RecordPage {
    /// The page as the records API returns it: `{"records":[...],"next_cursor":...}`, each
    /// record as [`StoredRecord::to_json_text`] writes it.
    ///
    /// ```
    /// # use nango_runtime::store::RecordPage;
    /// assert_eq!(RecordPage::default().to_api_json(), r#"{"records":[],"next_cursor":null}"#);
    /// ```
    pub fn to_api_json(&self) -> String {
        let mut page = PageJson::with_capacity(self.records.iter().map(|r| r.json.len() + 320).sum::<usize>() + 64);
        for r in &self.records {
            page.record(&r.json, &r.metadata_ref());
        }
        page.finish(self.next_cursor.as_deref())
    }
}

/// Per-sync state kept between runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncState {
    /// Start of the last successful run.
    pub last_sync_date: Option<DateTime<Utc>>,
    /// The saved checkpoint.
    pub checkpoint: Option<Value>,
    /// Paused (`Some(true)`) or started (`Some(false)`) by a command; `None` follows nango.yaml's
    /// `auto_start`.
    pub paused: Option<bool>,
    /// The connection's own frequency, replacing nango.yaml's `runs`.
    pub frequency_secs: Option<u64>,
    /// The connection's own frequency as it was set (`every 2 hours`), for the sync status.
    pub frequency_text: Option<String>,
    /// When the scheduler runs it next.
    pub next_run_at: Option<DateTime<Utc>>,
    /// When a trigger was asked that no run has taken yet (taken by the next run that starts).
    pub triggered_at: Option<DateTime<Utc>>,
}

/// One attempt to deliver a webhook, as kept in the store: which run and model it was about,
/// and the attempt as the sender made it.
#[cfg(feature = "runtime")]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The run whose results it carried.
    pub run: i64,
    /// The model it was about.
    pub model: String,
    /// The attempt.
    #[serde(flatten)]
    pub attempt: DeliveryAttempt,
}

/// The changes of one model that no sync webhook has announced yet: those of the runs of a
/// (connection, sync) since the last announcement, crashed and failed runs included (each write
/// counts its changes in its own transaction, so a run killed half-way is counted too).
///
/// ```
/// use nango_runtime::store::{ChangeCounts, Unannounced};
/// let u = Unannounced { model: "Ticket".into(), counts: ChangeCounts { added: 2, ..Default::default() }, since: None };
/// assert!(!u.counts.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Unannounced {
    /// The model.
    pub model: String,
    /// Added, updated and deleted records, summed over the runs.
    pub counts: ChangeCounts,
    /// Start of the earliest of those runs that changed a record of the model (`None` when none
    /// did): every such record was modified at or after it.
    pub since: Option<DateTime<Utc>>,
}

/// A sync webhook to queue: its model and its exact body (the bytes that are signed and sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingWebhook {
    /// The model it is about.
    pub model: String,
    /// The serialised payload.
    pub body: Vec<u8>,
}

/// A webhook kept in the store until it has been delivered (or its delivery gave up), so that a
/// process killed before delivering it leaves it for the next one to send.
///
/// ```
/// use nango_runtime::store::QueuedWebhook;
/// let q = QueuedWebhook { id: 7, run: 3, model: "Ticket".into(), body: b"{}".to_vec(), queued_at: chrono::Utc::now() };
/// assert_eq!(q.webhook_id(), q.clone().webhook_id()); // the same on every attempt and redelivery
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedWebhook {
    /// Its number in the queue.
    pub id: i64,
    /// The run that queued it.
    pub run: i64,
    /// The model it is about.
    pub model: String,
    /// The serialised payload.
    pub body: Vec<u8>,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
}

impl QueuedWebhook {
    /// Its delivery id (`X-Nango-Rs-Webhook-Id`): the same on every attempt and redelivery, so a
    /// receiver can drop a webhook it has already processed; unlikely to repeat across databases.
    pub fn webhook_id(&self) -> String {
        let key = format!("{}:{}:{}:{}", self.id, self.run, self.model, self.queued_at.timestamp_micros());
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
    }
}

/// A signed-in console session as the store keeps it.
///
/// The store never holds the session id the browser carries, only a keyed digest of it
/// (the console makes it), so reading the database does not let anyone sign in. Whether a
/// session is still valid is the console's decision, from `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The digest of the session id: what the session is found by.
    pub digest: Vec<u8>,
    /// The token every form of the session carries (CSRF protection).
    pub csrf_token: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is as good as the session within a signed-in browser: keep it out of logs.
        f.debug_struct("ConsoleSession")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A line of a run's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// When.
    pub at: DateTime<Utc>,
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// What.
    pub message: String,
}

/// Microseconds since the epoch (how timestamps are stored).
#[cfg(feature = "runtime")]
pub(crate) fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Back from microseconds.
#[cfg(feature = "runtime")]
pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// The records-API cursor of a record: base64 of `<last_modified_at>||<seq>.<key>` (Nango's
/// shape, with our commit-ordered sequence in place of its UUID, so a page never skips a record
/// committed while a reader pages).
#[cfg(feature = "runtime")]
pub(crate) fn encode_cursor(last_modified: i64, seq: i64, key: i64) -> String {
    use base64::Engine;
    use std::fmt::Write;
    let mut text = String::with_capacity(64);
    write_timestamp(&mut text, &from_micros(last_modified));
    let _ = write!(text, "||{seq}.{key}");
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Parses a cursor back into `(seq, key)`.
#[cfg(feature = "runtime")]
pub(crate) fn decode_cursor(cursor: &str) -> Result<(i64, i64), StoreError> {
    use base64::Engine;
    let bad = || StoreError::InvalidCursor { cursor: cursor.to_owned() };
    let bytes = base64::engine::general_purpose::STANDARD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (_, position) = text.split_once("||").ok_or_else(bad)?;
    let (seq, key) = position.split_once('.').ok_or_else(bad)?;
    Ok((seq.parse().map_err(|_| bad())?, key.parse().map_err(|_| bad())?))
}

#[cfg(test)]
mod record_text_tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_chrono_formats_them() {
        let instants = [
            (0, 1_500),
            (1_700_000_000, 999_999_999),
            (1_700_000_000, 0),
            (-1, 5),
            (253_402_300_799, 123_456_789), // 9999-12-31T23:59:59
            (253_402_300_800, 0),           // year 10000
            (-62_198_755_200, 0),           // year -1
            (1_483_228_799, 1_000_000_000), // a leap second
        ];
        for (secs, nanos) in instants {
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            let mut text = String::new();
            write_timestamp(&mut text, &t);
            assert_eq!(text, t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(), "{secs} {nanos}");
        }
    }

    #[test]
    fn records_are_written_as_their_values_would_be() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
        for (json, deleted, action, cursor) in [
            (r#"{"id":"1","a":[1]}"#, None, "ADDED", "abc="),
            ("{ }", Some(t), "UPDATED", "c\"q\\\u{1}"),
            ("[1]", Some(t), "DELETED", ""),
        ] {
            let r = StoredRecord {
                id: "1".into(),
                json: json.into(),
                metadata: RecordMetadata {
                    first_seen_at: t,
                    last_modified_at: t,
                    last_action: action.into(),
                    deleted_at: deleted,
                    pruned_at: deleted,
                    cursor: cursor.into(),
                },
            };
            let mut meta = String::new();
            write_metadata(&mut meta, &r.metadata_ref());
            assert_eq!(meta, r.metadata_json().to_string());
            assert_eq!(serde_json::from_str::<Value>(&r.to_json_text()).unwrap(), r.to_json(), "{json}");
        }
    }
}
