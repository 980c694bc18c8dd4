//! Post-parse checks of one integration (spec §1.4, §1.6, §2.4) and `usedModels`.

use crate::fast_hash::HashSet;
use crate::ir::{Integration, Model, SyncType};
use crate::models::ModelScope;
use crate::schedule::deployable_runs;
use crate::{Diagnostic, Span};

pub(crate) struct Validator {
    integration: String,
}

impl Validator {
    pub fn new(integration: &str) -> Self {
        Validator { integration: integration.to_owned() }
    }

    fn path(&self, kind: &str, name: &str, tail: &str) -> String {
        format!("{} > {kind} > {name}{tail}", self.integration)
    }

    /// Runs every check, drops syncs Nango drops, and fills `used_models`.
    pub fn check(&mut self, integration: &mut Integration, scope: &mut ModelScope) -> Vec<Diagnostic> {
        let mut diags = Vec::new();

        // Endpoint count must match the outputs 1:1; Nango drops the sync otherwise.
        integration.syncs.retain(|sync| {
            if sync.endpoints.is_empty() || sync.endpoints.len() == sync.output.len() {
                return true;
            }
            diags.push(
                Diagnostic::error(
                    "endpoints_mismatch",
                    format!("The number of endpoints doesn't match the number of models returned by \"{}\". The endpoints to model should match 1 to 1.", sync.name),
                )
                .at(sync.span)
                .path(self.path("syncs", &sync.name, ""))
                .help(format!("{} output model(s) but {} endpoint(s): give one endpoint per output, in the same order", sync.output.len(), sync.endpoints.len())),
            );
            false
        });

        // Endpoints are unique per integration.
        let mut seen: HashSet<String> = HashSet::default();
        let endpoints = integration
            .syncs
            .iter()
            .flat_map(|s| s.endpoints.iter().map(move |e| ("syncs", s.name.as_str(), e)))
            .chain(
                integration.actions.iter().filter_map(|a| a.endpoint.as_ref().map(|e| ("actions", a.name.as_str(), e))),
            );
        for (kind, name, endpoint) in endpoints {
            let key = format!("{} {}", endpoint.method.as_str(), endpoint.path);
            if !seen.insert(key.clone()) {
                diags.push(
                    Diagnostic::error(
                        "duplicate_endpoint",
                        format!(
                            "Endpoint \"{key}\" is used multiple times. Please make sure all endpoints are unique."
                        ),
                    )
                    .at(endpoint.span)
                    .path(self.path(kind, name, " > [endpoint]"))
                    .help("each method and path may be used once per integration; change the path or the method"),
                );
            }
            // Placeholder `{Model:field}` must name a model (actions split on `:`, syncs do not).
            if let Some(start) = endpoint.path.find('{')
                && let Some(len) = endpoint.path[start + 1..].find('}')
            {
                let inner = &endpoint.path[start + 1..start + 1 + len];
                let model = if kind == "actions" { inner.split(':').next().unwrap_or(inner) } else { inner };
                if !scope.contains(model) {
                    let mut diag = Diagnostic::error("model_not_found", format!("Model \"{model}\" does not exists"))
                        .at(endpoint.span)
                        .path(self.path(kind, name, " > [endpoint]"));
                    diag = match scope.suggest(model) {
                        Some(s) => diag.help(format!("did you mean `{s}`?")),
                        None => diag.help("placeholders name a model and a field, e.g. `/issues/{GithubIssue:id}`"),
                    };
                    diags.push(diag);
                }
            }
        }

        // Script names must be unique across syncs and actions (Nango 0.59 `generate`).
        let sync_names: HashSet<&str> = integration.syncs.iter().map(|s| s.name.as_str()).collect();
        for action in &integration.actions {
            if sync_names.contains(action.name.as_str()) {
                diags.push(
                    Diagnostic::error("duplicate_script_name", format!("The action name {} is duplicated in the nango.yaml file. All sync and action names must be unique.", action.name))
                        .at(action.span)
                        .path(self.path("actions", &action.name, ""))
                        .help("rename the action or the sync"),
                );
            }
        }

        // Sync outputs: unique per integration, each with an `id`.
        let mut registered: HashSet<String> = HashSet::default();
        for sync in &integration.syncs {
            for (i, output) in sync.output.iter().enumerate() {
                let output_span = sync.output_spans.get(i).copied().unwrap_or(sync.span);
                if registered.contains(output) {
                    diags.push(
                        Diagnostic::error("duplicate_model", format!("Model \"{output}\" is used multiple times. Please make sure all models are unique within an integration."))
                            .at(output_span)
                            .path(self.path("syncs", &sync.name, " > [output]"))
                            .help("each model can be the output of one sync per integration; make a model per sync (`__extends` helps share fields)"),
                    );
                }
                registered.insert(output.clone());
                if let Some(model) = scope.get(output)
                    && model.field("id").is_none()
                {
                    diags.push(missing_id(model, output_span, &self.path("syncs", &sync.name, " > [output]")));
                }
            }
            if let Some(input) = &sync.input {
                registered.insert(input.clone());
            }
        }
        for action in &integration.actions {
            let mut mine = HashSet::default();
            for (i, output) in action.output.iter().flatten().enumerate() {
                if !mine.insert(output) {
                    diags.push(
                        Diagnostic::error("duplicate_model", format!("Model \"{output}\" is used multiple times. Please make sure all models are unique within an integration."))
                            .at(action.output_spans.get(i).copied().unwrap_or(action.span))
                            .path(self.path("actions", &action.name, " > [output]"))
                            .help("list each output model once"),
                    );
                }
            }
        }

        // What Nango's server refuses at deploy time (spec §1.6): reported here, as warnings.
        for sync in &integration.syncs {
            if sync.track_deletes && sync.sync_type == SyncType::Incremental {
                diags.push(
                    Diagnostic::warning("track_deletes_incremental", "Track deletes is not supported for incremental syncs")
                        .at(sync.span)
                        .path(self.path("syncs", &sync.name, ""))
                        .help("deletions can only be detected by full syncs: use `sync_type: full`, or call `batch_delete` yourself and drop `track_deletes`"),
                );
            }
            if !deployable_runs(&sync.runs) {
                diags.push(
                    Diagnostic::warning(
                        "runs_not_deployable",
                        format!("\"{}\" is accepted by the CLI but refused by Nango's deploy endpoint", sync.runs),
                    )
                    .at(sync.schedule.as_ref().map_or(sync.span, |s| s.span))
                    .path(self.path("syncs", &sync.name, " > runs"))
                    .help("use whole numbers of s, m, h or d (e.g. `every 90 minutes`), or `every week`/`every month`"),
                );
            }
            for output in &sync.output {
                let public = output.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && output.len() >= 2
                    && output.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                let anonymous = scope.get(output).is_some_and(|m| m.anonymous);
                if !public && !anonymous {
                    let model_span = scope.get(output).map_or(sync.span, |m| m.span);
                    diags.push(
                        Diagnostic::warning("model_name_not_public", format!("Model \"{output}\" cannot be read through the records API, which requires names matching ^[A-Z][a-zA-Z0-9_-]+$"))
                            .at(model_span)
                            .path(self.path("syncs", &sync.name, " > [output]"))
                            .help(format!("rename the model to start with an uppercase letter, e.g. `{}`", upper_first(output))),
                    );
                }
            }
            if !valid_script_name(&sync.name) {
                diags.push(invalid_name("sync", &sync.name, sync.span, &self.path("syncs", &sync.name, "")));
            }
        }
        for action in &integration.actions {
            if !valid_script_name(&action.name) {
                diags.push(invalid_name("action", &action.name, action.span, &self.path("actions", &action.name, "")));
            }
        }

        for sync in &mut integration.syncs {
            sync.used_models = used_models(scope, sync.output.iter().chain(sync.input.iter()));
        }
        for action in &mut integration.actions {
            action.used_models = used_models(scope, action.output.iter().flatten().chain(action.input.iter()));
        }
        diags
    }
}

fn missing_id(model: &Model, span: Span, path: &str) -> Diagnostic {
    Diagnostic::error(
        "model_missing_id",
        format!(
            "Model \"{}\" doesn't have an id field. This is required to be able to uniquely identify the data record",
            model.name
        ),
    )
    .at(span)
    .path(path)
    .help(if model.anonymous {
        "a sync output must be a model with an `id` field, not a literal type".to_owned()
    } else {
        format!("add `id: string` (or `id: number`) to model `{}`", model.name)
    })
}

fn valid_script_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn invalid_name(kind: &str, name: &str, span: Span, path: &str) -> Diagnostic {
    Diagnostic::warning(
        "invalid_script_name",
        format!(
            "{kind} name \"{name}\" is refused by Nango's deploy endpoint (^[a-zA-Z0-9_-]+$, at most 255 characters)"
        ),
    )
    .at(span)
    .path(path)
    .help("use letters, digits, `_` and `-` only")
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect(),
        None => String::new(),
    }
}

/// Nango's `usedModels`: the roots, then every model reachable through references (depth first,
/// in field order), each once. Models only merged through `__extends` are not listed.
fn used_models<'a>(scope: &ModelScope, roots: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Names borrowed from the models: the walk copies only what it returns.
    let mut seen: HashSet<&str> = HashSet::default();
    let mut refs: Vec<&str> = Vec::new();
    for root in roots {
        let mut stack = vec![root.as_str()];
        while let Some(name) = stack.pop() {
            if !seen.insert(name) {
                continue;
            }
            let Some(model) = scope.get(name) else { continue };
            out.push(name.to_owned());
            refs.clear();
            for field in &model.fields {
                field.ty.visit_models(&mut |m| refs.push(m));
            }
            if let Some(d) = &model.dynamic_field {
                d.visit_models(&mut |m| refs.push(m));
            }
            stack.extend(refs.iter().rev());
        }
    }
    out
}
