//! The small types of the scripts' SDK: log levels, environment variables, merging strategies.

use serde::{Deserialize, Serialize};

/// The level of a line a script logs (Nango's `nango.log(message, { level })`).
///
/// ```
/// use nango_runtime::LogLevel;
/// assert_eq!(LogLevel::Warn.as_str(), "warn");
/// // Nango's legacy names map as its SDK maps them.
/// assert_eq!(LogLevel::parse("verbose"), Some(LogLevel::Debug));
/// assert_eq!(LogLevel::parse("http"), Some(LogLevel::Info));
/// assert_eq!(LogLevel::parse("loud"), None);
/// assert!(LogLevel::Error > LogLevel::Warn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Details for whoever debugs the script.
    Debug,
    /// The default.
    #[default]
    Info,
    /// Something to look at; the run goes on.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// The level's name as the run's log stores it: `debug`, `info`, `warn` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// A level by name, with Nango's legacy names (`verbose`, `silly` → debug, `http` → info).
    pub fn parse(name: &str) -> Option<LogLevel> {
        Some(match name {
            "debug" | "verbose" | "silly" => LogLevel::Debug,
            "info" | "http" => LogLevel::Info,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => return None,
        })
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the environment variables scripts get (Nango's `getEnvironmentVariables()` items).
///
/// ```
/// let var = nango_runtime::EnvironmentVariable::new("REGION", "eu");
/// assert_eq!((var.name.as_str(), var.value.as_str()), ("REGION", "eu"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentVariable {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

impl EnvironmentVariable {
    /// A variable.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        EnvironmentVariable { name: name.into(), value: value.into() }
    }

    /// The variables of this process whose name starts with `prefix`, the prefix taken off
    /// (the CLI gives scripts those starting with [`ENV_PREFIX`](Self::ENV_PREFIX)), sorted by name.
    ///
    /// ```
    /// // SAFETY of the example: no other thread reads the environment meanwhile.
    /// unsafe { std::env::set_var("DOC_EXAMPLE_SCRIPT_REGION", "eu") };
    /// let vars = nango_runtime::EnvironmentVariable::from_process("DOC_EXAMPLE_SCRIPT_");
    /// assert_eq!(vars, [nango_runtime::EnvironmentVariable::new("REGION", "eu")]);
    /// ```
    pub fn from_process(prefix: &str) -> Vec<EnvironmentVariable> {
        let mut vars: Vec<EnvironmentVariable> = std::env::vars()
            .filter_map(|(name, value)| {
                let name = name.strip_prefix(prefix)?;
                (!name.is_empty()).then(|| EnvironmentVariable::new(name, value))
            })
            .collect();
        vars.sort_by(|a, b| a.name.cmp(&b.name));
        vars
    }

    /// The prefix of the process's variables that the CLI hands to scripts: `NANGO_SCRIPT_ENV_`
    /// (`NANGO_SCRIPT_ENV_REGION=eu` is the script's `REGION`). Only those, so that the store's
    /// URL and the encryption key never reach a script.
    pub const ENV_PREFIX: &'static str = "NANGO_SCRIPT_ENV_";
}

/// How `batch_save` and `batch_update` treat records changed by someone else during the run
/// (Nango's `setMergingStrategy`).
///
/// ```
/// assert_eq!(nango_runtime::MergingStrategy::default(), nango_runtime::MergingStrategy::Override);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergingStrategy {
    /// The sync's records replace what is stored (the default).
    #[default]
    Override,
    /// A stored record modified after the sync's last write of its model (by a webhook or an
    /// action, say) is left as it is: the sync's copy, fetched earlier, is older.
    IgnoreIfModifiedAfter,
}
