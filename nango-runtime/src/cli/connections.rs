//! `connections add|list|remove|rotate-key`.

use super::args::{ConnectionRef, Format, RuntimeArgs};
use super::{CliResult, json_arg};
use crate::{Connection, Credentials, Secret};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::process::ExitCode;

/// `connections ...`
#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Add (or replace) a connection.
    Add(Box<AddConnection>),
    /// List connections (credentials are never printed).
    List {
        /// `json` for machine-readable output.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Remove a connection with its records and runs.
    Remove {
        /// The connection.
        #[command(flatten)]
        connection: ConnectionRef,
    },
    /// Re-seal every connection's and integration's credentials under NANGO_ENCRYPTION_KEY (the
    /// new key), in one transaction: those sealed under an old key and those stored in clear.
    RotateKey(RotateKey),
}

/// `connections rotate-key`
#[derive(Debug, Args)]
pub struct RotateKey {
    /// Name of an environment variable holding an old key (base64), repeatable: credentials
    /// sealed under it are re-sealed. Keys are read from the environment, never from the command
    /// line, where other users could see them.
    #[arg(long = "old-key-env", value_name = "VAR")]
    pub old_key_env: Vec<String>,
    /// Count what would be re-sealed, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `connections add`
#[derive(Debug, Args)]
pub struct AddConnection {
    /// The connection.
    #[command(flatten)]
    pub connection: ConnectionRef,
    /// Provider in the catalog (default: the integration key).
    #[arg(long)]
    pub provider: Option<String>,
    /// Its credentials (at most one kind).
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Replaces the provider's base URL (GitHub Enterprise, a mock provider).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Metadata as JSON, or @file.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Connection config values for the provider's templates (key=value, repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

/// The credentials of `connections add`: one kind (`auth`), none for a provider without.
#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// Bearer token.
    #[arg(long, group = "auth")]
    pub token: Option<String>,
    /// API key.
    #[arg(long, group = "auth")]
    pub api_key: Option<String>,
    /// Basic auth as USER:PASS.
    #[arg(long, group = "auth")]
    pub basic: Option<String>,
    /// OAuth 2 access token.
    #[arg(long, group = "auth")]
    pub oauth2_access: Option<String>,
    /// OAuth 2 refresh token.
    #[arg(long, requires = "oauth2_access")]
    pub oauth2_refresh: Option<String>,
    /// When the access token expires (RFC 3339).
    #[arg(long, requires = "oauth2_access")]
    pub expires_at: Option<DateTime<Utc>>,
    /// OAuth client id (for refreshing).
    #[arg(long, requires = "oauth2_access")]
    pub client_id: Option<String>,
    /// OAuth client secret (for refreshing).
    #[arg(long, requires = "oauth2_access")]
    pub client_secret: Option<String>,
}

impl CredentialArgs {
    /// The credentials the flags give.
    fn credentials(&self) -> CliResult<Credentials> {
        Ok(if let Some(t) = &self.token {
            Credentials::Bearer { token: Secret::new(t) }
        } else if let Some(k) = &self.api_key {
            Credentials::ApiKey { api_key: Secret::new(k) }
        } else if let Some(b) = &self.basic {
            let (username, password) =
                b.split_once(':').ok_or("--basic: expected USER:PASS (the password may be empty: `user:`)")?;
            Credentials::Basic { username: username.to_owned(), password: Secret::new(password) }
        } else if let Some(a) = &self.oauth2_access {
            Credentials::OAuth2 {
                access_token: Secret::new(a),
                refresh_token: self.oauth2_refresh.as_deref().map(Secret::new),
                expires_at: self.expires_at,
                client_id: self.client_id.clone(),
                client_secret: self.client_secret.as_deref().map(Secret::new),
            }
        } else {
            Credentials::None
        })
    }
}

pub(super) async fn connections(runtime: &RuntimeArgs, command: &ConnectionsCommand) -> CliResult<ExitCode> {
    let store = runtime.open_store().await?;
    match command {
        ConnectionsCommand::Add(add) => {
            let ConnectionRef { id, integration } = &add.connection;
            let stored_integrations = store.integration_providers().await?;
            let provider = add
                .provider
                .clone()
                .or_else(|| stored_integrations.get(integration).cloned())
                .unwrap_or_else(|| integration.clone());
            let catalog = runtime.providers()?;
            let mut connection = Connection::new(integration, id, provider);
            if let Some(existing) = store.connection(integration, id).await.ok().flatten() {
                connection.created_at = existing.connection.created_at;
            }
            connection.credentials = add.credentials.credentials()?;
            connection.base_url = add.base_url.clone();
            if let Some(m) = &add.metadata {
                connection.metadata = json_arg("metadata", m)?;
            }
            for pair in &add.config {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("--config `{pair}`: expected KEY=VALUE, e.g. --config subdomain=acme"))?;
                connection.connection_config.insert(k.to_owned(), v.to_owned());
            }
            // The same checks as `POST /connection` (the service's own address is not known here).
            let mut integrations = crate::registered_integrations();
            integrations.extend(stored_integrations.keys().map(String::as_str));
            connection.check_new_among(&integrations, &catalog, None).map_err(invalid_connection)?;
            store.save_connection(&connection).await?;
            let sealing = if !connection.credentials.is_secret() {
                ""
            } else if runtime.stores_in_clear()? {
                " stored in clear, unencrypted: no NANGO_ENCRYPTION_KEY and --insecure-store-secrets-in-clear; \
                 encrypt them with `connections rotate-key` once a key is set"
            } else {
                ", sealed with NANGO_ENCRYPTION_KEY"
            };
            out!("connection `{id}` of `{integration}` saved ({} credentials{sealing})", connection.credentials.kind());
        }
        ConnectionsCommand::RotateKey(rotate) => return rotate_key(&store, rotate).await,
        ConnectionsCommand::List { format } => {
            let rows = store.connections().await?.listed();
            match format {
                Format::Json => {
                    let items: Vec<Value> = rows
                        .iter()
                        .map(|listed| {
                            let c = listed.connection();
                            serde_json::json!({
                                "provider_config_key": c.provider_config_key, "connection_id": c.connection_id,
                                "provider": c.provider, "auth": listed.auth_mode(), "base_url": c.base_url,
                                "metadata": c.metadata, "created_at": c.created_at,
                                "unreadable": listed.unreadable_reason(),
                            })
                        })
                        .collect();
                    out!("{}", serde_json::to_string_pretty(&items)?);
                }
                Format::Table => {
                    out!("{:<20} {:<24} {:<16} {:<10} BASE URL", "INTEGRATION", "CONNECTION", "PROVIDER", "AUTH");
                    for listed in &rows {
                        let c = listed.connection();
                        let auth = match listed.unreadable_reason() {
                            Some(_) => format!("{}(!)", listed.auth_mode()),
                            None => listed.auth_mode().to_owned(),
                        };
                        out!(
                            "{:<20} {:<24} {:<16} {:<10} {}",
                            c.provider_config_key,
                            c.connection_id,
                            c.provider,
                            auth,
                            c.base_url.as_deref().unwrap_or("-")
                        );
                    }
                    for reason in rows.iter().filter_map(|r| r.unreadable_reason()) {
                        eprintln!("warning: (!) {reason}");
                    }
                }
            }
        }
        ConnectionsCommand::Remove { connection: ConnectionRef { id, integration } } => {
            if !store.delete_connection(integration, id).await? {
                return Err(format!("no connection `{id}` for integration `{integration}`").into());
            }
            out!("connection `{id}` of `{integration}` removed with its records and runs");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A refused connection in this command line's words: the flag or argument, not the API field.
fn invalid_connection(e: crate::InvalidConnection) -> Box<dyn std::error::Error + Send + Sync> {
    let what = match e.field {
        "connection_id" => "connection id (ID)",
        "provider_config_key" => "integration (--integration)",
        "provider" => "provider (--provider; add providers with --providers FILE)",
        "base_url" => "base URL (--base-url)",
        other => other,
    };
    format!("invalid {what}: {}", e.problem).into()
}

/// `connections rotate-key`: re-seals under NANGO_ENCRYPTION_KEY, with old keys from the
/// environment variables named.
async fn rotate_key(store: &crate::store::Store, args: &RotateKey) -> CliResult<ExitCode> {
    let mut old = Vec::with_capacity(args.old_key_env.len());
    for var in &args.old_key_env {
        let key = std::env::var(var)
            .map_err(|_| format!("--old-key-env {var}: the environment variable `{var}` is not set"))?;
        old.push(crate::crypto::Sealer::from_base64(&key).map_err(|e| format!("--old-key-env {var}: {e}"))?);
    }
    let rotation = store.rotate_key(&old, args.dry_run).await?;
    let verb = if args.dry_run { "would re-seal" } else { "re-sealed" };
    out!(
        "{verb} {} connections and {} integrations under NANGO_ENCRYPTION_KEY ({} under an old key, {} in clear); {} already sealed with it{}",
        rotation.resealed() - rotation.integrations,
        rotation.integrations,
        rotation.from_old_keys,
        rotation.from_clear,
        rotation.already_sealed,
        if args.dry_run { "; nothing was written (--dry-run)" } else { "" }
    );
    if !args.dry_run && rotation.resealed() > 0 {
        out!(
            "restart the processes that use this store with the new key: those with an old key can no longer read them"
        );
    }
    Ok(ExitCode::SUCCESS)
}
