//! The vocabulary of nango-rs: what its code generator (`nango-codegen`), its runtime
//! (`nango-runtime`) and the consumers' client (`nango-client`) all speak, defined once.
//!
//! * [`frequency`]: the `runs:` / frequency grammar, with one verdict for `nango validate`, the
//!   scheduler and `PUT /sync/update-connection-frequency`.
//! * [`SyncType`], [`Method`]: how a sync enumerates and which HTTP verb an endpoint uses.
//! * [`ChangeCounts`]: added / updated / deleted, as runs count them and webhooks report them.
//! * [`Model`]: a record type of a nango.yaml model, as syncs write it and consumers read it.
//! * [`RecordMetadata`]: `_nango_metadata`, as the store keeps it and the records API serves it.
//! * [`text`]: excerpts of bodies and error chains for messages, with secrets taken out.
//! * [`source_hash`]: ties a checked-in models file to its nango.yaml (checked at compile time).
//!
//! The crate depends on serde, serde_json and chrono alone, so every other crate can use it without weight.
//!
//! ```
//! use nango_types::{frequency, ChangeCounts, SyncType};
//! assert_eq!(frequency::parse("every half hour").unwrap().as_secs(), 1800);
//! assert_eq!(SyncType::parse("incremental"), Some(SyncType::Incremental));
//! let mut c = ChangeCounts::default();
//! c.add(ChangeCounts { added: 2, ..Default::default() });
//! assert_eq!(c.added, 2);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod counts;
pub mod frequency;
mod method;
mod model;
mod record;
pub mod source_hash;
mod sync_type;
pub mod text;

pub use counts::ChangeCounts;
pub use method::Method;
pub use model::Model;
pub use record::RecordMetadata;
pub use sync_type::SyncType;
