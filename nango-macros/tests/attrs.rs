//! `#[nango_sync]` / `#[nango_action]`: every supported form compiles and registers; every
//! mistake fails with the error on the offending token (`.stderr` files; `TRYBUILD=overwrite` to
//! accept changes). Cases are built under `target/tests/trybuild/nango-macros`, hence the
//! `../../../../` in their paths.

#[test]
fn attributes() {
    let t = trybuild::TestCases::new();
    t.pass("tests/attrs/pass.rs");
    for case in [
        "unknown_sync",
        "not_async",
        "wrong_signature",
        "wrong_action_types",
        "foreign_model",
        "missing_yaml",
        "invalid_yaml",
    ] {
        t.compile_fail(format!("tests/attrs/{case}.rs"));
    }
}
