//! The scheduler's bookkeeping after a run against what was decided while the run went on:
//! a frequency set (or a schedule moved) during a run stays, and is not overwritten by the next
//! run time the scheduler computes when the run ends. The sync here holds its run open until the
//! test lets it end, so the order of events is fixed, not left to timing.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

mod models {
    nango_macros::nango_models!("tests/schedule/nango.yaml");
}

use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::server::{ServeOptions, Server};
use nango_runtime::store::{RunStatus, Store};
use nango_runtime::{Connection, NangoSync, Result};
use serde_json::json;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::Notify;

const KEY: &str = "schedule-secret-key";

/// Signals between the held run and the test.
struct Gate {
    started: Notify,
    release: Notify,
}

static GATE: LazyLock<Gate> = LazyLock::new(|| Gate { started: Notify::new(), release: Notify::new() });

/// Says it started, then waits until the test releases it.
#[nango_macros::nango_sync(path = "tests/schedule/nango.yaml", models = crate::models)]
pub async fn held(_nango: &mut NangoSync<models::syncs::Held>) -> Result<()> {
    GATE.started.notify_one();
    GATE.release.notified().await;
    Ok(())
}

#[tokio::test]
async fn a_frequency_set_during_a_run_is_not_overwritten_when_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
    let key = store.save_connection(&Connection::new("github-held", "acme", "github")).await.unwrap();
    let mut options = ServeOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        secret_key: KEY.into(),
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    };
    options.scheduler.tick = Duration::from_millis(20);
    let server = Server::start(Runtime::new(store.clone()), options).await.unwrap();
    let scheduler = &server.state().scheduler;
    // The new connection's sync starts at once and waits, held.
    tokio::time::timeout(Duration::from_secs(10), GATE.started.notified()).await.expect("the run did not start");
    let run = store.runs(Some(key), Some("held"), 1).await.unwrap().remove(0);
    assert_eq!(run.status, RunStatus::Running);
    // While it runs, the connection gets its own frequency: the next run is one new interval
    // after this run's start.
    let answer = reqwest::Client::new()
        .put(format!("http://{}/sync/update-connection-frequency", server.addr()))
        .bearer_auth(KEY)
        .json(&json!({"sync_name": "held", "provider_config_key": "github-held", "connection_id": "acme",
                      "frequency": "every 30 seconds"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{}", answer.text().await.unwrap());
    let decided = store.sync_state(key, "held").await.unwrap().next_run_at;
    assert_eq!(decided, Some(run.started_at + chrono::TimeDelta::seconds(30)));
    // The run ends; the scheduler's bookkeeping runs before it lets go of the schedule.
    GATE.release.notify_one();
    for _ in 0..500 {
        if !scheduler.is_running(key, "held") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!scheduler.is_running(key, "held"), "the run did not end");
    let after = store.sync_state(key, "held").await.unwrap().next_run_at;
    assert_eq!(after, decided, "the frequency set during the run decides the next run, not the bookkeeping after it");
    server.shutdown().await;
}

#[tokio::test]
async fn the_next_run_time_is_set_only_if_it_is_still_the_one_seen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::InsecureClear).await.unwrap();
    let key = store.save_connection(&Connection::new("github-held", "acme", "github")).await.unwrap();
    let t = |s: i64| Some(chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap());
    // Nothing stored yet: "none seen" holds.
    assert!(store.set_next_run_if(key, "held", None, t(0)).await.unwrap());
    assert!(!store.set_next_run_if(key, "held", None, t(1)).await.unwrap());
    assert_eq!(store.sync_state(key, "held").await.unwrap().next_run_at, t(0));
    // Moved by someone else in between: left as they set it.
    store.set_next_run(key, "held", t(5)).await.unwrap();
    assert!(!store.set_next_run_if(key, "held", t(0), t(9)).await.unwrap());
    assert_eq!(store.sync_state(key, "held").await.unwrap().next_run_at, t(5));
    assert!(store.set_next_run_if(key, "held", t(5), t(9)).await.unwrap());
    assert_eq!(store.sync_state(key, "held").await.unwrap().next_run_at, t(9));
}
