//! The example program as its users run it: `records` against a Nango-shaped records API on
//! loopback (pages, then a stream from the cursor), and `verify` on signed and tampered events.

use std::process::{Command, Output};

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

const SECRET: &str = "sk-consumer-test";
const TICKETS: usize = 5;
/// The server's page size, whatever `limit` asks: several pages from five tickets.
const PAGE: usize = 2;

fn consumer(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut command = Command::new(env!("CARGO_BIN_EXE_consumer"));
    command.args(args).env_remove("NANGO_WEBHOOK_SIGNING_KEY").env("NANGO_SECRET_KEY", SECRET);
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("the example runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("stdin takes the event");
    drop(input);
    child.wait_with_output().expect("the example finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Tickets `0..5`; ticket `i` has cursor `c<i>`, and `cursor=c<i>` resumes after it.
async fn records(headers: HeaderMap, Query(query): Query<Vec<(String, String)>>) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if header("authorization") != Some(format!("Bearer {SECRET}")) {
        let body = json!({ "error": { "code": "unknown_account", "message": "Authentication failed" } });
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    assert_eq!(
        (header("connection-id").as_deref(), header("provider-config-key").as_deref()),
        (Some("demo"), Some("github"))
    );
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(param("model").as_deref(), Some("Ticket"));
    let start = param("cursor").map_or(0, |c| c.trim_start_matches('c').parse::<usize>().unwrap() + 1);
    let end = (start + PAGE).min(TICKETS);
    let records: Vec<Value> = (start..end)
        .map(|i| {
            json!({
                "id": format!("t{i}"), "number": i, "title": format!("Ticket {i}"), "state": "open",
                "author": "octocat", "labels": [],
                "_nango_metadata": {
                    "first_seen_at": "2026-01-01T10:00:00.000000+00:00",
                    "last_modified_at": "2026-01-01T10:00:00.000000+00:00",
                    "last_action": "ADDED", "deleted_at": null, "pruned_at": null, "cursor": format!("c{i}"),
                }
            })
        })
        .collect();
    let next_cursor = (end < TICKETS).then(|| format!("c{}", end - 1));
    Json(json!({ "records": records, "next_cursor": next_cursor })).into_response()
}

async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, Router::new().route("/records", get(records))).await });
    url
}

async fn run(args: &'static [&'static str], url: String) -> Output {
    tokio::task::spawn_blocking(move || consumer(args, &[("NANGO_URL", &url)], None)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn records_reads_every_page_and_resumes_from_a_cursor() {
    let url = serve().await;
    let out = run(&["records"], url.clone()).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("first page: 2 tickets\n"), "{stdout}");
    for i in 0..TICKETS {
        assert!(stdout.contains(&format!("Ticket {i}\n")), "ticket {i} missing:\n{stdout}");
    }
    assert!(stdout.ends_with("5 tickets in all\nresume with: consumer records c4\n"), "{stdout}");

    let out = run(&["records", "c2"], url.clone()).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Ticket 3\n") && stdout.contains("Ticket 4\n") && !stdout.contains("Ticket 2\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("2 tickets in all\nresume with: consumer records c4\n"), "{stdout}");

    // The error names the request and carries the server's code, and the exit status says so.
    let out = tokio::task::spawn_blocking(move || {
        consumer(&["records"], &[("NANGO_URL", &url), ("NANGO_SECRET_KEY", "wrong")], None)
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: GET http://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("returned 401 unknown_account: Authentication failed"), "{stderr}");
}

#[test]
fn verify_accepts_the_signed_event_and_refuses_changed_ones() {
    let sample = consumer(&["sample-webhook"], &[], None);
    assert!(sample.status.success(), "{}", text(&sample.stderr));
    let event = text(&sample.stdout);

    let out = consumer(&["verify"], &[], Some(&event));
    assert_eq!(text(&out.stdout), "verified: Ticket of demo (github-tickets): 3 added, 1 updated, 0 deleted\n");
    assert!(out.status.success());

    let mut value: Value = serde_json::from_str(&event).unwrap();
    let refused = |value: &Value, env: &[(&str, &str)]| {
        let out = consumer(&["verify"], env, Some(&value.to_string()));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        text(&out.stderr)
    };
    // Another signing key than the sender's.
    assert!(refused(&value, &[("NANGO_WEBHOOK_SIGNING_KEY", "other")]).contains("does not match the body"));

    // A changed body.
    let body = value["body"].as_str().unwrap().replace(r#""added":3"#, r#""added":30"#);
    let mut changed = value.clone();
    changed["body"] = Value::from(body);
    assert!(refused(&changed, &[]).contains("X-Nango-Hmac-Sha256 does not match the body"));

    // Without the replay-protected header: refused, since the example requires it.
    value["headers"].as_object_mut().unwrap().remove("X-Nango-Rs-Signature");
    assert_eq!(refused(&value, &[]), "error: missing X-Nango-Rs-Signature header\n");

    assert!(
        refused(&Value::from("not an event"), &[]).starts_with("error: stdin is not a {\"headers\", \"body\"} event")
    );
}
