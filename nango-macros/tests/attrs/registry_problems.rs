//! Scripts without a function: the start-up check names each (a second function for a script is
//! a compile error instead: see duplicate_sync.rs).
mod models {
    nango::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango::NangoSync;

#[nango::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {
    let problems = models::PROJECT.check().unwrap_err();
    assert_eq!(
        problems,
        [
            "sync `github-labels` of `github` has no #[nango_sync] function",
            "action `create-issue` of `github` has no #[nango_action] function",
            "on-event script `setup` of `github` has no #[nango_on_event] function",
            "on-event script `teardown` of `github` has no #[nango_on_event] function",
        ]
    );
}
