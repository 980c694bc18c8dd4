//! Source positions shared by the IR and the diagnostics.

use serde::Serialize;

/// A region of the nango.yaml source: byte offset and length, plus the 1-based line and column
/// (in characters) of its first character.
///
/// ```
/// use nango_codegen::Span;
/// let span = Span { offset: 0, len: 12, line: 1, column: 1 };
/// assert_eq!(span.end(), 12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes (may be 0 for an empty value).
    pub len: usize,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl Span {
    /// The byte offset just past the span.
    pub fn end(&self) -> usize {
        self.offset + self.len
    }

    /// A span covering `len` bytes starting `delta` bytes into `self`, on the same line.
    ///
    /// Used to point inside a scalar (one member of `a | b`, a placeholder in an endpoint).
    /// `delta` counts bytes; the column is advanced by the characters of `text[..delta]`.
    pub(crate) fn sub(&self, text: &str, delta: usize, len: usize) -> Span {
        let prefix = text.get(..delta).unwrap_or("");
        if prefix.contains('\n') {
            return *self;
        }
        Span { offset: self.offset + delta, len, line: self.line, column: self.column + prefix.chars().count() as u32 }
    }
}
