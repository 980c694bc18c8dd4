//! The {{kind}} of nango.yaml, one module each. `nango generate` created this file; it is yours:
//! add a `pub mod` line when it scaffolds a new script.
// The runtime calls these functions; until then they are only declared.
#![allow(dead_code)]

{{modules}}
