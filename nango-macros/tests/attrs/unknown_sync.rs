mod models {
    nango::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango::NangoSync;

#[nango::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_isues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {}
