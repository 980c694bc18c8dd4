mod models {
    nango_macros::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango_runtime::NangoSync;

#[nango_macros::nango_webhook("github-labels", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn label_webhook(nango: &mut NangoSync<models::syncs::GithubLabels>, payload: nango_runtime::__private::serde_json::Value) -> nango_runtime::Result<()> {
    let _ = (nango, payload);
    Ok(())
}

fn main() {}
