//! The API client against a small Nango-shaped server on loopback: the headers and query it
//! sends, paging with cursors, resuming, sync commands and errors.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{TimeZone, Utc};
use futures_util::{StreamExt, TryStreamExt};
use nango_runtime::Model;
use nango_runtime::client::{ClientError, NangoClient, SyncState};
use serde_json::{Value, json};

const SECRET: &str = "sk-test";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Ticket {
    id: String,
    title: String,
}

impl Model for Ticket {
    const NAME: &'static str = "Ticket";
    fn id(&self) -> String {
        self.id.clone()
    }
}

/// Every request the server got: path, query pairs in order, and the headers we check.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: Vec<(String, String)>,
    connection_id: Option<String>,
    provider_config_key: Option<String>,
    authorization: Option<String>,
    body: Option<Value>,
}

#[derive(Clone, Default)]
struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.path == path).cloned().collect()
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

/// Five tickets; record `i` has cursor `c<i>`, and `cursor=c<i>` resumes after it.
fn ticket(i: usize, broken: bool) -> Value {
    let title = if broken && i == 1 { json!(42) } else { json!(format!("Ticket {i}")) };
    json!({
        "id": i.to_string(),
        "title": title,
        "_nango_metadata": {
            "first_seen_at": "2026-01-01T10:00:00.123456+00:00",
            "last_modified_at": format!("2026-01-02T10:00:0{i}.654321+00:00"),
            "last_action": if i.is_multiple_of(2) { "ADDED" } else { "UPDATED" },
            "deleted_at": null,
            "pruned_at": null,
            "cursor": format!("c{i}"),
        }
    })
}

async fn records(
    State(server): State<Server>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let connection_id = header(&headers, "connection-id");
    server.seen.lock().unwrap().push(Seen {
        path: "/records".into(),
        query: query.clone(),
        connection_id: connection_id.clone(),
        provider_config_key: header(&headers, "provider-config-key"),
        authorization: header(&headers, "authorization"),
        body: None,
    });
    if header(&headers, "authorization").as_deref() != Some(&format!("Bearer {SECRET}")) {
        return error(StatusCode::UNAUTHORIZED, "unknown_account", "Authentication failed");
    }
    let Some(connection_id) = connection_id else {
        return error(StatusCode::BAD_REQUEST, "invalid_headers", "Connection-Id is required");
    };
    if header(&headers, "provider-config-key").as_deref() != Some("github") {
        return error(StatusCode::BAD_REQUEST, "invalid_headers", "Provider-Config-Key is required");
    }
    if connection_id == "nope" {
        return error(StatusCode::BAD_REQUEST, "unknown_connection", "No connection nope for github");
    }
    if connection_id == "html" {
        return (StatusCode::BAD_GATEWAY, "<html>upstream down</html>").into_response();
    }
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if param("model").as_deref() != Some("Ticket") {
        return error(StatusCode::BAD_REQUEST, "invalid_query_params", "unknown model");
    }
    let limit: usize = param("limit").map_or(100, |l| l.parse().unwrap());
    let start = match param("cursor") {
        Some(c) => c.strip_prefix('c').unwrap().parse::<usize>().unwrap() + 1,
        None => 0,
    };
    let loops = connection_id == "loop";
    let end = (start + limit).min(5);
    let records: Vec<Value> = (start..end).map(|i| ticket(i, connection_id == "broken")).collect();
    let next_cursor = if loops {
        // A broken server: always the cursor it was given.
        Some(param("cursor").unwrap_or_else(|| "c0".into()))
    } else if end < 5 {
        Some(format!("c{}", end - 1))
    } else {
        None
    };
    Json(json!({ "records": records, "next_cursor": next_cursor })).into_response()
}

async fn sync_status(
    State(server): State<Server>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    server.seen.lock().unwrap().push(Seen {
        path: "/sync/status".into(),
        query: query.clone(),
        connection_id: None,
        provider_config_key: None,
        authorization: header(&headers, "authorization"),
        body: None,
    });
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if param("connection_id") == Some("legacy") {
        // Nango's older error shape.
        return (StatusCode::NOT_FOUND, Json(json!({ "error": "Connection not found", "type": "unknown_connection" })))
            .into_response();
    }
    if param("connection_id") == Some("zod") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "code": "invalid_query_params", "errors": [
                { "code": "invalid_type", "message": "Required", "path": ["provider_config_key"] }
            ] } })),
        )
            .into_response();
    }
    Json(json!({ "syncs": [
        {
            "id": "8c1e", "name": "issues", "connection_id": "acme", "variant": "base", "status": "SUCCESS",
            "type": "INCREMENTAL", "finishedAt": "2026-01-02T10:00:05.000Z",
            "nextScheduledSyncAt": "2026-01-02T11:00:00.000Z", "frequency": "every hour",
            "latestResult": { "Ticket": { "added": 3, "updated": 1, "deleted": 0 } },
            "latestExecutionStatus": "SUCCESS", "recordCount": { "Ticket": 5 }, "checkpoint": { "page": 4 }
        },
        { "id": "9d2f", "name": "comments", "status": "PAUSED", "finishedAt": null, "nextScheduledSyncAt": null }
    ] }))
    .into_response()
}

async fn command(
    State(server): State<Server>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    server.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        query: Vec::new(),
        connection_id: None,
        provider_config_key: None,
        authorization: header(&headers, "authorization"),
        body: Some(body.clone()),
    });
    if body["syncs"].as_array().is_some_and(|s| s.iter().any(|n| n == "unknown")) {
        return error(StatusCode::NOT_FOUND, "unknown_sync", "Sync unknown does not exist");
    }
    Json(json!({ "success": true })).into_response()
}

async fn start() -> (NangoClient, Server) {
    let server = Server::default();
    let app = Router::new()
        .route("/records", get(records))
        .route("/sync/status", get(sync_status))
        .route("/sync/trigger", post(command))
        .route("/sync/pause", post(command))
        .route("/sync/start", post(command))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // The trailing slash must not double up in request paths.
    (NangoClient::new(format!("http://{addr}/"), SECRET), server)
}

#[tokio::test]
async fn a_page_sends_nangos_headers_and_query() {
    let (client, server) = start().await;
    let page = client
        .records::<Ticket>("github", "acme")
        .modified_after(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
        .limit(2)
        .filter("added,updated")
        .ids(["0", "1"])
        .page()
        .await
        .unwrap();
    assert_eq!(page.records.len(), 2);
    assert_eq!(page.records[0].record, Ticket { id: "0".into(), title: "Ticket 0".into() });
    let meta = &page.records[1].metadata;
    assert_eq!((meta.last_action.as_str(), meta.cursor.as_str()), ("UPDATED", "c1"));
    assert_eq!(
        meta.last_modified_at,
        Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 1).unwrap() + chrono::TimeDelta::microseconds(654_321)
    );
    assert_eq!(page.next_cursor.as_deref(), Some("c1"));

    let seen = server.seen("/records");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(seen[0].connection_id.as_deref(), Some("acme"));
    assert_eq!(seen[0].provider_config_key.as_deref(), Some("github"));
    let query: Vec<(&str, &str)> = seen[0].query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        query,
        [
            ("model", "Ticket"),
            ("modified_after", "2026-01-01T00:00:00Z"),
            ("limit", "2"),
            ("filter", "added,updated"),
            ("ids", "0"),
            ("ids", "1"),
        ]
    );
}

#[tokio::test]
async fn the_stream_follows_next_cursor_and_can_resume_from_a_record() {
    let (client, server) = start().await;
    let all: Vec<_> = client.records::<Ticket>("github", "acme").limit(2).stream().try_collect().await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.record.id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4"]);
    let cursors: Vec<Option<String>> = server
        .seen("/records")
        .iter()
        .map(|s| s.query.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(cursors, [None, Some("c1".into()), Some("c3".into())]);

    // A consumer that handled records 0..=2 resumes after record 2's cursor.
    let saved = all[2].metadata.cursor.clone();
    let rest: Vec<_> =
        client.records::<Ticket>("github", "acme").limit(2).cursor(saved).stream().try_collect().await.unwrap();
    let ids: Vec<&str> = rest.iter().map(|r| r.record.id.as_str()).collect();
    assert_eq!(ids, ["3", "4"]);

    // The last page has no next cursor: one request, and the stream ends.
    let n = server.seen("/records").len();
    let one: Vec<_> = client.records::<Ticket>("github", "acme").stream().try_collect().await.unwrap();
    assert_eq!(one.len(), 5);
    assert_eq!(server.seen("/records").len(), n + 1);
}

#[tokio::test]
async fn errors_carry_status_code_and_message() {
    let (client, _server) = start().await;
    let err = client.records::<Ticket>("github", "nope").page().await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(400), Some("unknown_connection")));
    let text = err.to_string();
    assert!(text.starts_with("GET http://127.0.0.1:"), "{text}");
    assert!(
        text.ends_with("/records?model=Ticket returned 400 unknown_connection: No connection nope for github"),
        "{text}"
    );

    let bad_key = NangoClient::new(client.base_url(), "wrong");
    let err = bad_key.records::<Ticket>("github", "acme").page().await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(401), Some("unknown_account")));
    assert!(!err.to_string().contains("wrong"), "the key must not show: {err}");

    let err = client.records::<Ticket>("github", "html").page().await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { status: 502, code: None, message, .. } if message == "an HTML page (26 bytes)")
    );

    let err = client.sync_status("github", "legacy", &["issues"]).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { status: 404, code: Some(c), message, .. }
        if c == "unknown_connection" && message == "Connection not found"),
        "{err:?}"
    );

    let err = client.sync_status("github", "zod", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_query_params"));
    assert!(err.to_string().ends_with("provider_config_key: Required"), "{err}");

    // A record that does not fit the model names the field; the stream ends after the error.
    let results: Vec<_> = client.records::<Ticket>("github", "broken").stream().collect().await;
    assert_eq!(results.len(), 1);
    let Err(ClientError::Decode { path, message, .. }) = &results[0] else { panic!("{results:?}") };
    assert!(path.starts_with("records[1]"), "{path}");
    assert!(message.contains("invalid type: integer `42`, expected a string"), "{message}");

    // A server whose next_cursor does not move stops the stream instead of looping.
    let results: Vec<_> = client.records::<Ticket>("github", "loop").limit(2).stream().collect().await;
    assert!(matches!(results.last(), Some(Err(ClientError::InvalidResponse { .. }))), "{results:?}");
    assert!(results.len() <= 6, "{}", results.len());

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let err =
        NangoClient::new(format!("http://{closed}"), SECRET).sync_status("github", "acme", &[]).await.unwrap_err();
    assert!(matches!(err, ClientError::Network { .. }), "{err:?}");
}

#[tokio::test]
async fn sync_status_and_commands() {
    let (client, server) = start().await;
    let syncs = client.sync_status("github", "acme", &["issues", "comments"]).await.unwrap();
    assert_eq!(syncs.len(), 2);
    let issues = &syncs[0];
    assert_eq!((issues.name.as_str(), issues.status), ("issues", SyncState::Success));
    assert_eq!(issues.connection_id.as_deref(), Some("acme"));
    assert_eq!(issues.finished_at, Some(Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 5).unwrap()));
    assert_eq!(issues.latest_result.as_ref().unwrap()["Ticket"].added, 3);
    assert_eq!(issues.record_count.as_ref().unwrap()["Ticket"], 5);
    assert_eq!(issues.checkpoint, Some(json!({"page": 4})));
    assert_eq!(issues.latest_execution_status, Some(SyncState::Success));
    let comments = &syncs[1];
    assert_eq!(comments.status, SyncState::Paused);
    assert_eq!(
        (comments.finished_at, comments.next_scheduled_sync_at, comments.frequency.as_deref()),
        (None, None, None)
    );
    let query = &server.seen("/sync/status")[0].query;
    let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(query, [("syncs", "issues,comments"), ("provider_config_key", "github"), ("connection_id", "acme")]);

    client.sync_status("github", "acme", &[]).await.unwrap();
    assert_eq!(server.seen("/sync/status")[1].query[0], ("syncs".into(), "*".into()));

    client.trigger_sync("github", Some("acme"), &["issues"], true).await.unwrap();
    client.pause_sync("github", None, &["issues", "comments"]).await.unwrap();
    client.start_sync("github", Some("acme"), &["issues"]).await.unwrap();
    let body = |path: &str| server.seen(path)[0].body.clone().unwrap();
    assert_eq!(
        body("/sync/trigger"),
        json!({ "syncs": ["issues"], "provider_config_key": "github", "connection_id": "acme", "opts": { "reset": true } })
    );
    assert_eq!(body("/sync/pause"), json!({ "syncs": ["issues", "comments"], "provider_config_key": "github" }));
    assert_eq!(
        body("/sync/start"),
        json!({ "syncs": ["issues"], "provider_config_key": "github", "connection_id": "acme" })
    );
    assert_eq!(server.seen("/sync/pause")[0].authorization.as_deref(), Some("Bearer sk-test"));

    let err = client.trigger_sync("github", Some("acme"), &["unknown"], false).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("unknown_sync")));
}
