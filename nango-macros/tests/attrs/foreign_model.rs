mod models {
    nango_macros::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango_runtime::NangoSync;

#[nango_macros::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango_runtime::Result<()> {
    nango.batch_save(vec![models::Label { id: "1".into() }]).await
}

fn main() {}
