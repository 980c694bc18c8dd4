//! The model grammar (spec §2): field types, `__extends`, `__string`, literals, references.
//!
//! Models are parsed on demand with memoisation, like Nango, so references and `__extends` work
//! in any order. Unlike Nango, reference cycles are found with a real graph walk (no false
//! `cyclic_model` warnings), numeric-looking strings such as `7days` stay string literals, and an
//! unknown name that is close to a model name gets a "did you mean" hint.

use crate::fast_hash::{HashMap, HashSet};
use crate::ir::{Field, Literal, Model, ObjectType, Primitive, TypeExpr};
use crate::yaml::{Kind, Node};
use crate::{Diagnostic, Span};

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

/// Longest `__extends` chain (a model, its parent, the parent's parent...) that is merged. The
/// limit holds whatever order the models are written in; beyond it the parent is not merged and
/// `extends_too_deep` says so. Inherited fields are copied into every descendant, so an
/// unlimited chain of n models would hold n²/2 fields.
pub(crate) const MAX_EXTENDS_DEPTH: usize = 64;

/// Work `__extends` may do in one file: parent fields looked at, plus type nodes (fields and the
/// types nested in them) copied into descendants. Copies are what makes `__extends` able to
/// blow up (many models extending one big model), like aliases in YAML bombs; past this budget
/// merges are refused with `extends_too_large`. Files of the corpus use at most about 250; a
/// 64-model chain cut every 64 levels (`extends_too_deep`) about 4,200 per 65 models.
pub(crate) const MAX_INHERITED_NODES: usize = 500_000;

/// Work typo suggestions ("did you mean") may do in one file, in candidates looked at (see
/// [`closest`]). Each unknown name is compared with the declared names of plausible length, so a
/// file with many models and many distinct unknown names would be quadratic; past this budget
/// names get no suggestion. The largest file of the corpus (1,445 models, 808 warnings) uses
/// about 130,000.
pub(crate) const MAX_SUGGESTION_CHECKS: usize = 4_000_000;

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
    hist: Histogram,
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
/// `candidates` must be sorted by length ([`prepare`]). Every candidate looked at costs one unit
/// of `budget`, and an edit distance computed costs more; when the budget runs out there is no
/// suggestion (for this name and every later one).
fn closest(text: &str, candidates: &[Candidate], models_only: bool, budget: &mut usize) -> Option<String> {
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
        let left = budget.checked_sub(1)?;
        *budget = left;
        let limit = (len.max(c.len) / 4).max(1);
        // Two cheap lower bounds of the edit distance first: length difference and bag distance
        // (characters one has and the other lacks). Files with a thousand models and hundreds of
        // literals stay fast.
        if len.abs_diff(c.len) > limit || bag_distance(&hist, &c.hist) > limit {
            continue;
        }
        let distance = if c.lower == lower {
            0
        } else {
            // The distance fills a len x c.len table.
            let Some(left) = budget.checked_sub(len * c.len / 16) else {
                *budget = 0;
                return None;
            };
            *budget = left;
            strsim::osa_distance(&lower, &c.lower)
        };
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

/// What a file may still spend on the work that could otherwise grow faster than the file: one
/// value shared by all the `models:` sections of a file (the flows layout has one per integration).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// What `__extends` may still do ([`MAX_INHERITED_NODES`]).
    pub inherited_nodes: usize,
    /// Typo-suggestion comparisons left ([`MAX_SUGGESTION_CHECKS`]).
    pub suggestion_checks: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { inherited_nodes: MAX_INHERITED_NODES, suggestion_checks: MAX_SUGGESTION_CHECKS }
    }
}

/// One `models:` section (the file's, or one integration's in the flows layout).
pub(crate) struct ModelScope<'a> {
    /// Declared models, in order: name, key span, definition.
    declared: Vec<(String, Span, &'a Node<'a>)>,
    index: HashMap<String, usize>,
    resolved: Vec<Option<Model>>,
    /// Length of the `__extends` chain above each resolved model (0: extends nothing).
    heights: Vec<usize>,
    /// `(model, parent)` pairs where the parent is still being read when the model extends it:
    /// the `__extends` cycles, found by [`extends_order`] before anything is merged.
    back_edges: HashSet<(usize, usize)>,
    /// The model being resolved and the longest chain merged into it so far.
    current: Option<(usize, usize)>,
    budget: Budget,
    pub diagnostics: Vec<Diagnostic>,
    /// Models added after parsing (anonymous models for literal inputs/outputs), with an index
    /// by name.
    extra: Vec<Model>,
    extra_index: HashMap<String, usize>,
    /// Suggestions already computed: big files repeat the same literals many times.
    suggestions: HashMap<String, Option<String>>,
    /// Model names (then primitive names) prepared for typo matching, built on first use.
    candidates: Vec<Candidate>,
}

impl<'a> ModelScope<'a> {
    /// Reads the names of a `models:` map (the file's, or one integration's in the flows layout).
    pub fn new(models: Option<&'a Node<'a>>) -> Self {
        let mut scope = ModelScope {
            declared: Vec::new(),
            index: HashMap::default(),
            resolved: Vec::new(),
            heights: Vec::new(),
            back_edges: HashSet::default(),
            current: None,
            budget: Budget::default(),
            diagnostics: Vec::new(),
            extra: Vec::new(),
            extra_index: HashMap::default(),
            suggestions: HashMap::default(),
            candidates: Vec::new(),
        };
        let Some(models) = models else { return scope };
        match &models.kind {
            Kind::Map(entries) => {
                for (key, value) in entries.iter() {
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
        scope.heights = vec![0; scope.declared.len()];
        scope
    }

    /// True when `name` is declared in this scope.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name) || self.extra_index.contains_key(name)
    }

    /// Adds an anonymous model (a literal input or output).
    pub fn add_extra(&mut self, model: Model) {
        self.extra_index.entry(model.name.clone()).or_insert(self.extra.len());
        self.extra.push(model);
    }

    /// Parses every declared model and checks reference cycles, spending from `budget` (and
    /// handing back what is left in it).
    ///
    /// Models are read parents first, in the order a depth-first walk from each model in file
    /// order meets them (the order Nango's memoised parse reads them in), so that reading one
    /// model never waits on another: no recursion, however long the chains.
    pub fn parse_all(&mut self, budget: &mut Budget) {
        self.budget = *budget;
        let parents: Vec<Vec<usize>> =
            self.declared.iter().map(|(_, _, node)| extends_parents(node, &self.index)).collect();
        let (order, back_edges) = extends_order(&parents);
        self.back_edges = back_edges;
        for i in order {
            self.resolve(i);
        }
        self.report_cycles();
        *budget = self.budget;
    }

    /// What is left of the file's budget (suggestions made after [`parse_all`](Self::parse_all)
    /// spend from it too), to hand on to the next `models:` section.
    pub fn remaining_budget(&self) -> Budget {
        self.budget
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
            None => self.extra_index.get(name).map(|&i| &self.extra[i]),
        }
    }

    /// Reads declared model `i`; its parents (but those it is in a cycle with) are read already.
    fn resolve(&mut self, i: usize) {
        if self.resolved[i].is_some() {
            return;
        }
        let outer = self.current.replace((i, 0));
        let (name, span, node) = self.declared[i].clone();
        let model = self.parse_model(&name, span, node);
        if let Some((_, height)) = std::mem::replace(&mut self.current, outer) {
            self.heights[i] = height;
        }
        self.resolved[i] = Some(model);
    }

    fn parse_model(&mut self, name: &str, span: Span, node: &'a Node<'a>) -> Model {
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
                let object = self.parse_object(&FieldPath::root(name), entries, &mut model.extends);
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
        extends_out: &mut Vec<String>,
    ) -> ObjectType {
        let mut object = ObjectBuilder { fields: Vec::with_capacity(entries.len()), ..ObjectBuilder::default() };
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
                        self.merge_parent(path, parent, parent_span, &mut object);
                    }
                }
                "__string" => {
                    let ty = self.classify_value(&field_path, value);
                    object.dynamic = Some(Box::new(ty));
                }
                _ => {
                    let ty = self.classify_value(&field_path, value);
                    let field = Field { name: name.to_owned(), optional, ty, span: key.span, inherited_from: None };
                    // Defined after `__extends`: replace the inherited field where it stands.
                    object.set(field);
                }
            }
        }
        ObjectType { fields: object.fields, dynamic: object.dynamic }
    }

    fn merge_parent(&mut self, path: &FieldPath, parent: &str, span: Span, object: &mut ObjectBuilder) {
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
        let Some((current, height)) = self.current else { return };
        if pi == current || self.back_edges.contains(&(current, pi)) {
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
        if self.heights[pi] >= MAX_EXTENDS_DEPTH {
            self.diagnostics.push(
                Diagnostic::error(
                    "extends_too_deep",
                    format!(
                        "Model \"{}\" extends \"{parent}\", whose `__extends` chain is already {MAX_EXTENDS_DEPTH} models long",
                        path.root_name()
                    ),
                )
                .at(span)
                .path(path.render())
                .help(format!("`__extends` chains may be at most {MAX_EXTENDS_DEPTH} models long; extend a model nearer the base of the chain")),
            );
            return;
        }
        // Read before this model (see `parse_all`); a parent that could not be read has nothing to give.
        let Some(parent_model) = self.resolved[pi].as_ref() else { return };
        // Earlier parents win; the object's own fields win wherever they are written (a later
        // own key replaces the inherited one in place, in `parse_object`). Every field looked at
        // and every type node copied is paid from the file's budget first.
        let mut left = self.budget.inherited_nodes;
        let mut inherited = Vec::new();
        let mut affordable = true;
        // Nothing to compare with yet (`__extends` first, as usual): a parent's names are unique.
        let fresh = object.fields.is_empty();
        for field in &parent_model.fields {
            if !charge(1, &mut left) {
                affordable = false;
                break;
            }
            if fresh || !object.has(&field.name) {
                affordable = charge_type(&field.ty, &mut left);
                if !affordable {
                    break;
                }
                inherited.push(field);
            }
        }
        let dynamic = parent_model.dynamic_field.as_ref().filter(|_| object.dynamic.is_none());
        if let Some(ty) = dynamic {
            affordable = affordable && charge_type(ty, &mut left);
        }
        if !affordable {
            // Spent: later merges are refused at their first field, so refusing stays cheap too.
            self.budget.inherited_nodes = 0;
            self.diagnostics.push(
                Diagnostic::error(
                    "extends_too_large",
                    format!(
                        "Model \"{}\" extends \"{parent}\", but `__extends` would copy more than {MAX_INHERITED_NODES} inherited field types in this file",
                        path.root_name()
                    ),
                )
                .at(span)
                .path(path.render())
                .help("each model that extends another gets its own copy of the parent's fields: share fewer or smaller parents, or split the file"),
            );
            return;
        }
        self.budget.inherited_nodes = left;
        self.current = Some((current, height.max(self.heights[pi] + 1)));
        for field in inherited {
            let inherited_from = field.inherited_from.clone().or_else(|| Some(parent.to_owned()));
            object.push(Field { inherited_from, ..field.clone() });
        }
        if let Some(ty) = dynamic {
            object.dynamic = Some(Box::new(ty.clone()));
        }
    }

    /// Classifies one field value (spec §2.2 steps 4–14).
    pub fn classify_value(&mut self, path: &FieldPath, value: &'a Node<'a>) -> TypeExpr {
        match &value.kind {
            Kind::Seq(items) => TypeExpr::List(
                items.iter().enumerate().map(|(i, item)| self.classify_value(&path.item(i), item)).collect(),
            ),
            Kind::Null => TypeExpr::Literal(Literal::Null),
            Kind::Bool(b) => TypeExpr::Literal(Literal::Bool(*b)),
            Kind::Int(i) => TypeExpr::Literal(Literal::Number((*i).into())),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(TypeExpr::Primitive(Primitive::Number), |n| TypeExpr::Literal(Literal::Number(n))),
            Kind::Map(entries) => {
                let mut ignored = Vec::new();
                TypeExpr::Object(self.parse_object(path, entries, &mut ignored))
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
        if text.eq_ignore_ascii_case("true") {
            return TypeExpr::Literal(Literal::Bool(true));
        }
        if text.eq_ignore_ascii_case("false") {
            return TypeExpr::Literal(Literal::Bool(false));
        }
        if text.eq_ignore_ascii_case("null") {
            return TypeExpr::Literal(Literal::Null);
        }
        if text.contains('<') && DISALLOWED_GENERICS.iter().any(|g| text.starts_with(g)) {
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
        closest(text, &self.candidates, true, &mut self.budget.suggestion_checks)
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
            closest(text, &self.candidates, false, &mut self.budget.suggestion_checks)
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
        // `added[j] == i` once the edge i -> j is in: one check per reference, not a scan.
        let mut added = vec![usize::MAX; names.len()];
        for (i, model) in self.resolved.iter().enumerate() {
            let Some(model) = model else { continue };
            let mut add = |m: &str| {
                if let Some(&j) = self.index.get(m)
                    && added[j] != i
                {
                    added[j] = i;
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
    let mut members: HashMap<usize, Vec<usize>> = HashMap::default();
    for (node, &c) in component.iter().enumerate() {
        members.entry(c).or_default().push(node);
    }
    let mut out: Vec<Vec<usize>> = members
        .into_values()
        .filter(|m| m.len() > 1 || edges[m[0]].contains(&m[0]))
        .map(|m| {
            let start = m.iter().copied().min().unwrap_or(m[0]);
            cycle_through(start, &component, edges)
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

/// A path from `start` back to itself inside its component (breadth-first, shortest).
/// `component` is every node's component id ([`strongly_connected`]).
fn cycle_through(start: usize, component: &[usize], edges: &[Vec<usize>]) -> Vec<usize> {
    let mut prev: HashMap<usize, usize> = HashMap::default();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if component[w] != component[start] {
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

/// The fields of an object being read, with an index by name once it is searched often: models
/// with thousands of fields would otherwise search the list once per field. The index is built
/// only after a few searches of a long list, so that objects that are mostly copied from a
/// parent (`__extends`) and searched once or twice never pay for it.
#[derive(Default)]
struct ObjectBuilder {
    fields: Vec<Field>,
    dynamic: Option<Box<TypeExpr>>,
    index: Option<HashMap<String, usize>>,
    /// Linear searches of a list longer than `LINEAR_LIMIT` so far.
    long_searches: usize,
}

impl ObjectBuilder {
    const LINEAR_LIMIT: usize = 32;
    const SEARCHES_BEFORE_INDEX: usize = 4;

    fn position(&mut self, name: &str) -> Option<usize> {
        if self.index.is_none() && self.fields.len() > Self::LINEAR_LIMIT {
            self.long_searches += 1;
            if self.long_searches > Self::SEARCHES_BEFORE_INDEX {
                self.index = Some(self.fields.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect());
            }
        }
        match &self.index {
            Some(index) => index.get(name).copied(),
            None => self.fields.iter().position(|f| f.name == name),
        }
    }

    fn has(&mut self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Adds a field known not to be there yet.
    fn push(&mut self, field: Field) {
        if let Some(index) = &mut self.index {
            index.insert(field.name.clone(), self.fields.len());
        }
        self.fields.push(field);
    }

    /// Adds a field, or replaces the one of the same name where it stands.
    fn set(&mut self, field: Field) {
        match self.position(&field.name) {
            Some(i) => self.fields[i] = field,
            None => self.push(field),
        }
    }
}

/// The declared models a model's definition extends, in the order reading it meets them: its
/// own `__extends` and those of the inline objects in its fields.
fn extends_parents(node: &Node, index: &HashMap<String, usize>) -> Vec<usize> {
    fn walk(node: &Node, index: &HashMap<String, usize>, out: &mut Vec<usize>) {
        match &node.kind {
            Kind::Map(entries) => {
                for (key, value) in entries.iter() {
                    if matches!(strip_optional(&key.key_str()).0, "__extends") {
                        if let Some(list) = value.as_str() {
                            out.extend(list.split(',').filter_map(|p| index.get(p.trim()).copied()));
                        }
                    } else {
                        walk(value, index, out);
                    }
                }
            }
            Kind::Seq(items) => items.iter().for_each(|item| walk(item, index, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    // The tree is at most `yaml::MAX_DEPTH` deep, so this recursion is bounded.
    walk(node, index, &mut out);
    out
}

/// The order to read models in so that parents come first, and the `__extends` edges that
/// close a cycle. It is the post-order of a depth-first walk from each model in file order,
/// following parents in the order they are written: exactly the order in which reading a model
/// and, on the way, each parent it names (memoised) would finish, without the recursion.
fn extends_order(parents: &[Vec<usize>]) -> (Vec<usize>, HashSet<(usize, usize)>) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state = vec![State::New; parents.len()];
    let mut order = Vec::with_capacity(parents.len());
    let mut back_edges = HashSet::default();
    for root in 0..parents.len() {
        if state[root] != State::New {
            continue;
        }
        state[root] = State::Open;
        let mut stack = vec![(root, 0)];
        while let Some((v, next)) = stack.last_mut() {
            let v = *v;
            match parents[v].get(*next) {
                Some(&p) => {
                    *next += 1;
                    match state[p] {
                        State::New => {
                            state[p] = State::Open;
                            stack.push((p, 0));
                        }
                        State::Open => {
                            back_edges.insert((v, p));
                        }
                        State::Done => {}
                    }
                }
                None => {
                    state[v] = State::Done;
                    order.push(v);
                    stack.pop();
                }
            }
        }
    }
    (order, back_edges)
}

/// Takes `units` from `left`; false (leaving `left` as it was) when there are not that many.
fn charge(units: usize, left: &mut usize) -> bool {
    match left.checked_sub(units) {
        Some(rest) => {
            *left = rest;
            true
        }
        None => false,
    }
}

/// Takes one unit from `left` per type node that copying `ty` makes, stopping (false) as soon
/// as they run out, so that the count costs no more than the budget allows.
fn charge_type(ty: &TypeExpr, left: &mut usize) -> bool {
    charge(1, left)
        && match ty {
            TypeExpr::Primitive(_) | TypeExpr::Literal(_) | TypeExpr::Model(_) => true,
            TypeExpr::Array(inner) => charge_type(inner, left),
            TypeExpr::Union(items) | TypeExpr::List(items) => items.iter().all(|t| charge_type(t, left)),
            TypeExpr::Object(object) => {
                object.fields.iter().all(|f| charge_type(&f.ty, left))
                    && object.dynamic.as_deref().is_none_or(|d| charge_type(d, left))
            }
        }
}

/// The closest candidate to `text` when it is a plausible typo of it.
pub(crate) fn suggest<'n>(text: &str, candidates: impl Iterator<Item = &'n str>) -> Option<String> {
    // Callers pass short fixed lists (the keys a map allows): no budget needed.
    let mut unlimited = usize::MAX;
    closest(text, &prepare(candidates.map(|c| (c, true))), true, &mut unlimited)
}

/// Counts of ASCII letters, digits and `_` (everything else shares one bucket), saturating at
/// 255: byte counts keep the comparison cheap (files with thousands of models compare many
/// pairs), and a saturated count only makes [`bag_distance`] smaller, so it stays a lower bound.
type Histogram = [u8; 40];

fn histogram(s: &str) -> Histogram {
    let mut h = [0u8; 40];
    for b in s.bytes() {
        let i = match b {
            b'a'..=b'z' => (b - b'a') as usize,
            b'0'..=b'9' => 26 + (b - b'0') as usize,
            b'_' => 36,
            _ => 37,
        };
        h[i] = h[i].saturating_add(1);
    }
    h
}

/// Characters one name has more of than the other (the larger side): a lower bound of the edit
/// distance.
fn bag_distance(a: &Histogram, b: &Histogram) -> usize {
    let (mut more, mut less) = (0u32, 0u32);
    for (&x, &y) in a.iter().zip(b) {
        more += u32::from(x.saturating_sub(y));
        less += u32::from(y.saturating_sub(x));
    }
    more.max(less) as usize
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
    fn suggestions_stop_when_the_budget_is_spent() {
        let candidates = prepare(["GithubIssue", "GithubUser", "GitlabIssue"].into_iter().map(|n| (n, true)));
        let mut budget = 100;
        assert_eq!(closest("GithubIsue", &candidates, true, &mut budget).as_deref(), Some("GithubIssue"));
        assert!(budget < 100);
        // Not enough left for one search: no suggestion, and nothing left for the next.
        let mut budget = 2;
        assert_eq!(closest("GithubIsue", &candidates, true, &mut budget), None);
        assert_eq!(budget, 0);
        assert_eq!(closest("GithubUsr", &candidates, true, &mut budget), None);
    }

    #[test]
    fn extends_order_reads_parents_first_and_finds_cycles() {
        // 0 extends 1, 1 extends 2: read 2, 1, 0.
        assert_eq!(extends_order(&[vec![1], vec![2], vec![]]), (vec![2, 1, 0], HashSet::default()));
        // 0 extends 1 extends 0: the walk from 0 meets 0 again from 1.
        assert_eq!(extends_order(&[vec![1], vec![0]]), (vec![1, 0], HashSet::from_iter([(1, 0)])));
        // A chain far deeper than the call stack would allow.
        let chain: Vec<Vec<usize>> = (0..200_000).map(|i| if i + 1 < 200_000 { vec![i + 1] } else { vec![] }).collect();
        let (order, cycles) = extends_order(&chain);
        assert_eq!(order.first(), Some(&199_999));
        assert!(cycles.is_empty());
    }

    #[test]
    fn bag_distance_counts_the_extra_characters() {
        let naive = |a: &str, b: &str| {
            let count = |s: &str, c: char| s.chars().filter(|&x| x == c).count();
            let chars: std::collections::BTreeSet<char> = a.chars().chain(b.chars()).collect();
            let (mut more, mut less) = (0, 0);
            for c in chars {
                let (x, y) = (count(a, c), count(b, c));
                more += x.saturating_sub(y);
                less += y.saturating_sub(x);
            }
            more.max(less)
        };
        for (a, b) in [
            ("githubissue", "githubuser"),
            ("", "abc"),
            ("zzzz_9999", "aaaa_0000"),
            ("m12345", "t12345"),
            ("abcdefghijklmnopqrstuvwxyz0123456789_", ""),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a"),
        ] {
            assert_eq!(bag_distance(&histogram(a), &histogram(b)), naive(a, b), "{a} / {b}");
            assert_eq!(bag_distance(&histogram(b), &histogram(a)), naive(a, b), "{b} / {a}");
        }
        // Counts stop at 255: still a lower bound.
        let long = "a".repeat(300);
        assert!(bag_distance(&histogram(&long), &histogram("a")) <= 299);
    }

    #[test]
    fn cycles_are_real_cycles_only() {
        // A -> B, A -> C, B -> C: no cycle (Nango would warn here).
        assert!(find_cycles(&[vec![1, 2], vec![2], vec![]]).is_empty());
        assert_eq!(find_cycles(&[vec![1], vec![0]]), vec![vec![0, 1]]);
        assert_eq!(find_cycles(&[vec![0]]), vec![vec![0]]);
    }
}
