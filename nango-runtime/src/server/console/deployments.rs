//! The deployments page: the deployed version (the fingerprint of the manifest of the binary
//! that last applied a deployment), the history of deployments with what each changed, and the
//! changes this binary would still apply (pending: `serve` applies them at start unless one is
//! destructive, so pending changes are rare here and worth showing).

use super::layout::{Frame, PageResult, page as frame, respond};
use super::parts::when;
use super::session::Session;
use crate::deploy::{Change, Deployer, Manifest, Plan, change_line};
use crate::server::AppState;
use crate::store::deploy::Deployment;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use std::sync::Arc;

/// Deployments listed at most.
const HISTORY: u32 = 50;

/// `GET /console/deployments`.
pub(super) async fn page(State(state): State<Arc<AppState>>, Extension(session): Extension<Session>) -> PageResult {
    let deployer = Deployer::new(state.store().clone(), "console");
    let history = deployer.history(HISTORY).await.map_err(page_error)?;
    let plan = deployer.plan(Manifest::of_binary()).await.map_err(page_error)?;
    let body = template(&history, &plan, Utc::now());
    Ok(respond(
        StatusCode::OK,
        frame("Deployments", Frame { refresh_secs: None, csrf_token: Some(&session.csrf_token) }, body),
    ))
}

fn page_error(e: crate::deploy::DeployError) -> super::layout::PageError {
    super::layout::PageError::new(StatusCode::INTERNAL_SERVER_ERROR, nango_types::text::error_chain(&e))
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

/// One change of the history, as the plan said it.
fn change_of(value: &serde_json::Value) -> String {
    serde_json::from_value::<Change>(value.clone()).map(|c| change_line(&c)).unwrap_or_else(|_| value.to_string())
}

fn template(history: &[Deployment], plan: &Plan, now: DateTime<Utc>) -> Markup {
    html! {
        section #deployed {
            h2 { "Deployed version" }
            @match history.first() {
                Some(d) => p {
                    code { (short(&d.fingerprint)) } " (deployment #" (d.id) ", " (when(d.deployed_at, now)) ", by " (d.applied_by) ")"
                },
                None => p.note { "Nothing deployed yet: the next `serve` or `deploy` records this binary." },
            }
        }
        section #pending {
            h2 { "Pending changes" }
            @if plan.is_up_to_date() || plan.changes.is_empty() {
                p.note { "None: this binary (" code { (short(&plan.target)) } ") is what is deployed." }
            } @else {
                p { "This binary (" code { (short(&plan.target)) } ") differs from the deployed version:" }
                ul { @for change in &plan.changes { li { code { (change_line(change)) } } } }
                p.note { "Review them with `deploy --plan` and apply them with `deploy` (`--allow-destructive` for destructive ones)." }
            }
        }
        section #history {
            h2 { "History" }
            @if history.is_empty() {
                p.note { "No deployment yet." }
            } @else {
                table {
                    thead { tr { th { "#" } th { "when" } th { "version" } th { "by" } th { "changes" } } }
                    tbody {
                        @for d in history {
                            tr {
                                td { (d.id) }
                                td { (when(d.deployed_at, now)) }
                                td { code { (short(&d.fingerprint)) } }
                                td { (d.applied_by) }
                                td {
                                    @let changes = d.changes.as_array().cloned().unwrap_or_default();
                                    @if changes.is_empty() { span.note { "none" } }
                                    @else { ul { @for c in &changes { li { code { (change_of(c)) } } } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
