//! Reading YAML into a small spanned tree.
//!
//! nango.yaml is validated like a schema (unknown keys, wrong types, all errors at once), so the
//! front end walks a generic tree rather than deserializing into fixed structs. The tree is built
//! from the events of granit-parser, the pure-Rust, panic-free YAML parser under serde-saphyr
//! (re-exported by it), with an explicit stack: every key and value keeps its line, column and
//! byte range, deep input cannot overflow the call stack, and there is no per-node serde
//! overhead (this halves the time of a large file compared with `serde_saphyr::Spanned`).
//! Scalars are resolved with YAML 1.2's core schema, as js-yaml 4 (Nango's loader) does. This
//! module is private: no YAML type leaves the crate.

use crate::{Diagnostic, Span};
use serde_saphyr::granit_parser::{self, Event, Marker, Parser, ScalarStyle};
use std::collections::HashSet;

/// Deepest nesting we accept. Real nango.yaml files stay under 15 levels; the limit keeps the
/// recursive walkers over the tree far from the stack limit on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

/// Most nodes a document may expand to through aliases (YAML bombs), counted beyond the source.
const MAX_ALIAS_NODES: usize = 1_000_000;

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

    /// [`key_text`](Self::key_text) without allocating for string keys (nearly all of them).
    pub fn key_str(&self) -> std::borrow::Cow<'_, str> {
        match &self.kind {
            Kind::Str(s) => std::borrow::Cow::Borrowed(s),
            _ => std::borrow::Cow::Owned(self.key_text()),
        }
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

fn span_of(start: &Marker, end: &Marker, source: &str) -> Span {
    let offset = start.byte_offset().unwrap_or(0).min(source.len());
    let end = end.byte_offset().unwrap_or(offset).clamp(offset, source.len());
    Span { offset, len: end - offset, line: start.line() as u32, column: start.col() as u32 + 1 }
}

fn point(marker: &Marker, source: &str) -> Span {
    span_of(marker, marker, source)
}

/// The keys of a map being read, for duplicate detection: a linear scan for the small maps that
/// make up nearly all of a nango.yaml, a hash set once a map grows large.
#[derive(Default)]
struct KeySet {
    large: Option<HashSet<String>>,
}

impl KeySet {
    const LINEAR_LIMIT: usize = 24;

    /// Records `key`; false when `entries` already has it.
    fn insert(&mut self, key: &Node, entries: &[(Node, Node)]) -> bool {
        let text = key.key_str();
        if let Some(set) = &mut self.large {
            return set.insert(text.into_owned());
        }
        if entries.iter().any(|(k, _)| same_key(k, key, &text)) {
            return false;
        }
        if entries.len() + 1 >= Self::LINEAR_LIMIT {
            let mut set: HashSet<String> = entries.iter().map(|(k, _)| k.key_text()).collect();
            set.insert(text.into_owned());
            self.large = Some(set);
        }
        true
    }
}

fn same_key(existing: &Node, key: &Node, key_text: &str) -> bool {
    match (&existing.kind, &key.kind) {
        (Kind::Str(a), Kind::Str(b)) => a == b,
        _ => existing.key_text() == key_text,
    }
}

/// A collection being read.
enum Frame {
    Seq { span: Span, items: Vec<Node>, anchor: usize },
    Map { span: Span, entries: Vec<(Node, Node)>, keys: KeySet, key: Option<Node>, merges: Vec<Node>, anchor: usize },
}

struct Builder<'s> {
    source: &'s str,
    stack: Vec<Frame>,
    anchors: Vec<Option<(Node, usize)>>,
    root: Option<Node>,
    alias_budget: usize,
}

fn error(message: impl Into<String>, span: Span, help: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic::error("yaml_syntax", format!("invalid YAML: {}", message.into())).at(span).help(help))
}

const SYNTAX_HELP: &str = "fix the YAML syntax at this place; nango.yaml must be one valid YAML document";

impl Builder<'_> {
    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor == 0 {
            return;
        }
        if self.anchors.len() <= anchor {
            self.anchors.resize(anchor + 1, None);
        }
        self.anchors[anchor] = Some((node.clone(), count_nodes(node)));
    }

    /// Adds a finished value to the collection being read (or makes it the document).
    fn push(&mut self, node: Node) -> Result<(), Box<Diagnostic>> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, keys, key, merges, .. }) => match key.take() {
                None => {
                    *key = Some(node);
                    Ok(())
                }
                Some(k) => {
                    // YAML merge key: `<<: *defaults` (or a list of them), as js-yaml supports.
                    if k.as_str() == Some("<<") && matches!(k.kind, Kind::Str(_)) && !matches!(node.kind, Kind::Str(_))
                    {
                        merges.push(node);
                        return Ok(());
                    }
                    if !keys.insert(&k, entries) {
                        let text = k.key_text();
                        return Err(error(
                            format!("duplicate mapping key: {text}"),
                            k.span,
                            &format!("`{text}` appears twice in the same map; keep one of them"),
                        ));
                    }
                    entries.push((k, node));
                    Ok(())
                }
            },
        }
    }

    fn open(&mut self, frame: Frame, span: Span) -> Result<(), Box<Diagnostic>> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(error(
                format!("the document is nested more than {MAX_DEPTH} levels deep"),
                span,
                "flatten the structure: define nested objects as separate models",
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, end: Span) -> Result<(), Box<Diagnostic>> {
        let node = match self.stack.pop() {
            Some(Frame::Seq { span, items, anchor }) => {
                let node = Node { kind: Kind::Seq(items), span: extend(span, end) };
                self.remember(anchor, &node);
                node
            }
            Some(Frame::Map { span, mut entries, mut keys, merges, anchor, .. }) => {
                // Merged entries never override the map's own keys, wherever `<<` is written.
                for merge in merges {
                    let sources: Vec<Node> = match merge.kind {
                        Kind::Seq(items) => items,
                        _ => vec![merge],
                    };
                    for source in sources {
                        let Kind::Map(merged) = source.kind else {
                            return Err(error(
                                "`<<` merges only maps",
                                source.span,
                                "merge a map or a list of maps: `<<: *defaults`",
                            ));
                        };
                        for (k, v) in merged {
                            if keys.insert(&k, &entries) {
                                entries.push((k, v));
                            }
                        }
                    }
                }
                let node = Node { kind: Kind::Map(entries), span: extend(span, end) };
                self.remember(anchor, &node);
                node
            }
            None => return Ok(()),
        };
        self.push(node)
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(), Box<Diagnostic>> {
        let Some(Some((node, count))) = self.anchors.get(id) else {
            return Err(error("unknown alias", span, "define the anchor (`&name`) before using `*name`"));
        };
        if *count > self.alias_budget {
            return Err(error(
                "aliases expand to too many nodes (a YAML bomb?)",
                span,
                "use fewer nested aliases; nango.yaml does not need them",
            ));
        }
        self.alias_budget -= count;
        let node = Node { kind: node.kind.clone(), span };
        self.push(node)
    }
}

fn extend(start: Span, end: Span) -> Span {
    Span { len: end.end().saturating_sub(start.offset), ..start }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Seq(items) => items.iter().map(count_nodes).sum(),
        Kind::Map(entries) => entries.iter().map(|(k, v)| count_nodes(k) + count_nodes(v)).sum(),
        _ => 0,
    }
}

/// Resolves a scalar with the YAML 1.2 core schema (js-yaml 4's default for these types).
fn scalar(text: &str, style: ScalarStyle, tag: Option<&granit_parser::Tag>) -> Kind {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        match tag.suffix() {
            "str" => return Kind::Str(text.to_owned()),
            "null" => return Kind::Null,
            "bool" => {
                return plain_scalar(text).filter(|k| matches!(k, Kind::Bool(_))).unwrap_or(Kind::Str(text.to_owned()));
            }
            "int" | "float" => {
                return plain_scalar(text)
                    .filter(|k| matches!(k, Kind::Int(_) | Kind::Float(_)))
                    .unwrap_or(Kind::Str(text.to_owned()));
            }
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Kind::Str(text.to_owned());
    }
    plain_scalar(text).unwrap_or_else(|| Kind::Str(text.to_owned()))
}

fn plain_scalar(text: &str) -> Option<Kind> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Kind::Null),
        "true" | "True" | "TRUE" => return Some(Kind::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Kind::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(Kind::Float(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => return Some(Kind::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Kind::Float(f64::NAN)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    let unsigned = text.trim_start_matches(['-', '+']);
    let negative = text.starts_with('-');
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = unsigned.strip_prefix(prefix) {
            if text.len() - unsigned.len() > 0 && radix != 10 {
                // Signed hex/octal/binary is not core schema.
                return None;
            }
            let v = i64::from_str_radix(digits, radix).ok()?;
            return Some(Kind::Int(if negative { -v } else { v }));
        }
    }
    if unsigned.bytes().all(|b| b.is_ascii_digit()) && !unsigned.is_empty() {
        return Some(match text.parse::<i64>() {
            Ok(i) => Kind::Int(i),
            Err(_) => Kind::Float(text.parse().ok()?),
        });
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (int_part, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = int_part.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
    let has_digits = !int_part.is_empty() || !frac.is_empty();
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if digits_ok && has_digits && exp_ok && !(int_part.is_empty() && frac.is_empty()) && mantissa != "." {
        return text.parse::<f64>().ok().map(Kind::Float);
    }
    None
}

/// Parses one YAML document. YAML syntax errors (and duplicate keys, bombs, too deep nesting)
/// come back as one `yaml_syntax` diagnostic with the parser's position.
pub(crate) fn parse_yaml(source: &str) -> Result<Node, Box<Diagnostic>> {
    let mut options = granit_parser::Options::default();
    options.flow_nesting_limit = MAX_DEPTH + 1;
    options.block_nesting_limit = MAX_DEPTH + 1;
    let parser = Parser::new_from_str_with_options(source, options);
    let mut builder =
        Builder { source, stack: Vec::new(), anchors: Vec::new(), root: None, alias_budget: MAX_ALIAS_NODES };
    let mut documents = 0;
    for event in parser {
        let (event, span) = event.map_err(|e| {
            let at = point(e.marker(), source);
            let message = e.info();
            error(message, Span { len: usize::from(at.offset < source.len()), ..at }, SYNTAX_HELP)
        })?;
        let here = span_of(&span.start, &span.end, builder.source);
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(error(
                        "expected a single document in the stream, but found more",
                        here,
                        "remove the `---` separator: nango.yaml is one document",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node { kind: scalar(&text, style, tag.as_deref()), span: here };
                builder.remember(anchor, &node);
                builder.push(node)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                builder.open(Frame::Seq { span: here, items: Vec::new(), anchor }, here)?;
            }
            Event::MappingStart(_, anchor, _) => {
                let frame = Frame::Map {
                    span: here,
                    entries: Vec::new(),
                    keys: KeySet::default(),
                    key: None,
                    merges: Vec::new(),
                    anchor,
                };
                builder.open(frame, here)?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(here)?,
            Event::Alias(id) => builder.alias(id, here)?,
            Event::UnresolvedAlias(name) => {
                return Err(error(
                    format!("unknown alias `*{name}`"),
                    here,
                    "define the anchor (`&name`) before using `*name`",
                ));
            }
            _ => {}
        }
    }
    // An empty stream is an empty (null) document, as js-yaml reads it.
    Ok(builder.root.unwrap_or(Node { kind: Kind::Null, span: Span { offset: 0, len: 0, line: 1, column: 1 } }))
}
