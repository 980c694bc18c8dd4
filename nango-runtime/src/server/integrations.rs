//! Nango's integration routes (`GET|POST /integrations`, `GET|PATCH|DELETE
//! /integrations/{key}`) and the provider catalog (`GET /providers`, `GET /providers/{name}`).
//!
//! An integration is a key (the `provider_config_key` of its connections) with a provider and,
//! for OAuth providers, the app its connections authenticate with: client id, secret and scopes,
//! stored sealed. Two sources make the list:
//!
//! * the integrations nango.yaml declares (those of the syncs, actions and on-event scripts this
//!   binary serves) are always listed, even before one is created through the API: with no
//!   credentials, the provider of their first connection (else their key), and the time the
//!   service started as their creation time;
//! * integrations created through the API are stored, and a stored one is what is shown for its
//!   key (creating one for a key nango.yaml declares is how its OAuth app is set).
//!
//! Deleting an integration deletes its connections (with their records), as Nango does; a key
//! nango.yaml declares stays listed afterwards, without credentials.

use super::connections::refuse_while_running;
use super::extract::Body;
use super::params::{api_time, query_pairs, unknown_param};
use super::{ApiError, ApiResult, AppState};
use crate::providers::{AuthMode, Provider};
use crate::store::{ConnectionKey, Integration, IntegrationCredentials};
use crate::{registered_actions, registered_on_events, registered_syncs};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The integration keys nango.yaml declares: those of the scripts this binary serves.
pub(super) fn declared_keys() -> BTreeSet<&'static str> {
    registered_syncs()
        .map(|s| s.descriptor.integration)
        .chain(registered_actions().map(|a| a.descriptor.integration))
        .chain(registered_on_events().map(|e| e.descriptor.integration))
        .collect()
}

/// Nango's name of an auth mode (`OAUTH2`, `API_KEY`...).
pub(super) fn auth_mode_name(mode: &AuthMode) -> &str {
    match mode {
        AuthMode::OAuth2 => "OAUTH2",
        AuthMode::OAuth2ClientCredentials => "OAUTH2_CC",
        AuthMode::ApiKey => "API_KEY",
        AuthMode::Basic => "BASIC",
        AuthMode::None => "NONE",
        AuthMode::Other(name) => name,
    }
}

/// Every integration: the stored ones, then those nango.yaml declares that are not stored.
pub(super) async fn all_integrations(state: &AppState) -> ApiResult<Vec<Integration>> {
    let mut by_key: BTreeMap<String, Integration> =
        state.store().integrations().await?.into_iter().map(|i| (i.unique_key.clone(), i)).collect();
    let declared: Vec<&str> = declared_keys().into_iter().filter(|k| !by_key.contains_key(*k)).collect();
    if !declared.is_empty() {
        let connections = state.store().connections().await?;
        for key in declared {
            let provider = connections
                .identities()
                .find(|(_, c)| c.provider_config_key == key)
                .map_or(key, |(_, c)| c.provider.as_str());
            let mut integration = Integration::new(key, provider);
            (integration.created_at, integration.updated_at) = (state.started_at, state.started_at);
            by_key.insert(key.to_owned(), integration);
        }
    }
    Ok(by_key.into_values().collect())
}

/// One integration, stored or declared; 404 otherwise.
pub(super) async fn find_integration(state: &AppState, key: &str) -> ApiResult<Integration> {
    all_integrations(state)
        .await?
        .into_iter()
        .find(|i| i.unique_key == key)
        .ok_or_else(|| ApiError::not_found("not_found", format!("Integration \"{key}\" does not exist")))
}

/// What an integration's API object shows of its app credentials (`include=credentials`).
fn credentials_json(credentials: &IntegrationCredentials) -> Value {
    match credentials {
        IntegrationCredentials::OAuth2(app)
        | IntegrationCredentials::OAuth1(app)
        | IntegrationCredentials::Tba(app) => {
            json!({"type": credentials.kind(), "client_id": app.client_id, "client_secret": app.client_secret.expose(),
                   "scopes": app.scopes, "webhook_secret": app.webhook_secret.as_ref().map(|s| s.expose())})
        }
        IntegrationCredentials::App { app_id, app_link, private_key } => {
            json!({"type": "APP", "app_id": app_id, "private_key": private_key.expose(), "app_link": app_link})
        }
        IntegrationCredentials::Custom { client_id, client_secret, app_id, app_link, private_key } => {
            json!({"type": "CUSTOM", "client_id": client_id, "client_secret": client_secret.expose(), "app_id": app_id,
                   "app_link": app_link, "private_key": private_key.expose()})
        }
    }
}

/// Nango's `ApiPublicIntegration`, with what `include` asks for.
fn integration_json(state: &AppState, integration: &Integration, include: &BTreeSet<String>) -> Value {
    let provider = state.scheduler.runtime().providers().get(&integration.provider);
    let display_name = integration
        .display_name
        .clone()
        .or_else(|| provider.as_ref().and_then(|p| p.display_name.clone()))
        .unwrap_or_else(|| integration.unique_key.clone());
    let mut out = json!({
        "unique_key": integration.unique_key,
        "provider": integration.provider,
        "display_name": display_name,
        // No logos are served here.
        "logo": "",
        "forward_webhooks": integration.forward_webhooks,
        "created_at": api_time(&integration.created_at),
        "updated_at": api_time(&integration.updated_at),
    });
    let Value::Object(map) = &mut out else { return out };
    if include.contains("webhook") {
        // Provider webhooks are not received here.
        map.insert("webhook_url".into(), Value::Null);
    }
    if include.contains("credentials") {
        map.insert("credentials".into(), integration.credentials.as_ref().map_or(Value::Null, credentials_json));
    }
    out
}

/// `GET /integrations`: `{"data": [...]}`, stored and declared integrations by key.
pub(super) async fn list(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    if let Some((name, _)) = query_pairs(raw.as_deref()).first() {
        return Err(unknown_param(name, &["(none)"]));
    }
    let none = BTreeSet::new();
    let data: Vec<Value> = all_integrations(&state).await?.iter().map(|i| integration_json(&state, i, &none)).collect();
    Ok(Json(json!({ "data": data })))
}

/// `GET /integrations/{key}?include=credentials&include=webhook`: `{"data": {...}}`, with the
/// app's client secret when `credentials` is included (the secret key guards it).
pub(super) async fn get_one(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let mut include = BTreeSet::new();
    for (name, value) in query_pairs(raw.as_deref()) {
        if name != "include" && name != "include[]" {
            return Err(unknown_param(&name, &["include"]));
        }
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part != "credentials" && part != "webhook" {
                return Err(ApiError::bad_request(
                    "invalid_query_params",
                    format!("`include` takes `credentials` and `webhook`, not `{part}`"),
                ));
            }
            include.insert(part.to_owned());
        }
    }
    let integration = find_integration(&state, &key).await?;
    Ok(Json(json!({ "data": integration_json(&state, &integration, &include) })))
}

/// Checks an integration key as Nango does (its `provider_config_key`s).
fn valid_key(field: &str, key: &str) -> ApiResult<()> {
    let ok = (1..=255).contains(&key.len())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '~' | ':' | '.' | '@' | ' ' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_body",
            format!("`{field}` must be 1 to 255 letters, digits, spaces or `~:.@_-`, not `{key}`"),
        ))
    }
}

/// The catalog's entry of `provider`, or a 400 naming the field.
fn catalog_entry(state: &AppState, provider: &str) -> ApiResult<Provider> {
    state.scheduler.runtime().providers().get(provider).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_body",
            format!("`provider`: `{provider}` is not in the provider catalog (GET /providers lists it)"),
        )
    })
}

/// Credentials whose type is not the provider's auth mode are refused, as is an OAuth or app
/// provider without any (its connections could not authenticate).
fn check_credentials(
    provider_name: &str,
    provider: &Provider,
    credentials: Option<&IntegrationCredentials>,
) -> ApiResult<()> {
    let mode = provider.auth_mode.as_ref().map(auth_mode_name).unwrap_or("NONE");
    match credentials {
        Some(c) if c.kind() != mode => Err(ApiError::bad_request(
            "invalid_body",
            format!("`credentials.type` is `{}` but provider `{provider_name}` authenticates with `{mode}`", c.kind()),
        )),
        None if matches!(mode, "OAUTH1" | "OAUTH2" | "APP" | "CUSTOM") => Err(ApiError::bad_request(
            "invalid_body",
            format!("`credentials` are required: provider `{provider_name}` authenticates with `{mode}`"),
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewIntegration {
    provider: String,
    unique_key: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    credentials: Option<IntegrationCredentials>,
    #[serde(default)]
    forward_webhooks: Option<bool>,
}

fn valid_display_name(name: &Option<String>) -> ApiResult<()> {
    match name {
        Some(n) if n.is_empty() || n.len() > 255 => {
            Err(ApiError::bad_request("invalid_body", "`display_name` must be 1 to 255 characters"))
        }
        _ => Ok(()),
    }
}

/// `POST /integrations {provider, unique_key, display_name?, credentials?, forward_webhooks?}`.
pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    Body(body): Body<NewIntegration>,
) -> ApiResult<Json<Value>> {
    if let Some((name, _)) = query_pairs(raw.as_deref()).first() {
        return Err(unknown_param(name, &["(none)"]));
    }
    valid_key("unique_key", &body.unique_key)?;
    valid_display_name(&body.display_name)?;
    let provider = catalog_entry(&state, &body.provider)?;
    check_credentials(&body.provider, &provider, body.credentials.as_ref())?;
    if state.store().integration(&body.unique_key).await?.is_some() {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("`unique_key`: integration `{}` already exists; change it with PATCH", body.unique_key),
        ));
    }
    let mut integration = Integration::new(&body.unique_key, &body.provider);
    integration.display_name = body.display_name;
    integration.credentials = body.credentials;
    integration.forward_webhooks = body.forward_webhooks.unwrap_or(true);
    state.store().save_integration(&integration, None).await.map_err(no_key_is_caller_error)?;
    let saved = find_integration(&state, &integration.unique_key).await?;
    Ok(Json(json!({ "data": integration_json(&state, &saved, &BTreeSet::new()) })))
}

/// Storing a secret without an encryption key is the operator's to fix: a 400 saying how.
fn no_key_is_caller_error(e: crate::store::StoreError) -> ApiError {
    match e {
        e @ crate::store::StoreError::SealIntegration { source: crate::crypto::CryptoError::NoKey, .. } => {
            ApiError::bad_request("encryption_key_missing", nango_types::text::error_chain(&e))
        }
        other => other.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IntegrationChanges {
    #[serde(default)]
    unique_key: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    credentials: Option<IntegrationCredentials>,
    #[serde(default)]
    forward_webhooks: Option<bool>,
}

/// `PATCH /integrations/{key}`: changes the name, credentials, webhook forwarding or the key
/// itself (not of an integration with connections, nor of one nango.yaml declares).
pub(super) async fn update(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    Body(body): Body<IntegrationChanges>,
) -> ApiResult<Json<Value>> {
    if let Some((name, _)) = query_pairs(raw.as_deref()).first() {
        return Err(unknown_param(name, &["(none)"]));
    }
    let mut integration = find_integration(&state, &key).await?;
    valid_display_name(&body.display_name)?;
    if let Some(credentials) = &body.credentials {
        let provider = catalog_entry(&state, &integration.provider)?;
        check_credentials(&integration.provider, &provider, Some(credentials))?;
        integration.credentials = Some(credentials.clone());
    }
    if let Some(name) = body.display_name {
        integration.display_name = Some(name);
    }
    if let Some(forward) = body.forward_webhooks {
        integration.forward_webhooks = forward;
    }
    let renamed_from = match body.unique_key.filter(|new| *new != key) {
        None => None,
        Some(new) => {
            valid_key("unique_key", &new)?;
            let refuse = |why: String| Err(ApiError::bad_request("invalid_body", format!("`unique_key`: {why}")));
            if declared_keys().contains(key.as_str()) {
                return refuse(format!("nango.yaml declares `{key}`; rename it there"));
            }
            if state.store().connections().await?.identities().any(|(_, c)| c.provider_config_key == key) {
                return refuse(format!("`{key}` has connections; an integration with connections keeps its key"));
            }
            if find_integration(&state, &new).await.is_ok() {
                return refuse(format!("integration `{new}` already exists"));
            }
            integration.unique_key = new;
            Some(key.as_str())
        }
    };
    state.store().save_integration(&integration, renamed_from).await.map_err(no_key_is_caller_error)?;
    let saved = find_integration(&state, &integration.unique_key).await?;
    Ok(Json(json!({ "data": integration_json(&state, &saved, &BTreeSet::new()) })))
}

/// `DELETE /integrations/{key}`: the stored integration and every connection of it (with their
/// records); `{"success": true}`.
pub(super) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    if let Some((name, _)) = query_pairs(raw.as_deref()).first() {
        return Err(unknown_param(name, &["(none)"]));
    }
    find_integration(&state, &key).await?;
    // Every connection of it, also those whose credentials do not open.
    let all = state.store().connections().await?;
    let connections: Vec<(ConnectionKey, &str)> = all
        .identities()
        .filter(|(_, c)| c.provider_config_key == key)
        .map(|(k, c)| (k, c.connection_id.as_str()))
        .collect();
    for (connection, connection_id) in &connections {
        refuse_while_running(&state, *connection, &key, connection_id)?;
    }
    for (_, connection_id) in &connections {
        state.store().delete_connection(&key, connection_id).await?;
    }
    state.store().delete_integration(&key).await?;
    Ok(Json(json!({"success": true})))
}

/// A catalog entry as Nango's provider API shows it (`ApiProvider`: the providers.yaml fields
/// kept here, `name`, and an empty `logo_url`).
fn provider_json(name: &str, provider: &Provider) -> Value {
    let proxy = provider.proxy.as_ref().map(|p| {
        let retry = p
            .retry
            .as_ref()
            .map(|r| json!({"at": r.at, "after": r.after, "remaining": r.remaining, "error_code": r.error_code}));
        let paginate = p.paginate.as_ref().map(|pg| {
            let mut map: serde_json::Map<String, Value> =
                pg.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            map.insert("type".into(), Value::String(pg.kind.clone()));
            Value::Object(map)
        });
        json!({"base_url": p.base_url, "headers": p.headers, "query": p.query, "retry": retry, "paginate": paginate})
    });
    json!({
        "name": name,
        "display_name": provider.display_name.clone().unwrap_or_else(|| name.to_owned()),
        "logo_url": "",
        "categories": provider.categories,
        "auth_mode": provider.auth_mode.as_ref().map(auth_mode_name).unwrap_or("NONE"),
        "authorization_url": provider.authorization_url,
        "token_url": provider.token_url,
        "proxy": proxy,
        "docs": provider.docs.clone().unwrap_or_default(),
        "connection_config": provider.connection_config,
        "credentials": provider.credentials,
    })
}

/// `GET /providers?search=`: the catalog (built-in entries and the program's own), by name.
pub(super) async fn list_providers(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let mut search = None;
    for (name, value) in query_pairs(raw.as_deref()) {
        match name.as_str() {
            "search" => search = Some(value.to_lowercase()),
            other => return Err(unknown_param(other, &["search"])),
        }
    }
    let catalog = state.scheduler.runtime().providers();
    let data: Vec<Value> = catalog
        .keys()
        .filter_map(|name| {
            let provider = catalog.get(name)?;
            let shown = provider.display_name.as_deref().unwrap_or(name).to_lowercase();
            let hit = search.as_ref().is_none_or(|s| name.to_lowercase().contains(s) || shown.contains(s));
            hit.then(|| provider_json(name, &provider))
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

/// `GET /providers/{name}`.
pub(super) async fn get_provider(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    if let Some((param, _)) = query_pairs(raw.as_deref()).first() {
        return Err(unknown_param(param, &["(none)"]));
    }
    let provider = state
        .scheduler
        .runtime()
        .providers()
        .get(&name)
        .ok_or_else(|| ApiError::not_found("not_found", format!("unknown provider `{name}`")))?;
    Ok(Json(json!({ "data": provider_json(&name, &provider) })))
}
