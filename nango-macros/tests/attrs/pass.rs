mod models {
    nango_macros::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango_runtime::{NangoAction, NangoSync};

#[nango_macros::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango_runtime::Result<()> {
    nango.batch_save(vec![models::Issue { id: "1".into(), title: "t".into() }]).await
}

#[nango_macros::nango_sync("github-labels", integration = "github", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn labels(nango: &mut NangoSync<models::syncs::GithubLabels>) -> nango_runtime::Result<()> {
    nango.batch_delete(vec![models::Label { id: "1".into() }]).await
}

#[nango_macros::nango_action(name = "create-issue", models = crate::models, path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn create_issue(_nango: &mut NangoAction<models::actions::CreateIssue>, input: models::CreateIssue) -> nango_runtime::Result<models::Issue> {
    Ok(models::Issue { id: "2".into(), title: input.title })
}

#[nango_macros::nango_on_event(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn setup(nango: &mut nango_runtime::NangoEvent) -> nango_runtime::Result<()> {
    assert_eq!(nango.event(), nango_runtime::OnEvent::PostConnectionCreation);
    Ok(())
}

#[nango_macros::nango_on_event("teardown", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn remove_hooks(nango: &mut nango_runtime::NangoEvent) -> nango_runtime::Result<()> {
    let _ = nango.connection_id();
    Ok(())
}

#[nango_macros::nango_webhook("github-issues", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn issue_webhook(nango: &mut NangoSync<models::syncs::GithubIssues>, payload: models::Issue) -> nango_runtime::Result<()> {
    nango.batch_update(vec![payload]).await
}

fn main() {
    nango_runtime::check_on_events(models::ON_EVENTS).unwrap();
    assert_eq!(nango_runtime::registered_on_events().count(), 2);
    let hook = nango_runtime::registered_webhooks().next().unwrap();
    assert_eq!((hook.descriptor.name, hook.function), ("github-issues", "issue_webhook"));
    nango_runtime::check_registry(models::SYNCS, models::ACTIONS).unwrap();
    let mut names: Vec<_> = nango_runtime::registered_syncs().map(|r| (r.descriptor.name, r.function)).collect();
    names.sort();
    assert_eq!(names, [("github-issues", "github_issues"), ("github-labels", "labels")]);
    for sync in nango_runtime::registered_syncs() {
        let (secs, outputs) = match sync.descriptor.name {
            "github-issues" => (3600, ["Issue"]),
            _ => (86400, ["Label"]),
        };
        assert_eq!(sync.descriptor.interval.as_secs(), secs);
        assert_eq!(sync.descriptor.outputs, outputs);
    }
    let action = nango_runtime::registered_actions().next().unwrap();
    assert_eq!((action.descriptor.name, action.descriptor.input, action.descriptor.outputs), ("create-issue", Some("CreateIssue"), &["Issue"][..]));
}
