//! Syncs of a connection: their status (`GET /sync/status`) and the commands that run, pause
//! and start them (`POST /sync/trigger|pause|start`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::decode;
use crate::{ChangeCounts, ClientError, NangoClient};

impl NangoClient {
    /// Status of syncs of a connection (`GET /sync/status`); an empty `syncs` asks for all (`*`).
    ///
    /// ```no_run
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
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
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
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
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
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
    /// # async fn demo(client: nango_client::NangoClient) -> Result<(), nango_client::ClientError> {
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
}

fn command_body(provider_config_key: &str, connection_id: Option<&str>, syncs: &[&str]) -> Value {
    let mut body = serde_json::json!({ "syncs": syncs, "provider_config_key": provider_config_key });
    if let Some(connection_id) = connection_id {
        body["connection_id"] = Value::from(connection_id);
    }
    body
}

/// State of a sync or of its last execution (`status`, `latestExecutionStatus`).
///
/// ```
/// use nango_client::SyncState;
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
/// use nango_client::{SyncState, SyncStatus};
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
