//! `records` and `runs`: what the store holds.

use super::CliResult;
use super::args::{Format, RuntimeArgs};
use crate::registered_syncs;
use crate::store::{ActionFilter, ConnectionKey, RecordQuery, Store};
use chrono::{DateTime, Utc};
use clap::Args;
use std::process::ExitCode;

/// `records`
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// Model name.
    pub model: String,
    /// Connection id.
    #[arg(long)]
    pub connection: String,
    /// Integration key (default: the only one the connection id has).
    #[arg(long)]
    pub integration: Option<String>,
    /// Only records modified at or after this time (RFC 3339).
    #[arg(long)]
    pub modified_after: Option<DateTime<Utc>>,
    /// Only these last actions: added,updated,deleted.
    #[arg(long)]
    pub filter: Option<String>,
    /// At most this many records (all when absent).
    #[arg(long)]
    pub limit: Option<u64>,
    /// `json`: one array of records with `_nango_metadata`.
    #[arg(long, default_value = "table")]
    pub format: Format,
}

/// `runs`
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this connection id.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only this sync.
    #[arg(long)]
    pub sync: Option<String>,
    /// How many.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Also print each run's log: what its script logged with `nango.log(..)`.
    #[arg(long)]
    pub logs: bool,
    /// Output format.
    #[arg(long, default_value = "table")]
    pub format: Format,
}

/// The key of a connection by id, and by integration when the id is not enough.
async fn connection_of(store: &Store, id: &str, integration: Option<&str>) -> CliResult<ConnectionKey> {
    if let Some(integration) = integration {
        return store
            .connection_key(integration, id)
            .await?
            .ok_or_else(|| format!("no connection `{id}` for integration `{integration}`").into());
    }
    // Records need no credentials: connections whose credentials do not open are found too.
    let list = store.connections().await?;
    let matching: Vec<(ConnectionKey, &crate::Connection)> =
        list.identities().filter(|(_, c)| c.connection_id == id).collect();
    match matching.as_slice() {
        [(key, _)] => Ok(*key),
        [] => Err(format!("no connection `{id}`; see `connections list`").into()),
        many => Err(format!(
            "connection id `{id}` exists for several integrations ({}); pass --integration",
            many.iter().map(|(_, c)| c.provider_config_key.as_str()).collect::<Vec<_>>().join(", ")
        )
        .into()),
    }
}

pub(super) async fn records(runtime: &RuntimeArgs, args: &RecordsArgs) -> CliResult<ExitCode> {
    let models: std::collections::BTreeSet<&str> =
        registered_syncs().flat_map(|s| s.descriptor.outputs.iter().copied()).collect();
    if !models.is_empty() && !models.contains(args.model.as_str()) {
        let list: Vec<&str> = models.into_iter().collect();
        return Err(format!(
            "no model `{}` among the outputs of this program's syncs: {}",
            args.model,
            list.join(", ")
        )
        .into());
    }
    let store = runtime.open_store().await?;
    let key = connection_of(&store, &args.connection, args.integration.as_deref()).await?;
    let filter = args.filter.as_deref().map(ActionFilter::parse).transpose().map_err(|e| format!("--filter: {e}"))?;
    let mut query = RecordQuery {
        model: args.model.clone(),
        modified_after: args.modified_after,
        limit: 1000,
        filter,
        ..Default::default()
    };
    let mut left = args.limit.unwrap_or(u64::MAX);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    let mut first = true;
    let mut count = 0u64;
    if args.format == Format::Json {
        write!(out, "[")?;
    } else {
        writeln!(out, "{:<24} {:<9} {:<27} RECORD", "ID", "ACTION", "LAST MODIFIED")?;
    }
    while left > 0 {
        query.limit = left.min(1000) as u32;
        let page = store.records(key, &query).await?;
        for r in &page.records {
            count += 1;
            match args.format {
                Format::Json => {
                    write!(out, "{}\n  {}", if first { "" } else { "," }, serde_json::to_string(&r.to_json())?)?;
                    first = false;
                }
                Format::Table => {
                    let mut text = r.json.clone();
                    if text.len() > 100 {
                        let cut = (0..=100).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                        text.truncate(cut);
                        text.push('…');
                    }
                    writeln!(
                        out,
                        "{:<24} {:<9} {:<27} {text}",
                        r.id,
                        r.metadata.last_action,
                        r.metadata.last_modified_at.format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    )?;
                }
            }
        }
        left = left.saturating_sub(page.records.len() as u64);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    if args.format == Format::Json {
        writeln!(out, "{}]", if first { "" } else { "\n" })?;
    } else {
        writeln!(out, "{count} record(s) of {}", args.model)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn runs(runtime: &RuntimeArgs, args: &RunsArgs) -> CliResult<ExitCode> {
    let store = runtime.open_store().await?;
    let key = match &args.connection {
        Some(id) => Some(connection_of(&store, id, None).await?),
        None => None,
    };
    let list = store.runs(key, args.sync.as_deref(), args.limit).await?;
    let mut logs = Vec::with_capacity(list.len());
    for run in &list {
        logs.push(if args.logs { store.run_logs(run.id).await? } else { Vec::new() });
    }
    if args.format == Format::Json {
        let mut runs = serde_json::to_value(&list)?;
        if let (true, Some(runs)) = (args.logs, runs.as_array_mut()) {
            for (run, lines) in runs.iter_mut().zip(&logs) {
                run["logs"] = serde_json::to_value(lines)?;
            }
        }
        out!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{:<6} {:<24} {:<20} {:<8} {:<20} {:<10} COUNTS / ERROR",
        "RUN",
        "SYNC",
        "CONNECTION",
        "STATUS",
        "STARTED",
        "TOOK"
    );
    for (r, lines) in list.into_iter().zip(logs) {
        let took = r.ended_at.map(|e| format!("{:.1}s", (e - r.started_at).num_milliseconds() as f64 / 1000.0));
        let counts: Vec<String> =
            r.counts.iter().map(|(m, c)| format!("{m} +{} ~{} -{}", c.added, c.updated, c.deleted)).collect();
        out!(
            "{:<6} {:<24} {:<20} {:<8} {:<20} {:<10} {}{}",
            r.id,
            r.sync,
            r.connection_id,
            format!("{:?}", r.status).to_uppercase(),
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            took.unwrap_or_else(|| "-".into()),
            counts.join(", "),
            r.error.map(|e| format!(" {e}")).unwrap_or_default()
        );
        for line in lines {
            out!("       {} {:<5} {}", line.at.format("%H:%M:%S%.3f"), line.level.to_uppercase(), line.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}
