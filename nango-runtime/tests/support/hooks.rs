//! A webhook receiver on loopback for the tests that check what `serve` sends: it keeps every
//! request (headers and body) and answers with the statuses it was given, in turn. Included by
//! `#[path]` from each test file that needs it.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::sync::{Arc, Mutex};

/// What a receiver got, in arrival order.
pub type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver that answers every request with 200; returns its URL and what it gets.
pub async fn webhook_receiver() -> (String, Received) {
    answering(Vec::new()).await
}

/// A receiver that answers its first requests with `statuses`, in turn, and 200 after them:
/// how the tests make a consumer fail and recover.
pub async fn answering(statuses: Vec<u16>) -> (String, Received) {
    let got: Received = Arc::default();
    let kept = got.clone();
    let statuses = Arc::new(Mutex::new(statuses.into_iter()));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            let statuses = statuses.clone();
            async move {
                kept.lock().unwrap().push((headers, body));
                let status = statuses.lock().unwrap().next().unwrap_or(200);
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}
