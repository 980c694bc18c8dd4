//! `syncs`, `dryrun` and `run`: the syncs of this program, and running one.

use super::args::{RuntimeArgs, SyncTarget};
use super::{CliResult, json_arg};
use crate::engine::{DryRunOptions, RunError};
use crate::store::RunStatus;
use crate::{SyncRegistration, registered_syncs};
use chrono::{DateTime, Utc};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `dryrun`
#[derive(Debug, Args)]
pub struct DryrunArgs {
    /// The sync and the connection.
    #[command(flatten)]
    pub target: SyncTarget,
    /// Use this last sync date (RFC 3339) instead of the stored one.
    #[arg(long)]
    pub last_sync_date: Option<DateTime<Utc>>,
    /// Use this metadata (JSON or @file) instead of the connection's.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Start from this checkpoint (JSON or @file).
    #[arg(long)]
    pub checkpoint: Option<String>,
    /// Save every HTTP exchange in this folder (the mock provider can replay them).
    #[arg(long)]
    pub save_responses: Option<PathBuf>,
    /// Write the records as JSON Lines in this folder.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Records shown per model.
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
}

/// `run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The sync and the connection.
    #[command(flatten)]
    pub target: SyncTarget,
    /// Forget the last sync date and checkpoint first (a full resync).
    #[arg(long)]
    pub full: bool,
    /// When another process runs this sync for this connection, wait for it to end instead of
    /// stopping with an error.
    #[arg(long)]
    pub wait: bool,
}

impl SyncTarget {
    /// The sync's registration, and the integration: the one given, else the sync's.
    fn resolve(&self) -> CliResult<(&'static SyncRegistration, String)> {
        let all: Vec<&'static SyncRegistration> = registered_syncs().collect();
        let Some(sync) = all.iter().copied().find(|s| s.descriptor.name == self.sync) else {
            let names: Vec<&str> = all.iter().map(|s| s.descriptor.name).collect();
            return Err(format!(
                "no sync `{}` in this program; its syncs: {}",
                self.sync,
                if names.is_empty() { "none".into() } else { names.join(", ") }
            )
            .into());
        };
        let integration = self.integration.clone().unwrap_or_else(|| sync.descriptor.integration.to_owned());
        Ok((sync, integration))
    }
}

/// `syncs`: one line per sync.
pub(super) fn list() -> ExitCode {
    for sync in registered_syncs() {
        let d = sync.descriptor;
        out!(
            "{:<30} {:<16} {:<12} {:<20} models: {}",
            d.name,
            d.integration,
            format!("{:?}", d.sync_type).to_lowercase(),
            d.runs,
            d.outputs.join(", ")
        );
    }
    ExitCode::SUCCESS
}

fn progress_bar() -> (indicatif::ProgressBar, crate::engine::Progress) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    // The spinner turns on a thread of its own; when stderr is not a terminal nothing is drawn,
    // so no thread is started (a one-shot `run` from cron or a script keeps one thread fewer).
    if !bar.is_hidden() {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    let shown = bar.clone();
    let counts = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<String, u64>::new()));
    let progress: crate::engine::Progress = Arc::new(move |model: &str, total: u64| {
        let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.insert(model.to_owned(), total);
        let text: Vec<String> = counts.iter().map(|(m, n)| format!("{m}: {n} records")).collect();
        shown.set_message(text.join(", "));
    });
    (bar, progress)
}

fn print_counts(counts: &crate::store::ModelCounts) {
    if counts.is_empty() {
        out!("  no records");
    }
    for (model, c) in counts {
        out!("  {model}: {} added, {} updated, {} deleted", c.added, c.updated, c.deleted);
    }
}

pub(super) async fn dryrun(runtime: &RuntimeArgs, args: &DryrunArgs) -> CliResult<ExitCode> {
    let (sync, integration) = args.target.resolve()?;
    let (bar, progress) = progress_bar();
    let runtime = runtime.runtime("dryrun").await?.with_progress(progress);
    let options = DryRunOptions {
        last_sync_date: args.last_sync_date,
        metadata: args.metadata.as_deref().map(|m| json_arg("metadata", m)).transpose()?,
        checkpoint: args.checkpoint.as_deref().map(|c| json_arg("checkpoint", c)).transpose()?,
        save_responses: args.save_responses.clone(),
        output: args.output.clone(),
        samples: args.samples,
    };
    let report = runtime.dry_run(sync, &integration, &args.target.connection, options).await?;
    bar.finish_and_clear();
    // A failure comes first: what the sync would have saved before it matters less.
    if let Some(e) = &report.error {
        eprintln!("error: the sync failed: {e}");
    }
    out!(
        "dry run of `{}` for `{}` ({:.1?}); nothing was written to the store",
        args.target.sync,
        args.target.connection,
        report.duration
    );
    out!("{}", if report.error.is_some() { "before it failed, it would have saved:" } else { "would be:" });
    print_counts(&report.counts);
    for (model, samples) in &report.samples {
        out!("first {} {model} record(s):", samples.len());
        for s in samples {
            out!("{}", serde_json::to_string_pretty(s)?);
        }
    }
    if let Some(c) = &report.checkpoint {
        out!("checkpoint left: {c}");
    }
    if let Some(dir) = &args.save_responses {
        out!("HTTP exchanges saved in {}", dir.display());
    }
    Ok(if report.error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub(super) async fn run(runtime: &RuntimeArgs, args: &RunArgs) -> CliResult<ExitCode> {
    let (sync, integration) = args.target.resolve()?;
    let connection = &args.target.connection;
    let (bar, progress) = progress_bar();
    // One SQLite connection: the run's calls come one after another (the lease's heartbeat
    // waits for a batch's transaction at most), and every pooled connection costs a thread.
    let runtime = runtime.one_run_runtime("run").await?.with_progress(progress);
    if args.full {
        let key = runtime
            .store()
            .connection_key(&integration, connection)
            .await?
            .ok_or_else(|| format!("no connection `{connection}` for integration `{integration}`"))?;
        runtime.store().reset_sync(key, sync.descriptor.name, &[], false).await?;
    }
    let report = loop {
        match runtime.run_sync(sync, &integration, connection).await {
            Err(RunError::Busy { holder, .. }) if args.wait => {
                bar.set_message(format!("waiting: {} runs this sync", holder.label));
                // Its end frees the lease at once; a crash frees it when it lapses.
                tokio::time::sleep(runtime.lease().1.div_f64(6.0).min(std::time::Duration::from_secs(1))).await;
            }
            other => break other?,
        }
    };
    bar.finish_and_clear();
    let status = match report.status {
        RunStatus::Success => "succeeded",
        _ => "failed",
    };
    out!("run {} of `{}` for `{connection}` {status} in {:.1?}", report.run_id, sync.descriptor.name, report.duration);
    print_counts(&report.counts);
    match report.error {
        Some(e) => {
            eprintln!("error: {e}");
            // Say what the next run starts from, as it is.
            let kept = if report.counts.values().any(|c| !c.is_empty()) {
                "records saved before the failure are kept; "
            } else {
                ""
            };
            match (&report.checkpoint_to, report.last_sync_date) {
                (Some(_), _) => eprintln!("{kept}the next run resumes from the checkpoint this run saved"),
                (None, Some(t)) => eprintln!(
                    "{kept}no checkpoint was saved: the next run starts again from the last successful run ({})",
                    t.to_rfc3339()
                ),
                (None, None) => eprintln!("{kept}no checkpoint was saved: the next run starts from the beginning"),
            }
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
