//! Reading requests and writing values the way Nango's API does: query strings with every
//! parameter known by name, Nango's boolean strings, its timestamps, and the connection a request
//! names.

use super::{ApiError, ApiResult, AppState};
use crate::store::{ConnectionKey, StoredConnection};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};

/// The pairs of a query string, decoded, in order.
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A query parameter no route of this name takes: a 400 naming it and the ones it takes.
pub(super) fn unknown_param(name: &str, known: &[&str]) -> ApiError {
    ApiError::bad_request(
        "invalid_query_params",
        format!("unknown parameter `{name}`; the parameters are {}", known.join(", ")),
    )
}

/// A boolean as Nango's query strings and headers write it (`true`/`false`, and the `1`/`0`,
/// `yes`/`no`, `on`/`off` its validator also takes); anything else is a 400 naming `name`.
pub(super) fn boolean(name: &str, value: &str) -> ApiResult<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "y" | "enabled" => Ok(true),
        "false" | "0" | "no" | "off" | "n" | "disabled" => Ok(false),
        _ => {
            Err(ApiError::bad_request("invalid_query_params", format!("`{name}` must be true or false, not `{value}`")))
        }
    }
}

/// A timestamp as Nango's API writes connection, integration and sync times (JavaScript's
/// `toISOString`): milliseconds and `Z`.
///
/// (Records' `_nango_metadata` keeps microseconds and `+00:00`, as Nango's records API.)
pub(super) fn api_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A header's value, trimmed; `None` when absent, empty or not text.
pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Refuses a connection id no connection can have ([`crate::check_connection_id`], the one
/// check of ids), before it is looked up: a 400 with `code`, naming where it came from (`name`)
/// and quoting it cut short, as Nango refuses ids outside its characters on every route.
pub(super) fn valid_connection_id(id: &str, code: &'static str, name: &str) -> ApiResult<()> {
    crate::check_connection_id(id).map_err(|e| ApiError::bad_request(code, format!("`{name}`: {}", e.problem)))
}

/// The `Connection-Id` and `Provider-Config-Key` headers, both required, the id one a connection
/// can have (400 `invalid_headers`).
pub(super) fn connection_headers(headers: &HeaderMap) -> ApiResult<(&str, &str)> {
    match (header(headers, "provider-config-key"), header(headers, "connection-id")) {
        (Some(pck), Some(id)) => {
            valid_connection_id(id, "invalid_headers", "Connection-Id")?;
            Ok((pck, id))
        }
        _ => Err(ApiError::bad_request(
            "invalid_headers",
            "the `Connection-Id` and `Provider-Config-Key` headers are required",
        )),
    }
}

/// A connection that does not exist for this integration: 404 `unknown_connection`, on every
/// route (Nango's newer routes; its older ones answer 400).
pub(super) fn no_such_connection(provider_config_key: &str, connection_id: &str) -> ApiError {
    ApiError::not_found(
        "unknown_connection",
        format!("no connection `{connection_id}` for integration `{provider_config_key}`"),
    )
}

/// The connection a request of the newer routes names, with its credentials opened (for the
/// routes that use them): a connection of another integration is a 404, like one that does not
/// exist, so nothing of it shows; one whose credentials do not open is a 409
/// `unreadable_credentials` with the reason.
pub(super) async fn known_connection(
    state: &AppState,
    provider_config_key: &str,
    connection_id: &str,
) -> ApiResult<StoredConnection> {
    state
        .store()
        .connection(provider_config_key, connection_id)
        .await?
        .ok_or_else(|| no_such_connection(provider_config_key, connection_id))
}

/// The key of the connection a request of the newer routes names, for the routes that do not
/// use its credentials (none are read, so a connection whose credentials do not open is found
/// like any other); a 404 as [`known_connection`].
pub(super) async fn known_connection_key(
    state: &AppState,
    provider_config_key: &str,
    connection_id: &str,
) -> ApiResult<ConnectionKey> {
    state
        .store()
        .connection_key(provider_config_key, connection_id)
        .await?
        .ok_or_else(|| no_such_connection(provider_config_key, connection_id))
}

/// A JSON number that is a whole number, as JSON (and so Nango's JavaScript, and JSON Schema's
/// `integer`) counts one: `1000` and `1000.0` alike; a fraction, a number outside `u32` or
/// another type is refused naming what came. For body fields through
/// `#[serde(default, deserialize_with = "whole_number")]`.
pub(super) fn whole_number<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<u32>, D::Error> {
    use serde::Deserialize;
    let Some(number) = Option::<serde_json::Number>::deserialize(de)? else { return Ok(None) };
    let whole = number.as_u64().or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64));
    whole.and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("expected a whole number from 0 to {}, not {number}", u32::MAX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_booleans_are_nangos() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678901Z").unwrap().with_timezone(&Utc);
        assert_eq!(api_time(&t), "2026-01-02T03:04:05.678Z");
        assert!(boolean("force_refresh", "true").unwrap() && !boolean("force_refresh", "FALSE").unwrap());
        let e = boolean("force_refresh", "maybe").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "invalid_query_params"));
        assert!(e.message.contains("`force_refresh`"), "{}", e.message);
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "whole_number")]
            limit: Option<u32>,
        }
        let read = |text: &str| serde_json::from_str::<Body>(text).map(|b| b.limit);
        assert_eq!(read(r#"{"limit": 1214}"#).unwrap(), Some(1214));
        assert_eq!(read(r#"{"limit": 1214.0}"#).unwrap(), Some(1214));
        assert_eq!(read(r#"{"limit": 12e2}"#).unwrap(), Some(1200));
        assert_eq!(read(r#"{"limit": null}"#).unwrap(), None);
        assert_eq!(read("{}").unwrap(), None);
        for bad in [r#"{"limit": 1.5}"#, r#"{"limit": -1}"#, r#"{"limit": 1e20}"#, r#"{"limit": "5"}"#] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
