//! The scripts' SDK against a real SQLite store: one helper written against `NangoScript` serves
//! a sync and an action (connection config, credentials as secrets, metadata updates, logs at
//! levels, environment variables); `get_records_by_ids` reads back what a run saved;
//! `set_merging_strategy` leaves alone a record another writer changed during the run; an
//! `ActionError` keeps its payload.

// Generated code and the macros' expansions name the runtime `::nango` (the facade crate);
// these tests have the runtime itself under that name.
extern crate nango_runtime as nango;

use nango_runtime::crypto::Sealer;
use nango_runtime::engine::Runtime;
use nango_runtime::store::{ConnectionKey, PreparedRecord, RecordQuery, Store};
use nango_runtime::{
    ActionError, Connection, Credentials, EnvironmentVariable, LogLevel, MergingStrategy, NangoAction, NangoScript,
    NangoSync, RecordChange, Result, Secret,
};
use std::sync::OnceLock;

mod models {
    nango_macros::nango_models!("tests/script_sdk/nango.yaml");
}
use models::{Note, NoteSettings, TagInput, TagOutput};

/// Written once for every kind of script: what Nango templates put in `helpers/`.
async fn subdomain_and_region(nango: &mut impl NangoScript, tag: &str) -> Result<(String, String)> {
    let connection = nango.get_connection();
    let subdomain = connection.connection_config.get("subdomain").cloned().ok_or("no subdomain")?;
    // Credentials are secrets: their Debug form never shows them.
    assert!(!format!("{connection:?}").contains("s3cret"));
    let region = nango
        .get_environment_variables()
        .iter()
        .find(|v| v.name == "REGION")
        .map(|v| v.value.clone())
        .unwrap_or_default();
    nango.update_metadata(&serde_json::json!({ "tag": tag })).await?;
    nango.log_at(LogLevel::Warn, format!("tagged {subdomain} with {tag}"));
    Ok((subdomain, region))
}

/// The store, for the "other writer" of the merging test.
static STORE: OnceLock<(Store, ConnectionKey)> = OnceLock::new();

#[nango_macros::nango_sync(path = "tests/script_sdk/nango.yaml", models = crate::models)]
async fn notes(nango: &mut NangoSync<models::syncs::Notes>) -> Result<()> {
    let settings: NoteSettings = nango.metadata()?;
    let phase = settings.phase.unwrap_or(0.0) as u32;
    subdomain_and_region(nango, "from-sync").await?;
    if phase == 0 {
        nango.batch_save([note("1", "one"), note("2", "two")]).await?;
        // Read back in the same run: what was handed over is written first.
        let found = nango.get_records_by_ids::<Note>(["2", "3", "1"]).await?;
        assert_eq!(found.keys().collect::<Vec<_>>(), ["1", "2"]);
        return Ok(());
    }
    // A later run: the first run's records are there.
    assert_eq!(nango.get_records_by_ids::<Note>(["1"]).await?["1"].text, "one");
    nango.set_merging_strategy::<Note>(MergingStrategy::IgnoreIfModifiedAfter).await?;
    // Meanwhile another writer (a webhook, say) changes note 2...
    let (store, key) = STORE.get().unwrap();
    let other = store.begin_run(*key, "webhook", false).await?;
    let changed = PreparedRecord::new("Note", serde_json::json!({"id": "2", "text": "changed by a webhook"}))?;
    store.apply(other.ids, "Note", RecordChange::Save, vec![changed]).await?;
    // ...so the sync's older copy of it is ignored, while note 1 is overwritten.
    nango.batch_save([note("1", "one, again"), note("2", "stale")]).await?;
    Ok(())
}

fn note(id: &str, text: &str) -> Note {
    Note { id: id.into(), text: text.into() }
}

#[nango_macros::nango_action(path = "tests/script_sdk/nango.yaml", models = crate::models)]
async fn tag_note(nango: &mut NangoAction<models::actions::TagNote>, input: TagInput) -> Result<TagOutput> {
    if input.tag.is_empty() {
        return Err(ActionError::new(serde_json::json!({"code": "empty_tag", "field": "tag"})).into());
    }
    let (subdomain, region) = subdomain_and_region(nango, &input.tag).await?;
    let settings: NoteSettings = nango.get_metadata()?;
    Ok(TagOutput { subdomain, region, tags_seen: f64::from(u8::from(settings.tag.is_some())) })
}

async fn setup() -> (tempfile::TempDir, Runtime, ConnectionKey) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nango.db").display());
    let store = Store::open(&url, Sealer::from_base64(&Sealer::generate_key()).unwrap()).await.unwrap();
    let mut c = Connection::new("zendesk", "acme", "zendesk");
    c.credentials = Credentials::Basic { username: "me@acme.test".into(), password: Secret::new("s3cret") };
    c.connection_config.insert("subdomain".into(), "acme".into());
    c.metadata = serde_json::json!({"locale": "fr"});
    let key = store.save_connection(&c).await.unwrap();
    let runtime = Runtime::new(store).with_environment_variables(vec![EnvironmentVariable::new("REGION", "eu")]);
    (dir, runtime, key)
}

async fn metadata(runtime: &Runtime) -> serde_json::Value {
    runtime.store().connection("zendesk", "acme").await.unwrap().unwrap().connection.metadata
}

#[tokio::test]
async fn an_action_shares_the_helpers_and_persists_metadata() {
    let (_dir, runtime, _) = setup().await;
    let action = nango_runtime::registered_actions().find(|a| a.descriptor.name == "tag-note").unwrap();
    let env = runtime.script_env("zendesk", "acme").await.unwrap();
    let output = action.call(env, serde_json::json!({"tag": "vip"})).await.unwrap();
    assert_eq!(output, serde_json::json!({"subdomain": "acme", "region": "eu", "tags_seen": 1.0}));
    // update_metadata merged: the locale is kept.
    assert_eq!(metadata(&runtime).await, serde_json::json!({"locale": "fr", "tag": "vip"}));

    let env = runtime.script_env("zendesk", "acme").await.unwrap();
    let err = action.call(env, serde_json::json!({"tag": ""})).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (500, "action_script_runtime_error"));
    assert_eq!(err.payload(), Some(&serde_json::json!({"code": "empty_tag", "field": "tag"})));
}

#[tokio::test]
async fn a_sync_reads_records_back_and_keeps_changes_of_other_writers() {
    let (_dir, runtime, key) = setup().await;
    STORE.set((runtime.store().clone(), key)).ok().unwrap();
    let sync = nango_runtime::registered_syncs().find(|s| s.descriptor.name == "notes").unwrap();
    let report = runtime.run_sync(sync, "zendesk", "acme").await.unwrap();
    assert_eq!(report.error, None);
    assert_eq!(metadata(&runtime).await, serde_json::json!({"locale": "fr", "tag": "from-sync"}));
    let logs = runtime.store().run_logs(report.run_id).await.unwrap();
    assert!(logs.iter().any(|l| l.level == "warn" && l.message == "tagged acme with from-sync"), "{logs:?}");

    runtime.store().set_metadata(key, &serde_json::json!({"phase": 1})).await.unwrap();
    let report = runtime.run_sync(sync, "zendesk", "acme").await.unwrap();
    assert_eq!(report.error, None);
    let query = RecordQuery { model: "Note".into(), limit: 10, ..Default::default() };
    let texts: Vec<String> = runtime
        .store()
        .records(key, &query)
        .await
        .unwrap()
        .records
        .iter()
        .map(|r| r.data()["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(texts.contains(&"one, again".to_owned()), "{texts:?}");
    assert!(texts.contains(&"changed by a webhook".to_owned()), "{texts:?}");
    assert!(!texts.contains(&"stale".to_owned()), "{texts:?}");
}

#[test]
fn log_levels_are_an_enum_with_nangos_names() {
    assert_eq!(LogLevel::parse("silly"), Some(LogLevel::Debug));
    assert_eq!(serde_json::to_value(LogLevel::Warn).unwrap(), "warn");
}
