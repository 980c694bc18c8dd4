//! The plan as text: a header (what is deployed, what this binary brings) and one line per
//! change, `+` added, `-` removed, `~` changed, with what it touches; destructive ones end in
//! `[destructive]`. No times or process ids, so the same store and binary give the same text.

use super::{Change, Plan};

/// The first 12 digits of a fingerprint.
fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

/// `2 connections (acme, demo)`, naming at most five.
fn connections(ids: &[String]) -> String {
    let named: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
    let more = ids.len().saturating_sub(named.len());
    let list = if more > 0 { format!("{}, and {more} more", named.join(", ")) } else { named.join(", ") };
    match ids.len() {
        0 => "no connection".to_owned(),
        1 => format!("1 connection ({list})"),
        n => format!("{n} connections ({list})"),
    }
}

fn records(n: u64) -> String {
    if n == 1 { "1 record".to_owned() } else { format!("{n} records") }
}

fn list(items: &[String]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

/// One change as a line (without the indent).
///
/// ```
/// use nango_runtime::deploy::{Change, render_plan};
/// let c = Change::ActionAdded { integration: "github".into(), action: "create-issue".into() };
/// assert_eq!(nango_runtime::deploy::change_line(&c), "+ action github/create-issue");
/// ```
pub fn change_line(change: &Change) -> String {
    let text = match change {
        Change::SyncAdded { integration, sync, auto_start, connections: c } => format!(
            "+ sync {integration}/{sync}: scheduled for {}{}",
            connections(c),
            if *auto_start { ", starts on its own" } else { ", paused until started (auto_start: false)" }
        ),
        Change::SyncRemoved { integration, sync, connections: c } => {
            format!("- sync {integration}/{sync}: unscheduled for {}", connections(c))
        }
        Change::SyncChanged { integration, sync, settings, connections: c } => {
            let what: Vec<String> =
                settings.iter().map(|s| format!("{} `{}` -> `{}`", s.setting, s.from, s.to)).collect();
            let mut line = format!("~ sync {integration}/{sync}: {} for {}", what.join(", "), connections(c));
            if settings.iter().any(|s| s.setting == "frequency") {
                line.push_str("; frequencies set through the API stay");
            }
            line
        }
        Change::ActionAdded { integration, action } => format!("+ action {integration}/{action}"),
        Change::ActionRemoved { integration, action, connections: c } => {
            format!("- action {integration}/{action}: no longer callable by {}", connections(c))
        }
        Change::ActionChanged { integration, action, settings } => {
            let what: Vec<String> =
                settings.iter().map(|s| format!("{} `{}` -> `{}`", s.setting, s.from, s.to)).collect();
            format!("~ action {integration}/{action}: {}", what.join(", "))
        }
        Change::OnEventAdded { integration, event, script } => {
            format!("+ on-event script {integration}/{script} ({event})")
        }
        Change::OnEventRemoved { integration, event, script } => {
            format!("- on-event script {integration}/{script} ({event})")
        }
        Change::ModelAdded { integration, model } => format!("+ model {model} of {integration}"),
        Change::ModelRemoved { integration, model, connections: c, records: n } => {
            format!("- model {model} of {integration}: {} deleted in {}", records(*n), connections(c))
        }
        Change::ModelChanged { model, fields, connections: c, records: n, holding_removed, incompatible, example } => {
            let mut parts = Vec::new();
            if !fields.added.is_empty() {
                parts.push(format!("added {}", list(&fields.added)));
            }
            if !fields.removed.is_empty() {
                parts.push(format!(
                    "removed {} (held by {}, taken out of them)",
                    list(&fields.removed),
                    records(*holding_removed)
                ));
            }
            if !fields.retyped.is_empty() {
                parts.push(format!("changed type {}", list(&fields.retyped)));
            }
            let held =
                if *n == 0 { "no stored record".to_owned() } else { format!("{} in {}", records(*n), connections(c)) };
            let mut line = format!("~ model {model}: fields {}; {held}", parts.join("; "));
            if *incompatible > 0 {
                let (connection, id) = example.clone().unwrap_or_default();
                line.push_str(&format!(
                    "; {} no longer match the new schema (record `{id}` of connection `{connection}`, for one): \
                     make the new type accept the stored values, or let the deployment delete them and resync",
                    records(*incompatible)
                ));
            }
            line
        }
    };
    if change.is_destructive() { format!("{text}  [destructive]") } else { text }
}

/// The plan as text.
///
/// ```
/// use nango_runtime::deploy::{Change, Plan, Manifest, render_plan};
/// let plan = Plan {
///     deployed: None,
///     target: "0123456789abcdef0123456789abcdef".into(),
///     changes: vec![Change::ActionAdded { integration: "github".into(), action: "create-issue".into() }],
///     manifest: Manifest::default(),
///     previous: None,
/// };
/// assert_eq!(render_plan(&plan), "deployed: nothing yet\nthis binary: 0123456789ab\n1 change, 0 destructive:\n  + action github/create-issue\n");
/// ```
pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    match &plan.deployed {
        Some(d) => out.push_str(&format!("deployed: {} (deployment #{})\n", short(&d.fingerprint), d.id)),
        None => out.push_str("deployed: nothing yet\n"),
    }
    out.push_str(&format!("this binary: {}\n", short(&plan.target)));
    if plan.is_up_to_date() {
        out.push_str("up to date: nothing to change\n");
        return out;
    }
    if plan.changes.is_empty() {
        out.push_str("no change to syncs, actions or models (the manifest is recorded as deployed)\n");
        return out;
    }
    let n = plan.changes.len();
    out.push_str(&format!("{n} change{}, {} destructive:\n", if n == 1 { "" } else { "s" }, plan.destructive().len()));
    for change in &plan.changes {
        out.push_str("  ");
        out.push_str(&change_line(change));
        out.push('\n');
    }
    out
}
