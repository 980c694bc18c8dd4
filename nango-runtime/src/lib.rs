//! Runtime of nango-rs: what a program with sync functions links.
//!
//! Generated code reaches this crate only through absolute paths (`::nango_runtime::...`). The
//! HTTP client, sync context, stores, scheduler and server are built on top of the nango.yaml
//! front end in `nango-codegen`.
