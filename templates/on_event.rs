//! On-event script `{{name}}` of integration `{{integration}}` (runs on `{{event}}`).
//! Scaffolded once by `nango generate`; this file is yours.

/// Runs on `{{event}}` for a connection.
pub async fn {{function}}() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("on-event script `{{name}}` is not written yet: fill in src/on_events/{{file}}.rs".into())
}
