//! # nango-codegen
//!
//! The core of nango-rs: reads a `nango.yaml` (Nango's v1, v2 and aggregated "flows" layouts)
//! into a validated, typed [`NangoConfig`], with every problem reported as a [`Diagnostic`] that
//! names the line and column. The `nango` CLI, build scripts and the proc macros all call this
//! one crate.
//!
//! ```
//! let src = "\
//! integrations:
//!   github:
//!     syncs:
//!       issues:
//!         runs: every 30 minutes
//!         output: GithubIssue
//!         endpoint: GET /github/issues
//! models:
//!   GithubIssue:
//!     id: integer
//!     title: string
//!     state: open | closed
//! ";
//! let out = nango_codegen::parse(src, "nango.yaml");
//! assert!(out.is_valid());
//! let sync = &out.config.integrations[0].syncs[0];
//! assert_eq!(sync.schedule.as_ref().unwrap().interval.as_secs(), 1800);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attrs;
#[cfg(feature = "cli")]
pub mod cli;
pub mod codegen;
mod diag;
mod fast_hash;
pub mod ir;
mod models;
pub mod nango_json;
mod parser;
pub mod project;
pub mod schedule;
mod span;
mod validate;
mod yaml;

pub use codegen::{Config, DateType, GenerateError, Generated, Settings, compile, generate, generate_tokens};
pub use diag::{Diagnostic, Severity};
pub use ir::*;
pub use span::Span;

use std::path::{Path, PathBuf};

/// The result of reading a nango.yaml: the IR (as complete as the file allows) and every
/// diagnostic, in source order.
#[derive(Debug, Clone)]
pub struct ParseOutput {
    /// The file name used in diagnostics.
    pub file: String,
    /// The source text.
    pub source: String,
    /// The IR. When there are errors it holds what could be read.
    pub config: NangoConfig,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl ParseOutput {
    /// True when there is no error (warnings are allowed).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// Turns warnings into errors (`--strict`), except `cyclic_model`, which only says that a
    /// model is recursive, which is supported.
    ///
    /// ```
    /// let src = "integrations: {}\nmodels:\n  A:\n    b: GithubIsue\n  GithubIssue:\n    id: string\n";
    /// let mut out = nango_codegen::parse(src, "nango.yaml");
    /// assert!(out.is_valid());
    /// assert!(out.diagnostics[0].message.contains("did you mean `GithubIssue`?"));
    /// out.make_strict();
    /// assert!(!out.is_valid());
    /// ```
    pub fn make_strict(&mut self) {
        for d in &mut self.diagnostics {
            if d.code != "cyclic_model" {
                d.severity = Severity::Error;
            }
        }
    }

    /// `nango.json`: the parsed config in the shape Nango writes to `.nango/nango.json`.
    pub fn nango_json(&self) -> serde_json::Value {
        nango_json::to_value(&self.config)
    }
}

/// Parses nango.yaml text. `file` is only used in diagnostics.
///
/// Never panics and never fails: problems, including YAML syntax errors, are diagnostics.
///
/// ```
/// let out = nango_codegen::parse("integrations: [", "nango.yaml");
/// assert!(!out.is_valid());
/// assert_eq!(out.diagnostics[0].code, "yaml_syntax");
/// ```
pub fn parse(source: &str, file: &str) -> ParseOutput {
    let mut diagnostics = Vec::new();
    let config = match yaml::parse_yaml(source) {
        Ok(root) => {
            let mut parser = parser::Parser::new();
            let config = parser.parse_document(&root);
            diagnostics = parser.diagnostics;
            config
        }
        Err(d) => {
            diagnostics.push(*d);
            NangoConfig::default()
        }
    };
    // Stable order: by position, then code, so output does not depend on check order.
    diagnostics.sort_by(|a, b| {
        let ka = a.span.map_or((0, 0), |s| (s.line, s.column));
        let kb = b.span.map_or((0, 0), |s| (s.line, s.column));
        ka.cmp(&kb).then_with(|| a.code.cmp(&b.code))
    });
    diagnostics.dedup();
    ParseOutput { file: file.to_owned(), source: source.to_owned(), config, diagnostics }
}

/// Errors reading a nango.yaml from disk (not problems in its content: those are diagnostics).
#[derive(Debug)]
pub enum LoadError {
    /// The file (or the folder's `nango.yaml`) could not be read.
    Io {
        /// The path tried.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// The path read.
        path: PathBuf,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            LoadError::NotUtf8 { path } => write!(f, "{} is not UTF-8 text", path.display()),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { source, .. } => Some(source),
            LoadError::NotUtf8 { .. } => None,
        }
    }
}

/// Finds the nango.yaml for a path: the path itself when it is a file, else `nango.yaml` inside
/// the folder.
///
/// ```
/// let p = nango_codegen::resolve_path(std::path::Path::new("/no/such/dir/nango.yaml"));
/// assert!(p.ends_with("nango.yaml"));
/// ```
pub fn resolve_path(path: &Path) -> PathBuf {
    if path.is_dir() { path.join("nango.yaml") } else { path.to_path_buf() }
}

/// The largest nango.yaml [`load`] reads: 64 MiB. The largest real file known is under 1 MB;
/// the cap keeps a wrong path (a device such as `/dev/zero`, a pipe, a log file) from filling
/// memory. [`parse`] takes text of any size.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Why [`load`] refused a file before reading it whole: it is larger than [`MAX_FILE_SIZE`].
/// It comes as the source of a [`LoadError::Io`] of kind [`std::io::ErrorKind::FileTooLarge`].
///
/// ```
/// use nango_codegen::{FileTooLarge, MAX_FILE_SIZE};
/// let e = FileTooLarge { size: 70_000_000, size_known: true };
/// assert_eq!(
///     e.to_string(),
///     "the file is 70000000 bytes (66.8 MiB), over the limit of 67108864 bytes (64 MiB) for a nango.yaml; \
///      check that this is the nango.yaml you meant (real ones are under 1 MB; nango_codegen::parse \
///      takes text of any size)"
/// );
/// let e = FileTooLarge { size: MAX_FILE_SIZE + 1, size_known: false };
/// assert_eq!(
///     e.to_string(),
///     "the file has more than 67108864 bytes (64 MiB), the limit for a nango.yaml (reading stopped there); \
///      check that this is the nango.yaml you meant (real ones are under 1 MB; nango_codegen::parse \
///      takes text of any size)"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTooLarge {
    /// The file's size, or, when `size_known` is false (pipes and devices report no size), how
    /// much was read before giving up.
    pub size: u64,
    /// True when `size` is the file's size from its metadata.
    pub size_known: bool,
}

/// What to do about a file over the limit.
const FILE_TOO_LARGE_HELP: &str = "check that this is the nango.yaml you meant (real ones are under 1 MB; nango_codegen::parse takes text of any size)";

impl std::fmt::Display for FileTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limit = format!("the limit of {MAX_FILE_SIZE} bytes ({} MiB) for a nango.yaml", MAX_FILE_SIZE >> 20);
        if self.size_known {
            write!(
                f,
                "the file is {} bytes ({:.1} MiB), over {limit}; {FILE_TOO_LARGE_HELP}",
                self.size,
                self.size as f64 / (1u64 << 20) as f64
            )
        } else {
            write!(
                f,
                "the file has more than {MAX_FILE_SIZE} bytes ({} MiB), the limit for a nango.yaml (reading stopped there); {FILE_TOO_LARGE_HELP}",
                MAX_FILE_SIZE >> 20
            )
        }
    }
}

impl std::error::Error for FileTooLarge {}

/// Reads at most [`MAX_FILE_SIZE`] bytes of `path`: refused at once when the metadata says the
/// file is larger, and with a bounded read for what reports no size (pipes, devices) or grows.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let too_large =
        |size, size_known| std::io::Error::new(std::io::ErrorKind::FileTooLarge, FileTooLarge { size, size_known });
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large(meta.len(), true));
    }
    let mut bytes = Vec::with_capacity(if meta.is_file() { meta.len() as usize } else { 0 });
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(MAX_FILE_SIZE, false));
    }
    Ok(bytes)
}

/// Reads and parses a nango.yaml file (or the `nango.yaml` in a folder). Files over
/// [`MAX_FILE_SIZE`] are refused (a [`LoadError::Io`] whose source is [`FileTooLarge`]) before
/// they are read whole.
///
/// ```no_run
/// let out = nango_codegen::load("nango.yaml").unwrap();
/// for d in &out.diagnostics {
///     eprintln!("{}", d.render(&out.file, &out.source));
/// }
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<ParseOutput, LoadError> {
    let path = resolve_path(path.as_ref());
    let bytes = read_capped(&path).map_err(|source| LoadError::Io { path: path.clone(), source })?;
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 { path: path.clone() })?;
    Ok(parse(&text, &path.display().to_string()))
}
