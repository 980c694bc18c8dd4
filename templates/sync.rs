//! Sync `{{name}}` of integration `{{integration}}` ({{runs}}), saving {{outputs}}.
//! Scaffolded once by `nango generate`; this file is yours.

#[allow(unused_imports)]
use crate::models::{self, syncs::{{marker}}};
use nango::NangoSync;

/// Fetches the records of `{{name}}` from the provider and saves them with
/// `nango.batch_save(records).await?` (records to save: {{outputs}}; each needs an `id`).
/// `#[nango_sync]` checks this function against nango.yaml when it compiles.
#[nango::nango_sync("{{name}}", integration = "{{integration}}")]
pub async fn {{function}}(nango: &mut NangoSync<{{marker}}>) -> nango::Result<()> {
    let _ = nango;
    Err("sync `{{name}}` is not written yet: fill in src/syncs/{{file}}.rs".into())
}
{{webhook}}
