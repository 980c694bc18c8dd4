//! Model items: one Rust struct, enum or alias per model, with nested types for inline objects
//! and unions, named after their path and never colliding.

use super::names::{NameSet, field_name, ident, type_name};
use super::settings::{DateType, Settings};
use super::shape::{self, Presence, UnionKind};
use crate::ir::{Field, Literal, Model, ObjectType, Primitive, TypeExpr};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::HashMap;

/// A Rust type for a nango.yaml type.
pub(crate) struct RustType {
    pub tokens: TokenStream,
    /// Already an `Option` (the type admits `null`).
    pub nullable: bool,
    /// A key that may be absent even when not marked `?` (`undefined`, `void`, `never`).
    pub implicitly_optional: bool,
}

impl RustType {
    fn plain(tokens: TokenStream) -> Self {
        RustType { tokens, nullable: false, implicitly_optional: false }
    }
}

/// Emits the items of one model scope (the file's models, or one integration's).
pub(crate) struct ModelEmitter<'a> {
    settings: &'a Settings,
    rt: TokenStream,
    /// Model name -> Rust type name.
    pub type_names: HashMap<String, String>,
    names: NameSet,
    /// Model name -> strongly connected component, for boxing recursive references.
    component: HashMap<String, usize>,
    pub items: Vec<TokenStream>,
    /// The derive and crate-path attributes every item carries, built once.
    derive_attrs: TokenStream,
    crate_attrs: TokenStream,
    /// Prefix of this scope's `schema.json` definition names (`github.` in the flows layout).
    pub def_prefix: String,
    /// Path of the constant holding the `schema.json` text, from the models' module.
    schema_const: TokenStream,
}

/// Where a type is being generated.
#[derive(Clone)]
struct Ctx {
    /// The model whose item is being generated (recursion through it needs a `Box`).
    root: String,
    /// Name for a nested type made here.
    hint: String,
    /// Inside a `Vec` or map: already on the heap, no `Box` needed.
    on_heap: bool,
}

impl<'a> ModelEmitter<'a> {
    /// An emitter for `models`, whose types avoid the names `reserved`; their schemas are the
    /// definitions `def_prefix` + name of the `schema.json` text that `schema_const` names.
    pub fn new(
        settings: &'a Settings,
        models: &[Model],
        reserved: &[&str],
        def_prefix: &str,
        schema_const: TokenStream,
    ) -> Self {
        let mut names = NameSet::default();
        for r in reserved {
            names.reserve(r);
        }
        let type_names = models.iter().map(|m| (m.name.clone(), names.claim(&type_name(&m.name)))).collect();
        let mut emitter = ModelEmitter {
            settings,
            rt: settings.runtime_tokens(),
            type_names,
            names,
            component: components(models),
            items: Vec::new(),
            derive_attrs: TokenStream::new(),
            crate_attrs: TokenStream::new(),
            def_prefix: def_prefix.to_owned(),
            schema_const,
        };
        emitter.derive_attrs = emitter.build_derives();
        emitter.crate_attrs = emitter.build_crate_attrs();
        emitter
    }

    fn derives(&self) -> TokenStream {
        self.derive_attrs.clone()
    }

    fn crate_attrs(&self) -> TokenStream {
        self.crate_attrs.clone()
    }

    /// The Rust type name of a model.
    pub fn type_of(&self, model: &str) -> proc_macro2::Ident {
        ident(self.type_names.get(model).map_or("UnknownModel", String::as_str))
    }

    fn build_derives(&self) -> TokenStream {
        let rt = &self.rt;
        let extra = self.settings.extra_derive_tokens();
        // Binaries that use some models only would warn about the rest.
        quote! {
            #[allow(dead_code)]
            #[derive(
                ::std::fmt::Debug,
                ::std::clone::Clone,
                ::std::cmp::PartialEq,
                #rt::__private::serde::Serialize,
                #rt::__private::serde::Deserialize,
                #(#extra,)*
            )]
        }
    }

    fn build_crate_attrs(&self) -> TokenStream {
        let serde_path = format!("{}::__private::serde", self.settings.runtime_path);
        quote! {
            #[serde(crate = #serde_path)]
        }
    }

    /// Emits the item(s) of one model.
    pub fn emit_model(&mut self, model: &Model) {
        let name = self.type_of(&model.name);
        let doc = if model.anonymous {
            format!(" The literal type of `{}` in nango.yaml.", model.name)
        } else {
            format!(" Model `{}` of nango.yaml (line {}).", model.name, model.span.line)
        };
        let ctx = Ctx { root: model.name.clone(), hint: name.to_string(), on_heap: false };
        if model.anonymous {
            // Anonymous models hold one field (`input`/`output`): they become type aliases.
            let ty = match model.fields.first() {
                Some(f) => self.ty(&f.ty, &Ctx { hint: format!("{name}Value"), ..ctx }),
                None => RustType::plain(quote!(())),
            };
            let tokens = ty.tokens;
            self.items.push(quote! {
                #[doc = #doc]
                #[allow(dead_code)]
                pub type #name = #tokens;
            });
            return;
        }
        let object = ObjectType { fields: model.fields.clone(), dynamic: model.dynamic_field.clone().map(Box::new) };
        let item = self.struct_item(&name, &doc, &object, &ctx);
        self.items.push(item);
    }

    fn struct_item(&mut self, name: &proc_macro2::Ident, doc: &str, object: &ObjectType, ctx: &Ctx) -> TokenStream {
        let mut field_names = NameSet::default();
        let mut fields = Vec::new();
        for field in &object.fields {
            fields.push(self.field(field, &mut field_names, ctx, name));
        }
        if let Some(dynamic) = &object.dynamic {
            let rust = field_names.claim_with("additional_properties", "_");
            let id = ident(&rust);
            let value = self.ty(dynamic, &Ctx { hint: format!("{name}Value"), on_heap: true, ..ctx.clone() }).tokens;
            fields.push(quote! {
                /// Any other key (`__string` in nango.yaml).
                #[serde(flatten)]
                pub #id: ::std::collections::BTreeMap<::std::string::String, #value>,
            });
        }
        let derives = self.derives();
        let attrs = self.crate_attrs();
        quote! {
            #[doc = #doc]
            #derives
            #attrs
            pub struct #name {
                #(#fields)*
            }
        }
    }

    fn field(&mut self, field: &Field, taken: &mut NameSet, ctx: &Ctx, parent: &proc_macro2::Ident) -> TokenStream {
        let rust = taken.claim_with(&field_name(&field.name), "_");
        let id = ident(&rust);
        let hint = format!("{parent}{}", type_name(&field.name));
        let ty = self.ty(&field.ty, &Ctx { hint, ..ctx.clone() });
        let json_name = &field.name;
        let rename = (rust != *json_name).then(|| quote!(#[serde(rename = #json_name)]));
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
        let tokens = ty.tokens;
        match shape::presence(field) {
            Presence::Required => quote! {
                #[doc = #doc]
                #rename
                pub #id: #tokens,
            },
            Presence::OptionalNullable => {
                // `name?: T | null`: absent, null and a value are three different things.
                let with = format!("{}::__private::double_option::deserialize", self.settings.runtime_path);
                quote! {
                    #[doc = #doc]
                    #rename
                    #[serde(default, skip_serializing_if = "::std::option::Option::is_none", deserialize_with = #with)]
                    pub #id: ::std::option::Option<#tokens>,
                }
            }
            Presence::Optional => {
                let tokens = if ty.nullable { tokens } else { quote!(::std::option::Option<#tokens>) };
                quote! {
                    #[doc = #doc]
                    #rename
                    #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                    pub #id: #tokens,
                }
            }
        }
    }

    fn ty(&mut self, t: &TypeExpr, ctx: &Ctx) -> RustType {
        let rt = self.rt.clone();
        match t {
            TypeExpr::Primitive(p) => match p {
                Primitive::String => RustType::plain(quote!(::std::string::String)),
                Primitive::Number => RustType::plain(quote!(f64)),
                Primitive::Integer => RustType::plain(quote!(i64)),
                Primitive::Boolean => RustType::plain(quote!(bool)),
                Primitive::BigInt => RustType::plain(quote!(i128)),
                Primitive::Date => RustType::plain(match self.settings.date_type {
                    DateType::Chrono => quote!(#rt::__private::chrono::DateTime<#rt::__private::chrono::Utc>),
                    DateType::String => quote!(::std::string::String),
                }),
                Primitive::Object => RustType::plain(
                    quote!(#rt::__private::serde_json::Map<::std::string::String, #rt::__private::serde_json::Value>),
                ),
                Primitive::Any => RustType::plain(quote!(#rt::__private::serde_json::Value)),
                Primitive::Array => RustType::plain(quote!(::std::vec::Vec<#rt::__private::serde_json::Value>)),
                Primitive::Undefined | Primitive::Never | Primitive::Void => RustType {
                    tokens: quote!(::std::option::Option<#rt::__private::serde_json::Value>),
                    nullable: true,
                    implicitly_optional: true,
                },
            },
            TypeExpr::Literal(lit) => match lit {
                Literal::String(_) => self.union(std::slice::from_ref(t), ctx),
                Literal::Number(n) if n.is_i64() => RustType::plain(quote!(i64)),
                Literal::Number(_) => RustType::plain(quote!(f64)),
                Literal::Bool(_) => RustType::plain(quote!(bool)),
                Literal::Null => RustType { tokens: quote!(()), nullable: false, implicitly_optional: false },
            },
            TypeExpr::Model(m) => {
                let name = self.type_of(m);
                let recursive =
                    !ctx.on_heap && self.component.get(m).is_some_and(|c| Some(c) == self.component.get(&ctx.root));
                RustType::plain(if recursive { quote!(::std::boxed::Box<#name>) } else { quote!(#name) })
            }
            TypeExpr::Array(inner) => {
                let element =
                    self.ty(inner, &Ctx { hint: format!("{}Item", ctx.hint), on_heap: true, ..ctx.clone() }).tokens;
                RustType::plain(quote!(::std::vec::Vec<#element>))
            }
            TypeExpr::List(items) => {
                let element = if items.is_empty() {
                    quote!(#rt::__private::serde_json::Value)
                } else {
                    self.union(items, &Ctx { hint: format!("{}Item", ctx.hint), on_heap: true, ..ctx.clone() }).tokens
                };
                RustType::plain(quote!(::std::vec::Vec<#element>))
            }
            TypeExpr::Union(members) => self.union(members, ctx),
            TypeExpr::Object(object) => {
                let name = ident(&self.names.claim(&ctx.hint));
                let doc = format!(" Inline object in `{}`.", ctx.root);
                let item = self.struct_item(&name, &doc, object, &Ctx { hint: name.to_string(), ..ctx.clone() });
                self.items.push(item);
                RustType::plain(quote!(#name))
            }
        }
    }

    /// `A | B | ...`: `Option` for null members, an enum for string literals, `bool` for
    /// `true | false`, the member itself when only one is left, else an untagged enum
    /// (the decisions are [`shape::union`]'s, shared with the schema).
    fn union(&mut self, members: &[TypeExpr], ctx: &Ctx) -> RustType {
        let shape = shape::union(members);
        let inner = match &shape.kind {
            UnionKind::Any => {
                let rt = &self.rt;
                quote!(#rt::__private::serde_json::Value)
            }
            UnionKind::Literals(literals) => {
                let name = self.literal_enum(literals, &ctx.hint);
                quote!(#name)
            }
            UnionKind::Bool => quote!(bool),
            UnionKind::Single(member) => {
                let t = self.ty(member, ctx);
                if t.nullable || !shape.nullable {
                    return RustType { implicitly_optional: shape.may_be_absent || t.implicitly_optional, ..t };
                }
                t.tokens
            }
            UnionKind::Untagged { literals, others } => self.untagged_enum(literals, others, ctx),
        };
        if shape.nullable {
            RustType {
                tokens: quote!(::std::option::Option<#inner>),
                nullable: true,
                implicitly_optional: shape.may_be_absent,
            }
        } else {
            RustType::plain(inner)
        }
    }

    fn literal_enum(&mut self, literals: &[&str], hint: &str) -> proc_macro2::Ident {
        let name = ident(&self.names.claim(hint));
        let mut variant_names = NameSet::default();
        let variants = literals.iter().map(|lit| {
            let v = variant_names.claim(&if lit.is_empty() { "Empty".to_owned() } else { type_name(lit) });
            let v = ident(&v);
            quote! { #[serde(rename = #lit)] #v, }
        });
        let variants: Vec<TokenStream> = variants.collect();
        let other = self.settings.catch_all_variant.then(|| {
            let v = ident(&variant_names.claim("Other"));
            quote! {
                /// A value nango.yaml does not list.
                #[serde(untagged)]
                #v(::std::string::String),
            }
        });
        let derives = self.derives();
        let attrs = self.crate_attrs();
        let doc = format!(" One of: {}.", literals.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", "));
        self.items.push(quote! {
            #[doc = #doc]
            #derives
            #attrs
            pub enum #name {
                #(#variants)*
                #other
            }
        });
        name
    }

    fn untagged_enum(&mut self, literals: &[&str], others: &[&TypeExpr], ctx: &Ctx) -> TokenStream {
        let name = ident(&self.names.claim(&ctx.hint));
        let mut variant_names = NameSet::default();
        let mut variants = Vec::new();
        if !literals.is_empty() {
            let lit_enum = self.literal_enum(literals, &format!("{name}Literal"));
            let v = ident(&variant_names.claim("Literal"));
            variants.push(quote!(#v(#lit_enum),));
        }
        for member in others {
            let v = variant_names.claim(&self.variant_name(member));
            let inner = self.ty(member, &Ctx { hint: format!("{name}{v}"), ..ctx.clone() }).tokens;
            let v = ident(&v);
            variants.push(quote!(#v(#inner),));
        }
        let derives = self.derives();
        let attrs = self.crate_attrs();
        let doc = format!(" A union of nango.yaml (`{}`).", ctx.hint);
        self.items.push(quote! {
            #[doc = #doc]
            #derives
            #attrs
            #[serde(untagged)]
            pub enum #name {
                #(#variants)*
            }
        });
        quote!(#name)
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
    pub fn model_impl(&self, model: &Model) -> Option<TokenStream> {
        if model.anonymous || model.field("id").is_none() {
            return None;
        }
        let rt = &self.rt;
        let name = self.type_of(&model.name);
        let json_name = &model.name;
        // The field's Rust name: the first field is always claimed first, so recompute it.
        let mut taken = NameSet::default();
        let mut id_field = None;
        for f in &model.fields {
            let rust = taken.claim_with(&field_name(&f.name), "_");
            if f.name == "id" {
                id_field = Some(ident(&rust));
            }
        }
        let id_field = id_field?;
        let definition = format!("{}{}", self.def_prefix, model.name);
        let schema_const = &self.schema_const;
        Some(quote! {
            impl #rt::Model for #name {
                const NAME: &'static str = #json_name;
                fn id(&self) -> ::std::string::String {
                    #rt::__private::id_string(&self.#id_field)
                }
                fn json_schema() -> #rt::__private::serde_json::Value {
                    #rt::__private::model_schema(#schema_const, #definition)
                }
            }
        })
    }
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
