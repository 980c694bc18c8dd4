//! How a sync enumerates its records.

use serde::{Deserialize, Serialize};

/// nango.yaml's `sync_type`: a full sync fetches everything on every run, an incremental one
/// what changed since the last successful run.
///
/// ```
/// use nango_types::SyncType;
/// assert_eq!(SyncType::Full.as_str(), "full");
/// assert_eq!(SyncType::parse("INCREMENTAL"), Some(SyncType::Incremental));
/// assert_eq!(serde_json::to_string(&SyncType::Incremental).unwrap(), "\"incremental\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncType {
    /// Every run fetches everything.
    Full,
    /// Runs fetch what changed since the last successful run.
    Incremental,
}

impl SyncType {
    /// `"full"` or `"incremental"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncType::Full => "full",
            SyncType::Incremental => "incremental",
        }
    }

    /// From `full` / `incremental`, in any case (Nango lower-cases the value).
    pub fn parse(text: &str) -> Option<SyncType> {
        if text.eq_ignore_ascii_case("full") {
            Some(SyncType::Full)
        } else if text.eq_ignore_ascii_case("incremental") {
            Some(SyncType::Incremental)
        } else {
            None
        }
    }
}

impl std::fmt::Display for SyncType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
