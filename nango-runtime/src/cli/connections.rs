//! `connections add|list|remove`.

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
            let provider = add.provider.clone().unwrap_or_else(|| integration.clone());
            let catalog = runtime.providers()?;
            if catalog.get(&provider).is_none() {
                let known: Vec<&str> = catalog.keys().collect();
                return Err(format!(
                    "provider `{provider}` is not in the catalog (known: {}); pass --provider or --providers FILE",
                    known.join(", ")
                )
                .into());
            }
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
            store.save_connection(&connection).await?;
            out!(
                "connection `{id}` of `{integration}` saved ({} credentials{})",
                connection.credentials.kind(),
                if connection.credentials.is_secret() { ", sealed" } else { "" }
            );
        }
        ConnectionsCommand::List { format } => {
            let list: Vec<Connection> = store.connections().await?.into_iter().map(|c| c.connection).collect();
            match format {
                Format::Json => {
                    let items: Vec<Value> = list
                        .iter()
                        .map(|c| {
                            serde_json::json!({
                                "provider_config_key": c.provider_config_key, "connection_id": c.connection_id,
                                "provider": c.provider, "auth": c.credentials.kind(), "base_url": c.base_url,
                                "metadata": c.metadata, "created_at": c.created_at,
                            })
                        })
                        .collect();
                    out!("{}", serde_json::to_string_pretty(&items)?);
                }
                Format::Table => {
                    out!("{:<20} {:<24} {:<16} {:<8} BASE URL", "INTEGRATION", "CONNECTION", "PROVIDER", "AUTH");
                    for c in list {
                        out!(
                            "{:<20} {:<24} {:<16} {:<8} {}",
                            c.provider_config_key,
                            c.connection_id,
                            c.provider,
                            c.credentials.kind(),
                            c.base_url.as_deref().unwrap_or("-")
                        );
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
