//! Reading YAML into a small spanned tree.
//!
//! nango.yaml is validated like a schema (unknown keys, wrong types, all errors at once), so the
//! front end walks a generic tree rather than deserializing into fixed structs. The tree is built
//! from parser events with an explicit stack ([`Builder`]): every key and value keeps its line,
//! column and byte range, deep input cannot overflow the call stack, strings are borrowed from
//! the source where the YAML has them verbatim, and anchored collections are shared, not copied.
//!
//! Two readers produce the events. [`fast`] reads the block-style YAML nango.yaml files are
//! written in (a few times faster than a general parser) and gives up on anything else;
//! [`granit`] reads all of YAML with granit-parser, the pure-Rust, panic-free parser under
//! serde-saphyr. A document is kept from the fast reader only when it read all of it and the
//! builder accepted it; otherwise granit reads it again from the start, so every error and
//! every unusual document is granit's. Both give the same events for what the fast reader reads
//! (tested against each other on the corpus and on mutations of it).
//!
//! Scalars are resolved with YAML 1.2's core schema, as js-yaml 4 (Nango's loader) does. This
//! module is private: no YAML type leaves the crate.

mod fast;
mod granit;

use crate::fast_hash::HashSet;
use crate::{Diagnostic, Span};
use serde_saphyr::granit_parser::{self, ScalarStyle};
use std::borrow::Cow;
use std::rc::Rc;

/// Deepest nesting we accept. Real nango.yaml files stay under 15 levels; the limit keeps the
/// recursive walkers over the tree far from the stack limit on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

/// Most nodes a document may expand to through aliases (YAML bombs), counted beyond the source.
/// A string counts one node per 64 bytes as well: what reads the tree copies it at every use.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// A YAML value with its place in the source (`'s`: the source text).
#[derive(Debug, Clone)]
pub(crate) struct Node<'s> {
    pub kind: Kind<'s>,
    pub span: Span,
}

/// The value itself. Scalars are typed as YAML 1.2's core schema types them (as js-yaml does):
/// `yes`/`no`/`on`/`off` stay strings, `7days` stays a string. Collections are reference
/// counted so that an alias (and the anchor's own record of its node) shares the anchored
/// collection instead of copying it.
#[derive(Debug, Clone)]
pub(crate) enum Kind<'s> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'s, str>),
    Seq(Rc<[Node<'s>]>),
    /// Entries in source order (duplicate keys are rejected while reading).
    Map(Rc<[(Node<'s>, Node<'s>)]>),
}

impl<'s> Node<'s> {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node<'s>, Node<'s>)]> {
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

    /// [`key_text`](Self::key_text), borrowed from the source when the key is written there.
    fn key_cow(&self) -> Cow<'s, str> {
        match &self.kind {
            Kind::Str(s) => s.clone(),
            _ => Cow::Owned(self.key_text()),
        }
    }

    /// The text JavaScript would use for this scalar as an object key (`String(key)`).
    pub fn key_text(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => js_number(*f),
            Kind::Str(s) => s.to_string(),
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
    pub fn get(&self, key: &str) -> Option<&Node<'s>> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// The entry (key node and value) for `key` in a map node.
    pub fn entry(&self, key: &str) -> Option<(&Node<'s>, &Node<'s>)> {
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

/// The keys of a map being read, for duplicate detection: a linear scan for the small maps that
/// make up nearly all of a nango.yaml, a hash set once a map grows large (of the keys' text,
/// borrowed from the source where the key is).
#[derive(Default)]
struct KeySet<'s> {
    large: Option<HashSet<Cow<'s, str>>>,
}

impl<'s> KeySet<'s> {
    const LINEAR_LIMIT: usize = 24;

    /// Records `key`; false when `entries` already has it.
    fn insert(&mut self, key: &Node<'s>, entries: &[(Node<'s>, Node<'s>)]) -> bool {
        if let Some(set) = &mut self.large {
            return set.insert(key.key_cow());
        }
        let text = key.key_str();
        if entries.iter().any(|(k, _)| same_key(k, key, &text)) {
            return false;
        }
        if entries.len() + 1 >= Self::LINEAR_LIMIT {
            let mut set: HashSet<Cow<'s, str>> = entries.iter().map(|(k, _)| k.key_cow()).collect();
            set.insert(key.key_cow());
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

/// A collection being read, with the number of nodes it holds so far (for the alias budget).
/// Its items (entries) so far are the end of the builder's `items` (`entries`) from `start`:
/// one growing buffer for all the open collections, and one exact allocation per collection
/// when it ends.
enum Frame<'s> {
    Seq {
        span: Span,
        start: usize,
        anchor: usize,
        nodes: usize,
    },
    Map {
        span: Span,
        start: usize,
        keys: KeySet<'s>,
        key: Option<Node<'s>>,
        merges: Vec<Node<'s>>,
        anchor: usize,
        nodes: usize,
    },
}

/// Builds the tree from parser events (either reader's). Anchored nodes are recorded with the
/// number of nodes they hold, counted as they are read: an alias costs its node count from the
/// alias budget and shares the anchored collection.
pub(crate) struct Builder<'s> {
    stack: Vec<Frame<'s>>,
    items: Vec<Node<'s>>,
    entries: Vec<(Node<'s>, Node<'s>)>,
    anchors: Vec<Option<(Node<'s>, usize)>>,
    root: Option<Node<'s>>,
    alias_budget: usize,
}

pub(crate) fn error(message: impl Into<String>, span: Span, help: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic::error("yaml_syntax", format!("invalid YAML: {}", message.into())).at(span).help(help))
}

pub(crate) const SYNTAX_HELP: &str = "fix the YAML syntax at this place; nango.yaml must be one valid YAML document";

/// The alias-budget weight of a scalar: one node, and one more per 64 bytes of text.
fn scalar_nodes(kind: &Kind) -> usize {
    match kind {
        Kind::Str(s) => 1 + s.len() / 64,
        _ => 1,
    }
}

impl<'s> Builder<'s> {
    pub fn new() -> Self {
        Builder {
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: Vec::new(),
            root: None,
            alias_budget: MAX_ALIAS_NODES,
        }
    }

    /// The document read (null when it had no node, as js-yaml reads an empty stream).
    pub fn finish(self) -> Node<'s> {
        self.root.unwrap_or(Node { kind: Kind::Null, span: Span { offset: 0, len: 0, line: 1, column: 1 } })
    }

    fn remember(&mut self, anchor: usize, node: &Node<'s>, nodes: usize) {
        if anchor == 0 {
            return;
        }
        if self.anchors.len() <= anchor {
            self.anchors.resize(anchor + 1, None);
        }
        // A clone of a collection only counts a reference.
        self.anchors[anchor] = Some((node.clone(), nodes));
    }

    /// A scalar event: `text` as written (after escapes and folding), resolved by the core schema.
    pub fn scalar(
        &mut self,
        text: Cow<'s, str>,
        style: ScalarStyle,
        tag: Option<&granit_parser::Tag>,
        anchor: usize,
        span: Span,
    ) -> Result<(), Box<Diagnostic>> {
        let node = Node { kind: scalar(text, style, tag), span };
        let nodes = scalar_nodes(&node.kind);
        if anchor != 0 {
            self.remember(anchor, &node, nodes);
        }
        self.push(node, nodes)
    }

    /// A sequence (or, with `map`, a mapping) starts.
    pub fn start(&mut self, map: bool, anchor: usize, span: Span) -> Result<(), Box<Diagnostic>> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(error(
                format!("the document is nested more than {MAX_DEPTH} levels deep"),
                span,
                "flatten the structure: define nested objects as separate models",
            ));
        }
        self.stack.push(if map {
            Frame::Map {
                span,
                start: self.entries.len(),
                keys: KeySet::default(),
                key: None,
                merges: Vec::new(),
                anchor,
                nodes: 1,
            }
        } else {
            Frame::Seq { span, start: self.items.len(), anchor, nodes: 1 }
        });
        Ok(())
    }

    /// Adds a finished value to the collection being read (or makes it the document).
    fn push(&mut self, node: Node<'s>, nodes: usize) -> Result<(), Box<Diagnostic>> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { nodes: total, .. }) => {
                *total += nodes;
                self.items.push(node);
                Ok(())
            }
            Some(Frame::Map { start, keys, key, merges, nodes: total, .. }) => {
                *total += nodes;
                match key.take() {
                    None => {
                        *key = Some(node);
                        Ok(())
                    }
                    Some(k) => {
                        // YAML merge key: `<<: *defaults` (or a list of them), as js-yaml supports.
                        if k.as_str() == Some("<<") && !matches!(node.kind, Kind::Str(_)) {
                            merges.push(node);
                            return Ok(());
                        }
                        if !keys.insert(&k, &self.entries[*start..]) {
                            let text = k.key_text();
                            return Err(error(
                                format!("duplicate mapping key: {text}"),
                                k.span,
                                &format!("`{text}` appears twice in the same map; keep one of them"),
                            ));
                        }
                        self.entries.push((k, node));
                        Ok(())
                    }
                }
            }
        }
    }

    /// The collection being read ends at `end`.
    pub fn end(&mut self, end: Span) -> Result<(), Box<Diagnostic>> {
        let (node, nodes) = match self.stack.pop() {
            Some(Frame::Seq { span, start, anchor, nodes }) => {
                let node = Node { kind: Kind::Seq(self.items.drain(start..).collect()), span: extend(span, end) };
                if anchor != 0 {
                    self.remember(anchor, &node, nodes);
                }
                (node, nodes)
            }
            Some(Frame::Map { span, start, mut keys, merges, anchor, nodes, .. }) => {
                // Merged entries never override the map's own keys, wherever `<<` is written.
                for merge in merges {
                    let sources: Vec<Node> = match &merge.kind {
                        Kind::Seq(items) => items.to_vec(),
                        _ => vec![merge],
                    };
                    for source in sources {
                        let Kind::Map(merged) = &source.kind else {
                            return Err(error(
                                "`<<` merges only maps",
                                source.span,
                                "merge a map or a list of maps: `<<: *defaults`",
                            ));
                        };
                        for (k, v) in merged.iter() {
                            if keys.insert(k, &self.entries[start..]) {
                                self.entries.push((k.clone(), v.clone()));
                            }
                        }
                    }
                }
                let node = Node { kind: Kind::Map(self.entries.drain(start..).collect()), span: extend(span, end) };
                if anchor != 0 {
                    self.remember(anchor, &node, nodes);
                }
                (node, nodes)
            }
            None => return Ok(()),
        };
        self.push(node, nodes)
    }

    /// An alias of anchor `id`: the anchored node, at the alias's place.
    pub fn alias(&mut self, id: usize, span: Span) -> Result<(), Box<Diagnostic>> {
        let Some(Some((node, count))) = self.anchors.get(id) else {
            return Err(error("unknown alias", span, "define the anchor (`&name`) before using `*name`"));
        };
        let count = *count;
        if count > self.alias_budget {
            return Err(error(
                "aliases expand to too many nodes (a YAML bomb?)",
                span,
                "use fewer nested aliases; nango.yaml does not need them",
            ));
        }
        self.alias_budget -= count;
        let node = Node { kind: node.kind.clone(), span };
        self.push(node, count)
    }
}

fn extend(start: Span, end: Span) -> Span {
    Span { len: end.end().saturating_sub(start.offset), ..start }
}

/// Resolves a scalar with the YAML 1.2 core schema (js-yaml 4's default for these types).
fn scalar<'s>(text: Cow<'s, str>, style: ScalarStyle, tag: Option<&granit_parser::Tag>) -> Kind<'s> {
    if let Some(tag) = tag.filter(|t| t.is_yaml_core_schema()) {
        match tag.suffix() {
            "str" => return Kind::Str(text),
            "null" => return Kind::Null,
            "bool" => {
                return plain_scalar(&text).filter(|k| matches!(k, Kind::Bool(_))).unwrap_or(Kind::Str(text));
            }
            "int" | "float" => {
                return plain_scalar(&text)
                    .filter(|k| matches!(k, Kind::Int(_) | Kind::Float(_)))
                    .unwrap_or(Kind::Str(text));
            }
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Kind::Str(text);
    }
    plain_scalar(&text).unwrap_or(Kind::Str(text))
}

/// A plain scalar's non-string type, if it has one.
fn plain_scalar(text: &str) -> Option<Kind<'static>> {
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
pub(crate) fn parse_yaml(source: &str) -> Result<Node<'_>, Box<Diagnostic>> {
    let mut builder = Builder::new();
    if fast::read(source, &mut builder) {
        return Ok(builder.finish());
    }
    let mut builder = Builder::new();
    granit::read(source, &mut builder)?;
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trees are the same, spans included.
    fn same(a: &Node, b: &Node, at: &str) -> Result<(), String> {
        if a.span != b.span {
            return Err(format!("{at}: span {:?} vs {:?}", a.span, b.span));
        }
        match (&a.kind, &b.kind) {
            (Kind::Null, Kind::Null) => Ok(()),
            (Kind::Bool(x), Kind::Bool(y)) if x == y => Ok(()),
            (Kind::Int(x), Kind::Int(y)) if x == y => Ok(()),
            (Kind::Float(x), Kind::Float(y)) if x.to_bits() == y.to_bits() => Ok(()),
            (Kind::Str(x), Kind::Str(y)) if x == y => Ok(()),
            (Kind::Seq(x), Kind::Seq(y)) if x.len() == y.len() => {
                x.iter().zip(y.iter()).enumerate().try_for_each(|(i, (x, y))| same(x, y, &format!("{at}/{i}")))
            }
            (Kind::Map(x), Kind::Map(y)) if x.len() == y.len() => {
                x.iter().zip(y.iter()).try_for_each(|((xk, xv), (yk, yv))| {
                    let at = format!("{at}/{}", xk.key_text());
                    same(xk, yk, &at)?;
                    same(xv, yv, &at)
                })
            }
            (x, y) => Err(format!("{at}: {x:?} vs {y:?}")),
        }
    }

    /// Reads `source` with both readers: when the fast one reads it, granit must read the same
    /// tree. Returns whether the fast reader read it.
    fn agree(source: &str) -> bool {
        let mut fast = Builder::new();
        if !fast::read(source, &mut fast) {
            return false;
        }
        let mut general = Builder::new();
        if let Err(e) = granit::read(source, &mut general) {
            panic!("the fast reader read what granit refuses ({}):\n{source}", e.message);
        }
        if let Err(e) = same(&fast.finish(), &general.finish(), "") {
            panic!("the readers disagree at {e}:\n{source}");
        }
        true
    }

    #[test]
    fn fast_reader_agrees_with_granit_on_each_shape() {
        let read = [
            "a: 1\nb:\n  c: x y  # comment\n  d: [p, \"q\", {r: s}]\n\n# trailing\ne:\n- 1\n- k: v\n  m: n\n- - z\n",
            "f: |\n  line1\n   line2\n\n  line3\n\ng: >-\n  fold\n  this\nh: &an\n  x: 1\ni: *an\n",
            "a:\nb: 1\nc:\n",
            "a: &x 1\nb: *x\n",
            "- \n- a\n-\n",
            "\"a b\": 1\n'c''d': 2\n",
            "k:\n  - a\n  - b\n",
            "x: 1",
            "",
            "# only\n",
            "a:   v   \n",
            "-   # c\n- a\n",
            "k:\n-   # c\n- a\n",
            "k:\n-\n  a: 1\n- b\n",
            "k:\n- a: 1\n  b: 2\n- c\n",
            "- a: 1\n  b: 2\n- c\n",
            "a:\n  # c\n  b: 1\n    # deeper\n  c: 2\n",
            "x",
            "42\n",
            "k: [a, b, ]\nl: [a:b, c]\nm: {a: 1, 'b': [2]}\n",
            "a:\n  b: |\n    x\n\n  c: 1\n",
            "a: |-\n  x\n\n\nb: >+\n  y\n\n",
            "a: >\n  p\n  q\n\n  r\n    s\n  t\n",
            "a: &x\n  - 1\nb: &y [1]\nc: &z\n  k: v\nd: *x\ne: *y\nf: *z\n",
            "a: |\n  x\n# c\nb: 1\n",
            "a: |\n  x\n  # c\nb: 1\n",
            "a   : 1\n",
            "é: ü\nö: [ä, \"ß\"]\nü: 'ä''ö' # ü\n",
            "a: \"x\\ty\\u00e9\\\"\\\\ \\x41\" # c\n",
            "-\n  - x\n",
            "a:\n\n\n  b: 1\n",
            "a:\n  value\nb: 1\n",
            "a: b:c\nd: http://x.y/z#w\ne: -1\nf: -x\ng: ?x\nh: :x\n",
            "a,b: 1\n'-': 2\n-x: 3\n",
            "a: {}\nb: []\nc: [[1, [2]], {x: [y]}]\n",
            "base: &base\n  a: 1\nderived:\n  <<: *base\n  b: 2\n",
            "a: 1\nb: ...x\n",
            "top:\n  - name: a\n    value: |\n      text\n      more\n  - name: b\n",
            "a: one\n  two  \n\n   three # c\nb: x\n   y\n",
            "- one\n  two\n-  three\n\n\n   four\n",
            "k:\n  v\n  w\n",
            "---\na: 1\n",
            "a: b\n  c\n",
            "a: >\n  p\n\n    q\n\n  r\n  s  \n\n\nb: >+\n  x\n\n\nc: |+\n  y\n\n",
            "- |\n  one\n   two\n- >-\n  three\n  four\n- k: |\n    five\n  l: 6\n",
            "a: |\n  trailing spaces   \n  # not a comment\n\n  end\n# comment\nb: 1\n",
        ];
        for source in read {
            assert!(agree(source), "the fast reader should read:\n{source}");
        }
        // Granit's: the fast reader declines, whatever the verdict.
        for source in [
            "a:\tb\n",
            "a: 1\r\nb: 2\r\n",
            "a: 1\n---\nb: 2\n",
            "--- a: 1\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: !!str 1\n",
            "? a\n: b\n",
            "a: b\n  - c\n",
            "a: 'b\n  c'\n",
            "a: [b,\n  c]\n",
            "a: b: c\n",
            "a: 1\n a: 2\n",
            "a: 1\na: 2\n",
            "a: *nothing\n",
            "a: |2\n   x\n",
            "a: |\n\n  x\n",
            "a: |\n  x",
            "- a\nb: 1\n",
            "\u{feff}a: 1\n",
            "a: 1 # c\n  b: 2\n",
            "a: {b}\n",
            "a: [*x]\n",
            "[a, b]: c\n",
            "@a: 1\n",
            "a: >\n\u{a0}\n",
            "k: ü: x\n",
        ] {
            assert!(!agree(source), "the fast reader should leave this to granit:\n{source}");
        }
    }

    fn corpus_files() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![root.join("../../shared/corpus"), root.join("../fixtures")];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// Every real file, and many broken variants of each: the fast reader reads what it reads
    /// exactly as granit does.
    #[test]
    fn fast_reader_agrees_with_granit_on_the_corpus() {
        let files = corpus_files();
        if files.len() < 50 {
            eprintln!("../shared/corpus not found: the fast reader is checked on the fixtures only");
        }
        let mut fast = 0;
        let mut declined = Vec::new();
        for path in &files {
            let source = std::fs::read_to_string(path).unwrap();
            if agree(&source) {
                fast += 1;
            } else {
                declined.push(path.display().to_string());
            }
        }
        eprintln!("fast reader: {fast} of {} files; declined: {declined:#?}", files.len());
        assert!(fast * 10 >= files.len() * 9, "the fast reader reads too few files: {declined:#?}");
    }

    /// A small deterministic generator (xorshift), for mutations.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, below: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % below as u64) as usize
        }
    }

    #[test]
    fn fast_reader_agrees_with_granit_on_mutations() {
        let files = corpus_files();
        // `NANGO_YAML_SEED` for other mutations than the default ones.
        let seed = std::env::var("NANGO_YAML_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut rng = Rng(seed);
        let pieces = [
            " ", "  ", "\n", "- ", ": ", ":", "#", " #", "'", "\"", "[", "]", "{", "}", ",", "&a ", "*a", "|", ">",
            "|-", ">+", "\\", "x", "é", "-", "?", "<<: ", "\n  ", "\n- ", "~", "''", "\\n",
        ];
        let (mut checked, mut read_fast) = (0, 0);
        // `NANGO_YAML_MUTATIONS` (per file, default 40) for a longer hunt.
        let per_file = std::env::var("NANGO_YAML_MUTATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(40);
        for path in files.iter().filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 40_000)) {
            let source = std::fs::read_to_string(path).unwrap();
            let lines: Vec<&str> = source.split_inclusive('\n').collect();
            if lines.is_empty() {
                continue;
            }
            for _ in 0..per_file {
                // Mutate a window of a few lines (whole files are slow to compare many times).
                let from = rng.next(lines.len());
                let window: String = lines[from..(from + 12).min(lines.len())].concat();
                let mut text = window.into_bytes();
                for _ in 0..1 + rng.next(3) {
                    let at = rng.next(text.len() + 1);
                    match rng.next(3) {
                        0 if at < text.len() => {
                            text.remove(at);
                        }
                        1 => {
                            let piece = pieces[rng.next(pieces.len())];
                            text.splice(at..at, piece.bytes());
                        }
                        _ => {
                            let end = (at + 1 + rng.next(8)).min(text.len());
                            text.drain(at..end);
                        }
                    }
                }
                let Ok(text) = String::from_utf8(text) else { continue };
                read_fast += usize::from(agree(&text));
                checked += 1;
            }
        }
        eprintln!("{checked} mutations, {read_fast} read by the fast reader (and the same by granit)");
        assert!(checked > 100 || files.len() < 50, "only {checked} mutations");
    }
}
