mod models {}

#[nango::nango_sync(path = "../../../../nango-macros/tests/ui/invalid.yaml")]
async fn issues(nango: &mut nango::NangoSync<models::syncs::Issues>) -> nango::Result<()> {
    let _ = nango;
    Ok(())
}

fn main() {}
