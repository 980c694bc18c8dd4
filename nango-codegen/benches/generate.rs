//! `nango generate --out` as a whole process on the largest input.
//!
//! `cargo bench -p nango-codegen --bench generate`
//!
//! Baseline, measured in the same run: `nango --version` (process start-up, the floor for any
//! command). The two alternate run by run, so that a busy machine slows both alike
//! (`NANGO_BENCH_RUNS`, default 41). Printed: the median and minimum wall time of each and their
//! ratio, and the median CPU time (user + system, both threads) of `generate`: the children's
//! times in `/proc/self/stat`, in clock ticks of 10 ms.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// CPU time (user + system) of the children waited for so far.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name come the state (field 3) and the others: cutime and cstime are
    // fields 16 and 17.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(16) + field(17);
    // Clock ticks are 1/100 s on Linux.
    Duration::from_millis(ticks * 10)
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
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
        let start = Instant::now();
        let status = Command::new(nango).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(status.success(), "nango {args:?} failed");
        start.elapsed()
    };
    let input_text = input.to_string_lossy().into_owned();
    let out_text = out.to_string_lossy().into_owned();
    let generate_args = ["generate", input_text.as_str(), "--out", out_text.as_str()];
    run(&generate_args);
    let models = std::fs::read_to_string(out.join("models.rs")).unwrap();
    let runs: usize = std::env::var("NANGO_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(41);
    let (mut generate, mut baseline, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let before = children_cpu();
        generate.push(run(&generate_args));
        cpu.push(children_cpu().saturating_sub(before));
        baseline.push(run(&["--version"]));
    }
    let min = |t: &[Duration]| t.iter().min().copied().unwrap_or_default();
    let (g_min, b_min) = (min(&generate), min(&baseline));
    let (g, b, c) = (median(&mut generate), median(&mut baseline), median(&mut cpu));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("nango generate merged-flows.nango.yaml --out ({} KB of Rust), {runs} runs each", models.len() / 1024);
    println!("{:<28} {:>10} {:>10} {:>12}", "", "median", "min", "CPU median");
    println!("{:<28} {:>8.1}ms {:>8.1}ms {:>10.0}ms", "generate", ms(g), ms(g_min), ms(c));
    println!("{:<28} {:>8.1}ms {:>8.1}ms", "baseline: nango --version", ms(b), ms(b_min));
    println!("{:<28} {:>9.1}x {:>9.1}x", "ratio", ms(g) / ms(b), ms(g_min) / ms(b_min));
    let _ = std::fs::remove_dir_all(out);
}
