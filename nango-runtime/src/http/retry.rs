//! When to retry and how long to wait: the provider's `proxy.retry` settings, rate-limit headers
//! and our own backoff.

use crate::providers::RetryConfig;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use std::time::Duration;

/// Headers most APIs use for the requests left in the window, read even when the provider entry
/// does not name them: throttling on them costs nothing when they are absent.
const REMAINING_HEADERS: [&str; 2] = ["x-ratelimit-remaining", "ratelimit-remaining"];
/// Headers most APIs use for the end of the window (epoch seconds or ms, or seconds from now).
const RESET_HEADERS: [&str; 2] = ["x-ratelimit-reset", "ratelimit-reset"];

/// A rule of `retry.error_code`: `"403"`, `"5xx"`, `"500-502"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatusRule {
    from: u16,
    to: u16,
}

impl StatusRule {
    fn parse(rule: &str) -> Result<StatusRule, String> {
        let rule = rule.trim();
        let bad = || {
            format!(
                "invalid retry.error_code `{rule}`: expected a status (`429`), a class (`5xx`) or a range (`500-502`)"
            )
        };
        let status = |s: &str| s.trim().parse::<u16>().ok().filter(|n| (100..=599).contains(n));
        if let Some(class) = rule.strip_suffix("xx").or_else(|| rule.strip_suffix("XX")) {
            let digit = class.parse::<u16>().ok().filter(|d| (1..=5).contains(d)).ok_or_else(bad)?;
            return Ok(StatusRule { from: digit * 100, to: digit * 100 + 99 });
        }
        if let Some((from, to)) = rule.split_once('-') {
            let (from, to) = (status(from).ok_or_else(bad)?, status(to).ok_or_else(bad)?);
            return if from <= to { Ok(StatusRule { from, to }) } else { Err(bad()) };
        }
        let code = status(rule).ok_or_else(bad)?;
        Ok(StatusRule { from: code, to: code })
    }

    fn matches(&self, status: u16) -> bool {
        (self.from..=self.to).contains(&status)
    }
}

/// The provider's retry settings, parsed once per client.
#[derive(Debug, Clone, Default)]
pub(crate) struct RetryPolicy {
    /// `retry.error_code`; `None` means the default set (5xx and 429).
    rules: Option<Vec<StatusRule>>,
    /// `retry.at` header names, lower case.
    at: Vec<String>,
    /// `retry.after` header names, lower case (`retry-after` is always read as well).
    after: Vec<String>,
    /// `retry.remaining` header name, lower case.
    remaining: Option<String>,
}

/// A wait a response asks for, and the header that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderWait {
    pub wait: Duration,
    pub header: String,
}

impl RetryPolicy {
    pub(crate) fn new(config: Option<&RetryConfig>) -> Result<RetryPolicy, String> {
        let Some(config) = config else { return Ok(RetryPolicy::default()) };
        let lower = |names: &[String]| names.iter().map(|n| n.trim().to_ascii_lowercase()).collect::<Vec<_>>();
        let rules = if config.error_code.is_empty() {
            None
        } else {
            Some(config.error_code.iter().map(|r| StatusRule::parse(r)).collect::<Result<Vec<_>, _>>()?)
        };
        Ok(RetryPolicy {
            rules,
            at: lower(&config.at),
            after: lower(&config.after),
            remaining: config.remaining.as_ref().map(|r| r.trim().to_ascii_lowercase()),
        })
    }

    /// Header names worth keeping when responses are saved for replay.
    pub(crate) fn header_names(&self) -> impl Iterator<Item = &str> {
        self.at.iter().chain(&self.after).chain(&self.remaining).map(String::as_str)
    }

    /// Whether a response with this status is retried: the provider's `error_code` list when it
    /// has one (it replaces the default 5xx + 429), else the default; plus the per-call `extra`
    /// statuses; plus any status when the provider's `remaining` header is `0` (as in Nango).
    ///
    /// The common `x-ratelimit-remaining` / `ratelimit-remaining` headers, read even when the
    /// provider does not name them, only make a 403 or a 429 retryable: the request that uses the
    /// last unit of a window gets its normal answer with `remaining: 0`, and a 404 or 422 then is
    /// a real one, not a rate limit to wait out.
    pub(crate) fn is_retryable(&self, status: u16, extra: &[u16], headers: &HeaderMap) -> bool {
        // A 401 is about the credentials: the auth layer refreshes them once and retries; sent
        // again as they are, the request only delays the error (Nango's lists name 401, and
        // Nango retries it).
        let listed = match &self.rules {
            Some(rules) => status != 401 && rules.iter().any(|r| r.matches(status)),
            None => status >= 500 || status == 429,
        };
        let configured_exhausted = self.remaining.as_deref().is_some_and(|name| is_zero(headers, name));
        listed
            || extra.contains(&status)
            || configured_exhausted
            || (matches!(status, 403 | 429) && self.exhausted(headers).is_some())
    }

    /// The header saying no request is left in the window (`x-ratelimit-remaining: 0`), if any.
    pub(crate) fn exhausted(&self, headers: &HeaderMap) -> Option<String> {
        self.remaining
            .iter()
            .map(String::as_str)
            .chain(REMAINING_HEADERS)
            .find(|name| is_zero(headers, name))
            .map(str::to_owned)
    }

    /// The wait the response asks for before the next request: the longest of `Retry-After` and
    /// the provider's `after` headers (seconds or an HTTP date) and, when the response is a rate
    /// limit (429, or no request left), the reset headers (`at` and `x-ratelimit-reset`: a time).
    ///
    /// Reset headers are not read on other errors because providers such as GitHub send the reset
    /// of the current window on every response: a 500 would otherwise wait for up to an hour.
    pub(crate) fn header_wait(&self, status: u16, headers: &HeaderMap, now: DateTime<Utc>) -> Option<HeaderWait> {
        let rate_limited = status == 429 || self.exhausted(headers).is_some();
        let after = std::iter::once("retry-after").chain(self.after.iter().map(String::as_str)).map(|h| (h, false));
        let at = self.reset_names().map(|h| (h, true)).filter(|_| rate_limited);
        after
            .chain(at)
            .filter_map(|(name, is_reset)| {
                let value = headers.get(name)?.to_str().ok()?;
                let wait = if is_reset { parse_reset(value, now) } else { parse_retry_after(value, now) }?;
                Some(HeaderWait { wait, header: name.to_owned() })
            })
            .filter(|w| !w.wait.is_zero())
            .max_by_key(|w| w.wait)
    }

    /// When the window ends, if the response says no request is left in it: the next request
    /// waits that long (proactive throttling, which Nango does not do).
    pub(crate) fn throttle(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Option<HeaderWait> {
        let exhausted = self.exhausted(headers)?;
        self.reset_names()
            .filter_map(|name| {
                let wait = parse_reset(headers.get(name)?.to_str().ok()?, now)?;
                Some(HeaderWait { wait, header: format!("{exhausted}: 0, {name}") })
            })
            .filter(|w| !w.wait.is_zero())
            .max_by_key(|w| w.wait)
    }

    fn reset_names(&self) -> impl Iterator<Item = &str> {
        self.at.iter().map(String::as_str).chain(RESET_HEADERS)
    }
}

fn is_zero(headers: &HeaderMap, name: &str) -> bool {
    headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "0")
}

/// `Retry-After`-style value: seconds (fractions allowed) or an HTTP date. Nango reads only the
/// seconds form; the date form is in RFC 9110 and some APIs send it.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    until(parse_date(value)?, now)
}

/// Reset-style value: a number is epoch milliseconds above 10^11 (year 1973 in seconds, so no
/// real reset in seconds is that large), epoch seconds above 10^9, and otherwise seconds from now
/// (the IETF `RateLimit-Reset` form); anything else is read as a date.
pub(crate) fn parse_reset(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(n) = value.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        let at = if n > 1e11 {
            DateTime::from_timestamp_millis(n as i64)?
        } else if n >= 1e9 {
            DateTime::from_timestamp_millis((n * 1000.0) as i64)?
        } else {
            return Duration::try_from_secs_f64(n).ok();
        };
        return until(at, now);
    }
    until(parse_date(value)?, now)
}

fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    // IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is an RFC 2822 date; RFC 3339 for APIs that
    // send ISO timestamps.
    DateTime::parse_from_rfc2822(value)
        .or_else(|_| DateTime::parse_from_rfc3339(value))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Time from `now` to `at`; zero when `at` is past.
fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Option<Duration> {
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Our own backoff: exponential from `min` doubling up to `max`, with backon's jitter (a random
/// extra of up to the current delay), never above `max`.
pub(crate) struct Backoff {
    inner: ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        let inner = ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max.max(min))
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        Backoff { inner, max: max.max(min) }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        self.inner.next().unwrap_or(self.max).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn policy(error_code: &[&str]) -> RetryPolicy {
        let config = RetryConfig {
            at: vec!["X-Reset".into()],
            after: vec!["x-wait".into()],
            remaining: Some("x-left".into()),
            error_code: error_code.iter().map(|s| s.to_string()).collect(),
        };
        RetryPolicy::new(Some(&config)).unwrap()
    }

    #[test]
    fn error_codes_replace_the_default_set() {
        let none = HeaderMap::new();
        let default = RetryPolicy::default();
        assert!(default.is_retryable(500, &[], &none) && default.is_retryable(429, &[], &none));
        assert!(!default.is_retryable(403, &[], &none) && !default.is_retryable(401, &[], &none));
        assert!(default.is_retryable(409, &[409], &none));

        let p = policy(&["403", "500-502", "4xx"]);
        assert!(p.is_retryable(403, &[], &none) && p.is_retryable(501, &[], &none) && p.is_retryable(418, &[], &none));
        assert!(!p.is_retryable(503, &[], &none));
        assert!(p.is_retryable(503, &[], &headers(&[("x-left", "0")])));
        assert!(!p.is_retryable(503, &[], &headers(&[("x-ratelimit-remaining", "0")])));
        assert!(!default.is_retryable(404, &[], &headers(&[("x-ratelimit-remaining", "0")])));
        assert!(default.is_retryable(403, &[], &headers(&[("x-ratelimit-remaining", "0")])));
        assert!(p.is_retryable(404, &[], &headers(&[("x-left", "0")])));
        assert!(!p.is_retryable(503, &[], &headers(&[("x-left", "3")])));

        for bad in ["6xx", "abc", "502-500", "1000"] {
            let config = RetryConfig { error_code: vec![bad.into()], ..RetryConfig::default() };
            assert!(RetryPolicy::new(Some(&config)).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn header_values() {
        let now = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let secs = now.timestamp();
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("0.5", now), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 01 Jan 2025 00:00:05 GMT", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Tue, 31 Dec 2024 23:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_reset(&(secs + 90).to_string(), now), Some(Duration::from_secs(90)));
        assert_eq!(parse_reset(&(secs * 1000 + 1500).to_string(), now), Some(Duration::from_millis(1500)));
        assert_eq!(parse_reset("42", now), Some(Duration::from_secs(42)));
        assert_eq!(parse_reset(&(secs - 10).to_string(), now), Some(Duration::ZERO));
        assert_eq!(parse_reset("2025-01-01T00:01:00Z", now), Some(Duration::from_secs(60)));
    }

    #[test]
    fn longest_wait_wins_and_resets_count_only_for_rate_limits() {
        let now = Utc::now();
        let p = policy(&[]);
        let reset = (now.timestamp() + 120).to_string();
        let h = headers(&[("retry-after", "5"), ("x-wait", "7"), ("x-reset", &reset)]);
        assert_eq!(p.header_wait(503, &h, now).unwrap().header, "x-wait");
        let w = p.header_wait(429, &h, now).unwrap();
        assert_eq!(w.header, "x-reset");
        assert!(w.wait > Duration::from_secs(118), "{w:?}");
        let h = headers(&[("x-ratelimit-reset", &reset), ("x-ratelimit-remaining", "0")]);
        assert_eq!(p.header_wait(403, &h, now).unwrap().header, "x-ratelimit-reset");
        assert!(p.throttle(&h, now).is_some());
        let h = headers(&[("x-ratelimit-reset", &reset), ("x-ratelimit-remaining", "12")]);
        assert_eq!(p.header_wait(500, &h, now), None);
        assert_eq!(p.throttle(&h, now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(10) && first <= Duration::from_millis(20), "{first:?}");
        for _ in 0..10 {
            assert!(b.next_delay() <= Duration::from_millis(50));
        }
    }
}
