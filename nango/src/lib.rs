//! nango-rs: Nango-style continuous data syncs for Rust, in one crate.
//!
//! This crate is what a program names in its Cargo.toml: it re-exports the runtime
//! (`nango-runtime`: contexts, the registry, the HTTP client, the store, the engine, the CLI and
//! `serve`) and the macros (`nango-macros`: `#[nango_sync]`, `#[nango_action]`,
//! `#[nango_on_event]`, `#[nango_webhook]`, `nango_models!`). Code generated from nango.yaml
//! names the runtime only through absolute `::nango::...` paths, so the generated models and
//! the attributes' expansions compile with this one dependency. (A crate that depends on
//! `nango-runtime` directly renames it: `nango = { package = "nango-runtime", ... }`.)
//!
//! A whole program: nango.yaml, the models generated from it (here by the macro; `nango
//! generate` writes them to src/models.rs, a build script to `OUT_DIR`), one function per
//! script, and a one-line `main` that checks every script has its function and runs the CLI
//! (`connections add`, `syncs`, `dryrun`, `run`, `action`, `records`, `runs`, `serve`):
//!
//! ```no_run
//! mod models {
//!     // Usually "nango.yaml"; this example reads a fixture of the nango-rs repository.
//!     nango::nango_models!("../fixtures/valid/github/nango.yaml");
//! }
//! use nango::{NangoAction, NangoSync};
//!
//! #[nango::nango_sync(path = "../fixtures/valid/github/nango.yaml")]
//! async fn github_tickets(nango: &mut NangoSync<models::syncs::GithubTickets>) -> nango::Result<()> {
//!     let mut pages = nango.paginate::<models::Ticket>("/tickets");
//!     while let Some(page) = pages.next_page().await? {
//!         nango.batch_save(page).await?;
//!     }
//!     Ok(())
//! }
//!
//! #[nango::nango_action(path = "../fixtures/valid/github/nango.yaml")]
//! async fn create_ticket(
//!     nango: &mut NangoAction<models::actions::CreateTicket>,
//!     input: models::CreateTicket,
//! ) -> nango::Result<models::Ticket> {
//!     Ok(nango.post("/tickets").json(&input).send_json().await?)
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     models::PROJECT.main()
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[doc(inline)]
pub use nango_runtime::*;

#[doc(inline)]
pub use nango_macros::{nango_action, nango_models, nango_on_event, nango_sync, nango_webhook};

/// serde_json as the runtime uses it (`nango::serde_json::Value` for webhook payloads, `json!`
/// for action error payloads), so a program needs no dependency of its own for them. Raw API
/// structs with `#[derive(Deserialize)]` need the program's own `serde` dependency (with the
/// `derive` feature).
pub use nango_runtime::__private::serde_json;

/// chrono as the runtime uses it: generated models type `date` fields
/// `nango::chrono::DateTime<nango::chrono::Utc>`, and raw API structs can use the same type.
pub use nango_runtime::__private::chrono;
