//! A deployment manifest from nango.yaml text, through nango-codegen: the descriptors and model
//! schemas the generated code of that text would register, without building a program. Shared
//! by the runtime's deploy tests and the example's (`#[path]`), so both read nango.yaml the same
//! way; the example's test checks that it gives what the real binary deploys.

use nango_runtime::deploy::Manifest;
use nango_runtime::{ActionDescriptor, Endpoint, OnEvent, OnEventDescriptor, SyncDescriptor};

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn leak_all(items: &[String]) -> &'static [&'static str] {
    Box::leak(items.iter().map(|s| leak(s)).collect::<Vec<_>>().into_boxed_slice())
}

fn endpoint(e: &nango_codegen::Endpoint) -> Endpoint {
    Endpoint { method: e.method, path: leak(&e.path), group: e.group.as_deref().map(leak) }
}

/// The manifest a program built from this nango.yaml deploys (every script with its function).
pub fn manifest_of(yaml: &str) -> Manifest {
    let out = nango_codegen::parse(yaml, "nango.yaml");
    assert!(out.is_valid(), "invalid nango.yaml: {:?}", out.errors().collect::<Vec<_>>());
    let settings = nango_codegen::Settings::default();
    let document: &'static str = leak(&nango_codegen::codegen::schema_json(&out.config, &settings).to_string());
    let flows = out.config.layout == Some(nango_codegen::Layout::Flows);
    let mut syncs = Vec::new();
    let mut actions = Vec::new();
    let mut on_events = Vec::new();
    for integration in &out.config.integrations {
        let prefix = if flows { format!("{}.", integration.name) } else { String::new() };
        for s in &integration.syncs {
            let descriptor: &'static SyncDescriptor = Box::leak(Box::new(SyncDescriptor {
                name: leak(&s.name),
                integration: leak(&integration.name),
                description: leak(&s.description),
                runs: leak(&s.runs),
                interval: s.schedule.as_ref().map_or(std::time::Duration::ZERO, |x| x.interval),
                sync_type: s.sync_type,
                track_deletes: s.track_deletes,
                auto_start: s.auto_start,
                input: s.input.as_deref().map(leak),
                outputs: leak_all(&s.output),
                endpoints: Box::leak(s.endpoints.iter().map(endpoint).collect::<Vec<_>>().into_boxed_slice()),
                scopes: leak_all(&s.scopes),
                webhook_subscriptions: leak_all(&s.webhook_subscriptions),
                version: leak(&s.version),
            }));
            let schemas: Vec<(&str, serde_json::Value)> = s
                .output
                .iter()
                .map(|m| {
                    let definition = leak(&format!("{prefix}{m}"));
                    (definition, nango_runtime::__private::model_schema(document, definition))
                })
                .collect();
            syncs.push((descriptor, schemas));
        }
        for a in &integration.actions {
            actions.push(&*Box::leak(Box::new(ActionDescriptor {
                name: leak(&a.name),
                integration: leak(&integration.name),
                description: leak(&a.description),
                input: a.input.as_deref().map(leak),
                outputs: leak_all(a.output.as_deref().unwrap_or_default()),
                endpoint: a.endpoint.as_ref().map(endpoint),
                scopes: leak_all(&a.scopes),
                version: leak(&a.version),
            })));
        }
        let events = &integration.on_events;
        let scripts = [
            (OnEvent::PostConnectionCreation, &events.post_connection_creation),
            (OnEvent::PostConnectionCreation, &integration.post_connection_scripts),
            (OnEvent::PreConnectionDeletion, &events.pre_connection_deletion),
            (OnEvent::ValidateConnection, &events.validate_connection),
        ];
        for (event, names) in scripts {
            for name in names {
                on_events.push(&*Box::leak(Box::new(OnEventDescriptor {
                    integration: leak(&integration.name),
                    event,
                    name: leak(name),
                })));
            }
        }
    }
    Manifest::from_descriptors(&syncs, &actions, &on_events)
}
