//! `serve`: the scheduler, the HTTP API (wire-compatible with Nango's), webhook delivery,
//! `/metrics` and `/health` in one process.
//!
//! Every API route (all but `/health` and the console's) needs
//! `Authorization: Bearer <NANGO_SECRET_KEY>`. The console has its own sign-in (a form at
//! `/login` that starts a server-side session); its cookie opens only the console, never the
//! API. API errors are JSON `{"error": {"code", "message"}}` with a 4xx status for anything the
//! caller can fix.

mod actions;
mod api;
mod cluster;
mod connect;
mod connections;
mod console;
mod error;
mod extract;
mod integrations;
mod listen;
mod metrics;
mod openapi;
mod params;
mod proxy;
mod records_query;
mod roles;
mod route_table;
mod scripts;

pub use actions::BackgroundActions;
pub use error::{ApiError, ApiResult};
pub use listen::{BodyTimedOut, ServerLimits};
pub use metrics::Metrics;
pub use records_query::parse_records_query;
pub use roles::Roles;

use crate::engine::{RunReport, Runtime};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::store::{DeliveryRecord, NodeBeat, OutgoingWebhook, QueuedWebhook, RunStatus, Store, Unannounced};
use crate::webhooks::{SyncWebhook, WebhookSender, serialize_body, webhooks_for};
use crate::{Connection, SyncRegistration};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Settings of `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (`127.0.0.1:3003` by default, Nango's port).
    pub addr: SocketAddr,
    /// The API key (`NANGO_SECRET_KEY`).
    pub secret_key: String,
    /// Where sync webhooks go (`NANGO_WEBHOOK_URL`, comma separated for several).
    pub webhook_urls: Vec<String>,
    /// Key signing webhooks (`NANGO_WEBHOOK_SIGNING_KEY`; the secret key when unset, as Nango).
    pub webhook_signing_key: Option<String>,
    /// Send a webhook also when a run changed nothing (Nango's `on_sync_completion_always`).
    pub webhook_always: bool,
    /// First wait before retrying a failed webhook delivery (doubles each retry; 3 s as Nango).
    pub webhook_retry_delay: Duration,
    /// How long running runs may take to finish at shutdown before they are cancelled.
    pub shutdown_grace: Duration,
    /// How long a console sign-in lasts (12 hours by default); using the console does not
    /// extend it.
    pub console_session_ttl: Duration,
    /// How long a provider's token endpoint (and a credentials check) may take to answer
    /// during the connect flow (20 seconds by default).
    pub auth_timeout: Duration,
    /// The URL the service is reached at from browsers (`NANGO_SERVER_URL`): connect links
    /// and the OAuth callback (`<url>/oauth/callback`, the redirect URI to register with
    /// providers) are built from it. `http://<addr>` when unset.
    pub public_url: Option<String>,
    /// Scheduler settings.
    pub scheduler: SchedulerConfig,
    /// Timeouts and the connection limit of the HTTP server.
    pub limits: ServerLimits,
    /// What this process does (`--roles`); all by default. Without `api`, it answers only
    /// `/health` and `/metrics`.
    pub roles: Roles,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 3003)),
            secret_key: String::new(),
            webhook_urls: Vec::new(),
            webhook_signing_key: None,
            webhook_always: false,
            webhook_retry_delay: Duration::from_secs(3),
            shutdown_grace: Duration::from_secs(30),
            console_session_ttl: Duration::from_secs(12 * 3600),
            public_url: None,
            auth_timeout: Duration::from_secs(20),
            scheduler: SchedulerConfig::default(),
            limits: ServerLimits::default(),
            roles: Roles::default(),
        }
    }
}

/// What handlers share.
pub struct AppState {
    /// Runs and schedules.
    pub scheduler: Scheduler,
    /// The API key.
    pub secret_key: String,
    /// How long a console sign-in lasts.
    pub console_session_ttl: Duration,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Where the service listens (a connection's base URL may not point here).
    pub addr: SocketAddr,
    /// When the service started: the creation time shown for the integrations nango.yaml
    /// declares, and the deploy time of its scripts.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Actions running in the background (`X-Async`).
    pub actions: Arc<BackgroundActions>,
    /// The URL browsers reach the service at, without a trailing `/` (see
    /// [`ServeOptions::public_url`]).
    pub public_url: String,
    /// How long a provider's token endpoint may take during the connect flow.
    pub auth_timeout: Duration,
    /// Where webhooks go (auth webhooks are sent from the handlers), when configured.
    pub webhooks: Option<Arc<WebhookSender>>,
    /// The frontend SDK's sockets waiting for the outcome of an OAuth popup.
    pub ws_clients: connect::WsClients,
    /// What this process does.
    pub roles: Roles,
}

impl AppState {
    /// The store.
    pub fn store(&self) -> &Store {
        self.scheduler.runtime().store()
    }
}

/// A running server (tests and embedding); [`Server::shutdown`] stops it gracefully.
pub struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds, starts the scheduler and serves.
    ///
    /// ```no_run
    /// # async fn demo(runtime: nango_runtime::engine::Runtime) -> std::io::Result<()> {
    /// use nango_runtime::server::{Server, ServeOptions};
    /// let options = ServeOptions { secret_key: "s3cret".into(), ..ServeOptions::default() };
    /// let server = Server::start(runtime, options).await?;
    /// println!("http://{}", server.addr());
    /// server.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn start(runtime: Runtime, options: ServeOptions) -> std::io::Result<Server> {
        let metrics = Metrics::new();
        let sender = (!options.webhook_urls.is_empty()).then(|| {
            let key = options.webhook_signing_key.clone().or_else(|| Some(options.secret_key.clone()));
            Arc::new(WebhookSender::new(options.webhook_urls.clone(), key).min_delay(options.webhook_retry_delay))
        });
        let runtime = match &sender {
            Some(sender) => {
                runtime.on_auth_refused(connect::outcome::refresh_refused_hook(sender.clone(), metrics.clone()))
            }
            None => runtime,
        };
        let runtime = Arc::new(runtime);
        let runtime_store = runtime.store().clone();
        if let (Some(sender), true) = (&sender, options.roles.webhooks) {
            // Models removed by a deployment (`deploy`, or this start's own). (Sync webhooks go
            // through the outbox: a node of the webhooks role claims and delivers them.)
            match runtime_store.pending_deploy_webhooks(REDELIVERY_BATCH).await {
                Ok(pending) => {
                    tokio::spawn(deliver_deploy_webhooks(
                        runtime_store.clone(),
                        sender.clone(),
                        metrics.clone(),
                        pending,
                    ));
                }
                Err(e) => {
                    let error = nango_types::text::error_chain(&e);
                    tracing::error!(%error, "cannot read the queued deployment webhooks");
                }
            }
        }
        let roles = options.roles;
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let after = after_run(
            runtime.store().clone(),
            metrics.clone(),
            sender.clone(),
            options.webhook_always,
            outbox_wake.clone(),
        );
        let mut config = options.scheduler.clone();
        config.enqueue = config.enqueue && roles.scheduler;
        config.run = config.run && roles.runner;
        let scheduler = Scheduler::new(runtime, config).after_run(after);
        let listener = tokio::net::TcpListener::bind(options.addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState {
            scheduler: scheduler.clone(),
            secret_key: options.secret_key.clone(),
            console_session_ttl: options.console_session_ttl,
            metrics,
            addr,
            started_at: chrono::Utc::now(),
            actions: Arc::default(),
            public_url: options
                .public_url
                .as_deref()
                .map(|url| url.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| format!("http://{addr}")),
            auth_timeout: options.auth_timeout,
            webhooks: sender,
            ws_clients: connect::WsClients::default(),
            roles,
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let app = router(state.clone());
        let grace = options.shutdown_grace;
        let limits = options.limits;
        let app_state = state.clone();
        let store = state.store().clone();
        let (owner, _) = scheduler.runtime().lease();
        let owner = owner.clone();
        let node = NodeBeat {
            owner: owner.token().to_owned(),
            label: owner.label().to_owned(),
            roles: roles.to_string(),
            started_at: state.started_at,
        };
        let (cluster_stop, cluster_stopped) = tokio::sync::watch::channel(false);
        let beating = tokio::spawn(cluster::beat(store.clone(), node, owner.clone(), cluster_stopped.clone()));
        let outbox = match (&state.webhooks, roles.webhooks) {
            (Some(sender), true) => Some(tokio::spawn(cluster::deliver_outbox(
                store,
                sender.clone(),
                state.metrics.clone(),
                owner,
                outbox_wake,
                cluster_stopped,
            ))),
            _ => None,
        };
        let task = tokio::spawn(async move {
            let scheduling = tokio::spawn(scheduler.clone().run());
            listen::serve(listener, app, limits, stopped).await;
            let actions = app_state.actions.shutdown(app_state.store(), grace);
            tokio::join!(scheduler.shutdown(grace), actions);
            let _ = scheduling.await;
            // Runs handed their tasks back; webhooks being sent finish their attempt first.
            let _ = cluster_stop.send(true);
            if let Some(outbox) = outbox {
                let _ = outbox.await;
            }
            let _ = beating.await;
        });
        Ok(Server { addr, state, stop, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (scheduler, store, metrics).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting requests and scheduling, lets runs finish (or cancels them after the
    /// grace period), and returns when everything is written.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (it does not; for `serve` with a signal).
    pub async fn wait_for_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down: no new runs; waiting for running ones");
        self.shutdown().await;
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The router of the API (without the listener): for tests with `tower::ServiceExt` or for
/// mounting under another app.
///
/// What every request goes through first, before it is routed: a trailing `/` is dropped
/// (`/records/` is `/records`, as Nango's routes take both; `/proxy/...` paths are kept as
/// they are), then the key is checked (a missing or wrong key is a 401 on every path but
/// `/health` and the console's, whatever the path, so an unknown route tells nothing to a
/// caller without the key).
pub fn router(state: Arc<AppState>) -> Router {
    let (routed, _) = if state.roles.api { routes(state.clone()) } else { operations_routes() }.into_parts();
    let routed = routed
        .fallback(|| async { ApiError::not_found("unknown_route", "no such route; see /openapi.json") })
        .method_not_allowed_fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not a method of {}; see /openapi.json", method, uri.path()),
            )
        })
        .with_state(state.clone());
    // Middleware on a router runs after routing; wrapping the routed app as the fallback of an
    // outer router runs these before it, on the request as it came.
    Router::new()
        .fallback_service(routed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_key))
        .layer(axum::middleware::from_fn(connect::cors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), frontend_socket))
        .layer(axum::middleware::from_fn(drop_trailing_slash))
        .layer(axum::middleware::from_fn_with_state(state, count_requests))
}

/// Every route [`router`] serves, in one table (its paths are what [`route_paths`] lists).
fn routes(state: Arc<AppState>) -> route_table::RouteTable {
    api::routes()
        .merge(connect::routes())
        .route("/openapi.json", axum::routing::get(openapi::openapi))
        .merge(operations_routes())
        // The console checks its own sessions.
        .merge(console::routes(state))
}

/// What every process answers, whatever its roles.
fn operations_routes() -> route_table::RouteTable {
    route_table::RouteTable::new()
        .route("/metrics", axum::routing::get(metrics::render))
        .route("/health", axum::routing::get(cluster::health))
}

/// The paths [`router`] routes, in axum's syntax (`/connections/{connection_id}`,
/// `/proxy/{*path}`): what `/openapi.json` must describe, no more and no less (the OpenAPI test
/// compares the two).
///
/// ```no_run
/// # fn demo(server: &nango_runtime::server::Server) {
/// let paths = nango_runtime::server::route_paths(server.state().clone());
/// assert!(paths.contains(&"/records"));
/// # }
/// ```
pub fn route_paths(state: Arc<AppState>) -> Vec<&'static str> {
    routes(state).into_parts().1
}

/// Paths that need no API key: the liveness check, the console (which has its own sign-in) and
/// the connect flow (which takes a connect session token).
fn needs_no_key(path: &str) -> bool {
    matches!(path, "/health" | "/" | "/login" | "/logout" | "/console")
        || path.starts_with("/console/")
        || connect::uses_session_token(path)
}

/// Compares without an early exit, so timing does not reveal how much of a key was right.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key a request presents: `Authorization: Bearer <key>`, and nothing else (the console's
/// cookie is not a key).
fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

async fn require_key(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if needs_no_key(request.uri().path()) {
        return next.run(request).await;
    }
    match bearer_key(request.headers()) {
        Some(key) if same_key(key.as_bytes(), state.secret_key.as_bytes()) => next.run(request).await,
        Some(_) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "unknown_account", "the secret key is not valid").into_response()
        }
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_auth_header",
            "authenticate with `Authorization: Bearer <NANGO_SECRET_KEY>`",
        )
        .into_response(),
    }
}

/// The frontend SDK opens its WebSocket at the root, where the console is: an upgrade request
/// to `/` is the socket's (see `connect::ws`), anything else goes on.
async fn frontend_socket(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if request.uri().path() != "/" || !connect::ws::is_upgrade(request.headers()) {
        return next.run(request).await;
    }
    let (mut parts, _body) = request.into_parts();
    match <axum::extract::ws::WebSocketUpgrade as axum::extract::FromRequestParts<()>>::from_request_parts(
        &mut parts,
        &(),
    )
    .await
    {
        Ok(upgrade) => connect::ws::accept(state, upgrade),
        Err(rejection) => rejection.into_response(),
    }
}

/// `/records/` is `/records`: Nango's SDK asks for some routes with a trailing slash. Proxy
/// paths are the provider's and stay as they are.
async fn drop_trailing_slash(mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/proxy/") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rewritten = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = rewritten.parse() {
            *request.uri_mut() = uri;
        }
    }
    next.run(request).await
}

async fn count_requests(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let response = next.run(request).await;
    state.metrics.http_request(&method, response.status().as_u16());
    response
}

/// After each run: metrics, then the webhooks in their own task (a slow receiver must not hold
/// the scheduler): queued in the store, announcing everything not announced yet (see
/// [`crate::webhooks::webhooks_for`]), then delivered, their attempts kept, and taken off the
/// queue.
fn after_run(
    store: Store,
    metrics: Metrics,
    sender: Option<Arc<WebhookSender>>,
    always: bool,
    outbox: Arc<tokio::sync::Notify>,
) -> crate::scheduler::AfterRun {
    Arc::new(move |connection: Connection, sync: &'static SyncRegistration, report: RunReport| {
        metrics.run_finished(&report);
        if sender.is_none() {
            return;
        }
        let store = store.clone();
        let outbox = outbox.clone();
        tokio::spawn(async move {
            match queue_webhooks(&store, &connection, sync, &report, always).await {
                // A node of the webhooks role (this one, woken now, or another at its next look)
                // claims and delivers them.
                Ok(_) => outbox.notify_one(),
                Err(e) => {
                    // The changes stay unannounced: the next successful run's webhooks carry them.
                    let error = nango_types::text::error_chain(&e);
                    tracing::error!(sync = sync.descriptor.name, run = report.run_id, %error, "cannot queue webhooks");
                }
            }
        });
    })
}

/// Queues the webhooks of a run: after a success, one per model announcing what changed since
/// the last announcement, in the store's transaction that marks it announced; after a failure,
/// the error webhooks.
async fn queue_webhooks(
    store: &Store,
    connection: &Connection,
    sync: &'static SyncRegistration,
    report: &RunReport,
    always: bool,
) -> Result<Vec<QueuedWebhook>, crate::store::StoreError> {
    let outgoing = |hook: &SyncWebhook| OutgoingWebhook { model: hook.model.clone(), body: serialize_body(hook) };
    if report.status != RunStatus::Success {
        let hooks: Vec<OutgoingWebhook> =
            webhooks_for(connection, sync, report, always, &[]).iter().map(outgoing).collect();
        return store.queue_webhooks(report.run_id, &hooks).await;
    }
    let Some(key) = store.connection_key(&connection.provider_config_key, &connection.connection_id).await? else {
        return Ok(Vec::new()); // deleted since the run ended
    };
    let compose = |unannounced: &[Unannounced]| {
        webhooks_for(connection, sync, report, always, unannounced).iter().map(outgoing).collect()
    };
    store.announce(key, sync.descriptor.name, report.run_id, sync.descriptor.outputs, &compose).await
}

/// Delivers a queued webhook, keeps its attempts and takes it off the queue (also when every
/// attempt failed: the attempts show it, and the records stay readable).
pub(super) async fn deliver_queued(store: &Store, sender: &WebhookSender, metrics: &Metrics, webhook: QueuedWebhook) {
    let attempts = sender.deliver_queued(&webhook).await;
    metrics.webhook_attempts(&attempts);
    let records: Vec<DeliveryRecord> = attempts
        .into_iter()
        .map(|attempt| DeliveryRecord { run: webhook.run, model: webhook.model.clone(), attempt })
        .collect();
    if let Err(e) = store.record_deliveries(&records).await {
        tracing::error!(error = %nango_types::text::error_chain(&e), "cannot keep webhook delivery attempts");
    }
    if let Err(e) = store.webhook_done(webhook.id).await {
        tracing::error!(error = %nango_types::text::error_chain(&e), "cannot take a delivered webhook off the queue");
    }
}

/// Delivers the model-removed webhooks deployments queued (see [`crate::deploy`]) and takes
/// them off the queue, delivered or not (a failure is logged: the models are gone either way).
async fn deliver_deploy_webhooks(
    store: Store,
    sender: Arc<WebhookSender>,
    metrics: Metrics,
    pending: Vec<crate::store::deploy::QueuedDeployWebhook>,
) {
    for webhook in pending {
        let attempts = sender.deliver_body(&webhook.body).await;
        metrics.webhook_attempts(&attempts);
        if !attempts.iter().any(|a| a.succeeded()) {
            tracing::warn!(model = %webhook.model, deployment = webhook.deployment, "the model-removed webhook was not delivered");
        }
        if let Err(e) = store.deploy_webhook_done(webhook.id).await {
            tracing::error!(error = %nango_types::text::error_chain(&e), "cannot take a deployment webhook off the queue");
        }
    }
}

/// Webhooks queued at most this many at a time when `serve` starts.
const REDELIVERY_BATCH: u32 = 1000;
