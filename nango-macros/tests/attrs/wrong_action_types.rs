mod models {
    nango::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango::NangoAction;

#[nango::nango_action(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn create_issue(_nango: &mut NangoAction<models::actions::CreateIssue>, input: models::Label) -> nango::Result<models::Label> {
    Ok(input)
}

fn main() {}
