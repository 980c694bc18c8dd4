//! The seed example of nango-rs: the issues of a GitHub repository, synced into typed tickets.
//!
//! The library holds the generated models, the sync function and the demo, so the binary,
//! the tests and the benchmark share them.

pub mod demo;
pub mod sync;

/// Models, sync descriptors and `PROJECT` generated from nango.yaml by build.rs.
pub mod models {
    nango::include_models!();
}
