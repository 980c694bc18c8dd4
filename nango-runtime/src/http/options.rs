//! [`HttpOptions`], [`RateLimit`] and [`HttpStats`].

use std::path::PathBuf;
use std::time::Duration;

/// How an [`HttpClient`](super::HttpClient) retries, waits and records.
///
/// The defaults retry where Nango does not (its `retries` default is 0): 5 retries with
/// exponential backoff from 500 ms to 60 s, provider-requested waits up to 10 minutes, 30 s per
/// request.
///
/// ```
/// use nango_runtime::http::{HttpOptions, RateLimit};
/// use std::time::Duration;
///
/// let options = HttpOptions::default()
///     .max_retries(3)
///     .min_delay(Duration::from_millis(100))
///     .rate_limit(RateLimit::per_second(10).burst(20));
/// assert_eq!(options.max_retries, 3);
/// assert_eq!(options.timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Retries after the first attempt (default 5).
    pub max_retries: u32,
    /// First backoff delay (default 500 ms); each retry doubles it, with jitter.
    pub min_delay: Duration,
    /// Cap of the client's own backoff (default 60 s).
    pub max_delay: Duration,
    /// Cap of waits the provider asks for (`Retry-After`, reset headers; default 10 min). A
    /// retry that would wait longer fails with [`HttpError::WaitTooLong`](super::HttpError)
    /// instead of sleeping.
    pub max_header_wait: Duration,
    /// Timeout of each attempt, from connecting to the end of the body (default 30 s).
    pub timeout: Duration,
    /// Client-side throttling (none by default).
    pub rate_limit: Option<RateLimit>,
    /// When set, every final exchange is written there as `NNNNNN.json` (see the module docs).
    pub save_responses: Option<PathBuf>,
    /// The `User-Agent` of every request (default `nango-rs/<version>`).
    pub user_agent: String,
    /// When set, every request goes to this origin with the endpoint as its path, whatever the
    /// base URL (see [`HttpOptions::replay_to`]).
    pub replay_to: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_retries: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_header_wait: Duration::from_secs(600),
            timeout: Duration::from_secs(30),
            rate_limit: None,
            save_responses: None,
            user_agent: concat!("nango-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            replay_to: None,
        }
    }
}

impl HttpOptions {
    /// Sets [`HttpOptions::max_retries`].
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets [`HttpOptions::min_delay`].
    pub fn min_delay(mut self, delay: Duration) -> Self {
        self.min_delay = delay;
        self
    }

    /// Sets [`HttpOptions::max_delay`].
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets [`HttpOptions::max_header_wait`].
    pub fn max_header_wait(mut self, wait: Duration) -> Self {
        self.max_header_wait = wait;
        self
    }

    /// Sets [`HttpOptions::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`HttpOptions::rate_limit`].
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sets [`HttpOptions::save_responses`].
    pub fn save_responses(mut self, dir: impl Into<PathBuf>) -> Self {
        self.save_responses = Some(dir.into());
        self
    }

    /// Sets [`HttpOptions::user_agent`].
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sends every request to `origin` (`http://127.0.0.1:4000`) with the endpoint as the
    /// script wrote it as the path: `users.list` is `/users.list` whatever the provider's base
    /// URL or the call's `base_url`, and an absolute URL keeps its path and query. For replaying
    /// recordings that know endpoints, not hosts (Nango's template mocks, [`crate::replay`]).
    pub fn replay_to(mut self, origin: impl Into<String>) -> Self {
        self.replay_to = Some(origin.into());
        self
    }
}

/// A client-side rate limit (a token bucket, via `governor`): at most `per_second` requests a
/// second on average, `burst` at once.
///
/// ```
/// let limit = nango_runtime::http::RateLimit::per_second(5);
/// assert_eq!((limit.per_second, limit.burst), (5, 5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second (must be at least 1).
    pub per_second: u32,
    /// Requests that may go at once (at least 1; defaults to `per_second`).
    pub burst: u32,
}

impl RateLimit {
    /// `n` requests a second, with a burst of `n`.
    pub fn per_second(n: u32) -> Self {
        RateLimit { per_second: n, burst: n }
    }

    /// Sets the burst.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }
}

/// Counters of a client since it was created (shared by its clones), for metrics.
///
/// ```
/// let stats = nango_runtime::http::HttpStats::default();
/// assert_eq!(stats.requests + stats.retries + stats.rate_limit_waits + stats.refreshes, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Attempts sent to the provider's API (retries included, token refreshes not).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Waits because of a rate limit: a provider's reset/`Retry-After` header, `remaining: 0`,
    /// or the client's own [`RateLimit`].
    pub rate_limit_waits: u64,
    /// Successful OAuth token refreshes.
    pub refreshes: u64,
}
