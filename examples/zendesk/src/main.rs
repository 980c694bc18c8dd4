//! Nango's Zendesk template (`integration-templates/zendesk`) ported to Rust, file for file:
//! `syncs/categories.ts`, `actions/create-user.ts`, `actions/delete-user.ts` and the helper
//! `helpers/get-subdomain.ts` they share (written once against `NangoScript`). The nango.yaml is
//! the template's own, read where the reference templates are kept; the tests replay the
//! template's recorded mocks and compare with its expected records and outputs.

mod actions;
mod helpers;
mod syncs;

mod models {
    nango::nango_models!("../../../shared/reference/templates/zendesk/nango.yaml");
}

fn main() -> std::process::ExitCode {
    nango::cli::main()
}

#[cfg(test)]
mod tests {
    use nango::replay::TemplateMocks;

    fn mocks() -> TemplateMocks {
        TemplateMocks::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/reference/templates/zendesk/mocks"))
            .unwrap()
    }

    #[tokio::test]
    async fn categories_saves_the_categories_of_both_recorded_pages() {
        let sync = nango::registered_syncs().find(|s| s.descriptor.name == "categories").unwrap();
        let replay = mocks().replay_sync(sync).await.unwrap();
        replay.check().unwrap();
        // Two recorded pages: 9 categories, then an empty page that ends the cursor walk.
        assert_eq!(replay.saved["Category"].len(), 9);
    }

    #[tokio::test]
    async fn create_user_and_delete_user_return_the_recorded_outputs() {
        for name in ["create-user", "delete-user"] {
            let action = nango::registered_actions().find(|a| a.descriptor.name == name).unwrap();
            mocks().replay_action(action).await.unwrap().check().unwrap();
        }
    }
}
