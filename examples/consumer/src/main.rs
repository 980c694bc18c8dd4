//! An application that consumes what a nango-rs service synced, with `nango-client` alone.
//!
//! Start the seed example's service (`cargo run -p github-tickets -- demo --serve`), then:
//!
//! ```text
//! consumer records [CURSOR]   the demo connection's tickets: the first page, then the rest as
//!                             a stream; prints the cursor to resume from (pass it next time)
//! consumer verify < event     verifies a webhook that reached you through another stack (a
//!                             queue, a serverless function) as {"headers": {..}, "body": ".."}
//! consumer sample-webhook     prints such an event, signed, to try `verify` with
//! ```
//!
//! `NANGO_URL` (default `http://127.0.0.1:3003`), `NANGO_SECRET_KEY` (default the demo's
//! `demo-secret-key`) and `NANGO_WEBHOOK_SIGNING_KEY` (default: the secret key, as the service)
//! configure it.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;

use nango_client::chrono::Utc;
use nango_client::http::{HeaderMap, HeaderName, HeaderValue};
use nango_client::webhooks::{self, SyncIdentity, SyncWebhook, WebhookSyncType, WebhookVerifier};
use nango_client::{ChangeCounts, Model, NangoClient};
use serde::{Deserialize, Serialize};

/// The integration and connection of the github-tickets demo.
const INTEGRATION: &str = "github";
const CONNECTION: &str = "demo";

/// The fields of the demo's `Ticket` this application reads; the others are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ticket {
    id: String,
    number: u64,
    title: String,
    state: String,
}

impl Model for Ticket {
    const NAME: &'static str = "Ticket";
    fn id(&self) -> String {
        self.id.clone()
    }
}

/// A webhook as a queue or a serverless function hands it over: the request's headers and the
/// exact text of its body (the signatures cover those bytes).
#[derive(Debug, Serialize, Deserialize)]
struct WebhookEvent {
    headers: BTreeMap<String, String>,
    body: String,
}

type AppResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["records"] => records(None).await,
        ["records", cursor] => records(Some(cursor.to_string())).await,
        ["verify"] => verify(),
        ["sample-webhook"] => sample_webhook(),
        _ => {
            eprintln!("usage: consumer records [CURSOR] | consumer verify < event.json | consumer sample-webhook");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

fn secret_key() -> String {
    env_or("NANGO_SECRET_KEY", "demo-secret-key")
}

fn signing_key() -> String {
    env_or("NANGO_WEBHOOK_SIGNING_KEY", &secret_key())
}

/// The first page on its own (what a batch job would do), then the rest as a stream from that
/// page's cursor (what a long-running consumer would do).
async fn records(cursor: Option<String>) -> AppResult<()> {
    let client = NangoClient::new(env_or("NANGO_URL", "http://127.0.0.1:3003"), secret_key());
    let mut request = client.records::<Ticket>(INTEGRATION, CONNECTION).limit(100);
    if let Some(cursor) = cursor {
        request = request.cursor(cursor);
    }

    let page = request.page().await?;
    let mut last_cursor = page.records.last().map(|r| r.metadata.cursor.clone());
    let mut count = page.records.len();
    println!("first page: {} tickets", page.records.len());
    for record in &page.records {
        print_ticket(&record.record, &record.metadata.last_action);
    }

    if let Some(next) = page.next_cursor {
        let mut rest = request.cursor(next).stream();
        while let Some(record) = rest.next().await {
            let record = record?;
            print_ticket(&record.record, &record.metadata.last_action);
            // A real consumer saves this after handling the record, to resume exactly here.
            last_cursor = Some(record.metadata.cursor);
            count += 1;
        }
    }
    println!("{count} tickets in all");
    match last_cursor {
        Some(cursor) => println!("resume with: consumer records {cursor}"),
        None => println!("nothing new"),
    }
    Ok(())
}

fn print_ticket(ticket: &Ticket, last_action: &str) {
    println!("  #{:<5} {:<7} {:<8} {}", ticket.number, ticket.state, last_action, ticket.title);
}

/// Verifies the event on stdin, then reads the payload it carries.
fn verify() -> AppResult<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let event: WebhookEvent =
        serde_json::from_str(&text).map_err(|e| format!("stdin is not a {{\"headers\", \"body\"}} event: {e}"))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &event.headers {
        let header = HeaderName::try_from(name.as_str()).map_err(|e| format!("header name {name:?}: {e}"))?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|e| format!("header {name}: {e}"))?;
        headers.insert(header, value);
    }
    let body = event.body.as_bytes();

    // Verified before anything reads the body: an unsigned request learns nothing.
    WebhookVerifier::new(signing_key()).require_timestamp(true).verify(&headers, body, Utc::now())?;
    let hook: SyncWebhook = serde_json::from_slice(body).map_err(|e| format!("the body is not a sync webhook: {e}"))?;
    match (&hook.response_results, &hook.error) {
        (Some(counts), _) => println!(
            "verified: {} of {} ({}): {} added, {} updated, {} deleted",
            hook.model, hook.connection_id, hook.sync_name, counts.added, counts.updated, counts.deleted
        ),
        (None, Some(error)) => {
            println!("verified: {} of {} failed: {}", hook.sync_name, hook.connection_id, error.description)
        }
        (None, None) => println!("verified: {} of {}", hook.model, hook.connection_id),
    }
    Ok(())
}

/// A signed event as the service would send it, in the shape `verify` reads.
fn sample_webhook() -> AppResult<()> {
    let now = Utc::now();
    let hook = SyncWebhook::success(
        SyncIdentity::new(CONNECTION, INTEGRATION, "github-tickets", Ticket::NAME),
        WebhookSyncType::Incremental,
        now,
        ChangeCounts { added: 3, updated: 1, deleted: 0 },
    );
    let body = webhooks::serialize_body(&hook);
    let mut headers = BTreeMap::from([("Content-Type".to_owned(), "application/json".to_owned())]);
    for (name, value) in webhooks::sign(signing_key(), &body, now).pairs() {
        headers.insert(name.to_owned(), value.to_owned());
    }
    let event = WebhookEvent { headers, body: String::from_utf8(body)? };
    println!("{}", serde_json::to_string_pretty(&event)?);
    Ok(())
}
