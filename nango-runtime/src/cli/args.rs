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
    /// Seconds a run's lease on its (connection, sync) lasts without a heartbeat (renewed every
    /// third of it): another process takes a sync over this long after its runner died.
    #[arg(long, global = true, env = "NANGO_LEASE_TTL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_ttl: u64,
}

impl RuntimeArgs {
    /// Opens the store the arguments name, sealing with `NANGO_ENCRYPTION_KEY`.
    pub async fn open_store(&self) -> CliResult<Store> {
        let sealer = Sealer::from_env(self.insecure_store_secrets_in_clear)?;
        Ok(Store::open(&self.database, sealer).await?)
    }

    /// [`RuntimeArgs::open_store`] for a command that makes its store calls one after another
    /// (`run`): a SQLite store gets a pool of one connection with a 512 KiB page cache unless the
    /// URL names its `pool_size` or `cache_kib`. Each pooled SQLite connection is a thread with
    /// its own page cache and, under glibc, its own malloc arena; a run that never has two
    /// statements in flight at once would only grow by them.
    pub async fn open_store_one_connection(&self) -> CliResult<Store> {
        let sealer = Sealer::from_env(self.insecure_store_secrets_in_clear)?;
        Ok(Store::open(&one_connection(&self.database), sealer).await?)
    }

    /// Whether secrets are stored in clear (no `NANGO_ENCRYPTION_KEY`, and the insecure flag).
    pub fn stores_in_clear(&self) -> CliResult<bool> {
        Ok(matches!(Sealer::from_env(self.insecure_store_secrets_in_clear)?, Sealer::InsecureClear))
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
    ///     lease_ttl: 30,
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

    /// A runtime over the store, with the catalog and the retry delay, leasing runs as this
    /// process running `command` (named to the processes that find a sync taken).
    pub async fn runtime(&self, command: &str) -> CliResult<Runtime> {
        self.runtime_over(self.open_store().await?, command)
    }

    /// [`RuntimeArgs::runtime`] over [`RuntimeArgs::open_store_one_connection`]: for a command
    /// that runs one sync and ends (`run`).
    pub async fn one_run_runtime(&self, command: &str) -> CliResult<Runtime> {
        self.runtime_over(self.open_store_one_connection().await?, command)
    }

    fn runtime_over(&self, store: Store, command: &str) -> CliResult<Runtime> {
        let owner = crate::store::LeaseOwner::for_this_process(command);
        let http = HttpOptions::default().min_delay(std::time::Duration::from_millis(self.retry_delay_ms));
        Ok(Runtime::new(store)
            .with_providers(self.providers()?)
            .with_http_options(http)
            .with_lease(owner, std::time::Duration::from_secs(self.lease_ttl))
            .with_environment_variables(crate::EnvironmentVariable::from_process(
                crate::EnvironmentVariable::ENV_PREFIX,
            )))
    }
}

/// The page cache of the one connection of [`one_connection`], in KiB (SQLite's default is 2,048
/// KiB per connection). A run's batch reads the B-tree pages of its ids and writes near the end
/// of the indexes; measured at 100,000 and 1,000,000 records, 512 KiB kept its speed (BENCHMARKS.md,
/// "Sync").
const ONE_RUN_CACHE_KIB: u32 = 512;

/// A SQLite URL with `pool_size=1` and `cache_kib=` [`ONE_RUN_CACHE_KIB`] added where it names
/// neither; any other URL as it is (a PostgreSQL pool opens its connections only as they are
/// asked for).
fn one_connection(url: &str) -> String {
    let sqlite = url.split_once(':').is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("sqlite"));
    if !sqlite {
        return url.to_owned();
    }
    let mut url = url.to_owned();
    for (name, value) in [("pool_size", 1), ("cache_kib", ONE_RUN_CACHE_KIB)] {
        let query = url.split_once('?').map(|(_, q)| q);
        if query.is_some_and(|q| q.split('&').any(|pair| pair.split_once('=').is_some_and(|(key, _)| key == name))) {
            continue;
        }
        let separator = if query.is_some() { '&' } else { '?' };
        url = format!("{url}{separator}{name}={value}");
    }
    url
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

#[cfg(test)]
mod tests {
    use super::one_connection;

    #[test]
    fn a_sqlite_url_gets_one_connection_unless_it_names_a_pool_size() {
        assert_eq!(one_connection("sqlite://nango.db"), "sqlite://nango.db?pool_size=1&cache_kib=512");
        assert_eq!(one_connection("sqlite:n.db?mode=rwc"), "sqlite:n.db?mode=rwc&pool_size=1&cache_kib=512");
        assert_eq!(one_connection("SQLITE://n.db"), "SQLITE://n.db?pool_size=1&cache_kib=512");
        assert_eq!(one_connection("sqlite://n.db?pool_size=2"), "sqlite://n.db?pool_size=2&cache_kib=512");
        assert_eq!(one_connection("sqlite://n.db?cache_kib=64"), "sqlite://n.db?cache_kib=64&pool_size=1");
        assert_eq!(one_connection("postgres://h/db"), "postgres://h/db");
    }
}
