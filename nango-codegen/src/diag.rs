//! Diagnostics: what is wrong, where, and how to fix it.
//!
//! The core keeps diagnostics renderer-agnostic (plain data with a [`Span`]); the CLI renders
//! them with miette, build scripts print `file:line:col: message`, and the proc macros turn them
//! into `compile_error!`s.

use crate::Span;
use serde::Serialize;
use std::fmt::Write as _;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file is still usable (Nango accepts it too).
    Warning,
    /// The file is invalid.
    Error,
}

/// One problem found in a nango.yaml file.
///
/// `code` is Nango's code where Nango has one (`invalid_runs`, `model_not_found`, ...) so people
/// and tools that know Nango recognise it; our own checks use codes of the same style.
///
/// ```
/// let out = nango_codegen::parse("integrations: {}\nmodels:\n  bad-name:\n    id: string\n", "nango.yaml");
/// let d = &out.diagnostics[0];
/// assert_eq!(d.code, "invalid_model_name");
/// assert_eq!((d.line(), d.column()), (3, 3));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine-readable code.
    pub code: String,
    /// What is wrong (Nango's wording where Nango has a message for it).
    pub message: String,
    /// Nango-style logical path, e.g. `github > syncs > issues`.
    pub path: String,
    /// Where in the source; `None` only for problems that have no place (an empty file).
    #[serde(skip)]
    pub span: Option<Span>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(severity: Severity, code: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            code: code.to_owned(),
            message: message.into(),
            path: String::new(),
            span: None,
            help: None,
        }
    }

    pub(crate) fn error(code: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    pub(crate) fn warning(code: &str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    pub(crate) fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub(crate) fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line, or 0 when the diagnostic has no place.
    pub fn line(&self) -> u32 {
        self.span.map_or(0, |s| s.line)
    }

    /// 1-based column, or 0 when the diagnostic has no place.
    pub fn column(&self) -> u32 {
        self.span.map_or(0, |s| s.column)
    }

    /// One line, the way compilers print it: `nango.yaml:5:15: error[invalid_runs]: ...`.
    ///
    /// ```
    /// let src = "integrations: {}\nmodels:\n  A:\n    b: Record<string, string>\n";
    /// let out = nango_codegen::parse(src, "nango.yaml");
    /// let line = out.diagnostics.iter().find(|d| d.is_error()).unwrap().one_line("nango.yaml");
    /// assert!(line.starts_with("nango.yaml:4:8: error[type_syntax_error]: "), "{line}");
    /// ```
    pub fn one_line(&self, file: &str) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        format!("{file}:{}:{}: {kind}[{}]: {}", self.line(), self.column(), self.code, self.message)
    }

    /// A rustc-style block with the source line and a caret under the offending text.
    ///
    /// ```
    /// let src = "integrations:\n  gh:\n    syncs:\n      s:\n        runs: every 1 month\n        output: A\n        endpoint: /a\nmodels:\n  A:\n    id: string\n";
    /// let out = nango_codegen::parse(src, "nango.yaml");
    /// let text = out.diagnostics[0].render("nango.yaml", src);
    /// assert!(text.contains("--> nango.yaml:5:15"), "{text}");
    /// assert!(text.contains("^^^^^^^^^^^^^"), "{text}");
    /// ```
    pub fn render(&self, file: &str, source: &str) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{kind}[{}]: {}\n", self.code, self.message);
        if let Some(span) = self.span {
            let gutter = span.line.to_string().len();
            let pad = " ".repeat(gutter);
            let _ = writeln!(out, "{pad}--> {file}:{}:{}", span.line, span.column);
            let _ = writeln!(out, "{pad} |");
            let (shown, start, rest) = match LineWindow::around(source, span.offset) {
                // The whole line: the caret goes under the span's column.
                LineWindow::Whole(line_text) => {
                    let start = span.column.saturating_sub(1) as usize;
                    (line_text.to_owned(), start, line_text.chars().skip(start).count())
                }
                // A long line, shown around the span only.
                LineWindow::Cut { before, after, cut_before, cut_after } => {
                    let shown = format!(
                        "{}{before}{after}{}",
                        if cut_before { "…" } else { "" },
                        if cut_after { "…" } else { "" }
                    );
                    (shown, usize::from(cut_before) + before.chars().count(), after.chars().count())
                }
            };
            let _ = writeln!(out, "{} | {}", span.line, shown.replace('\t', " "));
            let text = source.get(span.offset..span.end()).unwrap_or("");
            let first_line = text.split('\n').next().unwrap_or("");
            let width = first_line.chars().take(rest + 1).count().clamp(1, rest.max(1));
            let _ = writeln!(out, "{pad} | {}{}", " ".repeat(start), "^".repeat(width));
        }
        if !self.path.is_empty() {
            let _ = writeln!(out, "  = in: {}", self.path);
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// The line a span starts on, as much of it as a diagnostic shows: found from the span's byte
/// offset (counting lines from the top for every diagnostic of a big file is quadratic), and
/// cut to [`LineWindow::REACH`] bytes on each side of the span when the line is longer, so
/// that a huge one-line file costs each diagnostic no more than that.
enum LineWindow<'s> {
    Whole(&'s str),
    Cut { before: &'s str, after: &'s str, cut_before: bool, cut_after: bool },
}

impl<'s> LineWindow<'s> {
    const REACH: usize = 1000;

    fn around(source: &'s str, offset: usize) -> Self {
        let floor = |mut i: usize| {
            while !source.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let offset = floor(offset.min(source.len()));
        let lo = floor(offset.saturating_sub(Self::REACH));
        let hi = floor((offset + Self::REACH).min(source.len()));
        let (start, cut_before) = match source[lo..offset].rfind('\n') {
            Some(i) => (lo + i + 1, false),
            None => (lo, lo > 0),
        };
        let (end, cut_after) = match source[offset..hi].find('\n') {
            Some(i) => (offset + i, false),
            None => (hi, hi < source.len()),
        };
        // As `str::lines`: a line break is `\n` or `\r\n`.
        let text = &source[start..end];
        let text = if end < source.len() && !cut_after { text.strip_suffix('\r').unwrap_or(text) } else { text };
        if !cut_before && !cut_after {
            return LineWindow::Whole(text);
        }
        let split = (offset - start).min(text.len());
        LineWindow::Cut { before: &text[..split], after: &text[split..], cut_before, cut_after }
    }
}
