//! Action `{{name}}` of integration `{{integration}}`.
//! Scaffolded once by `nango generate`; this file is yours.

#[allow(unused_imports)]
use crate::models::{self, actions::{{marker}}};
use nango::NangoAction;

/// Runs `{{name}}`: takes `{{input_type}}`, returns `{{output_type}}`.
/// `#[nango_action]` checks this function against nango.yaml when it compiles.
#[nango::nango_action("{{name}}", integration = "{{integration}}")]
pub async fn {{function}}(nango: &mut NangoAction<{{marker}}>, input: {{input_type}}) -> nango::Result<{{output_type}}> {
    let _ = (nango, input);
    Err("action `{{name}}` is not written yet: fill in src/actions/{{file}}.rs".into())
}
