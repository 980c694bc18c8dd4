//! Two functions for one sync, none for another: the start-up check names each.
mod models {
    nango_macros::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango_runtime::NangoSync;

#[nango_macros::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango_runtime::Result<()> {
    let _ = nango;
    Ok(())
}

#[nango_macros::nango_sync("github-issues", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn issues_again(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango_runtime::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {
    let problems = nango_runtime::check_registry(models::SYNCS, models::ACTIONS).unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].starts_with("sync `github-issues` of `github` has 2 implementations: "), "{}", problems[0]);
    assert!(problems[0].contains("github_issues (") && problems[0].contains("issues_again ("), "{}", problems[0]);
    assert_eq!(problems[1], "sync `github-labels` of `github` has no #[nango_sync] function");
    assert_eq!(problems[2], "action `create-issue` of `github` has no #[nango_action] function");
    let events = nango_runtime::check_on_events(models::ON_EVENTS).unwrap_err();
    assert_eq!(events, ["on-event script `setup` of `github` has no #[nango_on_event] function", "on-event script `teardown` of `github` has no #[nango_on_event] function"]);
}
