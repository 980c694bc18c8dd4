//! The record policy: what one batch does to the stored records, decided without a database.
//!
//! Every backend calls [`Batch::plan`] inside its write transaction, over the state it read for
//! the batch's ids, and then writes the [`Plan`]; the dry run calls it over the store's state
//! overlaid with what the dry run has virtually written. One function decides for both, so a dry
//! run and a real run cannot disagree.
//!
//! The rules (README, "Policies"):
//! - **Duplicates**: a record handed over twice in a batch is taken once, with its last content,
//!   at the place of its last occurrence. Across the batches of a run, a record already written
//!   in this run (`seen_in_run`) is not counted again, and keeps `ADDED` if it was added in this
//!   run. A record only marked seen earlier in the run (it was unchanged then) is not written:
//!   meeting it changed later is counted as its update.
//! - **Save**: a record not stored, or stored deleted, is added (a deleted record comes back as
//!   `ADDED`); one whose canonical hash differs is updated; one whose hash is the same is left
//!   alone (neither counted nor re-stamped), only marked seen when deletion detection is on.
//! - **Update** (`batch_update`): deep-merged into the stored live record (objects key by key,
//!   everything else replaced, see [`deep_merge`]), then as a save of the merged record; an update
//!   of a record that is not stored live is ignored.
//! - **Delete**: a live record is soft-deleted and counted; anything else is a no-op.
//! - **Seen marking**: with deletion detection, every record the run handed over is marked seen
//!   (written rows are stamped by the write itself), so the sweep after a successful full run
//!   deletes only the records the run did not see.

use super::{ChangeCounts, PreparedRecord, RecordChange, StoreError, StoreResult, canonical_hash};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// A record's last action, as the records API reports it.
///
/// ```
/// use nango_runtime::store::LastAction;
/// assert_eq!(LastAction::parse("ADDED"), LastAction::Added);
/// assert_eq!(LastAction::Updated.as_str(), "UPDATED");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LastAction {
    /// First stored, or brought back after a deletion.
    Added,
    /// Content changed.
    Updated,
    /// Soft-deleted.
    Deleted,
}

impl LastAction {
    /// `ADDED`, `UPDATED` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            LastAction::Added => "ADDED",
            LastAction::Updated => "UPDATED",
            LastAction::Deleted => "DELETED",
        }
    }

    /// From [`LastAction::as_str`]'s text; anything else reads as updated (the action that
    /// claims the least).
    pub fn parse(text: &str) -> LastAction {
        match text {
            "ADDED" => LastAction::Added,
            "DELETED" => LastAction::Deleted,
            _ => LastAction::Updated,
        }
    }
}

/// What is stored for a record, as the policy needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRecord {
    /// Canonical hash of the stored content.
    pub hash: [u8; 16],
    /// Whether it is soft-deleted.
    pub deleted: bool,
    /// Whether the current run already wrote or deleted it (always false for a read outside a
    /// run). Marking an unchanged record seen does not count: if the run then meets it changed,
    /// that is the run's update of it.
    pub seen_in_run: bool,
    /// Its last action.
    pub last_action: LastAction,
    /// The stored JSON text: read only for [`RecordChange::Update`] batches, which merge into it
    /// (see [`Batch::needs_stored_json`]).
    pub json: Option<String>,
}

/// Where the policy looks up what is stored for an id.
pub trait ExistingState {
    /// What is stored for `id`, if anything.
    fn existing(&self, id: &str) -> Option<&ExistingRecord>;
}

impl ExistingState for HashMap<String, ExistingRecord> {
    fn existing(&self, id: &str) -> Option<&ExistingRecord> {
        self.get(id)
    }
}

/// A state seen through another: `top` first (what a dry run virtually wrote), then `below`
/// (what the store has).
///
/// ```
/// use nango_runtime::store::policy::{ExistingState, Layered};
/// use nango_runtime::store::{ExistingRecord, LastAction};
/// use std::collections::HashMap;
/// let record = |deleted| ExistingRecord {
///     hash: [0; 16], deleted, seen_in_run: deleted, last_action: LastAction::Added, json: None,
/// };
/// let stored = HashMap::from([("1".to_owned(), record(false)), ("2".to_owned(), record(false))]);
/// let written = HashMap::from([("1".to_owned(), record(true))]);
/// let state = Layered { top: &written, below: &stored };
/// assert!(state.existing("1").unwrap().deleted);
/// assert!(!state.existing("2").unwrap().deleted);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Layered<'a, Top: ExistingState, Below: ExistingState> {
    /// Looked at first.
    pub top: &'a Top,
    /// Looked at for ids `top` does not have.
    pub below: &'a Below,
}

impl<Top: ExistingState, Below: ExistingState> ExistingState for Layered<'_, Top, Below> {
    fn existing(&self, id: &str) -> Option<&ExistingRecord> {
        self.top.existing(id).or_else(|| self.below.existing(id))
    }
}

/// One batch of one model, duplicates removed (the last occurrence wins, at its place).
///
/// ```
/// use nango_runtime::RecordChange;
/// use nango_runtime::store::{PreparedRecord, policy::Batch};
/// use serde_json::json;
/// let records = [json!({"id": 1, "v": "a"}), json!({"id": 2}), json!({"id": 1, "v": "b"})];
/// let records = records.into_iter().map(|r| PreparedRecord::new("Ticket", r).unwrap()).collect();
/// let batch = Batch::new("Ticket", RecordChange::Save, records);
/// assert_eq!(batch.ids().collect::<Vec<_>>(), ["2", "1"]);
///
/// // Nothing stored yet: both are added.
/// let plan = batch.plan(&std::collections::HashMap::new(), false).unwrap();
/// assert_eq!((plan.counts.added, plan.upserts.len()), (2, 2));
/// assert_eq!(plan.upserts[1].json, r#"{"id":1,"v":"b"}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<'m> {
    model: &'m str,
    change: RecordChange,
    records: Vec<PreparedRecord>,
}

/// A row to insert or overwrite (live, with `seen` stamped by the write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upsert<'a> {
    /// The record's id.
    pub id: &'a str,
    /// Its JSON text (for an update, the merged record; otherwise the batch's own text).
    pub json: Cow<'a, str>,
    /// [`canonical_hash`] of it.
    pub hash: [u8; 16],
    /// `ADDED` or `UPDATED`.
    pub last_action: LastAction,
}

/// What a batch does: the writes a backend makes, in this order, and the counts it reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan<'a> {
    /// Rows to insert or overwrite.
    pub upserts: Vec<Upsert<'a>>,
    /// Unchanged records to mark seen by the run (deletion detection).
    pub seen: Vec<&'a str>,
    /// Live records to soft-delete (and mark seen).
    pub deleted: Vec<&'a str>,
    /// Updates of records that are not stored live: nothing is written for them.
    pub ignored: Vec<&'a str>,
    /// Added / updated / deleted.
    pub counts: ChangeCounts,
}

impl<'m> Batch<'m> {
    /// A batch of `records`, keeping the last occurrence of each id at its place.
    pub fn new(model: &'m str, change: RecordChange, records: Vec<PreparedRecord>) -> Batch<'m> {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            last.insert(r.id.as_str(), i);
        }
        let records = if last.len() == records.len() {
            records
        } else {
            let mut keep = vec![false; records.len()];
            for &i in last.values() {
                keep[i] = true;
            }
            records.into_iter().zip(keep).filter_map(|(r, k)| k.then_some(r)).collect()
        };
        Batch { model, change, records }
    }

    /// The model.
    pub fn model(&self) -> &'m str {
        self.model
    }

    /// What the batch does.
    pub fn change(&self) -> RecordChange {
        self.change
    }

    /// The records, one per id, in the order they are written.
    pub fn records(&self) -> &[PreparedRecord] {
        &self.records
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The ids whose stored state [`Batch::plan`] needs.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &str> {
        self.records.iter().map(|r| r.id.as_str())
    }

    /// Whether [`ExistingRecord::json`] must be read (updates merge into it).
    pub fn needs_stored_json(&self) -> bool {
        self.change == RecordChange::Update
    }

    /// What the batch does over `existing` (the stored state of [`Batch::ids`]); `track_seen`
    /// when the run detects deletions. Fails only on a stored record an update cannot parse.
    pub fn plan(&self, existing: &impl ExistingState, track_seen: bool) -> StoreResult<Plan<'_>> {
        let mut plan = Plan::default();
        for record in &self.records {
            let id = record.id.as_str();
            let found = existing.existing(id);
            match self.change {
                RecordChange::Save => match found {
                    None => plan.add(id, Cow::Borrowed(&record.text), record.hash),
                    Some(e) if e.deleted => plan.add(id, Cow::Borrowed(&record.text), record.hash),
                    Some(e) if e.hash != record.hash => plan.change(e, id, Cow::Borrowed(&record.text), record.hash),
                    Some(e) => plan.unchanged(e, id, track_seen),
                },
                RecordChange::Update => match found {
                    Some(e) if !e.deleted => {
                        let stored = e.json.as_deref().unwrap_or("{}");
                        let mut merged: Value = serde_json::from_str(stored).map_err(|source| {
                            StoreError::UnreadableRecord { model: self.model.to_owned(), id: id.to_owned(), source }
                        })?;
                        let patch = record.value().map_err(|source| StoreError::UnreadableRecord {
                            model: self.model.to_owned(),
                            id: id.to_owned(),
                            source,
                        })?;
                        deep_merge(&mut merged, patch);
                        let hash = canonical_hash(&merged);
                        if hash != e.hash {
                            plan.change(e, id, Cow::Owned(merged.to_string()), hash);
                        } else {
                            plan.unchanged(e, id, track_seen);
                        }
                    }
                    _ => plan.ignored.push(id),
                },
                RecordChange::Delete => {
                    if let Some(e) = found
                        && !e.deleted
                    {
                        plan.counts.deleted += 1;
                        plan.deleted.push(id);
                    }
                }
            }
        }
        Ok(plan)
    }
}

impl<'a> Plan<'a> {
    fn add(&mut self, id: &'a str, json: Cow<'a, str>, hash: [u8; 16]) {
        self.counts.added += 1;
        self.upserts.push(Upsert { id, json, hash, last_action: LastAction::Added });
    }

    /// New content for a live record: counted once per run, and a record added earlier in the
    /// run stays added.
    fn change(&mut self, e: &ExistingRecord, id: &'a str, json: Cow<'a, str>, hash: [u8; 16]) {
        if !e.seen_in_run {
            self.counts.updated += 1;
        }
        let last_action =
            if e.seen_in_run && e.last_action == LastAction::Added { LastAction::Added } else { LastAction::Updated };
        self.upserts.push(Upsert { id, json, hash, last_action });
    }

    fn unchanged(&mut self, e: &ExistingRecord, id: &'a str, track_seen: bool) {
        if track_seen && !e.seen_in_run {
            self.seen.push(id);
        }
    }
}

/// Deep-merges `patch` into `base` (objects merged key by key, everything else, arrays
/// included, replaced), as Nango's `batchUpdate`.
///
/// ```
/// let mut base = serde_json::json!({"id": 1, "a": {"x": 1, "y": 2}, "tags": [1, 2]});
/// nango_runtime::store::deep_merge(&mut base, serde_json::json!({"a": {"y": 3}, "tags": [9]}));
/// assert_eq!(base, serde_json::json!({"id": 1, "a": {"x": 1, "y": 3}, "tags": [9]}));
/// ```
pub fn deep_merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                match base.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, patch) => *base = patch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAVE: RecordChange = RecordChange::Save;
    const UPDATE: RecordChange = RecordChange::Update;
    const DELETE: RecordChange = RecordChange::Delete;
    use LastAction::{Added, Deleted, Updated};

    fn record(json: Value) -> PreparedRecord {
        PreparedRecord::new("Ticket", json).unwrap()
    }

    fn hash(json: Value) -> [u8; 16] {
        canonical_hash(&json)
    }

    /// The stored state of record `1`: content `{"id":1,"v":v}`.
    fn stored(v: &str, deleted: bool, seen_in_run: bool, last_action: LastAction) -> ExistingRecord {
        let json = json!({"id": 1, "v": v});
        ExistingRecord { hash: hash(json.clone()), deleted, seen_in_run, last_action, json: Some(json.to_string()) }
    }

    /// What a plan of one record `1` came to: (added, updated, deleted), the action of the
    /// upserted row, whether it was marked seen, soft-deleted, ignored.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        counts: (u64, u64, u64),
        upsert: Option<LastAction>,
        seen: bool,
        deleted: bool,
        ignored: bool,
    }

    fn outcome(plan: &Plan<'_>) -> Outcome {
        Outcome {
            counts: (plan.counts.added, plan.counts.updated, plan.counts.deleted),
            upsert: plan.upserts.first().map(|u| u.last_action),
            seen: !plan.seen.is_empty(),
            deleted: !plan.deleted.is_empty(),
            ignored: !plan.ignored.is_empty(),
        }
    }

    fn expect(counts: (u64, u64, u64), upsert: Option<LastAction>, seen: bool, deleted: bool) -> Outcome {
        Outcome { counts, upsert, seen, deleted, ignored: false }
    }

    #[test]
    fn one_record_against_every_stored_state() {
        let nothing = None;
        let live = Some(stored("a", false, false, Updated));
        let live_added_in_run = Some(stored("a", false, true, Added));
        let live_updated_in_run = Some(stored("a", false, true, Updated));
        let gone = Some(stored("a", true, false, Deleted));
        let gone_in_run = Some(stored("a", true, true, Deleted));
        let same = || json!({"id": 1, "v": "a"});
        let other = || json!({"id": 1, "v": "b"});
        let patch_same = || json!({"id": 1, "v": "a"});
        let patch_other = || json!({"id": 1, "v": "b"});
        // (change, record, stored, track_seen, expected)
        let table: Vec<(RecordChange, Value, Option<ExistingRecord>, bool, Outcome)> = vec![
            // Save
            (SAVE, same(), nothing.clone(), false, expect((1, 0, 0), Some(Added), false, false)),
            (SAVE, same(), live.clone(), false, expect((0, 0, 0), None, false, false)),
            (SAVE, same(), live.clone(), true, expect((0, 0, 0), None, true, false)),
            (SAVE, same(), live_added_in_run.clone(), true, expect((0, 0, 0), None, false, false)),
            (SAVE, other(), live.clone(), false, expect((0, 1, 0), Some(Updated), false, false)),
            (SAVE, other(), live.clone(), true, expect((0, 1, 0), Some(Updated), false, false)),
            (SAVE, other(), live_added_in_run.clone(), false, expect((0, 0, 0), Some(Added), false, false)),
            (SAVE, other(), live_updated_in_run.clone(), false, expect((0, 0, 0), Some(Updated), false, false)),
            (SAVE, same(), gone.clone(), false, expect((1, 0, 0), Some(Added), false, false)),
            (SAVE, same(), gone_in_run.clone(), true, expect((1, 0, 0), Some(Added), false, false)),
            // Update
            (UPDATE, patch_same(), live.clone(), false, expect((0, 0, 0), None, false, false)),
            (UPDATE, patch_same(), live.clone(), true, expect((0, 0, 0), None, true, false)),
            (UPDATE, patch_other(), live.clone(), false, expect((0, 1, 0), Some(Updated), false, false)),
            (UPDATE, patch_other(), live_added_in_run.clone(), true, expect((0, 0, 0), Some(Added), false, false)),
            (UPDATE, patch_other(), live_updated_in_run.clone(), false, expect((0, 0, 0), Some(Updated), false, false)),
            // Delete
            (DELETE, json!({"id": 1}), nothing.clone(), true, expect((0, 0, 0), None, false, false)),
            (DELETE, json!({"id": 1}), live.clone(), false, expect((0, 0, 1), None, false, true)),
            (DELETE, json!({"id": 1}), live_added_in_run.clone(), true, expect((0, 0, 1), None, false, true)),
            (DELETE, json!({"id": 1}), gone.clone(), true, expect((0, 0, 0), None, false, false)),
        ];
        for (i, (change, json, existing, track_seen, expected)) in table.into_iter().enumerate() {
            let state: HashMap<String, ExistingRecord> = existing.into_iter().map(|e| ("1".to_owned(), e)).collect();
            let batch = Batch::new("Ticket", change, vec![record(json.clone())]);
            let plan = batch.plan(&state, track_seen).unwrap();
            assert_eq!(outcome(&plan), expected, "row {i}: {change:?} {json} over {:?}", state.get("1"));
        }
    }

    #[test]
    fn updates_of_records_not_stored_live_are_ignored() {
        for existing in [None, Some(stored("a", true, false, Deleted))] {
            let state: HashMap<String, ExistingRecord> = existing.into_iter().map(|e| ("1".to_owned(), e)).collect();
            let batch = Batch::new("Ticket", UPDATE, vec![record(json!({"id": 1, "v": "b"}))]);
            let plan = batch.plan(&state, true).unwrap();
            assert_eq!(plan.ignored, ["1"]);
            assert_eq!((plan.upserts.len(), plan.seen.len(), plan.counts), (0, 0, ChangeCounts::default()));
        }
    }

    #[test]
    fn updates_write_the_deep_merged_record() {
        let base = json!({"id": 1, "user": {"login": "a", "id": 7}, "labels": ["x", "y"]});
        let existing = ExistingRecord {
            hash: hash(base.clone()),
            deleted: false,
            seen_in_run: false,
            last_action: Added,
            json: Some(base.to_string()),
        };
        let state = HashMap::from([("1".to_owned(), existing)]);
        let batch =
            Batch::new("Ticket", UPDATE, vec![record(json!({"id": 1, "user": {"login": "b"}, "labels": ["z"]}))]);
        let plan = batch.plan(&state, false).unwrap();
        let merged = json!({"id": 1, "user": {"login": "b", "id": 7}, "labels": ["z"]});
        assert_eq!(serde_json::from_str::<Value>(&plan.upserts[0].json).unwrap(), merged);
        assert_eq!(plan.upserts[0].hash, hash(merged));
    }

    #[test]
    fn an_unreadable_stored_record_fails_the_update_naming_it() {
        let mut existing = stored("a", false, false, Updated);
        existing.json = Some("{oops".into());
        let state = HashMap::from([("1".to_owned(), existing)]);
        let batch = Batch::new("Ticket", UPDATE, vec![record(json!({"id": 1, "v": "b"}))]);
        let e = batch.plan(&state, false).unwrap_err();
        assert!(matches!(&e, StoreError::UnreadableRecord { id, model, .. } if id == "1" && model == "Ticket"), "{e}");
    }

    #[test]
    fn duplicates_keep_the_last_occurrence_at_its_place_and_count_once() {
        let batch = Batch::new(
            "Ticket",
            SAVE,
            vec![
                record(json!({"id": 1, "v": "first"})),
                record(json!({"id": 2})),
                record(json!({"id": 1, "v": "last"})),
                record(json!({"id": 3})),
            ],
        );
        assert_eq!(batch.ids().collect::<Vec<_>>(), ["2", "1", "3"]);
        let plan = batch.plan(&HashMap::new(), false).unwrap();
        assert_eq!(plan.counts, ChangeCounts { added: 3, updated: 0, deleted: 0 });
        let ids: Vec<&str> = plan.upserts.iter().map(|u| u.id).collect();
        assert_eq!(ids, ["2", "1", "3"]);
        assert_eq!(plan.upserts[1].json, json!({"id": 1, "v": "last"}).to_string());
    }

    #[test]
    fn a_batch_without_duplicates_keeps_its_order() {
        let records: Vec<PreparedRecord> = (0..5).rev().map(|i| record(json!({"id": i}))).collect();
        let batch = Batch::new("Ticket", DELETE, records);
        assert_eq!(batch.ids().collect::<Vec<_>>(), ["4", "3", "2", "1", "0"]);
        assert!(!batch.needs_stored_json());
        assert!(Batch::new("Ticket", UPDATE, vec![]).needs_stored_json());
    }

    #[test]
    fn a_layered_state_looks_at_the_top_first() {
        let below = HashMap::from([("1".to_owned(), stored("a", false, false, Updated))]);
        let top = HashMap::from([("1".to_owned(), stored("a", true, true, Deleted))]);
        let layered = Layered { top: &top, below: &below };
        assert!(layered.existing("1").unwrap().deleted);
        let empty = HashMap::new();
        assert!(!Layered { top: &empty, below: &below }.existing("1").unwrap().deleted);
        assert!(layered.existing("2").is_none());
    }

    #[test]
    fn last_actions_read_back() {
        for a in [Added, Updated, Deleted] {
            assert_eq!(LastAction::parse(a.as_str()), a);
        }
        assert_eq!(LastAction::parse("something else"), Updated);
    }
}
