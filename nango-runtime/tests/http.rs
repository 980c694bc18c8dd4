//! The HTTP client against real HTTP on loopback (a mock server of our own,
//! `tests/support/mock_http.rs`): pagination styles, retries and
//! waits, OAuth refresh, typed decoding, secrets, recording.

use chrono::Utc;
use futures_util::TryStreamExt;
use nango_runtime::http::{HttpClient, HttpError, HttpOptions, Pagination, RateLimit};
use nango_runtime::providers::{Provider, ProviderCatalog};
use nango_runtime::{Connection, Credentials, Secret};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/mock_http.rs"]
mod mock_http;
use mock_http::matchers::{
    basic_auth, body_string_contains, header, header_exists, method, path, query_param, query_param_is_missing,
};
use mock_http::{Mock, MockServer, ResponseTemplate};

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Item {
    id: u64,
}

fn ids(pages: &[Vec<Item>]) -> Vec<Vec<u64>> {
    pages.iter().map(|page| page.iter().map(|i| i.id).collect()).collect()
}

fn items(ids: &[u64]) -> Value {
    Value::Array(ids.iter().map(|id| json!({ "id": id })).collect())
}

/// Fast retries so the whole file stays within seconds.
fn options() -> HttpOptions {
    HttpOptions::default().min_delay(Duration::from_millis(2)).max_delay(Duration::from_millis(20))
}

/// A provider from providers.yaml text whose only entry is `test`.
fn provider(yaml: &str) -> Provider {
    ProviderCatalog::from_yaml(yaml, "test-providers.yaml").unwrap().get("test").unwrap()
}

fn connection(server: &MockServer, credentials: Credentials) -> Connection {
    let mut connection = Connection::new("test", "conn-1", "test");
    connection.base_url = Some(server.uri());
    connection.credentials = credentials;
    connection
}

fn client(server: &MockServer, provider: Provider, credentials: Credentials) -> HttpClient {
    HttpClient::new(provider, connection(server, credentials), options()).unwrap()
}

fn plain(server: &MockServer) -> HttpClient {
    client(server, Provider::default(), Credentials::None)
}

async fn all_pages<T: serde::de::DeserializeOwned + Send + 'static>(
    mut pages: nango_runtime::http::Paginate<T>,
) -> Result<Vec<Vec<T>>, HttpError> {
    let mut out = Vec::new();
    while let Some(page) = pages.next_page().await? {
        out.push(page);
    }
    Ok(out)
}

fn oauth(access: &str, expires_at: Option<chrono::DateTime<Utc>>) -> Credentials {
    Credentials::OAuth2 {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new("refresh-one")),
        expires_at,
        client_id: Some("client-id".into()),
        client_secret: Some(Secret::new("client-secret-xyz")),
    }
}

/// Captures this thread's `tracing` output (tests run on a current-thread runtime).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || logs.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cursor_pagination_walks_every_page_once() {
    let server = MockServer::start().await;
    let page = |data: &[u64], next: Value| {
        ResponseTemplate::new(200).set_body_json(json!({"data": items(data), "meta": {"next": next}}))
    };
    Mock::given(path("/items"))
        .and(query_param_is_missing("cursor"))
        .and(query_param("limit", "2"))
        .and(query_param("state", "open"))
        .respond_with(page(&[1, 2], json!("c2")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/items"))
        .and(query_param("cursor", "c2"))
        .and(query_param("limit", "2"))
        .and(query_param("state", "open"))
        .respond_with(page(&[3, 4], json!("  c3 ")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/items"))
        .and(query_param("cursor", "c3"))
        .respond_with(page(&[5], json!("")))
        .expect(1)
        .mount(&server)
        .await;

    let pages = plain(&server)
        .paginate::<Item>("/items")
        .pagination(Pagination::cursor("cursor", "meta.next").limit_name_in_request("limit"))
        .limit(2)
        .response_path("data")
        .query("state", "open");
    assert_eq!(ids(&all_pages(pages).await.unwrap()), [vec![1, 2], vec![3, 4], vec![5]]);
}

#[tokio::test]
async fn cursor_pagination_stops_on_an_empty_page_and_refuses_a_repeated_cursor() {
    let server = MockServer::start().await;
    Mock::given(path("/a"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": items(&[1]), "next": 7})))
        .mount(&server)
        .await;
    Mock::given(path("/a"))
        .and(query_param("after", "7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": [], "next": 8})))
        .mount(&server)
        .await;
    let pages =
        plain(&server).paginate::<Item>("/a").pagination(Pagination::cursor("after", "next").response_path("items"));
    assert_eq!(ids(&all_pages(pages).await.unwrap()), [vec![1]]);

    // An API that hands back a cursor it gave before would make Nango loop for ever.
    Mock::given(path("/loop"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": items(&[1]), "next": "x"})))
        .mount(&server)
        .await;
    Mock::given(path("/loop"))
        .and(query_param("after", "x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": items(&[2]), "next": "x"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut pages =
        plain(&server).paginate::<Item>("/loop").pagination(Pagination::cursor("after", "next").response_path("items"));
    assert_eq!(pages.next_page().await.unwrap().unwrap(), [Item { id: 1 }]);
    assert_eq!(pages.next_page().await.unwrap().unwrap(), [Item { id: 2 }]);
    let err = pages.next_page().await.unwrap_err();
    assert_eq!(err.kind(), "pagination_error");
    assert!(err.to_string().contains("next cursor that was already used (x)"), "{err}");
    assert!(err.to_string().starts_with(&format!("GET {}/loop?after=x", server.uri())), "{err}");
    assert!(pages.next_page().await.unwrap().is_none());
}

const GITHUB_LIKE: &str = r#"
test:
  auth_mode: API_KEY
  proxy:
    base_url: https://api.example.invalid
    headers:
      authorization: token ${apiKey}
    paginate:
      type: link
      limit_name_in_request: per_page
      link_rel_in_response_header: next
"#;

#[tokio::test]
async fn link_header_pagination_follows_absolute_links_without_resending_the_query() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let link = |page: u32| {
        format!(
            r#"<{uri}/repos/o/r/issues?state=open&per_page=2&page={page}>; rel="next", <{uri}/repos/o/r/issues?state=open&per_page=2&page=3>; rel="last""#
        )
    };
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues"))
        .and(query_param_is_missing("page"))
        .and(header("authorization", "token gh-key-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&[1, 2])).insert_header("link", link(2)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/repos/o/r/issues"))
        .and(query_param("page", "2"))
        .and(header("authorization", "token gh-key-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&[3, 4])).insert_header("link", link(3)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/repos/o/r/issues"))
        .and(query_param("page", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&[5])))
        .expect(1)
        .mount(&server)
        .await;

    let api_key = Credentials::ApiKey { api_key: Secret::new("gh-key-123") };
    let stream = client(&server, provider(GITHUB_LIKE), api_key)
        .paginate::<Item>("/repos/o/r/issues")
        .limit(2)
        .query("state", "open")
        .into_stream();
    let pages: Vec<Vec<Item>> = stream.try_collect().await.unwrap();
    assert_eq!(ids(&pages), [vec![1, 2], vec![3, 4], vec![5]]);

    let queries: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(queries, ["state=open&per_page=2", "state=open&per_page=2&page=2", "state=open&per_page=2&page=3"]);
}

#[tokio::test]
async fn link_body_pagination_accepts_relative_and_absolute_links() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(path("/v1/things"))
        .and(query_param_is_missing("after"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"results": items(&[1]), "paging": {"next": "/v1/things?after=a"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/things"))
        .and(query_param("after", "a"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"results": [], "paging": {"next": format!("{uri}/v1/things?after=b")}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/things"))
        .and(query_param("after", "b"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": items(&[2, 3]), "paging": {"next": null}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let pages = plain(&server)
        .paginate::<Item>("/v1/things")
        .pagination(Pagination::link_body("paging.next").response_path("results"));
    // Link pagination yields empty pages too (as Nango does) and stops when there is no link.
    assert_eq!(ids(&all_pages(pages).await.unwrap()), [vec![1], vec![], vec![2, 3]]);
}

#[tokio::test]
async fn offset_pagination_by_response_size_and_per_page() {
    let server = MockServer::start().await;
    for (offset, data) in [("0", vec![1, 2]), ("2", vec![3, 4]), ("4", vec![5])] {
        Mock::given(path("/size"))
            .and(query_param("offset", offset))
            .and(query_param("limit", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"rows": items(&data)})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pages = plain(&server)
        .paginate::<Item>("/size")
        .pagination(Pagination::offset("offset").limit(2).limit_name_in_request("limit").response_path("rows"));
    // The third page is shorter than the limit: no fourth request.
    assert_eq!(ids(&all_pages(pages).await.unwrap()), [vec![1, 2], vec![3, 4], vec![5]]);

    for (index, data) in [("1", vec![1, 2]), ("2", vec![3]), ("3", vec![])] {
        Mock::given(path("/per-page"))
            .and(query_param("page_index", index))
            .respond_with(ResponseTemplate::new(200).set_body_json(items(&data)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pages = plain(&server)
        .paginate::<Item>("/per-page")
        .pagination(Pagination::offset("page_index").per_page().offset_start_value(1));
    assert_eq!(ids(&all_pages(pages).await.unwrap()), [vec![1, 2], vec![3]]);
}

const PAGED: &str = r#"
test:
  auth_mode: NONE
  proxy:
    base_url: https://api.example.invalid
    paginate:
      type: page
      limit_name_in_request: size
      limit: '2'
      response_path: data.items
"#;

#[tokio::test]
async fn page_numbers_from_provider_defaults_and_per_call_overrides() {
    let server = MockServer::start().await;
    for (page, data) in [("1", vec![1, 2]), ("2", vec![3, 4]), ("3", vec![])] {
        Mock::given(path("/pages"))
            .and(query_param("page", page))
            .and(query_param("size", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"items": items(&data)}})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = client(&server, provider(PAGED), Credentials::None);
    let pages = all_pages(client.paginate::<Item>("/pages")).await.unwrap();
    assert_eq!(ids(&pages), [vec![1, 2], vec![3, 4]]);

    // A per-call type is merged over the provider's settings (limit and response_path kept).
    for (skip, data) in [("0", vec![7, 8]), ("2", vec![9])] {
        Mock::given(path("/skip"))
            .and(query_param("skip", skip))
            .and(query_param("size", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"items": items(&data)}})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pages = all_pages(client.paginate::<Item>("/skip").pagination(Pagination::offset("skip"))).await.unwrap();
    assert_eq!(ids(&pages), [vec![7, 8], vec![9]]);

    // And a POST sends the parameters in the JSON body, dotted names nested.
    Mock::given(method("POST"))
        .and(path("/search"))
        .and(body_string_contains(r#""page":{"size":2,"number":1}"#))
        .and(body_string_contains(r#""query":"x""#))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"items": items(&[1])}})))
        .expect(1)
        .mount(&server)
        .await;
    let pages = client
        .paginate::<Item>("/search")
        .method(nango_runtime::http::Method::POST)
        .json(&json!({"query": "x"}))
        .pagination(Pagination::page("page.number").limit_name_in_request("page.size"));
    assert_eq!(ids(&all_pages(pages).await.unwrap()), [vec![1]]);
}

#[tokio::test]
async fn pagination_configuration_errors_use_nangos_messages() {
    let server = MockServer::start().await;
    let client = plain(&server);
    let err = all_pages(client.paginate::<Item>("/x")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/x: There was no pagination configuration for this integration or configuration passed in.",
            server.uri()
        )
    );
    let mut cursor = Pagination::cursor("c", "p");
    cursor.cursor_path_in_response = None;
    let err = all_pages(client.paginate::<Item>("/x").pagination(cursor)).await.unwrap_err();
    assert!(err.to_string().ends_with("Param cursor_path_in_response is required for cursor pagination"), "{err}");
    let err =
        all_pages(client.paginate::<Item>("/x").pagination(Pagination::cursor("c", "p")).limit(3)).await.unwrap_err();
    assert!(
        err.to_string().ends_with("Param limit_name_in_request is required for cursor pagination when limit is set")
    );

    Mock::given(path("/obj"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"a": 1})))
        .mount(&server)
        .await;
    let err = all_pages(client.paginate::<Item>("/obj").pagination(Pagination::page("p"))).await.unwrap_err();
    assert!(
        err.to_string().contains("the response body is an object, not an array of items; set response_path"),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().len() == 1);
}

// ---------------------------------------------------------------------------------------------
// Retries and waits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_500_is_retried_then_succeeds_and_the_retry_is_logged() {
    let server = MockServer::start().await;
    Mock::given(path("/flaky")).respond_with(ResponseTemplate::new(500)).up_to_n_times(1).mount(&server).await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let logs = Logs::default();
    let _guard = logs.capture();
    let client = plain(&server);
    let value: Value = client.get("/flaky").send_json().await.unwrap();
    assert_eq!(value, json!({"ok": true}));
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries, stats.rate_limit_waits), (2, 1, 0));
    let logs = logs.text();
    let expected = format!("Retrying GET {}/flaky (reason: 500 Internal Server Error). Waiting ", server.uri());
    assert!(logs.contains(&expected) && logs.contains(" ms [1/5]"), "{logs}");
    assert!(logs.contains("wait_ms=") && logs.contains("attempt=1") && logs.contains("max=5"), "{logs}");
}

#[tokio::test]
async fn retries_give_up_with_the_status_and_the_number_of_attempts() {
    let server = MockServer::start().await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .expect(3)
        .mount(&server)
        .await;
    let err = plain(&server).get("/down").retries(2).send().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("GET {}/down returned 503 Service Unavailable after 3 attempts: maintenance", server.uri())
    );
}

#[tokio::test]
async fn retry_after_in_seconds() {
    let server = MockServer::start().await;
    Mock::given(path("/limited"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/limited")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let client = plain(&server);
    let started = Instant::now();
    client.get("/limited").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
    assert_eq!(client.stats().rate_limit_waits, 1);
}

#[tokio::test]
async fn retry_after_as_an_http_date() {
    let server = MockServer::start().await;
    // Whole seconds only: two seconds ahead leaves a wait of more than one.
    let date = (Utc::now() + chrono::Duration::seconds(2)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    Mock::given(path("/dated"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", date.as_str()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/dated")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let started = Instant::now();
    plain(&server).get("/dated").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?} for {date}", started.elapsed());
}

#[tokio::test]
async fn reset_headers_in_epoch_seconds_or_milliseconds() {
    let server = MockServer::start().await;
    let hour_secs = (Utc::now().timestamp() + 3600).to_string();
    let hour_ms = (Utc::now().timestamp_millis() + 3_600_000).to_string();
    for (route, reset) in [("/secs", hour_secs), ("/ms", hour_ms)] {
        Mock::given(path(route))
            .respond_with(ResponseTemplate::new(429).insert_header("x-ratelimit-reset", reset.as_str()))
            .mount(&server)
            .await;
    }
    let client = HttpClient::new(
        Provider::default(),
        connection(&server, Credentials::None),
        options().max_header_wait(Duration::from_secs(60)),
    )
    .unwrap();
    // Read either way, both mean "in an hour": too long to sleep, so the request fails at once.
    for route in ["/secs", "/ms"] {
        let err = client.get(route).send().await.unwrap_err();
        let HttpError::WaitTooLong { wait, max, ref header, .. } = err else { panic!("{err}") };
        assert!(wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600), "{route}: {wait:?}");
        assert_eq!((max, header.as_str()), (Duration::from_secs(60), "x-ratelimit-reset"));
        assert!(err.to_string().contains("more than max_header_wait (60 s)"), "{err}");
    }
    assert_eq!(client.stats().requests, 2);

    // A reset a moment ahead, in milliseconds, is waited for.
    let soon = (Utc::now().timestamp_millis() + 1000).to_string();
    Mock::given(path("/soon"))
        .respond_with(ResponseTemplate::new(429).insert_header("x-ratelimit-reset", soon.as_str()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/soon")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let started = Instant::now();
    client.get("/soon").send().await.unwrap();
    // Lower bound with slack: the reset was computed when the mock was mounted.
    assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());
}

const ONLY_403: &str = r#"
test:
  auth_mode: NONE
  proxy:
    base_url: https://api.example.invalid
    retry:
      error_code: ['403']
"#;

#[tokio::test]
async fn provider_error_codes_replace_the_default_set_and_retry_on_adds() {
    let server = MockServer::start().await;
    Mock::given(path("/forbidden")).respond_with(ResponseTemplate::new(403)).up_to_n_times(1).mount(&server).await;
    Mock::given(path("/forbidden")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    Mock::given(path("/broken")).respond_with(ResponseTemplate::new(500)).expect(1).mount(&server).await;
    Mock::given(path("/conflict")).respond_with(ResponseTemplate::new(409)).up_to_n_times(2).mount(&server).await;
    Mock::given(path("/conflict")).respond_with(ResponseTemplate::new(200)).mount(&server).await;

    let client = client(&server, provider(ONLY_403), Credentials::None);
    client.get("/forbidden").send().await.unwrap();
    let err = client.get("/broken").send().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert!(client.get("/conflict").send().await.is_err());
    client.get("/conflict").retry_on(409).send().await.unwrap();
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_404_fails_at_once_with_an_excerpt_of_the_body() {
    let server = MockServer::start().await;
    Mock::given(path("/repos/o/r"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Not Found", "documentation_url": "https://docs"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/huge"))
        .respond_with(ResponseTemplate::new(400).set_body_string("x".repeat(5000)))
        .mount(&server)
        .await;
    let client = plain(&server);
    let err = client.get("/repos/o/r").send().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            r#"GET {}/repos/o/r returned 404 Not Found: {{"message":"Not Found","documentation_url":"https://docs"}}"#,
            server.uri()
        )
    );
    assert_eq!((err.kind(), client.stats().requests), ("http_error", 1));
    let HttpError::Status { body, content_type, .. } = client.get("/huge").send().await.unwrap_err() else { panic!() };
    assert!(body.len() <= 1024 + 3 && body.ends_with('…'), "{}", body.len());
    assert_eq!(content_type.as_deref(), Some("text/plain"));
}

#[tokio::test]
async fn timeouts_are_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(800)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/slow")).respond_with(ResponseTemplate::new(200).set_body_string("fast")).mount(&server).await;
    let client = plain(&server);
    let response = client.get("/slow").timeout(Duration::from_millis(150)).send().await.unwrap();
    assert_eq!(response.text(), "fast");
    assert_eq!(client.stats().retries, 1);

    Mock::given(path("/always-slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(800)))
        .mount(&server)
        .await;
    let err = client.get("/always-slow").timeout(Duration::from_millis(100)).retries(1).send().await.unwrap_err();
    assert_eq!(err.to_string(), format!("GET {}/always-slow timed out after 100 ms (2 attempts)", server.uri()));
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut connection = Connection::new("test", "c", "test");
    connection.base_url = Some(format!("http://127.0.0.1:{port}"));
    let client = HttpClient::new(Provider::default(), connection, options()).unwrap();
    let err = client.get("/x").retries(2).send().await.unwrap_err();
    assert_eq!(err.kind(), "network_error");
    let text = err.to_string();
    assert!(text.starts_with(&format!("GET http://127.0.0.1:{port}/x failed after 3 attempts: ")), "{text}");
    assert_eq!(client.stats().requests, 3);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/new?token=abc"))
        .expect(1)
        .mount(&server)
        .await;
    let err = plain(&server).get("/old").send().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "GET {0}/old returned 301 Moved Permanently redirecting to {0}/new?token=***; redirects are not followed: \
             call the final URL (or set base_url) instead",
            server.uri()
        )
    );
}

#[tokio::test]
async fn remaining_zero_makes_the_next_request_wait_for_the_reset() {
    let server = MockServer::start().await;
    let reset = (Utc::now().timestamp_millis() + 1000).to_string();
    Mock::given(path("/a"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/b")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let client = plain(&server);
    client.get("/a").send().await.unwrap();
    let started = Instant::now();
    client.get("/b").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());
    assert_eq!(client.stats().rate_limit_waits, 1);
}

#[tokio::test]
async fn the_client_rate_limit_spaces_requests() {
    let server = MockServer::start().await;
    Mock::given(path("/r")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let client = HttpClient::new(
        Provider::default(),
        connection(&server, Credentials::None),
        options().rate_limit(RateLimit::per_second(20).burst(1)),
    )
    .unwrap();
    let started = Instant::now();
    for _ in 0..4 {
        client.get("/r").send().await.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(140), "{:?}", started.elapsed());
    assert_eq!(client.stats().rate_limit_waits, 3);
    let zero = HttpClient::new(
        Provider::default(),
        Connection::new("t", "c", "t"),
        options().rate_limit(RateLimit::per_second(0)),
    );
    assert_eq!(zero.unwrap_err().kind(), "invalid_config");
}

// ---------------------------------------------------------------------------------------------
// OAuth 2
// ---------------------------------------------------------------------------------------------

fn github() -> Provider {
    ProviderCatalog::builtin().get("github").unwrap()
}

async fn token_endpoint(server: &MockServer, response: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-one"))
        .and(body_string_contains("client_id=client-id"))
        .and(body_string_contains("client_secret=client-secret-xyz"))
        .and(header("accept", "application/json"))
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

fn new_tokens() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"access_token": "new-access", "refresh_token": "refresh-two", "expires_in": 3600}))
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_the_callback_gets_the_new_credentials() {
    let server = MockServer::start().await;
    token_endpoint(&server, new_tokens(), 1).await;
    Mock::given(path("/user"))
        .and(header("authorization", "Bearer old-access"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/user"))
        .and(header("authorization", "Bearer new-access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"login": "octocat"})))
        .expect(2)
        .mount(&server)
        .await;

    let saved: Arc<Mutex<Vec<Credentials>>> = Arc::default();
    let sink = saved.clone();
    let client = client(&server, github(), oauth("old-access", None)).on_credentials_refreshed(move |credentials| {
        let sink = sink.clone();
        Box::pin(async move {
            sink.lock().unwrap().push(credentials);
            Ok(())
        })
    });
    let user: Value = client.get("/user").send_json().await.unwrap();
    assert_eq!(user["login"], "octocat");
    client.get("/user").send().await.unwrap();

    let saved = saved.lock().unwrap().clone();
    assert_eq!(saved.len(), 1);
    let Credentials::OAuth2 { access_token, refresh_token, expires_at, client_id, .. } = &saved[0] else { panic!() };
    assert_eq!((access_token.expose(), refresh_token.as_ref().unwrap().expose()), ("new-access", "refresh-two"));
    assert!(expires_at.unwrap() > Utc::now() + chrono::Duration::minutes(59));
    assert_eq!(client_id.as_deref(), Some("client-id"));
    assert_eq!(client.credentials(), saved[0]);
    let stats = client.stats();
    assert_eq!((stats.refreshes, stats.requests, stats.retries), (1, 3, 0));
}

#[tokio::test]
async fn concurrent_401s_share_one_refresh() {
    let server = MockServer::start().await;
    token_endpoint(&server, new_tokens(), 1).await;
    Mock::given(path("/user"))
        .and(header("authorization", "Bearer old-access"))
        .respond_with(ResponseTemplate::new(401).set_delay(Duration::from_millis(20)))
        .expect(3)
        .mount(&server)
        .await;
    Mock::given(path("/user"))
        .and(header("authorization", "Bearer new-access"))
        .respond_with(ResponseTemplate::new(200))
        .expect(3)
        .mount(&server)
        .await;
    let client = client(&server, github(), oauth("old-access", None));
    let (a, b, c) = tokio::join!(client.get("/user").send(), client.get("/user").send(), client.get("/user").send());
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert_eq!(client.stats().refreshes, 1);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_the_request() {
    let server = MockServer::start().await;
    token_endpoint(&server, new_tokens(), 1).await;
    Mock::given(path("/user"))
        .and(header("authorization", "Bearer old-access"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/user"))
        .and(header("authorization", "Bearer new-access"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let expired = Utc::now() - chrono::Duration::minutes(5);
    let client = client(&server, github(), oauth("old-access", Some(expired)));
    client.get("/user").send().await.unwrap();
    assert_eq!(client.stats().refreshes, 1);
}

#[tokio::test]
async fn a_second_401_after_refreshing_fails_clearly_without_secrets() {
    let server = MockServer::start().await;
    token_endpoint(&server, new_tokens(), 1).await;
    Mock::given(path("/user"))
        .respond_with(ResponseTemplate::new(401).set_body_string("bad token old-access"))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server, github(), oauth("old-access", None));
    let err = client.get("/user").send().await.unwrap_err();
    assert_eq!(err.kind(), "invalid_credentials");
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/user returned 401 Unauthorized after refreshing the access token; reconnect the connection",
            server.uri()
        )
    );
    let debug = format!("{err:?}");
    for secret in ["old-access", "new-access", "refresh-one", "refresh-two", "client-secret-xyz"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[tokio::test]
async fn a_failed_refresh_is_invalid_credentials() {
    let server = MockServer::start().await;
    token_endpoint(
        &server,
        ResponseTemplate::new(400)
            .set_body_json(json!({"error": "bad_refresh_token", "echo": "refresh-one client-secret-xyz"})),
        1,
    )
    .await;
    Mock::given(path("/user")).respond_with(ResponseTemplate::new(401)).expect(1).mount(&server).await;
    let err = client(&server, github(), oauth("old-access", None)).get("/user").send().await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), "invalid_credentials");
    let expected = format!(
        "GET {0}/user returned 401 Unauthorized and refreshing the access token failed: \
         the token refresh (POST {0}/login/oauth/access_token) returned 400 Bad Request: ",
        server.uri()
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(text.contains("bad_refresh_token") && text.ends_with("; reconnect the connection"), "{text}");
    assert!(!text.contains("refresh-one") && !text.contains("client-secret-xyz"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct User {
    login: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Issue {
    number: u64,
    user: User,
}

#[tokio::test]
async fn typed_decoding_names_the_field_that_fails() {
    let server = MockServer::start().await;
    let mut issues: Vec<Value> = (1..=3).map(|n| json!({"number": n, "user": {"login": "a"}})).collect();
    issues.push(json!({"number": 4, "user": {"login": null}}));
    // Well-formed JSON of another shape is the provider's real answer: not asked for again.
    Mock::given(path("/repos/o/r/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&issues))
        .expect(1)
        .mount(&server)
        .await;
    let err = plain(&server).get("/repos/o/r/issues").query("page", 2).send_json::<Vec<Issue>>().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/repos/o/r/issues?page=2: response body does not match the expected type at [3].user.login: \
             invalid type: null, expected a string",
            server.uri()
        )
    );

    // Through pagination the path starts at response_path.
    Mock::given(path("/wrapped"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": 1}, {"id": "two"}]})))
        .mount(&server)
        .await;
    let err =
        all_pages(plain(&server).paginate::<Item>("/wrapped").pagination(Pagination::page("p").response_path("data")))
            .await
            .unwrap_err();
    assert!(err.to_string().contains("at data[1].id: invalid type: string \"two\", expected u64"), "{err}");
}

#[tokio::test]
async fn html_pages_and_truncated_json_are_retried_then_reported_with_their_start() {
    // An HTML error page is summed up by its title (or first heading) and size: its markup says
    // nothing more.
    let server = MockServer::start().await;
    let html = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>";
    // Unreadable every time: the first attempt and 5 retries, then the error.
    Mock::given(path("/html"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(html, "text/html"))
        .expect(6)
        .mount(&server)
        .await;
    Mock::given(path("/cut"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"items":[{"id":1},{"id":"#, "application/json"))
        .expect(6)
        .mount(&server)
        .await;
    Mock::given(path("/gateway"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(html, "text/html"))
        .mount(&server)
        .await;
    let client = plain(&server);

    let err = client.get("/html").send_json::<Value>().await.unwrap_err();
    assert_eq!(err.kind(), "invalid_body");
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/html: response body is not valid JSON after 6 attempts (expected value at line 1 column 1); \
             content-type: text/html; body starts with: an HTML page titled \"502 Bad Gateway\" (65 bytes)",
            server.uri()
        )
    );
    let err = client.get("/cut").send_json::<Value>().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not valid JSON after 6 attempts (EOF while parsing"), "{text}");
    // Where the document stopped.
    assert!(text.contains(", in items[1].id)") && text.contains("content-type: application/json"), "{text}");
    assert!(text.ends_with(r#"body starts with: {"items":[{"id":1},{"id":"#), "{text}");
    let err = client.get("/gateway").retries(0).send().await.unwrap_err();
    assert!(
        err.to_string().ends_with("returned 502 Bad Gateway: an HTML page titled \"502 Bad Gateway\" (65 bytes)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_body_cut_short_is_fetched_again_by_send_json_and_by_pagination() {
    let server = MockServer::start().await;
    // Two answers cut short (a `Content-Length` that matches, as a proxy would send), then whole.
    Mock::given(path("/one"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"[{"id":1},{"id":2"#, "application/json"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/one"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&[1, 2])))
        .expect(1)
        .mount(&server)
        .await;
    let logs = Logs::default();
    let client = plain(&server);
    let got = {
        let _guard = logs.capture();
        client.get("/one").send_json::<Vec<Item>>().await.unwrap()
    };
    assert_eq!(got, [Item { id: 1 }, Item { id: 2 }]);
    assert_eq!(client.stats().retries, 2);
    assert!(logs.text().contains("reason: unreadable body: EOF while parsing"), "{}", logs.text());

    // A page of a paginated listing, decoded straight into the items.
    Mock::given(path("/pages"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"[{"id":3},{"i"#, "application/json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    for (page, ids) in [("1", vec![1, 2]), ("2", vec![3]), ("3", vec![])] {
        Mock::given(path("/pages"))
            .and(query_param("page", page))
            .respond_with(ResponseTemplate::new(200).set_body_json(items(&ids)))
            .mount(&server)
            .await;
    }
    let pages = all_pages(client.paginate::<Item>("/pages").pagination(Pagination::page("page"))).await.unwrap();
    assert_eq!(ids(&pages), [vec![1, 2], vec![3]]);
    assert_eq!(client.stats().retries, 3);

    // `send()` hands the bytes over as they came: decoding them later is the caller's, once.
    let raw = client.get("/cut-raw").retries(3);
    Mock::given(path("/cut-raw"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("[1,", "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let response = raw.send().await.unwrap();
    assert_eq!(response.json::<Value>().unwrap_err().kind(), "invalid_body");
}

// ---------------------------------------------------------------------------------------------
// Credentials placement and secrets
// ---------------------------------------------------------------------------------------------

const KEY_IN_HEADER: &str = r#"
test:
  auth_mode: API_KEY
  proxy:
    base_url: http://127.0.0.1:${connectionConfig.port}/api
    headers:
      x-api-key: ${apiKey}
      x-account: ${connectionConfig.account}
"#;

#[tokio::test]
async fn api_key_header_from_provider_templates() {
    let server = MockServer::start().await;
    Mock::given(path("/api/me"))
        .and(header("x-api-key", "key-abc-123"))
        .and(header("x-account", "acme"))
        .and(header_exists("user-agent"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let mut connection = Connection::new("test", "c", "test");
    connection.credentials = Credentials::ApiKey { api_key: Secret::new("key-abc-123") };
    connection.connection_config.insert("port".into(), server.address().port().to_string());
    connection.connection_config.insert("account".into(), "acme".into());
    let client = HttpClient::new(provider(KEY_IN_HEADER), connection.clone(), options()).unwrap();
    assert_eq!(client.base_url(), Some(format!("http://127.0.0.1:{}/api", server.address().port()).as_str()));
    client.get("/me").send().await.unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert!(!request.headers.contains_key("authorization"), "the key goes only where the provider says");

    connection.connection_config.remove("port");
    let err = HttpClient::new(provider(KEY_IN_HEADER), connection, options()).unwrap_err();
    assert_eq!(err.kind(), "invalid_config");
    assert!(err.to_string().contains("${connectionConfig.port}"), "{err}");
}

#[tokio::test]
async fn default_authorization_headers() {
    let server = MockServer::start().await;
    Mock::given(path("/bearer"))
        .and(header("authorization", "Bearer key-1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/basic"))
        .and(basic_auth("user", "pass-word"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let api_key = Credentials::ApiKey { api_key: Secret::new("key-1") };
    client(&server, Provider::default(), api_key).get("/bearer").send().await.unwrap();
    let basic = Credentials::Basic { username: "user".into(), password: Secret::new("pass-word") };
    client(&server, Provider::default(), basic).get("/basic").send().await.unwrap();
}

const KEY_IN_QUERY: &str = r#"
test:
  auth_mode: API_KEY
  proxy:
    base_url: https://api.example.invalid
    query:
      api_key: ${apiKey}
"#;

#[tokio::test]
async fn secrets_never_reach_errors_or_logs() {
    let server = MockServer::start().await;
    let secret = "sk-live-secret-42";
    Mock::given(path("/echo"))
        .and(query_param("api_key", secret))
        .respond_with(
            ResponseTemplate::new(422).set_body_string(format!("invalid key {secret} for /echo?api_key={secret}")),
        )
        .mount(&server)
        .await;
    let logs = Logs::default();
    let _guard = logs.capture();
    let client = client(&server, provider(KEY_IN_QUERY), Credentials::ApiKey { api_key: Secret::new(secret) });
    let err = client.get("/echo").query("q", "x").send().await.unwrap_err();
    let text = err.to_string();
    assert!(!text.contains(secret) && !format!("{err:?}").contains(secret), "{text}");
    assert!(text.starts_with(&format!("GET {}/echo?q=x&api_key=*** returned 422", server.uri())), "{text}");
    assert!(text.contains("invalid key *** for"), "{text}");
    assert!(!format!("{client:?}").contains(secret));

    // A token in the URL path, a bearer token in the body, and a timeout: still nothing.
    Mock::given(path(format!("/bot{secret}/send")))
        .respond_with(ResponseTemplate::new(500).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let err = client
        .get(format!("/bot{secret}/send"))
        .timeout(Duration::from_millis(50))
        .retries(1)
        .send()
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(err.to_string().contains("/bot***/send"), "{err}");

    let bearer = Credentials::Bearer { token: Secret::new("tok-bearer-77") };
    Mock::given(path("/me"))
        .respond_with(ResponseTemplate::new(401).set_body_string("tok-bearer-77 is revoked"))
        .mount(&server)
        .await;
    let err = self::client(&server, Provider::default(), bearer).get("/me").send().await.unwrap_err();
    assert_eq!(err.kind(), "invalid_credentials");
    assert!(err.to_string().ends_with("returned 401 Unauthorized: *** is revoked"), "{err}");

    let logs = logs.text();
    assert!(logs.contains("Retrying GET"), "{logs}");
    assert!(!logs.contains(secret) && !logs.contains("tok-bearer-77"), "{logs}");
}

// ---------------------------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------------------------

const RECORDED: &str = r#"
test:
  auth_mode: API_KEY
  proxy:
    base_url: https://api.example.invalid
    query:
      api_key: ${apiKey}
    retry:
      remaining: x-quota-left
"#;

#[tokio::test]
async fn save_responses_writes_replayable_exchanges() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let next = format!(r#"<{uri}/repos/o/r/issues?per_page=2&page=2>; rel="next""#);
    Mock::given(path("/repos/o/r/issues"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(items(&[1, 2]))
                .insert_header("link", next.as_str())
                .insert_header("x-ratelimit-remaining", "4999")
                .insert_header("x-quota-left", "12")
                .insert_header("x-request-id", "not-for-replay"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/repos/o/r/issues"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items(&[3])))
        .mount(&server)
        .await;
    Mock::given(path("/text"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no such thing"))
        .mount(&server)
        .await;
    Mock::given(path("/retry")).respond_with(ResponseTemplate::new(500)).up_to_n_times(1).mount(&server).await;
    Mock::given(path("/retry")).respond_with(ResponseTemplate::new(204)).mount(&server).await;

    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("recorded");
    let client = HttpClient::new(
        provider(RECORDED),
        connection(&server, Credentials::ApiKey { api_key: Secret::new("recorded-key") }),
        options().save_responses(&folder),
    )
    .unwrap();
    let pages = all_pages(
        client.paginate::<Item>("/repos/o/r/issues").pagination(Pagination::link_header("next")).query("per_page", 2),
    )
    .await
    .unwrap();
    assert_eq!(ids(&pages), [vec![1, 2], vec![3]]);
    client.get("/text").send().await.unwrap_err();
    client.get("/retry").send().await.unwrap();

    let read = |n: u32| -> Value {
        serde_json::from_slice(&std::fs::read(folder.join(format!("{n:06}.json"))).unwrap()).unwrap()
    };
    assert_eq!(
        read(0),
        json!({
            "origin": uri,
            "request": {"method": "GET", "path": "/repos/o/r/issues", "query": "per_page=2"},
            "response": {
                "status": 200,
                "headers": {"content-type": "application/json", "link": next, "x-quota-left": "12", "x-ratelimit-remaining": "4999"},
                "body": [{"id": 1}, {"id": 2}],
            },
        })
    );
    assert_eq!(read(1)["request"]["query"], "per_page=2&page=2");
    assert_eq!(
        read(2)["response"],
        json!({"status": 404, "headers": {"content-type": "text/plain"}, "body": "no such thing"})
    );
    // Only the final exchange of a retried request is kept.
    assert_eq!(read(3)["response"]["status"], 204);
    let mut names: Vec<String> =
        std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["000000.json", "000001.json", "000002.json", "000003.json"]);
    let all = names.iter().map(|n| std::fs::read_to_string(folder.join(n)).unwrap()).collect::<String>();
    assert!(!all.contains("recorded-key") && !all.contains("api_key"), "{all}");
}

#[tokio::test]
async fn requests_and_pages_can_be_spawned() {
    fn send<T: Send>(_: &T) {}
    fn spawnable<T: Send + 'static>(_: &T) {}
    let server = MockServer::start().await;
    let client = plain(&server);
    spawnable(&client.get("/x").send());
    spawnable(&client.get("/x").send_json::<Value>());
    let mut pages = client.paginate::<Item>("/x");
    send(&pages.next_page());
    spawnable(&client.paginate::<Item>("/x").into_stream());
    spawnable(&client.paginate::<Item>("/x"));
}

/// A request with a validator (`If-None-Match`) takes a `304 Not Modified` as the answer "still
/// the same" (never retried), a 200 as the new document with its `ETag`; a request without one
/// still refuses a 304 as the redirect-class status it is.
#[tokio::test]
async fn a_304_answers_a_request_with_a_validator_and_stays_an_error_without_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/doc"))
        .and(header("if-none-match", "W/\"v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "W/\"v1\""))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/doc"))
        .respond_with(ResponseTemplate::new(200).insert_header("etag", "W/\"v2\"").set_body_json(items(&[1, 2])))
        .mount(&server)
        .await;
    let client = plain(&server);
    use nango_runtime::http::IfNoneMatch;
    let current = client.get("/doc").send_json_if_none_match::<Vec<Item>>(Some("W/\"v1\"")).await.unwrap();
    assert_eq!(current, IfNoneMatch::NotModified);
    let changed = client.get("/doc").send_json_if_none_match::<Vec<Item>>(Some("W/\"v0\"")).await.unwrap();
    assert_eq!(
        changed,
        IfNoneMatch::Modified { value: vec![Item { id: 1 }, Item { id: 2 }], etag: Some("W/\"v2\"".into()) }
    );
    let fresh = client.get("/doc").send_json_if_none_match::<Vec<Item>>(None).await.unwrap();
    assert!(matches!(fresh, IfNoneMatch::Modified { .. }));
    assert_eq!(client.stats().retries, 0);

    // The same 304 to a request that did not ask for it is refused, as any 3xx is.
    let by_hand = client.get("/doc").header("if-none-match", "W/\"v1\"").send().await.unwrap_err();
    assert!(matches!(by_hand, HttpError::Redirect { .. }), "{by_hand}");
}
