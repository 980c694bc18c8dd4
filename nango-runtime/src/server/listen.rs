//! Accepting connections under limits: a request head must arrive within
//! [`ServerLimits::header_read_timeout`] (which also closes kept-alive connections left idle that
//! long), a request body within [`ServerLimits::request_body_timeout`] of its head, and at most
//! [`ServerLimits::max_connections`] are served at once (the next wait in the listen backlog).
//! Half-sent requests (slowloris) therefore hold a connection for a bounded time, and never more
//! connections than the limit.
//!
//! axum's own `serve` offers none of these, so connections are served here with hyper's HTTP/1
//! connection builder (the one axum uses), with a timer for the header timeout.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Limits of the HTTP server of `serve`.
///
/// ```
/// use nango_runtime::server::ServerLimits;
/// let limits = ServerLimits { max_connections: 64, ..ServerLimits::default() };
/// assert_eq!(limits.header_read_timeout.as_secs(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a client has to send a whole request head, from when the server starts waiting
    /// for it: on a new connection, and on a kept-alive one after its last response (so it is
    /// also how long an idle connection stays open). 10 s by default.
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's whole body once its head arrived; a late body
    /// is answered `408 Request Timeout` and the connection closed. 30 s by default.
    pub request_body_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog until one closes. 1024 by
    /// default.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            request_body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` under `limits` until `stop` turns true; then stops accepting,
/// lets every connection finish its request in flight, and returns when all are closed.
pub(super) async fn serve(listener: TcpListener, app: Router, limits: ServerLimits, mut stop: watch::Receiver<bool>) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    loop {
        // A slot first: past the limit, connections wait in the backlog, unread.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopping(&mut stop) => break,
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopping(&mut stop) => break,
        };
        let body_timeout = limits.request_body_timeout;
        let service = app.clone().map_request(move |request: Request<Incoming>| {
            request.map(|body| Body::new(Deadline::new(body, body_timeout)))
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // With upgrades: the frontend SDK's WebSocket (see `connect::ws`) starts as an HTTP request.
            let connection =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = stopping(&mut stop) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    // Every slot back means every connection closed.
    let _ = slots.acquire_many(max as u32).await;
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A request body that fails once its deadline passed: what a handler reading it sees is an
/// error ([`BodyTimedOut`] in its source chain), answered `408`.
struct Deadline {
    body: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl Deadline {
    fn new(body: Incoming, limit: Duration) -> Deadline {
        Deadline { body, deadline: Box::pin(tokio::time::sleep(limit)), limit }
    }
}

/// The request body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} ms", .0.as_millis())]
pub struct BodyTimedOut(pub Duration);

impl HttpBody for Deadline {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(self.limit))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
