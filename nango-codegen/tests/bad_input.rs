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
    assert!(errors[0].message.contains("already 64 models long"), "{}", errors[0].message);
}

fn errors_with_code<'a>(out: &'a nango_codegen::ParseOutput, code: &'a str) -> Vec<&'a nango_codegen::Diagnostic> {
    out.errors().filter(|d| d.code == code).collect()
}

/// The shape that used to be quadratic (a field-name search per field), at a size the tests
/// can run: every field is kept once, a repeated name (`a` and `a?`) replaces the first in
/// place, and an own field after `__extends` replaces the inherited one where it stands.
#[test]
fn many_fields_in_one_model() {
    let mut src = String::from("integrations: {}\nmodels:\n  Base:\n");
    for i in 0..300 {
        src.push_str(&format!("    b{i}: string\n"));
    }
    src.push_str("  Big:\n    __extends: Base\n");
    for i in 0..3_000 {
        src.push_str(&format!("    f{i}: string\n"));
    }
    src.push_str("    f7?: number\n    b250: boolean\n");
    let out = parse(&src, "nango.yaml");
    assert!(out.is_valid(), "{:?}", out.errors().next());
    let big = out.config.model("Big").unwrap();
    assert_eq!(big.fields.len(), 3_300);
    let f7 = big.field("f7").unwrap();
    assert!(f7.optional);
    assert_eq!(big.fields.iter().position(|f| f.name == "f7"), Some(307));
    let b250 = big.field("b250").unwrap();
    assert_eq!(b250.inherited_from, None, "own field wins");
    assert_eq!(b250.ty, nango_codegen::TypeExpr::Primitive(nango_codegen::Primitive::Boolean));
    assert_eq!(big.fields.iter().position(|f| f.name == "b250"), Some(250));
}

/// An `__extends` chain longer than 64 models is cut at 64 whatever order the models are
/// written in (it used to depend on it: parents first merged all 5,000 levels, quadratic in
/// memory), with an error that says so where the chain is cut.
#[test]
fn long_extends_chains_are_cut_the_same_way_in_any_order() {
    let chain = |parents_first: bool| {
        let mut src = String::from("integrations: {}\nmodels:\n");
        let mut models: Vec<String> = (0..150)
            .map(|i| {
                if i == 0 {
                    "  M0:\n    f0: string\n".to_owned()
                } else {
                    format!("  M{i}:\n    __extends: M{}\n    f{i}: string\n", i - 1)
                }
            })
            .collect();
        if !parents_first {
            models.reverse();
        }
        src.push_str(&models.concat());
        parse(&src, "nango.yaml")
    };
    for parents_first in [true, false] {
        let out = chain(parents_first);
        let cut = errors_with_code(&out, "extends_too_deep");
        let mut cut_at: Vec<&str> = cut.iter().map(|d| d.path.as_str()).collect();
        cut_at.sort_by_key(|p| p.len());
        assert_eq!(cut_at, ["M65", "M130"], "parents first: {parents_first}");
        assert_eq!(out.errors().count(), 2, "{:?}", out.errors().collect::<Vec<_>>());
        let first = cut.iter().find(|d| d.path == "M65").unwrap();
        assert_eq!(first.message, "Model \"M65\" extends \"M64\", whose `__extends` chain is already 64 models long");
        assert_eq!(out.config.model("M64").unwrap().fields.len(), 65);
        assert_eq!(out.config.model("M65").unwrap().fields.len(), 1);
        assert_eq!(out.config.model("M149").unwrap().fields.len(), 20);
    }
}

/// Many models extending one big model copy its fields into each: past a budget for the file
/// the copies are refused with an error (like aliases in a YAML bomb), not made.
#[test]
fn extends_fan_out_is_bounded() {
    let mut src = String::from("integrations: {}\nmodels:\n  Base:\n");
    for i in 0..1_000 {
        src.push_str(&format!("    b{i}: string\n"));
    }
    for i in 0..300 {
        src.push_str(&format!("  Child{i}:\n    __extends: Base\n"));
    }
    let out = parse(&src, "nango.yaml");
    let refused = errors_with_code(&out, "extends_too_large");
    // The budget (500,000) pays for looking at each parent field and copying it: 2,000 a child.
    assert_eq!(refused.len(), 50, "{:?}", refused.first());
    assert_eq!(refused[0].path, "Child250");
    assert!(refused[0].message.contains("more than 500000 inherited field types"), "{}", refused[0].message);
    assert_eq!(out.config.model("Child249").unwrap().fields.len(), 1_000);
    assert_eq!(out.config.model("Child250").unwrap().fields.len(), 0);
}

/// Cycles through `__extends` are still found when the walk that finds them is iterative, in
/// the same place: at the model that closes the loop.
#[test]
fn extends_cycles_in_long_chains() {
    let mut src = String::from("integrations: {}\nmodels:\n");
    for i in 0..40 {
        src.push_str(&format!("  M{i}:\n    __extends: M{}\n    f{i}: string\n", (i + 1) % 40));
    }
    let out = parse(&src, "nango.yaml");
    let cycles = errors_with_code(&out, "cyclic_extends");
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].message, "Model \"M39\" extends \"M0\", which extends it back");
    assert_eq!(out.config.model("M0").unwrap().fields.len(), 40);
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nango-bad-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Files over the cap are refused from their size, before anything is read; the error names
/// the file, its size and the cap.
#[test]
fn files_over_the_cap_are_refused() {
    let dir = temp_dir("cap");
    let path = dir.join("nango.yaml");
    // Sparse: no 64 MiB written to disk.
    std::fs::File::create(&path).unwrap().set_len(nango_codegen::MAX_FILE_SIZE + 1).unwrap();
    let err = nango_codegen::load(&dir).unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        format!(
            "cannot read {}: the file is 67108865 bytes (64.0 MiB), over the limit of 67108864 bytes (64 MiB) for a nango.yaml; {HELP}",
            path.display()
        )
    );
    let nango_codegen::LoadError::Io { source, .. } = &err else { panic!("{err:?}") };
    assert_eq!(source.kind(), std::io::ErrorKind::FileTooLarge);
    let detail = source.get_ref().and_then(|e| e.downcast_ref::<nango_codegen::FileTooLarge>());
    assert_eq!(detail, Some(&nango_codegen::FileTooLarge { size: 67_108_865, size_known: true }));
    // A file under the cap is read (NUL bytes: not valid YAML, which is a diagnostic).
    std::fs::File::create(&path).unwrap().set_len(16).unwrap();
    assert!(nango_codegen::load(&path).is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

/// What the cap's errors say to do.
const HELP: &str = "check that this is the nango.yaml you meant (real ones are under 1 MB; nango_codegen::parse takes text of any size)";

/// What reports no size (devices, pipes) is read up to the cap and no further.
#[cfg(unix)]
#[test]
fn endless_input_is_cut_at_the_cap() {
    let err = nango_codegen::load("/dev/zero").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read /dev/zero: the file has more than 67108864 bytes (64 MiB), the limit for a nango.yaml (reading stopped there); {HELP}"
        )
    );
}

/// Anchors inside anchors: each anchored node used to be copied when its anchor was read, so 55
/// nested anchors over one list held 55 copies of it. They are shared now, and aliases of them
/// still read as the anchored node.
#[test]
fn nested_anchors_are_shared() {
    let mut src = String::from("integrations: {}\nx:\n");
    let mut indent = String::from("  ");
    for depth in 0..40 {
        src.push_str(&format!("{indent}k{depth}: &a{depth}\n"));
        indent.push_str("  ");
    }
    src.push_str(&format!("{indent}leaf: [{}]\n", vec!["x"; 10_000].join(", ")));
    src.push_str("y: [*a39, *a0]\n");
    let out = parse(&src, "nango.yaml");
    assert!(out.is_valid(), "{:?}", out.errors().next());
    assert_eq!(out.diagnostics.len(), 2, "unknown keys x and y: {:?}", out.diagnostics);
}

/// An alias of a long string costs its length from the alias budget (whatever reads the tree
/// copies the string at every use), so a few thousand aliases of a big string are a bomb.
#[test]
fn aliases_of_long_strings_are_counted_by_length() {
    let long = "y".repeat(100_000);
    let src = format!("integrations: {{}}\nx: &s {long}\nz: [{}]\n", vec!["*s"; 1_000].join(", "));
    let out = parse(&src, "nango.yaml");
    let error = out.errors().next().expect("refused");
    assert_eq!(error.code, "yaml_syntax");
    assert!(error.message.contains("aliases expand to too many nodes"), "{}", error.message);
    // A few are fine.
    let src = format!("integrations: {{}}\nx: &s {long}\nz: [{}]\n", vec!["*s"; 100].join(", "));
    assert!(parse(&src, "nango.yaml").is_valid());
}

/// A diagnostic on a very long line shows the part of it around the place (rendering used to
/// copy the whole line for every diagnostic), with the caret still under the text.
#[test]
fn diagnostics_on_long_lines_show_a_window() {
    let fields: Vec<String> = (0..5_000).map(|i| format!("f{i}: Missing{i}")).collect();
    let src = format!("integrations: {{}}\nmodels: {{A: {{{}}}}}\n", fields.join(", "));
    let out = parse(&src, "nango.yaml");
    let warnings: Vec<_> = out.diagnostics.iter().filter(|d| d.code == "model_not_found_fallback").collect();
    assert_eq!(warnings.len(), 5_000);
    let last = warnings.last().unwrap().render("nango.yaml", &src);
    let lines: Vec<&str> = last.lines().collect();
    let shown = lines[3].strip_prefix("2 | ").unwrap();
    assert!(shown.starts_with('…') && shown.chars().count() < 2_100, "{shown}");
    let caret = lines[4].strip_prefix("  | ").unwrap();
    let at = caret.find('^').unwrap();
    assert_eq!(shown.chars().skip(at).take(11).collect::<String>(), "Missing4999", "{last}");
    // Near the start of the line, the window starts where the line does.
    let first = warnings[0].render("nango.yaml", &src);
    assert!(first.contains("2 | models: {A: {f0: Missing0, "), "{first}");
}

/// A pipe that never ends (a writer that keeps writing) is read up to the cap, refused with the
/// same error, and the writer is left to fail on the closed pipe; a pipe under the cap is read
/// as a file. Through the CLI, as a user would pipe a file in.
#[cfg(unix)]
#[test]
fn pipes_are_read_up_to_the_cap() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let validate = |feed: Box<dyn FnOnce(std::process::ChildStdin) + Send>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nango"))
            .args(["validate", "/dev/stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || feed(stdin));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    let endless: Box<dyn FnOnce(std::process::ChildStdin) + Send> = Box::new(|mut stdin| {
        let chunk = vec![b'#'; 1 << 16];
        // Stops when the reader has closed the pipe.
        while stdin.write_all(&chunk).is_ok() {}
    });
    let (code, text) = validate(endless);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(&format!("/dev/stdin: the file has more than 67108864 bytes (64 MiB), the limit for a nango.yaml (reading stopped there); {HELP}")),
        "{text}"
    );
    let small: Box<dyn FnOnce(std::process::ChildStdin) + Send> = Box::new(|mut stdin| {
        stdin.write_all(b"integrations: {}\nmodels:\n  A:\n    id: string\n").unwrap();
    });
    let (code, text) = validate(small);
    assert_eq!(code, Some(0), "{text}");
}
