//! Proc macros of nango-rs.
//!
//! This crate is a thin shim: all logic lives in `nango-codegen`, a normal library that tests
//! call directly (the sqlx-macros-core pattern). The macros (`nango_models!`, `#[nango_sync]`,
//! `#[nango_action]`) arrive with the code generator.
