//! Typed descriptions of scripts: a unit struct per sync and action implementing
//! `SyncDefinition` / `ActionDefinition`, one per on-event script, the `SYNCS` / `ACTIONS` /
//! `ON_EVENTS` lists, and `PROJECT`, which reaches each script's function through its marker.

use super::names::{NameSet, ident_text, type_name};
use super::pretty::{self, Printer};
use super::syntax::{self, Delim, Expr, Lines, Path, Tok, Ty};

/// Items in the `syncs` and `actions` modules are indented once.
const INDENT: usize = pretty::INDENT as usize;

/// A type on one line.
fn flat(ty: &Ty) -> String {
    let mut text = String::new();
    ty.flat(&mut text);
    text
}
use super::types::ModelEmitter;
use crate::ir::{Endpoint, HttpMethod, Integration, SyncType};

fn endpoint(rt: &Path, e: &Endpoint) -> Expr {
    let method = match e.method {
        HttpMethod::Get => "Get",
        HttpMethod::Put => "Put",
        HttpMethod::Post => "Post",
        HttpMethod::Patch => "Patch",
        HttpMethod::Delete => "Delete",
    };
    Expr::Struct(
        rt.join("Endpoint"),
        vec![
            ("method", Expr::Path(rt.join("Method").join(method))),
            ("path", Expr::str(&e.path)),
            ("group", opt_str(&e.group)),
        ],
    )
}

fn opt_str(s: &Option<String>) -> Expr {
    match s {
        Some(s) => Expr::Call(Path::parse("::std::option::Option::Some"), vec![Expr::str(s)]),
        None => Expr::Path(Path::parse("::std::option::Option::None")),
    }
}

fn strs(items: &[impl AsRef<str>]) -> Expr {
    Expr::slice(items.iter().map(|s| Expr::str(s.as_ref())).collect())
}

/// The derive of the marker types.
fn marker_derive() -> Vec<Tok> {
    let mut out = Vec::new();
    for (i, path) in ["::std::fmt::Debug", "::std::clone::Clone", "::std::marker::Copy", "::std::default::Default"]
        .iter()
        .enumerate()
    {
        if i > 0 {
            out.push(Tok::Punct(',', false));
        }
        syntax::path_toks(&Path::parse(path), &mut out);
    }
    out
}

/// The marker type names of each integration's syncs and actions (in `syncs::` / `actions::`):
/// `UpperCamelCase` of the script name, qualified by the integration when two integrations
/// share a script name, unique across both modules. The generator, the scaffolds and the
/// attribute macros all use this one rule.
pub(crate) fn markers(integrations: &[&Integration]) -> Vec<(Vec<String>, Vec<String>)> {
    // How many integrations have a script of each name (counted once per integration).
    let mut holders: crate::fast_hash::HashMap<&str, usize> = crate::fast_hash::HashMap::default();
    for integration in integrations {
        let mut own: Vec<&str> = integration.syncs.iter().map(|s| s.name.as_str()).collect();
        own.extend(integration.actions.iter().map(|a| a.name.as_str()));
        own.sort_unstable();
        own.dedup();
        for name in own {
            *holders.entry(name).or_default() += 1;
        }
    }
    let clash = |name: &str| holders.get(name).is_some_and(|&n| n > 1);
    let mut names = NameSet::default();
    integrations
        .iter()
        .map(|integration| {
            let mut claim = |script: &str| {
                let wanted = if clash(script) {
                    type_name(&format!("{}_{script}", integration.name))
                } else {
                    type_name(script)
                };
                names.claim(&wanted)
            };
            let syncs = integration.syncs.iter().map(|s| claim(&s.name)).collect();
            let actions = integration.actions.iter().map(|a| claim(&a.name)).collect();
            (syncs, actions)
        })
        .collect()
}

/// The marker type names of each integration's on-event scripts (in `on_events::`), one per
/// script name (a script that runs on several events has one marker): `UpperCamelCase` of the
/// name, qualified by the integration when two integrations share it. The generator and the
/// `#[nango_on_event]` attribute use this one rule.
pub(crate) fn on_event_markers(integrations: &[&Integration]) -> Vec<Vec<(String, String)>> {
    let scripts: Vec<Vec<&str>> = integrations
        .iter()
        .map(|i| {
            let mut names: Vec<&str> = Vec::new();
            for (_, name) in on_event_scripts(i) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            names
        })
        .collect();
    let clash = |name: &str| scripts.iter().filter(|names| names.contains(&name)).count() > 1;
    let mut taken = NameSet::default();
    integrations
        .iter()
        .zip(&scripts)
        .map(|(integration, names)| {
            names
                .iter()
                .map(|name| {
                    let wanted =
                        if clash(name) { type_name(&format!("{}_{name}", integration.name)) } else { type_name(name) };
                    ((*name).to_owned(), taken.claim(&wanted))
                })
                .collect()
        })
        .collect()
}

/// A path as source text (`::nango`).
pub(crate) fn path_text(path: &Path) -> String {
    let segments: Vec<&str> = path.segments.iter().map(|s| &*s.ident).collect();
    format!("{}{}", if path.leading { "::" } else { "" }, segments.join("::"))
}

/// `PROJECT` and the function that names each script's function (see nango-runtime's
/// `project` module), laid out as prettyplease lays them out. `links` are the marker paths
/// (`syncs::GithubTickets`) with the kind of function each can have (`Sync`).
fn project(rt: &Path, links: &[(String, &str)]) -> String {
    let rt = path_text(rt);
    let mut out = String::new();
    out.push_str("/// The project: every script of nango.yaml and the link to its function.\n");
    out.push_str("/// `fn main() -> ExitCode { models::PROJECT.main() }` checks that each has one and runs\n");
    out.push_str("/// the command line.\n#[allow(dead_code)]\n");
    out.push_str(&format!("pub const PROJECT: {rt}::Project = {rt}::Project {{\n"));
    out.push_str("    syncs: SYNCS,\n    actions: ACTIONS,\n    on_events: ON_EVENTS,\n    link: __nango_link,\n};\n");
    out.push_str("/// The address of each script's function, naming it so that the linker keeps it.\n");
    out.push_str("// The borrow is what picks `Found` or `Missing` (see `nango::__private::Probe`).\n");
    out.push_str("#[allow(clippy::needless_borrow)]\n");
    out.push_str("fn __nango_link() -> ::std::vec::Vec<usize> {\n");
    out.push_str("    #[allow(unused_imports)]\n");
    out.push_str(&format!("    use {rt}::__private::{{Found as _, Missing as _}};\n"));
    if links.is_empty() {
        out.push_str("    let found: [::std::option::Option<usize>; 0usize] = [];\n");
    } else {
        out.push_str(&format!("    let found: [::std::option::Option<usize>; {}usize] = [\n", links.len()));
        for (marker, kind) in links {
            out.push_str(&format!(
                "        (&{rt}::__private::Probe::<{marker}, {rt}::__private::kind::{kind}>::NEW).address(),\n"
            ));
        }
        out.push_str("    ];\n");
    }
    out.push_str("    found.into_iter().flatten().collect()\n}\n");
    out
}

/// An integration and where its models are.
pub(crate) struct Scope<'a> {
    pub integration: &'a Integration,
    /// Names the models' Rust types.
    pub emitter: &'a ModelEmitter<'a>,
    /// How the `syncs` / `actions` modules reach the models (`super` or `super::github`).
    pub models: Path,
}

impl Scope<'_> {
    /// The `schema.json` definition name of one of the integration's models.
    fn definition(&self, model: &str) -> String {
        format!("{}{model}", self.emitter.def_prefix)
    }

    /// The Rust type of one of the integration's models, from the `syncs` / `actions` modules.
    fn model(&self, model: &str) -> Ty {
        Ty::Path(self.models.join(&self.emitter.type_of(model)))
    }
}

/// The `syncs` and `actions` modules and the `SYNCS` / `ACTIONS` lists for some integrations,
/// as source text.
pub(crate) fn scripts(rt: &Path, integrations: &[Scope]) -> String {
    let all: Vec<&Integration> = integrations.iter().map(|s| s.integration).collect();
    let markers = markers(&all);
    let event_markers = on_event_markers(&all);
    let mut event_items = Vec::new();
    // What `PROJECT.link` names: each marker's function, of each kind it can have.
    let mut links: Vec<(String, &str)> = Vec::new();
    let mut sync_items = Vec::new();
    let mut sync_list = Vec::new();
    let mut action_items = Vec::new();
    let mut action_list = Vec::new();
    let mut event_list = Vec::new();
    let derive = marker_derive();
    // The marker types' derive, laid out once.
    let derive_text = {
        let mut p = Printer::new(INDENT);
        syntax::attr(&mut p, "derive", &derive);
        p.finish()
    };
    let mut rt_text = String::new();
    Ty::Path(rt.clone()).flat(&mut rt_text);
    let str_ref = Ty::Ref(Some("'static"), Box::new(Ty::named("str")));
    let value = Ty::Path(rt.join("__private").join("serde_json").join("Value"));
    let output = Ty::generic("::std::vec::Vec", vec![Ty::Tuple(vec![str_ref.clone(), value.clone()])]);
    // `fn output_schemas() -> Vec<(&str, Value)> {` breaks the same way in every sync: laid out
    // once, around a stand-in body.
    let (schemas_head, schemas_tail) = {
        const BODY: &str = "__nango_body";
        let mut p = Printer::new(2 * INDENT);
        syntax::method(&mut p, "output_schemas", false, &output, &Expr::Lit(BODY.into()));
        let text = p.finish();
        let at = text.find(BODY).unwrap_or(0);
        let line = text[..at].rfind('\n').map_or(0, |i| i + 1);
        (text[..line].to_owned(), text[at + BODY.len() + 1..].to_owned())
    };
    for ((scope, (sync_markers, action_markers)), event_markers) in
        integrations.iter().zip(&markers).zip(&event_markers)
    {
        let (integration, emitter) = (scope.integration, scope.emitter);
        let int = &integration.name;
        for (name, marker) in event_markers {
            let marker = ident_text(marker);
            let mut p = Printer::new(pretty::INDENT as usize);
            syntax::doc(&mut p, &format!(" On-event script `{name}` of integration `{int}`."));
            syntax::attr(&mut p, "derive", &derive);
            syntax::unit_struct(&mut p, &marker);
            event_items.push(p.finish());
            links.push((format!("on_events::{marker}"), "OnEvent"));
        }
        for (event, name) in on_event_scripts(integration) {
            event_list.push(Expr::Struct(
                rt.join("OnEventDescriptor"),
                vec![
                    ("integration", Expr::str(int)),
                    ("event", Expr::Path(rt.join("OnEvent").join(event))),
                    ("name", Expr::str(name)),
                ],
            ));
        }
        for (sync, marker) in integration.syncs.iter().zip(sync_markers) {
            let marker = ident_text(marker);
            let interval = sync.schedule.as_ref().map_or(0, |s| s.interval.as_millis() as u64);
            let sync_type = match sync.sync_type {
                SyncType::Full => "Full",
                SyncType::Incremental => "Incremental",
            };
            let metadata = match &sync.input {
                Some(i) => scope.model(i),
                None => Ty::Tuple(Vec::new()),
            };
            let doc = format!(" Sync `{}` of integration `{int}`: {}.", sync.name, sync.runs);
            let descriptor_fields = vec![
                ("name", Expr::str(&sync.name)),
                ("integration", Expr::str(int)),
                ("description", Expr::str(&sync.description)),
                ("runs", Expr::str(&sync.runs)),
                (
                    "interval",
                    Expr::Call(
                        Path::parse("::std::time::Duration::from_millis"),
                        vec![Expr::Lit(format!("{interval}u64"))],
                    ),
                ),
                ("sync_type", Expr::Path(rt.join("SyncType").join(sync_type))),
                ("track_deletes", Expr::Lit(sync.track_deletes.to_string())),
                ("auto_start", Expr::Lit(sync.auto_start.to_string())),
                ("input", opt_str(&sync.input)),
                ("outputs", strs(&sync.output)),
                ("endpoints", Expr::slice(sync.endpoints.iter().map(|e| endpoint(rt, e)).collect())),
                ("scopes", strs(&sync.scopes)),
                ("webhook_subscriptions", strs(&sync.webhook_subscriptions)),
                ("version", Expr::str(&sync.version)),
            ];
            // `vec![(definition, <Model as Model>::json_schema()), ...]`, as tokens: a macro.
            let mut schemas = Vec::new();
            for (i, o) in sync.output.iter().enumerate() {
                if i > 0 {
                    schemas.push(Tok::Punct(',', false));
                }
                let mut pair = vec![Tok::Lit(syntax::str_lit(&scope.definition(o))), Tok::Punct(',', false)];
                pair.push(Tok::Punct('<', false));
                syntax::path_toks(&scope.models.join(&emitter.type_of(o)), &mut pair);
                pair.push(Tok::Ident("as".into()));
                syntax::path_toks(&rt.join("Model"), &mut pair);
                pair.push(Tok::Punct('>', false));
                pair.push(Tok::Punct(':', true));
                pair.push(Tok::Punct(':', false));
                pair.push(Tok::Ident("json_schema".into()));
                pair.push(Tok::Group(Delim::Paren, Vec::new()));
                schemas.push(Tok::Group(Delim::Paren, pair));
            }
            let schemas = Expr::BracketMacro(Path::parse("::std::vec"), schemas);
            // The same call on one line, spaced as the printer spaces the macro's tokens.
            let mut flat_schemas = String::from("::std::vec![");
            for (i, o) in sync.output.iter().enumerate() {
                if i > 0 {
                    flat_schemas.push_str(", ");
                }
                flat_schemas.push('(');
                flat_schemas.push_str(&syntax::str_lit(&scope.definition(o)));
                flat_schemas.push_str(", < ");
                flat_schemas.push_str(&flat(&scope.model(o)));
                flat_schemas.push_str(" as ");
                flat_schemas.push_str(&rt_text);
                flat_schemas.push_str("::Model > ::json_schema())");
            }
            flat_schemas.push(']');
            let marker_ty = Ty::named(&marker);
            let descriptor_path = rt.join("SyncDescriptor");
            let descriptor_ty = Ty::Path(descriptor_path.clone());
            // Line by line where lines fit.
            let mut lines = Lines::new();
            lines.doc(INDENT, &doc);
            lines.text(&derive_text);
            lines.line(INDENT, &format!("pub struct {marker};"));
            lines.whole(INDENT, &format!("impl {rt_text}::SyncDefinition for {marker} {{"));
            lines.struct_const(
                2 * INDENT,
                "const ",
                "DESCRIPTOR",
                &descriptor_ty,
                &descriptor_path,
                &descriptor_fields,
            );
            lines.fitted(2 * INDENT, &format!("type Metadata = {};", flat(&metadata)), |p| {
                syntax::assoc_type(p, "Metadata", &metadata)
            });
            lines.text(&schemas_head);
            lines.fitted(3 * INDENT, &flat_schemas, |p| {
                p.ibox(0);
                schemas.print(p);
                p.end();
                p.hardbreak();
            });
            lines.text(&schemas_tail);
            lines.line(INDENT, "}");
            for o in &sync.output {
                let model = scope.model(o);
                let text = format!("impl {rt_text}::SyncOutput<{}> for {marker} {{}}", flat(&model));
                let trait_ = rt.join_args("SyncOutput", vec![model]);
                lines.fitted(INDENT, &text, |p| syntax::impl_item(p, &trait_, &marker_ty, |_| {}));
            }
            let text = lines.finish().unwrap_or_else(|| {
                let mut p = Printer::new(INDENT);
                syntax::doc(&mut p, &doc);
                syntax::attr(&mut p, "derive", &derive);
                syntax::unit_struct(&mut p, &marker);
                let descriptor = Expr::Struct(descriptor_path.clone(), descriptor_fields.clone());
                syntax::impl_item(&mut p, &rt.join("SyncDefinition"), &marker_ty, |p| {
                    syntax::const_item(p, "const ", "DESCRIPTOR", &descriptor_ty, &descriptor);
                    syntax::assoc_type(p, "Metadata", &metadata);
                    syntax::method(p, "output_schemas", false, &output, &schemas);
                });
                for o in &sync.output {
                    let trait_ = rt.join_args("SyncOutput", vec![scope.model(o)]);
                    syntax::impl_item(&mut p, &trait_, &marker_ty, |_| {});
                }
                p.finish()
            });
            sync_items.push(text);
            links.push((format!("syncs::{marker}"), "Sync"));
            if !sync.webhook_subscriptions.is_empty() {
                links.push((format!("syncs::{marker}"), "Webhook"));
            }
            sync_list.push(Expr::QPath {
                ty: Ty::Path(Path::parse("syncs").join(&marker)),
                trait_: rt.join("SyncDefinition"),
                member: "DESCRIPTOR",
            });
        }
        for (action, marker) in integration.actions.iter().zip(action_markers) {
            let marker = ident_text(marker);
            let outputs: Vec<&String> = action.output.iter().flatten().collect();
            let endpoint = match &action.endpoint {
                Some(e) => Expr::Call(Path::parse("::std::option::Option::Some"), vec![endpoint(rt, e)]),
                None => Expr::Path(Path::parse("::std::option::Option::None")),
            };
            let input_ty = match &action.input {
                Some(i) => scope.model(i),
                None => Ty::Tuple(Vec::new()),
            };
            let output_ty = match outputs.as_slice() {
                [] => Ty::Tuple(Vec::new()),
                [one] => scope.model(one),
                _ => value.clone(),
            };
            let doc = format!(" Action `{}` of integration `{int}`.", action.name);
            let descriptor_fields = vec![
                ("name", Expr::str(&action.name)),
                ("integration", Expr::str(int)),
                ("description", Expr::str(&action.description)),
                ("input", opt_str(&action.input)),
                ("outputs", strs(&outputs)),
                ("endpoint", endpoint),
                ("scopes", strs(&action.scopes)),
                ("version", Expr::str(&action.version)),
            ];
            let descriptor_path = rt.join("ActionDescriptor");
            let descriptor_ty = Ty::Path(descriptor_path.clone());
            let mut lines = Lines::new();
            lines.doc(INDENT, &doc);
            lines.text(&derive_text);
            lines.line(INDENT, &format!("pub struct {marker};"));
            lines.whole(INDENT, &format!("impl {rt_text}::ActionDefinition for {marker} {{"));
            lines.struct_const(
                2 * INDENT,
                "const ",
                "DESCRIPTOR",
                &descriptor_ty,
                &descriptor_path,
                &descriptor_fields,
            );
            lines.fitted(2 * INDENT, &format!("type Input = {};", flat(&input_ty)), |p| {
                syntax::assoc_type(p, "Input", &input_ty)
            });
            lines.fitted(2 * INDENT, &format!("type Output = {};", flat(&output_ty)), |p| {
                syntax::assoc_type(p, "Output", &output_ty)
            });
            lines.line(INDENT, "}");
            let text = lines.finish().unwrap_or_else(|| {
                let mut p = Printer::new(INDENT);
                syntax::doc(&mut p, &doc);
                syntax::attr(&mut p, "derive", &derive);
                syntax::unit_struct(&mut p, &marker);
                let descriptor = Expr::Struct(descriptor_path.clone(), descriptor_fields.clone());
                syntax::impl_item(&mut p, &rt.join("ActionDefinition"), &Ty::named(&marker), |p| {
                    syntax::const_item(p, "const ", "DESCRIPTOR", &descriptor_ty, &descriptor);
                    syntax::assoc_type(p, "Input", &input_ty);
                    syntax::assoc_type(p, "Output", &output_ty);
                });
                p.finish()
            });
            action_items.push(text);
            links.push((format!("actions::{marker}"), "Action"));
            action_list.push(Expr::QPath {
                ty: Ty::Path(Path::parse("actions").join(&marker)),
                trait_: rt.join("ActionDefinition"),
                member: "DESCRIPTOR",
            });
        }
    }
    let mut out = String::new();
    out.push_str(&syntax::module(" The syncs of nango.yaml, one type each.", true, "syncs", &sync_items));
    out.push_str(&syntax::module(" The actions of nango.yaml, one type each.", true, "actions", &action_items));
    out.push_str(&syntax::module(
        " The on-event scripts of nango.yaml, one type each.",
        true,
        "on_events",
        &event_items,
    ));
    let lists = [
        (" Every sync of nango.yaml.", "SYNCS", "SyncDescriptor", sync_list),
        (" Every action of nango.yaml.", "ACTIONS", "ActionDescriptor", action_list),
        (" Every on-event script of nango.yaml.", "ON_EVENTS", "OnEventDescriptor", event_list),
    ];
    for (doc, name, ty, items) in lists {
        let mut p = Printer::new(0);
        syntax::doc(&mut p, doc);
        syntax::attr(&mut p, "allow", &[Tok::Ident("dead_code".into())]);
        let ty = Ty::Ref(None, Box::new(Ty::Slice(Box::new(Ty::Path(rt.join(ty))))));
        syntax::const_item(&mut p, "pub const ", name, &ty, &Expr::slice(items));
        out.push_str(&p.finish());
    }
    out.push_str(&project(rt, &links));
    out
}

/// Every on-event script of an integration with its event, in file order (the deprecated
/// `post-connection-scripts` count as post-connection-creation scripts).
pub(crate) fn on_event_scripts(integration: &Integration) -> Vec<(&'static str, &str)> {
    let on = &integration.on_events;
    let groups: [(&'static str, &Vec<String>); 4] = [
        ("PostConnectionCreation", &on.post_connection_creation),
        ("PreConnectionDeletion", &on.pre_connection_deletion),
        ("ValidateConnection", &on.validate_connection),
        ("PostConnectionCreation", &integration.post_connection_scripts),
    ];
    groups.into_iter().flat_map(|(event, names)| names.iter().map(move |n| (event, n.as_str()))).collect()
}
