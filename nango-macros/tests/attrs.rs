//! Compile-time behaviour of the macros, in one trybuild run (one build of the cases'
//! dependencies): `#[nango_sync]` / `#[nango_action]` and the other attributes compile and
//! register in every supported form, and every mistake fails with the error on the offending
//! token; `nango_models!` fails on a bad path or file. Expected errors are the `.stderr` files
//! (`TRYBUILD=overwrite` to accept changes). Cases are built under
//! `target/tests/trybuild/nango-macros`, hence the `../../../../` in their paths.

#[test]
fn macros_compile_or_fail_as_expected() {
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
        "duplicate_sync",
        "stale_models",
    ] {
        t.compile_fail(format!("tests/attrs/{case}.rs"));
    }
    // `nango_models!`
    t.compile_fail("tests/ui/*.rs");
}
