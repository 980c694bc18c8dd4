mod models {
    nango_macros::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango_runtime::NangoSync;

#[nango_macros::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango_runtime::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {}
