//! Replaying scripts against mocks in the layout of Nango's template tests: hash-named
//! recordings matched by query parameters (cursor pages), a legacy recording, an action's
//! input and output, differences named by field, requests without a recording named, and the
//! CLI's `replay` command.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

use nango_runtime::http::Pagination;
use nango_runtime::replay::TemplateMocks;
use nango_runtime::{NangoAction, NangoScript, NangoSync, Result};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

mod models {
    nango_macros::nango_models!("tests/replay/nango.yaml");
}
use models::{Closed, Ticket, TicketRef};

#[derive(serde::Deserialize)]
struct ZendeskTicket {
    id: u64,
    subject: String,
}

#[nango_macros::nango_sync(path = "tests/replay/nango.yaml", models = crate::models)]
async fn tickets(nango: &mut NangoSync<models::syncs::Tickets>) -> Result<()> {
    let subdomain = nango.get_connection().connection_config["subdomain"].clone();
    let me: Value =
        nango.get("/api/v2/users/me").base_url(format!("https://{subdomain}.zendesk.com")).send_json().await?;
    let requester = me["user"]["name"].as_str().unwrap_or_default().to_owned();
    let mut pages = nango
        .paginate::<ZendeskTicket>("/api/v2/tickets")
        .base_url(format!("https://{subdomain}.zendesk.com"))
        .pagination(
            Pagination::cursor("page[after]", "meta.after_cursor")
                .limit_name_in_request("page[size]")
                .limit(2)
                .response_path("tickets"),
        );
    while let Some(page) = pages.next_page().await? {
        let tickets =
            page.into_iter().map(|t| Ticket { id: t.id.to_string(), title: t.subject, requester: requester.clone() });
        nango.batch_save(tickets).await?;
    }
    nango.batch_delete([Ticket { id: "9".into(), title: String::new(), requester: String::new() }]).await?;
    Ok(())
}

#[nango_macros::nango_action(path = "tests/replay/nango.yaml", models = crate::models)]
async fn close_ticket(nango: &mut NangoAction<models::actions::CloseTicket>, input: TicketRef) -> Result<Closed> {
    let answer: Value = nango
        .post(format!("/api/v2/tickets/{}/close", input.id))
        .json(&json!({"status": "closed"}))
        .send_json()
        .await?;
    Ok(Closed { id: input.id, closed: answer["ticket"]["status"] == "closed", at: None })
}

fn write(root: &Path, relative: &str, value: Value) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

fn recording(params: Value, response: Value) -> Value {
    json!({"method": "get", "endpoint": "api/v2/tickets", "requestIdentityHash": "x",
           "requestIdentity": {"method": "get", "endpoint": "api/v2/tickets", "params": params, "headers": []},
           "response": response, "status": 200, "headers": {"content-type": "application/json"}})
}

/// A mocks folder as Nango's recorder writes one.
fn mocks() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "nango/getConnection.json", json!({"connection_config": {"subdomain": "acme"}, "metadata": null}));
    write(root, "nango/getMetadata.json", json!({}));
    write(root, "nango/get/proxy/api/v2/users/me/tickets.json", json!({"user": {"name": "Ada"}}));
    let first = json!({"tickets": [{"id": 1, "subject": "Printer"}, {"id": 2, "subject": "Screen"}], "meta": {"after_cursor": "c2"}});
    let last = json!({"tickets": [{"id": 3, "subject": "Mouse"}], "meta": {"after_cursor": null}});
    write(root, "nango/get/proxy/api/v2/tickets/tickets/aaa.json", recording(json!([["page[size]", 2]]), first));
    write(
        root,
        "nango/get/proxy/api/v2/tickets/tickets/bbb.json",
        recording(json!([["page[after]", "c2"], ["page[size]", "2"]]), last),
    );
    let saved: Vec<Value> = [("1", "Printer"), ("2", "Screen"), ("3", "Mouse")]
        .iter()
        .map(|(id, title)| json!({"id": id, "title": title, "requester": "Ada"}))
        .collect();
    write(root, "tickets/Ticket/batchSave.json", Value::Array(saved));
    write(root, "tickets/Ticket/batchDelete.json", json!([{"id": "9", "title": "", "requester": ""}]));
    write(
        root,
        "nango/post/proxy/api/v2/tickets/7/close/close-ticket.json",
        json!({"ticket": {"id": 7, "status": "closed"}}),
    );
    write(root, "close-ticket/input.json", json!({"id": "7"}));
    write(root, "close-ticket/output.json", json!({"id": "7", "closed": true}));
    dir
}

fn sync() -> &'static nango_runtime::SyncRegistration {
    nango_runtime::registered_syncs().find(|s| s.descriptor.name == "tickets").unwrap()
}

#[tokio::test]
async fn a_sync_and_an_action_match_their_recordings() {
    let dir = mocks();
    let mocks = TemplateMocks::open(dir.path()).unwrap();
    let replay = mocks.replay_sync(sync()).await.unwrap();
    replay.check().unwrap();
    assert_eq!(replay.saved["Ticket"].len(), 3);
    let action = nango_runtime::registered_actions().find(|a| a.descriptor.name == "close-ticket").unwrap();
    mocks.replay_action(action).await.unwrap().check().unwrap();
}

#[tokio::test]
async fn differences_and_missing_recordings_are_named() {
    let dir = mocks();
    write(
        dir.path(),
        "tickets/Ticket/batchSave.json",
        json!([{"id": "1", "title": "Printer", "requester": "Ada"}, {"id": "2", "title": "Scanner", "requester": "Ada"}]),
    );
    let replay = TemplateMocks::open(dir.path()).unwrap().replay_sync(sync()).await.unwrap();
    let err = replay.check().unwrap_err().to_string();
    assert_eq!(err, "Ticket saved: `[1].title`: expected \"Scanner\", got \"Screen\"");

    std::fs::remove_file(dir.path().join("nango/get/proxy/api/v2/tickets/tickets/bbb.json")).unwrap();
    let replay = TemplateMocks::open(dir.path()).unwrap().replay_sync(sync()).await.unwrap();
    let err = replay.check().unwrap_err().to_string();
    assert!(
        err.contains("no recording answers GET /api/v2/tickets of `tickets` with `page[size]=2&page[after]=c2`"),
        "{err}"
    );
    assert!(err.contains("aaa.json: recorded with `page[size]=2`"), "{err}");

    let err = TemplateMocks::open(dir.path().join("tickets")).unwrap_err().to_string();
    assert!(err.contains("is not a mocks folder of Nango's layout"), "{err}");
}

#[test]
fn the_cli_replays_by_name() {
    let dir = mocks();
    let run = |script: &str| {
        let mocks = dir.path().to_str().unwrap();
        nango_runtime::cli::main_from(["program", "replay", script, "--mocks", mocks])
    };
    assert_eq!(run("tickets"), ExitCode::SUCCESS);
    assert_eq!(run("close-ticket"), ExitCode::SUCCESS);
    write(dir.path(), "close-ticket/output.json", json!({"id": "7", "closed": false}));
    assert_eq!(run("close-ticket"), ExitCode::FAILURE);
    assert_eq!(run("no-such-script"), ExitCode::FAILURE);
}
