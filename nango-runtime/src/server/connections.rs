//! Nango's connection routes: `GET /connections` with its filters, `GET|PATCH|DELETE
//! /connections/{id}` (credentials on `GET`, refreshed when asked), and `POST|PATCH
//! /connections/metadata` for one connection or a list. The deprecated `/connection` paths are
//! the same handlers.

use super::extract::Body;
use super::params::{
    api_time, boolean, known_connection, known_connection_key, query_pairs, unknown_param, valid_connection_id,
};
use super::{ApiError, ApiResult, AppState};
use crate::store::{ConnectionKey, ConnectionProfile, EndUser, StoredConnection};
use crate::{Connection, Credentials, registered_syncs};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// At most this many tags per connection (Nango's limit).
const MAX_TAGS: usize = 10;

/// A connection as lists show it (Nango's `ApiPublicConnection`). `unreadable`: why its
/// credentials do not open, listed in `errors` so that one bad connection is visible without
/// hiding the others.
pub(super) fn connection_summary(
    key: ConnectionKey,
    c: &Connection,
    profile: &ConnectionProfile,
    unreadable: Option<&str>,
    needs_reauth: Option<&str>,
) -> Value {
    // Nango lists the active errors (logs) of the connection here; failed runs show in
    // `/sync/status` instead, so only what keeps the connection from being used at all is:
    // unreadable credentials, and a refresh the provider refused (`auth`, as Nango names it).
    let errors: Vec<Value> = unreadable
        .map(|reason| json!({"type": "unreadable_credentials", "message": reason}))
        .into_iter()
        .chain(needs_reauth.map(|reason| json!({"type": "auth", "message": reason})))
        .collect();
    json!({
        "id": key,
        "connection_id": c.connection_id,
        "provider_config_key": c.provider_config_key,
        "provider": c.provider,
        "errors": errors,
        "end_user": profile.end_user,
        "metadata": c.metadata,
        "tags": profile.tags,
        "created": api_time(&c.created_at),
    })
}

/// One connection (Nango's `ApiPublicConnectionFull`), with its credentials when given.
pub(super) fn connection_full(
    stored: &StoredConnection,
    profile: &ConnectionProfile,
    credentials: Option<Value>,
) -> Value {
    let c = &stored.connection;
    let mut out = json!({
        "id": stored.key,
        "connection_id": c.connection_id,
        "provider_config_key": c.provider_config_key,
        "provider": c.provider,
        "errors": [],
        "end_user": profile.end_user,
        "metadata": c.metadata,
        "tags": profile.tags,
        "connection_config": c.connection_config,
        "webhook_url_override": null,
        "created_at": api_time(&c.created_at),
        "updated_at": api_time(&c.updated_at),
        "last_fetched_at": profile.last_fetched_at.as_ref().map(api_time),
    });
    if let (Some(credentials), Value::Object(map)) = (credentials, &mut out) {
        map.insert("credentials".into(), credentials);
    }
    out
}

/// Credentials in Nango's shapes. Nango's `raw` is the provider's token response, which is not
/// kept here: `raw` holds the token fields that are (see the README).
fn credentials_json(credentials: &Credentials, with_refresh_token: bool) -> Value {
    match credentials {
        Credentials::None => json!({"type": "NONE"}),
        // A bearer token is an API key to Nango (`Bearer ${apiKey}`).
        Credentials::ApiKey { api_key: key } | Credentials::Bearer { token: key } => {
            json!({"type": "API_KEY", "apiKey": key.expose()})
        }
        Credentials::Basic { username, password } => {
            json!({"type": "BASIC", "username": username, "password": password.expose()})
        }
        Credentials::OAuth2 { access_token, refresh_token, expires_at, client_id, client_secret } => {
            let mut raw = Map::new();
            raw.insert("access_token".into(), access_token.expose().into());
            raw.insert("token_type".into(), "bearer".into());
            let mut out = Map::new();
            out.insert("type".into(), "OAUTH2".into());
            out.insert("access_token".into(), access_token.expose().into());
            if let (true, Some(refresh)) = (with_refresh_token, refresh_token) {
                out.insert("refresh_token".into(), refresh.expose().into());
                raw.insert("refresh_token".into(), refresh.expose().into());
            }
            if let Some(at) = expires_at {
                out.insert("expires_at".into(), api_time(at).into());
                raw.insert("expires_at".into(), api_time(at).into());
            }
            if client_id.is_some() || client_secret.is_some() {
                out.insert(
                    "config_override".into(),
                    json!({"client_id": client_id, "client_secret": client_secret.as_ref().map(|s| s.expose())}),
                );
            }
            out.insert("raw".into(), Value::Object(raw));
            Value::Object(out)
        }
    }
}

/// Filters of `GET /connections`.
#[derive(Debug, Default)]
struct ListQuery {
    connection_id: Option<String>,
    search: Option<String>,
    end_user_id: Option<String>,
    end_user_organization_id: Option<String>,
    integrations: Option<Vec<String>>,
    tags: BTreeMap<String, String>,
    limit: Option<usize>,
    page: usize,
}

const LIST_PARAMS: [&str; 8] =
    ["connectionId", "search", "endUserId", "endUserOrganizationId", "integrationId", "tags[<key>]", "limit", "page"];

impl ListQuery {
    fn parse(raw: Option<&str>) -> ApiResult<ListQuery> {
        let mut q = ListQuery::default();
        let bad = |m: String| ApiError::bad_request("invalid_query_params", m);
        for (name, value) in query_pairs(raw) {
            let nonempty = |value: String| {
                if value.is_empty() || value.len() > 255 {
                    Err(bad(format!("`{name}` must be 1 to 255 characters")))
                } else {
                    Ok(value)
                }
            };
            match name.as_str() {
                "connectionId" => q.connection_id = Some(nonempty(value)?),
                "search" => q.search = Some(nonempty(value)?.to_lowercase()),
                "endUserId" => q.end_user_id = Some(nonempty(value)?),
                "endUserOrganizationId" => q.end_user_organization_id = Some(nonempty(value)?),
                "integrationId" => {
                    let keys = value.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
                    q.integrations = Some(keys);
                }
                "limit" => {
                    let limit = value.parse::<usize>().ok().filter(|l| (1..=10_000).contains(l));
                    q.limit = Some(
                        limit.ok_or_else(|| bad(format!("`limit` must be a number from 1 to 10000, not `{value}`")))?,
                    );
                }
                "page" => {
                    q.page =
                        value.parse().map_err(|_| bad(format!("`page` must be a number from 0, not `{value}`")))?;
                }
                other => match other.strip_prefix("tags[").and_then(|k| k.strip_suffix(']')) {
                    Some(key) if !key.is_empty() => {
                        q.tags.insert(key.to_lowercase(), value);
                    }
                    _ => return Err(unknown_param(other, &LIST_PARAMS)),
                },
            }
        }
        Ok(q)
    }

    fn matches(&self, c: &Connection, profile: &ConnectionProfile) -> bool {
        let user = profile.end_user.as_ref();
        let organization = user.and_then(|u| u.organization.as_ref());
        let contains = |text: Option<&str>, needle: &str| text.is_some_and(|t| t.to_lowercase().contains(needle));
        self.connection_id.as_ref().is_none_or(|id| *id == c.connection_id)
            && self.integrations.as_ref().is_none_or(|keys| keys.contains(&c.provider_config_key))
            && self.end_user_id.as_ref().is_none_or(|id| user.is_some_and(|u| u.id == *id))
            && self.end_user_organization_id.as_ref().is_none_or(|id| organization.is_some_and(|o| o.id == *id))
            && self.search.as_ref().is_none_or(|needle| {
                contains(Some(&c.connection_id), needle)
                    || contains(user.map(|u| u.id.as_str()), needle)
                    || contains(user.and_then(|u| u.email.as_deref()), needle)
                    || contains(user.and_then(|u| u.display_name.as_deref()), needle)
            })
            && self.tags.iter().all(|(key, value)| profile.tags.get(key) == Some(value))
    }
}

/// `GET /connections` (and the deprecated `GET /connection`): the connections the filters pick,
/// never with credentials; those whose credentials do not open are listed too, with the reason
/// in `errors`.
pub(super) async fn list(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let query = ListQuery::parse(raw.as_deref())?;
    let profiles = state.store().connection_profiles().await?;
    let connections = state.store().connections().await?.listed();
    let auth_errors = state.store().auth_errors().await?;
    let matching = connections.iter().filter_map(|listed| {
        let profile = profiles.get(&listed.key()).cloned().unwrap_or_default();
        query.matches(listed.connection(), &profile).then(|| {
            let needs_reauth = auth_errors.get(&listed.key()).map(String::as_str);
            connection_summary(listed.key(), listed.connection(), &profile, listed.unreadable_reason(), needs_reauth)
        })
    });
    let page: Vec<Value> = match query.limit {
        Some(limit) => matching.skip(query.page.saturating_mul(limit)).take(limit).collect(),
        None => matching.collect(),
    };
    Ok(Json(json!({ "connections": page })))
}

/// `provider_config_key=` of the routes of one connection, with the other parameters a route
/// accepts (`extra`).
fn key_and_flags(raw: Option<&str>, extra: &[&str]) -> ApiResult<(String, BTreeMap<String, bool>)> {
    let mut key = None;
    let mut flags = BTreeMap::new();
    for (name, value) in query_pairs(raw) {
        if name == "provider_config_key" {
            key = Some(value);
        } else if extra.contains(&name.as_str()) {
            let flag = boolean(&name, &value)?;
            flags.insert(name, flag);
        } else {
            let mut known = vec!["provider_config_key"];
            known.extend_from_slice(extra);
            return Err(unknown_param(&name, &known));
        }
    }
    let key = key.filter(|k| !k.is_empty()).ok_or_else(|| {
        ApiError::bad_request("invalid_query_params", "`provider_config_key` is required: the connection's integration")
    })?;
    Ok((key, flags))
}

/// `GET /connections/{id}?provider_config_key=&force_refresh=&refresh_token=`: the connection
/// with its credentials (the secret key is what guards them). OAuth tokens about to expire are
/// refreshed first, and always with `force_refresh=true`; the refresh token is included only
/// with `refresh_token=true`. `refresh_github_app_jwt_token` is accepted: there are no GitHub
/// App connections here. A connection whose credentials do not open is a 409
/// `unreadable_credentials` with the reason (`GET /connections` lists it with that error).
pub(super) async fn get_one(
    State(state): State<Arc<AppState>>,
    Path(connection_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let (pck, flags) =
        key_and_flags(raw.as_deref(), &["force_refresh", "refresh_token", "refresh_github_app_jwt_token"])?;
    valid_connection_id(&connection_id, "invalid_uri_params", "connection_id")?;
    let stored = known_connection(&state, &pck, &connection_id).await?;
    let force = flags.get("force_refresh").copied().unwrap_or(false);
    let credentials = match &stored.connection.credentials {
        Credentials::OAuth2 { .. } => {
            let runtime = state.scheduler.runtime();
            let client = runtime
                .http_client(&stored, runtime.http_options().clone())
                .map_err(|e| ApiError::bad_request("invalid_connection", nango_types::text::error_chain(&e)))?;
            client
                .fresh_credentials(force)
                .await
                .map_err(|e| ApiError::bad_request("invalid_credentials", e.to_string()))?
        }
        other => other.clone(),
    };
    state.store().mark_fetched(stored.key).await?;
    let profile = state.store().connection_profile(stored.key).await?.unwrap_or_default();
    let with_refresh_token = flags.get("refresh_token").copied().unwrap_or(false);
    Ok(Json(connection_full(&stored, &profile, Some(credentials_json(&credentials, with_refresh_token)))))
}

/// `DELETE /connections/{id}?provider_config_key=`: the connection with its records, state and
/// runs; `{"success": true}`.
pub(super) async fn delete_one(
    State(state): State<Arc<AppState>>,
    Path(connection_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let (pck, _) = key_and_flags(raw.as_deref(), &[])?;
    valid_connection_id(&connection_id, "invalid_uri_params", "connection_id")?;
    // No credentials read: a connection whose credentials do not open can be deleted too.
    let key = known_connection_key(&state, &pck, &connection_id).await?;
    refuse_while_running(&state, key, &pck, &connection_id)?;
    let deleted = state.store().delete_connection(&pck, &connection_id).await?;
    Ok(Json(json!({ "success": deleted })))
}

/// A 409 when a sync of the connection (`key`, `connection_id` of `pck`) is running (deleting
/// its rows under it would fail it).
pub(super) fn refuse_while_running(
    state: &AppState,
    key: ConnectionKey,
    pck: &str,
    connection_id: &str,
) -> ApiResult<()> {
    for sync in registered_syncs().filter(|s| s.descriptor.integration == pck) {
        if state.scheduler.is_running(key, sync.descriptor.name) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "sync_running",
                format!(
                    "sync `{}` is running for connection `{connection_id}`; pause it and retry",
                    sync.descriptor.name
                ),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchBody {
    #[serde(default)]
    end_user: Option<EndUser>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    webhook_url_override: Option<String>,
}

/// Checks tags and writes their keys in lower case; the problem names the tag.
pub(super) fn valid_tags(tags: &BTreeMap<String, String>) -> ApiResult<BTreeMap<String, String>> {
    let bad = |m: String| ApiError::bad_request("invalid_body", m);
    if tags.len() > MAX_TAGS {
        return Err(bad(format!("`tags`: at most {MAX_TAGS} tags, not {}", tags.len())));
    }
    let mut out = BTreeMap::new();
    for (key, value) in tags {
        let key_ok = (1..=64).contains(&key.len())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if !key_ok {
            return Err(bad(format!("`tags.{key}`: a tag name is 1 to 64 letters, digits, `_`, `-`, `.` or `:`")));
        }
        if value.is_empty() || value.len() > 255 {
            return Err(bad(format!("`tags.{key}`: a tag value is 1 to 255 characters")));
        }
        out.insert(key.to_lowercase(), value.clone());
    }
    Ok(out)
}

/// The tags an end user brings (Nango's `end_user_*` and `organization_*` tags, then the user's
/// own), for the keys `explicit` tags do not set.
pub(super) fn with_end_user_tags(
    mut tags: BTreeMap<String, String>,
    explicit: &BTreeMap<String, String>,
    user: &EndUser,
) -> BTreeMap<String, String> {
    let organization = user.organization.as_ref();
    let derived = [
        ("end_user_id", Some(user.id.as_str())),
        ("end_user_email", user.email.as_deref()),
        ("end_user_display_name", user.display_name.as_deref()),
        ("organization_id", organization.map(|o| o.id.as_str())),
        ("organization_display_name", organization.and_then(|o| o.display_name.as_deref())),
    ];
    let own = user.tags.iter().flatten().map(|(k, v)| (k.to_lowercase(), v.as_str()));
    for (key, value) in derived.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).chain(own) {
        if !explicit.contains_key(&key) && !value.is_empty() {
            tags.insert(key, value.to_owned());
        }
    }
    tags
}

/// `PATCH /connections/{id}?provider_config_key=` with `{end_user?, tags?}`: replaces the tags
/// and sets the end user (whose id, email and name also become tags, as in Nango).
/// `webhook_url_override` is refused: webhooks go to the service's URLs.
pub(super) async fn patch_one(
    State(state): State<Arc<AppState>>,
    Path(connection_id): Path<String>,
    RawQuery(raw): RawQuery,
    Body(body): Body<PatchBody>,
) -> ApiResult<Json<Value>> {
    let (pck, _) = key_and_flags(raw.as_deref(), &[])?;
    if body.webhook_url_override.is_some() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "`webhook_url_override`: per-connection webhook URLs are not supported here; webhooks go to NANGO_WEBHOOK_URL",
        ));
    }
    valid_connection_id(&connection_id, "invalid_uri_params", "connection_id")?;
    let key = known_connection_key(&state, &pck, &connection_id).await?;
    let profile = state.store().connection_profile(key).await?.unwrap_or_default();
    let explicit = body.tags.as_ref().map(valid_tags).transpose()?;
    let mut tags = explicit.clone().unwrap_or(profile.tags);
    let end_user = body.end_user.or(profile.end_user);
    if let Some(user) = &end_user {
        tags = with_end_user_tags(tags, &explicit.unwrap_or_default(), user);
    }
    let tags = valid_tags(&tags)?;
    state.store().set_connection_profile(key, &tags, end_user.as_ref()).await?;
    Ok(Json(json!({"success": true})))
}

/// One connection id or several.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MetadataBody {
    connection_id: OneOrMany,
    provider_config_key: String,
    metadata: Map<String, Value>,
}

/// The keys of the connections a metadata body names; none is changed if one is unknown.
async fn metadata_targets(state: &AppState, body: &MetadataBody) -> ApiResult<Vec<crate::store::ConnectionKey>> {
    let ids = match &body.connection_id {
        OneOrMany::One(id) => vec![id.clone()],
        OneOrMany::Many(ids) => ids.clone(),
    };
    if ids.is_empty() || ids.iter().any(String::is_empty) || body.provider_config_key.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "`connection_id` (one id or a non-empty list of ids) and `provider_config_key` must not be empty",
        ));
    }
    for id in &ids {
        valid_connection_id(id, "invalid_body", "connection_id")?;
    }
    let mut keys = Vec::with_capacity(ids.len());
    for id in &ids {
        let key = state.store().connection_key(&body.provider_config_key, id).await?.ok_or_else(|| {
            let none = if ids.len() > 1 { "; no connection was changed" } else { "" };
            ApiError::not_found(
                "unknown_connection",
                format!("no connection `{id}` for integration `{}`{none}", body.provider_config_key),
            )
        })?;
        keys.push(key);
    }
    Ok(keys)
}

/// `POST /connections/metadata {connection_id, provider_config_key, metadata}`: replaces the
/// metadata of one connection or a list (all or none); 201 with the body.
pub(super) async fn set_metadata(
    State(state): State<Arc<AppState>>,
    Body(body): Body<MetadataBody>,
) -> ApiResult<impl IntoResponse> {
    let keys = metadata_targets(&state, &body).await?;
    state.store().replace_metadata(&keys, &Value::Object(body.metadata.clone())).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// `PATCH /connections/metadata`: merges the given keys into the metadata (a shallow merge, as
/// Nango); 200 with the body.
pub(super) async fn update_metadata(
    State(state): State<Arc<AppState>>,
    Body(body): Body<MetadataBody>,
) -> ApiResult<Json<MetadataBody>> {
    let keys = metadata_targets(&state, &body).await?;
    state.store().merge_metadata(&keys, &Value::Object(body.metadata.clone())).await?;
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn credentials_take_nangos_shapes_and_keep_refresh_tokens_back() {
        let oauth = Credentials::OAuth2 {
            access_token: Secret::new("at"),
            refresh_token: Some(Secret::new("rt")),
            expires_at: None,
            client_id: None,
            client_secret: None,
        };
        let shown = credentials_json(&oauth, false);
        assert_eq!(
            shown,
            json!({"type": "OAUTH2", "access_token": "at", "raw": {"access_token": "at", "token_type": "bearer"}})
        );
        assert_eq!(credentials_json(&oauth, true)["refresh_token"], "rt");
        assert_eq!(
            credentials_json(&Credentials::Bearer { token: Secret::new("t") }, false),
            json!({"type": "API_KEY", "apiKey": "t"})
        );
    }

    #[test]
    fn tags_are_checked_and_end_users_bring_theirs() {
        let mut tags = BTreeMap::new();
        tags.insert("Team".to_owned(), "core".to_owned());
        let tags = valid_tags(&tags).unwrap();
        assert_eq!(tags.get("team").map(String::as_str), Some("core"));
        let user: EndUser =
            serde_json::from_value(json!({"id": "u1", "email": "a@b.c", "tags": {"plan": "pro"}})).unwrap();
        let explicit = BTreeMap::from([("end_user_email".to_owned(), "kept@b.c".to_owned())]);
        let merged = with_end_user_tags(explicit.clone(), &explicit, &user);
        assert_eq!(merged["end_user_id"], "u1");
        assert_eq!(merged["end_user_email"], "kept@b.c");
        assert_eq!(merged["plan"], "pro");
        let mut bad = BTreeMap::new();
        bad.insert("a b".to_owned(), "x".to_owned());
        assert!(valid_tags(&bad).unwrap_err().message.contains("`tags.a b`"));
    }
}
