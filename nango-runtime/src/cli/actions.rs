//! `action`: runs an action of this program once for a connection, as `POST /action/trigger`
//! would, and prints its output.

use super::args::RuntimeArgs;
use super::{CliResult, json_arg};
use crate::{ActionRegistration, registered_actions};
use clap::Args;
use std::process::ExitCode;

/// `action`
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// Action name (nango.yaml).
    pub action: String,
    /// Connection id.
    #[arg(long)]
    pub connection: String,
    /// Integration key (default: the action's).
    #[arg(long)]
    pub integration: Option<String>,
    /// The action's input: JSON, or @file (default: null, for actions without input).
    #[arg(long)]
    pub input: Option<String>,
}

/// The action's registration, or an error naming the actions there are.
fn resolve(name: &str) -> CliResult<&'static ActionRegistration> {
    let all: Vec<&'static ActionRegistration> = registered_actions().collect();
    all.iter().copied().find(|a| a.descriptor.name == name).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|a| a.descriptor.name).collect();
        format!(
            "no action `{name}` in this program; its actions: {}",
            if names.is_empty() { "none".into() } else { names.join(", ") }
        )
        .into()
    })
}

pub(super) async fn action(runtime: &RuntimeArgs, args: &ActionArgs) -> CliResult<ExitCode> {
    let action = resolve(&args.action)?;
    let input = args.input.as_deref().map(|i| json_arg("input", i)).transpose()?.unwrap_or_default();
    let integration = args.integration.as_deref().unwrap_or(action.descriptor.integration);
    let runtime = runtime.runtime("action").await?;
    let env = runtime.script_env(integration, &args.connection).await?;
    match action.call(env, input).await {
        Ok(output) => {
            out!("{}", serde_json::to_string_pretty(&output)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // What the API caller would get: the code, the message and the action's payload.
            eprintln!("error ({}): {}", error.code(), nango_types::text::error_chain(&error));
            if let Some(payload) = error.payload() {
                eprintln!("payload: {}", serde_json::to_string_pretty(payload)?);
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
