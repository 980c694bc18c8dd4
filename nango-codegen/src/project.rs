//! A nango-rs project on disk: what `nango init` creates and what `nango generate` writes into
//! it (the checked-in-models style: `src/models.rs` plus one scaffold per script).
//!
//! Generated files (starting with `// @generated`) are rewritten; every other file is the
//! user's and is never overwritten.

use crate::codegen::names::{NameSet, field_name};
use crate::{Generated, NangoConfig};
use std::path::{Path, PathBuf};

/// A file to write, relative to the project folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    /// Path relative to the project root.
    pub path: PathBuf,
    /// Contents.
    pub contents: String,
    /// Generated files are kept up to date; scaffolds are written only when missing.
    pub generated: bool,
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was written.
    Created,
    /// A generated file whose contents changed.
    Updated,
    /// Already up to date, or a user file left alone.
    Unchanged,
}

const SYNC: &str = include_str!("../../templates/sync.rs");
const ACTION: &str = include_str!("../../templates/action.rs");
const ON_EVENT: &str = include_str!("../../templates/on_event.rs");
const SCRIPTS_MOD: &str = include_str!("../../templates/scripts_mod.rs");
const INIT_CARGO: &str = include_str!("../../templates/init/Cargo.toml");
const INIT_YAML: &str = include_str!("../../templates/init/nango.yaml");
const INIT_MAIN: &str = include_str!("../../templates/init/src/main.rs");
const INIT_GITIGNORE: &str = include_str!("../../templates/init/gitignore");
const INIT_ENV: &str = include_str!("../../templates/init/env.example");

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// The files of a new project. `dependencies` are the `nango = ...` line(s).
///
/// ```
/// let files = nango_codegen::project::init_files("demo", "nango = \"0.1\"");
/// assert!(files.iter().any(|f| f.path.ends_with("nango.yaml")));
/// ```
pub fn init_files(name: &str, dependencies: &str) -> Vec<ProjectFile> {
    let file = |path: &str, contents: String| ProjectFile { path: PathBuf::from(path), contents, generated: false };
    vec![
        file("Cargo.toml", fill(INIT_CARGO, &[("name", name), ("dependencies", dependencies)])),
        file("nango.yaml", INIT_YAML.to_owned()),
        file("src/main.rs", INIT_MAIN.to_owned()),
        file(".gitignore", INIT_GITIGNORE.to_owned()),
        file(".env.example", INIT_ENV.to_owned()),
    ]
}

/// The files `nango generate` writes into a project: the models file and a scaffold for every
/// script (with the `mod.rs` files that declare them).
pub fn generate_files(config: &NangoConfig, generated: &Generated, models_file: &str) -> Vec<ProjectFile> {
    let mut files = vec![ProjectFile {
        path: Path::new("src").join(models_file),
        contents: generated.models_rs.clone(),
        generated: true,
    }];
    let mut syncs = Vec::new();
    let mut actions = Vec::new();
    let mut events = Vec::new();
    let (mut sync_names, mut action_names, mut event_names) =
        (NameSet::default(), NameSet::default(), NameSet::default());
    let all: Vec<&crate::Integration> = config.integrations.iter().collect();
    let markers = crate::codegen::scripts::markers(&all);
    let type_of = |integration: &crate::Integration, model: &str| -> String {
        let rust =
            generated.types.iter().find(|(def, _)| def == model || *def == format!("{}.{model}", integration.name));
        rust.map_or_else(|| "()".to_owned(), |(_, path)| format!("models::{path}"))
    };
    for (integration, (sync_markers, action_markers)) in config.integrations.iter().zip(&markers) {
        for (sync, marker) in integration.syncs.iter().zip(sync_markers) {
            let file = sync_names.claim_with(&field_name(&sync.name), "_");
            let outputs = sync.output.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ");
            // Syncs with webhook subscriptions also get a handler for the payloads.
            let webhook = if sync.webhook_subscriptions.is_empty() {
                String::new()
            } else {
                format!(
                    "\n/// Handles webhook payloads of `{name}` (subscriptions: {subs}).\n\
                     #[nango::nango_webhook(\"{name}\", integration = \"{integration}\")]\n\
                     pub async fn {file}_webhook(\n    nango: &mut NangoSync<{marker}>,\n    payload: nango::serde_json::Value,\n\
                     ) -> nango::Result<()> {{\n    let _ = (nango, payload);\n    Ok(())\n}}\n",
                    name = sync.name,
                    subs = sync.webhook_subscriptions.join(", "),
                    integration = integration.name,
                )
            };
            files.push(ProjectFile {
                path: PathBuf::from(format!("src/syncs/{file}.rs")),
                contents: fill(
                    SYNC,
                    &[
                        ("name", &sync.name),
                        ("integration", &integration.name),
                        ("runs", &sync.runs),
                        ("outputs", &outputs),
                        ("marker", marker),
                        ("function", &file),
                        ("file", &file),
                        ("webhook", webhook.trim_end()),
                    ],
                ),
                generated: false,
            });
            syncs.push(file);
        }
        for (action, marker) in integration.actions.iter().zip(action_markers) {
            let file = action_names.claim_with(&field_name(&action.name), "_");
            let input = action.input.as_deref().map_or_else(|| "()".to_owned(), |i| type_of(integration, i));
            let output = match action.output.as_deref() {
                Some([one]) => type_of(integration, one),
                Some([]) | None => "()".to_owned(),
                Some(_) => "nango::serde_json::Value".to_owned(),
            };
            files.push(ProjectFile {
                path: PathBuf::from(format!("src/actions/{file}.rs")),
                contents: fill(
                    ACTION,
                    &[
                        ("name", &action.name),
                        ("integration", &integration.name),
                        ("marker", marker),
                        ("function", &file),
                        ("file", &file),
                        ("input_type", &input),
                        ("output_type", &output),
                    ],
                ),
                generated: false,
            });
            actions.push(file);
        }
        for (event, name) in crate::codegen::scripts::on_event_scripts(integration) {
            let event = heck::ToKebabCase::to_kebab_case(event);
            let file = event_names.claim_with(&field_name(name), "_");
            files.push(ProjectFile {
                path: PathBuf::from(format!("src/on_events/{file}.rs")),
                contents: fill(
                    ON_EVENT,
                    &[
                        ("name", name),
                        ("integration", &integration.name),
                        ("event", &event),
                        ("function", &file),
                        ("file", &file),
                    ],
                ),
                generated: false,
            });
            events.push(file);
        }
    }
    for (dir, kind, modules) in
        [("syncs", "syncs", syncs), ("actions", "actions", actions), ("on_events", "on-events scripts", events)]
    {
        let lines: String = modules.iter().map(|m| format!("pub mod {m};\n")).collect();
        files.push(ProjectFile {
            path: PathBuf::from(format!("src/{dir}/mod.rs")),
            contents: fill(SCRIPTS_MOD, &[("kind", kind), ("modules", lines.trim_end())]),
            generated: false,
        });
    }
    files
}

/// Writes files under `root`: generated files when changed, others only when missing. A file
/// in the place of a generated one that does not carry the `@generated` header is left alone
/// and reported as an error, so user code is never lost.
pub fn write(root: &Path, files: &[ProjectFile]) -> std::io::Result<Vec<(PathBuf, Outcome)>> {
    let mut outcomes = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        let outcome = match std::fs::read_to_string(&path) {
            Ok(existing) if existing == file.contents => Outcome::Unchanged,
            Ok(existing) if file.generated => {
                if !existing.starts_with("// @generated") {
                    return Err(std::io::Error::other(format!(
                        "{} exists and was not generated by nango: move it away or set another models file",
                        path.display()
                    )));
                }
                std::fs::write(&path, &file.contents)?;
                Outcome::Updated
            }
            Ok(_) => Outcome::Unchanged,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, &file.contents)?;
                Outcome::Created
            }
            Err(e) => return Err(e),
        };
        outcomes.push((file.path.clone(), outcome));
    }
    Ok(outcomes)
}

/// A script file of a project whose script nango.yaml no longer declares: its attribute names a
/// script that is gone, so the build fails at it until the file goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// Path relative to the project root (`src/syncs/github_tickets.rs`).
    pub path: PathBuf,
    /// `sync`, `action` or `on-event script`.
    pub kind: &'static str,
    /// The script its attribute names.
    pub script: String,
    /// Still the scaffold `nango generate` wrote (its function not written yet): removing it
    /// loses nothing.
    pub unfilled: bool,
}

/// What a scaffold's function body says until it is written (see `templates/`).
const UNFILLED_MARK: &str = "is not written yet: fill in";

/// The script files under `src/syncs`, `src/actions` and `src/on_events` of `root` whose
/// attribute (`#[nango::nango_sync("name", ...)]`, ...) names a script nango.yaml does not
/// declare. Files without such an attribute (helpers) are not looked at.
///
/// ```
/// let root = std::env::temp_dir().join(format!("nango-orphans-doc-{}", std::process::id()));
/// std::fs::create_dir_all(root.join("src/syncs")).unwrap();
/// std::fs::write(
///     root.join("src/syncs/old.rs"),
///     "#[nango::nango_sync(\"old-sync\", integration = \"github\")]\npub async fn old() {}\n",
/// ).unwrap();
/// let config = nango_codegen::parse("integrations: {}\nmodels: {}\n", "nango.yaml").config;
/// let orphans = nango_codegen::project::orphans(&root, &config).unwrap();
/// assert_eq!((orphans[0].kind, orphans[0].script.as_str()), ("sync", "old-sync"));
/// assert!(!orphans[0].unfilled);
/// # std::fs::remove_dir_all(root).unwrap();
/// ```
pub fn orphans(root: &Path, config: &NangoConfig) -> std::io::Result<Vec<Orphan>> {
    let mut found = Vec::new();
    for (dir, attribute, kind) in [
        ("syncs", "nango_sync(", "sync"),
        ("actions", "nango_action(", "action"),
        ("on_events", "nango_on_event(", "on-event script"),
    ] {
        let declared: Vec<&str> = config
            .integrations
            .iter()
            .flat_map(|i| -> Vec<&str> {
                match dir {
                    "syncs" => i.syncs.iter().map(|s| s.name.as_str()).collect(),
                    "actions" => i.actions.iter().map(|a| a.name.as_str()).collect(),
                    _ => crate::codegen::scripts::on_event_scripts(i).into_iter().map(|(_, n)| n).collect(),
                }
            })
            .collect();
        let folder = root.join("src").join(dir);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_none_or(|e| e != "rs") || path.file_name().is_some_and(|n| n == "mod.rs") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let Some(script) = named_script(&text, attribute) else { continue };
            if !declared.contains(&script.as_str()) {
                found.push(Orphan {
                    path: path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
                    kind,
                    script,
                    unfilled: text.contains(UNFILLED_MARK),
                });
            }
        }
    }
    Ok(found)
}

/// The script name an attribute gives as its first argument (`nango_sync("name"`), or the
/// function's name in kebab-case when it gives none.
fn named_script(text: &str, attribute: &str) -> Option<String> {
    let start = text.find(attribute)? + attribute.len();
    let rest = text[start..].trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next().map(str::to_owned);
    }
    let args = &text[start..start + text[start..].find(')').unwrap_or(0)];
    for arg in args.split(',') {
        if let Some((key, value)) = arg.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    let after = &text[start..];
    let function = after.split("fn ").nth(1)?.split(|c: char| !(c.is_alphanumeric() || c == '_')).next()?;
    Some(heck::ToKebabCase::to_kebab_case(function))
}

/// Removes an orphan's file and its `pub mod` line from the `mod.rs` beside it.
pub fn remove_orphan(root: &Path, orphan: &Orphan) -> std::io::Result<()> {
    let path = root.join(&orphan.path);
    std::fs::remove_file(&path)?;
    let (Some(dir), Some(module)) = (path.parent(), path.file_stem()) else { return Ok(()) };
    let mod_rs = dir.join("mod.rs");
    if let Ok(text) = std::fs::read_to_string(&mod_rs) {
        let line = format!("pub mod {};", module.to_string_lossy());
        let kept: Vec<&str> = text.lines().filter(|l| l.trim() != line).collect();
        let mut updated = kept.join("\n");
        updated.push('\n');
        if updated != text {
            std::fs::write(&mod_rs, updated)?;
        }
    }
    Ok(())
}

/// Adds `pub mod <module>;` to a scripts folder's `mod.rs` when it holds nothing else than
/// comments, the scaffold's `#![allow(dead_code)]` and `pub mod` lines (as `nango generate`
/// wrote it, give or take modules): whether it did. A `mod.rs` with code of the user's is left
/// alone (the caller says which line to add).
///
/// ```
/// let mod_rs = std::env::temp_dir().join(format!("nango-add-module-doc-{}.rs", std::process::id()));
/// std::fs::write(&mod_rs, "//! The syncs.\n#![allow(dead_code)]\n\npub mod issues;\n").unwrap();
/// assert!(nango_codegen::project::add_module(&mod_rs, "labels").unwrap());
/// assert!(std::fs::read_to_string(&mod_rs).unwrap().ends_with("pub mod issues;\npub mod labels;\n"));
/// std::fs::write(&mod_rs, "pub mod issues;\nfn helper() {}\n").unwrap();
/// assert!(!nango_codegen::project::add_module(&mod_rs, "labels").unwrap());
/// # std::fs::remove_file(mod_rs).unwrap();
/// ```
pub fn add_module(mod_rs: &Path, module: &str) -> std::io::Result<bool> {
    let text = std::fs::read_to_string(mod_rs)?;
    let only_modules = text.lines().map(str::trim).all(|l| {
        l.is_empty()
            || l.starts_with("//")
            || l == "#![allow(dead_code)]"
            || (l.starts_with("pub mod ") && l.ends_with(';'))
    });
    if !only_modules {
        return Ok(false);
    }
    let line = format!("pub mod {module};");
    if text.lines().any(|l| l.trim() == line) {
        return Ok(true);
    }
    let mut updated = text.trim_end().to_owned();
    updated.push('\n');
    updated.push_str(&line);
    updated.push('\n');
    std::fs::write(mod_rs, updated)?;
    Ok(true)
}
