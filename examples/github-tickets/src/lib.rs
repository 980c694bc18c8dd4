//! The seed example of nango-rs: the issues of a GitHub repository, synced into typed tickets.
//!
//! The library holds the generated models, the sync function and the demo, so the binary,
//! the tests and the benchmark share them.

pub mod demo;
pub mod sync;

/// Models and sync descriptors generated from nango.yaml by build.rs.
pub mod models {
    nango_runtime::include_models!();
}

/// Checks at start-up that every sync and action of nango.yaml has its function.
pub fn check() -> Result<(), Vec<String>> {
    // Naming the sync function keeps its registration linked into every binary using the library.
    let _ = sync::github_tickets;
    nango_runtime::check_registry(models::SYNCS, models::ACTIONS)
}
