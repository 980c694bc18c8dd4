//! The argument groups several commands share, each defined once and flattened where it is used
//! (`#[command(flatten)]`).

use super::CliResult;
use crate::crypto::Sealer;
use crate::engine::Runtime;
use crate::http::HttpOptions;
use crate::providers::ProviderCatalog;
use crate::store::Store;
use clap::Args;
use std::path::PathBuf;

/// Where the runtime keeps its state and what it knows: the store (and how secrets are sealed in
/// it) and the provider catalog. Global: every command takes them.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Database URL.
    #[arg(long, global = true, env = "NANGO_DATABASE_URL", default_value = "sqlite://nango.db")]
    pub database: String,
    /// Extra providers (providers.yaml format) added to the built-in catalog.
    #[arg(long, global = true, env = "NANGO_PROVIDERS_FILE")]
    pub providers: Option<PathBuf>,
    /// Store credentials unencrypted when NANGO_ENCRYPTION_KEY is not set (local development only).
    #[arg(long, global = true)]
    pub insecure_store_secrets_in_clear: bool,
    /// First wait before retrying a failed provider request, in milliseconds; later waits double
    /// (with jitter) up to a minute, and a `Retry-After` the provider sends wins.
    #[arg(long, global = true, env = "NANGO_RETRY_DELAY_MS", default_value_t = 500)]
    pub retry_delay_ms: u64,
}

impl RuntimeArgs {
    /// Opens the store the arguments name, sealing with `NANGO_ENCRYPTION_KEY`.
    pub async fn open_store(&self) -> CliResult<Store> {
        let sealer = Sealer::from_env(self.insecure_store_secrets_in_clear)?;
        Ok(Store::open(&self.database, sealer).await?)
    }

    /// The built-in provider catalog, with the providers file added if one is named.
    ///
    /// ```
    /// use nango_runtime::cli::RuntimeArgs;
    /// let args = RuntimeArgs {
    ///     database: "sqlite://nango.db".into(),
    ///     providers: None,
    ///     insecure_store_secrets_in_clear: false,
    ///     retry_delay_ms: 500,
    /// };
    /// assert!(args.providers().unwrap().get("github").is_some());
    /// ```
    pub fn providers(&self) -> CliResult<ProviderCatalog> {
        let mut catalog = ProviderCatalog::builtin();
        if let Some(file) = &self.providers {
            catalog.extend_from_file(file)?;
        }
        Ok(catalog)
    }

    /// A runtime over the store, with the catalog and the retry delay.
    pub async fn runtime(&self) -> CliResult<Runtime> {
        let http = HttpOptions::default().min_delay(std::time::Duration::from_millis(self.retry_delay_ms));
        Ok(Runtime::new(self.open_store().await?).with_providers(self.providers()?).with_http_options(http))
    }
}

/// The sync a command runs and the connection it runs for (`dryrun`, `run`).
#[derive(Debug, Clone, Args)]
pub struct SyncTarget {
    /// Sync name (nango.yaml).
    pub sync: String,
    /// Connection id.
    #[arg(long)]
    pub connection: String,
    /// Integration key (default: the sync's).
    #[arg(long)]
    pub integration: Option<String>,
}

/// One connection, named in full (`connections add`, `connections remove`).
#[derive(Debug, Clone, Args)]
pub struct ConnectionRef {
    /// Connection id.
    pub id: String,
    /// Integration key (nango.yaml).
    #[arg(long)]
    pub integration: String,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
}
