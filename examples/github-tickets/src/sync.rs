//! The `github-tickets` sync: GitHub issues mapped to tickets.

use crate::models::{self, Ticket, TicketState};
use chrono::{DateTime, Utc};
use nango::nango_sync;
use nango::{NangoSync, PageIfChanged, Result};
use serde::{Deserialize, Serialize};

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

/// Issues per request: GitHub's maximum.
pub const PER_PAGE: usize = 100;

/// A checkpoint every this many pages (about one batch of records written): a failed run resumes
/// at most this many pages back, without a checkpoint write per page.
pub const PAGES_PER_CHECKPOINT: u32 = 10;

/// Where a run is in the listing, saved as the checkpoint: the issues updated at or after `since`
/// (every issue when `None`), oldest change first, from page `page` of that listing.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use github_tickets::sync::Position;
///
/// let t = |s| Utc.timestamp_opt(s, 0).unwrap();
/// let start = Position { since: None, page: 1 };
/// // After a full page, the listing starts again a second before its newest issue.
/// assert_eq!(start.next(t(1000)), Position { since: Some(t(999)), page: 1 });
/// // A page that did not get past that second (a bulk edit): the next page of the same listing.
/// assert_eq!(Position { since: Some(t(999)), page: 1 }.next(t(1000)), Position { since: Some(t(999)), page: 2 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Issues updated at or after this time; `None` for all of them.
    pub since: Option<DateTime<Utc>>,
    /// The page of that listing to read next, from 1.
    pub page: u32,
}

impl Position {
    /// Where to read after a full page whose newest issue was updated at `newest`: the listing
    /// again from one second before `newest`, page 1.
    ///
    /// Restarting at the watermark is what keeps the run correct while issues change. With page
    /// numbers over one `sort=updated` listing, an issue edited during the run moves to its end,
    /// every issue behind it moves up one place, and the one that crosses into a page already
    /// read is never fetched (nor by later runs: its `updated_at` is older than their `since`).
    /// Asking again for "updated at or after the newest one seen" has no positions to shift:
    /// what was read stays behind the watermark, an edited issue comes again at the end.
    ///
    /// The second of overlap makes it right whether `since` keeps the issues updated *at* that
    /// second or only after it; the few issues read twice are saved unchanged. If a whole page
    /// does not get past that second (more than a page of issues changed in one or two
    /// seconds, a bulk edit), time cannot move the listing on, and the next page of the same
    /// listing is read instead.
    pub fn next(&self, newest: DateTime<Utc>) -> Position {
        let watermark = newest - chrono::TimeDelta::seconds(1);
        match self.since {
            Some(since) if watermark <= since => Position { since: self.since, page: self.page + 1 },
            _ => Position { since: Some(watermark), page: 1 },
        }
    }
}

/// Lists the repository's issues oldest change first, from the last successful run on (or from
/// the checkpoint of a run that failed), restarting the listing at the newest `updated_at` read
/// after every page (see [`Position::next`]), with a checkpoint every
/// [`PAGES_PER_CHECKPOINT`] pages.
///
/// Each page is a conditional request ([`NangoSync::send_json_if_changed`]): a page fetched
/// before is sent with its `ETag`, and when GitHub answers `304 Not Modified` (which costs no
/// rate limit) nothing of it is read or written, and the listing goes on from the position the
/// page led to then, stored with its `ETag`. The sync has no `track_deletes`, which would rule
/// this out.
#[nango_sync]
pub async fn github_tickets(nango: &mut NangoSync<models::syncs::GithubTickets>) -> Result<()> {
    let repo = nango.metadata()?;
    let path = format!("/repos/{}/{}/issues", repo.owner, repo.repo);
    let resumed = nango.checkpoint::<Position>()?;
    let resuming = resumed.is_some();
    let mut at = resumed.unwrap_or(Position { since: nango.last_sync_date(), page: 1 });
    let mut pages = 0u32;
    loop {
        let mut request = nango
            .get(&path)
            .query("state", "all")
            .query("sort", "updated")
            .query("direction", "asc")
            .query("per_page", PER_PAGE)
            .query("page", at.page);
        if let Some(since) = at.since {
            request = request.query("since", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        let next = match nango.send_json_if_changed::<Vec<GithubIssue>, Position>(request).await? {
            // Unchanged since a run fetched it: its issues are stored; go on from where it led.
            PageIfChanged::Unchanged(next) => next,
            PageIfChanged::Changed(issues, page) => {
                let full = issues.len() >= PER_PAGE;
                let newest = issues.iter().map(|issue| issue.updated_at).max();
                let tickets: Vec<Ticket> =
                    issues.into_iter().filter(|i| i.pull_request.is_none()).map(Ticket::from).collect();
                nango.batch_save(tickets).await?;
                let next = newest.filter(|_| full).map(|newest| at.next(newest));
                nango.page_done(page, next.as_ref()).await?;
                next
            }
        };
        match next {
            Some(next) => at = next,
            None => break,
        }
        pages += 1;
        if pages.is_multiple_of(PAGES_PER_CHECKPOINT) {
            nango.save_checkpoint(&at).await?;
        }
    }
    // The listing is read to its end: the next run starts from this run's start
    // (`last_sync_date`), which also covers what changed while it ran.
    if resuming || pages >= PAGES_PER_CHECKPOINT {
        nango.clear_checkpoint().await?;
    }
    Ok(())
}
