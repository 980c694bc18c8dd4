//! The hash maps and sets of the loader and the generator.
//!
//! They are keyed by model, field and script names, hashed many times per field; SipHash (std's
//! default) was 7% of the instructions of parsing and validating a large nango.yaml. foldhash is
//! several times cheaper per short string and still seeded per process, which is enough for keys
//! read from the user's own file.

/// A `HashMap` with foldhash; make one with `HashMap::default()`.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with foldhash; make one with `HashSet::default()`.
pub(crate) type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
