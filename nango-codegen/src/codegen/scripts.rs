//! Typed descriptions of scripts: a unit struct per sync and action implementing
//! `SyncDefinition` / `ActionDefinition`, one per on-event script, the `SYNCS` / `ACTIONS` /
//! `ON_EVENTS` lists, and `PROJECT`, which reaches each script's function through its marker.

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

/// The marker type names of each integration's on-event scripts (in `on_events::`), one per
/// script name (a script that runs on several events has one marker): `UpperCamelCase` of the
/// name, qualified by the integration when two integrations share it. The generator and the
/// `#[nango_on_event]` attribute use this one rule.
pub(crate) fn on_event_markers(integrations: &[&Integration]) -> Vec<Vec<(String, String)>> {
    let scripts: Vec<Vec<&str>> = integrations
        .iter()
        .map(|i| {
            let mut names: Vec<&str> = Vec::new();
            for (_, name) in on_event_scripts(i) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            names
        })
        .collect();
    let clash = |name: &str| scripts.iter().filter(|names| names.contains(&name)).count() > 1;
    let mut taken = NameSet::default();
    integrations
        .iter()
        .zip(&scripts)
        .map(|(integration, names)| {
            names
                .iter()
                .map(|name| {
                    let wanted =
                        if clash(name) { type_name(&format!("{}_{name}", integration.name)) } else { type_name(name) };
                    ((*name).to_owned(), taken.claim(&wanted))
                })
                .collect()
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
    let event_markers = on_event_markers(&all);
    let mut sync_items = Vec::new();
    let mut event_items = Vec::new();
    // What `PROJECT.link` names: each marker's function, of each kind it can have.
    let mut links = Vec::new();
    let mut sync_list = Vec::new();
    let mut action_items = Vec::new();
    let mut action_list = Vec::new();
    let mut event_list = Vec::new();
    for ((scope, (sync_markers, action_markers)), event_markers) in
        integrations.iter().zip(&markers).zip(&event_markers)
    {
        let (integration, emitter, models) = (scope.integration, scope.emitter, &scope.models);
        for (name, marker) in event_markers {
            let marker = ident(marker);
            let doc = format!(" On-event script `{name}` of integration `{}`.", integration.name);
            event_items.push(quote! {
                #[doc = #doc]
                #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::default::Default)]
                pub struct #marker;
            });
            links.push((quote!(on_events::#marker), quote!(OnEvent)));
        }
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
            links.push((quote!(syncs::#marker), quote!(Sync)));
            if !sync.webhook_subscriptions.is_empty() {
                links.push((quote!(syncs::#marker), quote!(Webhook)));
            }
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
            links.push((quote!(actions::#marker), quote!(Action)));
        }
    }
    let link_count = links.len();
    let link_items = links
        .iter()
        .map(|(marker, kind)| quote!((&#rt::__private::Probe::<#marker, #rt::__private::kind::#kind>::NEW).address()));
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
        /// The on-event scripts of nango.yaml, one type each.
        #[allow(dead_code)]
        pub mod on_events {
            #(#event_items)*
        }
        /// Every on-event script of nango.yaml.
        #[allow(dead_code)]
        pub const ON_EVENTS: &[#rt::OnEventDescriptor] = &[#(#event_list),*];
        /// The project: every script of nango.yaml and the link to its function.
        /// `fn main() -> ExitCode { models::PROJECT.main() }` checks that each has one and runs
        /// the command line.
        #[allow(dead_code)]
        pub const PROJECT: #rt::Project = #rt::Project {
            syncs: SYNCS,
            actions: ACTIONS,
            on_events: ON_EVENTS,
            link: __nango_link,
        };
        /// The address of each script's function, naming it so that the linker keeps it.
        // The borrow is what picks `Found` or `Missing` (see `nango::__private::Probe`).
        #[allow(clippy::needless_borrow)]
        fn __nango_link() -> ::std::vec::Vec<usize> {
            #[allow(unused_imports)]
            use #rt::__private::{Found as _, Missing as _};
            let found: [::std::option::Option<usize>; #link_count] = [#(#link_items),*];
            found.into_iter().flatten().collect()
        }
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
