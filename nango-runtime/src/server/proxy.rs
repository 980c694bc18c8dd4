//! `/proxy/*`: Nango's "make authenticated requests to the API from your backend". The request
//! goes to the connection's provider through the same HTTP client syncs use (base URL,
//! credentials, retries, rate limits, OAuth refresh), and the provider's answer comes back as it
//! is, status and errors included.
//!
//! Headers, as Nango's proxy takes them: `Connection-Id` and `Provider-Config-Key` (required),
//! `Retries` (default 0, as Nango; at most 10), `Retry-On` (more statuses to retry, comma
//! separated), `Base-Url-Override`, and `Nango-Proxy-<Name>` forwarded as `<Name>`; the body is
//! forwarded with its `Content-Type`. `Decompress`, `Forward-Headers-On-Redirect` and Nango's
//! `Nango-Activity-Log-Id`/`Nango-Is-*` headers are accepted and have no effect (answers are
//! passed on as received, and redirects are never followed).
//!
//! What it refuses to do: send a request outside the provider's base URL (a path with `.` or
//! `..` segments, or one that resolves elsewhere, is a 400), follow a redirect (a 3xx is a 502
//! naming the `Location`: credentials never go to another host), or give back the credentials
//! it put on the request (any credential of the connection in the answer's headers or body is
//! replaced by `***`).

use super::extract::RawBody;
use super::params::{connection_headers, header, known_connection};
use super::{ApiError, ApiResult, AppState};
use crate::http::HttpError;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Most retries a request may ask for.
const MAX_RETRIES: u32 = 10;

/// Response headers that describe one hop, or that another host must not set on ours.
const NOT_PASSED_ON: [&str; 11] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "set-cookie",
];

fn bad_header(message: String) -> ApiError {
    ApiError::bad_request("invalid_headers", message)
}

/// `%XX` decoded (bytes that do not decode stay as they are).
fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The provider path of a proxy request (what follows `/proxy`, with its query), refused when a
/// segment could climb out of the base URL: `.`, `..` (also percent-encoded) or an encoded `/`
/// or `\`.
fn provider_path(uri: &Uri) -> ApiResult<String> {
    let path = uri.path().strip_prefix("/proxy").unwrap_or("");
    for segment in path.split('/') {
        let decoded = percent_decode(segment);
        if decoded == b"." || decoded == b".." || decoded.contains(&b'/') || decoded.contains(&b'\\') {
            return Err(ApiError::bad_request(
                "invalid_proxy_path",
                format!(
                    "the path segment `{segment}` would leave the provider's base URL; proxy paths are relative to it and cannot climb out"
                ),
            ));
        }
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok(match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    })
}

/// The proxy's settings from Nango's headers.
struct Settings {
    retries: u32,
    retry_on: Vec<u16>,
    base_url_override: Option<String>,
}

/// `serving_at`: where this service listens, which `Base-Url-Override` may not name.
fn settings(headers: &HeaderMap, serving_at: std::net::SocketAddr) -> ApiResult<Settings> {
    let retries =
        match header(headers, "retries") {
            None => 0,
            Some(text) => text.parse::<u32>().ok().filter(|r| *r <= MAX_RETRIES).ok_or_else(|| {
                bad_header(format!("`Retries` must be a number from 0 to {MAX_RETRIES}, not `{text}`"))
            })?,
        };
    let retry_on = match header(headers, "retry-on") {
        None => Vec::new(),
        Some(text) => text
            .split(',')
            .map(|code| code.trim().parse::<u16>().ok().filter(|c| (100..=599).contains(c)))
            .collect::<Option<Vec<u16>>>()
            .ok_or_else(|| bad_header(format!("`Retry-On` must be HTTP statuses separated by commas, not `{text}`")))?,
    };
    let base_url_override = match header(headers, "base-url-override") {
        None => None,
        Some(url) => {
            // The checks of a connection's base URL: http(s) with a host, and not this service.
            crate::check_base_url(url, Some(serving_at))
                .map_err(|e| bad_header(format!("`Base-Url-Override`: {}", e.problem)))?;
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| bad_header(format!("`Base-Url-Override`: `{url}` is not a URL ({e})")))?;
            Some(parsed.to_string())
        }
    };
    if let Some(value) = header(headers, "decompress")
        && !matches!(value, "true" | "false")
    {
        return Err(bad_header(format!("`Decompress` must be true or false, not `{value}`")));
    }
    Ok(Settings { retries, retry_on, base_url_override })
}

/// Whether `url` is under `base`: same scheme, host and port, and a path that starts with the
/// base's path.
fn is_under(url: &reqwest::Url, base: &str) -> bool {
    let Ok(base) = reqwest::Url::parse(base) else { return false };
    let prefix = base.path().trim_end_matches('/');
    url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
        && (url.path() == prefix || url.path().starts_with(&format!("{prefix}/")))
}

/// The answer for a request that did not get one from the provider.
fn proxy_error(error: HttpError) -> ApiError {
    let message = error.to_string();
    match error {
        HttpError::Redirect { .. } => ApiError::new(StatusCode::BAD_GATEWAY, "redirect_not_followed", message),
        HttpError::Timeout { .. } => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "proxy_timeout", message),
        HttpError::InvalidCredentials { .. } => ApiError::bad_request("invalid_credentials", message),
        HttpError::WaitTooLong { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "provider_rate_limited", message),
        HttpError::InvalidRequest { .. } => ApiError::bad_request("invalid_request", message),
        // What the connection holds does not fill the provider's templates (base URL, headers,
        // query): a conflict with the stored connection, which no request can fix.
        HttpError::Config { .. } => ApiError::new(StatusCode::CONFLICT, "invalid_connection_config", message),
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "proxy_error", message),
    }
}

/// Any method on `/proxy/*`.
pub(super) async fn proxy(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let (pck, connection_id) = connection_headers(&headers)?;
    let settings = settings(&headers, state.addr)?;
    let endpoint = provider_path(&uri)?;
    let stored = known_connection(&state, pck, connection_id).await?;
    let runtime = state.scheduler.runtime();
    let options = runtime.http_options().clone().max_retries(settings.retries);
    let client = runtime
        .http_client(&stored, options)
        .map_err(|e| ApiError::bad_request("invalid_connection", nango_types::text::error_chain(&e)))?;
    let mut request = client.request(method, endpoint).any_status();
    for code in &settings.retry_on {
        request = request.retry_on(*code);
    }
    if let Some(base) = &settings.base_url_override {
        request = request.base_url(base.clone());
    }
    for (name, value) in &headers {
        let Some(forwarded) = name.as_str().strip_prefix("nango-proxy-") else { continue };
        if let Ok(value) = value.to_str() {
            request = request.header(forwarded, value);
        }
    }
    if !body.is_empty() {
        if let Some(content_type) = header(&headers, "content-type") {
            request = request.header("content-type", content_type);
        }
        request = request.body(body.to_vec());
    }
    let base = settings.base_url_override.as_deref().or(client.base_url()).map(str::to_owned);
    let url = request.url().map_err(proxy_error)?;
    if !base.as_deref().is_some_and(|base| is_under(&url, base)) {
        return Err(ApiError::bad_request(
            "invalid_proxy_path",
            format!("the request would go to {url}, outside the provider's base URL"),
        ));
    }
    let answer = request.send().await.map_err(proxy_error)?;
    let mut response = Response::new(axum::body::Body::from(client.scrub_bytes(answer.bytes())));
    *response.status_mut() = answer.status();
    for (name, value) in answer.headers() {
        if NOT_PASSED_ON.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(&client.scrub_bytes(value.as_bytes())),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_climb_out_are_refused() {
        for path in ["/proxy/a/../b", "/proxy/%2e%2E/x", "/proxy/a/%2F..%2Fb", "/proxy/./x", "/proxy/a%5c..%5cb"] {
            let uri: Uri = path.parse().unwrap();
            let e = provider_path(&uri).unwrap_err();
            assert_eq!(e.code, "invalid_proxy_path", "{path}");
        }
        let uri: Uri = "/proxy/repos/a/b/issues?per_page=5".parse().unwrap();
        assert_eq!(provider_path(&uri).unwrap(), "/repos/a/b/issues?per_page=5");
        let uri: Uri = "/proxy/..a/b.".parse().unwrap();
        assert_eq!(provider_path(&uri).unwrap(), "/..a/b.");
    }

    #[test]
    fn urls_stay_under_their_base() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(is_under(&url("http://h:1/api/v3/x"), "http://h:1/api/v3"));
        assert!(is_under(&url("http://h:1/api/v3"), "http://h:1/api/v3/"));
        assert!(!is_under(&url("http://h:1/api/v30"), "http://h:1/api/v3"));
        assert!(!is_under(&url("http://h:2/api/v3/x"), "http://h:1/api/v3"));
        assert!(!is_under(&url("http://evil/api/v3/x"), "http://h/api/v3"));
        assert!(is_under(&url("https://api.github.com/user"), "https://api.github.com"));
    }
}
