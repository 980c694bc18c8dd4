mod models {}

#[nango_macros::nango_sync(path = "../../../../nango-macros/tests/ui/invalid.yaml")]
async fn issues(nango: &mut nango_runtime::NangoSync<models::syncs::Issues>) -> nango_runtime::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {}
