//! `nango validate` on the inputs that used to be quadratic, as whole processes: wall time and
//! peak RSS.
//!
//! `cargo bench -p nango-codegen --bench validate`
//!
//! Inputs, generated into a temporary folder (not checked in):
//!
//! * `fields`: one model with 100,000 fields (1.9 MB). Each field used to search the fields
//!   before it by name.
//! * `chain`: 5,000 models, each extending the one before it, parents first (236 KB). Every
//!   model used to get a copy of all the fields above it (12.5M fields).
//! * `chain-reversed`: the same chain written children first (the order in which the old
//!   recursion limit cut it).
//!
//! Every measurement is a child process of its own (this bench binary, re-run with
//! `NANGO_BENCH_CHILD` set), so that its peak RSS (`VmHWM`, which the child reads from
//! `/proc/self/status` as it ends) is its alone, and its wall time (taken by the parent, from
//! spawn to exit) includes start-up and reading the file:
//!
//! * `nango validate FILE`: exactly what the binary's `main` does (`cli::run`), with the
//!   diagnostics rendered to stderr (sent to /dev/null).
//! * baseline: the same file read with serde-saphyr into an untyped `serde_json::Value` (a YAML
//!   reader alone, with no nango.yaml semantics), in the same run.
//!
//! Medians of `NANGO_BENCH_RUNS` children each (default 7), the two variants alternating.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "NANGO_BENCH_CHILD";

/// In a child: runs one variant on one file, then prints its peak RSS in kB.
fn child(mode: &str, file: &str) {
    match mode {
        "validate" => {
            let code = nango_codegen::cli::run(["nango", "validate", file]);
            assert!(code == 0 || code == 1, "nango validate {file} exited with {code}");
        }
        "baseline" => {
            let text = std::fs::read_to_string(file).unwrap();
            let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            std::hint::black_box(value);
        }
        other => panic!("unknown mode {other}"),
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap_or("0 kB");
    println!("{}", peak.trim().trim_end_matches("kB").trim());
}

/// Runs a child; its wall time and peak RSS in kB.
fn measure(mode: &str, file: &Path) -> (Duration, u64) {
    let exe = std::env::current_exe().unwrap();
    let start = Instant::now();
    let out = Command::new(exe)
        .env(CHILD, format!("{mode}\t{}", file.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(out.status.success(), "{mode} {} failed", file.display());
    let kb = String::from_utf8_lossy(&out.stdout).lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    (elapsed, kb)
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort();
    values[values.len() / 2]
}

fn fields(n: usize) -> String {
    let mut src = String::from("integrations: {}\nmodels:\n  Big:\n");
    for i in 0..n {
        src.push_str(&format!("    f{i}: string\n"));
    }
    src
}

fn chain(n: usize, parents_first: bool) -> String {
    let mut models: Vec<String> = (0..=n)
        .map(|i| {
            if i == 0 {
                "  M0:\n    id: string\n".to_owned()
            } else {
                format!("  M{i}:\n    __extends: M{}\n    f{i}: string\n", i - 1)
            }
        })
        .collect();
    if !parents_first {
        models.reverse();
    }
    format!("integrations: {{}}\nmodels:\n{}", models.concat())
}

fn main() {
    if let Ok(job) = std::env::var(CHILD) {
        let (mode, file) = job.split_once('\t').unwrap();
        return child(mode, file);
    }
    let runs: usize = std::env::var("NANGO_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let dir: PathBuf = std::env::temp_dir().join(format!("nango-bench-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = [
        ("fields (100,000 in one model)", "fields.yaml", fields(100_000)),
        ("chain (5,000 __extends, parents first)", "chain.yaml", chain(5_000, true)),
        ("chain (5,000 __extends, children first)", "chain-reversed.yaml", chain(5_000, false)),
    ];
    println!(
        "{:<42} {:>7} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}",
        "input", "KB", "validate", "baseline", "ratio", "peak RSS", "baseline", "ratio"
    );
    for (name, file, text) in inputs {
        let path = dir.join(file);
        std::fs::write(&path, &text).unwrap();
        // Warm the page cache and the binary.
        measure("validate", &path);
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(measure("validate", &path));
            base.push(measure("baseline", &path));
        }
        let time = |v: &[(Duration, u64)]| median(v.iter().map(|m| m.0).collect());
        let rss = |v: &[(Duration, u64)]| median(v.iter().map(|m| m.1).collect());
        let (t, bt, r, br) = (time(&ours), time(&base), rss(&ours), rss(&base));
        println!(
            "{:<42} {:>7} {:>8.1}ms {:>8.1}ms {:>6.2}x {:>8.1}MB {:>8.1}MB {:>6.2}x",
            name,
            text.len() / 1024,
            t.as_secs_f64() * 1e3,
            bt.as_secs_f64() * 1e3,
            t.as_secs_f64() / bt.as_secs_f64(),
            r as f64 / 1024.0,
            br as f64 / 1024.0,
            r as f64 / br as f64
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
