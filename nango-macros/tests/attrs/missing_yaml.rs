mod models {}

#[nango::nango_sync]
async fn github_issues(nango: &mut nango::NangoSync<models::syncs::GithubIssues>) -> nango::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {}
