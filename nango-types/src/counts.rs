//! Change counts of a run, per model.

use serde::{Deserialize, Serialize};

/// Records added, updated and deleted: what a run counts per model, what `/sync/status`
/// reports as `latestResult` and what a sync webhook carries as `responseResults`.
///
/// ```
/// use nango_types::ChangeCounts;
/// let c: ChangeCounts = serde_json::from_str(r#"{"added":1,"updated":2,"deleted":0}"#).unwrap();
/// assert_eq!(c.total(), 3);
/// assert!(!c.is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChangeCounts {
    /// New records (and deleted ones that came back).
    #[serde(default)]
    pub added: u64,
    /// Records whose content changed.
    #[serde(default)]
    pub updated: u64,
    /// Records deleted.
    #[serde(default)]
    pub deleted: u64,
}

impl ChangeCounts {
    /// Adds another count (saturating: counts never wrap).
    pub fn add(&mut self, other: ChangeCounts) {
        self.added = self.added.saturating_add(other.added);
        self.updated = self.updated.saturating_add(other.updated);
        self.deleted = self.deleted.saturating_add(other.deleted);
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Added + updated + deleted.
    pub fn total(&self) -> u64 {
        self.added.saturating_add(self.updated).saturating_add(self.deleted)
    }
}
