//! Validators of the pages a sync fetched, for conditional requests: the `ETag` a provider gave
//! a page, filed under the request's URL, with where the page led (the sync's own position: a
//! next URL, a watermark), so that a run that is answered `304 Not Modified` skips the page and
//! still knows where to go on.
//!
//! They are kept per (connection, sync, URL). A run that ends well forgets those it neither
//! fetched nor used, so that URLs of the past (an incremental listing's `since=` of each run) do
//! not pile up. Resetting the sync, deleting its records (a reset that clears them, a
//! deployment that deletes or re-syncs) or the connection forgets them all: a page answered 304
//! then would leave out records that are no longer stored. A sync with `track_deletes` never
//! uses them (see [`NangoSync::send_json_if_changed`](crate::NangoSync::send_json_if_changed)):
//! the records of a skipped page would not be marked seen, and the sweep at the end of the run
//! would delete them.

use serde_json::Value;

/// The validator of one page a sync fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct PageValidator {
    /// The request's URL (secret query values taken out, as logs show it).
    pub url: String,
    /// The `ETag` the provider answered the page with.
    pub etag: String,
    /// Where the page led, as the sync said (`None`: it was the last page).
    pub led_to: Option<Value>,
}
