//! Webhooks over real HTTP on loopback: the bytes and headers a receiver gets, retries, and the
//! axum extractor receivers verify with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{TimeDelta, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use nango_runtime::webhooks::{
    self, ChangeCounts, SyncErrorInfo, SyncIdentity, SyncWebhook, VerifiedWebhook, WebhookError, WebhookSender,
    WebhookSyncType, WebhookVerifier,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

const KEY: &str = "whsec-test-key";

/// What the receiver got: one entry per request.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn requests(&self, path: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }
}

/// Records the request, then answers with the status scripted for its path and how many
/// requests that path had.
async fn record(State(rx): State<Receiver>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let path = uri.path().to_owned();
    let count = {
        let mut received = rx.received.lock().unwrap();
        received.push(Received { path: path.clone(), headers, body });
        received.iter().filter(|r| r.path == path).count()
    };
    match (path.as_str(), count) {
        ("/flaky", 1 | 2) => StatusCode::INTERNAL_SERVER_ERROR,
        ("/bad", _) => StatusCode::BAD_REQUEST,
        ("/moved", _) => StatusCode::FOUND,
        ("/down", _) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn receiver() -> (String, Receiver) {
    let rx = Receiver::default();
    let app = Router::new()
        .route("/ok", post(record))
        .route("/flaky", post(record))
        .route("/bad", post(record))
        .route("/moved", post(record))
        .route("/down", post(record))
        .with_state(rx.clone());
    (serve(app).await, rx)
}

fn sender(urls: Vec<String>) -> WebhookSender {
    WebhookSender::new(urls, Some(KEY.to_owned())).min_delay(Duration::from_millis(10)).timeout(Duration::from_secs(5))
}

fn success_payload() -> SyncWebhook {
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
    SyncWebhook::success(
        SyncIdentity::new("c1", "github", "issues", "GithubIssue"),
        WebhookSyncType::Incremental,
        at,
        ChangeCounts { added: 3, updated: 1, deleted: 0 },
    )
    .with_checkpoints(None, Some(serde_json::json!({"page": 4, "after": "x"})))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

#[tokio::test]
async fn delivers_key_sorted_compact_json_with_independently_checkable_signatures() {
    let (base, rx) = receiver().await;
    let before = Utc::now();
    let attempts = sender(vec![format!("{base}/ok")]).deliver(&success_payload()).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].attempt, attempts[0].status, attempts[0].error.as_deref()), (1, Some(200), None));

    let got = rx.requests("/ok");
    assert_eq!(got.len(), 1);
    let body = std::str::from_utf8(&got[0].body).unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"checkpoints":{"from":null,"to":{"after":"x","page":4}},"connectionId":"c1","from":"nango","#,
            r#""model":"GithubIssue","modifiedAfter":"2026-01-02T10:00:00.000Z","providerConfigKey":"github","#,
            r#""queryTimeStamp":"2026-01-02T10:00:00.000Z","responseResults":{"added":3,"deleted":0,"updated":1},"#,
            r#""success":true,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}"#
        )
    );
    assert_eq!(got[0].body.as_ref(), webhooks::serialize_body(&success_payload()).as_slice());

    let headers = &got[0].headers;
    assert_eq!(header(headers, "content-type"), "application/json");
    assert!(header(headers, "user-agent").starts_with("nango-rs/"), "{headers:?}");

    // HMAC-SHA256(key, body), computed here without the crate's helpers.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(&got[0].body);
    assert_eq!(header(headers, "x-nango-hmac-sha256"), hex(&mac.finalize().into_bytes()));

    // Legacy: SHA-256(key ‖ body).
    let mut concat = KEY.as_bytes().to_vec();
    concat.extend_from_slice(&got[0].body);
    assert_eq!(header(headers, "x-nango-signature"), hex(&Sha256::digest(&concat)));

    // Timestamped: t=<now>,v1=HMAC(key, "<t>." || body).
    let stamped = header(headers, "x-nango-rs-signature");
    let (t, v1) = stamped.split_once(',').unwrap();
    let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    assert!(t >= before.timestamp() && t <= Utc::now().timestamp(), "t={t}");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&got[0].body);
    assert_eq!(v1, format!("v1={}", hex(&mac.finalize().into_bytes())));

    let five_min = Duration::from_secs(300);
    webhooks::verify_hmac(KEY, &got[0].body, header(headers, "x-nango-hmac-sha256")).unwrap();
    webhooks::verify_timestamped(KEY, &got[0].body, stamped, Utc::now(), five_min).unwrap();
    let later = Utc::now() + TimeDelta::seconds(301 + 5);
    let stale = webhooks::verify_timestamped(KEY, &got[0].body, stamped, later, five_min).unwrap_err();
    assert!(matches!(stale, WebhookError::TooOld { tolerance_secs: 300, .. }), "{stale:?}");
    assert!(stale.to_string().contains("too old by"), "{stale}");
    let earlier = Utc::now() - TimeDelta::seconds(400);
    let future = webhooks::verify_timestamped(KEY, &got[0].body, stamped, earlier, five_min).unwrap_err();
    assert!(matches!(future, WebhookError::InFuture { .. }), "{future:?}");
    assert!(matches!(
        webhooks::verify_timestamped("other-key", &got[0].body, stamped, Utc::now(), five_min),
        Err(WebhookError::Mismatch { .. })
    ));
}

#[test]
fn error_payload_has_nangos_error_fields_only() {
    let started = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
    let failed = started + TimeDelta::milliseconds(5_250);
    let hook = SyncWebhook::error(
        SyncIdentity::new("c1", "github", "issues", "GithubIssue").variant("eu"),
        WebhookSyncType::Initial,
        SyncErrorInfo::new("script_http_error", "GET /issues returned 500"),
        started,
        failed,
    );
    let body = webhooks::serialize_body(&hook);
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        concat!(
            r#"{"connectionId":"c1","error":{"description":"GET /issues returned 500","type":"script_http_error"},"#,
            r#""failedAt":"2026-01-02T10:00:05.250Z","from":"nango","model":"GithubIssue","providerConfigKey":"github","#,
            r#""startedAt":"2026-01-02T10:00:00.000Z","success":false,"syncName":"issues","syncType":"INITIAL","#,
            r#""syncVariant":"eu","type":"sync"}"#
        )
    );
    let back: SyncWebhook = serde_json::from_slice(&body).unwrap();
    assert_eq!(back, hook);
}

#[test]
fn header_errors_say_what_is_wrong() {
    let body = b"{}";
    let err = webhooks::verify_hmac(KEY, body, "abc").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid X-Nango-Hmac-Sha256 header: expected 64 hex digits (HMAC-SHA256), got 3 characters"
    );
    let err = webhooks::verify_hmac(KEY, body, &"g".repeat(64)).unwrap_err();
    assert!(err.to_string().contains("not hexadecimal"), "{err}");
    // Upper-case hex is the same signature.
    let signed = webhooks::sign(KEY, body, Utc::now());
    webhooks::verify_hmac(KEY, body, &signed.hmac_sha256.to_uppercase()).unwrap();

    let now = Utc::now();
    let tol = Duration::from_secs(300);
    let err = webhooks::verify_timestamped(KEY, body, "v1=00", now, tol).unwrap_err();
    assert!(err.to_string().contains("expected 64 hex digits"), "{err}");
    let err = webhooks::verify_timestamped(KEY, body, &format!("v1={}", "0".repeat(64)), now, tol).unwrap_err();
    assert!(err.to_string().contains("no t=<unix seconds> item"), "{err}");
    let err = webhooks::verify_timestamped(KEY, body, "t=12", now, tol).unwrap_err();
    assert!(err.to_string().contains("no v1=<hex> item"), "{err}");
    let err = webhooks::verify_timestamped(KEY, body, "t=soon,v1=", now, tol).unwrap_err();
    assert!(matches!(err, WebhookError::InvalidHeader { .. }), "{err:?}");

    // Several v1 (a rotated key) and unknown schemes are accepted.
    let good = signed.timestamped.split_once(',').unwrap().1.to_owned();
    let t = signed.timestamped.split_once(',').unwrap().0.to_owned();
    let rotated = format!("{t},v1={},v0=whatever,{good}", "0".repeat(64));
    webhooks::verify_timestamped(KEY, body, &rotated, now, tol).unwrap();
}

#[tokio::test]
async fn retries_5xx_until_success() {
    let (base, rx) = receiver().await;
    let attempts = sender(vec![format!("{base}/flaky")]).deliver(&success_payload()).await;
    let summary: Vec<_> = attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(summary, [(1, Some(500)), (2, Some(500)), (3, Some(200))]);
    assert!(attempts[0].error.as_deref().unwrap().starts_with("500 Internal Server Error"), "{attempts:?}");
    assert!(attempts[2].succeeded() && attempts[2].error.is_none());
    assert!(attempts.windows(2).all(|w| w[0].at <= w[1].at));
    // Every retry carries the same bytes and a valid HMAC.
    let got = rx.requests("/flaky");
    assert_eq!(got.len(), 3);
    for r in &got {
        assert_eq!(r.body, got[0].body);
        webhooks::verify_hmac(KEY, &r.body, header(&r.headers, "x-nango-hmac-sha256")).unwrap();
    }
    // Serialisable for the run history.
    let stored = serde_json::to_value(&attempts).unwrap();
    assert_eq!(stored[2]["status"], 200);
    assert!(stored[0]["duration_ms"].is_u64());
}

#[tokio::test]
async fn does_not_retry_4xx_or_3xx_and_gives_up_after_the_retries() {
    let (base, rx) = receiver().await;
    let urls = vec![format!("{base}/bad"), format!("{base}/moved"), format!("{base}/down"), format!("{base}/ok")];
    let attempts = sender(urls.clone()).retries(2).deliver(&success_payload()).await;
    let summary: Vec<_> = attempts.iter().map(|a| (a.url.as_str(), a.attempt, a.status)).collect();
    assert_eq!(
        summary,
        [
            (urls[0].as_str(), 1, Some(400)),
            (urls[1].as_str(), 1, Some(302)),
            (urls[2].as_str(), 1, Some(503)),
            (urls[2].as_str(), 2, Some(503)),
            (urls[2].as_str(), 3, Some(503)),
            (urls[3].as_str(), 1, Some(200)),
        ]
    );
    assert_eq!(rx.requests("/bad").len(), 1);
    // Redirects are not followed: the signed body goes nowhere else.
    assert_eq!(rx.requests("/moved").len(), 1);
    assert_eq!(rx.requests("/ok").len(), 1);
}

#[tokio::test]
async fn a_receiver_that_is_down_is_retried_then_recorded_without_panicking() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}/hook");
    let attempts = sender(vec![url.clone()]).retries(2).deliver(&success_payload()).await;
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!((a.url.as_str(), a.attempt, a.status), (url.as_str(), i as u32 + 1, None));
        assert!(a.error.as_deref().unwrap().contains("connect"), "{a:?}");
    }

    // A URL reqwest cannot use is recorded once: retrying would not help.
    let attempts = sender(vec!["not a url".into()]).deliver(&success_payload()).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(attempts[0].error.is_some());

    // No URL, nothing to do.
    assert!(sender(vec![]).deliver(&success_payload()).await.is_empty());
}

#[tokio::test]
async fn without_a_key_no_signature_is_sent() {
    let (base, rx) = receiver().await;
    let attempts = WebhookSender::new(vec![format!("{base}/ok")], None).deliver(&success_payload()).await;
    assert!(attempts[0].succeeded());
    let got = rx.requests("/ok");
    for name in ["x-nango-hmac-sha256", "x-nango-signature", "x-nango-rs-signature"] {
        assert!(got[0].headers.get(name).is_none(), "{name}");
    }
}

async fn on_hook(VerifiedWebhook(hook): VerifiedWebhook<SyncWebhook>) -> String {
    format!("{} +{}", hook.model, hook.response_results.map_or(0, |r| r.added))
}

async fn extractor_app(verifier: WebhookVerifier) -> String {
    serve(Router::new().route("/hook", post(on_hook)).with_state(verifier)).await
}

async fn post_raw(url: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, Value, String) {
    let mut request = reqwest::Client::new().post(url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

#[tokio::test]
async fn the_extractor_accepts_signed_requests_and_rejects_the_rest() {
    let base = extractor_app(WebhookVerifier::new(KEY)).await;
    let url = format!("{base}/hook");

    // End to end: the sender's request passes.
    let attempts = sender(vec![url.clone()]).deliver(&success_payload()).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, Some(200), "{attempts:?}");

    let body = webhooks::serialize_body(&success_payload());
    let signed = webhooks::sign(KEY, &body, Utc::now());
    let all = signed.pairs();
    let (status, _, text) = post_raw(&url, &body, &all).await;
    assert_eq!((status, text.as_str()), (200, "GithubIssue +3"));

    // Nango's own header alone is enough by default (Nango sends no timestamp).
    let (status, _, _) = post_raw(&url, &body, &all[..1]).await;
    assert_eq!(status, 200);

    // A tampered body.
    let tampered = String::from_utf8(body.clone()).unwrap().replace("\"added\":3", "\"added\":300");
    let (status, json, _) = post_raw(&url, tampered.as_bytes(), &all).await;
    assert_eq!(status, 401);
    assert_eq!(json["error"]["code"], "invalid_signature");
    assert!(json["error"]["message"].as_str().unwrap().contains("X-Nango-Hmac-Sha256"), "{json}");

    // No signature.
    let (status, json, _) = post_raw(&url, &body, &[]).await;
    assert_eq!((status, json["error"]["code"].as_str()), (401, Some("missing_signature")));

    // A replay: valid signatures, timestamp 10 minutes old.
    let old = webhooks::sign(KEY, &body, Utc::now() - TimeDelta::minutes(10));
    let (status, json, _) = post_raw(&url, &body, &old.pairs()).await;
    assert_eq!((status, json["error"]["code"].as_str()), (401, Some("stale_signature")), "{json}");

    // Correctly signed, but not JSON of the expected shape.
    let bad = br#"{"from":"nango","type":"sync"#;
    let sig = webhooks::sign(KEY, bad, Utc::now());
    let (status, json, _) = post_raw(&url, bad, &sig.pairs()).await;
    assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_json")), "{json}");
    let wrong = br#"{"from":"nango","type":"sync","connectionId":7}"#;
    let sig = webhooks::sign(KEY, wrong, Utc::now());
    let (status, json, _) = post_raw(&url, wrong, &sig.pairs()).await;
    assert_eq!(status, 400);
    assert!(json["error"]["message"].as_str().unwrap().starts_with("connectionId: invalid type"), "{json}");
}

#[tokio::test]
async fn the_extractor_can_require_the_timestamp_and_limit_the_body() {
    let base = extractor_app(WebhookVerifier::new(KEY).require_timestamp(true).body_limit(64)).await;
    let url = format!("{base}/hook");
    let small = br#"{"a":1}"#;
    let signed = webhooks::sign(KEY, small, Utc::now());
    // Only Nango's header: refused, a replay could have stripped ours.
    let (status, json, _) = post_raw(&url, small, &signed.pairs()[..1]).await;
    assert_eq!(status, 401);
    assert_eq!(json["error"]["message"], "missing X-Nango-Rs-Signature header");

    let big = webhooks::serialize_body(&success_payload());
    let signed = webhooks::sign(KEY, &big, Utc::now());
    let (status, json, _) = post_raw(&url, &big, &signed.pairs()).await;
    assert_eq!((status, json["error"]["code"].as_str()), (413, Some("body_too_large")));
}
