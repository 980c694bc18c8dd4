//! Injected faults over real HTTP.

use std::time::{Duration, Instant};

use nango_mock_provider::{Faults, MockProvider, RetryAfter};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const ISSUES: &str = "/repos/octocat/hello-world/issues?state=all&per_page=100";

#[tokio::test]
async fn server_errors_appear_and_retries_get_through() {
    let faults = Faults { error_rate: 0.5, seed: 7, ..Faults::default() };
    let server = MockProvider::builder().issues(250).faults(faults).start().await.unwrap();
    let client = Client::new();
    let url = format!("{}{ISSUES}", server.url());
    let mut errors = 0;
    for _ in 0..20 {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let response = client.get(&url).send().await.unwrap();
            if response.status() == StatusCode::OK {
                let issues: Vec<Value> = response.json().await.unwrap();
                assert_eq!(issues.len(), 100);
                break;
            }
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(response.json::<Value>().await.unwrap()["message"].is_string());
            errors += 1;
            assert!(attempts <= 4, "at most max_consecutive faults in a row");
        }
    }
    assert!(errors > 0);
    let stats = server.stats();
    assert_eq!(stats.injected_500, errors);
    assert_eq!(stats.served_ok, 20);
    assert_eq!(stats.requests, 20 + errors);
    // Faults never touch the control endpoints.
    for _ in 0..10 {
        let response = client.get(format!("{}/_mock/stats", server.url())).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limits_carry_retry_after_in_both_forms() {
    let faults = Faults { rate_limit_rate: 1.0, retry_after: RetryAfter::Seconds(2), ..Faults::default() };
    let server = MockProvider::builder().issues(10).faults(faults).start().await.unwrap();
    let client = Client::new();
    let response = client.get(format!("{}/user", server.url())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    let reset: i64 = response.headers()["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!((reset - chrono::Utc::now().timestamp() - 2).abs() <= 1);

    // Set at runtime over HTTP, in the HTTP-date form.
    let put = client
        .put(format!("{}/_mock/faults", server.url()))
        .body(r#"{"rate_limit_rate": 1.0, "retry_after": {"http_date": 30}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(server.faults().retry_after, RetryAfter::HttpDate(30));
    let response = client.get(format!("{}/user", server.url())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let date = response.headers()["retry-after"].to_str().unwrap();
    assert!(date.ends_with(" GMT"), "{date}");
    let when = chrono::NaiveDateTime::parse_from_str(date, "%a, %d %b %Y %H:%M:%S GMT").unwrap().and_utc();
    let ahead = (when - chrono::Utc::now()).num_seconds();
    assert!((28..=30).contains(&ahead), "{ahead}");
    assert_eq!(server.stats().injected_429, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_a_client_error() {
    let server = MockProvider::builder()
        .issues(250)
        .faults(Faults { drop_rate: 1.0, max_consecutive: 1, ..Faults::default() })
        .start()
        .await
        .unwrap();
    let client = Client::new();
    let url = format!("{}{ISSUES}", server.url());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "status and headers arrive");
    assert!(response.bytes().await.is_err(), "the body does not");
    // max_consecutive: 1, so the retry is served in full.
    let issues: Vec<Value> = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(issues.len(), 100);
    assert_eq!((server.stats().dropped, server.stats().served_ok), (1, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn html_errors_malformed_json_and_latency() {
    let server = MockProvider::builder()
        .issues(250)
        .faults(Faults { html_error_rate: 1.0, max_consecutive: 1, ..Faults::default() })
        .start()
        .await
        .unwrap();
    let client = Client::new();
    let url = format!("{}{ISSUES}", server.url());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("502 Bad Gateway"));

    server.set_faults(Faults { malformed_rate: 1.0, max_consecutive: 1, ..Faults::default() });
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.expect("framing is correct");
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    assert!(body.starts_with(b"[{"));

    server.set_faults(Faults { latency: Duration::from_millis(150), ..Faults::default() });
    let started = Instant::now();
    assert_eq!(client.get(&url).send().await.unwrap().status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let stats = server.stats();
    assert_eq!((stats.injected_502, stats.malformed, stats.served_ok), (1, 1, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn the_fault_sequence_is_deterministic() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let faults = Faults { error_rate: 0.3, rate_limit_rate: 0.2, seed, ..Faults::default() };
        let server = MockProvider::builder().issues(10).faults(faults).start().await.unwrap();
        let client = Client::new();
        let mut statuses = Vec::new();
        for page in 0..30 {
            let response = client.get(format!("{}/user?page={page}", server.url())).send().await.unwrap();
            statuses.push(response.status().as_u16());
        }
        server.shutdown().await;
        statuses
    }
    let first = statuses(11).await;
    assert_eq!(first, statuses(11).await);
    assert_ne!(first, statuses(12).await);
    assert!(first.contains(&500) && first.contains(&429) && first.contains(&200));
}
