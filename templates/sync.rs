//! Sync `{{name}}` of integration `{{integration}}` ({{runs}}), saving {{outputs}}.
//! Scaffolded once by `nango generate`; this file is yours.

#[allow(unused_imports)]
use crate::models::{self, syncs::{{marker}}};

/// Fetches the records of `{{name}}` from the provider and saves them.
///
/// Records to save: {{outputs}}. Each needs an `id`.
pub async fn {{function}}() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("sync `{{name}}` is not written yet: fill in src/syncs/{{file}}.rs".into())
}
