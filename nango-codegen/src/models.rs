//! The model grammar (spec §2): field types, `__extends`, `__string`, literals, references.
//!
//! Models are parsed on demand with memoisation, like Nango, so references and `__extends` work
//! in any order. Unlike Nango, reference cycles are found with a real graph walk (no false
//! `cyclic_model` warnings), numeric-looking strings such as `7days` stay string literals, and an
//! unknown name that is close to a model name gets a "did you mean" hint.

use crate::ir::{Field, Literal, Model, ObjectType, Primitive, TypeExpr};
use crate::yaml::{Kind, Node};
use crate::{Diagnostic, Span};
use std::collections::HashMap;

const DOCS: &str = "https://nango.dev/docs/reference/integration-configuration#model-types";

/// Generic TypeScript forms Nango refuses (spec §2.2 step 12).
const DISALLOWED_GENERICS: &[&str] = &[
    "Object<",
    "Array<",
    "Function<",
    "Date<",
    "RegExp<",
    "Map<",
    "Set<",
    "WeakMap<",
    "WeakSet<",
    "Promise<",
    "Symbol<",
    "Error<",
    "Record<",
    "Partial<",
    "Readonly<",
    "Pick<",
    "Omit<",
    "Awaited<",
    "Required<",
    "Exclude<",
    "Extract<",
    "Uppercase<",
    "Lowercase<",
];

/// Longest `__extends` chain followed before giving up (keeps hostile input off the stack limit).
const MAX_EXTENDS_DEPTH: usize = 64;

/// Where a field sits (`Model > field > 0 > sub`), built only when a diagnostic needs it: big
/// files have tens of thousands of fields and almost no diagnostics.
#[derive(Clone, Copy)]
pub(crate) struct FieldPath<'p> {
    parent: Option<&'p FieldPath<'p>>,
    name: &'p str,
    index: Option<usize>,
}

impl<'p> FieldPath<'p> {
    pub fn root(name: &'p str) -> Self {
        FieldPath { parent: None, name, index: None }
    }

    fn child(&'p self, name: &'p str) -> FieldPath<'p> {
        FieldPath { parent: Some(self), name, index: None }
    }

    fn item(&'p self, index: usize) -> FieldPath<'p> {
        FieldPath { parent: Some(self), name: "", index: Some(index) }
    }

    /// The model name at the start of the path.
    fn root_name(&self) -> &'p str {
        match self.parent {
            Some(p) => p.root_name(),
            None => self.name,
        }
    }

    fn render(&self) -> String {
        let segment = match self.index {
            Some(i) => i.to_string(),
            None => self.name.to_owned(),
        };
        match self.parent {
            Some(p) => format!("{} > {segment}", p.render()),
            None => segment,
        }
    }
}

/// A name prepared for typo matching: lowercase text, length in characters, letter counts.
struct Candidate {
    name: String,
    lower: String,
    len: usize,
    hist: [i32; 38],
    /// A model name (not a primitive type name).
    model: bool,
}

impl Candidate {
    fn new(name: &str, model: bool) -> Self {
        let lower = name.to_lowercase();
        Candidate { name: name.to_owned(), len: lower.chars().count(), hist: histogram(&lower), lower, model }
    }
}

/// Prepares candidates for [`closest`]: sorted by length.
fn prepare<'n>(names: impl Iterator<Item = (&'n str, bool)>) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = names.map(|(n, model)| Candidate::new(n, model)).collect();
    candidates.sort_by_key(|c| c.len);
    candidates
}

/// The closest candidate to `text` (among models only, or all), when it is a plausible typo.
/// `candidates` must be sorted by length ([`prepare`]).
fn closest(text: &str, candidates: &[Candidate], models_only: bool) -> Option<String> {
    let lower = text.to_lowercase();
    let len = lower.chars().count();
    let hist = histogram(&lower);
    let mut best: Option<(usize, &Candidate)> = None;
    // The allowed distance is a quarter of the longer name (at least 1), so only lengths in
    // about [3/4 len, 4/3 len] can match: look at that slice only.
    let from = candidates.partition_point(|c| c.len + 1 < len * 3 / 4);
    let to = candidates.partition_point(|c| c.len <= len * 4 / 3 + 2);
    for c in candidates.get(from..to.max(from)).unwrap_or(&[]) {
        if models_only && !c.model {
            continue;
        }
        let limit = (len.max(c.len) / 4).max(1);
        // Two cheap lower bounds of the edit distance first: length difference and bag distance
        // (characters one has and the other lacks). Files with a thousand models and hundreds of
        // literals stay fast.
        if len.abs_diff(c.len) > limit || bag_distance(&hist, &c.hist) > limit {
            continue;
        }
        let distance = if c.lower == lower { 0 } else { strsim::osa_distance(&lower, &c.lower) };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, c));
        }
    }
    best.map(|(_, c)| c.name.clone())
}

/// True when `name` is a valid model name (`^[a-zA-Z0-9_]+$`).
pub(crate) fn valid_model_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One `models:` section (the file's, or one integration's in the flows layout).
pub(crate) struct ModelScope<'a> {
    /// Declared models, in order: name, key span, definition.
    declared: Vec<(String, Span, &'a Node)>,
    index: HashMap<String, usize>,
    resolved: Vec<Option<Model>>,
    in_progress: Vec<usize>,
    pub diagnostics: Vec<Diagnostic>,
    /// Models added after parsing (anonymous models for literal inputs/outputs).
    pub extra: Vec<Model>,
    /// Suggestions already computed: big files repeat the same literals many times.
    suggestions: HashMap<String, Option<String>>,
    /// Model names (then primitive names) prepared for typo matching, built on first use.
    candidates: Vec<Candidate>,
}

impl<'a> ModelScope<'a> {
    /// Reads the names of a `models:` map (the file's, or one integration's in the flows layout).
    pub fn new(models: Option<&'a Node>) -> Self {
        let mut scope = ModelScope {
            declared: Vec::new(),
            index: HashMap::new(),
            resolved: Vec::new(),
            in_progress: Vec::new(),
            diagnostics: Vec::new(),
            extra: Vec::new(),
            suggestions: HashMap::new(),
            candidates: Vec::new(),
        };
        let Some(models) = models else { return scope };
        match &models.kind {
            Kind::Map(entries) => {
                for (key, value) in entries {
                    let name = key.key_text();
                    if !valid_model_name(&name) {
                        scope.diagnostics.push(
                            Diagnostic::error(
                                "invalid_model_name",
                                format!("Model \"{name}\" contains invalid characters"),
                            )
                            .at(key.span)
                            .path(name.clone())
                            .help("model names may only use letters, digits and `_` (e.g. `GithubIssue`)"),
                        );
                        continue;
                    }
                    scope.index.insert(name.clone(), scope.declared.len());
                    scope.declared.push((name, key.span, value));
                }
            }
            Kind::Null => {}
            _ => scope.diagnostics.push(
                Diagnostic::error(
                    "invalid_type",
                    format!("models must be a map of model names to fields, found {}", models.type_name()),
                )
                .at(models.span)
                .path("models")
                .help("write `models:` followed by indented `ModelName:` entries"),
            ),
        }
        scope.resolved = vec![None; scope.declared.len()];
        scope
    }

    /// True when `name` is declared in this scope.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name) || self.extra.iter().any(|m| m.name == name)
    }

    /// Parses every declared model (in file order) and checks reference cycles.
    pub fn parse_all(&mut self) {
        for i in 0..self.declared.len() {
            self.resolve(i, 0);
        }
        self.report_cycles();
    }

    /// The parsed models, declared ones first, then anonymous ones.
    pub fn into_models(self) -> (Vec<Model>, Vec<Diagnostic>) {
        let mut models: Vec<Model> = self.resolved.into_iter().flatten().collect();
        models.extend(self.extra);
        (models, self.diagnostics)
    }

    /// A parsed model by name (after [`parse_all`](Self::parse_all)).
    pub fn get(&self, name: &str) -> Option<&Model> {
        match self.index.get(name) {
            Some(&i) => self.resolved[i].as_ref(),
            None => self.extra.iter().find(|m| m.name == name),
        }
    }

    fn resolve(&mut self, i: usize, depth: usize) -> Option<&Model> {
        if self.resolved[i].is_none() {
            if self.in_progress.contains(&i) || depth > MAX_EXTENDS_DEPTH {
                return None;
            }
            self.in_progress.push(i);
            let (name, span, node) = self.declared[i].clone();
            let model = self.parse_model(&name, span, node, depth);
            self.in_progress.pop();
            self.resolved[i] = Some(model);
        }
        self.resolved[i].as_ref()
    }

    fn parse_model(&mut self, name: &str, span: Span, node: &'a Node, depth: usize) -> Model {
        let mut model = Model {
            name: name.to_owned(),
            span,
            fields: Vec::new(),
            dynamic_field: None,
            extends: Vec::new(),
            anonymous: false,
        };
        match &node.kind {
            Kind::Map(entries) => {
                let object = self.parse_object(&FieldPath::root(name), entries, depth, &mut model.extends);
                model.fields = object.fields;
                model.dynamic_field = object.dynamic.map(|b| *b);
            }
            // `Model:` with nothing under it: an empty model.
            Kind::Null => {}
            _ => self.diagnostics.push(
                Diagnostic::error(
                    "invalid_model",
                    format!("Model \"{name}\" must be a map of field names to types, found {}", node.type_name()),
                )
                .at(node.span)
                .path(name)
                .help(format!("write the fields indented under `{name}:`, e.g. `id: string`")),
            ),
        }
        model
    }

    /// Parses the entries of a model or inline object, merging `__extends` parents in place.
    fn parse_object(
        &mut self,
        path: &FieldPath,
        entries: &'a [(Node, Node)],
        depth: usize,
        extends_out: &mut Vec<String>,
    ) -> ObjectType {
        let mut object = ObjectType::default();
        for (key, value) in entries {
            let raw = key.key_str();
            let (name, optional) = strip_optional(&raw);
            let field_path = path.child(name);
            match name {
                "__extends" => {
                    let Some(list) = value.as_str() else {
                        self.diagnostics.push(
                            Diagnostic::error(
                                "type_syntax_error",
                                format!("__extends must be a string of model names, found {}", value.type_name()),
                            )
                            .at(value.span)
                            .path(field_path.render())
                            .help("write `__extends: Parent` or `__extends: ParentA, ParentB`"),
                        );
                        continue;
                    };
                    let mut offset = 0;
                    for part in list.split(',') {
                        let parent = part.trim();
                        let delta = offset + (part.len() - part.trim_start().len());
                        offset += part.len() + 1;
                        if parent.is_empty() {
                            continue;
                        }
                        let parent_span = value.span.sub(list, delta + quote_len(value), parent.len());
                        extends_out.push(parent.to_owned());
                        self.merge_parent(path, parent, parent_span, &mut object, depth);
                    }
                }
                "__string" => {
                    let ty = self.classify_value(&field_path, value, depth);
                    object.dynamic = Some(Box::new(ty));
                }
                _ => {
                    let ty = self.classify_value(&field_path, value, depth);
                    let field = Field { name: name.to_owned(), optional, ty, span: key.span, inherited_from: None };
                    match object.fields.iter_mut().find(|f| f.name == field.name) {
                        // Defined after `__extends`: replace the inherited field where it stands.
                        Some(existing) => *existing = field,
                        None => object.fields.push(field),
                    }
                }
            }
        }
        object
    }

    fn merge_parent(&mut self, path: &FieldPath, parent: &str, span: Span, object: &mut ObjectType, depth: usize) {
        let Some(&pi) = self.index.get(parent) else {
            let mut diag = Diagnostic::error(
                "model_extends_not_found",
                format!("Model \"{}\" is extending \"{parent}\", but it does not exists", path.root_name()),
            )
            .at(span)
            .path(path.render());
            diag = match self.suggest(parent) {
                Some(s) => diag.help(format!("did you mean `{s}`?")),
                None => diag.help("declare the parent model under `models:` or remove it from `__extends`"),
            };
            self.diagnostics.push(diag);
            return;
        };
        if depth >= MAX_EXTENDS_DEPTH {
            self.diagnostics.push(
                Diagnostic::error(
                    "extends_too_deep",
                    format!(
                        "Model \"{}\" extends \"{parent}\" at the end of an `__extends` chain longer than {MAX_EXTENDS_DEPTH} models",
                        path.root_name()
                    ),
                )
                .at(span)
                .path(path.render())
                .help(format!("models may extend at most {MAX_EXTENDS_DEPTH} levels deep; extend fewer levels of models")),
            );
            return;
        }
        if self.in_progress.contains(&pi) {
            self.diagnostics.push(
                Diagnostic::error(
                    "cyclic_extends",
                    format!("Model \"{}\" extends \"{parent}\", which extends it back", path.root_name()),
                )
                .at(span)
                .path(path.render())
                .help("`__extends` chains must not loop; move the shared fields into a separate base model"),
            );
            return;
        }
        let Some(parent_model) = self.resolve(pi, depth + 1).cloned() else { return };
        for field in parent_model.fields {
            // Earlier parents win; the object's own fields win wherever they are written (a later
            // own key replaces the inherited one in place, in `parse_object`).
            if object.fields.iter().any(|f| f.name == field.name) {
                continue;
            }
            let inherited_from = field.inherited_from.clone().or_else(|| Some(parent.to_owned()));
            object.fields.push(Field { inherited_from, ..field });
        }
        if object.dynamic.is_none() {
            object.dynamic = parent_model.dynamic_field.map(Box::new);
        }
    }

    /// Classifies one field value (spec §2.2 steps 4–14).
    pub fn classify_value(&mut self, path: &FieldPath, value: &'a Node, depth: usize) -> TypeExpr {
        match &value.kind {
            Kind::Seq(items) => TypeExpr::List(
                items.iter().enumerate().map(|(i, item)| self.classify_value(&path.item(i), item, depth)).collect(),
            ),
            Kind::Null => TypeExpr::Literal(Literal::Null),
            Kind::Bool(b) => TypeExpr::Literal(Literal::Bool(*b)),
            Kind::Int(i) => TypeExpr::Literal(Literal::Number((*i).into())),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(TypeExpr::Primitive(Primitive::Number), |n| TypeExpr::Literal(Literal::Number(n))),
            Kind::Map(entries) => {
                let mut ignored = Vec::new();
                TypeExpr::Object(self.parse_object(path, entries, depth, &mut ignored))
            }
            Kind::Str(s) => self.classify_string(path, s, value.span, quote_len(value)),
        }
    }

    /// Classifies a string type: a union (`a | b`) or a single member.
    pub fn classify_string(&mut self, path: &FieldPath, text: &str, span: Span, quote: usize) -> TypeExpr {
        if !text.contains('|') {
            let trimmed = text.trim();
            let delta = text.len() - text.trim_start().len();
            return self.classify_member(path, trimmed, span.sub(text, delta + quote, trimmed.len()));
        }
        let mut members = Vec::new();
        let mut offset = 0;
        for part in text.split('|') {
            let trimmed = part.trim();
            let delta = offset + (part.len() - part.trim_start().len());
            offset += part.len() + 1;
            members.push(self.classify_member(path, trimmed, span.sub(text, delta + quote, trimmed.len())));
        }
        TypeExpr::Union(members)
    }

    fn classify_member(&mut self, path: &FieldPath, text: &str, span: Span) -> TypeExpr {
        if let Some(element) = text.strip_suffix("[]") {
            if element.trim().is_empty() {
                self.type_syntax_error(
                    path,
                    text,
                    span,
                    "write the element type before `[]`, e.g. `string[]`, or use `array` for an array of anything",
                );
                return TypeExpr::Primitive(Primitive::Array);
            }
            return TypeExpr::Array(Box::new(self.classify_scalar(path, element, span)));
        }
        self.classify_scalar(path, text, span)
    }

    fn classify_scalar(&mut self, path: &FieldPath, text: &str, span: Span) -> TypeExpr {
        // Extension: a quoted member (`'open'`) is an explicit string literal, never a model.
        if let Some(inner) = unquote(text) {
            return TypeExpr::Literal(Literal::String(inner.to_owned()));
        }
        if let Some(p) = Primitive::from_alias(text) {
            return TypeExpr::Primitive(p);
        }
        if let Some(n) = number_literal(text) {
            return TypeExpr::Literal(Literal::Number(n));
        }
        match text.to_ascii_lowercase().as_str() {
            "true" => return TypeExpr::Literal(Literal::Bool(true)),
            "false" => return TypeExpr::Literal(Literal::Bool(false)),
            "null" => return TypeExpr::Literal(Literal::Null),
            _ => {}
        }
        if DISALLOWED_GENERICS.iter().any(|g| text.starts_with(g)) {
            let help = if text.starts_with("Record<") {
                "use `__string: <type>` for a map with arbitrary keys"
            } else if text.starts_with("Array<") {
                "write `T[]` instead of `Array<T>`"
            } else {
                "use a model, a primitive (`string`, `number`, `boolean`, `date`, `object`, `any`) or `T[]`"
            };
            self.type_syntax_error(path, text, span, help);
            return TypeExpr::Primitive(Primitive::Any);
        }
        if self.contains(text) {
            return TypeExpr::Model(text.to_owned());
        }
        let mut message = format!("Model \"{text}\" is not defined, using as string literal");
        let help = match self.suggest_type(text) {
            Some(s) => {
                message.push_str(&format!("; did you mean `{s}`?"));
                format!("if you meant the model, write `{s}`; if you meant the literal, quote it: `'{text}'`")
            }
            None => format!("declare a model named `{text}`, or quote the literal to make it explicit: `'{text}'`"),
        };
        self.diagnostics.push(
            Diagnostic::warning("model_not_found_fallback", message)
                .at(span)
                .path(format!("{} > {text}", path.root_name()))
                .help(help),
        );
        TypeExpr::Literal(Literal::String(text.to_owned()))
    }

    fn type_syntax_error(&mut self, path: &FieldPath, text: &str, span: Span, help: &str) {
        self.diagnostics.push(
            Diagnostic::error(
                "type_syntax_error",
                format!("Type \"{text}\" contains some unsupported typescript syntax, please use allowed syntax. Documentation: {DOCS}"),
            )
            .at(span)
            .path(path.render())
            .help(help),
        );
    }

    /// The declared model name closest to `text`, if it is close enough to be a likely typo.
    pub fn suggest(&mut self, text: &str) -> Option<String> {
        self.prepare_candidates();
        closest(text, &self.candidates, true)
    }

    /// Like [`suggest`](Self::suggest), also considering the primitive types (`Strin` -> `string`).
    fn suggest_type(&mut self, text: &str) -> Option<String> {
        if let Some(cached) = self.suggestions.get(text) {
            return cached.clone();
        }
        let found = if text.chars().count() < 4 {
            self.suggest(text)
        } else {
            self.prepare_candidates();
            closest(text, &self.candidates, false)
        };
        self.suggestions.insert(text.to_owned(), found.clone());
        found
    }

    fn prepare_candidates(&mut self) {
        const PRIMITIVES: &[&str] =
            &["string", "number", "integer", "boolean", "bigint", "date", "object", "any", "array"];
        if self.candidates.is_empty() {
            let models = self.declared.iter().map(|(n, _, _)| (n.as_str(), true));
            self.candidates = prepare(models.chain(PRIMITIVES.iter().map(|p| (*p, false))));
        }
    }

    /// Warns once per reference cycle (`A -> B -> A`), with the real cycle in the message.
    fn report_cycles(&mut self) {
        let names: Vec<String> = self.declared.iter().map(|(n, _, _)| n.clone()).collect();
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        for (i, model) in self.resolved.iter().enumerate() {
            let Some(model) = model else { continue };
            let mut add = |m: &str| {
                if let Some(&j) = self.index.get(m)
                    && !edges[i].contains(&j)
                {
                    edges[i].push(j);
                }
            };
            for f in &model.fields {
                f.ty.visit_models(&mut add);
            }
            if let Some(d) = &model.dynamic_field {
                d.visit_models(&mut add);
            }
        }
        for cycle in find_cycles(&edges) {
            let first = cycle[0];
            let chain: Vec<&str> = cycle.iter().chain(std::iter::once(&first)).map(|&i| names[i].as_str()).collect();
            let span = self.declared[first].1;
            self.diagnostics.push(
                Diagnostic::warning("cyclic_model", format!("Cyclic import {}", chain.join("->")))
                    .at(span)
                    .path(chain.join(" > "))
                    .help("recursive models are supported (the generated Rust boxes the recursion); this is informational"),
            );
        }
    }
}

/// Elementary cycles, one per strongly connected component (enough to tell the user where).
fn find_cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let component = strongly_connected(edges);
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (node, &c) in component.iter().enumerate() {
        members.entry(c).or_default().push(node);
    }
    let mut out: Vec<Vec<usize>> = members
        .into_values()
        .filter(|m| m.len() > 1 || edges[m[0]].contains(&m[0]))
        .map(|mut m| {
            m.sort_unstable();
            cycle_through(m[0], &m, edges)
        })
        .collect();
    out.sort();
    out
}

/// The strongly connected component of every node (Tarjan's algorithm, iterative so that big
/// files cannot exhaust the stack). Nodes share an id exactly when they reach each other.
pub(crate) fn strongly_connected(edges: &[Vec<usize>]) -> Vec<usize> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![usize::MAX; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut components = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut ei)) = work.last_mut() {
            if *ei < edges[v].len() {
                let w = edges[v][*ei];
                *ei += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component[w] = components;
                        if w == v {
                            break;
                        }
                    }
                    components += 1;
                }
            }
        }
    }
    component
}

/// A path from `start` back to itself inside one component (breadth-first, shortest).
fn cycle_through(start: usize, component: &[usize], edges: &[Vec<usize>]) -> Vec<usize> {
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if !component.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

/// The closest candidate to `text` when it is a plausible typo of it.
pub(crate) fn suggest<'n>(text: &str, candidates: impl Iterator<Item = &'n str>) -> Option<String> {
    closest(text, &prepare(candidates.map(|c| (c, true))), true)
}

/// Counts of ASCII letters, digits and `_`; everything else shares one bucket.
fn histogram(s: &str) -> [i32; 38] {
    let mut h = [0i32; 38];
    for b in s.bytes() {
        let i = match b {
            b'a'..=b'z' => (b - b'a') as usize,
            b'0'..=b'9' => 26 + (b - b'0') as usize,
            b'_' => 36,
            _ => 37,
        };
        h[i] += 1;
    }
    h
}

fn bag_distance(a: &[i32; 38], b: &[i32; 38]) -> usize {
    let (mut more, mut less) = (0, 0);
    for (x, y) in a.iter().zip(b.iter()) {
        if x > y {
            more += (x - y) as usize;
        } else {
            less += (y - x) as usize;
        }
    }
    more.max(less)
}

fn strip_optional(key: &str) -> (&str, bool) {
    match key.strip_suffix('?') {
        Some(name) => (name, true),
        None => (key, false),
    }
}

/// Length of the opening quote of a quoted scalar, so sub-spans line up with the text.
fn quote_len(node: &Node) -> usize {
    match node.as_str() {
        Some(s) if node.span.len >= s.len() + 2 => 1,
        _ => 0,
    }
}

fn unquote(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == b'\'' || bytes[0] == b'"') && bytes[bytes.len() - 1] == bytes[0] {
        Some(&text[1..text.len() - 1])
    } else {
        None
    }
}

/// A whole-string number (`42`, `-1.5`, `1e3`). Unlike Nango's `parseInt`, `7days` or
/// `2024-01-01` are not numbers.
fn number_literal(text: &str) -> Option<serde_json::Number> {
    let first = text.bytes().next()?;
    if !(first.is_ascii_digit() || first == b'-' || first == b'.') {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return None;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(i.into());
    }
    let f: f64 = text.parse().ok()?;
    serde_json::Number::from_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number_literal("42"), Some(42.into()));
        assert!(number_literal("7days").is_none());
        assert!(number_literal("2024-01-01").is_none());
        assert!(number_literal("1.5").is_some());
    }

    #[test]
    fn suggestions() {
        let names = ["GithubIssue", "GithubUser"];
        assert_eq!(suggest("GithubIsue", names.iter().copied()).as_deref(), Some("GithubIssue"));
        assert_eq!(suggest("githubissue", names.iter().copied()).as_deref(), Some("GithubIssue"));
        assert_eq!(suggest("open", names.iter().copied()), None);
    }

    #[test]
    fn cycles_are_real_cycles_only() {
        // A -> B, A -> C, B -> C: no cycle (Nango would warn here).
        assert!(find_cycles(&[vec![1, 2], vec![2], vec![]]).is_empty());
        assert_eq!(find_cycles(&[vec![1], vec![0]]), vec![vec![0, 1]]);
        assert_eq!(find_cycles(&[vec![0]]), vec![vec![0]]);
    }
}
