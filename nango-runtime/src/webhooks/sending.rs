//! Sending: [`WebhookSender`] posts each webhook to every URL, signed with
//! [`sign`](super::sign), and returns every attempt ([`DeliveryAttempt`]) for the run's history.

use std::fmt;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use serde::{Deserialize, Serialize};

use super::{SyncWebhook, serialize_body, sign};

/// `user-agent` of webhook requests (Nango sends `nango/<version> (...)`).
const USER_AGENT_VALUE: &str = concat!("nango-rs/", env!("CARGO_PKG_VERSION"));

/// Receiver answers quoted in [`DeliveryAttempt::error`] are cut to this many bytes: enough to
/// read the receiver's message, small enough for the run history.
const ERROR_EXCERPT_BYTES: usize = 256;

/// One POST of a webhook to one URL, as stored with the run.
///
/// ```
/// use nango_runtime::webhooks::DeliveryAttempt;
/// let a = DeliveryAttempt {
///     url: "https://example.com/hook".into(), attempt: 1, status: Some(204), error: None,
///     duration_ms: 12, at: chrono::Utc::now(),
/// };
/// assert!(a.succeeded());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The receiver.
    pub url: String,
    /// 1 for the first try, 2 for the first retry...
    pub attempt: u32,
    /// The response status, `None` when no response came.
    pub status: Option<u16>,
    /// Why the attempt failed (`None` on a 2xx): the network error, or the status and the start
    /// of the receiver's answer.
    pub error: Option<String>,
    /// From sending to the end of the response.
    pub duration_ms: u64,
    /// When the attempt started.
    pub at: DateTime<Utc>,
}

impl DeliveryAttempt {
    /// Whether the receiver answered 2xx.
    ///
    /// ```
    /// use nango_runtime::webhooks::DeliveryAttempt;
    /// let a = DeliveryAttempt { url: "u".into(), attempt: 1, status: Some(500), error: Some("500".into()), duration_ms: 1, at: chrono::Utc::now() };
    /// assert!(!a.succeeded());
    /// ```
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends webhooks to the configured URLs, signed when a key is set.
///
/// Defaults (Nango's in parentheses): timeout 20 s (20 s), 3 retries after the first attempt (2),
/// delays from 3 s doubling with jitter (3 s doubling), capped at 60 s.
///
/// ```no_run
/// # async fn demo(payload: nango_runtime::webhooks::SyncWebhook) {
/// use nango_runtime::webhooks::WebhookSender;
///
/// let sender = WebhookSender::new(vec!["https://example.com/nango".into()], Some("signing-key".into()));
/// let attempts = sender.deliver(&payload).await;
/// let delivered = attempts.iter().any(|a| a.succeeded());
/// # }
/// ```
#[derive(Clone)]
pub struct WebhookSender {
    /// The HTTP client (built without redirects by [`WebhookSender::new`]).
    pub client: reqwest::Client,
    /// Every URL receives every webhook.
    pub urls: Vec<String>,
    /// The signing key; without it no signature header is sent.
    pub signing_key: Option<String>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Delay before the first retry; later ones double (with jitter), up to 60 s.
    pub min_delay: Duration,
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key must never reach a log line.
        f.debug_struct("WebhookSender")
            .field("urls", &self.urls)
            .field("signing_key", &self.signing_key.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("min_delay", &self.min_delay)
            .finish_non_exhaustive()
    }
}

impl WebhookSender {
    /// A sender with the default settings.
    ///
    /// Redirects are not followed: a signed body must go to the configured URL only, and a 3xx
    /// counts as a failed (not retried) attempt.
    ///
    /// ```
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec!["http://127.0.0.1:9/hook".into()], None);
    /// assert_eq!(s.retries, 3);
    /// ```
    pub fn new(urls: Vec<String>, signing_key: Option<String>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        WebhookSender {
            client,
            urls,
            signing_key,
            timeout: Duration::from_secs(20),
            retries: 3,
            min_delay: Duration::from_secs(3),
        }
    }

    /// Sets the per-attempt timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec![], None).timeout(Duration::from_secs(5));
    /// assert_eq!(s.timeout, Duration::from_secs(5));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the number of retries after the first attempt.
    ///
    /// ```
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec![], None).retries(0);
    /// assert_eq!(s.retries, 0);
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the delay before the first retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = nango_runtime::webhooks::WebhookSender::new(vec![], None).min_delay(Duration::from_millis(10));
    /// assert_eq!(s.min_delay, Duration::from_millis(10));
    /// ```
    pub fn min_delay(mut self, min_delay: Duration) -> Self {
        self.min_delay = min_delay;
        self
    }

    /// Posts the webhook to every URL (concurrently, each with its own retries) and returns every
    /// attempt, grouped by URL in the order of [`WebhookSender::urls`].
    ///
    /// Never fails: receivers' failures are in the attempts (and in `warn` log lines).
    ///
    /// ```no_run
    /// # async fn demo(sender: nango_runtime::webhooks::WebhookSender, hook: nango_runtime::webhooks::SyncWebhook) {
    /// for attempt in sender.deliver(&hook).await {
    ///     println!("{} #{}: {:?} {:?}", attempt.url, attempt.attempt, attempt.status, attempt.error);
    /// }
    /// # }
    /// ```
    pub async fn deliver(&self, payload: &SyncWebhook) -> Vec<DeliveryAttempt> {
        self.deliver_body(&serialize_body(payload)).await
    }

    /// Posts an already serialised JSON body (for other webhook types; see [`to_stable_json`](super::to_stable_json)):
    /// exactly these bytes are signed and sent.
    ///
    /// ```no_run
    /// # async fn demo(sender: nango_runtime::webhooks::WebhookSender) {
    /// let body = nango_runtime::webhooks::to_stable_json(&serde_json::json!({"from": "nango", "type": "auth"})).unwrap();
    /// let attempts = sender.deliver_body(&body).await;
    /// # }
    /// ```
    pub async fn deliver_body(&self, body: &[u8]) -> Vec<DeliveryAttempt> {
        self.deliver_with_id(body, None).await
    }

    /// Posts a webhook taken from the store's queue, with its delivery id in
    /// [`WEBHOOK_ID_HEADER`](super::WEBHOOK_ID_HEADER) (the same on every redelivery).
    ///
    /// ```no_run
    /// # async fn demo(sender: nango_runtime::webhooks::WebhookSender, store: nango_runtime::store::Store) -> Result<(), nango_runtime::store::StoreError> {
    /// for queued in store.pending_webhooks(100).await? {
    ///     let attempts = sender.deliver_queued(&queued).await;
    ///     store.webhook_done(queued.id).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn deliver_queued(&self, webhook: &crate::store::QueuedWebhook) -> Vec<DeliveryAttempt> {
        self.deliver_with_id(&webhook.body, Some(&webhook.webhook_id())).await
    }

    async fn deliver_with_id(&self, body: &[u8], id: Option<&str>) -> Vec<DeliveryAttempt> {
        let per_url = self.urls.iter().map(|url| self.deliver_to(url, body, id));
        futures_util::future::join_all(per_url).await.into_iter().flatten().collect()
    }

    async fn deliver_to(&self, url: &str, body: &[u8], id: Option<&str>) -> Vec<DeliveryAttempt> {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(Duration::from_secs(60).max(self.min_delay))
            .with_factor(2.0)
            // Jitter spreads the retries of many runs that failed together (a receiver outage).
            .with_jitter()
            .with_max_times(self.retries as usize)
            .build();
        let mut attempts = Vec::new();
        let max = self.retries + 1;
        for attempt in 1..=max {
            let (record, retryable) = self.attempt(url, body, id, attempt).await;
            let failed = !record.succeeded();
            let error = record.error.clone();
            attempts.push(record);
            if !failed {
                tracing::info!(url, attempt, "Webhook delivered");
                break;
            }
            let error = error.unwrap_or_default();
            let delay = if retryable { delays.next() } else { None };
            match delay {
                Some(delay) => {
                    tracing::warn!(
                        url,
                        attempt,
                        max,
                        wait_ms = delay.as_millis() as u64,
                        reason = %error,
                        "Retrying webhook POST {url} (reason: {error}). Waiting {} ms [{attempt}/{max}]",
                        delay.as_millis()
                    );
                    tokio::time::sleep(delay).await;
                }
                None => {
                    let why = if retryable { "no retries left" } else { "not retried" };
                    tracing::warn!(url, attempt, reason = %error, "Webhook POST {url} failed ({why}): {error}");
                    break;
                }
            }
        }
        attempts
    }

    /// One POST; the record and whether a failure may be retried (network errors and 5xx).
    async fn attempt(&self, url: &str, body: &[u8], id: Option<&str>, attempt: u32) -> (DeliveryAttempt, bool) {
        let at = Utc::now();
        let started = Instant::now();
        let mut request = self
            .client
            .post(url)
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(body.to_vec());
        if let Some(id) = id {
            request = request.header(super::WEBHOOK_ID_HEADER, id);
        }
        if let Some(key) = &self.signing_key {
            // Signed per attempt so the timestamp is the send time of this attempt.
            for (name, value) in sign(key, body, at).pairs() {
                request = request.header(name, value);
            }
        }
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    // Drain the body so the connection can be reused; its content is not used.
                    let _ = response.bytes().await;
                    (Some(status.as_u16()), None, false)
                } else {
                    let text = response
                        .bytes()
                        .await
                        .map(|b| nango_types::text::excerpt(&b, ERROR_EXCERPT_BYTES))
                        .unwrap_or_default();
                    let error = if text.is_empty() { status.to_string() } else { format!("{status}: {text}") };
                    (Some(status.as_u16()), Some(error), status.is_server_error())
                }
            }
            // A URL reqwest cannot use is not going to work on a retry either.
            Err(e) if e.is_builder() => (None, Some(nango_types::text::error_chain(&e)), false),
            Err(e) => (None, Some(nango_types::text::error_chain(&e)), true),
        };
        let (status, error, retryable) = outcome;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(url, attempt, status, duration_ms, "POST {url} (webhook)");
        (DeliveryAttempt { url: url.to_owned(), attempt, status, error, duration_ms, at }, retryable)
    }
}
