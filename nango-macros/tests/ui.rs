//! Compile errors of `nango_models!`, checked against `.stderr` files (`TRYBUILD=overwrite` to
//! accept changes). trybuild builds the cases under `target/tests/trybuild/nango-macros`, hence
//! the `../../../../` in their paths.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
