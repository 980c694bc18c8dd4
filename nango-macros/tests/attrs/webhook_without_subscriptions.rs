mod models {
    nango::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango::NangoSync;

#[nango::nango_webhook("github-labels", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn label_webhook(nango: &mut NangoSync<models::syncs::GithubLabels>, payload: nango::__private::serde_json::Value) -> nango::Result<()> {
    let _ = (nango, payload);
    Ok(())
}

fn main() {}
