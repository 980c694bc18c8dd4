//! Parse + validate benchmark on the two largest real inputs.
//!
//! `cargo bench -p nango-codegen --bench parse`
//!
//! Each file is timed as the median of many runs, next to a baseline measured in the same run:
//! reading the same YAML with serde-saphyr into an untyped `serde_json::Value` (the cost of the
//! YAML reader alone, below which no nango.yaml front end on it can go). Results are printed as
//! milliseconds and as a ratio to that baseline, so figures from noisy machines stay comparable.

use std::path::Path;
use std::time::{Duration, Instant};

fn median_time(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let files = ["NangoHQ__nango/packages__shared__flows.yaml", "derived/merged-flows.nango.yaml"];
    println!("{:<48} {:>9} {:>12} {:>9} {:>7}", "file", "KB", "parse+valid", "baseline", "ratio");
    for file in files {
        let path = corpus.join(file);
        let Ok(source) = std::fs::read_to_string(&path) else {
            println!("{file}: not found (needs ../shared/corpus); skipped");
            continue;
        };
        // Warm up, and check the work is real.
        let out = nango_codegen::parse(&source, file);
        assert!(out.is_valid(), "{file} should be valid");
        let runs = 31;
        let ours = median_time(runs, || {
            std::hint::black_box(nango_codegen::parse(std::hint::black_box(&source), file));
        });
        let baseline = median_time(runs, || {
            let v: serde_json::Value = serde_saphyr::from_str(std::hint::black_box(&source)).unwrap();
            std::hint::black_box(v);
        });
        println!(
            "{:<48} {:>9.0} {:>10.2}ms {:>7.2}ms {:>6.2}x",
            file,
            source.len() as f64 / 1024.0,
            ours.as_secs_f64() * 1e3,
            baseline.as_secs_f64() * 1e3,
            ours.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}
