//! Replaying a recording over real HTTP.

use nango_mock_provider::MockProvider;
use nango_mock_provider::replay::{self, Exchange};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn serves_recorded_exchanges_with_the_origin_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let origin = "https://api.github.com";
    let page1 = Exchange::new(
        "GET",
        "/repos/o/r/issues",
        "per_page=100&state=all",
        200,
        json!([{"number": 2, "url": "https://api.github.com/repos/o/r/issues/2"}]),
    )
    .with_origin(origin)
    .with_header("link", "<https://api.github.com/repos/o/r/issues?per_page=100&state=all&page=2>; rel=\"next\"")
    .with_header("content-type", "application/json; charset=utf-8");
    let page2 = Exchange::new("GET", "/repos/o/r/issues", "per_page=100&state=all&page=2", 200, json!([{"number": 1}]))
        .with_origin(origin);
    let html = Exchange::new("GET", "/flaky", "", 502, Exchange::body_from_bytes(b"<html>502 Bad Gateway</html>"))
        .with_header("content-type", "text/html");
    let healed = Exchange::new("GET", "/flaky", "", 200, json!({"ok": true}));
    for (index, exchange) in [page1, page2, html, healed].iter().enumerate() {
        exchange.write_to(dir.path(), index).unwrap();
    }
    // The file format, as the runtime writes it.
    let text = std::fs::read_to_string(dir.path().join("000000.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        file["request"],
        json!({"method": "GET", "path": "/repos/o/r/issues", "query": "per_page=100&state=all"})
    );
    assert_eq!(file["response"]["status"], 200);
    assert_eq!(file["origin"], origin);
    assert_eq!(replay::load_dir(dir.path()).unwrap().len(), 4);

    let server = MockProvider::replay(dir.path()).start().await.unwrap();
    let url = server.url();
    let client = Client::new();
    // Parameters in another order still match.
    let response = client.get(format!("{url}/repos/o/r/issues?state=all&per_page=100")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let link = response.headers()["link"].to_str().unwrap().to_string();
    assert_eq!(link, format!("<{url}/repos/o/r/issues?per_page=100&state=all&page=2>; rel=\"next\""));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!([{"number": 2, "url": format!("{url}/repos/o/r/issues/2")}]));
    // Following the rewritten link reaches the mock.
    let next: Value =
        client.get(link[1..link.find('>').unwrap()].to_string()).send().await.unwrap().json().await.unwrap();
    assert_eq!(next, json!([{"number": 1}]));

    // Repeated requests get the recorded responses in order, then the last one again.
    let flaky = client.get(format!("{url}/flaky")).send().await.unwrap();
    assert_eq!(flaky.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(flaky.text().await.unwrap(), "<html>502 Bad Gateway</html>");
    for _ in 0..2 {
        let healed: Value = client.get(format!("{url}/flaky")).send().await.unwrap().json().await.unwrap();
        assert_eq!(healed, json!({"ok": true}));
    }

    let unknown = client.get(format!("{url}/repos/o/r/issues?page=9")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.json::<Value>().await.unwrap(),
        json!({"message": "no recorded response for GET /repos/o/r/issues?page=9"})
    );
    // Control endpoints still work.
    let stats: Value = client.get(format!("{url}/_mock/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["requests"], 6);
    server.shutdown().await;
}

#[tokio::test]
async fn a_broken_recording_fails_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("000000.json"), "{\"request\": 1}").unwrap();
    let error = MockProvider::replay(dir.path()).start().await.unwrap_err();
    assert!(error.to_string().contains("000000.json"), "{error}");
}
