//! On-event script `{{name}}` of integration `{{integration}}` (runs on `{{event}}`).
//! Scaffolded once by `nango generate`; this file is yours.

use nango::NangoEvent;

/// Runs on `{{event}}` for a connection.
/// `#[nango_on_event]` checks this function against nango.yaml when it compiles.
#[nango::nango_on_event("{{name}}", integration = "{{integration}}")]
pub async fn {{function}}(nango: &mut NangoEvent) -> nango::Result<()> {
    let _ = nango;
    Err("on-event script `{{name}}` is not written yet: fill in src/on_events/{{file}}.rs".into())
}
