//! The `github-tickets` sync: GitHub issues mapped to tickets.

use crate::models::{self, Ticket, TicketState};
use chrono::{DateTime, Utc};
use nango_macros::nango_sync;
use nango_runtime::{NangoSync, Result};
use serde::Deserialize;

/// The part of GitHub's issue JSON the sync reads.
#[derive(Debug, Deserialize)]
pub struct GithubIssue {
    id: u64,
    number: u64,
    title: String,
    state: String,
    user: Option<GithubUser>,
    #[serde(default)]
    labels: Vec<GithubLabel>,
    #[serde(default)]
    comments: u64,
    html_url: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    /// Present on pull requests, which GitHub lists among issues.
    pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct GithubUser {
    login: String,
}

#[derive(Debug, Deserialize)]
struct GithubLabel {
    name: String,
}

impl From<GithubIssue> for Ticket {
    fn from(issue: GithubIssue) -> Ticket {
        Ticket {
            id: issue.id.to_string(),
            number: issue.number as f64,
            title: issue.title,
            state: if issue.state == "closed" { TicketState::Closed } else { TicketState::Open },
            author: issue.user.map(|u| u.login).unwrap_or_else(|| "ghost".into()),
            labels: issue.labels.into_iter().map(|l| l.name).collect(),
            comments: issue.comments as f64,
            url: issue.html_url,
            created_at: issue.created_at,
            updated_at: issue.updated_at,
            closed_at: issue.closed_at,
        }
    }
}

/// Lists the repository's issues oldest change first, from the last successful run on, a
/// page at a time; GitHub's `Link` header drives the pagination.
#[nango_sync]
pub async fn github_tickets(nango: &mut NangoSync<models::syncs::GithubTickets>) -> Result<()> {
    let repo = nango.metadata()?;
    let mut pages = nango
        .paginate::<GithubIssue>(format!("/repos/{}/{}/issues", repo.owner, repo.repo))
        .query("state", "all")
        .query("sort", "updated")
        .query("direction", "asc")
        .limit(100);
    if let Some(since) = nango.last_sync_date() {
        pages = pages.query("since", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    while let Some(page) = pages.next_page().await? {
        let tickets: Vec<Ticket> = page.into_iter().filter(|i| i.pull_request.is_none()).map(Ticket::from).collect();
        nango.batch_save(tickets).await?;
    }
    Ok(())
}
