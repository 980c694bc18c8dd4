//! One settings type for every front end: the CLI, build scripts and the proc macro.

use super::syntax::{Path, Segment, Tok};

/// How `date` fields are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateType {
    /// `chrono::DateTime<chrono::Utc>` (re-exported by the runtime).
    #[default]
    Chrono,
    /// Plain `String` (RFC 3339 text as received).
    String,
}

/// Code generation settings.
///
/// ```
/// use nango_codegen::{DateType, Settings};
/// let settings = Settings::default().with_date_type(DateType::String).with_derive("Eq");
/// assert_eq!(settings.date_type, DateType::String);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Type of `date` fields.
    pub date_type: DateType,
    /// Extra derives for every generated type (paths, e.g. `Hash` or `my_crate::MyDerive`).
    pub extra_derives: Vec<String>,
    /// Give enums of string literals an `Other(String)` variant for values nango.yaml does not list,
    /// so a new value from the API does not fail a sync.
    pub catch_all_variant: bool,
    /// Path of the runtime crate in generated code: `::nango` (the facade, which re-exports the
    /// runtime) unless a crate re-exports it elsewhere.
    pub runtime_path: String,
    /// Name of the models file: `models.rs` in `--out`, `src/<name>` in a project.
    pub models_file: String,
    /// Treat warnings as errors.
    pub strict: bool,
    /// For a checked-in models file: the path of its nango.yaml relative to it (`../nango.yaml`
    /// for `src/models.rs`). The file then starts with a check that fails the build, saying
    /// "run `nango generate`", once that nango.yaml no longer is the one it was generated from.
    pub source_check: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            date_type: DateType::Chrono,
            extra_derives: Vec::new(),
            catch_all_variant: true,
            runtime_path: "::nango".into(),
            models_file: "models.rs".into(),
            strict: false,
            source_check: None,
        }
    }
}

impl Settings {
    /// Sets the type of `date` fields.
    pub fn with_date_type(mut self, date_type: DateType) -> Self {
        self.date_type = date_type;
        self
    }

    /// Adds a derive to every generated type.
    pub fn with_derive(mut self, derive: impl Into<String>) -> Self {
        self.extra_derives.push(derive.into());
        self
    }

    /// Turns the catch-all `Other(String)` variant of literal enums on or off.
    pub fn with_catch_all_variant(mut self, on: bool) -> Self {
        self.catch_all_variant = on;
        self
    }

    /// Sets the path of the runtime crate (default `::nango`: the facade crate, or nango-runtime
    /// renamed to `nango` in Cargo.toml).
    pub fn with_runtime_path(mut self, path: impl Into<String>) -> Self {
        self.runtime_path = path.into();
        self
    }

    /// Sets the models file name (default `models.rs`).
    pub fn with_models_file(mut self, name: impl Into<String>) -> Self {
        self.models_file = name.into();
        self
    }

    /// Treat warnings as errors.
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Checks at build time that the models file still matches its nango.yaml, at this path
    /// relative to the models file (see [`Settings::source_check`]).
    pub fn with_source_check(mut self, nango_yaml: impl Into<String>) -> Self {
        self.source_check = Some(nango_yaml.into());
        self
    }

    /// The runtime crate's path in generated code: [`runtime_path`](Self::runtime_path) when it
    /// is a path (`::nango`, `crate::rt`), else `::nango`.
    pub(crate) fn runtime(&self) -> Path {
        let tokens = super::syntax::lex(&self.runtime_path).unwrap_or_default();
        let mut path = Path { leading: false, segments: Vec::new() };
        let mut colons = 0;
        for (i, token) in tokens.iter().enumerate() {
            match token {
                Tok::Punct(':', _) => colons += 1,
                Tok::Ident(ident) if colons == 2 || (i == 0 && colons == 0) => {
                    path.leading |= i == 2;
                    path.segments.push(Segment { ident: ident.as_str().into(), args: Vec::new() });
                    colons = 0;
                }
                _ => return Path::parse("::nango"),
            }
        }
        if path.segments.is_empty() || colons != 0 { Path::parse("::nango") } else { path }
    }
}
