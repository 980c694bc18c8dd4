//! Syncs of `tests/syncs/nango.yaml` and their setup, shared by the runtime's end-to-end tests
//! (each test file includes this module; each is its own crate, with its own registry).
#![allow(dead_code)]

use nango_runtime::http::Pagination;
use nango_runtime::{NangoSync, Result};
use serde::Deserialize;

pub mod models {
    nango_macros::nango_models!("tests/syncs/nango.yaml");
}
use models::Issue;

#[derive(Debug, Deserialize)]
pub struct GithubIssue {
    id: u64,
    number: u64,
    title: String,
    state: String,
    updated_at: String,
}

impl From<GithubIssue> for Issue {
    fn from(i: GithubIssue) -> Issue {
        Issue {
            id: i.id.to_string(),
            number: i.number as f64,
            title: i.title,
            state: i.state,
            updated_at: i.updated_at,
        }
    }
}

fn repo_path(repo: &models::Repo, prefix: &str) -> String {
    format!("{prefix}/repos/{}/{}/issues", repo.owner, repo.repo)
}

/// Link-header pages; a checkpoint after each page; fails after `fail_after_pages` pages.
#[nango_macros::nango_sync(path = "tests/syncs/nango.yaml", models = crate::common::models)]
pub async fn issues_full(nango: &mut NangoSync<models::syncs::IssuesFull>) -> Result<()> {
    #[derive(serde::Serialize, Deserialize)]
    struct Page {
        page: u64,
    }
    let repo = nango.metadata()?;
    let per_page = repo.per_page.unwrap_or(100.0) as u64;
    let start = nango.checkpoint::<Page>()?.map_or(1, |p| p.page + 1);
    let mut page = start;
    loop {
        let issues: Vec<GithubIssue> = nango
            .get(repo_path(&repo, ""))
            .query("state", "all")
            .query("direction", "asc")
            .query("per_page", per_page)
            .query("page", page)
            .send_json()
            .await?;
        if issues.is_empty() {
            return Ok(());
        }
        nango.batch_save(issues.into_iter().map(Issue::from)).await?;
        nango.save_checkpoint(&Page { page }).await?;
        if repo.fail_after_pages.is_some_and(|n| (page - start + 1) as f64 >= n) {
            return Err(format!("failing on purpose after page {page}").into());
        }
        page += 1;
    }
}

#[nango_macros::nango_sync(path = "tests/syncs/nango.yaml", models = crate::common::models)]
pub async fn issues_incremental(nango: &mut NangoSync<models::syncs::IssuesIncremental>) -> Result<()> {
    let repo = nango.metadata()?;
    let mut pages = nango
        .paginate::<GithubIssue>(repo_path(&repo, ""))
        .query("state", "all")
        .query("sort", "updated")
        .query("direction", "asc")
        .limit(100);
    if let Some(since) = nango.last_sync_date() {
        pages = pages.query("since", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    while let Some(page) = pages.next_page().await? {
        nango.batch_save(page.into_iter().map(Issue::from)).await?;
    }
    Ok(())
}

#[nango_macros::nango_sync(path = "tests/syncs/nango.yaml", models = crate::common::models)]
pub async fn issues_cursor(nango: &mut NangoSync<models::syncs::IssuesCursor>) -> Result<()> {
    let repo = nango.metadata()?;
    let mut pages = nango
        .paginate::<GithubIssue>(repo_path(&repo, "/cursor"))
        .pagination(Pagination::cursor("cursor", "next_cursor").limit_name_in_request("limit").response_path("items"))
        .limit(70);
    while let Some(page) = pages.next_page().await? {
        nango.batch_save(page.into_iter().map(Issue::from)).await?;
    }
    Ok(())
}

#[nango_macros::nango_sync(path = "tests/syncs/nango.yaml", models = crate::common::models)]
pub async fn issues_offset(nango: &mut NangoSync<models::syncs::IssuesOffset>) -> Result<()> {
    let repo = nango.metadata()?;
    let mut pagination = Pagination::offset("offset").limit_name_in_request("limit").response_path("issues");
    if repo.offset_method.as_deref() == Some("per-page") {
        // The mock's offset counts records; per-page counts pages, so scale by the page size.
        pagination = Pagination::page("page").limit_name_in_request("per_page");
        let mut pages =
            nango.paginate::<GithubIssue>(repo_path(&repo, "")).pagination(pagination).limit(40).query("state", "all");
        while let Some(page) = pages.next_page().await? {
            nango.batch_save(page.into_iter().map(Issue::from)).await?;
        }
        return Ok(());
    }
    let mut pages = nango.paginate::<GithubIssue>(repo_path(&repo, "/offset")).pagination(pagination).limit(64);
    while let Some(page) = pages.next_page().await? {
        nango.batch_save(page.into_iter().map(Issue::from)).await?;
    }
    Ok(())
}

#[nango_macros::nango_sync(path = "tests/syncs/nango.yaml", models = crate::common::models)]
pub async fn issues_bodylink(nango: &mut NangoSync<models::syncs::IssuesBodylink>) -> Result<()> {
    let repo = nango.metadata()?;
    let mut pages = nango
        .paginate::<GithubIssue>(repo_path(&repo, "/bodylink"))
        .pagination(Pagination::link_body("links.next").limit_name_in_request("per_page").response_path("data"))
        .limit(90);
    while let Some(page) = pages.next_page().await? {
        nango.batch_save(page.into_iter().map(Issue::from)).await?;
    }
    Ok(())
}

#[nango_macros::nango_sync(path = "tests/syncs/nango.yaml", models = crate::common::models)]
pub async fn issues_pages(nango: &mut NangoSync<models::syncs::IssuesPages>) -> Result<()> {
    let repo = nango.metadata()?;
    let mut pages = nango
        .paginate::<GithubIssue>(repo_path(&repo, ""))
        .pagination(Pagination::page("page").limit_name_in_request("per_page"))
        .query("state", "all")
        .limit(30);
    while let Some(page) = pages.next_page().await? {
        nango.batch_save(page.into_iter().map(Issue::from)).await?;
    }
    Ok(())
}

/// The shared frequency verdict table (`fixtures/frequencies.tsv`): `(text, verdict)` rows.
#[allow(dead_code)]
pub fn frequency_table() -> Vec<(String, nango_types::frequency::Verdict)> {
    let table = include_str!("../../../fixtures/frequencies.tsv");
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (text, verdict) = line.split_once('\t').expect("text<TAB>verdict");
            (text.to_owned(), verdict.parse().expect("a verdict"))
        })
        .collect()
}
