//! The validated intermediate representation of a nango.yaml file.
//!
//! Plain Rust data, free of YAML types, shared by the code generator, the proc macros and the
//! runtime. Every item carries the [`Span`] of its name in the source so later stages (for
//! example `#[nango_sync]` checks) can point at it.

use crate::Span;
use std::time::Duration;

/// Which nango.yaml layout a file uses (spec §1.1–1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Legacy layout: scripts directly under each integration, `returns:`.
    V1,
    /// Current layout: `syncs:`, `actions:`, `on-events:` under each integration.
    V2,
    /// Nango's aggregated "flows" files: v2 integrations that each nest their own `models:`.
    /// Nango's nango.yaml pipeline rejects these; we accept them as an extension.
    Flows,
}

impl Layout {
    /// `"v1"`, `"v2"` or `"flows"`, as printed by `nango validate --format json`.
    ///
    /// ```
    /// assert_eq!(nango_codegen::Layout::Flows.as_str(), "flows");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::V1 => "v1",
            Layout::V2 => "v2",
            Layout::Flows => "flows",
        }
    }
}

/// A whole nango.yaml file.
///
/// ```
/// let src = "integrations:\n  github:\n    syncs:\n      issues:\n        runs: every hour\n        output: Issue\n        endpoint: GET /issues\nmodels:\n  Issue:\n    id: string\n";
/// let config = nango_codegen::parse(src, "nango.yaml").config;
/// assert_eq!(config.integrations[0].syncs[0].name, "issues");
/// assert_eq!(config.model("Issue").unwrap().fields[0].name, "id");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NangoConfig {
    /// Layout the file was read as.
    pub layout: Option<Layout>,
    /// Integrations in file order.
    pub integrations: Vec<Integration>,
    /// Models of the top-level `models:` section, in file order, followed by the anonymous models
    /// made for literal inputs and outputs. Empty for the flows layout (see
    /// [`Integration::models`]).
    pub models: Vec<Model>,
}

impl NangoConfig {
    /// Finds a top-level model by name.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The models visible to an integration: its own (flows layout) or the file's.
    pub fn models_of<'a>(&'a self, integration: &'a Integration) -> &'a [Model] {
        if self.layout == Some(Layout::Flows) { &integration.models } else { &self.models }
    }
}

/// One integration (Nango's provider config key) and its scripts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Integration {
    /// The integration id, e.g. `github`.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// Syncs in file order.
    pub syncs: Vec<Sync>,
    /// Actions in file order.
    pub actions: Vec<Action>,
    /// `on-events` scripts.
    pub on_events: OnEvents,
    /// Deprecated `post-connection-scripts`.
    pub post_connection_scripts: Vec<String>,
    /// Flows layout only: this integration's own models (plus its anonymous ones).
    pub models: Vec<Model>,
}

/// `sync_type` of a sync and the HTTP method of an endpoint: the shared vocabulary types.
pub use nango_types::{Method as HttpMethod, SyncType};

/// A parsed `runs:` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The text as written (`every 5 minutes`).
    pub text: String,
    /// How often the sync runs.
    pub interval: Duration,
    /// Where the `runs:` value is written.
    pub span: Span,
}

/// A continuous sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Sync {
    /// Script name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// Description (trimmed in v2, verbatim in v1 as Nango does).
    pub description: String,
    /// `runs:` as written (`''` when absent in v1).
    pub runs: String,
    /// The parsed schedule; `None` when `runs` is empty (v1) or invalid.
    pub schedule: Option<Schedule>,
    /// Full or incremental (v2 default: full; v1: always incremental).
    pub sync_type: SyncType,
    /// Delete records that a full run no longer returns.
    pub track_deletes: bool,
    /// Start the schedule when a connection is created.
    pub auto_start: bool,
    /// OAuth scopes the sync needs (documentation only).
    pub scopes: Vec<String>,
    /// The connection-metadata model, if any.
    pub input: Option<String>,
    /// Output model names (anonymous models for literal types).
    pub output: Vec<String>,
    /// Where each output name is written (same order as `output`).
    pub output_spans: Vec<Span>,
    /// One endpoint per output model (v2).
    pub endpoints: Vec<Endpoint>,
    /// Webhook event types routed to the sync's webhook handler.
    pub webhook_subscriptions: Vec<String>,
    /// `version:` as text (`''` when absent).
    pub version: String,
    /// Outputs, input and every model they reference, transitively (Nango's `usedModels`).
    pub used_models: Vec<String>,
}

/// A one-off action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Script name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// Description, trimmed.
    pub description: String,
    /// Input model name, if any.
    pub input: Option<String>,
    /// Output model names; `None` when the action declares no output.
    pub output: Option<Vec<String>>,
    /// Where each output name is written (same order as `output`).
    pub output_spans: Vec<Span>,
    /// The HTTP endpoint that triggers it (v2; `None` in v1).
    pub endpoint: Option<Endpoint>,
    /// OAuth scopes (documentation only).
    pub scopes: Vec<String>,
    /// `version:` as text.
    pub version: String,
    /// Output, input and every model they reference.
    pub used_models: Vec<String>,
}

/// `on-events` scripts per event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OnEvents {
    /// Run after a connection is created.
    pub post_connection_creation: Vec<String>,
    /// Run before a connection is deleted.
    pub pre_connection_deletion: Vec<String>,
    /// Run to check a new connection's credentials.
    pub validate_connection: Vec<String>,
}

/// An endpoint of a sync or action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Method (syncs default to GET, actions to POST).
    pub method: HttpMethod,
    /// Path, possibly with a `{Model:field}` placeholder.
    pub path: String,
    /// Documentation group.
    pub group: Option<String>,
    /// Where it is written.
    pub span: Span,
}

/// A data model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Model name as written.
    pub name: String,
    /// Where the name is written (for anonymous models: the literal input/output).
    pub span: Span,
    /// Fields in Nango's order, parents' fields merged in for `__extends`.
    pub fields: Vec<Field>,
    /// `__string`: the type of values under any other key.
    pub dynamic_field: Option<TypeExpr>,
    /// Parent models named in `__extends`, in order.
    pub extends: Vec<String>,
    /// True for models made from a literal `input`/`output` (`Anonymous_<...>`).
    pub anonymous: bool,
}

impl Model {
    /// Finds a field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// One field of a model or inline object.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Name as the JSON has it (without the trailing `?`).
    pub name: String,
    /// Written as `name?:`; the key may be absent.
    pub optional: bool,
    /// The field's type.
    pub ty: TypeExpr,
    /// Where the key is written.
    pub span: Span,
    /// The parent model this field was merged from through `__extends`, if any.
    pub inherited_from: Option<String>,
}

/// A field type, resolved: every name is known to be a model, a primitive or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExpr {
    /// A built-in type or one of its aliases.
    Primitive(Primitive),
    /// A literal value (`open`, `42`, `true`, `null`).
    Literal(Literal),
    /// A reference to another model of the same scope.
    Model(String),
    /// `T[]`.
    Array(Box<TypeExpr>),
    /// `A | B | ...`.
    Union(Vec<TypeExpr>),
    /// A YAML list: an array whose elements may be any of these (empty: any element).
    List(Vec<TypeExpr>),
    /// An inline object (a nested YAML map).
    Object(ObjectType),
}

/// The fields of an inline object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectType {
    /// Fixed fields in order.
    pub fields: Vec<Field>,
    /// `__string`: the type of values under any other key.
    pub dynamic: Option<Box<TypeExpr>>,
}

/// Built-in types (spec §2.2 alias table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Primitive {
    /// `string`, `char`, `varchar`
    String,
    /// `number`, `float`
    Number,
    /// `integer`, `int`
    Integer,
    /// `boolean`, `bool`
    Boolean,
    /// `bigint`
    BigInt,
    /// `date`, `Date`
    Date,
    /// `object`: any JSON object
    Object,
    /// `any`
    Any,
    /// `array`: an array of anything
    Array,
    /// `undefined`
    Undefined,
    /// `never`
    Never,
    /// `void`
    Void,
}

impl Primitive {
    /// Looks an alias up, case-insensitively, as Nango does.
    ///
    /// ```
    /// use nango_codegen::Primitive;
    /// assert_eq!(Primitive::from_alias("VarChar"), Some(Primitive::String));
    /// assert_eq!(Primitive::from_alias("int"), Some(Primitive::Integer));
    /// assert_eq!(Primitive::from_alias("Issue"), None);
    /// ```
    pub fn from_alias(s: &str) -> Option<Primitive> {
        // Compared in place (no lowercase copy): every field type of a big file comes here.
        const ALIASES: &[(&str, Primitive)] = &[
            ("string", Primitive::String),
            ("char", Primitive::String),
            ("varchar", Primitive::String),
            ("number", Primitive::Number),
            ("float", Primitive::Number),
            ("integer", Primitive::Integer),
            ("int", Primitive::Integer),
            ("boolean", Primitive::Boolean),
            ("bool", Primitive::Boolean),
            ("bigint", Primitive::BigInt),
            ("date", Primitive::Date),
            ("object", Primitive::Object),
            ("any", Primitive::Any),
            ("array", Primitive::Array),
            ("undefined", Primitive::Undefined),
            ("never", Primitive::Never),
            ("void", Primitive::Void),
        ];
        if !(3..=9).contains(&s.len()) {
            return None;
        }
        ALIASES.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(s)).map(|&(_, p)| p)
    }

    /// The TypeScript spelling Nango generates.
    pub fn ts_name(self) -> &'static str {
        match self {
            Primitive::String => "string",
            Primitive::Number | Primitive::Integer => "number",
            Primitive::Boolean => "boolean",
            Primitive::BigInt => "bigint",
            Primitive::Date => "Date",
            Primitive::Object => "Record<string, any>",
            Primitive::Any => "any",
            Primitive::Array => "any[]",
            Primitive::Undefined => "undefined",
            Primitive::Never => "never",
            Primitive::Void => "void",
        }
    }
}

/// A literal type.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string literal such as `open`.
    String(String),
    /// A number literal such as `42`.
    Number(serde_json::Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl TypeExpr {
    /// Calls `f` on every model name this type references, however deeply nested.
    ///
    /// ```
    /// use nango_codegen::TypeExpr;
    /// let ty = TypeExpr::Union(vec![TypeExpr::Model("A".into()), TypeExpr::Array(Box::new(TypeExpr::Model("B".into())))]);
    /// let mut seen = vec![];
    /// ty.visit_models(&mut |m| seen.push(m.to_owned()));
    /// assert_eq!(seen, ["A", "B"]);
    /// ```
    pub fn visit_models<'t>(&'t self, f: &mut dyn FnMut(&'t str)) {
        match self {
            TypeExpr::Model(m) => f(m),
            TypeExpr::Array(inner) => inner.visit_models(f),
            TypeExpr::Union(items) | TypeExpr::List(items) => items.iter().for_each(|t| t.visit_models(f)),
            TypeExpr::Object(obj) => {
                obj.fields.iter().for_each(|fl| fl.ty.visit_models(f));
                if let Some(d) = &obj.dynamic {
                    d.visit_models(f);
                }
            }
            TypeExpr::Primitive(_) | TypeExpr::Literal(_) => {}
        }
    }
}
