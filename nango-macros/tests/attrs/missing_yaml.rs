mod models {}

#[nango_macros::nango_sync]
async fn github_issues(nango: &mut nango_runtime::NangoSync<models::syncs::GithubIssues>) -> nango_runtime::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {}
