//! `replay`: a sync or action of this program against a Nango template's recorded mocks, its
//! records or output compared with the template's expected ones ([`crate::replay`]).

use super::CliResult;
use crate::replay::TemplateMocks;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `replay SCRIPT --mocks DIR`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The sync or action (its nango.yaml name).
    pub script: String,
    /// The template's `mocks/` folder (Nango's layout), or the template's folder holding it.
    #[arg(long, value_name = "DIR")]
    pub mocks: PathBuf,
}

/// Replays the script and says whether it saved (or returned) exactly what the template
/// expects; exit code 1 when not.
pub async fn replay(providers: crate::providers::ProviderCatalog, args: &ReplayArgs) -> CliResult<ExitCode> {
    let mocks = TemplateMocks::open(&args.mocks)?.with_providers(providers);
    let outcome = if let Some(sync) = crate::registered_syncs().find(|s| s.descriptor.name == args.script) {
        let replay = mocks.replay_sync(sync).await?;
        for (model, saved) in &replay.saved {
            let deleted = replay.deleted.get(model).map_or(0, Vec::len);
            out!("{model}: {} saved, {deleted} deleted", saved.len());
        }
        replay.check()
    } else if let Some(action) = crate::registered_actions().find(|a| a.descriptor.name == args.script) {
        let replay = mocks.replay_action(action).await?;
        if let Ok(output) = &replay.output {
            out!("output: {output}");
        }
        replay.check()
    } else {
        let names: Vec<&str> = crate::registered_syncs()
            .map(|s| s.descriptor.name)
            .chain(crate::registered_actions().map(|a| a.descriptor.name))
            .collect();
        return Err(
            format!("this program has no sync or action `{}`; it has: {}", args.script, names.join(", ")).into()
        );
    };
    match outcome {
        Ok(()) => {
            out!("`{}` matches the recorded mocks", args.script);
            Ok(ExitCode::SUCCESS)
        }
        Err(mismatch) => {
            eprintln!("`{}` does not match the recorded mocks:\n{mismatch}", args.script);
            Ok(ExitCode::FAILURE)
        }
    }
}
