//! Nango's Notion template (`integration-templates/notion`) ported to Rust: `syncs/users.ts`,
//! paginated by the provider's settings (Notion's cursor). The nango.yaml is the template's
//! own, read where the reference templates are kept; the test replays the template's recorded
//! mocks and compares with its expected records.

mod syncs;

mod models {
    nango::nango_models!("../../../shared/reference/templates/notion/nango.yaml");
}

fn main() -> std::process::ExitCode {
    nango::cli::main()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn users_saves_the_recorded_users() {
        let mocks = nango::replay::TemplateMocks::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/templates/notion/mocks"
        ))
        .unwrap();
        let sync = nango::registered_syncs().find(|s| s.descriptor.name == "users").unwrap();
        let replay = mocks.replay_sync(sync).await.unwrap();
        replay.check().unwrap();
        assert_eq!(replay.saved["User"].len(), 3);
    }
}
