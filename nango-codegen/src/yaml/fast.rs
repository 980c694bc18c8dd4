//! The fast reader: the block-style YAML that nango.yaml files are written in, read straight
//! into the [`Builder`] without a token queue.
//!
//! It reads block mappings and sequences (indentless ones too), plain scalars (multi-line ones
//! too), one-line quoted scalars, block scalars (`|`, `>`, with chomping), one-line flow
//! collections, anchors and aliases, comments and a leading `---`; it gives up (returns false,
//! and granit reads the document) on anything else: tabs, carriage returns, control
//! characters, other document markers and directives, tags, explicit keys, multi-line quoted or
//! flow scalars, explicit indentation, and every syntax error. What it reads, it reports exactly as granit
//! does, down to the marks granit gives events (a block mapping starts at its first key and ends
//! where the next token is; an indentless sequence starts where its first item does...): the
//! tree, and so every diagnostic, cannot tell which reader made it.

use super::Builder;
use crate::Span;
use crate::fast_hash::HashMap;
use serde_saphyr::granit_parser::ScalarStyle;
use std::borrow::Cow;

/// Why reading stopped early: the document is not one this reader reads (granit will), or the
/// builder refused it (granit will read it again and say why, in its words and at its place).
struct Stop;

type Read<T = ()> = Result<T, Stop>;

/// What a block reader found after what it read: the column of the next content, with `pos` on
/// it, or `None` at the end of the input. The collection around it carries on from there.
type Next = Option<usize>;

/// Reads `source` into `builder`; false when granit must read it instead (then `builder` holds
/// a partial tree and is to be dropped).
pub(super) fn read<'s>(source: &'s str, builder: &mut Builder<'s>) -> bool {
    if !plain_text(source) {
        return false;
    }
    let mut scanner = Scanner {
        src: source,
        b: source.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        col_cache: (0, 0),
        out: builder,
        anchors: HashMap::default(),
        next_anchor: 1,
    };
    scanner.document().is_ok()
}

/// True when the text has only the characters this reader handles: no tab, no carriage return,
/// no control or other non-printable character, no byte order mark, no Unicode line separator.
/// Checked on the UTF-8 bytes: the characters refused outside ASCII are C1 controls (`C2 80` to
/// `C2 9F`), U+2028 and U+2029 (`E2 80 A8/A9`), and U+FEFF, U+FFFE, U+FFFF (`EF BB BF`, `EF BF
/// BE/BF`).
fn plain_text(source: &str) -> bool {
    const LOW: u64 = 0x2020_2020_2020_2020;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let b = source.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Eight bytes at a time while they are all printable ASCII (no byte below 0x20, none
        // from 0x7f up: the lowest such byte always sets its top bit in one of the three).
        if let Some(chunk) = b.get(i..i + 8) {
            let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if (x.wrapping_sub(LOW) | x.wrapping_add(ONES) | x) & HIGH == 0 {
                i += 8;
                continue;
            }
        }
        match b[i] {
            b'\n' | 0x20..=0x7e => {}
            0xc2 if b.get(i + 1).is_some_and(|&n| n < 0xa0) => return false,
            0xe2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) => return false,
            0xef if matches!(
                (b.get(i + 1), b.get(i + 2)),
                (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
            ) =>
            {
                return false;
            }
            0x80.. => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// Where a value is written: after the `key:` of a block mapping, or after the `-` of a block
/// sequence item.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    MapValue,
    SeqItem,
}

/// A position: byte offset, 1-based line, 0-based column in characters (granit's marks).
#[derive(Clone, Copy)]
struct Mark {
    offset: usize,
    line: u32,
    col: u32,
}

impl Mark {
    fn span_to(self, end: usize) -> Span {
        Span { offset: self.offset, len: end - self.offset, line: self.line, column: self.col + 1 }
    }

    fn point(self) -> Span {
        self.span_to(self.offset)
    }
}

struct Scanner<'s, 'b> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    /// The line of `pos` and where it starts.
    line: u32,
    line_start: usize,
    /// A known (offset, column) on the current line: columns count characters, and counting from
    /// there keeps long lines linear.
    col_cache: (usize, u32),
    out: &'b mut Builder<'s>,
    /// Anchor names to the id of their latest definition (ids count from 1, as granit's do).
    anchors: HashMap<&'s str, usize>,
    next_anchor: usize,
}

fn is_break_or_end(b: Option<u8>) -> bool {
    matches!(b, None | Some(b'\n'))
}

fn is_blank_or_end(b: Option<u8>) -> bool {
    matches!(b, None | Some(b'\n' | b' '))
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// The bytes a block plain scalar's scan stops at: a line break, `:`, `#` and a space (which
/// is not part of the text when it trails).
static PLAIN_STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    stops[b'\n' as usize] = true;
    stops[b':' as usize] = true;
    stops[b'#' as usize] = true;
    stops[b' ' as usize] = true;
    stops
};

/// How the text of a block plain scalar on one line ends.
#[derive(Clone, Copy, PartialEq)]
enum PlainEnd {
    /// At a `:` followed by a space or a line break (a key's end).
    Colon,
    /// At a comment, a line break or the end of the input.
    Line,
}

/// Scans block plain-scalar text from `from`: where the scan stopped, where the text ends (before
/// trailing spaces), and why.
fn scan_plain(b: &[u8], from: usize) -> (usize, usize, PlainEnd) {
    let mut i = from;
    let mut end = from;
    loop {
        let run = i;
        while i < b.len() && !PLAIN_STOPS[b[i] as usize] {
            i += 1;
        }
        if i > run {
            end = i;
        }
        match b.get(i) {
            None | Some(b'\n') => return (i, end, PlainEnd::Line),
            Some(b':') if is_blank_or_end(b.get(i + 1).copied()) => return (i, end, PlainEnd::Colon),
            Some(b'#') if i > 0 && b[i - 1] == b' ' => return (i, end, PlainEnd::Line),
            Some(b' ') => i += 1,
            Some(_) => {
                i += 1;
                end = i;
            }
        }
    }
}

impl<'s> Scanner<'s, '_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.b.get(offset).copied()
    }

    fn mark_at(&mut self, offset: usize) -> Mark {
        debug_assert!(offset >= self.line_start);
        let (from, col) = if self.col_cache.0 >= self.line_start && self.col_cache.0 <= offset {
            self.col_cache
        } else {
            (self.line_start, 0)
        };
        let segment = &self.b[from..offset];
        let col =
            col + if segment.is_ascii() { segment.len() as u32 } else { self.src[from..offset].chars().count() as u32 };
        self.col_cache = (offset, col);
        Mark { offset, line: self.line, col }
    }

    fn mark(&mut self) -> Mark {
        self.mark_at(self.pos)
    }

    /// Past the `\n` at `pos`.
    fn newline(&mut self) {
        debug_assert_eq!(self.peek(), Some(b'\n'));
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Skips spaces and a comment to the end of the line (not past it). A `#` starts a comment
    /// only after a space or at the start of a line.
    fn skip_to_line_end(&mut self) -> Read {
        self.skip_spaces();
        match self.peek() {
            None | Some(b'\n') => Ok(()),
            Some(b'#') if self.pos == self.line_start || self.b[self.pos - 1] == b' ' => {
                while !is_break_or_end(self.peek()) {
                    self.pos += 1;
                }
                Ok(())
            }
            _ => Err(Stop),
        }
    }

    /// The rest of the line is blank or a comment: moves to the start of the next line.
    fn end_line(&mut self) -> Read {
        self.skip_to_line_end()?;
        if self.peek() == Some(b'\n') {
            self.newline();
        }
        Ok(())
    }

    /// From the start of a line (or the end of the input), skips blank and comment lines to the
    /// next content.
    fn next_content(&mut self) -> Read<Next> {
        loop {
            self.skip_spaces();
            match self.peek() {
                None => return Ok(None),
                Some(b'\n') => self.newline(),
                Some(b'#') => {
                    while !is_break_or_end(self.peek()) {
                        self.pos += 1;
                    }
                    if self.peek() == Some(b'\n') {
                        self.newline();
                    }
                }
                Some(_) => {
                    let col = self.pos - self.line_start;
                    // Document markers and directives belong to granit.
                    if col == 0 {
                        let rest = &self.b[self.pos..];
                        let marker = (rest.starts_with(b"---") || rest.starts_with(b"..."))
                            && is_blank_or_end(rest.get(3).copied());
                        if marker || rest[0] == b'%' {
                            return Err(Stop);
                        }
                    }
                    return Ok(Some(col));
                }
            }
        }
    }

    fn document(&mut self) -> Read {
        // An explicit start (`---` alone on the first line) is read; other markers are granit's.
        if self.b.starts_with(b"---") && self.b.get(3) == Some(&b'\n') {
            self.pos = 3;
            self.newline();
        }
        match self.next_content()? {
            None => Ok(()),
            Some(col) => match self.block_node(col, -1, 0)? {
                None => Ok(()),
                Some(_) => Err(Stop),
            },
        }
    }

    /// `&name`: defines the anchor and returns its id.
    fn anchor(&mut self) -> Read<usize> {
        let name = self.name()?;
        let id = self.next_anchor;
        self.next_anchor += 1;
        self.anchors.insert(name, id);
        Ok(id)
    }

    /// The name after `&` or `*` (at `pos`), up to a space or the end of the line.
    fn name(&mut self) -> Read<&'s str> {
        self.pos += 1;
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b' ' || b == b'\n' {
                break;
            }
            if is_flow_indicator(b) {
                return Err(Stop);
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(Stop);
        }
        Ok(&self.src[start..self.pos])
    }

    fn alias(&mut self) -> Read {
        let mark = self.mark();
        let name = self.name()?;
        let Some(&id) = self.anchors.get(name) else { return Err(Stop) };
        let span = mark.span_to(self.pos);
        self.out.alias(id, span).map_err(|_| Stop)
    }

    fn scalar(&mut self, text: Cow<'s, str>, style: ScalarStyle, anchor: usize, span: Span) -> Read {
        self.out.scalar(text, style, None, anchor, span).map_err(|_| Stop)
    }

    fn start(&mut self, map: bool, anchor: usize, span: Span) -> Read {
        self.out.start(map, anchor, span).map_err(|_| Stop)
    }

    fn end(&mut self, span: Span) -> Read {
        self.out.end(span).map_err(|_| Stop)
    }

    /// Ends the block collection being read where the next content (or the end) is: granit
    /// marks the end of a block collection at the token after it.
    fn end_here(&mut self, next: Next) -> Read<Next> {
        let end = self.mark();
        self.end(end.point())?;
        Ok(next)
    }

    /// A block node whose first token is at `pos`, column `col`, inside a collection at
    /// `parent` (-1 for the document), with an anchor from the line before (0: none).
    fn block_node(&mut self, col: usize, parent: isize, anchor: usize) -> Read<Next> {
        debug_assert!(col as isize > parent);
        if self.at_dash() {
            return self.block_sequence(col, false, anchor);
        }
        if self.key_ahead()? {
            return self.block_mapping(col, anchor);
        }
        if anchor != 0 {
            return Err(Stop);
        }
        // A single value on its own line (`key:` then `  value`).
        self.inline_value(0, parent)?;
        self.after_value(parent)
    }

    /// After a value that ends on its line: the next content, which must not be inside the
    /// value (that would be more of a multi-line scalar, or an error), i.e. not deeper than
    /// `owner`.
    fn after_value(&mut self, owner: isize) -> Read<Next> {
        self.end_line()?;
        let next = self.next_content()?;
        if next.is_some_and(|col| col as isize > owner) {
            return Err(Stop);
        }
        Ok(next)
    }

    /// Whether the line from `pos` is a `key:` entry (a plain or quoted key, then `:` and a
    /// space or the end of the line). Does not move.
    fn key_ahead(&self) -> Read<bool> {
        let mut i = self.pos;
        match self.b[i] {
            b'[' | b'{' | b'*' | b'&' | b'!' | b'|' | b'>' => Ok(false),
            q @ (b'"' | b'\'') => {
                i += 1;
                loop {
                    match self.peek_at(i) {
                        None | Some(b'\n') => return Err(Stop),
                        Some(b'\\') if q == b'"' => i += 2,
                        Some(b'\'') if q == b'\'' && self.peek_at(i + 1) == Some(b'\'') => i += 2,
                        Some(c) if c == q => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                while self.peek_at(i) == Some(b' ') {
                    i += 1;
                }
                Ok(self.peek_at(i) == Some(b':') && is_blank_or_end(self.peek_at(i + 1)))
            }
            _ => Ok(scan_plain(self.b, i).2 == PlainEnd::Colon),
        }
    }

    /// A block mapping whose first key is at `pos`, column `indent`.
    fn block_mapping(&mut self, indent: usize, anchor: usize) -> Read<Next> {
        let start = self.mark();
        self.start(true, anchor, start.point())?;
        loop {
            self.key()?;
            // `pos` is on the `:`.
            let colon = self.pos;
            self.pos += 1;
            match self.value(Place::MapValue, indent, colon)? {
                None => return self.end_here(None),
                Some(col) if col < indent => return self.end_here(Some(col)),
                Some(col) if col == indent && !self.at_dash() => {}
                Some(_) => return Err(Stop),
            }
        }
    }

    /// A mapping key at `pos`, up to the `:` after it (left at `pos`).
    fn key(&mut self) -> Read {
        let mark = self.mark();
        match self.b[self.pos] {
            b'"' | b'\'' => {
                let (text, style) = self.quoted()?;
                let span = mark.span_to(self.pos);
                self.skip_spaces();
                if self.peek() != Some(b':') || !is_blank_or_end(self.peek_at(self.pos + 1)) {
                    return Err(Stop);
                }
                self.scalar(text, style, 0, span)
            }
            first => {
                if !self.plain_start(first, false) {
                    return Err(Stop);
                }
                let start = self.pos;
                let (colon, end, why) = scan_plain(self.b, start);
                if why != PlainEnd::Colon {
                    return Err(Stop);
                }
                self.pos = colon;
                // YAML limits implicit keys to 1024 characters.
                if end - start > 1024 {
                    return Err(Stop);
                }
                let span = mark.span_to(end);
                self.scalar(Cow::Borrowed(&self.src[start..end]), ScalarStyle::Plain, 0, span)
            }
        }
    }

    /// Whether a plain scalar may start with `first` (at `pos`): not with an indicator, except
    /// `-`, `?` and `:` followed by a character that is not a space (nor, in flow context, a
    /// flow indicator).
    fn plain_start(&self, first: u8, flow: bool) -> bool {
        match first {
            b'-' | b'?' | b':' => {
                let next = self.peek_at(self.pos + 1);
                !(is_blank_or_end(next) || (flow && next.is_some_and(is_flow_indicator)))
            }
            b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@'
            | b'`' | b' ' | b'\n' => false,
            _ => true,
        }
    }

    /// The value after a `key:` (`place` MapValue, `:` at `indicator`) or a `-` (SeqItem, `-`
    /// at `indicator`) of a collection at `indent`, through the end of its line or block.
    fn value(&mut self, place: Place, indent: usize, indicator: usize) -> Read<Next> {
        self.skip_spaces();
        let mut anchor = 0;
        if self.peek() == Some(b'&') {
            anchor = self.anchor()?;
            self.skip_spaces();
        }
        if matches!(self.peek(), None | Some(b'\n' | b'#')) {
            // The value, if any, is on the lines below. An empty one is marked at the `:` of a
            // mapping, or where the line of the `-` ends (after any comment), as granit does.
            let colon = self.mark_at(indicator);
            self.skip_to_line_end()?;
            let eol = self.mark();
            if self.peek() == Some(b'\n') {
                self.newline();
            }
            return match self.next_content()? {
                Some(col) if col > indent => self.block_node(col, indent as isize, anchor),
                Some(col) if col == indent && place == Place::MapValue && anchor == 0 && self.at_dash() => {
                    self.block_sequence(col, true, 0)
                }
                _ if anchor != 0 => Err(Stop),
                next => {
                    let mark = if place == Place::MapValue { colon } else { eol };
                    self.scalar(Cow::Borrowed("~"), ScalarStyle::Plain, 0, mark.point())?;
                    Ok(next)
                }
            };
        }
        if place == Place::SeqItem && anchor == 0 {
            // `- - a` and `- key: value` on the `-` line.
            let col = self.pos - self.line_start;
            if self.at_dash() {
                return self.block_sequence(col, false, 0);
            }
            if self.key_ahead()? {
                return self.block_mapping(col, 0);
            }
        }
        match self.peek() {
            Some(b'|' | b'>') => self.block_scalar(indent, anchor),
            _ => {
                self.inline_value(anchor, indent as isize)?;
                self.after_value(indent as isize)
            }
        }
    }

    /// Whether `pos` is on a `-` that starts a sequence entry (a space or line break after it).
    fn at_dash(&self) -> bool {
        self.peek() == Some(b'-') && is_blank_or_end(self.peek_at(self.pos + 1))
    }

    /// A value that starts on this line: an alias, a flow collection or a quoted scalar that end
    /// on it, or a plain scalar, which may go on over lines deeper than `owner` (the column of
    /// the collection it is in; -1 for the document). Leaves `pos` after it.
    fn inline_value(&mut self, anchor: usize, owner: isize) -> Read {
        match self.b[self.pos] {
            b'*' if anchor == 0 => self.alias(),
            b'[' | b'{' => self.flow_collection(anchor),
            b'"' | b'\'' => {
                let mark = self.mark();
                let (text, style) = self.quoted()?;
                let span = mark.span_to(self.pos);
                self.scalar(text, style, anchor, span)
            }
            first if self.plain_start(first, false) => {
                let mark = self.mark();
                let start = self.pos;
                let end = self.plain_line()?;
                let (text, end) = self.plain_continuation(start, end, owner)?;
                let span = mark.span_to(end);
                self.scalar(text, ScalarStyle::Plain, anchor, span)
            }
            _ => Err(Stop),
        }
    }

    /// The text of a plain scalar from `pos` to the end of its line (or a comment): returns
    /// where the text ends (before trailing spaces), with `pos` there.
    fn plain_line(&mut self) -> Read<usize> {
        match scan_plain(self.b, self.pos) {
            // `a: b: c` is an error, and a key here is not ours either.
            (_, _, PlainEnd::Colon) => Err(Stop),
            (_, end, PlainEnd::Line) => {
                self.pos = end;
                Ok(end)
            }
        }
    }

    /// A plain scalar whose first line is `start..end` (`pos` at `end`), with the lines after it
    /// that are deeper than `owner`, folded as YAML folds them: a line break between two lines
    /// becomes a space, and n empty lines between them n line breaks. A comment ends the scalar.
    /// Returns the text and where it ends; `pos` is there.
    fn plain_continuation(&mut self, start: usize, end: usize, owner: isize) -> Read<(Cow<'s, str>, usize)> {
        let single = Cow::Borrowed(&self.src[start..end]);
        let mut text: Option<String> = None;
        let mut end = end;
        loop {
            // After the text of a line: a comment or the end of the input ends the scalar.
            let save = (self.pos, self.line, self.line_start);
            self.skip_spaces();
            if self.peek() != Some(b'\n') {
                (self.pos, self.line, self.line_start) = save;
                break;
            }
            self.newline();
            let mut breaks = 0;
            let more = loop {
                self.skip_spaces();
                match self.peek() {
                    Some(b'\n') => {
                        breaks += 1;
                        self.newline();
                    }
                    None | Some(b'#') => break false,
                    Some(_) => break (self.pos - self.line_start) as isize > owner,
                }
            };
            if !more {
                (self.pos, self.line, self.line_start) = save;
                break;
            }
            // A continuation line: as the first, but a `- ` or a document marker at its start
            // is granit's to judge.
            let col = self.pos - self.line_start;
            let rest = &self.b[self.pos..];
            if self.at_dash() || (col == 0 && (rest.starts_with(b"---") || rest.starts_with(b"..."))) {
                return Err(Stop);
            }
            let line_start = self.pos;
            let line_end = self.plain_line()?;
            let folded = text.get_or_insert_with(|| single.to_string());
            if breaks == 0 {
                folded.push(' ');
            } else {
                folded.extend(std::iter::repeat_n('\n', breaks));
            }
            folded.push_str(&self.src[line_start..line_end]);
            end = line_end;
        }
        Ok((text.map_or(single, Cow::Owned), end))
    }

    /// A block sequence whose first `-` is at `pos`, column `indent`. An indentless one (the
    /// value of a key at the same column) starts, in granit's marks, where its first item does.
    fn block_sequence(&mut self, indent: usize, indentless: bool, anchor: usize) -> Read<Next> {
        let dash = self.mark();
        if indentless {
            // Where the first item starts: after the `-` and spaces, or at the end of the line
            // (after a comment) when the item is below or empty.
            let save = self.pos;
            self.pos += 1;
            self.skip_spaces();
            if self.peek() == Some(b'#') {
                self.skip_to_line_end()?;
            }
            let first = self.mark();
            self.pos = save;
            self.start(false, anchor, first.point())?;
        } else {
            self.start(false, anchor, dash.point())?;
        }
        loop {
            let dash = self.pos;
            self.pos += 1;
            match self.value(Place::SeqItem, indent, dash)? {
                None => return self.end_here(None),
                Some(col) if col < indent => return self.end_here(Some(col)),
                Some(col) if col == indent && self.at_dash() => {}
                Some(col) if col == indent && indentless => return self.end_here(Some(col)),
                Some(_) => return Err(Stop),
            }
        }
    }

    /// A quoted scalar at `pos` that ends on its line; leaves `pos` after the closing quote.
    fn quoted(&mut self) -> Read<(Cow<'s, str>, ScalarStyle)> {
        let quote = self.b[self.pos];
        self.pos += 1;
        let start = self.pos;
        if quote == b'\'' {
            let mut owned: Option<String> = None;
            let mut from = start;
            loop {
                match self.peek() {
                    None | Some(b'\n') => return Err(Stop),
                    Some(b'\'') if self.peek_at(self.pos + 1) == Some(b'\'') => {
                        let text = owned.get_or_insert_with(String::new);
                        text.push_str(&self.src[from..=self.pos]);
                        self.pos += 2;
                        from = self.pos;
                    }
                    Some(b'\'') => break,
                    Some(_) => self.pos += 1,
                }
            }
            let text = match owned {
                Some(mut text) => {
                    text.push_str(&self.src[from..self.pos]);
                    Cow::Owned(text)
                }
                None => Cow::Borrowed(&self.src[start..self.pos]),
            };
            self.pos += 1;
            return Ok((text, ScalarStyle::SingleQuoted));
        }
        let mut owned: Option<String> = None;
        let mut from = start;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(Stop),
                Some(b'"') => break,
                Some(b'\\') => {
                    let text = owned.get_or_insert_with(String::new);
                    text.push_str(&self.src[from..self.pos]);
                    self.pos += 1;
                    let escaped = match self.peek() {
                        Some(b'0') => '\0',
                        Some(b'a') => '\x07',
                        Some(b'b') => '\x08',
                        Some(b't') => '\t',
                        Some(b'n') => '\n',
                        Some(b'v') => '\x0b',
                        Some(b'f') => '\x0c',
                        Some(b'r') => '\r',
                        Some(b'e') => '\x1b',
                        Some(b' ') => ' ',
                        Some(b'"') => '"',
                        Some(b'/') => '/',
                        Some(b'\\') => '\\',
                        Some(b'N') => '\u{85}',
                        Some(b'_') => '\u{a0}',
                        Some(b'L') => '\u{2028}',
                        Some(b'P') => '\u{2029}',
                        Some(kind @ (b'x' | b'u' | b'U')) => {
                            let digits = match kind {
                                b'x' => 2,
                                b'u' => 4,
                                _ => 8,
                            };
                            let hex = self.src.get(self.pos + 1..self.pos + 1 + digits).ok_or(Stop)?;
                            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return Err(Stop);
                            }
                            let code = u32::from_str_radix(hex, 16).map_err(|_| Stop)?;
                            self.pos += digits;
                            char::from_u32(code).ok_or(Stop)?
                        }
                        _ => return Err(Stop),
                    };
                    text.push(escaped);
                    self.pos += 1;
                    from = self.pos;
                }
                Some(_) => self.pos += 1,
            }
        }
        let text = match owned {
            Some(mut text) => {
                text.push_str(&self.src[from..self.pos]);
                Cow::Owned(text)
            }
            None => Cow::Borrowed(&self.src[start..self.pos]),
        };
        self.pos += 1;
        Ok((text, ScalarStyle::DoubleQuoted))
    }

    /// A flow collection (`[...]` or `{...}`) at `pos` that ends on its line.
    fn flow_collection(&mut self, anchor: usize) -> Read {
        let map = self.b[self.pos] == b'{';
        let close = if map { b'}' } else { b']' };
        let open = self.mark();
        self.pos += 1;
        self.start(map, anchor, open.span_to(self.pos))?;
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(c) if c == close => {
                    let end = self.mark();
                    self.pos += 1;
                    return self.end(end.span_to(self.pos));
                }
                None | Some(b'\n') => return Err(Stop),
                _ => {}
            }
            self.flow_node()?;
            self.skip_spaces();
            if map {
                if self.peek() != Some(b':') {
                    return Err(Stop);
                }
                self.pos += 1;
                if !is_blank_or_end(self.peek()) {
                    return Err(Stop);
                }
                self.skip_spaces();
                if matches!(self.peek(), None | Some(b'\n' | b',' | b'}' | b'#')) {
                    return Err(Stop);
                }
                self.flow_node()?;
                self.skip_spaces();
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => return Err(Stop),
            }
        }
    }

    /// One entry of a flow collection: a nested one, a quoted or a plain scalar.
    fn flow_node(&mut self) -> Read {
        match self.peek() {
            Some(b'[' | b'{') => self.flow_collection(0),
            Some(b'"' | b'\'') => {
                let mark = self.mark();
                let (text, style) = self.quoted()?;
                let span = mark.span_to(self.pos);
                self.scalar(text, style, 0, span)
            }
            Some(first) if self.plain_start(first, true) => {
                let mark = self.mark();
                let start = self.pos;
                let mut end = start;
                loop {
                    match self.peek() {
                        None | Some(b'\n') => return Err(Stop),
                        Some(b',' | b'[' | b']' | b'{' | b'}') => break,
                        Some(b':') => {
                            let next = self.peek_at(self.pos + 1);
                            if is_blank_or_end(next) || next.is_some_and(is_flow_indicator) {
                                break;
                            }
                            self.pos += 1;
                            end = self.pos;
                        }
                        Some(b'#') if self.b[self.pos - 1] == b' ' => return Err(Stop),
                        Some(b' ') => self.pos += 1,
                        Some(_) => {
                            self.pos += 1;
                            end = self.pos;
                        }
                    }
                }
                self.pos = end;
                let span = mark.span_to(end);
                self.scalar(Cow::Borrowed(&self.src[start..end]), ScalarStyle::Plain, 0, span)
            }
            _ => Err(Stop),
        }
    }

    /// A literal (`|`) or folded (`>`) block scalar whose header is at `pos`, the value of a
    /// collection at `indent`.
    fn block_scalar(&mut self, indent: usize, anchor: usize) -> Read<Next> {
        let literal = self.b[self.pos] == b'|';
        self.pos += 1;
        let chomp = match self.peek() {
            Some(b'-') => Some(false),
            Some(b'+') => Some(true),
            _ => None,
        };
        if chomp.is_some() {
            self.pos += 1;
        }
        // Explicit indentation, and anything else after the header, is granit's.
        if !matches!(self.peek(), None | Some(b' ' | b'\n')) {
            return Err(Stop);
        }
        self.end_line()?;
        if self.peek().is_none() {
            return Err(Stop);
        }
        // The first line sets the indentation; it must hold text (leading empty lines and
        // an empty scalar are granit's).
        let first = self.pos;
        while self.peek_at(self.pos) == Some(b' ') {
            self.pos += 1;
        }
        let width = self.pos - first;
        if width <= indent || is_break_or_end(self.peek()) {
            return Err(Stop);
        }
        let start = self.mark();
        // Content lines (the text after the indentation; `None` for empty lines).
        let mut lines: Vec<Option<&'s str>> = Vec::new();
        let end = loop {
            // `pos` is after the indentation of a line of the scalar.
            let text_start = self.pos;
            while !is_break_or_end(self.peek()) {
                self.pos += 1;
            }
            lines.push(Some(&self.src[text_start..self.pos]));
            if self.peek().is_none() {
                // No line break after the last line: granit's.
                return Err(Stop);
            }
            self.newline();
            // The next line: more of the scalar, empty, or the end.
            let ended = loop {
                let line_start = self.pos;
                while self.peek() == Some(b' ') && self.pos - line_start < width {
                    self.pos += 1;
                }
                match self.peek() {
                    None => break Some(self.mark()),
                    Some(b'\n') => {
                        lines.push(None);
                        self.newline();
                    }
                    Some(b' ') => {
                        // An indentation of `width` reached: a more-indented line, unless it
                        // holds only spaces (granit's).
                        let mut i = self.pos;
                        while self.peek_at(i) == Some(b' ') {
                            i += 1;
                        }
                        if is_break_or_end(self.peek_at(i)) {
                            return Err(Stop);
                        }
                        break None;
                    }
                    Some(_) if self.pos - line_start < width => break Some(self.mark()),
                    Some(_) => break None,
                }
            };
            if let Some(end) = ended {
                break end;
            }
        };
        // Back to the start of the line that ends the scalar.
        self.pos = self.line_start;
        let trailing = lines.iter().rev().take_while(|l| l.is_none()).count();
        let body = &lines[..lines.len() - trailing];
        let mut text = String::new();
        if literal {
            for line in body {
                text.push_str(line.unwrap_or(""));
                text.push('\n');
            }
        } else {
            // Folding: a line break between two text lines that do not start with a space
            // becomes a space; empty lines between them stay line breaks; around a more-indented
            // line every break stays.
            let mut previous: Option<&str> = None;
            let mut empty = 0;
            for line in body {
                match line {
                    None => empty += 1,
                    Some(line) => {
                        if let Some(prev) = previous {
                            let folds = !prev.starts_with(' ') && !line.starts_with(' ');
                            if folds && empty == 0 {
                                text.push(' ');
                            } else {
                                let breaks = if folds { empty } else { empty + 1 };
                                text.extend(std::iter::repeat_n('\n', breaks));
                            }
                        }
                        text.push_str(line);
                        previous = Some(line);
                        empty = 0;
                    }
                }
            }
            text.push('\n');
        }
        match chomp {
            Some(false) => {
                text.pop();
            }
            Some(true) => text.extend(std::iter::repeat_n('\n', trailing)),
            None => {}
        }
        let style = if literal { ScalarStyle::Literal } else { ScalarStyle::Folded };
        self.scalar(Cow::Owned(text), style, anchor, start.span_to(end.offset))?;
        let next = self.next_content()?;
        if next.is_some_and(|col| col > indent) {
            return Err(Stop);
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn plain_text_refuses_what_granit_must_judge() {
        assert!(plain_text("a: 1\nb: [x, 'y']\n~é ü ß 日本 \u{1f600}\u{a0}"));
        for refused in
            ["\t", "\r", "\0", "\x7f", "\u{85}", "\u{9f}", "\u{feff}", "\u{fffe}", "\u{ffff}", "\u{2028}", "\u{2029}"]
        {
            for at in [0, 3, 7, 8, 15, 40] {
                let text = format!("{}{refused}{}", "a".repeat(at), "b".repeat(20));
                assert!(!plain_text(&text), "{refused:?} at {at}");
            }
        }
    }
}
