mod models {
    nango::nango_models!("../../../../nango-macros/tests/attrs/scripts.yaml");
}
use nango::{NangoAction, NangoSync};

#[nango::nango_sync(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn github_issues(nango: &mut NangoSync<models::syncs::GithubIssues>) -> nango::Result<()> {
    nango.batch_save(vec![models::Issue { id: "1".into(), title: "t".into() }]).await
}

#[nango::nango_sync("github-labels", integration = "github", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn labels(nango: &mut NangoSync<models::syncs::GithubLabels>) -> nango::Result<()> {
    nango.batch_delete(vec![models::Label { id: "1".into() }]).await
}

#[nango::nango_action(name = "create-issue", models = crate::models, path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn create_issue(_nango: &mut NangoAction<models::actions::CreateIssue>, input: models::CreateIssue) -> nango::Result<models::Issue> {
    Ok(models::Issue { id: "2".into(), title: input.title })
}

#[nango::nango_on_event(path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn setup(nango: &mut nango::NangoEvent) -> nango::Result<()> {
    assert_eq!(nango.event(), nango::OnEvent::PostConnectionCreation);
    Ok(())
}

#[nango::nango_on_event("teardown", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn remove_hooks(nango: &mut nango::NangoEvent) -> nango::Result<()> {
    let _ = nango.connection_id();
    Ok(())
}

#[nango::nango_webhook("github-issues", path = "../../../../nango-macros/tests/attrs/scripts.yaml")]
async fn issue_webhook(nango: &mut NangoSync<models::syncs::GithubIssues>, payload: models::Issue) -> nango::Result<()> {
    nango.batch_update(vec![payload]).await
}

fn main() {
    models::PROJECT.check().unwrap();
    assert_eq!(nango::registered_on_events().count(), 2);
    let hook = nango::registered_webhooks().next().unwrap();
    assert_eq!((hook.descriptor.name, hook.function), ("github-issues", "issue_webhook"));
    nango::check_registry(models::SYNCS, models::ACTIONS).unwrap();
    let mut names: Vec<_> = nango::registered_syncs().map(|r| (r.descriptor.name, r.function)).collect();
    names.sort();
    assert_eq!(names, [("github-issues", "github_issues"), ("github-labels", "labels")]);
    for sync in nango::registered_syncs() {
        let (secs, outputs) = match sync.descriptor.name {
            "github-issues" => (3600, ["Issue"]),
            _ => (86400, ["Label"]),
        };
        assert_eq!(sync.descriptor.interval.as_secs(), secs);
        assert_eq!(sync.descriptor.outputs, outputs);
    }
    let action = nango::registered_actions().next().unwrap();
    assert_eq!((action.descriptor.name, action.descriptor.input, action.descriptor.outputs), ("create-issue", Some("CreateIssue"), &["Issue"][..]));
}
