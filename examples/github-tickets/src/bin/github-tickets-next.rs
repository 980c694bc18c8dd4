//! The example's next version: the same `github-tickets` sync, compiled against
//! next/nango.yaml (the example's nango.yaml with one more sync, `github-open-issues`). The
//! rolling-deploy test runs it beside `github-tickets` on one database, as a newer binary beside
//! an older one. Its command line is the runtime's (`serve`, `deploy`, ...).

use nango::{NangoSync, Result, nango_sync};
use serde::Deserialize;
use std::process::ExitCode;

/// The `github-tickets` sync, the very source file of the example's library, here typed by this
/// version's models.
#[path = "../sync.rs"]
#[allow(dead_code)]
mod sync;

/// Models, sync descriptors and `PROJECT` of the next version.
mod models {
    nango::include_models!("next/nango_models.rs");
}

/// The part of an issue the open-issues sync reads.
#[derive(Debug, Deserialize)]
struct Issue {
    id: u64,
    title: String,
    pull_request: Option<serde_json::Value>,
}

/// The repository's open issues (pull requests left out), every run in full.
#[nango_sync(path = "next/nango.yaml")]
async fn github_open_issues(nango: &mut NangoSync<models::syncs::GithubOpenIssues>) -> Result<()> {
    let repo = nango.metadata()?;
    let path = format!("/repos/{}/{}/issues", repo.owner, repo.repo);
    for page in 1u32.. {
        let issues: Vec<Issue> = nango
            .get(&path)
            .query("state", "open")
            .query("per_page", sync::PER_PAGE)
            .query("page", page)
            .send_json()
            .await?;
        let full = issues.len() >= sync::PER_PAGE;
        let open: Vec<models::OpenIssue> = issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .map(|i| models::OpenIssue { id: i.id.to_string(), title: i.title })
            .collect();
        nango.batch_save(open).await?;
        if !full {
            break;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    models::PROJECT.main()
}
