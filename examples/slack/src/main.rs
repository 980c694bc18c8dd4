//! Nango's Slack template (`integration-templates/slack`) ported to Rust, file for file:
//! `syncs/channels.ts`, `actions/send-message.ts`, `mappers/to-message.ts`. The nango.yaml is
//! the template's own, read where the reference templates are kept; the tests replay the
//! template's recorded mocks and compare with its expected records and output.
//!
//! Not ported: the `messages` sync, and the `users` sync, whose expected records break the
//! template's own model (a bot user saved without `tz`, `is_admin`, ..., which nango.yaml
//! declares required: TypeScript writes `undefined` there, a Rust `SlackUser` cannot).

mod actions;
mod mappers;
mod syncs;

mod models {
    nango::nango_models!("../../../shared/reference/templates/slack/nango.yaml");
}

fn main() -> std::process::ExitCode {
    nango::cli::main()
}

#[cfg(test)]
mod tests {
    use nango::replay::TemplateMocks;

    fn mocks() -> TemplateMocks {
        TemplateMocks::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/reference/templates/slack/mocks"))
            .unwrap()
    }

    #[tokio::test]
    async fn channels_saves_the_recorded_channels() {
        let sync = nango::registered_syncs().find(|s| s.descriptor.name == "channels").unwrap();
        let replay = mocks().replay_sync(sync).await.unwrap();
        replay.check().unwrap();
        assert_eq!(replay.saved["SlackChannel"].len(), 3);
    }

    #[tokio::test]
    async fn send_message_returns_the_recorded_output() {
        let action = nango::registered_actions().find(|a| a.descriptor.name == "send-message").unwrap();
        mocks().replay_action(action).await.unwrap().check().unwrap();
    }
}
