mod models {
    nango::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango::NangoSync;

#[nango::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango::Result<()> {
    nango.batch_save(vec![models::Label { id: "1".into() }]).await
}

fn main() {}
