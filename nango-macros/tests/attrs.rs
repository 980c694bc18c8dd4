//! `#[nango_sync]` / `#[nango_action]`: every supported form compiles and registers; every
//! mistake fails with the error on the offending token (`.stderr` files; `TRYBUILD=overwrite` to
//! accept changes). Cases are built under `target/tests/trybuild/nango-macros`, hence the
//! `../../../../` in their paths.

#[test]
fn attributes() {
    let t = trybuild::TestCases::new();
    t.pass("tests/attrs/pass.rs");
    t.pass("tests/attrs/registry_problems.rs");
    for case in [
        "unknown_sync",
        "not_async",
        "wrong_signature",
        "wrong_action_types",
        "foreign_model",
        "missing_yaml",
        "invalid_yaml",
        "webhook_without_subscriptions",
    ] {
        t.compile_fail(format!("tests/attrs/{case}.rs"));
    }
}
