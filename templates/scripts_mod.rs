//! The {{kind}} of nango.yaml, one module each. `nango generate` created this file; it is yours:
//! add a `pub mod` line when it scaffolds a new script.
#![allow(dead_code)]

{{modules}}
