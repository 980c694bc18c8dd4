//! From the YAML tree to the IR: layout detection, the key/type checks of Nango's JSON schema,
//! and the semantic parse of integrations, syncs, actions and on-events (spec §1).
//!
//! Every check reports and moves on, so one run lists every problem of the file; a broken
//! model never hides a broken integration.

use crate::ir::*;
use crate::models::{Budget, FieldPath, ModelScope, suggest};
use crate::schedule::parse_runs;
use crate::validate::Validator;
use crate::yaml::{Kind, Node};
use crate::{Diagnostic, Span};

const NO_INTEGRATIONS: &str = "Invalid file format, you should have at least an `integrations` property at the root level. Check our documentation https://nango.dev/docs/integrations/api-configuration";
const SYNC_KEYS: &[&str] = &[
    "description",
    "runs",
    "sync_type",
    "track_deletes",
    "auto_start",
    "scopes",
    "input",
    "output",
    "endpoint",
    "webhook-subscriptions",
    "version",
];
const ACTION_KEYS: &[&str] = &["description", "input", "output", "endpoint", "scopes", "version"];
const INTEGRATION_KEYS_V2: &[&str] = &["syncs", "actions", "on-events", "post-connection-scripts"];
const ON_EVENTS: &[&str] = &["post-connection-creation", "pre-connection-deletion", "validate-connection"];
const SYNC_ENDPOINT_HELP: &str = "endpoint must be a URL (or an array of URLs) with an HTTP verb, i.e:\n- endpoint: GET /tickets\n- endpoint:\n    method: GET\n    path: /tickets";
const ACTION_ENDPOINT_HELP: &str = "endpoint must be a URL with an HTTP verb, i.e:\n- endpoint: POST /tickets\n- endpoint:\n    method: POST\n    path: /tickets";

/// Whether a script is a sync or an action (for messages and anonymous model names).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ScriptKind {
    Sync,
    Action,
}

impl ScriptKind {
    fn singular(self) -> &'static str {
        match self {
            ScriptKind::Sync => "sync",
            ScriptKind::Action => "action",
        }
    }
    fn plural(self) -> &'static str {
        match self {
            ScriptKind::Sync => "syncs",
            ScriptKind::Action => "actions",
        }
    }
}

pub(crate) struct Parser {
    pub diagnostics: Vec<Diagnostic>,
    /// Shared by every `models:` section of the file.
    budget: Budget,
}

impl Parser {
    pub fn new() -> Self {
        Parser { diagnostics: Vec::new(), budget: Budget::default() }
    }

    fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Parses a whole document.
    pub fn parse_document(&mut self, root: &Node) -> NangoConfig {
        let mut config = NangoConfig::default();
        let Some(entries) = root.as_map() else {
            let found = if root.is_null() { "an empty document".to_owned() } else { root.type_name().to_owned() };
            self.push(
                Diagnostic::error("missing_integrations", NO_INTEGRATIONS)
                    .at(root.span)
                    .help(format!("the file must be a map with `integrations:` and `models:` keys; found {found}")),
            );
            return config;
        };
        for (key, _) in entries {
            let k = key.key_str();
            if k != "integrations" && k != "models" {
                self.push(
                    Diagnostic::warning("unknown_key", format!("unknown top-level key `{k}` is ignored"))
                        .at(key.span)
                        .path(k.to_string())
                        .help(did_you_mean(
                            &k,
                            &["integrations", "models"],
                            "nango.yaml has only `integrations:` and `models:` at the top level",
                        )),
                );
            }
        }
        let Some(integrations) = root.get("integrations") else {
            self.push(
                Diagnostic::error("missing_integrations", NO_INTEGRATIONS)
                    .at(Span { offset: 0, len: 0, line: 1, column: 1 })
                    .help("add `integrations:` with at least one integration"),
            );
            // Models are still checked so every problem shows at once.
            let mut scope = ModelScope::new(root.get("models"));
            scope.parse_all(&mut self.budget);
            self.budget = scope.remaining_budget();
            let (models, diags) = scope.into_models();
            config.models = models;
            self.diagnostics.extend(diags);
            return config;
        };
        let integration_entries: &[(Node, Node)] = match &integrations.kind {
            Kind::Map(e) => e,
            Kind::Null => &[],
            _ => {
                self.push(
                    Diagnostic::error(
                        "invalid_type",
                        format!("integrations must be a map of integration ids, found {}", integrations.type_name()),
                    )
                    .at(integrations.span)
                    .path("integrations")
                    .help("write each integration id as a key under `integrations:`"),
                );
                &[]
            }
        };

        let layout = detect_layout(integration_entries);
        config.layout = Some(layout);

        if layout == Layout::Flows {
            for (key, value) in integration_entries {
                let mut scope = ModelScope::new(value.get("models"));
                scope.parse_all(&mut self.budget);
                let version = if has_v2_keys(value) { Layout::V2 } else { Layout::V1 };
                let integration = self.parse_integration(key, value, version, true, &mut scope);
                self.budget = scope.remaining_budget();
                let (models, diags) = scope.into_models();
                self.diagnostics.extend(prefix_paths(diags, &integration.name));
                let mut integration = integration;
                integration.models = models;
                config.integrations.push(integration);
            }
        } else {
            let mut scope = ModelScope::new(root.get("models"));
            scope.parse_all(&mut self.budget);
            for (key, value) in integration_entries {
                let integration = self.parse_integration(key, value, layout, false, &mut scope);
                config.integrations.push(integration);
            }
            self.budget = scope.remaining_budget();
            let (models, diags) = scope.into_models();
            config.models = models;
            self.diagnostics.extend(diags);
        }
        config
    }

    fn parse_integration(
        &mut self,
        key: &Node,
        value: &Node,
        layout: Layout,
        flows: bool,
        scope: &mut ModelScope,
    ) -> Integration {
        let name = key.key_text();
        let mut integration = Integration { name: name.clone(), span: key.span, ..Integration::default() };
        let Some(entries) = value.as_map() else {
            self.push(
                Diagnostic::error(
                    "invalid_type",
                    format!("integration \"{name}\" must be a map, found {}", value.type_name()),
                )
                .at(if value.is_null() { key.span } else { value.span })
                .path(format!("integrations > {name}"))
                .help(match layout {
                    Layout::V1 => "list the integration's syncs and actions under it",
                    _ => "add `syncs:` and/or `actions:` under the integration",
                }),
            );
            return integration;
        };
        let mut validator = Validator::new(&name);
        if layout == Layout::V1 {
            for (script_key, script) in entries {
                let script_name = script_key.key_text();
                if flows && (script_name == "models" || script_name == "rawName") {
                    continue;
                }
                self.parse_v1_script(&name, script_key, script, scope, &mut integration);
            }
        } else {
            for (k, _) in entries {
                let k_text = k.key_str();
                let allowed = INTEGRATION_KEYS_V2.contains(&k_text.as_ref())
                    || (flows && (k_text == "models" || k_text == "rawName"));
                if !allowed {
                    self.push(
                        Diagnostic::error("additional_property", format!("must NOT have additional properties: `{k_text}`"))
                            .at(k.span)
                            .path(format!("integrations > {name}"))
                            .help(did_you_mean(&k_text, INTEGRATION_KEYS_V2, "an integration may only have `syncs`, `actions`, `on-events` (and the deprecated `post-connection-scripts`)")),
                    );
                }
            }
            if let Some(syncs) = value.get("syncs") {
                for (sk, sv) in self.map_entries(syncs, &format!("integrations > {name} > syncs")) {
                    if let Some(sync) = self.parse_v2_sync(&name, sk, sv, scope) {
                        integration.syncs.push(sync);
                    }
                }
            }
            if let Some(actions) = value.get("actions") {
                for (ak, av) in self.map_entries(actions, &format!("integrations > {name} > actions")) {
                    if let Some(action) = self.parse_v2_action(&name, ak, av, scope) {
                        integration.actions.push(action);
                    }
                }
            }
            if let Some(on_events) = value.get("on-events") {
                integration.on_events = self.parse_on_events(&name, on_events);
            }
            if let Some((pk, pcs)) = value.entry("post-connection-scripts") {
                integration.post_connection_scripts = self.string_list(
                    pcs,
                    &format!("integrations > {name} > post-connection-scripts"),
                    "post-connection-scripts must be an array of strings.",
                );
                let on_events = &integration.on_events;
                let any_events = !on_events.post_connection_creation.is_empty()
                    || !on_events.pre_connection_deletion.is_empty()
                    || !on_events.validate_connection.is_empty();
                if any_events && !integration.post_connection_scripts.is_empty() {
                    self.push(
                        Diagnostic::error(
                            "both_post_connection_scripts_and_on_events_present",
                            "Both post-connection-scripts and on-events are present. Only one of them can be used at a time.",
                        )
                        .at(pk.span)
                        .path(name.clone())
                        .help("move the scripts to `on-events: post-connection-creation:` and delete `post-connection-scripts`"),
                    );
                }
            }
        }
        self.diagnostics.extend(validator.check(&mut integration, scope));
        integration
    }

    /// The entries of a map node; reports anything else.
    fn map_entries<'n, 's>(&mut self, node: &'n Node<'s>, path: &str) -> &'n [(Node<'s>, Node<'s>)] {
        match &node.kind {
            Kind::Map(e) => e,
            Kind::Null => &[],
            _ => {
                self.push(
                    Diagnostic::error("invalid_type", format!("must be object (found {})", node.type_name()))
                        .at(node.span)
                        .path(path)
                        .help("write one indented `name:` entry per script"),
                );
                &[]
            }
        }
    }

    fn parse_v1_script(
        &mut self,
        integration: &str,
        key: &Node,
        node: &Node,
        scope: &mut ModelScope,
        out: &mut Integration,
    ) {
        let name = key.key_text();
        let path = format!("integrations > {integration} > {name}");
        let Some(_) = node.as_map() else {
            self.push(
                Diagnostic::error("invalid_type", format!("must be object (found {})", node.type_name()))
                    .at(if node.is_null() { key.span } else { node.span })
                    .path(path)
                    .help("a v1 script is a map with `runs:` and `returns:` (and `type: action` for actions)"),
            );
            return;
        };
        let is_action = node.get("type").and_then(Node::as_str) == Some("action");
        let description =
            self.opt_string(node, "description", &path, "description must be a string.").unwrap_or_default();
        let version = self.version(node, &path);
        let auto_start = self.opt_bool(node, "auto_start", &path, "auto_start must be a boolean.").unwrap_or(true);
        let track_deletes =
            self.opt_bool(node, "track_deletes", &path, "track_deletes must be a boolean.").unwrap_or(false);
        let runs = self.opt_string(node, "runs", &path, "runs must be a string.").unwrap_or_default();
        let returns = node
            .get("returns")
            .map(|r| self.string_or_list(r, &path, "returns must be a string or an array of strings."));
        if is_action {
            // Nango's quirk: v1 actions name their anonymous models with type `sync`.
            let output_spans = returns.iter().flatten().map(|(_, s)| *s).collect();
            let output = returns.map(|r| self.resolve_outputs(integration, "sync", &name, &r, scope, &path));
            out.actions.push(Action {
                name,
                span: key.span,
                description: description.trim().to_owned(),
                input: None,
                output,
                output_spans,
                endpoint: None,
                scopes: Vec::new(),
                version,
                used_models: Vec::new(),
            });
            return;
        }
        let Some(returns) = returns.filter(|r| !r.is_empty()) else {
            self.push(
                Diagnostic::warning(
                    "sync_without_output",
                    format!("sync \"{name}\" has no `returns:` and is ignored (as Nango does)"),
                )
                .at(key.span)
                .path(path)
                .help("add `returns: ModelName`, or `type: action` if this is an action"),
            );
            return;
        };
        let output = self.resolve_outputs(integration, "sync", &name, &returns, scope, &path);
        let output_spans = returns.iter().map(|(_, s)| *s).collect();
        let schedule = if runs.is_empty() {
            None
        } else {
            // v1 never validated `runs`; we still read it, and say when it cannot be run.
            match parse_runs(&runs) {
                Ok(interval) => {
                    Some(Schedule { text: runs.clone(), interval, span: node.get("runs").map_or(key.span, |n| n.span) })
                }
                Err(_) => {
                    let span = node.get("runs").map_or(key.span, |n| n.span);
                    self.push(
                        Diagnostic::warning(
                            "invalid_runs",
                            format!(
                                "`runs: {runs}` is not a schedule this runtime can run (Nango v1 did not check it)"
                            ),
                        )
                        .at(span)
                        .path(path.clone())
                        .help("use `every <n> <unit>` (e.g. `every 30 minutes`) or `every hour`/`every day`"),
                    );
                    None
                }
            }
        };
        out.syncs.push(Sync {
            name,
            span: key.span,
            description,
            runs,
            schedule,
            sync_type: SyncType::Incremental,
            track_deletes,
            auto_start,
            scopes: Vec::new(),
            input: None,
            output,
            output_spans,
            endpoints: Vec::new(),
            webhook_subscriptions: Vec::new(),
            version,
            used_models: Vec::new(),
        });
    }

    fn check_keys(&mut self, node: &Node, allowed: &[&str], path: &str, kind: ScriptKind) {
        for (k, _) in node.as_map().unwrap_or(&[]) {
            let key = k.key_str();
            if allowed.contains(&key.as_ref()) {
                continue;
            }
            let other = match kind {
                ScriptKind::Sync => ACTION_KEYS,
                ScriptKind::Action => SYNC_KEYS,
            };
            let fallback = if other.contains(&key.as_ref()) {
                format!("`{key}` is only allowed on {}", if kind == ScriptKind::Sync { "actions" } else { "syncs" })
            } else {
                format!("allowed keys for {}: {}", kind.plural(), allowed.join(", "))
            };
            self.push(
                Diagnostic::error("additional_property", format!("must NOT have additional properties: `{key}`"))
                    .at(k.span)
                    .path(path)
                    .help(did_you_mean(&key, allowed, &fallback)),
            );
        }
    }

    fn require(&mut self, node: &Node, key_span: Span, key: &str, path: &str, message: &str) -> bool {
        if node.get(key).is_some() {
            return true;
        }
        self.push(
            Diagnostic::error("missing_property", message)
                .at(key_span)
                .path(path)
                .help(format!("add `{key}:` to this script")),
        );
        false
    }

    fn parse_v2_sync(&mut self, integration: &str, key: &Node, node: &Node, scope: &mut ModelScope) -> Option<Sync> {
        let name = key.key_text();
        let path = format!("integrations > {integration} > syncs > {name}");
        if node.as_map().is_none() {
            self.push(
                Diagnostic::error("invalid_type", format!("must be object (found {})", node.type_name()))
                    .at(if node.is_null() { key.span } else { node.span })
                    .path(path)
                    .help("a sync needs at least `runs:`, `output:` and `endpoint:`"),
            );
            return None;
        }
        self.check_keys(node, SYNC_KEYS, &path, ScriptKind::Sync);
        let has_endpoint = self.require(
            node,
            key.span,
            "endpoint",
            &path,
            "An endpoint property is required to specify how to retrieve the data from the sync.",
        );
        let has_output = self.require(
            node,
            key.span,
            "output",
            &path,
            "An output property is required to specify what is the outcome of the sync.",
        );
        let has_runs = self.require(node, key.span, "runs", &path, "must have required property 'runs'");

        let description =
            self.opt_string(node, "description", &path, "description must be a string.").unwrap_or_default();
        let sync_type = match node.get("sync_type") {
            None => SyncType::Full,
            Some(n) => match n.as_str() {
                Some("incremental") => SyncType::Incremental,
                Some("full") => SyncType::Full,
                _ => {
                    self.type_error(
                        n,
                        &path,
                        "sync_type must be either 'incremental' or 'full'.",
                        "write `sync_type: incremental` or `sync_type: full`",
                    );
                    if n.as_str().is_some_and(|s| s.eq_ignore_ascii_case("incremental")) {
                        SyncType::Incremental
                    } else {
                        SyncType::Full
                    }
                }
            },
        };
        let track_deletes =
            self.opt_bool(node, "track_deletes", &path, "track_deletes must be a boolean.").unwrap_or(false);
        let auto_start = self.opt_bool(node, "auto_start", &path, "auto_start must be a boolean.").unwrap_or(true);
        let scopes = self.scopes(node, &path);
        let webhook_subscriptions = node
            .get("webhook-subscriptions")
            .map(|n| self.string_or_list(n, &path, "webhook-subscriptions must be a string or an array of strings."))
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let version = self.version(node, &path);
        let runs_node = node.get("runs");
        let runs = match runs_node {
            Some(n) => match n.as_str() {
                Some(s) => Some(s.to_owned()),
                None => {
                    self.type_error(
                        n,
                        &path,
                        "runs must be a string and include the word \"every\".",
                        "write e.g. `runs: every 30 minutes`",
                    );
                    None
                }
            },
            None => None,
        };
        let input = self.input(integration, ScriptKind::Sync, &name, node, scope, &path);
        let (output, output_spans) = match node.get("output") {
            Some(n) => {
                let outputs = self.string_or_list(n, &path, "output must be a string or an array of strings.");
                let spans = outputs.iter().map(|(_, s)| *s).collect();
                (self.resolve_outputs(integration, "sync", &name, &outputs, scope, &path), spans)
            }
            None => (Vec::new(), Vec::new()),
        };
        let endpoints = match node.get("endpoint") {
            Some(n) => self.sync_endpoints(n, &path),
            None => Vec::new(),
        };
        if !has_endpoint || !has_output || !has_runs {
            return None;
        }
        // runs: parsed with Nango's getInterval; an invalid one drops the sync.
        let runs = runs?;
        let runs_span = runs_node.map_or(key.span, |n| n.span);
        let schedule = match parse_runs(&runs) {
            Ok(interval) => Schedule { text: runs.clone(), interval, span: runs_span },
            Err(e) => {
                let (msg, help) = (format!("{}: {}", e.code(), e.describe(&runs)), e.help().to_owned());
                self.push(
                    Diagnostic::error("invalid_runs", msg)
                        .at(runs_span)
                        .path(format!("{integration} > syncs > {name}"))
                        .help(help),
                );
                return None;
            }
        };
        Some(Sync {
            name,
            span: key.span,
            description: description.trim().to_owned(),
            runs,
            schedule: Some(schedule),
            sync_type,
            track_deletes,
            auto_start,
            scopes,
            input,
            output,
            output_spans,
            endpoints,
            webhook_subscriptions,
            version,
            used_models: Vec::new(),
        })
    }

    fn parse_v2_action(
        &mut self,
        integration: &str,
        key: &Node,
        node: &Node,
        scope: &mut ModelScope,
    ) -> Option<Action> {
        let name = key.key_text();
        let path = format!("integrations > {integration} > actions > {name}");
        if node.as_map().is_none() {
            self.push(
                Diagnostic::error("invalid_type", format!("must be object (found {})", node.type_name()))
                    .at(if node.is_null() { key.span } else { node.span })
                    .path(path)
                    .help("an action needs at least `endpoint:`"),
            );
            return None;
        }
        self.check_keys(node, ACTION_KEYS, &path, ScriptKind::Action);
        let has_endpoint = self.require(
            node,
            key.span,
            "endpoint",
            &path,
            "An endpoint property is required to specify how to trigger the action.",
        );
        let description =
            self.opt_string(node, "description", &path, "description must be a string.").unwrap_or_default();
        let scopes = self.scopes(node, &path);
        let version = self.version(node, &path);
        let input = self.input(integration, ScriptKind::Action, &name, node, scope, &path);
        let mut output_spans = Vec::new();
        let output = node.get("output").map(|n| {
            let outputs = self.string_or_list(n, &path, "output must be a string or an array of strings.");
            output_spans = outputs.iter().map(|(_, s)| *s).collect();
            self.resolve_outputs(integration, "action", &name, &outputs, scope, &path)
        });
        let endpoint = node.get("endpoint").and_then(|n| self.action_endpoint(n, &path));
        if !has_endpoint {
            return None;
        }
        Some(Action {
            name,
            span: key.span,
            description: description.trim().to_owned(),
            input,
            output,
            output_spans,
            endpoint,
            scopes,
            version,
            used_models: Vec::new(),
        })
    }

    fn parse_on_events(&mut self, integration: &str, node: &Node) -> OnEvents {
        let mut events = OnEvents::default();
        let path = format!("integrations > {integration} > on-events");
        for (k, v) in self.map_entries(node, &path) {
            let key = k.key_text();
            // Nango's schema copy-pastes the first message for every event.
            let list = self.string_list(
                v,
                &format!("{path} > {key}"),
                "post-connection-creation must be an array of strings.",
            );
            match key.as_str() {
                "post-connection-creation" => events.post_connection_creation = list,
                "pre-connection-deletion" => events.pre_connection_deletion = list,
                "validate-connection" => events.validate_connection = list,
                _ => self.push(
                    Diagnostic::error("additional_property", format!("must NOT have additional properties: `{key}`"))
                        .at(k.span)
                        .path(path.clone())
                        .help(did_you_mean(&key, ON_EVENTS, "on-events accepts post-connection-creation, pre-connection-deletion and validate-connection")),
                ),
            }
        }
        events
    }

    /// `input:`: a model name, or a literal type turned into an anonymous model.
    fn input(
        &mut self,
        integration: &str,
        kind: ScriptKind,
        name: &str,
        node: &Node,
        scope: &mut ModelScope,
        path: &str,
    ) -> Option<String> {
        let n = node.get("input")?;
        match &n.kind {
            Kind::Null => None,
            Kind::Str(s) => {
                Some(self.model_or_anonymous(integration, kind.singular(), name, "input", s, n.span, scope, path, 0))
            }
            _ => {
                self.type_error(
                    n,
                    path,
                    "input must be a string and should define any required metadata for the sync.",
                    "write the name of a model, e.g. `input: IssuesMetadata`",
                );
                None
            }
        }
    }

    fn resolve_outputs(
        &mut self,
        integration: &str,
        kind: &str,
        name: &str,
        outputs: &[(String, Span)],
        scope: &mut ModelScope,
        path: &str,
    ) -> Vec<String> {
        let anonymous = outputs.iter().filter(|(o, _)| !scope.contains(o)).count();
        let mut n = 0;
        outputs
            .iter()
            .map(|(o, span)| {
                if scope.contains(o) {
                    return o.clone();
                }
                n += 1;
                // Nango names every anonymous output alike; number them when there are several.
                let index = if anonymous > 1 { n } else { 0 };
                self.model_or_anonymous(integration, kind, name, "output", o, *span, scope, path, index)
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn model_or_anonymous(
        &mut self,
        integration: &str,
        kind: &str,
        name: &str,
        role: &str,
        text: &str,
        span: Span,
        scope: &mut ModelScope,
        path: &str,
        index: usize,
    ) -> String {
        if scope.contains(text) {
            return text.to_owned();
        }
        let mut anon = format!("Anonymous_{}_{kind}_{}_{role}", sanitize(integration), sanitize(name));
        if index > 0 {
            anon.push_str(&format!("_{index}"));
        }
        if !scope.contains(&anon) {
            let before = scope.diagnostics.len();
            let ty = scope.classify_string(&FieldPath::root(&anon), text, span, 0);
            // Nango reports literal inputs/outputs once, as `model_is_literal`, not per member.
            scope.diagnostics.retain_from(before, |d| d.code != "model_not_found_fallback");
            if !matches!(ty, TypeExpr::Union(_)) {
                let mut msg = format!(
                    "A literal type \"{text}\" was parsed, which might be an error. It is recommended to use a Model for input and output."
                );
                let help = match scope.suggest(text) {
                    Some(s) => {
                        msg.push_str(&format!(" Did you mean `{s}`?"));
                        format!("if you meant the model, write `{s}`")
                    }
                    None => format!("declare a model for the {role} under `models:`"),
                };
                let short = path.trim_start_matches("integrations > ");
                self.push(
                    Diagnostic::warning("model_is_literal", msg)
                        .at(span)
                        .path(format!("{short} > [{role}]"))
                        .help(help),
                );
            }
            scope.add_extra(Model {
                name: anon.clone(),
                span,
                fields: vec![Field { name: role.to_owned(), optional: false, ty, span, inherited_from: None }],
                dynamic_field: None,
                extends: Vec::new(),
                anonymous: true,
            });
        }
        anon
    }

    fn sync_endpoints(&mut self, node: &Node, path: &str) -> Vec<Endpoint> {
        let items: Vec<&Node> = match &node.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut out = Vec::new();
        for item in items {
            if let Some(e) = self.endpoint(item, path, ScriptKind::Sync) {
                out.push(e);
            }
        }
        out
    }

    fn action_endpoint(&mut self, node: &Node, path: &str) -> Option<Endpoint> {
        if let Kind::Seq(_) = node.kind {
            self.endpoint_error(node, path, ScriptKind::Action, "an action has exactly one endpoint");
            return None;
        }
        self.endpoint(node, path, ScriptKind::Action)
    }

    fn endpoint(&mut self, node: &Node, path: &str, kind: ScriptKind) -> Option<Endpoint> {
        let default = match kind {
            ScriptKind::Sync => HttpMethod::Get,
            ScriptKind::Action => HttpMethod::Post,
        };
        match &node.kind {
            Kind::Str(s) => {
                let parts: Vec<&str> = s.split(' ').collect();
                let (method_text, path_text) =
                    if parts.len() >= 2 { (Some(parts[0]), parts[1]) } else { (None, parts[0]) };
                let method = match method_text {
                    None => default,
                    Some(m) => match HttpMethod::parse(m) {
                        Some(m) => m,
                        None => {
                            self.endpoint_error(
                                node,
                                path,
                                kind,
                                &format!("`{m}` is not an HTTP method; use GET, POST, PUT, PATCH or DELETE"),
                            );
                            return None;
                        }
                    },
                };
                let string_ok = parts.len() <= 2 && !s.contains(['\t', '\n']) && s.split(' ').all(|p| !p.is_empty());
                if !string_ok
                    || !self.endpoint_path_ok(path_text, kind, false)
                    || (kind == ScriptKind::Sync && method != HttpMethod::Get)
                {
                    let why = if kind == ScriptKind::Sync && method != HttpMethod::Get {
                        "sync endpoints are read endpoints: only GET is allowed".to_owned()
                    } else {
                        path_problem(path_text, kind, false)
                    };
                    self.endpoint_error(node, path, kind, &why);
                    return None;
                }
                Some(Endpoint { method, path: path_text.to_owned(), group: None, span: node.span })
            }
            Kind::Map(entries) => {
                let mut ok = true;
                for (k, _) in entries.iter() {
                    let key = k.key_str();
                    if !matches!(key.as_ref(), "method" | "path" | "group") {
                        self.push(
                            Diagnostic::error(
                                "additional_property",
                                format!("must NOT have additional properties: `{key}`"),
                            )
                            .at(k.span)
                            .path(format!("{path} > endpoint"))
                            .help(did_you_mean(
                                &key,
                                &["method", "path", "group"],
                                "an endpoint object has `method`, `path` and `group`",
                            )),
                        );
                        ok = false;
                    }
                }
                let method = match node.get("method") {
                    None => default,
                    Some(m) => match m.as_str().and_then(HttpMethod::parse) {
                        Some(HttpMethod::Get) => HttpMethod::Get,
                        Some(other) if kind == ScriptKind::Action => other,
                        _ => {
                            let allowed =
                                if kind == ScriptKind::Sync { "GET" } else { "GET, POST, PUT, PATCH or DELETE" };
                            self.endpoint_error(m, path, kind, &format!("method must be {allowed}"));
                            return None;
                        }
                    },
                };
                let Some(path_node) = node.get("path") else {
                    self.endpoint_error(node, path, kind, "the endpoint object needs a `path:`");
                    return None;
                };
                let Some(path_text) = path_node.as_str() else {
                    self.endpoint_error(path_node, path, kind, "path must be a string");
                    return None;
                };
                if !self.endpoint_path_ok(path_text, kind, true) {
                    self.endpoint_error(path_node, path, kind, &path_problem(path_text, kind, true));
                    return None;
                }
                let group = match node.get("group") {
                    None => None,
                    Some(g) => match g.as_str() {
                        Some(text)
                            if (1..=64).contains(&text.chars().count())
                                && text.chars().all(|c| c.is_ascii_alphabetic() || matches!(c, ' ' | '_' | '-')) =>
                        {
                            Some(text.to_owned())
                        }
                        _ => {
                            self.push(
                                Diagnostic::error("invalid_endpoint", "group must match ^[a-zA-Z _-]{1,64}$")
                                    .at(g.span)
                                    .path(format!("{path} > endpoint > group"))
                                    .help("use 1 to 64 letters, spaces, `_` or `-`"),
                            );
                            ok = false;
                            None
                        }
                    },
                };
                ok.then(|| Endpoint { method, path: path_text.to_owned(), group, span: node.span })
            }
            _ => {
                self.endpoint_error(node, path, kind, &format!("found {}", node.type_name()));
                None
            }
        }
    }

    fn endpoint_path_ok(&self, path: &str, kind: ScriptKind, object: bool) -> bool {
        let placeholders_ok = kind == ScriptKind::Action || object;
        path.starts_with('/')
            && path.len() > 1
            && path[1..].chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '-' | '.' | '/' | '_')
                    || (placeholders_ok && matches!(c, ':' | '{' | '}'))
            })
    }

    fn endpoint_error(&mut self, node: &Node, path: &str, kind: ScriptKind, why: &str) {
        let (message, example) = match kind {
            ScriptKind::Sync => (SYNC_ENDPOINT_HELP, "GET /tickets"),
            ScriptKind::Action => (ACTION_ENDPOINT_HELP, "POST /tickets"),
        };
        self.push(
            Diagnostic::error("invalid_endpoint", message)
                .at(node.span)
                .path(format!("{path} > endpoint"))
                .help(format!("{why}; e.g. `endpoint: {example}`")),
        );
    }

    fn scopes(&mut self, node: &Node, path: &str) -> Vec<String> {
        let Some(n) = node.get("scopes") else { return Vec::new() };
        match &n.kind {
            // Nango splits on `,` without trimming; we trim (a scope never has spaces).
            Kind::Str(s) => s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
            _ => self
                .string_or_list(n, path, "scopes must be a string or an array of strings.")
                .into_iter()
                .map(|(s, _)| s)
                .collect(),
        }
    }

    fn version(&mut self, node: &Node, path: &str) -> String {
        let Some(n) = node.get("version") else { return String::new() };
        let text = match &n.kind {
            Kind::Int(i) => return i.to_string(),
            Kind::Float(f) => crate::yaml::js_number(*f),
            Kind::Str(s) => s.to_string(),
            Kind::Null => return String::new(),
            _ => String::from("?"),
        };
        let semver = {
            let parts: Vec<&str> = text.split('.').collect();
            (parts.len() == 1 || parts.len() == 3)
                && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        if !semver || !matches!(n.kind, Kind::Str(_)) {
            self.type_error(
                n,
                path,
                "version must be an integer, string or a semver string. Example: \"10\", \"1.0.0\", or 10",
                "write `version: 1.0.0` or `version: 2`",
            );
        }
        text
    }

    fn opt_string(&mut self, node: &Node, key: &str, path: &str, message: &str) -> Option<String> {
        let n = node.get(key)?;
        match &n.kind {
            Kind::Str(s) => Some(s.to_string()),
            Kind::Null => None,
            _ => {
                self.type_error(n, path, message, &format!("quote the value: `{key}: \"...\"`"));
                None
            }
        }
    }

    fn opt_bool(&mut self, node: &Node, key: &str, path: &str, message: &str) -> Option<bool> {
        let n = node.get(key)?;
        match n.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.type_error(n, path, message, &format!("write `{key}: true` or `{key}: false`"));
                None
            }
        }
    }

    fn type_error(&mut self, n: &Node, path: &str, message: &str, help: &str) {
        self.push(Diagnostic::error("invalid_type", message).at(n.span).path(path).help(help));
    }

    /// A string or a list of strings, each with its span.
    fn string_or_list(&mut self, n: &Node, path: &str, message: &str) -> Vec<(String, Span)> {
        match &n.kind {
            Kind::Str(s) => vec![(s.to_string(), n.span)],
            Kind::Seq(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.as_str() {
                        Some(s) => out.push((s.to_owned(), item.span)),
                        None => {
                            self.type_error(item, path, message, "write each entry as a name, e.g. `- GithubIssue`")
                        }
                    }
                }
                out
            }
            _ => {
                self.type_error(n, path, message, "write a name or a list of names");
                Vec::new()
            }
        }
    }

    fn string_list(&mut self, n: &Node, path: &str, message: &str) -> Vec<String> {
        match &n.kind {
            Kind::Seq(_) => self.string_or_list(n, path, message).into_iter().map(|(s, _)| s).collect(),
            Kind::Null => Vec::new(),
            _ => {
                self.type_error(n, path, message, "write a YAML list: `[script-a, script-b]`");
                Vec::new()
            }
        }
    }
}

fn has_v2_keys(node: &Node) -> bool {
    ["syncs", "actions", "on-events"].iter().any(|k| node.get(k).is_some())
}

/// Nango's rule: v2 if the first integration has `syncs`, `actions` or `on-events`; our flows
/// extension when integrations nest their own `models:` map.
fn detect_layout(integrations: &[(Node, Node)]) -> Layout {
    if integrations.iter().any(|(_, v)| v.get("models").is_some_and(|m| m.as_map().is_some())) {
        return Layout::Flows;
    }
    match integrations.first() {
        Some((_, first)) if has_v2_keys(first) => Layout::V2,
        _ => Layout::V1,
    }
}

fn prefix_paths(diags: Vec<Diagnostic>, integration: &str) -> Vec<Diagnostic> {
    diags
        .into_iter()
        .map(|mut d| {
            d.path =
                if d.path.is_empty() { integration.to_owned() } else { format!("{integration} > models > {}", d.path) };
            d
        })
        .collect()
}

fn sanitize(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

fn path_problem(path: &str, kind: ScriptKind, object: bool) -> String {
    if !path.starts_with('/') {
        return format!("the path `{path}` must start with `/`");
    }
    if kind == ScriptKind::Sync && !object && path.contains(['{', '}', ':']) {
        return "placeholders (`{...}`, `:`) are not allowed in a sync endpoint string".to_owned();
    }
    match path.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | '_' | ':' | '{' | '}'))) {
        Some(c) => format!("the path contains `{c}`, which is not allowed"),
        None => "the path is empty".to_owned(),
    }
}

pub(crate) fn did_you_mean(key: &str, allowed: &[&str], fallback: &str) -> String {
    match suggest(key, allowed.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => fallback.to_owned(),
    }
}

/// `Vec::retain` limited to the items added after `from`.
trait RetainFrom<T> {
    fn retain_from(&mut self, from: usize, keep: impl FnMut(&T) -> bool);
}

impl<T> RetainFrom<T> for Vec<T> {
    fn retain_from(&mut self, from: usize, mut keep: impl FnMut(&T) -> bool) {
        let tail: Vec<T> = self.drain(from..).filter(|x| keep(x)).collect();
        self.extend(tail);
    }
}
