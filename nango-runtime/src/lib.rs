//! Runtime of nango-rs: what a program with sync functions links.
//!
//! Code generated from nango.yaml (by `nango generate`, a build script or `nango_models!`)
//! reaches this crate only through absolute paths (`::nango::...`: the `nango` facade crate
//! re-exports this one; a crate depending on this one directly renames it to `nango` in its
//! Cargo.toml), so a user crate needs no other dependency for its models to compile: serde, serde_json and chrono are re-exported
//! for the generated code under [`__private`]. A generated model's JSON Schema is data: the
//! `schema.json` text nango-codegen built from nango.yaml, which the generated code carries.
//!
//! ```
//! use nango_runtime::Model;
//!
//! // What generated code looks like, in short.
//! static SCHEMA_JSON: &str = r##"{"$defs": {"Ticket": {"type": "object",
//!     "properties": {"id": {"type": "integer", "format": "int64"}, "title": {"type": "string"}},
//!     "required": ["id", "title"]}}}"##;
//!
//! #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
//! struct Ticket { id: i64, title: String }
//!
//! impl Model for Ticket {
//!     const NAME: &'static str = "Ticket";
//!     fn id(&self) -> String { nango_runtime::__private::id_string(&self.id) }
//!     fn json_schema() -> serde_json::Value {
//!         nango_runtime::__private::model_schema(SCHEMA_JSON, "Ticket")
//!     }
//! }
//!
//! let t = Ticket { id: 7, title: "Fix it".into() };
//! assert_eq!(t.id(), "7");
//! assert_eq!(Ticket::json_schema()["properties"]["title"]["type"], "string");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "runtime")]
pub mod cli;
#[cfg(feature = "runtime")]
pub mod client;
mod connection;
mod context;
#[cfg(feature = "runtime")]
pub mod crypto;
#[cfg(feature = "runtime")]
pub mod deploy;
mod descriptors;
#[cfg(feature = "runtime")]
pub mod engine;
#[cfg(feature = "runtime")]
pub mod http;
mod project;
pub mod providers;
pub mod registry;
#[cfg(feature = "runtime")]
pub mod replay;
#[cfg(feature = "runtime")]
pub mod scheduler;
mod schema;
#[cfg(feature = "runtime")]
pub mod server;
pub mod store;
#[cfg(feature = "runtime")]
pub mod webhooks;

pub use connection::*;
pub use context::*;
pub use descriptors::*;
pub use project::Project;
// The registrations stay at the crate root: generated code and the macros' expansions name
// them there (`::nango::SyncRegistration`, `::nango::check_registry`).
pub use registry::*;

/// A record type a sync saves: every sync output model of nango.yaml implements it (the
/// shared vocabulary trait).
pub use nango_types::Model;

/// Includes the models that `nango_codegen::compile` wrote to `OUT_DIR` in a build script.
///
/// ```text
/// // build.rs:  nango_codegen::compile("nango.yaml")?;
/// mod models {
///     nango::include_models!();
/// }
/// ```
///
/// (Shown as text because it needs a build script; `examples/build-script` in the nango-rs
/// repository is the complete, tested example.)
#[macro_export]
macro_rules! include_models {
    () => {
        include!(concat!(env!("OUT_DIR"), "/nango_models.rs"));
    };
    ($file:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $file));
    };
}

/// What generated code uses. Not a stable API: only generated code should name it.
#[doc(hidden)]
pub mod __private {
    pub use chrono;
    pub use inventory;
    pub use serde;
    pub use serde_json;

    pub use crate::project::{Found, Missing, Probe, ScriptFunction, kind};
    pub use crate::schema::{model_schema, openapi_components};

    /// The `id` of a record as a string: strings as they are, other values as JSON text.
    pub fn id_string<T: serde::Serialize + ?Sized>(id: &T) -> String {
        match serde_json::to_value(id) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(serde_json::Value::Null) | Err(_) => String::new(),
            Ok(other) => other.to_string(),
        }
    }

    /// serde helper for a field that is optional *and* nullable (`name?: T | null`):
    /// absent is `None`, `null` is `Some(None)`, a value is `Some(Some(v))`. Serializing needs no
    /// helper: `Some(None)` is written as `null` and `None` is skipped.
    /// Fails the build when the nango.yaml a checked-in models file was generated from has
    /// changed since (`nango generate` writes `const _: () = check_models_source(include_bytes!(
    /// "../nango.yaml"), HASH);` at the top of src/models.rs). Evaluated by the compiler; the
    /// error points at that line.
    #[track_caller]
    pub const fn check_models_source(source: &[u8], generated_from: u64) {
        if nango_types::source_hash::source_hash(source) != generated_from {
            panic!(
                "nango.yaml changed after this models file was generated from it: run `nango generate` to update it"
            );
        }
    }

    pub mod double_option {
        use serde::{Deserialize, Deserializer};

        /// A present key becomes `Some(..)`, so `null` is `Some(None)`.
        pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Option<T>>, D::Error> {
            Option::<T>::deserialize(d).map(Some)
        }
    }
}
