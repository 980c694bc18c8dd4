//! The service over real HTTP and real SQLite: schedules, commands, the records API under
//! concurrent writes, auth and isolation, bad input, webhooks with independently checked
//! signatures and retries, actions and how their failures reach the caller.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

mod common;
#[path = "support/hooks.rs"]
mod hooks;

/// The action of `tests/actions/nango.yaml`, for `POST /action/trigger`.
mod actions {
    use nango_runtime::{ActionError, NangoAction, Result};
    use serde_json::json;

    pub mod models {
        nango_macros::nango_models!("tests/actions/nango.yaml");
    }

    /// Reads the issue from the provider and "closes" it; `reason` picks a failure instead.
    #[nango_macros::nango_action(path = "tests/actions/nango.yaml", models = crate::actions::models)]
    pub async fn close_issue(
        nango: &mut NangoAction<models::actions::CloseIssue>,
        input: models::CloseIssue,
    ) -> Result<models::ClosedIssue> {
        match input.reason.as_deref() {
            Some("locked") => {
                return Err(ActionError::new(json!({"code": "issue_locked", "message": "the issue is locked",
                                                    "number": input.number}))
                .into());
            }
            Some("internal") => return Err("database at /srv/private/nango.db is locked".into()),
            Some("panic") => panic!("secret panic text"),
            _ => {}
        }
        #[derive(serde::Deserialize)]
        struct Issue {
            number: u64,
            title: String,
        }
        let issues: Vec<Issue> = nango
            .get(format!("/repos/{}/{}/issues", input.owner, input.repo))
            .query("per_page", 100)
            .send_json()
            .await?;
        let issue = issues
            .into_iter()
            .find(|i| i.number as f64 == input.number)
            .ok_or_else(|| ActionError::message(format!("no issue {}", input.number)))?;
        Ok(models::ClosedIssue { number: issue.number as f64, title: issue.title, state: "closed".into() })
    }
}

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use nango_mock_provider::{Faults, MockProvider, MockServer};
use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::http::HttpOptions;
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::{ConnectionKey, RunStatus, Store};
use nango_runtime::{Connection, Credentials, Secret};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "test-secret-key";

struct Service {
    _dir: tempfile::TempDir,
    mock: MockServer,
    server: Server,
    url: String,
    http: reqwest::Client,
}

async fn add_connection(store: &Store, integration: &str, id: &str, mock: &MockServer, metadata: Value) {
    let mut c = Connection::new(integration, id, "github");
    c.credentials = Credentials::Bearer { token: Secret::new("t0ken") };
    c.base_url = Some(mock.url().to_owned());
    c.metadata = metadata;
    store.save_connection(&c).await.unwrap();
}

async fn service(issues: u64, faults: Faults, webhook_urls: Vec<String>, connections: &[(&str, &str)]) -> Service {
    service_with(issues, faults, webhook_urls, connections, Sealer::InsecureClear, |_| {}).await
}

/// [`service`] with a sealer and changed options.
async fn service_with(
    issues: u64,
    faults: Faults,
    webhook_urls: Vec<String>,
    connections: &[(&str, &str)],
    sealer: Sealer,
    tweak: impl FnOnce(&mut ServeOptions),
) -> Service {
    let mock = MockProvider::builder().issues(issues).token("t0ken").faults(faults).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, sealer).await.unwrap();
    for (integration, id) in connections {
        add_connection(&store, integration, id, &mock, json!({"owner": "a", "repo": "b", "per_page": 50})).await;
    }
    let http_options = HttpOptions::default().min_delay(Duration::from_millis(1)).max_delay(Duration::from_millis(20));
    let runtime = Runtime::new(store).with_http_options(http_options);
    let mut options = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret_key: KEY.into(),
        webhook_urls,
        shutdown_grace: Duration::from_secs(5),
        webhook_retry_delay: Duration::from_millis(20),
        ..Default::default()
    };
    options.scheduler.tick = Duration::from_millis(50);
    tweak(&mut options);
    let server = Server::start(runtime, options).await.unwrap();
    let url = format!("http://{}", server.addr());
    Service { _dir: dir, mock, server, url, http: reqwest::Client::new() }
}

impl Service {
    fn store(&self) -> &Store {
        self.server.state().store()
    }

    async fn get(&self, path: &str, connection: Option<(&str, &str)>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.url)).bearer_auth(KEY);
        if let Some((pck, id)) = connection {
            req = req.header("Provider-Config-Key", pck).header("Connection-Id", id);
        }
        let resp = req.send().await.unwrap();
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let resp = self.http.post(format!("{}{path}", self.url)).bearer_auth(KEY).json(&body).send().await.unwrap();
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn key(&self, integration: &str, id: &str) -> ConnectionKey {
        self.store().connection_key(integration, id).await.unwrap().unwrap()
    }

    /// Waits until `n` runs of a connection have ended.
    async fn wait_runs(&self, integration: &str, id: &str, n: usize) -> Vec<nango_runtime::store::RunRecord> {
        let key = self.key(integration, id).await;
        for _ in 0..400 {
            let runs = self.store().runs(Some(key), None, 100).await.unwrap();
            if runs.iter().filter(|r| r.status != RunStatus::Running).count() >= n {
                return runs;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("fewer than {n} runs ended in time");
    }

    /// Every record of a model through `/records`, page by page.
    async fn all_records(&self, pck: &str, id: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let c = cursor.as_ref().map(|c| format!("&cursor={}", urlencode(c))).unwrap_or_default();
            let (status, body) = self.get(&format!("/records?model=Issue{query}{c}"), Some((pck, id))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            out.extend(body["records"].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return out,
            }
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_new_connection_syncs_at_once_and_the_schedule_fires_without_overlap() {
    let s = service(
        120,
        Faults { latency: Duration::from_millis(15), ..Default::default() },
        vec![],
        &[("github-full", "acme")],
    )
    .await;
    let runs = s.wait_runs("github-full", "acme", 1).await;
    assert_eq!(runs[0].status, RunStatus::Success, "{:?}", runs[0].error);
    let key = s.key("github-full", "acme").await;
    // The next run is an interval away; make it due now, and trigger on top while it runs.
    s.store().set_next_run(key, "issues-full", Some(chrono::Utc::now())).await.unwrap();
    s.server.state().scheduler.wake();
    for _ in 0..5 {
        s.post(
            "/sync/trigger",
            json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "connection_id": "acme"}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let runs = s.wait_runs("github-full", "acme", 3).await;
    let mut spans: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        runs.iter().filter_map(|r| Some((r.started_at, r.ended_at?))).collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "runs overlap: {pair:?}");
    }
    s.server.shutdown().await;
}

#[tokio::test]
async fn pause_resume_trigger_and_resync() {
    let s = service(60, Faults::default(), vec![], &[("github-full", "acme")]).await;
    let body = json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "connection_id": "acme"});
    s.wait_runs("github-full", "acme", 1).await;
    let key = s.key("github-full", "acme").await;
    let (status, _) = s.post("/sync/pause", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, st) =
        s.get("/sync/status?syncs=issues-full&provider_config_key=github-full&connection_id=acme", None).await;
    assert_eq!(st["syncs"][0]["status"], "PAUSED", "{st}");
    assert_eq!(st["syncs"][0]["recordCount"]["Issue"], 60);
    // Due, but paused: nothing runs.
    s.store().set_next_run(key, "issues-full", Some(chrono::Utc::now())).await.unwrap();
    s.server.state().scheduler.wake();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.store().runs(Some(key), None, 10).await.unwrap().len(), 1);
    // A trigger runs it once even while paused.
    s.post("/sync/trigger", body.clone()).await;
    s.wait_runs("github-full", "acme", 2).await;
    // Resume: the due schedule fires.
    s.post("/sync/start", body.clone()).await;
    s.store().set_next_run(key, "issues-full", Some(chrono::Utc::now())).await.unwrap();
    s.server.state().scheduler.wake();
    s.wait_runs("github-full", "acme", 3).await;
    // The connection's own frequency, shown by the status; nonsense is a 400 naming the field.
    let put = |body: Value| {
        s.http.put(format!("{}/sync/update-connection-frequency", s.url)).bearer_auth(KEY).json(&body).send()
    };
    let ok = put(json!({"sync_name": "issues-full", "provider_config_key": "github-full", "connection_id": "acme", "frequency": "every 2 hours"})).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let (_, st) =
        s.get("/sync/status?syncs=issues-full&provider_config_key=github-full&connection_id=acme", None).await;
    // Reported as it was set, as Nango does.
    assert_eq!(st["syncs"][0]["frequency"], "every 2 hours", "{st}");
    let bad = put(json!({"sync_name": "issues-full", "provider_config_key": "github-full", "connection_id": "acme", "frequency": "every 10s"})).await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap().contains("below the 30 second minimum"));
    // One grammar: the API gives every verdict of the table `nango validate` is tested with.
    for (text, verdict) in common::frequency_table() {
        let answer = put(json!({"sync_name": "issues-full", "provider_config_key": "github-full", "connection_id": "acme", "frequency": text})).await.unwrap();
        let status = answer.status().as_u16();
        let body = answer.text().await.unwrap();
        match verdict {
            nango_types::frequency::Verdict::Interval(_) => assert_eq!(status, 200, "{text:?}: {body}"),
            nango_types::frequency::Verdict::Refused(code) => {
                assert_eq!(status, 400, "{text:?}: {body}");
                assert!(body.contains(code), "{text:?} should be refused with {code}: {body}");
            }
        }
    }
    let reset = put(json!({"sync_name": "issues-full", "provider_config_key": "github-full", "connection_id": "acme", "frequency": null})).await.unwrap();
    assert_eq!(reset.status().as_u16(), 200);
    let (_, st) =
        s.get("/sync/status?syncs=issues-full&provider_config_key=github-full&connection_id=acme", None).await;
    assert_eq!(st["syncs"][0]["frequency"], "every hour", "back to nango.yaml's runs: {st}");
    // A full resync with emptyCache forgets state and records, then runs again from scratch.
    s.post("/sync/pause", body.clone()).await;
    let resync = json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "connection_id": "acme",
                        "opts": {"reset": true, "emptyCache": true}});
    let (status, _) = s.post("/sync/trigger", resync).await;
    assert_eq!(status, StatusCode::OK);
    let runs = s.wait_runs("github-full", "acme", 4).await;
    assert_eq!(runs[0].counts["Issue"].added, 60, "{:?}", runs[0]);
    s.server.shutdown().await;
}

#[tokio::test]
async fn records_pages_return_every_record_once_while_a_sync_writes() {
    let latency = Faults { latency: Duration::from_millis(5), ..Default::default() };
    let s = service(3000, latency, vec![], &[("github-full", "acme")]).await;
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let mut cursor: Option<String> = None;
    let mut done = false;
    while !done {
        // Read while the sync is writing; once it has ended, read to the end one last time.
        let finished =
            s.store().runs(None, None, 1).await.unwrap().first().is_some_and(|r| r.status != RunStatus::Running);
        loop {
            let c = cursor.as_ref().map(|c| format!("&cursor={}", urlencode(c))).unwrap_or_default();
            let (status, body) =
                s.get(&format!("/records?model=Issue&limit=37{c}"), Some(("github-full", "acme"))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let records = body["records"].as_array().unwrap();
            for r in records {
                *seen.entry(r["id"].as_str().unwrap().to_owned()).or_default() += 1;
                cursor = Some(r["_nango_metadata"]["cursor"].as_str().unwrap().to_owned());
            }
            if body["next_cursor"].is_null() {
                break;
            }
        }
        done = finished;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen.len(), 3000);
    assert!(seen.values().all(|n| *n == 1), "a record came twice");
    s.server.shutdown().await;
}

#[tokio::test]
async fn records_filters_auth_isolation_and_bad_input() {
    let s = service(40, Faults::default(), vec![], &[("github-full", "acme"), ("github-full", "other")]).await;
    s.wait_runs("github-full", "acme", 1).await;
    s.wait_runs("github-full", "other", 1).await;
    assert_eq!(s.all_records("github-full", "acme", "&limit=7").await.len(), 40);

    // modified_after and filters.
    let before = chrono::Utc::now();
    let key = s.key("github-full", "acme").await;
    s.mock.delete_issue(3);
    s.mock.update_issue(4, nango_mock_provider::IssueUpdate { title: Some("new".into()), state: None });
    s.post(
        "/sync/trigger",
        json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "connection_id": "acme"}),
    )
    .await;
    s.wait_runs("github-full", "acme", 2).await;
    let t = urlencode(&before.to_rfc3339());
    let changed = s.all_records("github-full", "acme", &format!("&modified_after={t}")).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    let deleted = s.all_records("github-full", "acme", "&filter=deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["_nango_metadata"]["last_action"], "DELETED");
    let updated = s.all_records("github-full", "acme", "&filter=UPDATED").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(s.all_records("github-full", "acme", "&filter=added,updated").await.len(), 39);
    assert_eq!(s.all_records("github-full", "acme", "&ids=1000005&ids=1000006,1000007").await.len(), 3);
    // The other connection's records are its own.
    assert_eq!(s.all_records("github-full", "other", "").await.len(), 40);
    assert_eq!(s.store().record_counts(key).await.unwrap()["Issue"], 39);

    // Auth: no key, wrong key; /health needs none.
    let no_key = s.http.get(format!("{}/records?model=Issue", s.url)).send().await.unwrap();
    assert_eq!(no_key.status().as_u16(), 401);
    let wrong = s.http.get(format!("{}/records?model=Issue", s.url)).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_account");
    assert_eq!(s.http.get(format!("{}/health", s.url)).send().await.unwrap().status().as_u16(), 200);

    // Bad input: 4xx with a JSON error naming the problem, never a 500.
    let acme = Some(("github-full", "acme"));
    for (path, code, status) in [
        ("/records?model=Issue&limit=0", "invalid_query_params", 400),
        ("/records?model=Issue&limit=10001", "invalid_query_params", 400),
        ("/records?model=Issue&limit=abc", "invalid_query_params", 400),
        ("/records?model=Issue&cursor=not-a-cursor", "invalid_cursor_value", 400),
        ("/records?model=Issue&modified_after=yesterday", "invalid_query_params", 400),
        ("/records?model=Issue&filter=new", "invalid_query_params", 400),
        ("/records?model=Issue&foo=1", "invalid_query_params", 400),
        ("/records?model=Nope", "unknown_model", 404),
        ("/records", "invalid_query_params", 400),
    ] {
        let (got, body) = s.get(path, acme).await;
        assert_eq!((got.as_u16(), body["error"]["code"].as_str()), (status, Some(code)), "{path}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (got, body) = s.get("/records?model=Issue", Some(("github-full", "nobody"))).await;
    assert_eq!((got.as_u16(), body["error"]["code"].as_str()), (404, Some("unknown_connection")));
    let (got, body) = s.get("/records?model=Issue", None).await;
    assert_eq!((got.as_u16(), body["error"]["code"].as_str()), (400, Some("invalid_headers")));
    let (got, body) = s.post("/sync/trigger", json!({"syncs": ["nope"], "provider_config_key": "github-full"})).await;
    assert_eq!((got.as_u16(), body["error"]["code"].as_str()), (404, Some("unknown_sync")));
    let (got, body) = s
        .post("/sync/trigger", json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "extra": 1}))
        .await;
    assert_eq!((got.as_u16(), body["error"]["code"].as_str()), (400, Some("invalid_body")), "{body}");
    let (got, openapi) = s.get("/openapi.json", None).await;
    assert_eq!(got.as_u16(), 200);
    check_openapi(&openapi);
    s.server.shutdown().await;
}

/// `/openapi.json` serves each model's schema.json definition (the text generated code carries)
/// as it is, and every reference in the document resolves.
fn check_openapi(openapi: &Value) {
    let schema_json: Value = serde_json::from_str(common::models::SCHEMA_JSON).unwrap();
    let components = openapi["components"]["schemas"].as_object().unwrap();
    assert_eq!(components["Issue"], schema_json["$defs"]["Issue"], "the served schema of Issue");
    // Only what syncs write is a record: the metadata model is no component.
    assert!(!components.contains_key("Repo"));
    let records = &openapi["paths"]["/records"]["get"];
    let model = records["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "model").unwrap();
    assert_eq!(model["schema"]["enum"], json!(["Issue"]));
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| match (k.as_str(), v.as_str()) {
                ("$ref", Some(r)) => out.push(r),
                _ => refs(v, out),
            }),
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(openapi, &mut all);
    assert!(all.contains(&"#/components/schemas/Issue"), "records refer to the model");
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
        assert!(components.contains_key(name), "{r} does not resolve");
    }
}

/// A webhook receiver on loopback that answers with the given statuses in turn, keeping what

#[tokio::test]
async fn webhooks_are_signed_retried_and_recorded() {
    let (url, got) = hooks::answering(vec![500, 503, 200]).await;
    let s = service(25, Faults::default(), vec![url.clone()], &[("github-full", "acme")]).await;
    s.wait_runs("github-full", "acme", 1).await;
    let mut deliveries = Vec::new();
    for _ in 0..400 {
        deliveries = s.store().deliveries(None, 10).await.unwrap();
        if deliveries.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let statuses: Vec<Option<u16>> = deliveries.iter().rev().map(|d| d.attempt.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    let requests = got.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    for (headers, body) in &requests {
        // Our own HMAC over the exact bytes received, with the secret key (no signing key set).
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(body);
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(headers["x-nango-hmac-sha256"].to_str().unwrap(), expected);
    }
    let payload: Value = serde_json::from_slice(&requests[2].1).unwrap();
    assert_eq!(payload["type"], "sync");
    assert_eq!(payload["from"], "nango");
    assert_eq!(payload["connectionId"], "acme");
    assert_eq!(payload["providerConfigKey"], "github-full");
    assert_eq!(payload["syncName"], "issues-full");
    assert_eq!(payload["model"], "Issue");
    assert_eq!(payload["syncType"], "INITIAL");
    assert_eq!(payload["responseResults"], json!({"added": 25, "updated": 0, "deleted": 0}));
    // A failing receiver never fails the sync.
    assert!(s.store().runs(None, None, 10).await.unwrap().iter().all(|r| r.status == RunStatus::Success));
    s.server.shutdown().await;

    // A receiver that is down: attempts recorded with their errors, the sync still succeeds.
    let s = service(5, Faults::default(), vec!["http://127.0.0.1:9/hook".into()], &[("github-full", "acme")]).await;
    s.wait_runs("github-full", "acme", 1).await;
    let mut deliveries = Vec::new();
    for _ in 0..400 {
        deliveries = s.store().deliveries(None, 10).await.unwrap();
        if deliveries.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(deliveries.len(), 4, "first try and 3 retries");
    assert!(deliveries.iter().all(|d| d.attempt.status.is_none() && d.attempt.error.is_some()));
    assert!(s.store().runs(None, None, 10).await.unwrap().iter().all(|r| r.status == RunStatus::Success));
    s.server.shutdown().await;
}

/// Waits until the receiver holds `n` requests.
async fn received(got: &Arc<Mutex<Vec<(HeaderMap, Bytes)>>>, n: usize) -> Vec<(HeaderMap, Bytes)> {
    for _ in 0..400 {
        let requests = got.lock().unwrap().clone();
        if requests.len() >= n {
            return requests;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} webhooks arrived in time");
}

/// The probe's case: a run killed half-way wrote records, and the recovery run's webhook counted
/// only its own writes from its own start, so a consumer following webhooks never saw the rest.
#[tokio::test]
async fn the_webhook_after_a_killed_run_announces_the_killed_runs_records_too() {
    const ISSUES: u64 = 1000;
    let (hook_url, got) = hooks::answering(vec![]).await;
    let mock = MockProvider::builder()
        .issues(ISSUES)
        .token("t0ken")
        .faults(Faults { latency: Duration::from_millis(20), ..Faults::default() })
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&db, Sealer::InsecureClear).await.unwrap();
    add_connection(&store, "github-full", "acme", &mock, json!({"owner": "a", "repo": "b", "per_page": 50})).await;
    let key = store.connection_key("github-full", "acme").await.unwrap().unwrap();

    // A run killed (its future dropped) once five of its 20 pages were served. Its process
    // "dies" with it: its lease lapses on its own, soon (the service waits for that).
    let sync = nango_runtime::registered_syncs().find(|s| s.descriptor.name == "issues-full").unwrap();
    let dying = nango_runtime::store::LeaseOwner::new("the killed process");
    let runtime = Runtime::new(store.clone()).with_lease(dying, Duration::from_millis(300));
    let five_pages = async {
        while mock.stats().served_ok < 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::select! {
        _ = runtime.run_sync(sync, "github-full", "acme") => panic!("the run ended before it was killed"),
        () = five_pages => {}
    }
    let written = store.record_counts(key).await.unwrap()["Issue"];
    assert!((50..ISSUES).contains(&written), "{written}");
    let killed_start = store.runs(Some(key), None, 1).await.unwrap()[0].started_at;

    // The service starts, its scheduler runs the sync (auto_start), which resumes and finishes.
    let options = |urls: Vec<String>| ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret_key: KEY.into(),
        webhook_urls: urls,
        webhook_retry_delay: Duration::from_millis(20),
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    };
    let fast = HttpOptions::default().min_delay(Duration::from_millis(1)).max_delay(Duration::from_millis(20));
    let server =
        Server::start(Runtime::new(store.clone()).with_http_options(fast.clone()), options(vec![hook_url.clone()]))
            .await
            .unwrap();
    let (headers, body) = received(&got, 1).await.remove(0);
    let hook: Value = serde_json::from_slice(&body).unwrap();
    let runs = store.runs(Some(key), None, 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[1].error.as_deref().unwrap_or_default().contains("interrupted"), "{:?}", runs[1]);
    // The killed run's history shows what it wrote before it died.
    assert_eq!(runs[1].counts["Issue"].added, written, "{:?}", runs[1]);
    // The recovery run wrote only what the killed run had not, but its webhook counts both, and
    // `modifiedAfter` is the start of the killed run, not its own.
    assert_eq!(runs[0].counts["Issue"].added, ISSUES - written);
    assert_eq!(hook["responseResults"], json!({"added": ISSUES, "updated": 0, "deleted": 0}));
    let modified_after = chrono::DateTime::parse_from_rfc3339(hook["modifiedAfter"].as_str().unwrap()).unwrap();
    // The payload has milliseconds (JavaScript's form), the store microseconds.
    assert_eq!(modified_after.timestamp_millis(), killed_start.timestamp_millis());
    assert!(headers.contains_key("x-nango-rs-webhook-id"));

    // A consumer reading the records the webhook points at gets every one of them.
    let url = format!("http://{}", server.addr());
    let service = Service { _dir: dir, mock, server, url, http: reqwest::Client::new() };
    let query = format!("&modified_after={}", urlencode(hook["modifiedAfter"].as_str().unwrap()));
    assert_eq!(service.all_records("github-full", "acme", &query).await.len() as u64, ISSUES);
    // Reading from the recovery run's own start, as its webhook used to say, misses the rest.
    let own_start = format!("&modified_after={}", urlencode(&runs[0].started_at.to_rfc3339()));
    assert_eq!(service.all_records("github-full", "acme", &own_start).await.len() as u64, ISSUES - written);

    // The next run changes nothing: nothing is left to announce, so no webhook is sent.
    assert!(store.pending_webhooks(10).await.unwrap().is_empty());
    let (status, _) = service
        .post(
            "/sync/trigger",
            json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "connection_id": "acme"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    service.wait_runs("github-full", "acme", 3).await;

    // A webhook queued by a process that was killed before sending it goes out when the service
    // starts again, with its id.
    let Service { _dir: dir, server, .. } = service;
    server.shutdown().await;
    let left = nango_runtime::store::OutgoingWebhook { model: "Issue".into(), body: br#"{"left":"over"}"#.to_vec() };
    let queued = store.queue_webhooks(runs[0].id, &[left]).await.unwrap();
    let server =
        Server::start(Runtime::new(store.clone()).with_http_options(fast), options(vec![hook_url])).await.unwrap();
    let requests = received(&got, 2).await;
    assert_eq!(requests.len(), 2, "the trigger's run changed nothing and sent nothing");
    let (headers, body) = &requests[1];
    assert_eq!(&body[..], br#"{"left":"over"}"#);
    assert_eq!(headers["x-nango-rs-webhook-id"].to_str().unwrap(), queued[0].webhook_id());
    for _ in 0..200 {
        if store.pending_webhooks(10).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(store.pending_webhooks(10).await.unwrap().is_empty());
    server.shutdown().await;
    drop(dir);
}

#[tokio::test]
async fn connections_and_metrics_over_the_api() {
    let s = service(10, Faults::default(), vec![], &[]).await;
    let new = json!({"provider_config_key": "github-full", "connection_id": "api-made", "provider": "github",
                     "credentials": {"type": "bearer", "token": "t0ken"}, "base_url": s.mock.url(),
                     "metadata": {"owner": "a", "repo": "b"}});
    let (status, body) = s.post("/connection", new).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("credentials").is_none());
    s.wait_runs("github-full", "api-made", 1).await;
    let (_, list) = s.get("/connection", None).await;
    assert_eq!(list["connections"][0]["connection_id"], "api-made");
    assert!(!list.to_string().contains("t0ken"), "credentials leaked: {list}");
    let (status, _) = s.get("/connection/api-made?provider_config_key=github-full", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get("/connection/nope?provider_config_key=github-full", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let metrics = s.http.get(format!("{}/metrics", s.url)).bearer_auth(KEY).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("nango_runs_total{status=\"success\"} 1"), "{metrics}");
    assert!(metrics.contains("nango_records_total"), "{metrics}");
    let deleted = s
        .http
        .delete(format!("{}/connection/api-made?provider_config_key=github-full", s.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    assert_eq!(deleted.json::<Value>().await.unwrap(), json!({"success": true}));
    s.server.shutdown().await;
}

#[tokio::test]
async fn an_action_answers_with_its_output_or_with_nangos_error_shapes() {
    let s = service(5, Faults::default(), vec![], &[("github-actions", "acme")]).await;
    let trigger = |input: Value| {
        let req = s
            .http
            .post(format!("{}/action/trigger", s.url))
            .bearer_auth(KEY)
            .header("Provider-Config-Key", "github-actions")
            .header("Connection-Id", "acme")
            .json(&json!({"action_name": "close-issue", "input": input}));
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let input = |extra: Value| {
        let mut base = json!({"owner": "a", "repo": "b", "number": 2});
        base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        base
    };

    // The output, read from the provider over HTTP.
    let (status, body) = trigger(input(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["number"].as_f64(), body["state"].as_str()), (Some(2.0), Some("closed")), "{body}");

    // An `ActionError`: its payload, as it was made, under Nango's code.
    let (status, body) = trigger(input(json!({"reason": "locked"}))).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "action_script_runtime_error", "{body}");
    assert_eq!(
        body["error"]["payload"],
        json!({"code": "issue_locked", "message": "the issue is locked", "number": 2.0})
    );
    assert_eq!(body["error"]["message"], "the issue is locked");
    // ... also when it comes out of `?`.
    let (status, body) = trigger(input(json!({"number": 99}))).await;
    assert_eq!((status, &body["error"]["payload"]), (500, &json!({"message": "no issue 99"})), "{body}");

    // An input that does not fit the input model: 400 naming the field.
    let (status, body) = trigger(input(json!({"number": "two"}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_action_input");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("invalid input for action `close-issue` at `number`: invalid type: string"),
        "{message}"
    );
    assert_eq!(body["error"]["errors"][0]["path"], json!(["number"]), "{body}");
    let (status, body) = trigger(json!({"owner": "a", "number": 2})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["message"], "invalid input for action `close-issue`: missing field `repo`");
    assert!(body["error"].get("payload").is_none(), "{body}");

    // Any other error, and a panic: a 500 that says which action failed, and nothing of why.
    for reason in ["internal", "panic"] {
        let (status, body) = trigger(input(json!({"reason": reason}))).await;
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"]["code"], "action_script_failure", "{body}");
        assert_eq!(
            body["error"]["message"],
            "action `close-issue` failed with an internal error; the server's log has the cause"
        );
        assert!(body["error"].get("payload").is_none(), "{body}");
        let text = body.to_string();
        assert!(!text.contains("/srv/private") && !text.contains("secret panic"), "internals leaked: {text}");
    }

    // The service still answers after the panic.
    let (status, _) = trigger(input(json!({}))).await;
    assert_eq!(status, 200);
    s.server.shutdown().await;
}

#[tokio::test]
async fn the_typed_client_reads_and_commands_the_real_service() {
    use futures_util::StreamExt;
    let s = service(130, Faults::default(), vec![], &[("github-full", "acme")]).await;
    s.wait_runs("github-full", "acme", 1).await;
    let client = nango_runtime::client::NangoClient::new(&s.url, KEY);
    let records: Vec<_> =
        client.records::<common::models::Issue>("github-full", "acme").limit(40).stream().collect().await;
    assert_eq!(records.len(), 130);
    let last_cursor = records[99].as_ref().unwrap().metadata.cursor.clone();
    // Resume after the 100th record.
    let rest: Vec<_> =
        client.records::<common::models::Issue>("github-full", "acme").cursor(last_cursor).stream().collect().await;
    assert_eq!(rest.len(), 30);
    assert!(rest.iter().all(|r| r.as_ref().unwrap().record.title.starts_with("Issue #")));
    let status = client.sync_status("github-full", "acme", &["issues-full"]).await.unwrap();
    assert_eq!(status[0].name, "issues-full");
    client.pause_sync("github-full", Some("acme"), &["issues-full"]).await.unwrap();
    let status = client.sync_status("github-full", "acme", &["issues-full"]).await.unwrap();
    assert_eq!(status[0].status, nango_runtime::client::SyncState::Paused);
    client.trigger_sync("github-full", Some("acme"), &["issues-full"], false).await.unwrap();
    s.wait_runs("github-full", "acme", 2).await;
    let error = client.records::<common::models::Issue>("github-full", "nobody").page().await.unwrap_err();
    assert_eq!((error.status(), error.code()), (Some(404), Some("unknown_connection")));
    s.server.shutdown().await;
}

/// Waits until the scheduler has no run of the schedule going on.
async fn wait_idle(s: &Service, key: ConnectionKey, sync: &str) {
    for _ in 0..200 {
        if !s.server.state().scheduler.is_running(key, sync) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the scheduler still runs `{sync}`: wedged");
}

/// A frequency out of range in the store (written by an older version or by hand: 10^9 weeks
/// overflows a date, 2 * 10^10 weeks a time delta) neither wedges the schedule in RUNNING, nor
/// makes it run in a loop, nor keeps shutdown from finishing: the scheduler falls back to
/// nango.yaml's interval, with checked time arithmetic.
#[tokio::test]
async fn an_out_of_range_frequency_in_the_store_neither_wedges_nor_floods_the_scheduler() {
    let s = service(20, Faults::default(), vec![], &[("github-full", "acme")]).await;
    s.wait_runs("github-full", "acme", 1).await;
    let key = s.key("github-full", "acme").await;
    let trigger = json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "connection_id": "acme"});
    for (runs, secs) in [(2, 604_800_000_000_000u64), (3, 12_096_000_000_000_000)] {
        s.store().backend().set_frequency(key, "issues-full", Some(secs)).await.unwrap();
        let (status, _) = s.post("/sync/trigger", trigger.clone()).await;
        assert_eq!(status, StatusCode::OK);
        s.wait_runs("github-full", "acme", runs).await;
        wait_idle(&s, key, "issues-full").await;
        let next = s.store().sync_state(key, "issues-full").await.unwrap().next_run_at.expect("scheduled");
        let from_now = next - chrono::Utc::now();
        assert!(from_now > chrono::Duration::minutes(50) && from_now < chrono::Duration::minutes(70), "{from_now}");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.store().runs(Some(key), None, 100).await.unwrap().len(), 3, "runs in a loop");
    let (_, st) = s.get("/sync/status?syncs=issues-full&provider_config_key=github-full", None).await;
    assert_eq!(st["syncs"][0]["frequency"], "every hour", "{st}");
    tokio::time::timeout(Duration::from_secs(10), s.server.shutdown()).await.expect("shutdown finishes");
}

/// Texts near the frequency grammar get one verdict from `nango validate` (nango.yaml's `runs:`)
/// and from `PUT /sync/update-connection-frequency`, and what the API accepts is in range.
#[tokio::test]
async fn generated_frequencies_get_one_verdict_from_validate_and_from_the_api() {
    let s = service(5, Faults::default(), vec![], &[("github-full", "acme")]).await;
    for text in nango_types::frequency::samples(0xf00d, 300) {
        let body = json!({"sync_name": "issues-full", "provider_config_key": "github-full", "connection_id": "acme", "frequency": text});
        let answer =
            s.http.put(format!("{}/sync/update-connection-frequency", s.url)).bearer_auth(KEY).json(&body).send();
        let answer = answer.await.unwrap();
        let status = answer.status().as_u16();
        let said = answer.text().await.unwrap();
        let yaml = format!(
            "integrations:\n  github:\n    syncs:\n      issues:\n        runs: {}\n        output: Issue\n        endpoint: GET /issues\nmodels:\n  Issue:\n    id: string\n",
            serde_json::to_string(&text).unwrap()
        );
        let validated = nango_codegen::parse(&yaml, "nango.yaml");
        let refused = validated.errors().find(|d| d.code == "invalid_runs");
        match refused {
            None => assert_eq!(status, 200, "{text:?}: validate accepts, the API says {said}"),
            Some(d) => {
                assert_eq!(status, 400, "{text:?}: validate says {}, the API accepts", d.message);
                let code = d.message.split(':').next().unwrap_or_default();
                assert!(said.contains(code), "{text:?}: validate says {}, the API {said}", d.message);
            }
        }
        if status == 200 {
            let key = s.key("github-full", "acme").await;
            let secs = s.store().sync_state(key, "issues-full").await.unwrap().frequency_secs.unwrap();
            let range = nango_types::frequency::MIN.as_secs()..=nango_types::frequency::MAX.as_secs();
            assert!(range.contains(&secs), "{text:?} stored as {secs} s");
        }
    }
    s.server.shutdown().await;
}

/// Signs in to the console; the session cookie.
async fn console_cookie(s: &Service) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http
        .post(format!("{}/login", s.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    answer.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned()
}

/// A connection sealed under another key is a problem of that connection alone: it is listed as
/// unreadable with the reason, its sync fails with that reason, and everything else (the other
/// connection's runs, `/connection`, `/sync/status`, the console, new connections) works. A
/// process with another key cannot add secrets to the store.
#[tokio::test]
async fn a_connection_sealed_under_another_key_is_a_problem_of_its_own() {
    let key = Sealer::generate_key();
    let s = service_with(
        10,
        Faults::default(),
        vec![],
        &[("github-full", "good")],
        Sealer::from_base64(&key).unwrap(),
        |_| {},
    )
    .await;
    let other_key = Sealer::from_base64(&Sealer::generate_key()).unwrap();
    let plain = serde_json::to_vec(&json!({"type": "bearer", "token": "t0ken"})).unwrap();
    let now = chrono::Utc::now();
    let bad = nango_runtime::store::backend::SealedConnection {
        provider_config_key: "github-full".into(),
        connection_id: "bad".into(),
        provider: "github".into(),
        credentials: nango_runtime::store::backend::SealedCredentials {
            sealed: other_key.seal(&plain, b"github-full\0bad").unwrap(),
            kind: "bearer".into(),
        },
        connection_config: Default::default(),
        metadata: json!({"owner": "a", "repo": "b"}),
        base_url: Some(s.mock.url().to_owned()),
        created_at: now,
        updated_at: now,
    };
    s.store().backend().save_connection(&bad).await.unwrap();
    s.server.state().scheduler.wake();
    let good = s.wait_runs("github-full", "good", 1).await;
    assert_eq!(good[0].status, RunStatus::Success, "{good:?}");
    let failed = s.wait_runs("github-full", "bad", 1).await;
    assert_eq!(failed[0].status, RunStatus::Failed);
    assert!(failed[0].error.as_deref().unwrap_or_default().contains("not the key"), "{failed:?}");

    let (status, list) = s.get("/connection", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let connections = list["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 2, "{list}");
    let find = |id: &str| connections.iter().find(|c| c["connection_id"] == id).unwrap().clone();
    assert_eq!(find("good")["errors"], json!([]));
    assert_eq!(find("bad")["errors"][0]["type"], "unreadable_credentials", "{list}");
    assert!(find("bad")["errors"][0]["message"].as_str().unwrap().contains("not the key"), "{list}");
    // The newer route lists it the same way, its filters included; reading its credentials is a
    // clear 409, under both paths; what needs no credentials works.
    let (status, list) = s.get("/connections?integrationId=github-full", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let bad = list["connections"].as_array().unwrap().iter().find(|c| c["connection_id"] == "bad").unwrap().clone();
    assert_eq!(bad["errors"][0]["type"], "unreadable_credentials", "{list}");
    assert!(bad["errors"][0]["message"].as_str().unwrap().contains("not the key"), "{list}");
    let good = list["connections"].as_array().unwrap().iter().find(|c| c["connection_id"] == "good").unwrap().clone();
    assert_eq!(good["errors"], json!([]), "{list}");
    let (status, list) = s.get("/connections?connectionId=bad", None).await;
    assert_eq!((status, list["connections"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{list}");
    for path in ["/connections/bad?provider_config_key=github-full", "/connection/bad?provider_config_key=github-full"]
    {
        let (status, one) = s.get(path, None).await;
        assert_eq!(
            (status, one["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("unreadable_credentials")),
            "{one}"
        );
        assert!(one["error"]["message"].as_str().unwrap().contains("not the key"), "{one}");
    }
    let tags = s
        .http
        .patch(format!("{}/connections/bad?provider_config_key=github-full", s.url))
        .bearer_auth(KEY)
        .json(&json!({"tags": {"team": "core"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status().as_u16(), 200, "{}", tags.text().await.unwrap());
    let (status, list) = s.get("/connections?tags[team]=core", None).await;
    assert_eq!((status, list["connections"][0]["connection_id"].as_str()), (StatusCode::OK, Some("bad")), "{list}");
    let (status, st) = s.get("/sync/status?syncs=*&provider_config_key=github-full", None).await;
    assert_eq!(status, StatusCode::OK, "{st}");
    let statuses: Vec<(&str, &str)> = st["syncs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["connection_id"].as_str().unwrap(), x["status"].as_str().unwrap()))
        .collect();
    assert!(statuses.contains(&("bad", "ERROR")) && statuses.contains(&("good", "SUCCESS")), "{st}");
    let cookie = console_cookie(&s).await;
    let page = s.http.get(format!("{}/", s.url)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("unreadable") && page.contains("not the key"), "{page}");
    let new = json!({"provider_config_key": "github-full", "connection_id": "new", "provider": "github",
                     "credentials": {"type": "bearer", "token": "t0ken"}, "base_url": s.mock.url(),
                     "metadata": {"owner": "a", "repo": "b"}});
    let (status, body) = s.post("/connection", new.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    s.wait_runs("github-full", "new", 1).await;

    // A process started with another key is refused before it writes a secret.
    let url = format!("sqlite://{}", s._dir.path().join("nango.db").display());
    let runtime = Runtime::new(Store::open(&url, other_key).await.unwrap());
    let options = ServeOptions { addr: "127.0.0.1:0".parse().unwrap(), secret_key: KEY.into(), ..Default::default() };
    let second = Server::start(runtime, options).await.unwrap();
    let answer = s
        .http
        .post(format!("http://{}/connection", second.addr()))
        .bearer_auth(KEY)
        .json(&json!({"provider_config_key": "github-full", "connection_id": "newer", "provider": "github",
                      "credentials": {"type": "bearer", "token": "t0ken"}, "base_url": s.mock.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 409);
    let said: Value = answer.json().await.unwrap();
    assert_eq!(said["error"]["code"], "encryption_key_mismatch", "{said}");
    assert!(s.store().connection_key("github-full", "newer").await.unwrap().is_none());
    // Nor an integration's app credentials.
    let answer = s
        .http
        .post(format!("http://{}/integrations", second.addr()))
        .bearer_auth(KEY)
        .json(&json!({"provider": "github", "unique_key": "github-app",
                      "credentials": {"type": "OAUTH2", "client_id": "i", "client_secret": "s"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 409);
    let said: Value = answer.json().await.unwrap();
    assert_eq!(said["error"]["code"], "encryption_key_mismatch", "{said}");
    second.shutdown().await;

    // The unreadable connection can be deleted (once its sync is not running).
    let bad_key = s.key("github-full", "bad").await;
    let (status, _) = s
        .post(
            "/sync/pause",
            json!({"syncs": ["issues-full"], "provider_config_key": "github-full", "connection_id": "bad"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_idle(&s, bad_key, "issues-full").await;
    let deleted =
        s.http.delete(format!("{}/connections/bad?provider_config_key=github-full", s.url)).bearer_auth(KEY).send();
    let deleted = deleted.await.unwrap();
    assert_eq!(deleted.status().as_u16(), 200, "{}", deleted.text().await.unwrap());
    assert!(s.store().connection_key("github-full", "bad").await.unwrap().is_none());
    s.server.shutdown().await;
}

/// `POST /connection` checks what it stores as Nango does (connection ids of at most 255 of
/// Nango's characters; here also no `.`/`..` path segments), refuses integrations and providers
/// this program does not have, and base URLs that are not http(s) or point at this service.
#[tokio::test]
async fn post_connection_refuses_bad_ids_unknown_integrations_and_base_urls() {
    let s = service(1, Faults::default(), vec![], &[]).await;
    let own = s.url.replace("127.0.0.1", "localhost");
    for (patch, field) in [
        (json!({"connection_id": "../../etc"}), "connection_id"),
        (json!({"connection_id": "x".repeat(100_000)}), "connection_id"),
        (json!({"connection_id": "tab\there"}), "connection_id"),
        (json!({"connection_id": ""}), "connection_id"),
        (json!({"provider_config_key": "nope"}), "provider_config_key"),
        (json!({"provider": "nope"}), "provider"),
        (json!({"base_url": "file:///etc/passwd"}), "base_url"),
        (json!({"base_url": "not a url"}), "base_url"),
        (json!({"base_url": own}), "base_url"),
    ] {
        let mut body = json!({"provider_config_key": "github-full", "connection_id": "fine", "provider": "github",
                              "base_url": s.mock.url()});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = s.post("/connection", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch:.100}: {answer:.300}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{field}: {message}");
        assert!(message.len() < 1000, "{}", message.len());
    }
    let (_, list) = s.get("/connection", None).await;
    assert_eq!(list["connections"], json!([]));
    // An integration created through the API is one a connection can be made for, with its
    // provider by default.
    let (status, answer) = s
        .post(
            "/integrations",
            json!({"provider": "github", "unique_key": "github-mine",
               "credentials": {"type": "OAUTH2", "client_id": "i", "client_secret": "s"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let body = json!({"provider_config_key": "github-mine", "connection_id": "mine", "base_url": s.mock.url()});
    let (status, answer) = s.post("/connection", body).await;
    assert_eq!((status, answer["provider"].as_str()), (StatusCode::CREATED, Some("github")), "{answer}");
    // Nango's characters, as emails and JSON ids use them.
    let body = json!({"provider_config_key": "github-full", "connection_id": "user@example.com|{\"a\":1}",
                      "provider": "github", "base_url": s.mock.url(), "metadata": {"owner": "a", "repo": "b"}});
    let (status, answer) = s.post("/connection", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    s.server.shutdown().await;
}

/// Half-sent requests (headers or body) are closed within the timeouts, with real sockets; the
/// service keeps answering; at most `max_connections` are served at once.
#[tokio::test]
async fn half_sent_requests_are_closed_in_time_and_connections_are_limited() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = |header: u64, body: u64, max: usize| nango_runtime::server::ServerLimits {
        header_read_timeout: Duration::from_millis(header),
        request_body_timeout: Duration::from_millis(body),
        max_connections: max,
    };
    let s =
        service_with(1, Faults::default(), vec![], &[], Sealer::InsecureClear, |o| o.limits = limits(300, 300, 100))
            .await;
    let addr = s.server.addr();
    let started = std::time::Instant::now();
    let mut heads = Vec::new();
    for _ in 0..40 {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        heads.push(socket);
    }
    let mut body = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /connection HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"connection_id\":"
    );
    body.write_all(head.as_bytes()).await.unwrap();
    // The proxy reads its body under the same deadline.
    let mut proxied = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /proxy/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nConnection-Id: acme\r\nProvider-Config-Key: github-full\r\nContent-Length: 100\r\n\r\n{{"
    );
    proxied.write_all(head.as_bytes()).await.unwrap();
    // And the console's forms (a page, not JSON).
    let mut form = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nkey=";
    form.write_all(head.as_bytes()).await.unwrap();
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    // Each is closed by the server: the read ends (or is reset) without us closing anything.
    for mut socket in heads.into_iter().chain([idle]) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3), socket.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a half-sent request is still open after {:?}", started.elapsed());
    }
    for mut late in [body, proxied, form] {
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), late.read_to_end(&mut answer)).await.expect("closed").ok();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"), "{}", String::from_utf8_lossy(&answer));
    }
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let (status, _) = s.get("/health", None).await;
    assert_eq!(status, StatusCode::OK);
    s.server.shutdown().await;

    // Two connections at most: a third is served once one of the two is gone.
    let s =
        service_with(1, Faults::default(), vec![], &[], Sealer::InsecureClear, |o| o.limits = limits(5_000, 5_000, 2))
            .await;
    let addr = s.server.addr();
    let silent =
        [tokio::net::TcpStream::connect(addr).await.unwrap(), tokio::net::TcpStream::connect(addr).await.unwrap()];
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    third.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_millis(300), third.read_to_end(&mut answer)).await;
    assert!(early.is_err() && answer.is_empty(), "served beyond the limit: {}", String::from_utf8_lossy(&answer));
    drop(silent);
    tokio::time::timeout(Duration::from_secs(3), third.read_to_end(&mut answer)).await.expect("served").unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    s.server.shutdown().await;
}

/// One raw HTTP/1.1 request, written as it is (clients normalize `..` away before sending).
async fn raw_request(addr: std::net::SocketAddr, request_line: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut text = format!("{request_line} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_key_comes_first_and_the_newer_routes_refuse_bad_input_by_name() {
    let s = service(10, Faults::default(), vec![], &[("github-actions", "acme")]).await;
    let addr = s.server.addr();
    let call = |method: reqwest::Method, path: &str, key: Option<&str>, body: Option<Value>| {
        let mut req = s.http.request(method, format!("{}{path}", s.url));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    use reqwest::Method;

    // Without the right key every path but /health is a 401, routes or not.
    for path in ["/records/", "/nope", "/connections/acme", "/proxy/user", "/integrations", "/openapi.json"] {
        let (status, body) = call(Method::GET, path, None, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("missing_auth_header")), "{path}");
        let (status, body) = call(Method::DELETE, path, Some("wrong"), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unknown_account")), "{path}");
    }
    assert_eq!(call(Method::GET, "/health", None, None).await.0, 200);
    assert_eq!(call(Method::GET, "/health/", None, None).await.0, 200);
    let (status, body) = call(Method::GET, "/nope", Some(KEY), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_route")));
    let (status, body) = call(Method::PUT, "/integrations", Some(KEY), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")), "{body}");
    // A trailing slash is ignored.
    let (status, _) = call(Method::GET, "/connections/?connectionId=acme", Some(KEY), None).await;
    assert_eq!(status, 200);

    // Unknown query parameters and body fields are refused by name.
    for (method, path, body, code, needle) in [
        (Method::GET, "/connections?colour=red", None, "invalid_query_params", "`colour`"),
        (Method::GET, "/connections?limit=0", None, "invalid_query_params", "`limit`"),
        (
            Method::GET,
            "/connections/acme?provider_config_key=github-actions&colour=red",
            None,
            "invalid_query_params",
            "`colour`",
        ),
        (
            Method::GET,
            "/connections/acme?provider_config_key=github-actions&force_refresh=maybe",
            None,
            "invalid_query_params",
            "`force_refresh`",
        ),
        (Method::GET, "/connections/acme", None, "invalid_query_params", "`provider_config_key`"),
        // Ids no connection can have are refused by the one check of ids, before any lookup.
        (
            Method::GET,
            "/connections/..%2F..%2Fetc?provider_config_key=github-actions",
            None,
            "invalid_uri_params",
            "`connection_id`",
        ),
        (
            Method::POST,
            "/connections/metadata",
            Some(
                json!({"connection_id": ["acme", "tab\there"], "provider_config_key": "github-actions", "metadata": {}}),
            ),
            "invalid_body",
            "`connection_id`",
        ),
        (
            Method::POST,
            "/connections/metadata",
            Some(json!({"connection_id": "acme", "provider_config_key": "github-actions", "metadata": {}, "extra": 1})),
            "invalid_body",
            "extra",
        ),
        (
            Method::POST,
            "/connections/metadata",
            Some(json!({"connection_id": "acme", "provider_config_key": "github-actions", "metadata": [1]})),
            "invalid_body",
            "metadata",
        ),
        (
            Method::PATCH,
            "/connections/acme?provider_config_key=github-actions",
            Some(json!({"tags": {"a b": "x"}})),
            "invalid_body",
            "`tags.a b`",
        ),
        (
            Method::POST,
            "/integrations",
            Some(
                json!({"provider": "github", "unique_key": "x", "credentials": {"type": "OAUTH2", "client_id": "i", "client_secret": "s", "app_id": "a"}}),
            ),
            "invalid_body",
            "app_id",
        ),
        (
            Method::POST,
            "/integrations",
            Some(
                json!({"provider": "github", "unique_key": "bad/key", "credentials": {"type": "OAUTH2", "client_id": "i", "client_secret": "s"}}),
            ),
            "invalid_body",
            "`unique_key`",
        ),
        (Method::GET, "/integrations/github-actions?include=secrets", None, "invalid_query_params", "`include`"),
        (Method::GET, "/scripts/config?format=yaml", None, "invalid_query_params", "`format`"),
        (Method::GET, "/action/not-a-uuid", None, "invalid_uri_params", "`id`"),
        (
            Method::POST,
            "/connection",
            Some(json!({"provider_config_key": "github-actions", "connection_id": "a?b"})),
            "invalid_body",
            "`connection_id`",
        ),
    ] {
        let (status, got) = call(method, path, Some(KEY), body).await;
        assert_eq!((status, got["error"]["code"].as_str()), (400, Some(code)), "{path}: {got}");
        let message = got["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{path}: `{needle}` not in {message}");
    }
    let prune = |body: Value| {
        s.http
            .patch(format!("{}/records/prune", s.url))
            .bearer_auth(KEY)
            .header("Connection-Id", "acme")
            .header("Provider-Config-Key", "github-actions")
            .json(&body)
            .send()
    };
    let answer = prune(json!({"model": "Issue", "until_cursor": "x", "limt": 3})).await.unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    assert!(answer.text().await.unwrap().contains("limt"));
    let answer = prune(json!({"model": "Issue", "until_cursor": "x"})).await.unwrap();
    assert_eq!(answer.status().as_u16(), 404, "github-actions has no syncs, so no models");

    // The proxy: paths that climb out of the base URL never leave, whatever their spelling.
    let proxy_headers = [
        ("authorization", "Bearer test-secret-key"),
        ("connection-id", "acme"),
        ("provider-config-key", "github-actions"),
    ];
    for path in [
        "/proxy/../../_mock/stats",
        "/proxy/repos/%2e%2e/%2E%2e/_mock/stats",
        "/proxy/a/..%2f..%2f_mock",
        "/proxy/./user",
    ] {
        let (status, body) = raw_request(addr, &format!("GET {path}"), &proxy_headers).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_proxy_path")), "{path}: {body}");
    }
    let (status, body) = raw_request(addr, "GET /proxy/user", &proxy_headers).await;
    assert_eq!((status, body["login"].as_str()), (200, Some("octocat")), "{body}");
    // WebDAV methods (the 0.71 SDK's `PROPFIND` and `REPORT`) go through too.
    let (status, body) = raw_request(addr, "PROPFIND /proxy/echo", &proxy_headers).await;
    assert_eq!((status, body["method"].as_str()), (200, Some("PROPFIND")), "{body}");
    // A base URL with a path: the request stays under it.
    let mut c = Connection::new("github-actions", "scoped", "github");
    c.credentials = Credentials::Bearer { token: Secret::new("t0ken") };
    c.base_url = Some(format!("{}/echo/base", s.mock.url()));
    s.store().save_connection(&c).await.unwrap();
    let scoped = [
        ("authorization", "Bearer test-secret-key"),
        ("connection-id", "scoped"),
        ("provider-config-key", "github-actions"),
    ];
    let (status, body) = raw_request(addr, "GET /proxy/inner?x=1", &scoped).await;
    assert_eq!(
        (status, body["path"].as_str(), body["query"].as_str()),
        (200, Some("/echo/base/inner"), Some("x=1")),
        "{body}"
    );
    assert_eq!(body["headers"]["authorization"], "Bearer ***", "the injected token is not given back");
    let (status, body) = raw_request(addr, "GET /proxy/%2e%2e/%2e%2e/user", &scoped).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_proxy_path")), "{body}");
    let (status, body) = raw_request(addr, "GET /proxy/user", &[("authorization", "Bearer test-secret-key")]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_headers")), "{body}");
    let retries = [
        ("authorization", "Bearer test-secret-key"),
        ("connection-id", "acme"),
        ("provider-config-key", "github-actions"),
        ("retry-on", "4o4"),
    ];
    let (status, body) = raw_request(addr, "GET /proxy/user", &retries).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_headers")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Retry-On"));
    let long = "x".repeat(300);
    let too_long = [
        ("authorization", "Bearer test-secret-key"),
        ("connection-id", &long),
        ("provider-config-key", "github-actions"),
    ];
    let (status, body) = raw_request(addr, "GET /proxy/user", &too_long).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_headers")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`Connection-Id`") && message.len() < 300, "{message}");
    // A base URL override is checked as a connection's base URL: http(s), and not this service.
    let own = format!("http://localhost:{}", addr.port());
    for (url, needle) in [("file:///etc/passwd", "http"), (own.as_str(), "this service itself")] {
        let overridden = [
            ("authorization", "Bearer test-secret-key"),
            ("connection-id", "acme"),
            ("provider-config-key", "github-actions"),
            ("base-url-override", url),
        ];
        let (status, body) = raw_request(addr, "GET /proxy/user", &overridden).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_headers")), "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("`Base-Url-Override`") && message.contains(needle), "{message}");
    }
    // A connection whose credentials do not fill its provider's templates (Shopify's
    // `X-Shopify-Access-Token: ${accessToken}` without a token) cannot make any request: a
    // conflict with what is stored (409), not a bad request.
    let made = s
        .http
        .post(format!("{}/connection", s.url))
        .bearer_auth(KEY)
        .json(&json!({"provider_config_key": "github-actions", "connection_id": "shop", "provider": "shopify",
                      "base_url": s.mock.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status().as_u16(), 201);
    let shop = [
        ("authorization", "Bearer test-secret-key"),
        ("connection-id", "shop"),
        ("provider-config-key", "github-actions"),
    ];
    let (status, body) = raw_request(addr, "GET /proxy/user", &shop).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_connection_config")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("${accessToken}"), "{body}");
    s.server.shutdown().await;
}
