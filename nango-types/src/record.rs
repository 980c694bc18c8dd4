//! What the records API says about each record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `_nango_metadata` of a record (spec §5.1): when it was first seen and last changed, its last
/// action, and the cursor that resumes just after it.
///
/// ```
/// use nango_types::RecordMetadata;
/// let m: RecordMetadata = serde_json::from_value(serde_json::json!({
///     "first_seen_at": "2026-01-01T10:00:00.123456+00:00", "last_modified_at": "2026-01-02T10:00:00.5+00:00",
///     "last_action": "UPDATED", "deleted_at": null, "pruned_at": null, "cursor": "MjAyNi0w"
/// })).unwrap();
/// assert_eq!((m.last_action.as_str(), m.cursor.as_str()), ("UPDATED", "MjAyNi0w"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordMetadata {
    /// When the record was first stored.
    pub first_seen_at: DateTime<Utc>,
    /// When its content last changed.
    pub last_modified_at: DateTime<Utc>,
    /// `ADDED`, `UPDATED` or `DELETED`.
    pub last_action: String,
    /// When it was deleted.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Payload pruning time (set by `PATCH /records/prune` in Nango; `null` until a record is pruned).
    pub pruned_at: Option<DateTime<Utc>>,
    /// Resume point just after this record.
    pub cursor: String,
}
