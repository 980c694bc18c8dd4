mod models {
    nango_macros::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango_runtime::NangoAction;

#[nango_macros::nango_action(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn create_issue(_nango: &mut NangoAction<models::actions::CreateIssue>, input: models::Label) -> nango_runtime::Result<models::Label> {
    Ok(input)
}

fn main() {}
