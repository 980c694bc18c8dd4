//! Reading YAML into a small spanned tree.
//!
//! nango.yaml is validated like a schema (unknown keys, wrong types, all errors at once), so the
//! front end walks a generic tree rather than deserializing into fixed structs. The tree is built
//! with serde-saphyr (pure Rust, panic-free, budgets against YAML bombs) through its `Spanned`
//! wrapper, so every key and value keeps its line, column and byte range. This module is private:
//! no YAML type leaves the crate.

use crate::{Diagnostic, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, Location, Options, Spanned};
use std::cell::Cell;
use std::fmt;

/// Deepest nesting we accept. Real nango.yaml files stay under 15 levels; the limit keeps the
/// recursive walkers far from the stack limit on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

/// A YAML value with its place in the source.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Span,
}

/// The value itself. Scalars are typed as YAML 1.2's core schema types them (as js-yaml does):
/// `yes`/`no`/`on`/`off` stay strings, `7days` stays a string.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order (duplicate keys are rejected while reading).
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// The text JavaScript would use for this scalar as an object key (`String(key)`).
    pub fn key_text(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => js_number(*f),
            Kind::Str(s) => s.clone(),
            Kind::Seq(_) | Kind::Map(_) => "[object Object]".into(),
        }
    }

    /// A short description of the value's type for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map",
        }
    }

    /// Looks a key up in a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// The entry (key node and value) for `key` in a map node.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, v)| (k, v))
    }
}

/// Formats a float the way JavaScript's `String(number)` does for the common cases.
pub(crate) fn js_number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        f.to_string()
    }
}

fn span_of(loc: &Location) -> Span {
    let s = loc.span();
    let (offset, len) = match (s.byte_offset(), s.byte_len()) {
        (Some(o), Some(l)) => (o as usize, l as usize),
        _ => (0, 0),
    };
    Span { offset, len, line: loc.line() as u32, column: loc.column() as u32 }
}

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

struct DepthGuard;

impl DepthGuard {
    fn enter<E: de::Error>() -> Result<DepthGuard, E> {
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let guard = DepthGuard;
        if depth > MAX_DEPTH {
            return Err(E::custom(format!("the document is nested more than {MAX_DEPTH} levels deep")));
        }
        Ok(guard)
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Raw value as serde-saphyr hands it over; converted to [`Node`] right away.
struct RawNode(Node);

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let _guard = DepthGuard::enter::<D::Error>()?;
        let spanned = Spanned::<RawKind>::deserialize(d)?;
        Ok(RawNode(Node { kind: spanned.value.0, span: span_of(&spanned.referenced) }))
    }
}

struct RawKind(Kind);

impl<'de> Deserialize<'de> for RawKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor).map(RawKind)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(i64::try_from(v).map_or(Kind::Float(v as f64), Kind::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(i64::try_from(v).map_or(Kind::Float(v as f64), Kind::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Kind, E> {
        Ok(i64::try_from(v).map_or(Kind::Float(v as f64), Kind::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(RawNode(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some((RawNode(k), RawNode(v))) = map.next_entry()? {
            entries.push((k, v));
        }
        Ok(Kind::Map(entries))
    }
}

/// Resets the depth counter even when deserialization unwinds early.
struct ResetDepth;

impl Drop for ResetDepth {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(0));
    }
}

/// Parses one YAML document. YAML syntax errors (and duplicate keys, bombs, too deep nesting)
/// come back as one `yaml_syntax` diagnostic with the parser's position.
pub(crate) fn parse_yaml(source: &str) -> Result<Node, Box<Diagnostic>> {
    // Deserialization recurses once per nesting level, and debug builds use large frames: run it
    // on a thread with a known, generous stack so callers on small stacks (test threads, async
    // workers) are safe at the maximum depth. If no thread can be spawned, run inline.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("nango-yaml".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parse_yaml_here(source))
            .map(|handle| handle.join().unwrap_or_else(|_| Err(Box::new(panicked()))))
            .unwrap_or_else(|_| parse_yaml_here(source))
    })
}

/// Stack for the YAML reader thread: ample for [`MAX_DEPTH`] levels even in debug builds.
const PARSE_STACK_BYTES: usize = 32 * 1024 * 1024;

fn panicked() -> Diagnostic {
    Diagnostic::error("yaml_syntax", "invalid YAML: the YAML reader failed on this input")
        .at(Span { offset: 0, len: 0, line: 1, column: 1 })
        .help("please report this input as a bug")
}

fn parse_yaml_here(source: &str) -> Result<Node, Box<Diagnostic>> {
    let mut options = Options::default();
    // YAML 1.2 core schema, like js-yaml 4: `yes`/`no`/`y`/`n` are strings, not booleans.
    options.strict_booleans = true;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.with_snippet = false;

    DEPTH.with(|d| d.set(0));
    let _reset = ResetDepth;
    match serde_saphyr::from_str_with_options::<RawNode>(source, options) {
        Ok(RawNode(node)) => Ok(node),
        Err(err) => Err(Box::new(yaml_error(&err, source))),
    }
}

fn yaml_error(err: &serde_saphyr::Error, source: &str) -> Diagnostic {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    // serde-saphyr prefixes "error: line L column C: "; keep only the message.
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let message = match message.split_once(": ") {
        Some((place, rest)) if place.starts_with("line ") => rest,
        _ => message,
    };
    // The position is shown separately; drop the parser's own advice about its options.
    let message = message.rfind(" at line ").map_or(message, |i| &message[..i]);
    let message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    let help = if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        format!("`{key}` appears twice in the same map; keep one of them")
    } else {
        "fix the YAML syntax at this place; nango.yaml must be one valid YAML document".to_owned()
    };
    let mut diag = Diagnostic::error("yaml_syntax", format!("invalid YAML: {message}")).help(help);
    if let Some(loc) = err.location().filter(|l| l.line() > 0) {
        let mut span = span_of(&loc);
        if span.len == 0 && span.offset == 0 && loc.line() > 1 {
            // No byte information: compute the offset from line and column.
            span.offset = offset_of(source, loc.line() as u32, loc.column() as u32);
        }
        span.len = span.len.max(usize::from(span.offset < source.len()));
        diag = diag.at(span);
    } else {
        diag = diag.at(Span { offset: 0, len: 0, line: 1, column: 1 });
    }
    diag
}

fn offset_of(source: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let col: usize = l.chars().take(column.saturating_sub(1) as usize).map(char::len_utf8).sum();
            return offset + col;
        }
        offset += l.len();
    }
    source.len()
}
