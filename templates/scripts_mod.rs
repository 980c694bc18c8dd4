//! The {{kind}} of nango.yaml, one module each. `nango generate` created this file; it is yours.
//! While it holds only `pub mod` lines, `nango generate` adds one for each script it scaffolds
//! (and `nango generate --prune` takes out those of the scaffolds it removes).
#![allow(dead_code)]

{{modules}}
