//! The API over real HTTP: pagination styles, filters, auth, OAuth and the control methods.

use std::collections::BTreeSet;

use nango_mock_provider::{IssueState, IssueUpdate, MockProvider, MockServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const REPO: &str = "/repos/octocat/hello-world/issues";

fn numbers(issues: &[Value]) -> Vec<u64> {
    issues.iter().map(|issue| issue["number"].as_u64().unwrap()).collect()
}

/// The `rel` → url pairs of a `Link` header.
fn links(response: &reqwest::Response) -> Vec<(String, String)> {
    let Some(header) = response.headers().get("link") else {
        return Vec::new();
    };
    header
        .to_str()
        .unwrap()
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; ").unwrap();
            let url = url.strip_prefix('<').unwrap().strip_suffix('>').unwrap();
            let rel = rel.strip_prefix("rel=\"").unwrap().strip_suffix('"').unwrap();
            (rel.to_string(), url.to_string())
        })
        .collect()
}

fn rel<'a>(links: &'a [(String, String)], name: &str) -> Option<&'a str> {
    links.iter().find(|(rel, _)| rel == name).map(|(_, url)| url.as_str())
}

/// Follows `rel="next"` from `first`; gives every number and how many pages there were.
async fn walk_links(client: &Client, first: String) -> (Vec<u64>, usize) {
    let mut url = Some(first);
    let mut all = Vec::new();
    let mut pages = 0;
    while let Some(current) = url {
        let response = client.get(&current).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{current}");
        let links = links(&response);
        url = rel(&links, "next").map(str::to_string);
        let issues: Vec<Value> = response.json().await.unwrap();
        all.extend(numbers(&issues));
        pages += 1;
    }
    (all, pages)
}

async fn server(issues: u64) -> MockServer {
    MockProvider::builder().issues(issues).start().await.unwrap()
}

#[tokio::test]
async fn link_pagination_walks_every_issue_once() {
    let server = server(250).await;
    let client = Client::new();
    let first = format!("{}{REPO}?per_page=100&state=all", server.url());
    let response = client.get(&first).send().await.unwrap();
    let header = response.headers()["link"].to_str().unwrap().to_string();
    let url = server.url();
    assert_eq!(
        header,
        format!(
            "<{url}{REPO}?per_page=100&state=all&page=2>; rel=\"next\", <{url}{REPO}?per_page=100&state=all&page=3>; rel=\"last\""
        )
    );
    let (all, pages) = walk_links(&client, first).await;
    assert_eq!(pages, 3);
    assert_eq!(all, (1..=250).rev().collect::<Vec<_>>());

    let last = client.get(format!("{url}{REPO}?per_page=100&state=all&page=3")).send().await.unwrap();
    let last_links = links(&last);
    assert!(rel(&last_links, "next").is_none());
    assert_eq!(rel(&last_links, "prev"), Some(format!("{url}{REPO}?per_page=100&state=all&page=2").as_str()));
    assert_eq!(rel(&last_links, "first"), Some(format!("{url}{REPO}?per_page=100&state=all&page=1").as_str()));
    let issues: Vec<Value> = last.json().await.unwrap();
    assert_eq!(issues.len(), 50);

    // Defaults: 30 per page, open issues only (every third is closed), newest first.
    let response = client.get(format!("{url}{REPO}")).send().await.unwrap();
    let issues: Vec<Value> = response.json().await.unwrap();
    assert_eq!(issues.len(), 30);
    assert_eq!(numbers(&issues)[..3], [250, 248, 247]);
    assert!(issues.iter().all(|issue| issue["state"] == "open" && issue["closed_at"].is_null()));
    server.shutdown().await;
}

#[tokio::test]
async fn issues_look_like_github() {
    let server = server(10).await;
    let issue: Value =
        Client::new().get(format!("{}{REPO}/9", server.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(issue["id"], 1_000_009);
    assert_eq!(issue["number"], 9);
    assert!(issue["title"].as_str().unwrap().starts_with("Issue #9: "));
    assert_eq!(issue["state"], "closed");
    assert_eq!(issue["created_at"], "2024-01-01T00:09:00Z");
    assert_eq!(issue["updated_at"], "2024-01-01T00:09:00Z");
    assert_eq!(issue["closed_at"], "2024-01-01T00:09:00Z");
    assert_eq!(issue["html_url"], "https://github.com/octocat/hello-world/issues/9");
    assert_eq!(issue["url"], format!("{}{REPO}/9", server.url()));
    assert!(issue["user"]["login"].is_string() && issue["user"]["id"].is_u64());
    assert!(issue["labels"].as_array().unwrap().len() <= 3);
    assert!(issue["comments"].is_u64());
    assert!(issue["body"].is_string() || issue["body"].is_null());
    // The same issue, whatever the listing.
    let listed: Vec<Value> = Client::new()
        .get(format!("{}{REPO}?state=closed&per_page=1", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0], issue);
    server.shutdown().await;
}

#[tokio::test]
async fn filters_and_sorting() {
    let server = server(250).await;
    let client = Client::new();
    let url = server.url();
    let get = |query: &str| {
        let request = client.get(format!("{url}{REPO}?{query}"));
        async move {
            let issues: Vec<Value> = request.send().await.unwrap().json().await.unwrap();
            numbers(&issues)
        }
    };
    // since: base issue i was updated i minutes after 2024-01-01T00:00:00Z.
    assert_eq!(
        get("state=all&since=2024-01-01T04:00:00Z&direction=asc&per_page=100").await,
        (240..=250).collect::<Vec<_>>()
    );
    assert_eq!(
        get("state=all&since=2024-01-01T03:59:30Z&direction=asc&per_page=100").await,
        (240..=250).collect::<Vec<_>>()
    );
    assert!(get("since=2030-01-01T00:00:00Z").await.is_empty());
    // state
    assert_eq!(get("state=closed&direction=asc&per_page=4").await, [3, 6, 9, 12]);
    assert_eq!(get("state=open&direction=asc&per_page=4").await, [1, 2, 4, 5]);
    assert_eq!(get("state=closed&per_page=2&page=2").await, [243, 240]);
    // sort=updated moves an updated issue to the end (asc) or the front (desc).
    server.update_issue(5, IssueUpdate::default()).unwrap();
    assert_eq!(get("state=all&sort=updated&direction=desc&per_page=3").await, [5, 250, 249]);
    assert_eq!(get("state=all&sort=updated&direction=asc&per_page=100&page=3").await.last(), Some(&5));
    assert_eq!(get("state=all&sort=created&direction=asc&per_page=6").await, [1, 2, 3, 4, 5, 6]);
    // Bad values are GitHub's 422.
    let response = client.get(format!("{url}{REPO}?state=weird")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json::<Value>().await.unwrap()["message"], "Validation Failed");
    server.shutdown().await;
}

#[tokio::test]
async fn cursor_offset_and_bodylink_variants_cover_every_issue_once() {
    let server = server(250).await;
    let client = Client::new();
    let url = server.url();
    let expected: Vec<u64> = (1..=250).collect();

    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.get(format!("{url}/cursor{REPO}")).query(&[("limit", "100")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        all.extend(numbers(page["items"].as_array().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(all, expected);

    let mut all = Vec::new();
    for offset in (0..).step_by(100) {
        let page: Value = client
            .get(format!("{url}/offset{REPO}?limit=100&offset={offset}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let issues = page["issues"].as_array().unwrap();
        if issues.is_empty() {
            break;
        }
        all.extend(numbers(issues));
    }
    assert_eq!(all, expected);

    let mut all = Vec::new();
    let mut next = Some(format!("{url}/bodylink{REPO}?per_page=100"));
    let mut pages = 0;
    while let Some(current) = next {
        let page: Value = client.get(&current).send().await.unwrap().json().await.unwrap();
        all.extend(numbers(page["data"].as_array().unwrap()));
        next = page["links"]["next"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!((all, pages), (expected, 3));

    // since works the same way on the variants.
    let page: Value = client
        .get(format!("{url}/offset{REPO}?since=2024-01-01T04:00:00Z"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(numbers(page["issues"].as_array().unwrap()), (240..=250).collect::<Vec<_>>());
    let bad = client.get(format!("{url}/cursor{REPO}?cursor=nope")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn bearer_token_is_checked() {
    let server = MockProvider::builder().issues(5).token("secret-token").start().await.unwrap();
    let client = Client::new();
    let url = format!("{}/user", server.url());
    let missing = client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.json::<Value>().await.unwrap()["message"], "Bad credentials");
    let wrong = client.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let user: Value = client.get(&url).bearer_auth("secret-token").send().await.unwrap().json().await.unwrap();
    assert_eq!(user, json!({"login": "octocat", "id": 1}));
    let github_style = client.get(&url).header("authorization", "token secret-token").send().await.unwrap();
    assert_eq!(github_style.status(), StatusCode::OK);
    let stats = server.stats();
    assert_eq!((stats.requests, stats.unauthorized, stats.served_ok), (4, 2, 2));
    server.shutdown().await;
}

#[tokio::test]
async fn oauth_refresh_then_expire() {
    let server =
        MockProvider::builder().issues(5).token("initial").oauth("client", "shh", "refresh-0").start().await.unwrap();
    let client = Client::new();
    let user = format!("{}/user", server.url());
    let token_url = format!("{}/login/oauth/access_token", server.url());
    let status = |token: String| {
        let request = client.get(&user).bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status("initial".into()).await, StatusCode::OK);

    let bad = client
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&refresh_token=wrong&client_id=client&client_secret=shh")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"], "bad_refresh_token");

    let form = client
        .post(&token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=refresh_token&refresh_token=refresh-0&client_id=client&client_secret=shh")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let tokens: Value = form.json().await.unwrap();
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["token_type"], "bearer");
    let first = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(status(first.clone()).await, StatusCode::OK);
    assert_eq!(status("initial".into()).await, StatusCode::OK, "the previous token stays valid until expired");

    server.expire_token();
    assert_eq!(status(first.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status("initial".into()).await, StatusCode::UNAUTHORIZED);

    // A JSON body with the rotated refresh token, and the control endpoint to expire.
    let refreshed: Value = client
        .post(&token_url)
        .json(&json!({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "client", "client_secret": "shh"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = refreshed["access_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(status(second.clone()).await, StatusCode::OK);
    let expired = client.post(format!("{}/_mock/expire-token", server.url())).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::NO_CONTENT);
    assert_eq!(status(second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(server.stats().token_refreshes, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn updates_deletes_and_additions_show_in_listings() {
    let server = server(100).await;
    let client = Client::new();
    let url = server.url().to_string();
    let before: Value = client.get(format!("{url}{REPO}/100")).send().await.unwrap().json().await.unwrap();
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let listed_since = |since: String| {
        let request =
            client.get(format!("{url}{REPO}")).query(&[("state", "all"), ("since", &since), ("per_page", "100")]);
        async move {
            let issues: Vec<Value> = request.send().await.unwrap().json().await.unwrap();
            issues
        }
    };
    assert!(listed_since(since.clone()).await.is_empty());

    // Over HTTP, like a separate process would.
    let updated: Value = client
        .post(format!("{url}/_mock/issues/41"))
        .json(&json!({"title": "Renamed", "state": "closed"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["title"], "Renamed");
    assert_eq!(updated["state"], "closed");
    assert!(updated["updated_at"].as_str().unwrap() > before["updated_at"].as_str().unwrap());
    assert!(updated["updated_at"].as_str().unwrap() >= since.as_str());
    assert_eq!(updated["closed_at"], updated["updated_at"]);
    let changed = listed_since(since.clone()).await;
    assert_eq!(numbers(&changed), [41]);
    assert_eq!(changed[0]["title"], "Renamed");

    // A second update is strictly later than the first.
    let again = server.update_issue(7, IssueUpdate { state: Some(IssueState::Closed), title: None }).unwrap();
    assert!(again["updated_at"].as_str().unwrap() > updated["updated_at"].as_str().unwrap());
    assert_eq!(numbers(&listed_since(since.clone()).await), [41, 7]);

    let deleted = client.delete(format!("{url}/_mock/issues/41")).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(server.delete_issue(1));
    assert!(!server.delete_issue(1));
    assert_eq!(client.get(format!("{url}{REPO}/41")).send().await.unwrap().status(), StatusCode::GONE);
    let added: Value = client
        .post(format!("{url}/_mock/issues"))
        .json(&json!({"count": 3}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(added, json!({"count": 3, "first": 101, "last": 103}));
    assert_eq!(numbers(&listed_since(since).await), [103, 102, 101, 7]);

    let (all, _) = walk_links(&client, format!("{url}{REPO}?state=all&per_page=100&direction=asc")).await;
    let expected: Vec<u64> = (2..=103).filter(|&n| n != 41).collect();
    assert_eq!(all, expected);
    assert_eq!(server.issue_count(), 101);
    assert_eq!(client.get(format!("{url}/_mock/issues/41")).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    let stats: Value = client.get(format!("{url}/_mock/stats")).send().await.unwrap().json().await.unwrap();
    assert!(stats["requests"].as_u64().unwrap() > 0);
    let reset = client.post(format!("{url}/_mock/reset-stats")).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.stats(), Default::default());
    server.shutdown().await;
}

#[tokio::test]
async fn scheduled_mutations_apply_between_two_requests() {
    let server = server(10).await;
    let url = server.url().to_owned();
    let client = Client::new();
    let title = |n: u64| {
        let request = client.get(format!("{url}{REPO}/{n}"));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["title"].clone() }
    };
    // Over HTTP: after two more API requests, rename 3, delete 4 and add two issues.
    let body = json!({"after_requests": 2, "update": {"3": {"title": "Renamed"}}, "delete": [4], "add": 2});
    let scheduled = client.post(format!("{url}/_mock/scheduled")).json(&body).send().await.unwrap();
    assert_eq!(scheduled.status(), StatusCode::NO_CONTENT);
    assert_ne!(title(3).await, "Renamed");
    assert_eq!(server.issue_count(), 10);
    assert_ne!(title(3).await, "Renamed");
    // The third request is answered after the change.
    assert_eq!(title(3).await, "Renamed");
    assert_eq!(server.issue_count(), 11);
    assert_eq!(client.get(format!("{url}{REPO}/4")).send().await.unwrap().status(), StatusCode::GONE);
    // Faults too: from the next request on, every answer is a 500.
    let body = json!({"after_requests": 0, "faults": {"error_rate": 1.0, "max_consecutive": 100}});
    client.post(format!("{url}/_mock/scheduled")).json(&body).send().await.unwrap();
    assert_eq!(client.get(format!("{url}{REPO}/3")).send().await.unwrap().status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bad = client.post(format!("{url}/_mock/scheduled")).json(&json!({"update": {}})).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn a_million_issues_serve_any_page() {
    let server = server(1_000_000).await;
    let client = Client::new();
    let url = server.url();
    let page: Vec<Value> = client
        .get(format!("{url}{REPO}?state=all&direction=asc&per_page=100&page=5000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<u64> = page.iter().map(|issue| issue["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1_000_000 + 499_901..=1_000_000 + 500_000).collect::<Vec<_>>());

    let response = client.get(format!("{url}{REPO}?state=all&per_page=100")).send().await.unwrap();
    let links = links(&response);
    assert_eq!(rel(&links, "last"), Some(format!("{url}{REPO}?state=all&per_page=100&page=10000").as_str()));
    let page: Vec<Value> = response.json().await.unwrap();
    assert_eq!(numbers(&page)[0], 1_000_000);

    // Deep pages of the other variants too, with changes in the overlay.
    server.update_issue(500_000, IssueUpdate::default());
    let page: Value =
        client.get(format!("{url}/offset{REPO}?offset=899999&limit=2")).send().await.unwrap().json().await.unwrap();
    assert_eq!(numbers(page["issues"].as_array().unwrap()), [900_000, 900_001]);
    let page: Vec<Value> = client
        .get(format!("{url}{REPO}?state=closed&sort=updated&direction=desc&per_page=100&page=2000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let closed = numbers(&page);
    assert_eq!(closed.len(), 100);
    assert!(closed.iter().all(|n| n % 3 == 0));
    let distinct: BTreeSet<u64> = closed.iter().copied().collect();
    assert_eq!(distinct.len(), 100);
    server.shutdown().await;
}

/// The value of `name` in the query of `url`.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.replace('+', " ").replace("%20", " "))
    })
}

#[tokio::test]
async fn oauth_authorize_page_then_code_exchange_with_pkce() {
    let callback = "http://127.0.0.1:9/oauth/callback";
    let server = MockProvider::builder()
        .issues(3)
        .oauth_app("client", "shh")
        .redirect_uri(callback)
        .token_lifetime(std::time::Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // S256 of this verifier, as RFC 7636's example computes it.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let authorize = format!(
        "{}/login/oauth/authorize?client_id=client&redirect_uri={callback}&state=st4te&scope=repo&code_challenge={challenge}&code_challenge_method=S256",
        server.url()
    );
    let page = client.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="approve""#) && html.contains(r#"id="deny""#) && html.contains("repo"), "{html}");

    // The form posts the request back with the decision.
    let decide = |decision: &'static str| {
        let form = format!(
            "client_id=client&redirect_uri={}&state=st4te&scope=repo&code_challenge={challenge}&code_challenge_method=S256&decision={decision}",
            callback.replace(':', "%3A").replace('/', "%2F")
        );
        client
            .post(format!("{}/login/oauth/authorize", server.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let denied = decide("deny").await.unwrap();
    assert_eq!(denied.status(), StatusCode::FOUND);
    let location = denied.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(callback), "{location}");
    assert_eq!(query_param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("st4te"));

    let approved = decide("approve").await.unwrap();
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    let code = query_param(&location, "code").unwrap();
    let token_url = format!("{}/login/oauth/access_token", server.url());
    let exchange = |code: &str, verifier: &str, secret: &str| {
        client
            .post(&token_url)
            .header("accept", "application/json")
            .json(&json!({"grant_type": "authorization_code", "code": code, "client_id": "client",
                          "client_secret": secret, "redirect_uri": callback, "code_verifier": verifier}))
            .send()
    };
    let wrong_secret = exchange(&code, verifier, "guess").await.unwrap();
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    let tokens: Value = exchange(&code, verifier, "shh").await.unwrap().json().await.unwrap();
    assert_eq!(tokens["scope"], "repo");
    assert_eq!(tokens["expires_in"], 600);
    let access = tokens["access_token"].as_str().unwrap();
    assert!(tokens["refresh_token"].is_string());
    let issues = client.get(format!("{}{REPO}", server.url())).bearer_auth(access).send().await.unwrap();
    assert_eq!(issues.status(), StatusCode::OK);
    let again: Value = exchange(&code, verifier, "shh").await.unwrap().json().await.unwrap();
    assert_eq!(again["error"], "bad_verification_code", "a code works once");

    // Another redirect URI gets an error page, not a redirect.
    let evil = authorize.replace(callback, "http://evil.example/cb");
    let refused = client.get(&evil).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("not the one registered"));

    // Revoked refresh tokens fail; an HTML token endpoint is there for client tests.
    server.revoke_refresh_tokens();
    let refresh = client
        .post(&token_url)
        .json(&json!({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "client", "client_secret": "shh"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
    server.set_token_endpoint(nango_mock_provider::TokenEndpoint::Html);
    let html = client.post(&token_url).body("grant_type=client_credentials").send().await.unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

/// As GitHub: every GET answer has an `ETag`; a GET naming it in `If-None-Match` gets `304 Not
/// Modified` without a body; a change of an issue of the page changes the tag.
#[tokio::test]
async fn etags_and_if_none_match_answer_304_until_the_page_changes() {
    let server = server(150).await;
    let client = Client::new();
    let page = format!("{}{REPO}?per_page=100&state=all&sort=updated&direction=asc", server.url());
    let first = client.get(&page).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let again = client.get(&page).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag, "the same page, the same tag");

    let same = client.get(&page).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(same.headers()["etag"].to_str().unwrap(), etag);
    assert!(same.headers().contains_key("link"));
    assert!(same.bytes().await.unwrap().is_empty());
    // Weak comparison, lists and `*`, as RFC 9110 says.
    let strong = etag.trim_start_matches("W/");
    for header in [strong.to_owned(), format!("\"other\", {etag}"), "*".to_owned()] {
        let response = client.get(&page).header("if-none-match", header).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }
    let other = client.get(&page).header("if-none-match", "W/\"0\"").send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(server.stats().not_modified, 4);

    // Issue 7 edited: it leaves the first page of this listing (it is now the newest change).
    server.update_issue(7, IssueUpdate { title: Some("edited".into()), ..Default::default() });
    let changed = client.get(&page).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    server.shutdown().await;
}
