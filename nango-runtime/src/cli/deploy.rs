//! `deploy`: compares what this binary brings (its syncs, actions, on-event scripts and model
//! schemas) with what the store says is deployed, prints the plan, and applies it in one
//! transaction; and what `serve` does with a pending plan at start.

use super::CliResult;
use super::args::{Format, RuntimeArgs};
use crate::deploy::{Applied, ApplyOptions, DeployError, Deployer, Manifest, Plan, change_line, render_plan};
use crate::store::Store;
use clap::Args;
use std::process::ExitCode;

/// `deploy`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Print what would change and change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Output format: the plan as text (`table`) or JSON.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Apply destructive changes too: removed syncs (their schedules) and actions, removed
    /// models (their records are deleted), fields dropped from stored records, and stored
    /// records that no longer match their model (deleted; their syncs resync in full).
    #[arg(long)]
    pub allow_destructive: bool,
    /// Resync in full (forget `last_sync_date` and checkpoints, run at once) the syncs whose
    /// `version` changed.
    #[arg(long)]
    pub resync: bool,
    /// Print the deployment history instead (newest first).
    #[arg(long, conflicts_with_all = ["plan", "allow_destructive", "resync"])]
    pub history: bool,
}

/// The program's file name, which names it in the deployment history.
pub(super) fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "nango-program".into())
}

pub(super) async fn deploy(runtime: &RuntimeArgs, args: &DeployArgs) -> CliResult<ExitCode> {
    let store = runtime.open_store().await?;
    let result = run(&store, args).await;
    store.close().await;
    result
}

async fn run(store: &Store, args: &DeployArgs) -> CliResult<ExitCode> {
    let deployer = Deployer::new(store.clone(), &program_name());
    if args.history {
        return history(&deployer, args.format).await;
    }
    let plan = deployer.plan(Manifest::of_binary()).await?;
    let json = args.format == Format::Json;
    if args.plan {
        if json {
            out!("{}", serde_json::to_string_pretty(&plan.to_json())?);
        } else {
            print!("{}", render_plan(&plan));
            if !plan.destructive().is_empty() {
                out!("apply with `deploy --allow-destructive` (destructive changes are refused without it)");
            } else if !plan.is_up_to_date() {
                out!("apply with `deploy`");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        print!("{}", render_plan(&plan));
    }
    let options = ApplyOptions { allow_destructive: args.allow_destructive, resync: args.resync };
    let applied = deployer.apply(&plan, options).await?;
    if json {
        let mut value = plan.to_json();
        value["applied"] = applied_json(applied);
        out!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        match applied {
            Applied::Deployed { id, .. } => out!("applied as deployment #{id}"),
            Applied::UpToDate { id } => out!("already deployed (deployment #{id}); nothing changed"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn applied_json(applied: Applied) -> serde_json::Value {
    match applied {
        Applied::Deployed { id, changes } => serde_json::json!({"deployment": id, "changes": changes}),
        Applied::UpToDate { id } => serde_json::json!({"deployment": id, "changes": 0}),
    }
}

async fn history(deployer: &Deployer, format: Format) -> CliResult<ExitCode> {
    let deployments = deployer.history(100).await?;
    if format == Format::Json {
        let list: Vec<serde_json::Value> = deployments
            .iter()
            .map(|d| {
                serde_json::json!({
                    "id": d.id, "deployed_at": d.deployed_at, "fingerprint": d.fingerprint,
                    "previous": d.previous, "applied_by": d.applied_by, "changes": d.changes,
                })
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if deployments.is_empty() {
        out!("nothing deployed yet");
    }
    for d in &deployments {
        let changes = d.changes.as_array().map_or(0, Vec::len);
        out!(
            "#{} {} {} by {}: {changes} change{}",
            d.id,
            d.deployed_at.format("%Y-%m-%d %H:%M:%S UTC"),
            d.fingerprint.get(..12).unwrap_or(&d.fingerprint),
            d.applied_by,
            if changes == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `serve` does at start: applies the pending plan when it has no destructive change (or
/// they are allowed), and otherwise refuses to start, naming each and what to do.
pub(super) async fn at_start(store: &Store, options: ApplyOptions) -> CliResult<()> {
    let deployer = Deployer::new(store.clone(), &format!("{} serve", program_name()));
    let manifest = Manifest::of_binary();
    // An older binary (a replica of the previous version restarting during a rolling deploy)
    // must not undo the newer deployment: it starts as it is, and its runner takes only the
    // tasks of syncs whose run version the newer one did not change.
    if let Some((mine, deployed)) = deployer.superseded(&manifest).await? {
        eprintln!(
            "this binary was deployed as #{} and deployment #{} (by {}) replaced it: starting without deploying; \
             its runner takes only tasks of the syncs whose version did not change (roll back with `deploy`)",
            mine.id, deployed.id, deployed.applied_by
        );
        return Ok(());
    }
    let plan: Plan = deployer.plan(manifest).await?;
    match deployer.apply(&plan, options).await {
        Ok(Applied::Deployed { id, .. }) => {
            eprintln!("deployed this binary's changes as deployment #{id}:");
            for change in &plan.changes {
                eprintln!("  {}", change_line(change));
            }
            Ok(())
        }
        Ok(Applied::UpToDate { .. }) => Ok(()),
        Err(DeployError::Destructive { changes }) => Err(format!(
            "not starting: this binary differs from the deployed one by {} destructive change(s):\n  {}\n\
             nothing was changed; review the plan with `deploy --plan`, then apply it with \
             `deploy --allow-destructive`, or start with `serve --allow-destructive`",
            changes.len(),
            changes.join("\n  ")
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}
