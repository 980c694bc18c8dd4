//! The sync webhook's payload ([`SyncWebhook`]) and its body: the compact, key-sorted JSON
//! that is signed and sent ([`serialize_body`], [`to_stable_json`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The header carrying a webhook's delivery id (ours; Nango sends none).
///
/// Webhooks are queued before they are sent and delivered at least once: a service stopped
/// between sending one and recording it sends it again when it starts, with the same id and the
/// same body. A receiver that counts what webhooks announce keeps the ids it has processed and
/// drops a repeated one.
///
/// ```
/// # let headers = http::HeaderMap::new();
/// let id = headers.get(nango_client::webhooks::WEBHOOK_ID_HEADER);
/// # assert!(id.is_none());
/// ```
pub const WEBHOOK_ID_HEADER: &str = "X-Nango-Rs-Webhook-Id";

/// `syncType` of a sync webhook (deprecated by Nango, still sent). Not to be confused with
/// nango.yaml's [`SyncType`](nango_types::SyncType) (full or incremental).
///
/// ```
/// use nango_client::webhooks::WebhookSyncType;
/// assert_eq!(serde_json::to_string(&WebhookSyncType::Initial).unwrap(), r#""INITIAL""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookSyncType {
    /// A run without a previous successful run (a full sync).
    Initial,
    /// A run after a previous successful one.
    Incremental,
    /// A run of the sync's webhook handler.
    Webhook,
}

/// Counts of a run for one model (`responseResults`): the shared [`ChangeCounts`].
pub use nango_types::ChangeCounts;

/// `checkpoints` of a sync webhook: the checkpoint the run started from and the one it ended
/// with (either may be `null`).
///
/// ```
/// use nango_client::webhooks::Checkpoints;
/// let c = Checkpoints { from: None, to: Some(serde_json::json!({"page": 4})) };
/// assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"from":null,"to":{"page":4}}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Checkpoints {
    /// The checkpoint at the start of the run.
    pub from: Option<Value>,
    /// The checkpoint at the end of the run.
    pub to: Option<Value>,
}

/// `error` of a failed run's webhook.
///
/// ```
/// use nango_client::webhooks::SyncErrorInfo;
/// let e = SyncErrorInfo::new("script_http_error", "GET /issues returned 500");
/// assert_eq!(serde_json::to_value(&e).unwrap()["type"], "script_http_error");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncErrorInfo {
    /// A stable error code.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, for people.
    pub description: String,
}

impl SyncErrorInfo {
    /// An error with its code and description.
    ///
    /// ```
    /// let e = nango_client::webhooks::SyncErrorInfo::new("timeout", "run took too long");
    /// assert_eq!(e.kind, "timeout");
    /// ```
    pub fn new(kind: impl Into<String>, description: impl Into<String>) -> Self {
        SyncErrorInfo { kind: kind.into(), description: description.into() }
    }
}

/// Which sync, connection and model a webhook is about (the fields every sync webhook has).
///
/// ```
/// use nango_client::webhooks::SyncIdentity;
/// let id = SyncIdentity::new("c1", "github", "issues", "GithubIssue").variant("eu");
/// assert_eq!(id.sync_variant, "eu");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncIdentity {
    /// `connectionId`.
    pub connection_id: String,
    /// `providerConfigKey` (the integration).
    pub provider_config_key: String,
    /// `syncName`.
    pub sync_name: String,
    /// `syncVariant` (`base` unless set).
    pub sync_variant: String,
    /// `model`.
    pub model: String,
}

impl SyncIdentity {
    /// The identity of the base variant of a sync.
    ///
    /// ```
    /// let id = nango_client::webhooks::SyncIdentity::new("c1", "github", "issues", "GithubIssue");
    /// assert_eq!(id.sync_variant, "base");
    /// ```
    pub fn new(
        connection_id: impl Into<String>,
        provider_config_key: impl Into<String>,
        sync_name: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        SyncIdentity {
            connection_id: connection_id.into(),
            provider_config_key: provider_config_key.into(),
            sync_name: sync_name.into(),
            sync_variant: "base".to_owned(),
            model: model.into(),
        }
    }

    /// Sets the variant.
    ///
    /// ```
    /// let id = nango_client::webhooks::SyncIdentity::new("c", "p", "s", "M").variant("v2");
    /// assert_eq!(id.sync_variant, "v2");
    /// ```
    pub fn variant(mut self, variant: impl Into<String>) -> Self {
        self.sync_variant = variant.into();
        self
    }
}

/// The sync webhook (spec §6.2): sent after each run, one per model.
///
/// Fields that Nango sends only on successes (`modifiedAfter`, `responseResults`,
/// `queryTimeStamp`) or only on errors (`error`, `startedAt`, `failedAt`) are `Option`s and left
/// out of the JSON when `None`, as is `checkpoints` for syncs without checkpoints.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use nango_client::webhooks::{SyncErrorInfo, SyncIdentity, WebhookSyncType, SyncWebhook};
///
/// let started = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
/// let failed = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 5).unwrap();
/// let hook = SyncWebhook::error(
///     SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
///     WebhookSyncType::Incremental,
///     SyncErrorInfo::new("script_error", "boom"),
///     started,
///     failed,
/// );
/// let json = serde_json::to_value(&hook).unwrap();
/// assert_eq!(json["success"], false);
/// assert_eq!(json["failedAt"], "2026-01-02T10:00:05.000Z");
/// assert!(json.get("responseResults").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncWebhook {
    /// Always `nango`.
    pub from: String,
    /// Always `sync`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The connection.
    pub connection_id: String,
    /// The integration.
    pub provider_config_key: String,
    /// The sync.
    pub sync_name: String,
    /// The sync's variant; receivers of old Nango versions got none, hence the default.
    #[serde(default = "base_variant")]
    pub sync_variant: String,
    /// The model the counts are about.
    pub model: String,
    /// `INITIAL`, `INCREMENTAL` or `WEBHOOK`.
    pub sync_type: WebhookSyncType,
    /// Whether the run succeeded.
    pub success: bool,
    /// Fetch records modified at or after it to get every change the webhook announces: the start
    /// of the earliest run whose changes it counts (successes only). That is the run itself
    /// unless earlier runs' changes were not announced (a run that failed or was killed): their
    /// records come with this webhook, so none is missed.
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub modified_after: Option<DateTime<Utc>>,
    /// What changed since the previous webhook for this sync and model: this run's changes plus
    /// those of runs that failed or were killed since (successes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_results: Option<ChangeCounts>,
    /// Deprecated duplicate of `modifiedAfter` (successes only).
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub query_time_stamp: Option<DateTime<Utc>>,
    /// Checkpoints before and after the run, for syncs that use checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<Checkpoints>,
    /// What failed (errors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SyncErrorInfo>,
    /// Start of the failed run (errors only).
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the run failed (errors only).
    #[serde(default, with = "js_time_opt", skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<DateTime<Utc>>,
}

fn base_variant() -> String {
    "base".to_owned()
}

impl SyncWebhook {
    fn base(identity: SyncIdentity, sync_type: WebhookSyncType, success: bool) -> Self {
        SyncWebhook {
            from: "nango".to_owned(),
            kind: "sync".to_owned(),
            connection_id: identity.connection_id,
            provider_config_key: identity.provider_config_key,
            sync_name: identity.sync_name,
            sync_variant: identity.sync_variant,
            model: identity.model,
            sync_type,
            success,
            modified_after: None,
            response_results: None,
            query_time_stamp: None,
            checkpoints: None,
            error: None,
            started_at: None,
            failed_at: None,
        }
    }

    /// The webhook of a successful run that started at `modified_after`.
    ///
    /// `queryTimeStamp` repeats `modifiedAfter`, as in Nango's example payloads.
    ///
    /// ```
    /// use chrono::Utc;
    /// use nango_client::webhooks::{ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
    /// let hook = SyncWebhook::success(
    ///     SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
    ///     WebhookSyncType::Initial,
    ///     Utc::now(),
    ///     ChangeCounts { added: 10, ..Default::default() },
    /// );
    /// assert!(hook.success && hook.error.is_none());
    /// ```
    pub fn success(
        identity: SyncIdentity,
        sync_type: WebhookSyncType,
        modified_after: DateTime<Utc>,
        results: ChangeCounts,
    ) -> Self {
        SyncWebhook {
            modified_after: Some(modified_after),
            response_results: Some(results),
            query_time_stamp: Some(modified_after),
            ..SyncWebhook::base(identity, sync_type, true)
        }
    }

    /// The webhook of a failed run.
    ///
    /// ```
    /// use chrono::Utc;
    /// use nango_client::webhooks::{SyncErrorInfo, SyncIdentity, WebhookSyncType, SyncWebhook};
    /// let now = Utc::now();
    /// let hook = SyncWebhook::error(
    ///     SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
    ///     WebhookSyncType::Incremental,
    ///     SyncErrorInfo::new("script_error", "boom"),
    ///     now,
    ///     now,
    /// );
    /// assert!(!hook.success && hook.modified_after.is_none());
    /// ```
    pub fn error(
        identity: SyncIdentity,
        sync_type: WebhookSyncType,
        error: SyncErrorInfo,
        started_at: DateTime<Utc>,
        failed_at: DateTime<Utc>,
    ) -> Self {
        SyncWebhook {
            error: Some(error),
            started_at: Some(started_at),
            failed_at: Some(failed_at),
            ..SyncWebhook::base(identity, sync_type, false)
        }
    }

    /// Adds the checkpoints before and after the run.
    ///
    /// ```
    /// use chrono::Utc;
    /// use nango_client::webhooks::{ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
    /// let hook = SyncWebhook::success(
    ///     SyncIdentity::new("c", "p", "s", "M"), WebhookSyncType::Incremental, Utc::now(), ChangeCounts::default(),
    /// )
    /// .with_checkpoints(None, Some(serde_json::json!({"page": 4})));
    /// assert_eq!(hook.checkpoints.unwrap().to.unwrap()["page"], 4);
    /// ```
    pub fn with_checkpoints(mut self, from: Option<Value>, to: Option<Value>) -> Self {
        self.checkpoints = Some(Checkpoints { from, to });
        self
    }
}

/// Timestamps as JavaScript's `Date.toISOString()` writes them (milliseconds, `Z`), which is what
/// Nango receivers parse; any RFC 3339 time is read.
mod js_time_opt {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}

/// The body of a webhook: [`to_stable_json`] of the payload, the bytes to sign and send.
///
/// ```
/// use chrono::Utc;
/// use nango_client::webhooks::{serialize_body, ChangeCounts, SyncIdentity, WebhookSyncType, SyncWebhook};
/// let hook = SyncWebhook::success(
///     SyncIdentity::new("c", "p", "s", "M"), WebhookSyncType::Incremental, Utc::now(), ChangeCounts::default(),
/// );
/// let body = serialize_body(&hook);
/// assert_eq!(serde_json::from_slice::<SyncWebhook>(&body).unwrap().connection_id, "c");
/// ```
pub fn serialize_body(payload: &SyncWebhook) -> Vec<u8> {
    // A SyncWebhook has string keys and no floats that JSON cannot hold, so serialising cannot
    // fail; the empty object keeps this total without a panic path.
    to_stable_json(payload).unwrap_or_else(|_| b"{}".to_vec())
}

/// Deterministic compact JSON with the keys of every object sorted, as `safe-stable-stringify`
/// (Nango's webhook serialiser) writes it.
///
/// Keys are ordered by UTF-16 code units, as JavaScript's default sort does (it differs from
/// byte order only between characters above U+FFFF and U+E000..U+FFFF). The order is applied
/// here rather than relying on maps: the workspace builds serde_json with `preserve_order`.
///
/// ```
/// let json = nango_client::webhooks::to_stable_json(&serde_json::json!({"b": 1, "a": {"d": [2], "c": null}})).unwrap();
/// assert_eq!(json, br#"{"a":{"c":null,"d":[2]},"b":1}"#);
/// ```
pub fn to_stable_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(512);
    write_sorted(&value, &mut out)?;
    Ok(out)
}

fn write_sorted(value: &Value, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                write_sorted(item, out)?;
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out)?;
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar)?,
    }
    Ok(())
}
