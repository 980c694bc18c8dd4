//! Nango's template tests, replayed: a Rust sync or action runs against a template's recorded
//! `mocks/` folder (Nango's layout, see `mocks.rs`), and what it saves, deletes or returns is
//! compared with the template's expected `batchSave.json`, `batchDelete.json` or `output.json`,
//! as Nango's own `vitest` tests compare them. A Nango user keeps their fixtures.
//!
//! The script's requests go over real HTTP to a loopback server answering each with the
//! recording that matches its method, endpoint, query, headers and body (the base URL, and a
//! `base_url` override such as Zendesk's `https://${subdomain}.zendesk.com`, are replaced by the
//! server's: recordings know endpoints, not hosts). The connection's config and metadata are
//! `getConnection.json` and `getMetadata.json`; there is no last sync date (Nango's mock has
//! none) and no retries.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use nango_runtime::replay::TemplateMocks;
//!
//! let mocks = TemplateMocks::open("templates/zendesk/mocks")?;
//! let sync = nango_runtime::registered_syncs().find(|s| s.descriptor.name == "categories").unwrap();
//! mocks.replay_sync(sync).await?.check()?; // the error lists every difference, with its path
//! # Ok(()) }
//! ```
//!
//! The CLI's `replay` command does the same for a script of the program
//! (`my-program replay categories --mocks ../zendesk/mocks`).

mod mocks;
mod server;

use crate::http::{HttpClient, HttpOptions};
use crate::providers::ProviderCatalog;
use crate::{
    ActionRegistration, BoxFutureRef, Connection, Credentials, MemoryScriptHost, RecordBatch, RecordChange, ScriptEnv,
    Secret, SyncEnv, SyncHost, SyncInput, SyncRegistration,
};
use mocks::MockFolder;
use serde_json::Value;
use server::ReplayServer;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a replay could not run (the mocks folder, the loopback server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReplayError(String);

/// A template's recorded `mocks/` folder, to replay scripts against.
#[derive(Debug, Clone)]
pub struct TemplateMocks {
    folder: MockFolder,
    providers: ProviderCatalog,
}

impl TemplateMocks {
    /// The mocks folder at `path` (the `mocks/` folder, or the template's folder holding it);
    /// providers come from the built-in catalog.
    pub fn open(path: impl AsRef<Path>) -> Result<TemplateMocks, ReplayError> {
        Ok(TemplateMocks {
            folder: MockFolder::open(path.as_ref()).map_err(ReplayError)?,
            providers: ProviderCatalog::builtin(),
        })
    }

    /// Uses another provider catalog (the integration's key names the provider).
    pub fn with_providers(mut self, providers: ProviderCatalog) -> TemplateMocks {
        self.providers = providers;
        self
    }

    /// The connection and an HTTP client to a server answering `script`'s requests.
    async fn connect(
        &self,
        integration: &str,
        script: &str,
    ) -> Result<(ReplayServer, Connection, HttpClient), ReplayError> {
        let (config, metadata) = self.folder.connection().map_err(ReplayError)?;
        let server = ReplayServer::start(self.folder.clone(), script)
            .await
            .map_err(|e| ReplayError(format!("cannot start the replay server: {e}")))?;
        let mut connection = Connection::new(integration, "test-connection", integration);
        // Recordings carry no credentials; the provider's templates still need values.
        connection.credentials = Credentials::Bearer { token: Secret::new("nango-replay") };
        connection.connection_config = config;
        connection.metadata = metadata;
        let provider = self.providers.get(integration).unwrap_or_default();
        let options = HttpOptions::default().max_retries(0).timeout(Duration::from_secs(30)).replay_to(server.url());
        let http = HttpClient::new(provider, connection.clone(), options).map_err(|e| ReplayError(e.to_string()))?;
        Ok((server, connection, http))
    }

    /// Runs `sync` against the recordings and collects what it saves and deletes, with what the
    /// template expects (see [`SyncReplay::check`]).
    pub async fn replay_sync(&self, sync: &'static SyncRegistration) -> Result<SyncReplay, ReplayError> {
        let descriptor = sync.descriptor;
        let (server, connection, http) = self.connect(descriptor.integration, descriptor.name).await?;
        let batches = Arc::new(Mutex::new(Vec::new()));
        let input = SyncInput {
            connection_id: connection.connection_id.clone(),
            metadata: connection.metadata.clone(),
            last_sync_date: None,
            checkpoint: None,
        };
        let env =
            SyncEnv { input, host: Box::new(Collect(batches.clone())), connection, environment: Vec::new(), http };
        let outcome = run_to_end((sync.run)(env)).await;
        let batches = std::mem::take(&mut *batches.lock().unwrap_or_else(|e| e.into_inner()));
        let mut replay =
            SyncReplay { sync: descriptor.name, error: with_misses(outcome.err(), &server), ..SyncReplay::default() };
        for model in descriptor.outputs {
            let of = |change| -> Vec<Value> {
                batches
                    .iter()
                    .filter(|b| b.model == *model && b.change == change)
                    .flat_map(|b| b.records.iter().cloned())
                    .collect()
            };
            replay.saved.insert((*model).to_owned(), of(RecordChange::Save));
            replay.deleted.insert((*model).to_owned(), of(RecordChange::Delete));
            let read =
                |file: &str| self.folder.read(&format!("{}/{model}/{file}.json", descriptor.name)).map_err(ReplayError);
            replay.expected_saved.insert((*model).to_owned(), read("batchSave")?);
            replay.expected_deleted.insert((*model).to_owned(), read("batchDelete")?);
        }
        Ok(replay)
    }

    /// Runs `action` with the template's `input.json` against the recordings (see
    /// [`ActionReplay::check`]).
    pub async fn replay_action(&self, action: &'static ActionRegistration) -> Result<ActionReplay, ReplayError> {
        let descriptor = action.descriptor;
        let (server, connection, http) = self.connect(descriptor.integration, descriptor.name).await?;
        let input =
            self.folder.read(&format!("{}/input.json", descriptor.name)).map_err(ReplayError)?.unwrap_or(Value::Null);
        let env = ScriptEnv { connection, environment: Vec::new(), host: Box::new(MemoryScriptHost::default()), http };
        let output = action.call(env, input).await.map_err(|e| {
            let mut message = nango_types::text::error_chain(&e);
            if let Some(payload) = e.payload() {
                message = format!("{message} (payload {payload})");
            }
            with_misses(Some(message), &server).unwrap_or_default()
        });
        let expected = self.folder.read(&format!("{}/output.json", descriptor.name)).map_err(ReplayError)?;
        Ok(ActionReplay { action: descriptor.name, output, expected })
    }
}

/// Runs a script's future to its end in a task of its own, so that a panic is its error.
async fn run_to_end(future: crate::BoxFuture<crate::Result<()>>) -> Result<(), String> {
    match tokio::spawn(future).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(nango_types::text::error_chain(&*e)),
        Err(e) => Err(format!("the function panicked: {e}")),
    }
}

/// The script's error, with the requests no recording answered (the likely cause).
fn with_misses(error: Option<String>, server: &ReplayServer) -> Option<String> {
    // Those the error quotes already (the replay server's answer is in it) are not repeated.
    let misses: Vec<String> =
        server.misses().into_iter().filter(|m| !error.as_deref().is_some_and(|e| e.contains(m.as_str()))).collect();
    match (error, misses.is_empty()) {
        (error, true) => error,
        (error, false) => Some(format!("{}; {}", error.unwrap_or_else(|| "it succeeded".into()), misses.join("; "))),
    }
}

/// Keeps a replayed sync's batches.
struct Collect(Arc<Mutex<Vec<RecordBatch>>>);

impl SyncHost for Collect {
    fn write(
        &mut self,
        model: &'static str,
        change: RecordChange,
        records: Vec<crate::store::PreparedRecord>,
    ) -> BoxFutureRef<'_, crate::Result<()>> {
        let values = records.iter().map(crate::store::PreparedRecord::value).collect::<Result<Vec<_>, _>>();
        let pushed = values.map(|records| {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(RecordBatch { model, change, records });
        });
        Box::pin(async move { Ok(pushed?) })
    }

    fn save_checkpoint(&mut self, _: Option<Value>) -> BoxFutureRef<'_, crate::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn set_metadata(&mut self, _: Value) -> BoxFutureRef<'_, crate::Result<()>> {
        // Nango's mock ignores metadata changes too (`updateMetadata` is a bare spy).
        Box::pin(async { Ok(()) })
    }

    fn records_by_ids(&mut self, model: &'static str, ids: Vec<String>) -> BoxFutureRef<'_, crate::Result<Vec<Value>>> {
        let found = crate::context::records_in_batches(&self.0.lock().unwrap_or_else(|e| e.into_inner()), model, &ids);
        Box::pin(async move { Ok(found) })
    }
}

/// What a replayed sync saved and deleted, per output model, beside what the template expects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReplay {
    /// The sync.
    pub sync: &'static str,
    /// `batch_save` records, in order, per model.
    pub saved: BTreeMap<String, Vec<Value>>,
    /// `batch_delete` records, in order, per model.
    pub deleted: BTreeMap<String, Vec<Value>>,
    /// The function's error, and the requests no recording answered.
    pub error: Option<String>,
    /// `batchSave.json` per model (`None`: the file is missing).
    pub expected_saved: BTreeMap<String, Option<Value>>,
    /// `batchDelete.json` per model.
    pub expected_deleted: BTreeMap<String, Option<Value>>,
}

impl SyncReplay {
    /// Passes as Nango's template test does: the function succeeded, every output model's saved
    /// records are exactly `batchSave.json` (same order, same fields; numbers compared as
    /// numbers, so `3` is `3.0`), and a non-empty `batchDelete.json` is exactly what it deleted.
    /// The error names every difference by model, position and field.
    pub fn check(&self) -> Result<(), ReplayMismatch> {
        let mut problems = Vec::new();
        if let Some(error) = &self.error {
            problems.push(format!("sync `{}` failed: {error}", self.sync));
        }
        for (model, saved) in &self.saved {
            match self.expected_saved.get(model).cloned().flatten() {
                None => problems.push(format!("{model}: the mocks have no `{}/{model}/batchSave.json`", self.sync)),
                Some(expected) => {
                    if let Some(d) = difference(&expected, &Value::Array(saved.clone()), "") {
                        problems.push(format!("{model} saved: {d}"));
                    }
                }
            }
            if let Some(expected) = self.expected_deleted.get(model).cloned().flatten()
                && expected.as_array().is_some_and(|a| !a.is_empty())
            {
                let deleted = Value::Array(self.deleted.get(model).cloned().unwrap_or_default());
                if let Some(d) = difference(&expected, &deleted, "") {
                    problems.push(format!("{model} deleted: {d}"));
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(ReplayMismatch(problems)) }
    }
}

/// What a replayed action returned, beside what the template expects.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionReplay {
    /// The action.
    pub action: &'static str,
    /// Its output, or its error (with the requests no recording answered).
    pub output: Result<Value, String>,
    /// `output.json` (`None`: the file is missing).
    pub expected: Option<Value>,
}

impl ActionReplay {
    /// Passes when the action returned exactly `output.json` (numbers compared as numbers).
    pub fn check(&self) -> Result<(), ReplayMismatch> {
        let problem = match (&self.output, &self.expected) {
            (Err(e), _) => Some(format!("action `{}` failed: {e}", self.action)),
            (Ok(_), None) => Some(format!("the mocks have no `{}/output.json`", self.action)),
            (Ok(output), Some(expected)) => difference(expected, output, "").map(|d| format!("output: {d}")),
        };
        match problem {
            None => Ok(()),
            Some(p) => Err(ReplayMismatch(vec![p])),
        }
    }
}

/// The differences a replay found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ReplayMismatch(pub Vec<String>);

/// The first place `actual` differs from `expected`, as `at `[3].profile.email`: expected ..,
/// got ..`; numbers are equal when their values are.
///
/// ```text
/// [3].profile.email: expected "a@b.c", got null
/// ```
fn difference(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    let at = if path.is_empty() { "the whole".to_owned() } else { format!("`{path}`") };
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if let Some(d) = difference(x, y, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (a.len() != b.len()).then(|| format!("{at}: expected {} items, got {}", a.len(), b.len()))
        }
        (Value::Object(a), Value::Object(b)) => {
            for (key, x) in a {
                let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match b.get(key) {
                    Some(y) => {
                        if let Some(d) = difference(x, y, &field) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("`{field}`: expected {}, got no such field", excerpt(x))),
                }
            }
            b.keys().find(|k| !a.contains_key(*k)).map(|key| {
                let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                format!("`{field}`: expected no such field, got {}", excerpt(&b[key]))
            })
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("{at}: expected {}, got {}", excerpt(a), excerpt(b))),
    }
}

/// A value as compact JSON, cut at 200 characters.
fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_the_field() {
        assert_eq!(difference(&json!([{"a": 1}]), &json!([{"a": 1.0}]), ""), None);
        assert_eq!(
            difference(&json!([{"p": {"e": "x"}}]), &json!([{"p": {"e": null}}]), "").unwrap(),
            "`[0].p.e`: expected \"x\", got null"
        );
        assert_eq!(difference(&json!([1, 2]), &json!([1]), "").unwrap(), "the whole: expected 2 items, got 1");
        assert!(difference(&json!({"a": 1}), &json!({"a": 1, "b": 2}), "").unwrap().contains("expected no such field"));
        assert!(difference(&json!({"a": 1, "c": 3}), &json!({"a": 1}), "").unwrap().contains("got no such field"));
    }
}
