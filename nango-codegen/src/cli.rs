//! The `nango` command line (feature `cli`). `main.rs` only calls [`main`].

use crate::{Diagnostic, ParseOutput, Severity};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Exit code: the file is valid.
pub const EXIT_OK: i32 = 0;
/// Exit code: the file has errors.
pub const EXIT_INVALID: i32 = 1;
/// Exit code: bad usage or an I/O error.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "nango",
    version,
    about = "Nango-style continuous data syncs for Rust: validate nango.yaml and generate typed Rust from it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a nango.yaml: every error and warning with file, line and column.
    Validate(ValidateArgs),
    /// Generate typed Rust models, `schema.json` and `nango.json` from a nango.yaml.
    #[command(visible_alias = "g")]
    Generate(GenerateArgs),
    /// Create a new project: Cargo.toml, a demo nango.yaml (GitHub issues as tickets), src/.
    Init(InitArgs),
}

#[derive(clap::Args, Debug)]
struct InitArgs {
    /// Folder to create (must not hold a nango.yaml yet).
    #[arg(default_value = "nango-integrations")]
    path: PathBuf,
    /// Depend on the nango-rs crates of this checkout (a path) instead of crates.io, e.g. to
    /// build offline. Default: the checkout this `nango` was built from, when it still exists.
    #[arg(long, value_name = "NANGO_RS_DIR", conflicts_with = "crates_io")]
    path_deps: Option<PathBuf>,
    /// Depend on the nango crate from crates.io even when this `nango` was built from a checkout.
    #[arg(long)]
    crates_io: bool,
}

/// The nango-rs checkout this binary was built from, if it is still there.
fn own_checkout() -> Option<PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    (dir.join("nango/Cargo.toml").exists() && dir.join("Cargo.toml").exists()).then(|| dir.to_path_buf())
}

#[derive(clap::Args, Debug)]
struct GenerateArgs {
    /// A nango.yaml file, or a folder that holds one.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Write only `models.rs`, `schema.json` and `nango.json` into this folder. Without it, PATH
    /// is a project: `src/models.rs` is updated and missing script files are scaffolded.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// Type of `date` fields.
    #[arg(long, value_enum, default_value_t = DateArg::Chrono)]
    date_type: DateArg,
    /// Do not add an `Other(String)` variant to enums of string literals.
    #[arg(long)]
    no_catch_all: bool,
    /// Remove the scaffolds of scripts that left nango.yaml (those still as scaffolded; edited
    /// ones are named and kept), with their `pub mod` lines.
    #[arg(long, conflicts_with = "out")]
    prune: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum DateArg {
    /// chrono::DateTime<Utc>
    Chrono,
    /// String
    String,
}

#[derive(clap::Args, Debug)]
struct ValidateArgs {
    /// A nango.yaml file, or a folder that holds one.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Treat warnings (unknown names used as string literals, deploy-time problems) as errors.
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// rustc-style diagnostics on stderr.
    Human,
    /// One JSON object on stdout.
    Json,
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn main() -> i32 {
    run(std::env::args_os())
}

/// Runs the CLI with the given arguments (the first is the program name).
///
/// ```
/// let code = nango_codegen::cli::run(["nango", "validate", "/no/such/nango.yaml"]);
/// assert_eq!(code, nango_codegen::cli::EXIT_USAGE);
/// ```
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::Validate(args) => validate(args),
        Command::Generate(args) => generate(args),
        Command::Init(args) => init(args),
    }
}

fn init(args: InitArgs) -> i32 {
    if crate::resolve_path(&args.path).exists() && args.path.join("nango.yaml").exists() {
        eprintln!("error: {} already holds a nango.yaml; nothing was written", args.path.display());
        return EXIT_USAGE;
    }
    let path_deps = if args.crates_io { None } else { args.path_deps.clone().or_else(own_checkout) };
    let dependency = match &path_deps {
        Some(dir) => match std::fs::canonicalize(dir.join("nango")) {
            Ok(p) if p.join("Cargo.toml").exists() => format!("nango = {{ path = {:?} }}", p.display().to_string()),
            Ok(p) => {
                eprintln!("error: {} has no nango crate (no Cargo.toml in {})", dir.display(), p.display());
                return EXIT_USAGE;
            }
            Err(e) => {
                eprintln!("error: {} has no nango crate: {e}", dir.display());
                return EXIT_USAGE;
            }
        },
        None => format!("nango = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    let name = std::fs::canonicalize(&args.path)
        .unwrap_or_else(|_| args.path.clone())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "nango-integrations".into());
    let package = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect::<String>();
    let files = crate::project::init_files(&package, &dependency);
    if let Err(code) = write_files(&args.path, &files) {
        return code;
    }
    let code = generate_project(&args.path, &crate::Settings::default(), false);
    if code == EXIT_OK {
        println!("\nnango-rs project ready in {}: `cd {} && cargo run`", args.path.display(), args.path.display());
    }
    code
}

fn write_files(
    root: &std::path::Path,
    files: &[crate::project::ProjectFile],
) -> Result<Vec<(PathBuf, crate::project::Outcome)>, i32> {
    match crate::project::write(root, files) {
        Ok(outcomes) => {
            for (path, outcome) in &outcomes {
                let shown = display_path(root, path);
                match outcome {
                    crate::project::Outcome::Created => println!("created {shown}"),
                    crate::project::Outcome::Updated => println!("updated {shown}"),
                    crate::project::Outcome::Unchanged => {}
                }
            }
            Ok(outcomes)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// Reads, checks and generates; prints the diagnostics. On failure, the exit code.
fn load_and_generate(
    path: &std::path::Path,
    settings: &crate::Settings,
) -> Result<(ParseOutput, crate::Generated), i32> {
    let out = crate::load(path).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    if settings.strict {
        let mut shown = out.clone();
        shown.make_strict();
        print_human(&shown, GENERATE_FULL_WARNINGS);
    } else if !out.diagnostics.is_empty() {
        print_human(&out, GENERATE_FULL_WARNINGS);
    }
    match crate::generate(&out, settings) {
        Ok(generated) => Ok((out, generated)),
        Err(crate::GenerateError::Invalid { .. }) => {
            eprintln!("nothing was written");
            Err(EXIT_INVALID)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// `root/path` for messages, without a leading `./`.
fn display_path(root: &std::path::Path, path: &std::path::Path) -> String {
    if root.as_os_str().is_empty() || root == std::path::Path::new(".") {
        path.display().to_string()
    } else {
        root.join(path).display().to_string()
    }
}

/// `nango generate` in a project folder: models file plus scaffolds for scripts without a file.
fn generate_project(path: &std::path::Path, settings: &crate::Settings, prune: bool) -> i32 {
    let yaml = crate::resolve_path(path);
    let root = yaml.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    // The checked-in models file checks at build time that nango.yaml is still the one it was
    // generated from: the path from `src/<models file>` back to it.
    let depth = std::path::Path::new(&settings.models_file).components().count();
    let yaml_name = yaml.file_name().map_or_else(|| "nango.yaml".into(), |n| n.to_string_lossy().into_owned());
    let settings = &settings.clone().with_source_check(format!("{}{yaml_name}", "../".repeat(depth)));
    let (out, generated) = match load_and_generate(&yaml, settings) {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let files = crate::project::generate_files(&out.config, &generated, &settings.models_file);
    let outcomes = match write_files(&root, &files) {
        Ok(o) => o,
        Err(code) => return code,
    };
    // A new script in a folder whose mod.rs the user already has: say what to add.
    for (path, outcome) in &outcomes {
        let Some(dir) = path.parent() else { continue };
        let is_script = *outcome == crate::project::Outcome::Created && path.file_name().is_some_and(|n| n != "mod.rs");
        let mod_rs_existed =
            outcomes.iter().any(|(p, o)| *p == dir.join("mod.rs") && *o == crate::project::Outcome::Unchanged);
        if is_script && mod_rs_existed {
            let module = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mod_rs = dir.join("mod.rs");
            match crate::project::add_module(&root.join(&mod_rs), &module) {
                Ok(true) => println!("added `pub mod {module};` to {}", display_path(&root, &mod_rs)),
                Ok(false) => println!("  add `pub mod {module};` to {}", display_path(&root, &mod_rs)),
                Err(e) => {
                    eprintln!("error: cannot update {}: {e}", display_path(&root, &mod_rs));
                    return EXIT_USAGE;
                }
            }
        }
    }
    report_orphans(&root, &out.config, prune)
}

/// Names the script files whose script left nango.yaml (the build fails at their attribute),
/// and with `prune` removes those still as scaffolded.
fn report_orphans(root: &std::path::Path, config: &crate::NangoConfig, prune: bool) -> i32 {
    let orphans = match crate::project::orphans(root, config) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot read the script folders under {}: {e}", root.join("src").display());
            return EXIT_USAGE;
        }
    };
    for orphan in &orphans {
        let shown = display_path(root, &orphan.path);
        let module = orphan.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mod_rs = orphan.path.parent().map(|d| display_path(root, &d.join("mod.rs"))).unwrap_or_default();
        if prune && orphan.unfilled {
            if let Err(e) = crate::project::remove_orphan(root, orphan) {
                eprintln!("error: cannot remove {shown}: {e}");
                return EXIT_USAGE;
            }
            println!(
                "removed {shown} (its {} `{}` left nango.yaml) and `pub mod {module};` from {mod_rs}",
                orphan.kind, orphan.script
            );
        } else if prune {
            eprintln!(
                "warning: kept {shown}: its {} `{}` left nango.yaml, but you wrote code in it; delete it and `pub mod {module};` in {mod_rs} yourself",
                orphan.kind, orphan.script
            );
        } else {
            eprintln!(
                "warning: {shown} implements {} `{}`, which nango.yaml no longer declares: the build fails there until it goes. \
                 `nango generate --prune` removes it{}, or delete it and `pub mod {module};` in {mod_rs}",
                orphan.kind,
                orphan.script,
                if orphan.unfilled { "" } else { " (not this one: you wrote code in it)" }
            );
        }
    }
    EXIT_OK
}

fn generate(args: GenerateArgs) -> i32 {
    let settings = crate::Settings::default()
        .with_strict(args.strict)
        .with_catch_all_variant(!args.no_catch_all)
        .with_date_type(match args.date_type {
            DateArg::Chrono => crate::DateType::Chrono,
            DateArg::String => crate::DateType::String,
        });
    let Some(out_dir) = args.out else {
        return generate_project(&args.path, &settings, args.prune);
    };
    let generated = match load_and_generate(&args.path, &settings) {
        Ok((_, generated)) => generated,
        Err(code) => return code,
    };
    let files = [
        (settings.models_file.as_str(), &generated.models_rs),
        ("schema.json", &generated.schema_json),
        ("nango.json", &generated.nango_json),
    ];
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("error: cannot create {}: {e}", out_dir.display());
        return EXIT_USAGE;
    }
    for (name, contents) in files {
        let path = out_dir.join(name);
        if let Err(e) = std::fs::write(&path, contents) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_USAGE;
        }
        println!("wrote {}", path.display());
    }
    EXIT_OK
}

fn validate(args: ValidateArgs) -> i32 {
    let mut out = match crate::load(&args.path) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: {e}");
            if matches!(e, crate::LoadError::Io { .. }) && !args.path.exists() {
                eprintln!("  = help: pass a nango.yaml file or a folder that contains one");
            }
            if let crate::LoadError::Io { source, .. } = &e
                && source.kind() == std::io::ErrorKind::FileTooLarge
            {
                eprintln!("  = help: a nango.yaml is far smaller than this; check that the path names one");
            }
            return EXIT_USAGE;
        }
    };
    if args.strict {
        out.make_strict();
    }
    match args.format {
        Format::Json => {
            // Written as it is serialized: no JSON tree of every diagnostic in memory first.
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = serde_json::to_writer_pretty(&mut stdout, &JsonReport::new(&out));
            let _ = writeln!(stdout);
        }
        Format::Human => print_human(&out, usize::MAX),
    }
    if out.is_valid() { EXIT_OK } else { EXIT_INVALID }
}

/// The `--format json` object.
pub fn json_report(out: &ParseOutput) -> serde_json::Value {
    serde_json::to_value(JsonReport::new(out)).unwrap_or_default()
}

/// The `--format json` object, borrowing from the parse output (fields in output order).
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    valid: bool,
    version: Option<&'static str>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(serde::Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    path: &'a str,
    line: u32,
    column: u32,
    help: Option<&'a str>,
}

impl<'a> JsonReport<'a> {
    fn new(out: &'a ParseOutput) -> Self {
        JsonReport {
            file: &out.file,
            valid: out.is_valid(),
            version: out.config.layout.map(|l| l.as_str()),
            diagnostics: out
                .diagnostics
                .iter()
                .map(|d| JsonDiagnostic {
                    severity: d.severity,
                    code: &d.code,
                    message: &d.message,
                    path: &d.path,
                    line: d.line(),
                    column: d.column(),
                    help: d.help.as_deref(),
                })
                .collect(),
        }
    }
}

/// How many warnings `nango generate` shows with their source; the others get one line each
/// (`nango validate` shows every one in full). Rendering one takes miette about 175,000
/// instructions, so a file with 800 warnings spent more time on them than on generating.
const GENERATE_FULL_WARNINGS: usize = 10;

/// Prints the diagnostics: errors and the first `full_warnings` warnings with their source, the
/// other warnings on one line each, then a summary.
fn print_human(out: &ParseOutput, full_warnings: usize) {
    let handler = miette::GraphicalReportHandler::new_themed(if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    })
    .with_links(false);
    let mut stderr = std::io::stderr().lock();
    let shared_source: std::sync::Arc<str> = out.source.as_str().into();
    let line_starts: std::sync::Arc<[usize]> =
        std::iter::once(0).chain(out.source.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let mut warnings_shown = 0;
    let mut short = 0;
    for d in &out.diagnostics {
        if !d.is_error() {
            warnings_shown += 1;
            if warnings_shown > full_warnings {
                let _ = writeln!(stderr, "{}", d.one_line(&out.file));
                short += 1;
                continue;
            }
        }
        let mut text = String::new();
        let report = to_miette(d);
        let source = WindowedSource {
            name: out.file.clone(),
            text: shared_source.clone(),
            line_starts: line_starts.clone(),
            primary: d.span,
        };
        let with_source = miette::Report::new(report).with_source_code(source);
        if handler.render_report(&mut text, with_source.as_ref()).is_err() {
            text = d.render(&out.file, &out.source);
        }
        let place = match d.span {
            Some(s) => format!("{}:{}:{}", out.file, s.line, s.column),
            None => out.file.clone(),
        };
        let _ = writeln!(stderr, "{place}\n{text}");
    }
    if short > 0 {
        let _ = writeln!(
            stderr,
            "({short} warning{} above in short form: `nango validate {}` shows each with its source)",
            if short == 1 { "" } else { "s" },
            out.file
        );
    }
    let errors = out.errors().count();
    let warnings = out.diagnostics.len() - errors;
    let _ = if errors == 0 {
        writeln!(stderr, "{}: valid ({} warning{})", out.file, warnings, if warnings == 1 { "" } else { "s" })
    } else {
        writeln!(
            stderr,
            "{}: {} error{}, {} warning{}",
            out.file,
            errors,
            if errors == 1 { "" } else { "s" },
            warnings,
            if warnings == 1 { "" } else { "s" }
        )
    };
}

/// The source for miette, read around a span through a line index: miette's own `str` source
/// scans from the start of the file for every diagnostic, which is quadratic on big files. A
/// line longer than [`WindowedSource::REACH`] bytes on either side of the span is cut there, so
/// that each diagnostic of a huge one-line file shows only its neighbourhood; `primary` (the
/// diagnostic's own place) keeps miette's `file:line:column` header right on such a cut line.
struct WindowedSource {
    name: String,
    text: std::sync::Arc<str>,
    line_starts: std::sync::Arc<[usize]>,
    primary: Option<crate::Span>,
}

impl WindowedSource {
    const REACH: usize = 1000;

    fn floor(&self, mut i: usize) -> usize {
        while !self.text.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

impl miette::SourceCode for WindowedSource {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let line_of = |offset: usize| self.line_starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let line_end = |line: usize| self.line_starts.get(line + 1).map_or(self.text.len(), |&s| s.saturating_sub(1));
        let (span_start, span_end) = (span.offset(), span.offset() + span.len());
        let (first_line, last_line) = (line_of(span_start), line_of(span_end));
        let first = first_line.saturating_sub(before);
        let last = last_line + after + 1;
        let mut start = self.line_starts[first];
        let mut end = self.line_starts.get(last).copied().unwrap_or(self.text.len()).max(start);
        // Long lines: only what is near the span (and no context lines past the cut).
        let mut cut = false;
        if span_start.saturating_sub(self.line_starts[first_line]) > Self::REACH {
            start = self.floor(span_start - Self::REACH);
            cut = true;
        }
        if line_end(last_line).saturating_sub(span_end) > Self::REACH {
            end = self.floor((span_end + Self::REACH).min(self.text.len()));
        }
        let start_line = if cut { first_line } else { first };
        let window = self.text.get(start..end).ok_or(miette::MietteError::OutOfBounds)?;
        let local = miette::SourceSpan::new(span_start.saturating_sub(start).into(), span.len());
        let inner = window.read_span(&local, before, after)?;
        let data: &'a [u8] = &self.text.as_bytes()
            [start + (inner.data().as_ptr() as usize - window.as_ptr() as usize)..][..inner.data().len()];
        let (line, column) = match self.primary {
            Some(p) if cut && p.offset == span_start => {
                (p.line.saturating_sub(1) as usize, p.column.saturating_sub(1) as usize)
            }
            _ => (inner.line() + start_line, inner.column()),
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            data,
            miette::SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            line,
            column,
            inner.line_count(),
        )))
    }
}

fn to_miette(d: &Diagnostic) -> miette::MietteDiagnostic {
    let mut m =
        miette::MietteDiagnostic::new(d.message.clone()).with_code(d.code.clone()).with_severity(match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        });
    let mut help = String::new();
    if !d.path.is_empty() {
        help.push_str(&format!("in {}", d.path));
    }
    if let Some(h) = &d.help {
        if !help.is_empty() {
            help.push('\n');
        }
        help.push_str(h);
    }
    if !help.is_empty() {
        m = m.with_help(help);
    }
    if let Some(span) = d.span {
        m = m.with_label(miette::LabeledSpan::at(span.offset..span.end(), "here"));
    }
    m
}
