//! The model-removed webhook: a deployment stopped storing a model for an integration and
//! deleted its records (a sync removed, or its output changed). Nango has no such webhook; a
//! consumer that mirrors records learns here that it should drop its copy.

use serde::{Deserialize, Serialize};

/// `{from: "nango", type: "model_removed", providerConfigKey, model, syncNames, connectionIds,
/// recordsDeleted, deployment, removedAt}`: one per (integration, model) a deployment removed.
/// `deployment` is the fingerprint of the deployed version that removed it; `removedAt` is
/// written as JavaScript's `Date.toISOString()` does.
///
/// ```
/// use nango_client::webhooks::ModelRemovedWebhook;
/// let hook: ModelRemovedWebhook = serde_json::from_str(r#"{"from": "nango", "type": "model_removed",
///     "providerConfigKey": "github", "model": "Issue", "syncNames": ["issues"], "connectionIds": ["acme"],
///     "recordsDeleted": 250, "deployment": "9c1e", "removedAt": "2026-01-02T10:00:00.000Z"}"#).unwrap();
/// assert_eq!((hook.model.as_str(), hook.records_deleted), ("Issue", 250));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRemovedWebhook {
    /// Always `nango`.
    pub from: String,
    /// Always `model_removed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The integration.
    pub provider_config_key: String,
    /// The model whose records were deleted.
    pub model: String,
    /// The removed syncs that stored it (empty when the model was dropped from a sync that
    /// stays).
    pub sync_names: Vec<String>,
    /// The connections that held records of it.
    pub connection_ids: Vec<String>,
    /// How many live records were deleted.
    pub records_deleted: u64,
    /// The fingerprint of the deployment.
    pub deployment: String,
    /// When the deployment was applied.
    pub removed_at: String,
}
