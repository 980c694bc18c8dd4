//! Walking the pages of a list endpoint ([`Paginate`]), with Nango's `cursor`, `link` and
//! `offset` styles plus page numbers: a [`RequestBuilder`] sent once per page with the
//! pagination parameters added.

use super::error::HttpError;
use super::pagination::{Pagination, Resolved, Style, settle};
use super::request::RequestBuilder;
use super::response::{decode_slice, decode_value};
use super::session::Body;
use futures_util::Stream;
use reqwest::header::LINK;
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::marker::PhantomData;
use std::time::Duration;

/// What the next call fetches.
#[derive(Debug, Clone)]
enum Next {
    First,
    Cursor(String),
    Url(Url),
    Offset(u64),
    Page(u64),
    Done,
}

/// The pages of a list endpoint, fetched one request at a time: by
/// [`next_page`](Paginate::next_page) or as a [`Stream`] ([`into_stream`](Paginate::into_stream)).
///
/// The configuration is the provider's `proxy.paginate` with the per-call settings
/// ([`pagination`](Self::pagination), [`limit`](Self::limit),
/// [`response_path`](Self::response_path)) merged over it. The styles follow Nango:
///
/// * `cursor`: sends the cursor from `cursor_path_in_response` as `cursor_name_in_request`;
///   stops at an empty page or when there is no next cursor (a string, trimmed, or a number).
/// * `link`: follows the `Link` header's `rel` (or a URL in the body); an empty page is still
///   yielded; absolute URLs are used as they are and the first call's query parameters are not
///   sent again (the link carries them); stops without a next link or when it is the page just
///   fetched.
/// * `offset`: sends `offset_name_in_request` from `offset_start_value`, growing by the page's
///   size or by one (`per-page`); stops at an empty page or a page shorter than `limit`.
/// * `page` (ours): sends the page number (`page`, from 1); stops like `offset`.
///
/// A cursor or link that comes back after having been used is an error after the page that
/// carried it, rather than an endless loop.
///
/// ```no_run
/// # async fn demo(client: nango_runtime::http::HttpClient) -> Result<(), nango_runtime::http::HttpError> {
/// use nango_runtime::http::Pagination;
///
/// #[derive(serde::Deserialize)]
/// struct Customer { id: String }
///
/// let mut pages = client
///     .paginate::<Customer>("/v1/customers")
///     .pagination(Pagination::cursor("starting_after", "data[-1].id"))
///     .response_path("data")
///     .limit(100);
/// while let Some(customers) = pages.next_page().await? {
///     println!("{} customers", customers.len());
/// }
/// # Ok(()) }
/// ```
#[must_use = "pages are fetched only when asked for"]
pub struct Paginate<T> {
    /// The caller's request: each page is it, plus the pagination parameters.
    request: RequestBuilder,
    /// The per-call settings, merged over the provider's when the first page is fetched.
    overrides: Pagination,
    resolved: Option<Resolved>,
    next: Next,
    /// Cursors and links already used, for the loop guard.
    seen: HashSet<u128>,
    /// An error to report on the next call, after the page that revealed it.
    pending_error: Option<HttpError>,
    _items: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Paginate<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = self.request.parts();
        f.debug_struct("Paginate")
            .field("method", &parts.method)
            .field("endpoint", &parts.endpoint)
            .field("pagination", &self.overrides)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> Paginate<T> {
    /// The pages of `request`.
    pub(crate) fn new(request: RequestBuilder) -> Self {
        Paginate {
            request,
            overrides: Pagination::default(),
            resolved: None,
            next: Next::First,
            seen: HashSet::new(),
            pending_error: None,
            _items: PhantomData,
        }
    }

    /// Merges `pagination` over the settings so far (and so over the provider's).
    pub fn pagination(mut self, pagination: Pagination) -> Self {
        self.overrides = pagination.merged_over(&self.overrides);
        self
    }

    /// Items per page (sent as `limit_name_in_request`).
    pub fn limit(mut self, limit: u64) -> Self {
        self.overrides.limit = Some(limit);
        self
    }

    /// Dotted path of the items in the body (`data.items`).
    pub fn response_path(mut self, path: impl Into<String>) -> Self {
        self.overrides.response_path = Some(path.into());
        self
    }

    /// The method (GET by default); with POST, PUT or PATCH the pagination parameters go in the
    /// JSON body unless [`Pagination::in_body`] says otherwise.
    pub fn method(mut self, method: Method) -> Self {
        self.request.parts_mut().method = method;
        self
    }

    /// Adds a query parameter to the first request (and to every request of the `cursor`,
    /// `offset` and `page` styles), as [`RequestBuilder::query`].
    pub fn query(self, name: impl Into<String>, value: impl ToString) -> Self {
        self.with_request(|request| request.query(name, value))
    }

    /// Adds query parameters, as [`query`](Self::query).
    pub fn queries<K: Into<String>, V: ToString>(self, pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        self.with_request(|request| request.queries(pairs))
    }

    /// Sets a header on every request, as [`RequestBuilder::header`].
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_request(|request| request.header(name, value))
    }

    /// A JSON body for every request (pagination parameters are added to it when `in_body`).
    pub fn json<B: Serialize + ?Sized>(self, body: &B) -> Self {
        self.with_request(|request| request.json(body))
    }

    /// Sends to this base URL instead of the connection's or the provider's.
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.with_request(|request| request.base_url(url))
    }

    /// Retries per request, instead of [`HttpOptions::max_retries`](super::HttpOptions::max_retries).
    pub fn retries(self, retries: u32) -> Self {
        self.with_request(|request| request.retries(retries))
    }

    /// Also retries on this status.
    pub fn retry_on(self, status: u16) -> Self {
        self.with_request(|request| request.retry_on(status))
    }

    /// Timeout of each attempt.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with_request(|request| request.timeout(timeout))
    }

    fn with_request(mut self, change: impl FnOnce(RequestBuilder) -> RequestBuilder) -> Self {
        self.request = change(self.request);
        self
    }

    /// The next page; `None` when there are no more. After an error, `None`.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, HttpError> {
        if let Some(error) = self.pending_error.take() {
            self.next = Next::Done;
            return Err(error);
        }
        if matches!(self.next, Next::Done) {
            return Ok(None);
        }
        let result = self.fetch().await;
        if result.is_err() {
            self.next = Next::Done;
        }
        result
    }

    /// The pages as a stream; it ends after the last page or after the first error. The stream
    /// is boxed so that it is `Unpin`: `try_next().await` works on it without pinning.
    pub fn into_stream(self) -> impl Stream<Item = Result<Vec<T>, HttpError>> + Send + Unpin + 'static {
        Box::pin(futures_util::stream::unfold(self, |mut pages| async move {
            match pages.next_page().await {
                Ok(Some(items)) => Some((Ok(items), pages)),
                Ok(None) => None,
                Err(error) => Some((Err(error), pages)),
            }
        }))
    }

    fn resolved(&mut self) -> Result<Resolved, HttpError> {
        if let Some(resolved) = &self.resolved {
            return Ok(resolved.clone());
        }
        let url = self.request.url()?;
        let resolved = settle(self.request.provider_pagination(), &self.overrides, &self.request.parts().method)
            .map_err(|message| HttpError::Pagination { request: self.request.describe(&url), message })?;
        self.next = match resolved.style {
            Style::Offset { start, .. } => Next::Offset(start),
            Style::Page { start, .. } => Next::Page(start),
            Style::Cursor { .. } | Style::Link { .. } => Next::First,
        };
        self.resolved = Some(resolved.clone());
        Ok(resolved)
    }

    /// The request of a page of the `cursor`, `offset` and `page` styles (and the first `link`
    /// page): the caller's, with the limit and `param` in the query or the body.
    fn page_request(&self, resolved: &Resolved, param: Option<(&str, Value)>) -> RequestBuilder {
        let mut request = self.request.duplicate();
        let params = resolved
            .limit
            .iter()
            .map(|(name, limit)| (name.as_str(), Value::from(*limit)))
            .chain(param)
            .collect::<Vec<_>>();
        if params.is_empty() {
            return request;
        }
        let parts = request.parts_mut();
        if resolved.in_body {
            let mut body = match parts.body.take() {
                None => Value::Object(Map::new()),
                Some(Body::Json(value @ Value::Object(_))) => value,
                Some(_) => {
                    parts.error =
                        Some("pagination parameters go in the body (in_body), which must then be a JSON object".into());
                    return request;
                }
            };
            for (name, value) in params {
                set_dotted(&mut body, name, value);
            }
            parts.body = Some(Body::Json(body));
        } else {
            for (name, value) in params {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                parts.query.push((name.to_owned(), text));
            }
        }
        request
    }

    async fn fetch(&mut self) -> Result<Option<Vec<T>>, HttpError> {
        let resolved = self.resolved()?;
        let request = match (&self.next, &resolved.style) {
            (Next::Done, _) => return Ok(None),
            (Next::First, _) => self.page_request(&resolved, None),
            (Next::Cursor(cursor), Style::Cursor { name, .. }) => {
                self.page_request(&resolved, Some((name, Value::String(cursor.clone()))))
            }
            (Next::Offset(n), Style::Offset { name, .. }) | (Next::Page(n), Style::Page { name, .. }) => {
                self.page_request(&resolved, Some((name, Value::from(*n))))
            }
            (Next::Url(url), _) => {
                // The link carries the query; an absolute one needs no base URL.
                let mut request = self.request.duplicate();
                let parts = request.parts_mut();
                parts.endpoint = url.to_string();
                parts.query.clear();
                parts.base_url = None;
                request
            }
            (next, style) => unreachable!("pagination state {next:?} does not belong to {style:?}"),
        };
        let url = request.url()?;
        if matches!(self.next, Next::First) {
            self.seen.insert(xxhash_rust::xxh3::xxh3_128(url.as_str().as_bytes()));
        }
        // The items are the whole body and the style reads nothing else from it (`Link` by
        // header, offset, page): decode straight into the items, without a `Value` in between.
        let items_only = resolved.response_path.is_empty()
            && matches!(
                &resolved.style,
                Style::Link { body_path: None, .. } | Style::Offset { .. } | Style::Page { .. }
            );
        // Parsed inside the retry loop, so that a page cut short is fetched again.
        let (response, parsed) = request
            .send_decoded(|response| {
                let (request, kind, bytes) = (response.request(), response.content_type(), response.bytes());
                if items_only && bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                    decode_slice::<Vec<T>>(request, kind, bytes).map(|items| (Some(items), Value::Null))
                } else {
                    decode_slice::<Value>(request, kind, bytes).map(|body| (None, body))
                }
            })
            .await?;
        let request = response.request().to_owned();
        let (typed, mut body): (Option<Vec<T>>, Value) = parsed;
        let count = match value_at(&body, &resolved.response_path) {
            _ if typed.is_some() => typed.as_ref().map_or(0, |t| t.len() as u64),
            None | Some(Value::Null) => 0,
            Some(Value::Array(items)) => items.len() as u64,
            Some(other) => {
                let at = if resolved.response_path.is_empty() {
                    "the response body".to_owned()
                } else {
                    format!("response_path `{}`", resolved.response_path)
                };
                return Err(HttpError::Pagination {
                    request,
                    message: format!("{at} is {}, not an array of items; set response_path", json_kind(other)),
                });
            }
        };
        let loop_error = |what: &str, value: &str| HttpError::Pagination {
            request: request.clone(),
            message: format!(
                "the response gives a next {what} that was already used ({value}); \
                 stopping instead of fetching the same pages again"
            ),
        };
        match &resolved.style {
            Style::Cursor { path, .. } => {
                if count == 0 {
                    self.next = Next::Done;
                    return Ok(None);
                }
                let cursor = match value_at(&body, path) {
                    Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                self.next = match cursor {
                    None => Next::Done,
                    Some(cursor)
                        if !self.seen.insert(xxhash_rust::xxh3::xxh3_128(format!("cursor:{cursor}").as_bytes())) =>
                    {
                        self.pending_error = Some(loop_error("cursor", &cursor));
                        Next::Done
                    }
                    Some(cursor) => Next::Cursor(cursor),
                };
            }
            Style::Link { rel, body_path } => {
                let header = rel.as_deref().and_then(|rel| next_link(response.headers(), rel));
                let link = header.or_else(|| match value_at(&body, body_path.as_deref()?) {
                    Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                    _ => None,
                });
                self.next = match link.map(|l| url.join(&l).map_err(|e| (l, e))) {
                    None => Next::Done,
                    Some(Err((link, e))) => {
                        return Err(HttpError::Pagination {
                            request,
                            message: format!("invalid next link `{link}`: {e}"),
                        });
                    }
                    // Nango stops when the next link is the page just fetched: some APIs point
                    // the last page at itself.
                    Some(Ok(next)) if next == url => Next::Done,
                    Some(Ok(next)) if !self.seen.insert(xxhash_rust::xxh3::xxh3_128(next.as_str().as_bytes())) => {
                        self.pending_error = Some(loop_error("link", &self.request.describe(&next)));
                        Next::Done
                    }
                    Some(Ok(next)) => Next::Url(next),
                };
            }
            Style::Offset { per_page, .. } => {
                if count == 0 {
                    self.next = Next::Done;
                    return Ok(None);
                }
                let Next::Offset(offset) = self.next else { unreachable!("offset pagination keeps an offset") };
                let short = resolved.limit.as_ref().is_some_and(|(_, limit)| count < *limit);
                self.next = if short { Next::Done } else { Next::Offset(offset + if *per_page { 1 } else { count }) };
            }
            Style::Page { .. } => {
                if count == 0 {
                    self.next = Next::Done;
                    return Ok(None);
                }
                let Next::Page(page) = self.next else { unreachable!("page pagination keeps a page number") };
                let short = resolved.limit.as_ref().is_some_and(|(_, limit)| count < *limit);
                self.next = if short { Next::Done } else { Next::Page(page + 1) };
            }
        }
        if let Some(items) = typed {
            return Ok(Some(items));
        }
        // Taken out of the body rather than cloned: pages can be large.
        let items = match value_at_mut(&mut body, &resolved.response_path) {
            Some(items @ Value::Array(_)) => items.take(),
            _ => Value::Array(Vec::new()),
        };
        decode_value::<Vec<T>>(&request, &resolved.response_path, items).map(Some)
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Splits `a.b[0].c` into `a`, `b`, `0`, `c`.
fn path_segments(path: &str) -> impl Iterator<Item = &str> {
    path.split(['.', '[', ']']).filter(|s| !s.is_empty())
}

/// The value at a dotted path (`data.items`, `results[0].next`, `data[-1].id` for the last item);
/// the whole value for an empty path.
pub(crate) fn value_at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path_segments(path).try_fold(value, |value, segment| match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(array_index(items.len(), segment)?),
        _ => None,
    })
}

/// [`value_at`], mutable.
fn value_at_mut<'a>(value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path_segments(path).try_fold(value, |value, segment| match value {
        Value::Object(map) => map.get_mut(segment),
        Value::Array(items) => {
            let index = array_index(items.len(), segment)?;
            items.get_mut(index)
        }
        _ => None,
    })
}

/// An array index from a path segment; negative ones count from the end (`-1` is the last).
fn array_index(len: usize, segment: &str) -> Option<usize> {
    let index: i64 = segment.parse().ok()?;
    if index < 0 { len.checked_sub(index.unsigned_abs() as usize) } else { Some(index as usize) }
}

/// Sets `value` at a dotted path in a JSON object, creating objects on the way (`page.cursor`
/// becomes `{"page": {"cursor": ...}}`, as Nango does for `in_body`).
fn set_dotted(body: &mut Value, path: &str, value: Value) {
    let mut current = body;
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let map = current.as_object_mut().expect("made an object above");
        if i + 1 == segments.len() {
            map.insert((*segment).to_owned(), value);
            return;
        }
        current = map.entry((*segment).to_owned()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The URL of relation `rel` in `Link` headers (RFC 8288: `<url>; rel="next", <url>; rel="last"`;
/// `rel` may list several relations).
pub(crate) fn next_link(headers: &reqwest::header::HeaderMap, rel: &str) -> Option<String> {
    for value in headers.get_all(LINK) {
        let Ok(value) = value.to_str() else { continue };
        let mut rest = value;
        while let Some(start) = rest.find('<') {
            let end = start + rest[start..].find('>')?;
            let target = &rest[start + 1..end];
            let params_end = rest[end..].find('<').map_or(rest.len(), |i| end + i);
            let params = &rest[end + 1..params_end];
            let matches = params.split(';').any(|param| {
                let Some((name, value)) = param.split_once('=') else { return false };
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case(rel))
            });
            if matches {
                return Some(target.to_owned());
            }
            rest = &rest[params_end..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    #[test]
    fn link_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://api.x.io/i?page=2>; rel="next", <https://api.x.io/i?page=9>; rel="last""#,
            ),
        );
        assert_eq!(next_link(&headers, "next").as_deref(), Some("https://api.x.io/i?page=2"));
        assert_eq!(next_link(&headers, "last").as_deref(), Some("https://api.x.io/i?page=9"));
        assert_eq!(next_link(&headers, "prev"), None);
        let mut headers = HeaderMap::new();
        headers.append(LINK, HeaderValue::from_static("</i?a=1,2>; title=\"x\"; rel=\"prev next\""));
        assert_eq!(next_link(&headers, "next").as_deref(), Some("/i?a=1,2"));
    }

    #[test]
    fn paths() {
        let body = json!({"data": {"items": [1, 2, {"id": "z"}]}, "next": null});
        assert_eq!(value_at(&body, "data.items[1]"), Some(&json!(2)));
        assert_eq!(value_at(&body, "data.items.2.id"), Some(&json!("z")));
        assert_eq!(value_at(&body, "data.items[-1].id"), Some(&json!("z")));
        assert_eq!(value_at(&body, ""), Some(&body));
        assert_eq!(value_at(&body, "data.missing"), None);
        let mut target = json!({"filter": {"a": 1}});
        set_dotted(&mut target, "page.cursor", json!("c"));
        set_dotted(&mut target, "limit", json!(10));
        assert_eq!(target, json!({"filter": {"a": 1}, "page": {"cursor": "c"}, "limit": 10}));
    }
}
