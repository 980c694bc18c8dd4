//! `nango generate --out` as a whole process on the largest input.
//!
//! `cargo bench -p nango-codegen --bench generate`
//!
//! Baseline, measured in the same run: `nango --version` (process start-up, the floor for any
//! command). Printed as milliseconds and as a ratio to it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let nango = env!("CARGO_BIN_EXE_nango");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let input = corpus.join("derived/merged-flows.nango.yaml");
    if !input.exists() {
        println!("{}: not found (needs ../shared/corpus); skipped", input.display());
        return;
    }
    let out = std::env::temp_dir().join(format!("nango-bench-generate-{}", std::process::id()));
    let run = |args: &[&str]| {
        let status = Command::new(nango)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "nango {args:?} failed");
    };
    let input_text = input.to_string_lossy().into_owned();
    let out_text = out.to_string_lossy().into_owned();
    run(&["generate", &input_text, "--out", &out_text]);
    let models = std::fs::read_to_string(out.join("models.rs")).unwrap();
    let runs = 21;
    let generate = median(runs, || run(&["generate", &input_text, "--out", &out_text]));
    let baseline = median(runs, || run(&["--version"]));
    println!("{:<40} {:>12} {:>10} {:>7}", "command", "median", "baseline", "ratio");
    println!(
        "{:<40} {:>10.2}ms {:>8.2}ms {:>6.1}x   ({} KB of Rust)",
        "generate merged-flows.nango.yaml --out",
        generate.as_secs_f64() * 1e3,
        baseline.as_secs_f64() * 1e3,
        generate.as_secs_f64() / baseline.as_secs_f64(),
        models.len() / 1024
    );
    let _ = std::fs::remove_dir_all(out);
}
