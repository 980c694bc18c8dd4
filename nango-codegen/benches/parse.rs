//! Parse + validate benchmark on the two largest real inputs.
//!
//! `cargo bench -p nango-codegen --bench parse`
//!
//! Each file is timed as the median (and the minimum) of many runs, next to a baseline measured
//! in the same run: reading the same YAML with serde-saphyr into an untyped `serde_json::Value`
//! (a general YAML reader alone, with no nango.yaml semantics). The two alternate, run by run.
//! Results are printed as milliseconds and as a ratio to that baseline, so figures from noisy
//! machines stay comparable; the minimum is the figure least disturbed by other processes.
//! `NANGO_BENCH_RUNS` sets the number of runs (default 41).

use std::path::Path;
use std::time::{Duration, Instant};

fn time(f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let files = ["NangoHQ__nango/packages__shared__flows.yaml", "derived/merged-flows.nango.yaml"];
    let runs: usize = std::env::var("NANGO_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(41);
    println!(
        "{:<46} {:>5} {:>12} {:>10} {:>6} {:>10} {:>10} {:>6}",
        "file", "KB", "parse+valid", "baseline", "ratio", "min", "min base", "ratio"
    );
    for file in files {
        let path = corpus.join(file);
        let Ok(source) = std::fs::read_to_string(&path) else {
            println!("{file}: not found (needs ../shared/corpus); skipped");
            continue;
        };
        // Warm up, and check the work is real.
        let out = nango_codegen::parse(&source, file);
        assert!(out.is_valid(), "{file} should be valid");
        let mut ours = || {
            std::hint::black_box(nango_codegen::parse(std::hint::black_box(&source), file));
        };
        let mut baseline = || {
            let v: serde_json::Value = serde_saphyr::from_str(std::hint::black_box(&source)).unwrap();
            std::hint::black_box(v);
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            a.push(time(&mut ours));
            b.push(time(&mut baseline));
        }
        a.sort();
        b.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (median, base_median, min, base_min) = (a[runs / 2], b[runs / 2], a[0], b[0]);
        println!(
            "{:<46} {:>5.0} {:>10.2}ms {:>8.2}ms {:>5.2}x {:>8.2}ms {:>8.2}ms {:>5.2}x",
            file,
            source.len() as f64 / 1024.0,
            ms(median),
            ms(base_median),
            ms(median) / ms(base_median),
            ms(min),
            ms(base_min),
            ms(min) / ms(base_min),
        );
    }
}
