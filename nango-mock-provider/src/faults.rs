//! Injected faults: what they are, how a request draws one, and the responses they produce.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::issue::mix;

/// How a 429 response says when to retry: the `Retry-After` header holds either a number of
/// seconds or an HTTP date that many seconds from now.
///
/// In JSON (for `PUT /_mock/faults`): `{"seconds": 1}` or `{"http_date": 2}`.
///
/// ```
/// use nango_mock_provider::RetryAfter;
///
/// let json = serde_json::to_string(&RetryAfter::HttpDate(2)).unwrap();
/// assert_eq!(json, r#"{"http_date":2}"#);
/// assert_eq!(RetryAfter::default(), RetryAfter::Seconds(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// `Retry-After: 1`
    Seconds(u64),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`, this many seconds from now.
    HttpDate(u64),
}

impl Default for RetryAfter {
    fn default() -> Self {
        RetryAfter::Seconds(1)
    }
}

impl RetryAfter {
    fn seconds(self) -> u64 {
        match self {
            RetryAfter::Seconds(seconds) | RetryAfter::HttpDate(seconds) => seconds,
        }
    }
}

/// The faults a server injects into the API endpoints (the issue listings, single issues and
/// `/user`; never `/_mock/...` nor the OAuth token endpoint).
///
/// Each request draws one number from a pseudo-random sequence seeded by `seed` (the sequence
/// restarts when faults are set), which picks at most one fault with the given shares: a 500 with a
/// JSON body, a 429 with `Retry-After`, a 502 HTML page, a connection dropped after the status,
/// headers and part of the body, or a 200 whose JSON is cut short (with a matching
/// `Content-Length`). The same request (method, path and query) never gets more than
/// `max_consecutive` faults in a row, so retries always get through. `latency` delays every API
/// response, faulty or not. Shares are clamped to `0.0..=1.0` and taken in the order of the fields.
/// Drops and truncations only hit successful responses (a request drawn for one that gets a 404 or
/// a 422 is answered normally); a 401 comes before any fault.
///
/// In JSON every field is optional, `latency` is `latency_ms`:
/// `{"error_rate":0.1,"rate_limit_rate":0.05,"retry_after":{"seconds":1},"drop_rate":0.05,"latency_ms":0,"seed":7}`.
///
/// ```
/// use std::time::Duration;
/// use nango_mock_provider::{Faults, RetryAfter};
///
/// let faults = Faults { error_rate: 0.1, retry_after: RetryAfter::HttpDate(2), latency: Duration::from_millis(5), ..Faults::default() };
/// let json = serde_json::to_value(&faults).unwrap();
/// assert_eq!(json["latency_ms"], 5);
/// let back: Faults = serde_json::from_str(r#"{"error_rate": 0.1, "retry_after": {"http_date": 2}, "latency_ms": 5}"#).unwrap();
/// assert_eq!(back, faults);
/// assert!(Faults::default().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share of requests answered `500 {"message": "..."}`.
    pub error_rate: f64,
    /// Share of requests answered `429` with `Retry-After`, `x-ratelimit-remaining: 0` and
    /// `x-ratelimit-reset`.
    pub rate_limit_rate: f64,
    /// The `Retry-After` of those 429s.
    pub retry_after: RetryAfter,
    /// Share of requests whose connection is dropped mid-body.
    pub drop_rate: f64,
    /// Share of requests answered by a `502 Bad Gateway` HTML page.
    pub html_error_rate: f64,
    /// Share of requests answered `200` with truncated JSON.
    pub malformed_rate: f64,
    /// Delay added to every API response.
    #[serde(rename = "latency_ms", with = "millis")]
    pub latency: Duration,
    /// Seed of the fault sequence.
    pub seed: u64,
    /// At most this many faults in a row for the same request; the next try is served normally.
    pub max_consecutive: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            retry_after: RetryAfter::default(),
            drop_rate: 0.0,
            html_error_rate: 0.0,
            malformed_rate: 0.0,
            latency: Duration::ZERO,
            seed: 0,
            max_consecutive: 3,
        }
    }
}

impl Faults {
    /// Whether these faults change nothing: no shares and no latency.
    pub fn is_none(&self) -> bool {
        self.rates().iter().all(|&(rate, _)| rate <= 0.0) && self.latency.is_zero()
    }

    fn rates(&self) -> [(f64, Fault); 5] {
        [
            (self.error_rate, Fault::ServerError),
            (self.rate_limit_rate, Fault::RateLimited),
            (self.html_error_rate, Fault::BadGateway),
            (self.drop_rate, Fault::Drop),
            (self.malformed_rate, Fault::Malformed),
        ]
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    ServerError,
    RateLimited,
    BadGateway,
    Drop,
    Malformed,
}

/// The faults in force and where their sequence is.
#[derive(Debug)]
pub(crate) struct FaultState {
    faults: Faults,
    draws: u64,
    /// Faults in a row per request (method, path and query).
    streaks: HashMap<String, u32>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> Self {
        FaultState { faults, draws: 0, streaks: HashMap::new() }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Replaces the faults and restarts their sequence.
    pub(crate) fn set(&mut self, faults: Faults) {
        *self = FaultState::new(faults);
    }

    /// The fault for the next request, identified by `key`.
    pub(crate) fn draw(&mut self, key: &str) -> Option<Fault> {
        let draw = mix(self.faults.seed ^ mix(self.draws));
        self.draws += 1;
        let mut point = (draw >> 11) as f64 / (1u64 << 53) as f64;
        let mut fault = None;
        for (rate, kind) in self.faults.rates() {
            let rate = if rate.is_nan() { 0.0 } else { rate.clamp(0.0, 1.0) };
            if point < rate {
                fault = Some(kind);
                break;
            }
            point -= rate;
        }
        let streak = self.streaks.get(key).copied().unwrap_or(0);
        if fault.is_some() && streak < self.faults.max_consecutive {
            if self.streaks.len() >= 10_000 {
                self.streaks.clear();
            }
            self.streaks.insert(key.to_string(), streak + 1);
            fault
        } else {
            self.streaks.remove(key);
            None
        }
    }
}

pub(crate) const DOCS: &str = "https://docs.github.com/rest";

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}

/// `500` with a GitHub-like JSON body.
pub(crate) fn server_error() -> Response {
    json(StatusCode::INTERNAL_SERVER_ERROR, &serde_json::json!({"message": "Server Error", "documentation_url": DOCS}))
}

/// `429` with `Retry-After` and GitHub's rate limit headers.
pub(crate) fn rate_limited(retry_after: RetryAfter) -> Response {
    let now = chrono::Utc::now();
    // At most ten years ahead, which keeps the date arithmetic in range.
    let reset = now + chrono::TimeDelta::seconds(retry_after.seconds().min(315_360_000) as i64);
    let value = match retry_after {
        RetryAfter::Seconds(seconds) => seconds.to_string(),
        RetryAfter::HttpDate(_) => reset.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    };
    let mut response = json(
        StatusCode::TOO_MANY_REQUESTS,
        &serde_json::json!({
            "message": "API rate limit exceeded. (But here's the good news: authenticated requests get a higher rate limit.)",
            "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
        }),
    );
    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("retry-after", value);
    put("x-ratelimit-limit", "5000".into());
    put("x-ratelimit-remaining", "0".into());
    put("x-ratelimit-used", "5000".into());
    put("x-ratelimit-reset", reset.timestamp().to_string());
    put("x-ratelimit-resource", "core".into());
    response
}

/// `502` with an HTML page, as a proxy in front of an API would send.
pub(crate) fn bad_gateway() -> Response {
    bad_gateway_page(StatusCode::BAD_GATEWAY)
}

/// The 502 page of [`bad_gateway`], with another status (a token endpoint answering HTML).
pub(crate) fn bad_gateway_page(status: StatusCode) -> Response {
    let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

/// The same response, but its connection is dropped after the headers and part of the body: the
/// headers announce the full length, the body stream sends a part, waits a little so that it goes
/// out, and fails, which makes hyper abort the connection.
pub(crate) fn dropped(response: Response, body: Bytes) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let part = body.slice(..body.len() / 2);
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let part = part.clone();
        async move {
            match step {
                0 => Some((Ok(part), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Some((Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "injected drop")), 2))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The same response with its body cut to two thirds (and a `Content-Length` that matches).
pub(crate) fn malformed(response: Response, body: Bytes) -> Response {
    let (mut parts, _) = response.into_parts();
    let cut = body.slice(..body.len() * 2 / 3);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(cut.len()));
    Response::from_parts(parts, Body::from(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_roughly_respected() {
        let mut state = FaultState::new(Faults { error_rate: 0.2, drop_rate: 0.1, seed: 7, ..Faults::default() });
        let draws: Vec<_> = (0..10_000).map(|i| state.draw(&i.to_string())).collect();
        let errors = draws.iter().filter(|f| **f == Some(Fault::ServerError)).count();
        let drops = draws.iter().filter(|f| **f == Some(Fault::Drop)).count();
        assert!((1800..2200).contains(&errors), "{errors}");
        assert!((850..1150).contains(&drops), "{drops}");
    }

    #[test]
    fn a_request_is_never_faulted_forever() {
        let mut state = FaultState::new(Faults { error_rate: 1.0, ..Faults::default() });
        let draws: Vec<_> = (0..8).map(|_| state.draw("GET /user")).collect();
        assert_eq!(draws, [Some(Fault::ServerError); 3].into_iter().chain([None]).cycle().take(8).collect::<Vec<_>>());
    }
}
