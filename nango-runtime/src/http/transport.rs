//! Sending one request to the provider, attempt by attempt: retries (with backoff, or for as long
//! as `Retry-After` and the reset headers ask), the provider's rate limits and the client's own,
//! per-attempt timeouts, redirects refused, the final exchange saved for replay, and counters.
//!
//! The transport knows nothing of endpoints, templates or credentials: the layer above prepares
//! each attempt, with the credentials of that moment, and says whether a 401 is worth one more
//! attempt ([`Attempts`]).

use super::error::{HttpError, excerpt};
use super::options::{HttpOptions, HttpStats};
use super::record::Recorder;
use super::response::Response;
use super::retry::{Backoff, RetryPolicy};
use super::secrets::Secrets;
use crate::providers::RetryConfig;
use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use nango_types::text::{error_chain, human_duration};
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode, Url};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Proactive waits shorter than this are skipped: they are clock noise between the retry that
/// already slept until the reset and the pause recorded from the same response.
const NEGLIGIBLE_WAIT: Duration = Duration::from_millis(5);

/// A request as the transport sees it: where it goes (to wait for its turn, name it and record
/// it) and how hard to try. The request itself is [`Attempts::prepare`]d anew for each attempt.
pub(crate) struct Outgoing<'a> {
    pub method: &'a Method,
    /// The URL without the provider's query templates (those are filled per attempt).
    pub url: &'a Url,
    /// Retries, instead of [`HttpOptions::max_retries`].
    pub retries: Option<u32>,
    /// Statuses retried besides the provider's or the default ones.
    pub retry_on: &'a [u16],
    /// Timeout of each attempt, instead of [`HttpOptions::timeout`].
    pub timeout: Option<Duration>,
    /// Whether the final answer is returned whatever its status (but a redirect).
    pub any_status: bool,
    /// Whether a 304 Not Modified is an answer (the request is conditional), read by `decode`
    /// once like a 2xx, rather than a redirect refused.
    pub not_modified_ok: bool,
}

/// One attempt, ready to go.
pub(crate) struct Prepared {
    pub request: reqwest::Request,
    /// The URL as sent (with the provider's query parameters).
    pub url: Url,
    /// The generation of the credentials on it, handed back on a 401.
    pub generation: u64,
}

/// What the transport asks of the layer above, at every attempt.
pub(crate) trait Attempts {
    /// The request of the next attempt, with the credentials of now.
    async fn prepare(&self) -> Result<Prepared, HttpError>;

    /// The attempt `request` (named as errors name it), carrying credentials of `generation`,
    /// got a 401: `None` when the credentials cannot be refreshed (the 401 is then an answer like
    /// any other), else whether refreshing them worked, or why not.
    async fn refresh_after_401(&self, request: &str, generation: u64) -> Option<Result<(), String>>;
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limit_waits: AtomicU64,
}

/// A final non-2xx answer returned as it is ([`Outgoing::any_status`]), read by `decode` once: an
/// error status is the provider's answer, so an unreadable body is not a reason to ask again.
fn passed_on<R>(
    response: Response,
    decode: impl Fn(&Response) -> Result<R, HttpError>,
) -> Result<(Response, R), HttpError> {
    let decoded = decode(&response)?;
    Ok((response, decoded))
}

/// Sends requests for one connection's client (shared by its clones).
pub(crate) struct Transport {
    http: reqwest::Client,
    options: HttpOptions,
    retry: RetryPolicy,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Until when requests hold back because the provider said no request is left, and why.
    paused_until: Mutex<Option<(Instant, String)>>,
    recorder: Option<Recorder>,
    /// To name requests in logs and errors, and to leave secret parameters out of saved ones.
    secrets: Arc<Secrets>,
    counters: Counters,
    /// For logs.
    provider: String,
    connection_id: String,
}

impl Transport {
    /// A transport with the provider's `retry` settings and the client's `options`. The error
    /// says what is wrong with them (a bad `retry.error_code`, a zero rate limit, a
    /// `save_responses` folder that cannot be created).
    pub(crate) fn new(
        options: HttpOptions,
        retry: Option<&RetryConfig>,
        secrets: Arc<Secrets>,
        provider: String,
        connection_id: String,
    ) -> Result<Transport, String> {
        let retry = RetryPolicy::new(retry)?;
        let limiter = match options.rate_limit {
            None => None,
            Some(limit) => {
                let per_second = NonZeroU32::new(limit.per_second).ok_or("rate_limit.per_second must be at least 1")?;
                let burst = NonZeroU32::new(limit.burst).ok_or("rate_limit.burst must be at least 1")?;
                Some(RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)))
            }
        };
        let recorder = match &options.save_responses {
            None => None,
            Some(dir) => Some(
                Recorder::new(dir, retry.header_names().map(str::to_owned).collect())
                    .map_err(|e| format!("save_responses folder {}: {e}", dir.display()))?,
            ),
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
        Ok(Transport {
            http,
            options,
            retry,
            limiter,
            paused_until: Mutex::new(None),
            recorder,
            secrets,
            counters: Counters::default(),
            provider,
            connection_id,
        })
    }

    /// The HTTP connection pool (redirects off), to build requests on and to share with the
    /// token refresh.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The counters; `refreshes` is not the transport's to count and is 0.
    pub(crate) fn stats(&self) -> HttpStats {
        let c = &self.counters;
        HttpStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limit_waits: c.rate_limit_waits.load(Ordering::Relaxed),
            refreshes: 0,
        }
    }

    /// Sends `outgoing`, attempt by attempt, until an answer is final: a 2xx whose body `decode`
    /// reads is the [`Response`] with what `decode` made of it; a redirect, an error status that
    /// is not retried (or the last one once the retries ran out), a network error, a timeout or a
    /// body `decode` refuses is the error. The errors are not scrubbed yet.
    ///
    /// A 2xx body that is not readable JSON ([`HttpError::InvalidBody`] from `decode`: cut short,
    /// not JSON at all) is retried like a 5xx; a body that is well-formed JSON of the wrong shape
    /// ([`HttpError::Decode`]) is not. The bytes of an unreadable body are not what the provider
    /// meant to send: a connection closed early behind a proxy that had already sent the headers
    /// with a matching length, a cache or gateway answering 200 with its own page, a broken
    /// compression stream. Those are accidents of one exchange and the next attempt usually gets
    /// the document. A well-formed document of another shape is the provider's actual answer
    /// (a changed API, a model that does not match it): asking again gets the same answer, so
    /// retrying would only delay the error that names the field.
    pub(crate) async fn send<R>(
        &self,
        outgoing: &Outgoing<'_>,
        attempts: &impl Attempts,
        decode: impl Fn(&Response) -> Result<R, HttpError>,
    ) -> Result<(Response, R), HttpError> {
        let Outgoing { method, url, retry_on, .. } = *outgoing;
        let max_retries = outgoing.retries.unwrap_or(self.options.max_retries);
        let timeout = outgoing.timeout.unwrap_or(self.options.timeout);
        let mut backoff = Backoff::new(self.options.min_delay, self.options.max_delay);
        let mut retries = 0u32;
        let mut refreshed_after_401 = false;
        loop {
            self.wait_for_turn(method, url).await;
            let Prepared { mut request, url: sent_url, generation } = attempts.prepare().await?;
            *request.timeout_mut() = Some(timeout);
            let described = self.secrets.describe(method, &sent_url);
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let outcome = self.exchange(request).await;
            let ms = started.elapsed().as_millis() as u64;
            let attempts_made = retries + 1;
            let (status, headers, bytes) = match outcome {
                Ok(answer) => answer,
                Err(error) => {
                    let reason = if error.is_timeout() {
                        format!("timeout after {}", human_duration(timeout))
                    } else {
                        error_chain(&error)
                    };
                    tracing::debug!(
                        method = %method, url = %self.secrets.url(&sent_url), ms, error = %reason,
                        "{described} failed after {ms} ms: {reason}"
                    );
                    if retries < max_retries && !error.is_builder() {
                        let wait = backoff.next_delay();
                        retries += 1;
                        self.counters.retries.fetch_add(1, Ordering::Relaxed);
                        self.log_retry(method, &sent_url, &reason, wait, retries, max_retries);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(if error.is_timeout() {
                        HttpError::Timeout { request: described, attempts: attempts_made, timeout }
                    } else if error.is_builder() {
                        HttpError::InvalidRequest { request: described, message: reason }
                    } else {
                        HttpError::Network { request: described, attempts: attempts_made, message: reason }
                    });
                }
            };
            tracing::debug!(
                method = %method, url = %self.secrets.url(&sent_url), status = status.as_u16(), ms,
                "{described} -> {status} in {ms} ms"
            );
            self.observe_limits(&headers);
            let record = || self.record(method, &sent_url, &described, status, &headers, &bytes);

            if status == StatusCode::UNAUTHORIZED {
                if refreshed_after_401 && outgoing.any_status {
                    record().await?;
                    return passed_on(Response { request: described, status, headers, body: bytes }, &decode);
                }
                if refreshed_after_401 {
                    record().await?;
                    return Err(HttpError::InvalidCredentials {
                        request: described,
                        message:
                            "returned 401 Unauthorized after refreshing the access token; reconnect the connection"
                                .into(),
                    });
                }
                match attempts.refresh_after_401(&described, generation).await {
                    None => {}
                    Some(Ok(())) => {
                        refreshed_after_401 = true;
                        continue;
                    }
                    Some(Err(message)) => {
                        record().await?;
                        return Err(HttpError::InvalidCredentials {
                            request: described,
                            message: format!(
                                "returned 401 Unauthorized and refreshing the access token failed: {message}; \
                                 reconnect the connection"
                            ),
                        });
                    }
                }
            }

            if status.is_success() {
                let response = Response { request: described, status, headers, body: bytes };
                let decoded = decode(&response);
                if let Err(HttpError::InvalidBody { message, .. }) = &decoded
                    && retries < max_retries
                {
                    let reason = format!("unreadable body: {message}");
                    let wait = backoff.next_delay();
                    retries += 1;
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    self.log_retry(method, &sent_url, &reason, wait, retries, max_retries);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let Response { request, headers, body, .. } = &response;
                self.record(method, &sent_url, request, status, headers, body).await?;
                return match decoded {
                    Ok(value) => Ok((response, value)),
                    Err(HttpError::InvalidBody { request, content_type, message, excerpt, .. }) => {
                        Err(HttpError::InvalidBody { request, content_type, message, excerpt, attempts: attempts_made })
                    }
                    Err(error) => Err(error),
                };
            }
            if status == StatusCode::NOT_MODIFIED && outgoing.not_modified_ok {
                // The provider's answer to the validator the request carried: "what you have is
                // current". It has no body to read again, so it is never retried.
                record().await?;
                return passed_on(Response { request: described, status, headers, body: bytes }, &decode);
            }
            if status.is_redirection() {
                record().await?;
                let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(|l| match sent_url.join(l) {
                    Ok(target) => self.secrets.url(&target),
                    Err(_) => l.to_owned(),
                });
                return Err(HttpError::Redirect { request: described, status, location });
            }
            if retries < max_retries && self.retry.is_retryable(status.as_u16(), retry_on, &headers) {
                let reason = status.to_string();
                let wait = match self.retry.header_wait(status.as_u16(), &headers, Utc::now()) {
                    Some(asked) if asked.wait > self.options.max_header_wait => {
                        record().await?;
                        return Err(HttpError::WaitTooLong {
                            request: described,
                            reason,
                            header: asked.header,
                            wait: asked.wait,
                            max: self.options.max_header_wait,
                        });
                    }
                    Some(asked) => {
                        self.counters.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
                        asked.wait
                    }
                    None => backoff.next_delay(),
                };
                retries += 1;
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                self.log_retry(method, &sent_url, &reason, wait, retries, max_retries);
                tokio::time::sleep(wait).await;
                continue;
            }
            record().await?;
            if outgoing.any_status {
                return passed_on(Response { request: described, status, headers, body: bytes }, &decode);
            }
            let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            return Err(HttpError::Status {
                request: described,
                status,
                attempts: attempts_made,
                content_type,
                body: excerpt(&bytes),
            });
        }
    }

    /// One attempt on the wire.
    async fn exchange(&self, request: reqwest::Request) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let response = self.http.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        // The body is read inside the attempt so that a connection cut mid-body is retried too.
        let body = response.bytes().await?;
        Ok((status, headers, body.to_vec()))
    }

    /// Waits while the provider said no request is left, and for the client's own rate limit.
    async fn wait_for_turn(&self, method: &Method, url: &Url) {
        let pause = self.paused_until.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((until, why)) = pause {
            let now = Instant::now();
            if until > now + NEGLIGIBLE_WAIT {
                let wait = (until - now).min(self.options.max_header_wait);
                self.counters.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
                let request = self.secrets.describe(method, url);
                let wait_ms = wait.as_millis() as u64;
                tracing::warn!(
                    provider = %self.provider, connection = %self.connection_id, reason = %why, wait_ms,
                    "Rate limit reached ({why}). Waiting {wait_ms} ms before {request}"
                );
                tokio::time::sleep(wait).await;
            }
            let mut pause = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            if pause.as_ref().is_some_and(|(t, _)| *t == until) {
                *pause = None;
            }
        }
        if let Some(limiter) = &self.limiter
            && limiter.check().is_err()
        {
            self.counters.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
            limiter.until_ready().await;
        }
    }

    /// Remembers a `remaining: 0` + reset answer, so that the next request waits for the reset.
    fn observe_limits(&self, headers: &HeaderMap) {
        if let Some(wait) = self.retry.throttle(headers, Utc::now()) {
            let until = Instant::now() + wait.wait;
            let mut pause = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            if pause.as_ref().is_none_or(|(t, _)| *t < until) {
                *pause = Some((until, wait.header));
            }
        }
    }

    /// Saves a final exchange, when [`HttpOptions::save_responses`] is set.
    async fn record(
        &self,
        method: &Method,
        url: &Url,
        request: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), HttpError> {
        let Some(recorder) = &self.recorder else { return Ok(()) };
        recorder
            .save(method, url, |name| self.secrets.is_secret_param(name), status.as_u16(), headers, body)
            .await
            .map(|_| ())
            .map_err(|(path, e)| HttpError::Save { request: request.to_owned(), path, message: e.to_string() })
    }

    fn log_retry(&self, method: &Method, url: &Url, reason: &str, wait: Duration, attempt: u32, max: u32) {
        let request = self.secrets.describe(method, url);
        let wait_ms = wait.as_millis() as u64;
        tracing::warn!(
            provider = %self.provider, connection = %self.connection_id, reason, wait_ms, attempt, max,
            "Retrying {request} (reason: {reason}). Waiting {wait_ms} ms [{attempt}/{max}]"
        );
    }
}
