//! `#[nango_sync]` and `#[nango_action]`: parse, check against nango.yaml, expand.
//!
//! The proc-macro crate only forwards tokens here (the sqlx-macros-core pattern), so these
//! functions are tested as a normal library. On any error the user's function is re-emitted
//! unchanged beside the `compile_error!`, so the IDE keeps working.

use crate::codegen::names::ident;
use crate::codegen::scripts::markers;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use std::path::Path;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    /// `#[nango_sync]`
    Sync,
    /// `#[nango_action]`
    Action,
    /// `#[nango_on_event]`
    OnEvent,
    /// `#[nango_webhook]`: the webhook handler of a sync with `webhook-subscriptions`.
    Webhook,
}

impl ScriptKind {
    fn what(self) -> &'static str {
        match self {
            ScriptKind::Sync | ScriptKind::Webhook => "sync",
            ScriptKind::Action => "action",
            ScriptKind::OnEvent => "on-event script",
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            ScriptKind::Sync => "nango_sync",
            ScriptKind::Action => "nango_action",
            ScriptKind::OnEvent => "nango_on_event",
            ScriptKind::Webhook => "nango_webhook",
        }
    }
}

/// Arguments: `"name"` or `name = "..."`, `integration = "..."`, `path = "nango.yaml"`,
/// `models = crate::models`.
#[derive(Default)]
struct Args {
    name: Option<syn::LitStr>,
    integration: Option<syn::LitStr>,
    path: Option<syn::LitStr>,
    models: Option<syn::Path>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        if input.peek(syn::LitStr) {
            args.name = Some(input.parse()?);
            if !input.is_empty() {
                input.parse::<syn::Token![,]>()?;
            }
        }
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            input.parse::<syn::Token![=]>()?;
            match key.to_string().as_str() {
                "name" => args.name = Some(input.parse()?),
                "integration" => args.integration = Some(input.parse()?),
                "path" => args.path = Some(input.parse()?),
                "models" => args.models = Some(input.parse()?),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{other}`: expected `name`, `integration`, `path` or `models`"),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<syn::Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// Expands `#[nango_sync(...)]` / `#[nango_action(...)]` on `item`. `manifest_dir` is the crate's
/// folder (where `nango.yaml` is looked for by default).
pub fn expand(kind: ScriptKind, attr: TokenStream, item: TokenStream, manifest_dir: &Path) -> TokenStream {
    match try_expand(kind, attr, item.clone(), manifest_dir) {
        Ok(tokens) => tokens,
        Err(err) => {
            let error = err.to_compile_error();
            quote! { #item #error }
        }
    }
}

fn try_expand(kind: ScriptKind, attr: TokenStream, item: TokenStream, manifest_dir: &Path) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(attr)?;
    let function: syn::ItemFn = syn::parse2(item)?;
    let fn_name = &function.sig.ident;
    let (script_name, name_span) = match &args.name {
        Some(lit) => (lit.value(), lit.span()),
        None => (heck::ToKebabCase::to_kebab_case(fn_name.to_string().as_str()), fn_name.span()),
    };

    // nango.yaml
    let relative = args.path.as_ref().map_or_else(|| "nango.yaml".to_owned(), syn::LitStr::value);
    let path_span = args.path.as_ref().map_or(Span::call_site(), syn::LitStr::span);
    let yaml = crate::resolve_path(&manifest_dir.join(&relative));
    let output = crate::load(&yaml).map_err(|e| {
        syn::Error::new(
            path_span,
            format!("{e}\n  = help: put nango.yaml next to Cargo.toml, or name it: #[nango_sync(path = \"...\")]"),
        )
    })?;
    if !output.is_valid() {
        let lines: Vec<String> = output.errors().map(|d| d.one_line(&relative)).collect();
        return Err(syn::Error::new(path_span, format!("{relative} is invalid:\n{}", lines.join("\n"))));
    }
    let config = &output.config;

    // Find the script.
    let all: Vec<&crate::Integration> = config.integrations.iter().collect();
    let all_markers = markers(&all);
    let all_event_markers = crate::codegen::scripts::on_event_markers(&all);
    let mut found = Vec::new();
    let mut names = Vec::new();
    let mut event_marker = None;
    for ((integration, (sync_markers, action_markers)), event_markers) in
        config.integrations.iter().zip(&all_markers).zip(&all_event_markers)
    {
        if args.integration.as_ref().is_some_and(|i| i.value() != integration.name) {
            continue;
        }
        match kind {
            ScriptKind::Sync | ScriptKind::Webhook => {
                for (sync, marker) in integration.syncs.iter().zip(sync_markers) {
                    names.push(sync.name.clone());
                    if sync.name == script_name {
                        if kind == ScriptKind::Webhook && sync.webhook_subscriptions.is_empty() {
                            return Err(syn::Error::new(
                                name_span,
                                format!(
                                    "sync `{script_name}` has no `webhook-subscriptions` in nango.yaml, so it receives no webhooks\n  = help: add `webhook-subscriptions: [event, ...]` to the sync"
                                ),
                            ));
                        }
                        found.push((integration.name.clone(), marker.clone()));
                    }
                }
            }
            ScriptKind::OnEvent => {
                for (event, name) in crate::codegen::scripts::on_event_scripts(integration) {
                    names.push(name.to_owned());
                    if name == script_name {
                        found.push((integration.name.clone(), event.to_owned()));
                        if event_marker.is_none() {
                            event_marker = event_markers.iter().find(|(n, _)| n == name).map(|(_, m)| m.clone());
                        }
                    }
                }
            }
            ScriptKind::Action => {
                for (action, marker) in integration.actions.iter().zip(action_markers) {
                    names.push(action.name.clone());
                    if action.name == script_name {
                        found.push((integration.name.clone(), marker.clone()));
                    }
                }
            }
        }
    }
    let what = kind.what();
    let attribute = kind.attribute();
    names.sort();
    names.dedup();
    // An on-event script may run on several events (or integrations): register each.
    let mut on_event_targets = found.clone();
    on_event_targets.sort();
    on_event_targets.dedup();
    let distinct_integrations = {
        let mut ints: Vec<&String> = found.iter().map(|(i, _)| i).collect();
        ints.dedup();
        ints.len()
    };
    let (integration, marker) = match found.as_slice() {
        [one] => one.clone(),
        [first, ..] if kind == ScriptKind::OnEvent && distinct_integrations == 1 => first.clone(),
        [] => {
            let mut message = format!("nango.yaml has no {what} named `{script_name}`");
            if let Some(s) = likely_meant(&script_name, &names) {
                message.push_str(&format!("\n  = help: did you mean `{s}`? Write #[{attribute}(\"{s}\")]"));
            }
            let scope = match &args.integration {
                Some(i) if !config.integrations.iter().any(|int| int.name == i.value()) => {
                    format!("nango.yaml has no integration `{}`", i.value())
                }
                Some(i) => format!("integration `{}` of nango.yaml", i.value()),
                None => "nango.yaml".to_owned(),
            };
            if names.is_empty() {
                if scope.starts_with("nango.yaml has no") {
                    message.push_str(&format!("\n  = note: {scope}"));
                } else {
                    message.push_str(&format!("\n  = note: {scope} declares no {what}s"));
                }
            } else {
                message.push_str(&format!("\n  = note: the {what}s of {scope}: {}", names.join(", ")));
            }
            message.push_str(&format!(
                "\n  = help: if the {what} left nango.yaml, delete this function (`nango generate --prune` removes the scaffolds of scripts that left it)"
            ));
            return Err(syn::Error::new(name_span, message));
        }
        many => {
            let list: Vec<&str> = many.iter().map(|(i, _)| i.as_str()).collect();
            return Err(syn::Error::new(
                name_span,
                format!(
                    "{what} `{script_name}` exists in several integrations ({}): add `integration = \"...\"`",
                    list.join(", ")
                ),
            ));
        }
    };

    // Signature.
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(sig.fn_token.span(), format!("a #[{attribute}] function must be `async fn`")));
    }
    let expected_args = match kind {
        ScriptKind::Sync | ScriptKind::OnEvent => 1,
        ScriptKind::Action | ScriptKind::Webhook => 2,
    };
    if sig.inputs.len() != expected_args {
        let shape = match kind {
            ScriptKind::Sync => {
                format!("async fn {fn_name}(nango: &mut NangoSync<syncs::{marker}>) -> nango::Result<()>")
            }
            ScriptKind::Action => format!(
                "async fn {fn_name}(nango: &mut NangoAction<actions::{marker}>, input: Input) -> nango::Result<Output>"
            ),
            ScriptKind::OnEvent => {
                format!("async fn {fn_name}(nango: &mut nango::NangoEvent) -> nango::Result<()>")
            }
            ScriptKind::Webhook => format!(
                "async fn {fn_name}(nango: &mut NangoSync<syncs::{marker}>, payload: serde_json::Value) -> nango::Result<()>"
            ),
        };
        let span = if sig.inputs.is_empty() { sig.paren_token.span.join() } else { sig.inputs.span() };
        return Err(syn::Error::new(span, format!("expected {expected_args} parameter(s): {shape}")));
    }
    if let Some(syn::FnArg::Receiver(r)) = sig.inputs.first() {
        return Err(syn::Error::new(r.span(), format!("a #[{attribute}] function cannot take `self`")));
    }
    if matches!(sig.output, syn::ReturnType::Default) {
        return Err(syn::Error::new(
            sig.ident.span(),
            "the function must return a `Result` (e.g. `nango::Result<()>`)",
        ));
    }
    let arg_types: Vec<&syn::Type> = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            syn::FnArg::Typed(t) => Some(&*t.ty),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();

    let models = args.models.clone().map_or_else(|| quote!(crate::models), |p| p.to_token_stream());
    let marker_ident = ident(&marker);
    let fn_name_str = fn_name.to_string();
    let tracked = yaml.to_string_lossy().into_owned();
    let ctx_span = arg_types[0].span();
    let registration = match kind {
        ScriptKind::Sync => {
            let call = quote_spanned! {ctx_span=> #fn_name(&mut ctx) };
            sync_runner(&models, &marker_ident, &fn_name_str, quote!(SyncRegistration), quote!(), call)
        }
        ScriptKind::OnEvent => {
            let call = quote_spanned! {ctx_span=> #fn_name(&mut ctx) };
            let submissions = on_event_targets.iter().filter(|(i, _)| *i == integration).map(|(int, event)| {
                let wrapper = quote::format_ident!("__nango_run_{}", event);
                let event = ident(event);
                quote! {
                    fn #wrapper(
                        env: ::nango::ScriptEnv,
                    ) -> ::nango::BoxFuture<::nango::Result<()>> {
                        __nango_run(env, ::nango::OnEvent::#event)
                    }
                    ::nango::__private::inventory::submit! {
                        ::nango::OnEventRegistration {
                            descriptor: ::nango::OnEventDescriptor {
                                integration: #int,
                                event: ::nango::OnEvent::#event,
                                name: #script_name,
                            },
                            function: #fn_name_str,
                            file: ::std::file!(),
                            line: ::std::line!(),
                            run: #wrapper,
                        }
                    }
                }
            });
            quote! {
                fn __nango_run(
                    env: ::nango::ScriptEnv,
                    event: ::nango::OnEvent,
                ) -> ::nango::BoxFuture<::nango::Result<()>> {
                    ::std::boxed::Box::pin(async move {
                        let mut ctx = ::nango::NangoEvent::new(env, event);
                        #call.await?;
                        ::std::result::Result::Ok(())
                    })
                }
                #(#submissions)*
            }
        }
        ScriptKind::Webhook => {
            let call =
                quote_spanned! {ctx_span=> #fn_name(&mut ctx, ::nango::__private::serde_json::from_value(payload)?) };
            let payload = quote!(payload: ::nango::__private::serde_json::Value,);
            sync_runner(&models, &marker_ident, &fn_name_str, quote!(WebhookRegistration), payload, call)
        }
        ScriptKind::Action => {
            let input_span = arg_types[1].span();
            let output_span = sig.output.span();
            let call = quote_spanned! {ctx_span=> #fn_name(&mut ctx, input) };
            let input_ty =
                quote_spanned! {input_span=> <#models::actions::#marker_ident as ::nango::ActionDefinition>::Input };
            let output_ty =
                quote_spanned! {output_span=> <#models::actions::#marker_ident as ::nango::ActionDefinition>::Output };
            // Spanned at the user's return type, so a wrong output model is reported there.
            let output_binding = quote_spanned! {output_span=> let output: #output_ty = #call.await?; };
            quote! {
                fn __nango_run(
                    env: ::nango::ScriptEnv,
                    input: ::nango::__private::serde_json::Value,
                ) -> ::nango::BoxFuture<::nango::Result<::nango::__private::serde_json::Value>> {
                    ::std::boxed::Box::pin(async move {
                        // An input that does not decode is the caller's to fix (a 400 naming the field).
                        let input: #input_ty = ::nango::ActionError::decode_input(#script_name, input)?;
                        let mut ctx = ::nango::NangoAction::<#models::actions::#marker_ident>::new(env);
                        #output_binding
                        ::std::result::Result::Ok(::nango::__private::serde_json::to_value(&output)?)
                    })
                }
                ::nango::__private::inventory::submit! {
                    ::nango::ActionRegistration {
                        descriptor: &<#models::actions::#marker_ident as ::nango::ActionDefinition>::DESCRIPTOR,
                        function: #fn_name_str,
                        file: ::std::file!(),
                        line: ::std::line!(),
                        run: __nango_run,
                    }
                }
            }
        }
    };
    // The marker names the function for `models::PROJECT`, which keeps it linked (see
    // nango-runtime's `project` module). A second function for the script is a second impl: a
    // compile error naming both.
    let (marker_path, link_kind) = match kind {
        ScriptKind::Sync => (quote!(#models::syncs::#marker_ident), quote!(Sync)),
        ScriptKind::Webhook => (quote!(#models::syncs::#marker_ident), quote!(Webhook)),
        ScriptKind::Action => (quote!(#models::actions::#marker_ident), quote!(Action)),
        ScriptKind::OnEvent => {
            let event_marker = ident(event_marker.as_deref().unwrap_or(&script_name));
            (quote!(#models::on_events::#event_marker), quote!(OnEvent))
        }
    };
    let _ = integration;
    Ok(quote! {
        #function
        const _: () = {
            // Re-expand when nango.yaml changes.
            const _: &str = ::std::include_str!(#tracked);
            #registration
            impl ::nango::__private::ScriptFunction<::nango::__private::kind::#link_kind> for #marker_path {
                fn address() -> usize {
                    __nango_run as usize
                }
            }
        };
    })
}

/// The runner and registration of a function that runs with a sync's context: the sync itself
/// (`SyncRegistration`) or its webhook handler (`WebhookRegistration`, with a payload parameter).
fn sync_runner(
    models: &TokenStream,
    marker: &proc_macro2::Ident,
    function: &str,
    registration: TokenStream,
    extra_params: TokenStream,
    call: TokenStream,
) -> TokenStream {
    // Sync registrations also carry their output models' schemas (for `/openapi.json`).
    let extra_fields = if registration.to_string() == "SyncRegistration" {
        quote!(schemas: <#models::syncs::#marker as ::nango::SyncDefinition>::output_schemas,)
    } else {
        quote!()
    };
    quote! {
        fn __nango_run(
            env: ::nango::SyncEnv,
            #extra_params
        ) -> ::nango::BoxFuture<::nango::Result<()>> {
            ::std::boxed::Box::pin(async move {
                let mut ctx = ::nango::NangoSync::<#models::syncs::#marker>::from_env(env);
                // Whatever the function returns, records it handed over are written.
                let result: ::nango::Result<()> = async {
                    #call.await?;
                    ::std::result::Result::Ok(())
                }
                .await;
                ctx.finish(result).await
            })
        }
        ::nango::__private::inventory::submit! {
            ::nango::#registration {
                descriptor: &<#models::syncs::#marker as ::nango::SyncDefinition>::DESCRIPTOR,
                function: #function,
                file: ::std::file!(),
                line: ::std::line!(),
                run: __nango_run,
                #extra_fields
            }
        }
    }
}

/// The script the user most likely meant: a close typo, else (a renamed script) the only one, or
/// one that shares at least half of the name.
fn likely_meant(name: &str, names: &[String]) -> Option<String> {
    if let Some(s) = crate::models::suggest(name, names.iter().map(String::as_str)) {
        return Some(s);
    }
    if let [only] = names {
        return Some(only.clone());
    }
    names
        .iter()
        .map(|n| (strsim::osa_distance(name, n), n))
        .filter(|(d, n)| *d * 2 <= name.len().max(n.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}
