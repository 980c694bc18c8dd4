//! Typed descriptions of syncs and actions: a unit struct per script implementing
//! `SyncDefinition` / `ActionDefinition`, and `SYNCS` / `ACTIONS` lists.

use super::names::{NameSet, ident, type_name};
use super::types::ModelEmitter;
use crate::ir::{Endpoint, HttpMethod, Integration, SyncType};
use proc_macro2::TokenStream;
use quote::quote;

fn endpoint(rt: &TokenStream, e: &Endpoint) -> TokenStream {
    let method = match e.method {
        HttpMethod::Get => quote!(Get),
        HttpMethod::Post => quote!(Post),
        HttpMethod::Put => quote!(Put),
        HttpMethod::Patch => quote!(Patch),
        HttpMethod::Delete => quote!(Delete),
    };
    let path = &e.path;
    let group = match &e.group {
        Some(g) => quote!(::std::option::Option::Some(#g)),
        None => quote!(::std::option::Option::None),
    };
    quote!(#rt::Endpoint { method: #rt::Method::#method, path: #path, group: #group })
}

fn opt_str(s: &Option<String>) -> TokenStream {
    match s {
        Some(s) => quote!(::std::option::Option::Some(#s)),
        None => quote!(::std::option::Option::None),
    }
}

/// The marker type names of each integration's syncs and actions (in `syncs::` / `actions::`):
/// `UpperCamelCase` of the script name, qualified by the integration when two integrations
/// share a script name, unique across both modules. The generator, the scaffolds and the
/// attribute macros all use this one rule.
pub(crate) fn markers(integrations: &[&Integration]) -> Vec<(Vec<String>, Vec<String>)> {
    let clash = |name: &str| {
        integrations.len() > 1
            && integrations
                .iter()
                .filter(|i| i.syncs.iter().any(|s| s.name == name) || i.actions.iter().any(|a| a.name == name))
                .count()
                > 1
    };
    let mut names = NameSet::default();
    integrations
        .iter()
        .map(|integration| {
            let mut claim = |script: &str| {
                let wanted = if clash(script) {
                    type_name(&format!("{}_{script}", integration.name))
                } else {
                    type_name(script)
                };
                names.claim(&wanted)
            };
            let syncs = integration.syncs.iter().map(|s| claim(&s.name)).collect();
            let actions = integration.actions.iter().map(|a| claim(&a.name)).collect();
            (syncs, actions)
        })
        .collect()
}

/// An integration and where its models are.
pub(crate) struct Scope<'a> {
    pub integration: &'a Integration,
    /// Names the models' Rust types.
    pub emitter: &'a ModelEmitter<'a>,
    /// How the `syncs` / `actions` modules reach the models (`super` or `super::github`).
    pub models: TokenStream,
}

impl Scope<'_> {
    /// The `schema.json` definition name of one of the integration's models.
    fn definition(&self, model: &str) -> String {
        format!("{}{model}", self.emitter.def_prefix)
    }
}

/// The `syncs` and `actions` modules and the `SYNCS` / `ACTIONS` lists for some integrations.
pub(crate) fn scripts(rt: &TokenStream, integrations: &[Scope]) -> TokenStream {
    let all: Vec<&Integration> = integrations.iter().map(|s| s.integration).collect();
    let markers = markers(&all);
    let mut sync_items = Vec::new();
    let mut sync_list = Vec::new();
    let mut action_items = Vec::new();
    let mut action_list = Vec::new();
    let mut event_list = Vec::new();
    for (scope, (sync_markers, action_markers)) in integrations.iter().zip(&markers) {
        let (integration, emitter, models) = (scope.integration, scope.emitter, &scope.models);
        for (event, name) in on_event_scripts(integration) {
            let event = ident(event);
            let int = &integration.name;
            event_list
                .push(quote!(#rt::OnEventDescriptor { integration: #int, event: #rt::OnEvent::#event, name: #name }));
        }
        for (sync, marker) in integration.syncs.iter().zip(sync_markers) {
            let marker = ident(marker);
            let (name, int, desc, runs) = (&sync.name, &integration.name, &sync.description, &sync.runs);
            let interval = sync.schedule.as_ref().map_or(0, |s| s.interval.as_millis() as u64);
            let sync_type = match sync.sync_type {
                SyncType::Full => quote!(Full),
                SyncType::Incremental => quote!(Incremental),
            };
            let (track, auto) = (sync.track_deletes, sync.auto_start);
            let input = opt_str(&sync.input);
            let outputs = &sync.output;
            let endpoints = sync.endpoints.iter().map(|e| endpoint(rt, e));
            let scopes = &sync.scopes;
            let hooks = &sync.webhook_subscriptions;
            let version = &sync.version;
            let metadata = match &sync.input {
                Some(i) => {
                    let t = emitter.type_of(i);
                    quote!(#models::#t)
                }
                None => quote!(()),
            };
            let doc = format!(" Sync `{name}` of integration `{int}`: {runs}.");
            let output_impls = sync.output.iter().map(|o| {
                let t = emitter.type_of(o);
                quote!(impl #rt::SyncOutput<#models::#t> for #marker {})
            });
            let output_schemas = sync.output.iter().map(|o| {
                let t = emitter.type_of(o);
                let definition = scope.definition(o);
                quote!((#definition, <#models::#t as #rt::Model>::json_schema()))
            });
            sync_items.push(quote! {
                #[doc = #doc]
                #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::default::Default)]
                pub struct #marker;
                impl #rt::SyncDefinition for #marker {
                    const DESCRIPTOR: #rt::SyncDescriptor = #rt::SyncDescriptor {
                        name: #name,
                        integration: #int,
                        description: #desc,
                        runs: #runs,
                        interval: ::std::time::Duration::from_millis(#interval),
                        sync_type: #rt::SyncType::#sync_type,
                        track_deletes: #track,
                        auto_start: #auto,
                        input: #input,
                        outputs: &[#(#outputs),*],
                        endpoints: &[#(#endpoints),*],
                        scopes: &[#(#scopes),*],
                        webhook_subscriptions: &[#(#hooks),*],
                        version: #version,
                    };
                    type Metadata = #metadata;
                    fn output_schemas() -> ::std::vec::Vec<(&'static str, #rt::__private::serde_json::Value)> {
                        ::std::vec![#(#output_schemas),*]
                    }
                }
                #(#output_impls)*
            });
            sync_list.push(quote!(<syncs::#marker as #rt::SyncDefinition>::DESCRIPTOR));
        }
        for (action, marker) in integration.actions.iter().zip(action_markers) {
            let marker = ident(marker);
            let (name, int, desc, version) = (&action.name, &integration.name, &action.description, &action.version);
            let input = opt_str(&action.input);
            let outputs: Vec<&String> = action.output.iter().flatten().collect();
            let endpoint = match &action.endpoint {
                Some(e) => {
                    let e = endpoint(rt, e);
                    quote!(::std::option::Option::Some(#e))
                }
                None => quote!(::std::option::Option::None),
            };
            let scopes = &action.scopes;
            let input_ty = match &action.input {
                Some(i) => {
                    let t = emitter.type_of(i);
                    quote!(#models::#t)
                }
                None => quote!(()),
            };
            let output_ty = match outputs.as_slice() {
                [] => quote!(()),
                [one] => {
                    let t = emitter.type_of(one);
                    quote!(#models::#t)
                }
                _ => quote!(#rt::__private::serde_json::Value),
            };
            let doc = format!(" Action `{name}` of integration `{int}`.");
            action_items.push(quote! {
                #[doc = #doc]
                #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::default::Default)]
                pub struct #marker;
                impl #rt::ActionDefinition for #marker {
                    const DESCRIPTOR: #rt::ActionDescriptor = #rt::ActionDescriptor {
                        name: #name,
                        integration: #int,
                        description: #desc,
                        input: #input,
                        outputs: &[#(#outputs),*],
                        endpoint: #endpoint,
                        scopes: &[#(#scopes),*],
                        version: #version,
                    };
                    type Input = #input_ty;
                    type Output = #output_ty;
                }
            });
            action_list.push(quote!(<actions::#marker as #rt::ActionDefinition>::DESCRIPTOR));
        }
    }
    quote! {
        /// The syncs of nango.yaml, one type each.
        #[allow(dead_code)]
        pub mod syncs {
            #(#sync_items)*
        }
        /// The actions of nango.yaml, one type each.
        #[allow(dead_code)]
        pub mod actions {
            #(#action_items)*
        }
        /// Every sync of nango.yaml.
        #[allow(dead_code)]
        pub const SYNCS: &[#rt::SyncDescriptor] = &[#(#sync_list),*];
        /// Every action of nango.yaml.
        #[allow(dead_code)]
        pub const ACTIONS: &[#rt::ActionDescriptor] = &[#(#action_list),*];
        /// Every on-event script of nango.yaml.
        #[allow(dead_code)]
        pub const ON_EVENTS: &[#rt::OnEventDescriptor] = &[#(#event_list),*];
    }
}

/// Every on-event script of an integration with its event, in file order (the deprecated
/// `post-connection-scripts` count as post-connection-creation scripts).
pub(crate) fn on_event_scripts(integration: &Integration) -> Vec<(&'static str, &str)> {
    let on = &integration.on_events;
    let groups: [(&'static str, &Vec<String>); 4] = [
        ("PostConnectionCreation", &on.post_connection_creation),
        ("PreConnectionDeletion", &on.pre_connection_deletion),
        ("ValidateConnection", &on.validate_connection),
        ("PostConnectionCreation", &integration.post_connection_scripts),
    ];
    groups.into_iter().flat_map(|(event, names)| names.iter().map(move |n| (event, n.as_str()))).collect()
}
