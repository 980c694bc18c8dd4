//! Action `{{name}}` of integration `{{integration}}`.
//! Scaffolded once by `nango generate`; this file is yours.

#[allow(unused_imports)]
use crate::models::{self, actions::{{marker}}};

/// Runs `{{name}}`: takes `{{input_type}}`, returns `{{output_type}}`.
pub async fn {{function}}(input: {{input_type}}) -> Result<{{output_type}}, Box<dyn std::error::Error + Send + Sync>> {
    let _ = input;
    Err("action `{{name}}` is not written yet: fill in src/actions/{{file}}.rs".into())
}
