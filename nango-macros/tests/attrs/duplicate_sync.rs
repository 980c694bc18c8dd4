//! Two functions for one sync: a compile error naming both.
mod models {
    nango::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango::NangoSync;

#[nango::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango::Result<()> {
    let _ = nango;
    Ok(())
}

#[nango::nango_sync("github-issues", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn issues_again(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {
    models::PROJECT.check().unwrap_err();
}
