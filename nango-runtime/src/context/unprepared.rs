//! Records handed to a sync's context and not yet prepared for the store.
//!
//! Preparing a record (its canonical hash for change detection and its JSON text) is about a
//! sixth of a run's CPU. A host that writes on a thread of its own (a real run's) takes the
//! records typed and prepares them there, beside the sync's next pages; other hosts prepare
//! them as they get them, as before.

use crate::Model;
use crate::store::PreparedRecord;
use std::any::Any;

/// Typed records of one model, buffered by the context and not yet prepared (see
/// [`SyncHost::write_unprepared`](super::SyncHost::write_unprepared)).
///
/// ```
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
/// # struct Issue { id: i64 }
/// # impl nango_runtime::Model for Issue {
/// #     const NAME: &'static str = "Issue";
/// #     fn id(&self) -> String { self.id.to_string() }
/// # }
/// use nango_runtime::UnpreparedRecords;
///
/// let mut records = UnpreparedRecords::new::<Issue>();
/// records.push(Issue { id: 7 }).unwrap();
/// assert_eq!(records.len(), 1);
/// let (prepared, failure) = records.prepare();
/// assert!(failure.is_none());
/// assert_eq!(prepared[0].id, "7");
/// ```
pub struct UnpreparedRecords {
    model: &'static str,
    /// A `Vec<M>` of the model's type.
    records: Box<dyn Any + Send>,
    len: usize,
    prepare: fn(&'static str, Box<dyn Any + Send>) -> Prepared,
}

/// Records prepared, and why the one after them could not be (`None`: all could).
type Prepared = (Vec<PreparedRecord>, Option<String>);

impl std::fmt::Debug for UnpreparedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnpreparedRecords").field("model", &self.model).field("len", &self.len).finish()
    }
}

impl UnpreparedRecords {
    /// An empty buffer of model `M`.
    pub fn new<M: Model>() -> UnpreparedRecords {
        UnpreparedRecords { model: M::NAME, records: Box::new(Vec::<M>::new()), len: 0, prepare: prepare_all::<M> }
    }

    /// The model's name.
    pub fn model(&self) -> &'static str {
        self.model
    }

    /// How many records are buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a record of the buffer's model. A record without an `id` is refused here, with the
    /// message [`PreparedRecord::new`] gives, so the sync learns of it at the call that handed
    /// it over; a record of another model is refused too (the context keeps one buffer per
    /// model and change).
    pub fn push<M: Model>(&mut self, record: M) -> Result<(), String> {
        if record.id().is_empty() {
            // The same refusal and message as the prepared path's.
            return PreparedRecord::from_typed(M::NAME, &record).map(|_| ());
        }
        let Some(records) = self.records.downcast_mut::<Vec<M>>() else {
            return Err(format!("a record of model {} handed to a buffer of model {}", M::NAME, self.model));
        };
        records.push(record);
        self.len += 1;
        Ok(())
    }

    /// Prepares the records in order: those before the first that cannot be prepared, and why
    /// that one cannot (`None` when all could).
    pub fn prepare(self) -> (Vec<PreparedRecord>, Option<String>) {
        (self.prepare)(self.model, self.records)
    }
}

fn prepare_all<M: Model>(model: &'static str, records: Box<dyn Any + Send>) -> Prepared {
    let Ok(records) = records.downcast::<Vec<M>>() else {
        return (Vec::new(), Some(format!("the buffered records of {model} are not of its type")));
    };
    let mut prepared = Vec::with_capacity(records.len());
    // Each typed record is dropped once prepared: the batch is not held twice.
    for record in *records {
        match PreparedRecord::from_typed(model, &record) {
            Ok(p) => prepared.push(p),
            Err(e) => return (prepared, Some(e)),
        }
    }
    (prepared, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Issue {
        id: String,
        n: u32,
    }

    impl Model for Issue {
        const NAME: &'static str = "Issue";
        fn id(&self) -> String {
            self.id.clone()
        }
    }

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Other {
        id: u32,
    }

    impl Model for Other {
        const NAME: &'static str = "Other";
        fn id(&self) -> String {
            self.id.to_string()
        }
    }

    #[test]
    fn prepared_later_is_prepared_alike() {
        let issue = Issue { id: "a".into(), n: 3 };
        let mut records = UnpreparedRecords::new::<Issue>();
        records.push(issue.clone()).unwrap();
        let (prepared, failure) = records.prepare();
        assert_eq!(failure, None);
        let now = PreparedRecord::from_typed("Issue", &issue).unwrap();
        assert_eq!((&prepared[0].id, &prepared[0].text, prepared[0].hash), (&now.id, &now.text, now.hash));
    }

    #[test]
    fn a_record_without_id_is_refused_when_handed_over() {
        let mut records = UnpreparedRecords::new::<Issue>();
        let e = records.push(Issue { id: String::new(), n: 1 }).unwrap_err();
        assert!(e.contains("Missing id field"), "{e}");
        assert!(records.is_empty());
    }

    #[test]
    fn a_record_of_another_model_is_refused() {
        let mut records = UnpreparedRecords::new::<Issue>();
        let e = records.push(Other { id: 1 }).unwrap_err();
        assert!(e.contains("model Other") && e.contains("model Issue"), "{e}");
    }
}
