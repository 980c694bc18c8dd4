//! Model items: one Rust struct, enum or alias per model, with nested types for inline objects
//! and unions, named after their path and never colliding.

use super::names::{NameSet, field_name, ident_text, type_name};
use super::pretty::{self, Printer};
use super::settings::{DateType, Settings};
use super::shape::{self, Presence, UnionKind};
use super::syntax::{self, Expr, Lines, Path, Tok, Ty};
use crate::fast_hash::HashMap;
use crate::ir::{Field, Literal, Model, Primitive, TypeExpr};
use std::rc::Rc;

/// A Rust type for a nango.yaml type.
pub(crate) struct RustType {
    pub ty: Ty,
    /// Already an `Option` (the type admits `null`).
    pub nullable: bool,
    /// A key that may be absent even when not marked `?` (`undefined`, `void`, `never`).
    pub implicitly_optional: bool,
}

impl RustType {
    fn plain(ty: Ty) -> Self {
        RustType { ty, nullable: false, implicitly_optional: false }
    }
}

/// `::std::option::Option<T>`.
pub(crate) fn option(inner: Ty) -> Ty {
    OPTION.with(|option| {
        let mut path = option.clone();
        if let Some(last) = path.segments.last_mut() {
            last.args = vec![inner];
        }
        Ty::Path(path)
    })
}

thread_local! {
    /// The path of `Option`, made once (most optional fields wrap their type in it).
    static OPTION: Path = Path::parse("::std::option::Option");
}

/// `::std::string::String`.
pub(crate) fn string() -> Ty {
    Ty::path("::std::string::String")
}

/// Emits the items of one model scope (the file's models, or one integration's).
pub(crate) struct ModelEmitter<'a> {
    settings: &'a Settings,
    /// The runtime crate's path (`::nango_runtime`).
    rt: Path,
    /// Model name -> Rust type name.
    pub type_names: HashMap<String, String>,
    names: NameSet,
    /// Model name -> strongly connected component, for boxing recursive references.
    component: HashMap<String, usize>,
    /// The items, as source text indented for where they go.
    pub items: Vec<String>,
    /// How deep the items are indented (4 inside a module).
    indent: usize,
    /// The derive and crate-path attributes every item carries, built once.
    derive_tokens: Vec<Tok>,
    crate_tokens: Vec<Tok>,
    /// Those attributes laid out, for items written line by line.
    header: String,
    /// Types and attributes written for many fields, built once.
    common: Common,
    /// Prefix of this scope's `schema.json` definition names (`github.` in the flows layout).
    pub def_prefix: String,
    /// Path of the constant holding the `schema.json` text, from the models' module.
    schema_const: Path,
}

/// Where a type is being generated.
#[derive(Clone)]
struct Ctx<'f> {
    /// The model whose item is being generated (recursion through it needs a `Box`).
    root: Rc<str>,
    /// Name for a nested type made here.
    hint: Hint<'f>,
    /// Inside a `Vec` or map: already on the heap, no `Box` needed.
    on_heap: bool,
}

/// The name for a nested type, made only when one is (most fields have none).
#[derive(Clone)]
enum Hint<'f> {
    Name(String),
    /// The parent's type name, the field's in `UpperCamelCase`, and `Item` for each array level.
    Field {
        parent: Rc<str>,
        field: &'f str,
        items: usize,
    },
}

impl<'f> Hint<'f> {
    fn text(&self) -> String {
        match self {
            Hint::Name(name) => name.clone(),
            Hint::Field { parent, field, items } => {
                let mut text = format!("{parent}{}", type_name(field));
                for _ in 0..*items {
                    text.push_str("Item");
                }
                text
            }
        }
    }

    /// The hint for the items of an array here.
    fn item(&self) -> Hint<'f> {
        match self {
            Hint::Name(name) => Hint::Name(format!("{name}Item")),
            Hint::Field { parent, field, items } => Hint::Field { parent: parent.clone(), field, items: items + 1 },
        }
    }
}

impl<'a> ModelEmitter<'a> {
    /// An emitter for `models`, whose types avoid the names `reserved`; their schemas are the
    /// definitions `def_prefix` + name of the `schema.json` text that `schema_const` names. Its
    /// items are indented by `indent`.
    pub fn new(
        settings: &'a Settings,
        models: &[Model],
        reserved: &[&str],
        def_prefix: &str,
        schema_const: Path,
        indent: usize,
    ) -> Self {
        let mut names = NameSet::default();
        for r in reserved {
            names.reserve(r);
        }
        let type_names = models.iter().map(|m| (m.name.clone(), names.claim(&type_name(&m.name)))).collect();
        let rt = settings.runtime();
        let derive_tokens = derive_tokens(&rt, settings);
        let mut crate_tokens = Vec::new();
        syntax::name_value("crate", &format!("{}::__private::serde", settings.runtime_path), &mut crate_tokens);
        let mut p = Printer::new(indent);
        syntax::attr(&mut p, "allow", &[Tok::Ident("dead_code".into())]);
        syntax::attr(&mut p, "derive", &derive_tokens);
        syntax::attr(&mut p, "serde", &crate_tokens);
        let header = p.finish();
        let common = Common::new(&rt, settings);
        ModelEmitter {
            settings,
            rt,
            type_names,
            names,
            component: components(models),
            items: Vec::new(),
            indent,
            derive_tokens,
            crate_tokens,
            header,
            common,
            def_prefix: def_prefix.to_owned(),
            schema_const,
        }
    }

    /// The start of a model item written line by line: its doc comment and attributes.
    fn lines(&self, doc: &str) -> Lines {
        let mut lines = Lines::new();
        lines.doc(self.indent, doc);
        lines.text(&self.header);
        lines
    }

    /// The Rust type name of a model.
    pub fn type_of(&self, model: &str) -> String {
        ident_text(self.type_names.get(model).map_or("UnknownModel", String::as_str))
    }

    /// A printer for one item.
    fn printer(&self) -> Printer {
        Printer::new(self.indent)
    }

    /// `#[allow(dead_code)]`, the derives and `#[serde(crate = ...)]`, after the doc comment.
    fn item_attrs(&self, p: &mut Printer, doc: &str) {
        syntax::doc(p, doc);
        syntax::attr(p, "allow", &[Tok::Ident("dead_code".into())]);
        syntax::attr(p, "derive", &self.derive_tokens);
        syntax::attr(p, "serde", &self.crate_tokens);
    }

    /// Emits the item(s) of one model.
    pub fn emit_model(&mut self, model: &Model) {
        let name = self.type_of(&model.name);
        let doc = if model.anonymous {
            format!(" The literal type of `{}` in nango.yaml.", model.name)
        } else {
            format!(" Model `{}` of nango.yaml (line {}).", model.name, model.span.line)
        };
        let ctx = Ctx { root: model.name.as_str().into(), hint: Hint::Name(name.clone()), on_heap: false };
        if model.anonymous {
            // Anonymous models hold one field (`input`/`output`): they become type aliases.
            let ty = match model.fields.first() {
                Some(f) => self.ty(&f.ty, &Ctx { hint: Hint::Name(format!("{name}Value")), ..ctx }),
                None => RustType::plain(Ty::Tuple(Vec::new())),
            };
            let mut p = self.printer();
            syntax::doc(&mut p, &doc);
            syntax::attr(&mut p, "allow", &[Tok::Ident("dead_code".into())]);
            syntax::type_alias(&mut p, &name, &ty.ty);
            self.items.push(p.finish());
            return;
        }
        self.struct_item(&name, &doc, &model.fields, model.dynamic_field.as_ref(), &ctx);
    }

    fn struct_item(&mut self, name: &str, doc: &str, fields: &[Field], dynamic: Option<&TypeExpr>, ctx: &Ctx<'_>) {
        let mut field_names = NameSet::default();
        let mut printed = Vec::with_capacity(fields.len() + 1);
        let parent: Rc<str> = name.into();
        for field in fields {
            printed.push(self.field(field, &mut field_names, ctx, &parent));
        }
        if let Some(dynamic) = dynamic {
            let rust = ident_text(&field_names.claim_with("additional_properties", "_"));
            let hint = Hint::Name(format!("{name}Value"));
            let value = self.ty(dynamic, &Ctx { hint, on_heap: true, ..ctx.clone() }).ty;
            let map = Ty::generic("::std::collections::BTreeMap", vec![string(), value]);
            printed.push(FieldItem {
                doc: " Any other key (`__string` in nango.yaml).".into(),
                attrs: vec![Rc::from([Tok::Ident("flatten".into())])],
                name: rust,
                ty: map,
            });
        }
        // Most structs fit line by line: written straight; the others through the printer.
        let inner = self.indent + pretty::INDENT as usize;
        let mut lines = self.lines(doc);
        if printed.is_empty() {
            lines.line(self.indent, &format!("pub struct {name} {{}}"));
        } else {
            lines.line(self.indent, &format!("pub struct {name} {{"));
            for f in &printed {
                lines.doc(inner, &f.doc);
                for a in &f.attrs {
                    lines.attr(inner, "serde", a);
                }
                lines.field(inner, &f.name, &f.ty);
            }
            lines.line(self.indent, "}");
        }
        if let Some(text) = lines.finish() {
            self.items.push(text);
            return;
        }
        let mut p = self.printer();
        self.item_attrs(&mut p, doc);
        syntax::struct_item(&mut p, name, |p| {
            for f in &printed {
                syntax::field(
                    p,
                    |p| {
                        syntax::doc(p, &f.doc);
                        for a in &f.attrs {
                            syntax::attr(p, "serde", a);
                        }
                    },
                    &f.name,
                    &f.ty,
                );
            }
        });
        self.items.push(p.finish());
    }

    fn field(&mut self, field: &Field, taken: &mut NameSet, ctx: &Ctx<'_>, parent: &Rc<str>) -> FieldItem {
        let rust = taken.claim_with(&field_name(&field.name), "_");
        let hint = Hint::Field { parent: parent.clone(), field: &field.name, items: 0 };
        let ty = self.ty(&field.ty, &Ctx { hint, ..ctx.clone() });
        let json_name = &field.name;
        let mut attrs = Vec::new();
        if rust != *json_name {
            let mut rename = Vec::new();
            syntax::name_value("rename", json_name, &mut rename);
            attrs.push(rename.into());
        }
        let mut doc = format!(" `{json_name}`");
        if let Some(parent_model) = &field.inherited_from {
            doc.push_str(&format!(" (from `{parent_model}`)"));
        }
        // The schema decides presence from the shape alone: the type built here must agree.
        debug_assert_eq!(
            shape::flags(&field.ty),
            shape::Flags { nullable: ty.nullable, implicitly_optional: ty.implicitly_optional },
            "field `{json_name}`"
        );
        let ty = match shape::presence(field) {
            Presence::Required => ty.ty,
            Presence::OptionalNullable => {
                // `name?: T | null`: absent, null and a value are three different things.
                attrs.push(self.common.optional_nullable_attr.clone());
                option(ty.ty)
            }
            Presence::Optional => {
                attrs.push(self.common.optional_attr.clone());
                if ty.nullable { ty.ty } else { option(ty.ty) }
            }
        };
        FieldItem { doc, attrs, name: ident_text(&rust), ty }
    }

    fn value(&self) -> Ty {
        self.common.value.clone()
    }

    fn ty(&mut self, t: &TypeExpr, ctx: &Ctx<'_>) -> RustType {
        match t {
            TypeExpr::Primitive(p) => match p {
                Primitive::String => RustType::plain(self.common.string.clone()),
                Primitive::Number => RustType::plain(Ty::named("f64")),
                Primitive::Integer => RustType::plain(Ty::named("i64")),
                Primitive::Boolean => RustType::plain(Ty::named("bool")),
                Primitive::BigInt => RustType::plain(Ty::named("i128")),
                Primitive::Date => RustType::plain(self.common.date.clone()),
                Primitive::Object => RustType::plain(self.common.object.clone()),
                Primitive::Any => RustType::plain(self.value()),
                Primitive::Array => RustType::plain(Ty::generic("::std::vec::Vec", vec![self.value()])),
                Primitive::Undefined | Primitive::Never | Primitive::Void => {
                    RustType { ty: option(self.value()), nullable: true, implicitly_optional: true }
                }
            },
            TypeExpr::Literal(lit) => match lit {
                Literal::String(_) => self.union(std::slice::from_ref(t), ctx),
                Literal::Number(n) if n.is_i64() => RustType::plain(Ty::named("i64")),
                Literal::Number(_) => RustType::plain(Ty::named("f64")),
                Literal::Bool(_) => RustType::plain(Ty::named("bool")),
                Literal::Null => RustType::plain(Ty::Tuple(Vec::new())),
            },
            TypeExpr::Model(m) => {
                let name = Ty::named(&self.type_of(m));
                let recursive =
                    !ctx.on_heap && self.component.get(m).is_some_and(|c| Some(c) == self.component.get(&*ctx.root));
                RustType::plain(if recursive { Ty::generic("::std::boxed::Box", vec![name]) } else { name })
            }
            TypeExpr::Array(inner) => {
                let element = self.ty(inner, &Ctx { hint: ctx.hint.item(), on_heap: true, ..ctx.clone() }).ty;
                RustType::plain(Ty::generic("::std::vec::Vec", vec![element]))
            }
            TypeExpr::List(items) => {
                let element = if items.is_empty() {
                    self.value()
                } else {
                    self.union(items, &Ctx { hint: ctx.hint.item(), on_heap: true, ..ctx.clone() }).ty
                };
                RustType::plain(Ty::generic("::std::vec::Vec", vec![element]))
            }
            TypeExpr::Union(members) => self.union(members, ctx),
            TypeExpr::Object(object) => {
                let name = ident_text(&self.names.claim(&ctx.hint.text()));
                let doc = format!(" Inline object in `{}`.", ctx.root);
                let inner = Ctx { hint: Hint::Name(name.clone()), ..ctx.clone() };
                self.struct_item(&name, &doc, &object.fields, object.dynamic.as_deref(), &inner);
                RustType::plain(Ty::named(&name))
            }
        }
    }

    /// `A | B | ...`: `Option` for null members, an enum for string literals, `bool` for
    /// `true | false`, the member itself when only one is left, else an untagged enum
    /// (the decisions are [`shape::union`]'s, shared with the schema).
    fn union(&mut self, members: &[TypeExpr], ctx: &Ctx<'_>) -> RustType {
        let shape = shape::union(members);
        let inner = match &shape.kind {
            UnionKind::Any => self.value(),
            UnionKind::Literals(literals) => Ty::named(&self.literal_enum(literals, &ctx.hint.text())),
            UnionKind::Bool => Ty::named("bool"),
            UnionKind::Single(member) => {
                let t = self.ty(member, ctx);
                if t.nullable || !shape.nullable {
                    return RustType { implicitly_optional: shape.may_be_absent || t.implicitly_optional, ..t };
                }
                t.ty
            }
            UnionKind::Untagged { literals, others } => self.untagged_enum(literals, others, ctx),
        };
        if shape.nullable {
            RustType { ty: option(inner), nullable: true, implicitly_optional: shape.may_be_absent }
        } else {
            RustType::plain(inner)
        }
    }

    fn literal_enum(&mut self, literals: &[&str], hint: &str) -> String {
        let name = ident_text(&self.names.claim(hint));
        let mut variant_names = NameSet::default();
        let variants: Vec<(String, &str)> = literals
            .iter()
            .map(|lit| {
                let v = variant_names.claim(&if lit.is_empty() { "Empty".to_owned() } else { type_name(lit) });
                (ident_text(&v), *lit)
            })
            .collect();
        let other = self.settings.catch_all_variant.then(|| ident_text(&variant_names.claim("Other")));
        let doc = format!(" One of: {}.", literals.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", "));
        let inner = self.indent + pretty::INDENT as usize;
        let mut lines = self.lines(&doc);
        lines.line(self.indent, &format!("pub enum {name} {{"));
        let mut rename = Vec::new();
        for (v, lit) in &variants {
            rename.clear();
            syntax::name_value("rename", lit, &mut rename);
            lines.attr(inner, "serde", &rename);
            lines.variant(inner, v, None);
        }
        if let Some(v) = &other {
            lines.doc(inner, " A value nango.yaml does not list.");
            lines.attr(inner, "serde", &[Tok::Ident("untagged".into())]);
            lines.variant(inner, v, Some(&string()));
        }
        lines.line(self.indent, "}");
        if let Some(text) = lines.finish() {
            self.items.push(text);
            return name;
        }
        let mut p = self.printer();
        self.item_attrs(&mut p, &doc);
        syntax::enum_item(&mut p, &name, |p| {
            for (v, lit) in &variants {
                let mut rename = Vec::new();
                syntax::name_value("rename", lit, &mut rename);
                syntax::attr(p, "serde", &rename);
                syntax::variant(p, v, None);
            }
            if let Some(v) = &other {
                syntax::doc(p, " A value nango.yaml does not list.");
                syntax::attr(p, "serde", &[Tok::Ident("untagged".into())]);
                syntax::variant(p, v, Some(&string()));
            }
        });
        self.items.push(p.finish());
        name
    }

    fn untagged_enum(&mut self, literals: &[&str], others: &[&TypeExpr], ctx: &Ctx<'_>) -> Ty {
        let hint = ctx.hint.text();
        let name = ident_text(&self.names.claim(&hint));
        let mut variant_names = NameSet::default();
        let mut variants = Vec::new();
        if !literals.is_empty() {
            let lit_enum = self.literal_enum(literals, &format!("{name}Literal"));
            variants.push((ident_text(&variant_names.claim("Literal")), Ty::named(&lit_enum)));
        }
        for member in others {
            let v = variant_names.claim(&self.variant_name(member));
            let inner = self.ty(member, &Ctx { hint: Hint::Name(format!("{name}{v}")), ..ctx.clone() }).ty;
            variants.push((ident_text(&v), inner));
        }
        let doc = format!(" A union of nango.yaml (`{hint}`).");
        let inner = self.indent + pretty::INDENT as usize;
        let mut lines = self.lines(&doc);
        lines.attr(self.indent, "serde", &[Tok::Ident("untagged".into())]);
        lines.line(self.indent, &format!("pub enum {name} {{"));
        for (v, ty) in &variants {
            lines.variant(inner, v, Some(ty));
        }
        lines.line(self.indent, "}");
        if let Some(text) = lines.finish() {
            self.items.push(text);
            return Ty::named(&name);
        }
        let mut p = self.printer();
        self.item_attrs(&mut p, &doc);
        syntax::attr(&mut p, "serde", &[Tok::Ident("untagged".into())]);
        syntax::enum_item(&mut p, &name, |p| {
            for (v, ty) in &variants {
                syntax::variant(p, v, Some(ty));
            }
        });
        self.items.push(p.finish());
        Ty::named(&name)
    }

    fn variant_name(&self, t: &TypeExpr) -> String {
        match t {
            TypeExpr::Primitive(p) => format!("{p:?}"),
            TypeExpr::Literal(Literal::Number(_)) => "Number".into(),
            TypeExpr::Literal(Literal::Bool(_)) => "Bool".into(),
            TypeExpr::Literal(_) => "Literal".into(),
            TypeExpr::Model(m) => self.type_names.get(m).cloned().unwrap_or_else(|| type_name(m)),
            TypeExpr::Array(inner) => format!("{}List", self.variant_name(inner)),
            TypeExpr::List(_) => "List".into(),
            TypeExpr::Union(_) => "Union".into(),
            TypeExpr::Object(_) => "Object".into(),
        }
    }

    /// `impl Model` for a sync output model with an `id`; its JSON Schema is its `schema.json`
    /// definition.
    pub fn model_impl(&self, model: &Model) -> Option<String> {
        if model.anonymous || model.field("id").is_none() {
            return None;
        }
        let rt = &self.rt;
        let name = self.type_of(&model.name);
        // The field's Rust name: the first field is always claimed first, so recompute it.
        let mut taken = NameSet::default();
        let mut id_field = None;
        for f in &model.fields {
            let rust = taken.claim_with(&field_name(&f.name), "_");
            if f.name == "id" {
                id_field = Some(ident_text(&rust));
            }
        }
        let id_field = id_field?;
        let definition = format!("{}{}", self.def_prefix, model.name);
        let private = rt.join("__private");
        let id = Expr::Call(private.join("id_string"), vec![Expr::Ref(Box::new(Expr::SelfField(id_field)))]);
        let schema = Expr::Call(
            private.join("model_schema"),
            vec![Expr::Path(self.schema_const.clone()), Expr::str(&definition)],
        );
        let model_trait = rt.join("Model");
        let (outer, inner, body) = (self.indent, self.indent + 4, self.indent + 8);
        let mut rt_text = String::new();
        Ty::Path(rt.clone()).flat(&mut rt_text);
        let mut lines = Lines::new();
        lines.whole(outer, &format!("impl {rt_text}::Model for {name} {{"));
        lines.line(inner, &format!("const NAME: &'static str = {};", syntax::str_lit(&model.name)));
        lines.whole(inner, "fn id(&self) -> ::std::string::String {");
        lines.statement(body, &id);
        lines.line(inner, "}");
        lines.line(inner, &format!("fn json_schema() -> {rt_text}::__private::serde_json::Value {{"));
        lines.statement(body, &schema);
        lines.line(inner, "}");
        lines.line(outer, "}");
        if let Some(text) = lines.finish() {
            return Some(text);
        }
        let mut p = self.printer();
        syntax::impl_item(&mut p, &model_trait, &Ty::named(&name), |p| {
            let str_ref = Ty::Ref(Some("'static"), Box::new(Ty::named("str")));
            syntax::const_item(p, "const ", "NAME", &str_ref, &Expr::str(&model.name));
            syntax::method(p, "id", true, &string(), &id);
            syntax::method(p, "json_schema", false, &self.value(), &schema);
        });
        Some(p.finish())
    }
}

/// What many fields share, built once per emitter.
struct Common {
    string: Ty,
    value: Ty,
    object: Ty,
    date: Ty,
    /// `#[serde(default, skip_serializing_if = ...)]`.
    optional_attr: Rc<[Tok]>,
    /// The same with `deserialize_with` the runtime's double-option reader.
    optional_nullable_attr: Rc<[Tok]>,
}

impl Common {
    fn new(rt: &Path, settings: &Settings) -> Self {
        let private = rt.join("__private");
        let value = Ty::Path(private.join("serde_json").join("Value"));
        let chrono = private.join("chrono");
        let date = match settings.date_type {
            DateType::Chrono => Ty::Path(chrono.join_args("DateTime", vec![Ty::Path(chrono.join("Utc"))])),
            DateType::String => string(),
        };
        let mut optional_attr = vec![Tok::Ident("default".into()), Tok::Punct(',', false)];
        syntax::name_value("skip_serializing_if", "::std::option::Option::is_none", &mut optional_attr);
        let mut optional_nullable_attr = optional_attr.clone();
        optional_nullable_attr.push(Tok::Punct(',', false));
        let with = format!("{}::__private::double_option::deserialize", settings.runtime_path);
        syntax::name_value("deserialize_with", &with, &mut optional_nullable_attr);
        Common {
            string: string(),
            object: Ty::Path(private.join("serde_json").join_args("Map", vec![string(), value.clone()])),
            value,
            date,
            optional_attr: optional_attr.into(),
            optional_nullable_attr: optional_nullable_attr.into(),
        }
    }
}

/// A struct field, ready to print.
struct FieldItem {
    doc: String,
    /// The tokens of each `#[serde(...)]`.
    attrs: Vec<Rc<[Tok]>>,
    name: String,
    ty: Ty,
}

/// The tokens inside `#[derive(...)]` of every model type.
fn derive_tokens(rt: &Path, settings: &Settings) -> Vec<Tok> {
    let mut out = Vec::new();
    for std in ["::std::fmt::Debug", "::std::clone::Clone", "::std::cmp::PartialEq"] {
        syntax::path_toks(&Path::parse(std), &mut out);
        out.push(Tok::Punct(',', false));
    }
    for serde in ["Serialize", "Deserialize"] {
        syntax::path_toks(&rt.join("__private").join("serde").join(serde), &mut out);
        out.push(Tok::Punct(',', false));
    }
    // Extra derives are paths as users wrote them; what does not lex is left out.
    for extra in &settings.extra_derives {
        if let Some(tokens) = syntax::lex(extra) {
            out.extend(tokens);
            out.push(Tok::Punct(',', false));
        }
    }
    out
}

/// Strongly connected components of the model reference graph (ids only matter for equality).
fn components(models: &[Model]) -> HashMap<String, usize> {
    let index: HashMap<&str, usize> = models.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
    let edges: Vec<Vec<usize>> = models
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            let mut add = |name: &str| {
                if let Some(&j) = index.get(name) {
                    out.push(j);
                }
            };
            m.fields.iter().for_each(|f| f.ty.visit_models(&mut add));
            if let Some(d) = &m.dynamic_field {
                d.visit_models(&mut add);
            }
            out
        })
        .collect();
    let comp = crate::models::strongly_connected(&edges);
    models.iter().enumerate().map(|(i, m)| (m.name.clone(), comp[i])).collect()
}
