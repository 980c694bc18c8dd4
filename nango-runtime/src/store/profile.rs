//! What Nango's connection API shows of a connection besides what syncs use: its tags, the end
//! user it belongs to and when its credentials were last fetched; and the results of actions run
//! in the background (`X-Async`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The end user a connection belongs to, as Nango's API shows it (`end_user`).
///
/// ```
/// let user: nango_runtime::store::EndUser = serde_json::from_str(r#"{"id": "u1", "email": "a@b.c"}"#).unwrap();
/// assert_eq!(serde_json::to_value(&user).unwrap()["display_name"], serde_json::Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUser {
    /// Your id of the user.
    pub id: String,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
    /// Their name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Tags of the user.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// Their organization.
    #[serde(default)]
    pub organization: Option<EndUserOrganization>,
}

/// The organization of an [`EndUser`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndUserOrganization {
    /// Your id of the organization.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A connection's tags, end user and last credentials fetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionProfile {
    /// Tags (keys in lower case).
    pub tags: BTreeMap<String, String>,
    /// The end user, if one was set.
    pub end_user: Option<EndUser>,
    /// When its credentials were last returned by the API.
    pub last_fetched_at: Option<DateTime<Utc>>,
}

/// How an action run in the background is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    /// Still running.
    Running,
    /// Done; the output is the action's.
    Success,
    /// Failed; the output is the error its caller gets.
    Failed,
}

impl ActionStatus {
    /// `RUNNING`, `SUCCESS` or `FAILED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Running => "RUNNING",
            ActionStatus::Success => "SUCCESS",
            ActionStatus::Failed => "FAILED",
        }
    }

    /// From [`ActionStatus::as_str`]'s text (anything else reads as failed).
    pub fn parse(text: &str) -> ActionStatus {
        match text {
            "RUNNING" => ActionStatus::Running,
            "SUCCESS" => ActionStatus::Success,
            _ => ActionStatus::Failed,
        }
    }
}

/// The result of an action run in the background (`GET /action/{id}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    /// Its id (a UUID).
    pub id: String,
    /// The action.
    pub action: String,
    /// How it is doing.
    pub status: ActionStatus,
    /// The output (success), or the error body and status (failure); `None` while running.
    pub output: Option<Value>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// What pruning records did (`PATCH /records/prune`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Records whose payload was emptied.
    pub count: u64,
    /// The cursor of the last of them.
    pub last_cursor: Option<String>,
}

/// The metadata `PATCH /connections/metadata` leaves: `patch`'s keys over the old ones, as
/// Nango's `updateMetadata` (a shallow merge: a nested object is replaced whole; a patch that is
/// not an object replaces everything).
///
/// ```
/// use serde_json::json;
/// let merged = nango_runtime::store::merge_metadata(&json!({"a": 1, "n": {"x": 1}}), &json!({"b": 2, "n": {"y": 2}}));
/// assert_eq!(merged, json!({"a": 1, "n": {"y": 2}, "b": 2}));
/// ```
pub fn merge_metadata(old: &Value, patch: &Value) -> Value {
    match (old, patch) {
        (Value::Object(old), Value::Object(patch)) => {
            let mut merged = old.clone();
            for (key, value) in patch {
                merged.insert(key.clone(), value.clone());
            }
            Value::Object(merged)
        }
        (_, patch) => patch.clone(),
    }
}
