//! Hostile and broken input gives diagnostics, never a panic or a hang.

use nango_codegen::parse;

fn assert_rejected(src: &str, code: &str) {
    let out = parse(src, "nango.yaml");
    assert!(!out.is_valid(), "accepted: {src:.80}");
    let d = out.errors().next().unwrap();
    assert_eq!(d.code, code, "{d:?}");
    assert!(d.line() >= 1 && d.column() >= 1, "{d:?}");
    // Rendering never panics either.
    let _ = d.render("nango.yaml", src);
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_rejected(&deep, "yaml_syntax");
    let mut block = String::from("models:\n");
    for depth in 1..400 {
        block.push_str(&" ".repeat(depth * 2));
        block.push_str("a:\n");
    }
    assert_rejected(&block, "yaml_syntax");
}

#[test]
fn yaml_bombs_are_refused() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 { "a".to_owned() } else { format!("b{}", i - 1) };
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    bomb.push_str("integrations: {}\n");
    let out = parse(&bomb, "nango.yaml");
    assert!(!out.is_valid());
}

#[test]
fn duplicate_keys_and_tabs() {
    assert_rejected("integrations: {}\nintegrations: {}\n", "yaml_syntax");
    assert_rejected("integrations:\n\tgithub: {}\n", "yaml_syntax");
}

#[test]
fn odd_scalars_and_shapes() {
    for src in [
        "",
        "~",
        "42",
        "integrations: 5",
        "integrations: [a, b]\nmodels: x",
        "integrations:\n  github: string\nmodels:\n  A: 5",
        "integrations:\n  github:\n    syncs: [1]\n",
        "integrations:\n  github:\n    syncs:\n      s:\n        endpoint: {}\n        output: []\n        runs: 5\n",
        "integrations:\n  1: {}\n  true: {}\n  null: {}\nmodels:\n  1:\n    2: 3\n",
        "models:\n  A:\n    __extends: [B]\n    __string: {}\n",
        "integrations:\n  g:\n    actions:\n      a:\n        endpoint: [GET /a, GET /b]\n",
        "integrations:\n  g:\n    syncs:\n      a:\n        runs: every 5 minutes\n        output: A\n        endpoint: GET /{A}\nmodels:\n  A:\n    id: '|||'\n    b: ' | '\n    c: '[][]'\n",
        "\u{feff}integrations: {}\n",
        "integrations: {}\nmodels:\n  A:\n    \"\": string\n    \"?\": string\n",
    ] {
        let out = parse(src, "nango.yaml");
        for d in &out.diagnostics {
            let _ = d.render("nango.yaml", src);
            if d.is_error() {
                assert!(d.span.is_some(), "{src:?}: {d:?}");
            }
        }
        let _ = out.nango_json();
    }
}

#[test]
fn huge_flat_file_is_fine() {
    let mut src = String::from("integrations: {}\nmodels:\n");
    for i in 0..20_000 {
        src.push_str(&format!("  M{i}:\n    id: string\n    next: M{}\n", (i + 1) % 20_000));
    }
    let out = parse(&src, "nango.yaml");
    assert!(out.is_valid());
    assert_eq!(out.config.models.len(), 20_000);
    // One ring of 20,000 models: one cycle warning, not 20,000.
    assert_eq!(out.diagnostics.iter().filter(|d| d.code == "cyclic_model").count(), 1);
}

#[test]
fn long_extends_chain_does_not_overflow() {
    let mut src = String::from("integrations: {}\nmodels:\n");
    for i in 0..5_000 {
        src.push_str(&format!("  M{i}:\n    __extends: M{}\n    f{i}: string\n", i + 1));
    }
    src.push_str("  M5000:\n    id: string\n");
    let out = parse(&src, "nango.yaml");
    // Refused with a diagnostic that says why (not a stack overflow, not a made-up cycle).
    assert!(!out.is_valid());
    let errors: Vec<_> = out.errors().collect();
    assert!(errors.iter().all(|d| d.code == "extends_too_deep" && d.span.is_some()), "{errors:?}");
    assert!(errors[0].message.contains("longer than 64 models"), "{}", errors[0].message);
}
