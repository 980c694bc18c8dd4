//! The WebSocket Nango's frontend SDK opens before its OAuth popup (at the service's root):
//! it is told its client id (`connection_ack`), the popup carries the id through the flow
//! (`ws_client_id`), and the callback tells the socket the outcome (`success` or `error`).
//!
//! The sockets are held by the process that accepted them; the callback reaches them when the
//! provider redirects to the same process (one `serve`, or sticky routing by path).

use super::sessions::random_token;
use crate::server::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The sockets waiting for an outcome, by client id.
#[derive(Debug, Default)]
pub struct WsClients {
    senders: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
}

impl WsClients {
    /// Sends `message` to the client's socket; whether it was still open.
    pub(crate) fn notify(&self, client_id: &str, message: &Value) -> bool {
        let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        senders.get(client_id).is_some_and(|sender| sender.send(message.to_string()).is_ok())
    }

    fn add(&self, client_id: String, sender: mpsc::UnboundedSender<String>) {
        self.senders.lock().unwrap_or_else(|e| e.into_inner()).insert(client_id, sender);
    }

    fn remove(&self, client_id: &str) {
        self.senders.lock().unwrap_or_else(|e| e.into_inner()).remove(client_id);
    }
}

/// Whether a request asks for a WebSocket.
pub(crate) fn is_upgrade(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Accepts the socket and keeps it until the client closes it.
pub(crate) fn accept(state: Arc<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| serve_socket(state, socket))
}

async fn serve_socket(state: Arc<AppState>, mut socket: WebSocket) {
    let client_id = random_token();
    let (sender, mut outcomes) = mpsc::unbounded_channel::<String>();
    state.ws_clients.add(client_id.clone(), sender);
    let ack = json!({"message_type": "connection_ack", "ws_client_id": client_id});
    if socket.send(Message::Text(ack.to_string().into())).await.is_ok() {
        loop {
            tokio::select! {
                outcome = outcomes.recv() => {
                    let Some(outcome) = outcome else { break };
                    if socket.send(Message::Text(outcome.into())).await.is_err() {
                        break;
                    }
                }
                incoming = socket.recv() => {
                    // The SDK sends nothing; a close or an error ends the wait.
                    match incoming {
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    }
                }
            }
        }
    }
    state.ws_clients.remove(&client_id);
}
