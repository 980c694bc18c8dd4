//! Parse + validate benchmark on the two largest real inputs.
//!
//! `cargo bench -p nango-codegen --bench parse`
//!
//! Each file is timed as the median (and the minimum) of many runs, next to a baseline measured
//! in the same run: reading the same YAML with serde-saphyr into an untyped `serde_json::Value`
//! (a general YAML reader alone, with no nango.yaml semantics). The two alternate, run by run.
//! Results are printed as milliseconds and as a ratio to that baseline, so figures from noisy
//! machines stay comparable; the minimum is the figure least disturbed by other processes. The
//! last columns are the median time on the CPU (the thread's run time from
//! `/proc/thread-self/schedstat`), which leaves out the time the machine spends on other work.
//! `NANGO_BENCH_RUNS` sets the number of runs (default 41).
//!
//! Both sides run on the allocator the `nango` binary uses (mimalloc, see `src/bin/nango.rs`):
//! the target is the CLI's parse, and most of the work is small allocations. For glibc's
//! allocator, run it without the `cli` feature (`--no-default-features`).

use std::path::Path;

#[cfg(feature = "cli")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::{Duration, Instant};

/// This thread's time on the CPU so far, when Linux tells it.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Wall time and CPU time of one call.
fn time(f: &mut impl FnMut()) -> (Duration, Duration) {
    let cpu = cpu_time();
    let start = Instant::now();
    f();
    let wall = start.elapsed();
    let cpu = cpu.zip(cpu_time()).map_or(Duration::ZERO, |(a, b)| b.saturating_sub(a));
    (wall, cpu)
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let files = ["NangoHQ__nango/packages__shared__flows.yaml", "derived/merged-flows.nango.yaml"];
    let runs: usize = std::env::var("NANGO_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(41);
    println!(
        "{:<46} {:>5} {:>12} {:>10} {:>6} {:>10} {:>10} {:>6} {:>9} {:>9} {:>6}",
        "file", "KB", "parse+valid", "baseline", "ratio", "min", "min base", "ratio", "cpu", "cpu base", "ratio"
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
        let (mut a, mut b, mut a_cpu, mut b_cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (wall, cpu) = time(&mut ours);
            a.push(wall);
            a_cpu.push(cpu);
            let (wall, cpu) = time(&mut baseline);
            b.push(wall);
            b_cpu.push(cpu);
        }
        for v in [&mut a, &mut b, &mut a_cpu, &mut b_cpu] {
            v.sort();
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (median, base_median, min, base_min) = (a[runs / 2], b[runs / 2], a[0], b[0]);
        let (cpu, base_cpu) = (a_cpu[runs / 2], b_cpu[runs / 2]);
        println!(
            "{:<46} {:>5.0} {:>10.2}ms {:>8.2}ms {:>5.2}x {:>8.2}ms {:>8.2}ms {:>5.2}x {:>7.2}ms {:>7.2}ms {:>5.2}x",
            file,
            source.len() as f64 / 1024.0,
            ms(median),
            ms(base_median),
            ms(median) / ms(base_median),
            ms(min),
            ms(base_min),
            ms(min) / ms(base_min),
            ms(cpu),
            ms(base_cpu),
            ms(cpu) / ms(base_cpu).max(f64::MIN_POSITIVE),
        );
    }
}
