//! Prometheus metrics of the service: runs by status, records by action, HTTP requests,
//! provider retries and rate-limit waits, webhook deliveries.
//!
//! Each server has its own recorder (not the process-global one), so several servers in one
//! process (tests, embedding) keep separate figures.

use super::AppState;
use crate::engine::RunReport;
use crate::store::RunStatus;
use crate::webhooks::DeliveryAttempt;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::sync::Arc;

/// The service's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set.
    ///
    /// ```
    /// let m = nango_runtime::server::Metrics::new();
    /// m.http_request("GET", 200);
    /// assert!(m.render().contains("nango_http_requests_total"));
    /// ```
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        Metrics { recorder: Arc::new(recorder), handle }
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    /// One API request answered.
    pub fn http_request(&self, method: &str, status: u16) {
        let (method, status) = (method.to_owned(), status.to_string());
        self.with(|| {
            metrics::counter!("nango_http_requests_total", "method" => method, "status" => status).increment(1)
        });
    }

    /// One run ended.
    pub fn run_finished(&self, report: &RunReport) {
        let status = match report.status {
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Running => "running",
        };
        self.with(|| {
            metrics::counter!("nango_runs_total", "status" => status).increment(1);
            for (model, c) in &report.counts {
                for (action, n) in [("added", c.added), ("updated", c.updated), ("deleted", c.deleted)] {
                    metrics::counter!("nango_records_total", "model" => model.clone(), "action" => action).increment(n);
                }
            }
            metrics::counter!("nango_provider_requests_total").increment(report.http.requests);
            metrics::counter!("nango_provider_retries_total").increment(report.http.retries);
            metrics::counter!("nango_rate_limit_waits_total").increment(report.http.rate_limit_waits);
            metrics::histogram!("nango_run_duration_seconds").record(report.duration.as_secs_f64());
        });
    }

    /// Webhook delivery attempts made.
    pub fn webhook_attempts(&self, attempts: &[DeliveryAttempt]) {
        self.with(|| {
            for a in attempts {
                let outcome = if a.succeeded() { "delivered" } else { "failed" };
                metrics::counter!("nango_webhook_deliveries_total", "outcome" => outcome).increment(1);
            }
        });
    }

    /// The task queue and the cluster as this process sees them now: gauges of queued,
    /// running and lapsed tasks and of live runners, and the tasks this process took over after
    /// a lease lapsed.
    pub fn queue(&self, stats: &crate::store::QueueStats, lease_expiries: u64) {
        self.with(|| {
            metrics::gauge!("nango_queue_depth").set(stats.queued as f64);
            metrics::gauge!("nango_tasks_running").set(stats.running as f64);
            metrics::gauge!("nango_tasks_lease_lapsed").set(stats.lapsed as f64);
            metrics::gauge!("nango_runners").set(stats.runners as f64);
            metrics::counter!("nango_lease_expiries_total").absolute(lease_expiries);
        });
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// `GET /metrics`.
pub(super) async fn render(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.store().queue_stats(super::cluster::BEAT).await {
        Ok(stats) => state.metrics.queue(&stats, state.scheduler.lease_expiries()),
        // The other figures are still worth serving; the gauges keep their last values.
        Err(e) => tracing::warn!(error = %nango_types::text::error_chain(&e), "/metrics: cannot count the task queue"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
