//! The consumers' client stays light: what `cargo tree` resolves for nango-client alone (as a
//! consumer's build would, without the rest of the workspace) has no database driver, web
//! framework, CLI parser or multi-threaded runtime, and the `axum` feature adds axum-core only.
//!
//! Offline, from the lockfile: the packages are the ones the test build has already fetched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The packages of a resolved tree, each with the features enabled on it.
#[derive(Debug)]
struct Tree {
    packages: BTreeMap<String, BTreeSet<String>>,
}

impl Tree {
    /// `cargo tree -p nango-client -e normal` with the crate's `features` (comma separated).
    fn of_client(features: &str) -> Tree {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("nango-client sits in the workspace");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut command = Command::new(cargo);
        command.current_dir(workspace).args([
            "tree",
            "--package",
            "nango-client",
            // Normal dependencies only: dev-dependencies (the tests' axum and tokio) are not
            // part of a consumer's build, and leaving them out also keeps their features out of
            // the resolution.
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}|{f}",
            "--frozen",
        ]);
        if !features.is_empty() {
            command.args(["--features", features]);
        }
        let output = command.output().expect("cargo runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "cargo tree failed:\n{stderr}");
        Tree::parse(&stdout)
    }

    /// Lines are `name vX.Y.Z [(source)] [(*)]|feature,feature`.
    fn parse(text: &str) -> Tree {
        let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (package, features) = line.split_once('|').unwrap_or((line, ""));
            let name = package.split_whitespace().next().expect("a package name").to_owned();
            let features = features.trim_end_matches(" (*)").split(',').filter(|f| !f.is_empty()).map(str::to_owned);
            packages.entry(name).or_default().extend(features);
        }
        Tree { packages }
    }

    fn has(&self, name: &str) -> bool {
        self.packages.contains_key(name)
    }

    fn features(&self, name: &str) -> &BTreeSet<String> {
        self.packages.get(name).unwrap_or_else(|| panic!("{name} is not in the tree: {:?}", self.packages.keys()))
    }

    /// Packages named `prefix` or `prefix-*` (sqlx-core, sqlx-sqlite, clap_builder...).
    fn family(&self, prefix: &str) -> Vec<&str> {
        let starts =
            |name: &str| name == prefix || name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with(['-', '_']));
        self.packages.keys().map(String::as_str).filter(|name| starts(name)).collect()
    }
}

/// What the service needs and a consumer must not pay for.
const HEAVY: [&str; 8] =
    ["sqlx", "clap", "miette", "nango-runtime", "nango-codegen", "tracing-subscriber", "metrics", "governor"];

/// tokio features of a program's own runtime: reqwest needs none of them.
const RUNTIME_FEATURES: [&str; 5] = ["rt-multi-thread", "macros", "signal", "fs", "process"];

fn assert_light(tree: &Tree) {
    // The tree is the client's, not an empty or failed resolution: what it is built on is in it.
    for needed in ["nango-client", "nango-types", "reqwest", "hyper", "serde_json", "hmac", "sha2", "tokio"] {
        assert!(tree.has(needed), "{needed} missing from the tree, so the check below proves nothing: {tree:?}");
    }
    for heavy in HEAVY {
        assert_eq!(tree.family(heavy), Vec::<&str>::new(), "{heavy} is in nango-client's tree");
    }
    let tokio = tree.features("tokio");
    // reqwest's client needs these; seeing them shows the features were read.
    assert!(tokio.contains("net") && tokio.contains("time"), "tokio features not read: {tokio:?}");
    for feature in RUNTIME_FEATURES {
        assert!(!tokio.contains(feature), "tokio feature {feature} is enabled for nango-client: {tokio:?}");
    }
    // No TLS stack unless asked for (feature `tls`).
    assert_eq!(tree.family("rustls"), Vec::<&str>::new());
}

#[test]
fn default_features_bring_no_framework_database_cli_or_runtime() {
    let tree = Tree::of_client("");
    assert_light(&tree);
    assert_eq!(tree.family("axum"), Vec::<&str>::new(), "axum without the `axum` feature");
}

#[test]
fn axum_feature_adds_the_extractor_traits_only() {
    let tree = Tree::of_client("axum");
    assert_light(&tree);
    assert!(tree.has("axum-core"), "the `axum` feature should bring axum-core: {tree:?}");
    assert!(!tree.has("axum"), "the extractor needs axum-core, not axum's router and server");
}

#[test]
fn the_parser_reads_cargo_tree_lines() {
    // The format the checks above rely on, on lines as cargo writes them.
    let tree = Tree::parse(
        "nango-client v0.1.0 (/work/nango-client)|default\n\
         tokio v1.54.1|net,rt,time\n\
         tokio v1.54.1|net,rt,time (*)\n\
         sqlx-core v0.9.0|\n",
    );
    assert_eq!(tree.features("tokio").iter().collect::<Vec<_>>(), ["net", "rt", "time"]);
    assert_eq!(tree.family("sqlx"), ["sqlx-core"]);
    assert_eq!(tree.family("tokio"), ["tokio"]);
    assert!(tree.family("tokio-rustls").is_empty());
    assert_eq!(tree.family("nango"), ["nango-client"]);
}
