//! Proc macros of nango-rs, re-exported by the `nango` crate (`#[nango::nango_sync]`, ...).
//!
//! This crate is a thin shim: all logic lives in `nango-codegen`, a normal library that tests
//! call directly (the sqlx-macros-core pattern).

use nango_codegen::attrs::{ScriptKind, expand as expand_script};
use proc_macro::TokenStream;

fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from).unwrap_or_default()
}

/// Marks `async fn name(nango: &mut NangoSync<syncs::Name>) -> nango::Result<()>` as the
/// implementation of a sync of nango.yaml, checked at compile time, and registers it.
///
/// The sync is the function's name in kebab-case, or given: `#[nango_sync("github-issues")]`.
/// Other arguments: `integration = "..."` (when two integrations have a sync of that name),
/// `path = "nango.yaml"` (relative to Cargo.toml), `models = crate::models` (where the generated
/// models are). A sync that nango.yaml does not declare, a wrong signature, or saving a model
/// that is not one of the sync's outputs fails to compile, with the error on the offending token.
#[proc_macro_attribute]
pub fn nango_sync(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_script(ScriptKind::Sync, attr.into(), item.into(), &manifest_dir()).into()
}

/// Marks `async fn name(nango: &mut NangoAction<actions::Name>, input: In) -> nango::Result<Out>`
/// as the implementation of an action of nango.yaml; `In` and `Out` must be the models nango.yaml
/// names. Arguments as for [`macro@nango_sync`].
#[proc_macro_attribute]
pub fn nango_action(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_script(ScriptKind::Action, attr.into(), item.into(), &manifest_dir()).into()
}

/// Marks `async fn name(nango: &mut nango::NangoEvent) -> nango::Result<()>` as
/// an `on-events` script of nango.yaml (`post-connection-creation`, `pre-connection-deletion`,
/// `validate-connection`, or the deprecated `post-connection-scripts`). Arguments as for
/// [`macro@nango_sync`].
#[proc_macro_attribute]
pub fn nango_on_event(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_script(ScriptKind::OnEvent, attr.into(), item.into(), &manifest_dir()).into()
}

/// Marks `async fn name(nango: &mut NangoSync<syncs::Name>, payload: P) -> nango::Result<()>`
/// as the webhook handler of a sync that has `webhook-subscriptions` (`P` is any type that
/// deserializes from the payload JSON, e.g. `serde_json::Value`). Name the sync explicitly:
/// `#[nango_webhook("github-issues")]`.
#[proc_macro_attribute]
pub fn nango_webhook(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_script(ScriptKind::Webhook, attr.into(), item.into(), &manifest_dir()).into()
}

/// Generates the typed models and sync/action descriptions of a nango.yaml, in place.
///
/// The path is relative to the crate's `Cargo.toml` folder. The expansion is the same code that
/// `nango generate` writes and `nango_codegen::compile` puts in `OUT_DIR`, and it is re-expanded
/// whenever the YAML changes. Errors in the YAML fail the build with `nango.yaml:LINE:COL`
/// messages on the path literal.
///
/// ```
/// mod models {
///     // Usually just "nango.yaml"; this example reads a fixture of the nango-rs repository.
///     nango_macros::nango_models!("../fixtures/valid/github/nango.yaml");
/// }
/// assert_eq!(models::SYNCS[0].name, "github-tickets");
/// assert_eq!(<models::Ticket as nango::Model>::NAME, "Ticket");
/// ```
#[proc_macro]
pub fn nango_models(input: TokenStream) -> TokenStream {
    let literal = match syn::parse::<syn::LitStr>(input) {
        Ok(l) => l,
        Err(e) => return e.to_compile_error().into(),
    };
    let base = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from).unwrap_or_default();
    expand(&literal, &base).into()
}

fn expand(literal: &syn::LitStr, base: &std::path::Path) -> proc_macro2::TokenStream {
    let path = nango_codegen::resolve_path(&base.join(literal.value()));
    let error = |message: String| syn::Error::new(literal.span(), message).to_compile_error();
    let output = match nango_codegen::load(&path) {
        Ok(o) => o,
        Err(e) => return error(format!("{e} (paths are relative to the crate's Cargo.toml folder)")),
    };
    let shown = literal.value();
    if !output.is_valid() {
        let lines: Vec<String> = output.errors().map(|d| d.one_line(&shown)).collect();
        return error(format!("{shown} is invalid:\n{}", lines.join("\n")));
    }
    let tokens = nango_codegen::generate_tokens(&output.config, &nango_codegen::Settings::default());
    let tracked = path.to_string_lossy().into_owned();
    quote::quote! {
        #tokens
        // Re-expand when nango.yaml changes.
        const _: &str = include_str!(#tracked);
    }
}
