//! Pagination settings: the provider's `proxy.paginate` and the per-call [`Pagination`], merged
//! and checked into the one configuration a [`Paginate`](super::Paginate) walks by, with Nango's
//! messages.

use crate::providers::PaginationConfig;
use reqwest::Method;

/// The pagination styles.
///
/// ```
/// use nango_runtime::http::PaginationType;
/// assert_eq!(PaginationType::from("cursor"), PaginationType::Cursor);
/// assert_eq!(PaginationType::from("seek").as_str(), "seek");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaginationType {
    /// The response carries a cursor sent back with the next request.
    Cursor,
    /// The response carries the next page's URL (`Link` header or a body field).
    Link,
    /// The request says how many items to skip.
    Offset,
    /// The request says which page (1, 2, 3, ...). Not in Nango, which uses `offset` with
    /// `per-page` for it.
    Page,
    /// Any other name: rejected when the pages are fetched, with Nango's message.
    Other(String),
}

impl PaginationType {
    /// The name as in providers.yaml (`cursor`, `link`, `offset`, `page`).
    pub fn as_str(&self) -> &str {
        match self {
            PaginationType::Cursor => "cursor",
            PaginationType::Link => "link",
            PaginationType::Offset => "offset",
            PaginationType::Page => "page",
            PaginationType::Other(other) => other,
        }
    }
}

impl From<&str> for PaginationType {
    fn from(name: &str) -> Self {
        match name.trim() {
            "cursor" => PaginationType::Cursor,
            "link" => PaginationType::Link,
            "offset" => PaginationType::Offset,
            "page" => PaginationType::Page,
            other => PaginationType::Other(other.to_owned()),
        }
    }
}

/// How an offset moves from one page to the next.
///
/// ```
/// use nango_runtime::http::{OffsetCalculation, Pagination};
/// let p = Pagination::offset("page_index").per_page();
/// assert_eq!(p.offset_calculation_method, Some(OffsetCalculation::PerPage));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetCalculation {
    /// By the number of items received (`by-response-size`, the default).
    #[default]
    ByResponseSize,
    /// By one per page (`per-page`).
    PerPage,
}

/// Pagination settings: the provider's `proxy.paginate` in typed form, or a per-call override.
///
/// Every field is optional because a per-call value is merged over the provider's, field by field
/// (Nango's shallow merge); [`Paginate`](super::Paginate) checks the result with Nango's messages.
///
/// ```
/// use nango_runtime::http::{Pagination, PaginationType};
/// use nango_runtime::providers::PaginationConfig;
///
/// let per_call = Pagination::cursor("starting_after", "meta.next").limit(50).limit_name_in_request("limit");
/// assert_eq!(per_call.kind, Some(PaginationType::Cursor));
///
/// let mut provider = PaginationConfig { kind: "offset".into(), ..Default::default() };
/// provider.params.insert("offset_name_in_request".into(), "skip".into());
/// provider.params.insert("limit".into(), "100".into());
/// let typed = Pagination::try_from(&provider).unwrap();
/// assert_eq!((typed.offset_name_in_request.as_deref(), typed.limit), (Some("skip"), Some(100)));
///
/// let merged = Pagination::default().response_path("data").merged_over(&typed);
/// assert_eq!((merged.kind, merged.response_path.as_deref()), (Some(PaginationType::Offset), Some("data")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pagination {
    /// `type`.
    pub kind: Option<PaginationType>,
    /// Items per page, sent as `limit_name_in_request`.
    pub limit: Option<u64>,
    /// The parameter the limit goes in.
    pub limit_name_in_request: Option<String>,
    /// Dotted path of the items in the body (`data.items`, `results[0].rows`); default: the body.
    pub response_path: Option<String>,
    /// Whether the pagination parameters go in the JSON body rather than the query; default:
    /// true for POST, PUT and PATCH. Dotted names become nested objects.
    pub in_body: Option<bool>,
    /// `cursor`: the parameter the cursor goes in.
    pub cursor_name_in_request: Option<String>,
    /// `cursor`: dotted path of the next cursor in the body.
    pub cursor_path_in_response: Option<String>,
    /// `link`: the `rel` of the next page in the `Link` header (`next`).
    pub link_rel_in_response_header: Option<String>,
    /// `link`: dotted path of the next page's URL in the body.
    pub link_path_in_response_body: Option<String>,
    /// `offset`: the parameter the offset goes in.
    pub offset_name_in_request: Option<String>,
    /// `offset`: the first offset (default 0).
    pub offset_start_value: Option<u64>,
    /// `offset`: how the offset grows.
    pub offset_calculation_method: Option<OffsetCalculation>,
    /// `page`: the parameter the page number goes in (default `page`).
    pub page_name_in_request: Option<String>,
    /// `page`: the first page (default 1).
    pub page_start_value: Option<u64>,
}

impl Pagination {
    /// Cursor pagination.
    pub fn cursor(cursor_name_in_request: impl Into<String>, cursor_path_in_response: impl Into<String>) -> Self {
        Pagination {
            kind: Some(PaginationType::Cursor),
            cursor_name_in_request: Some(cursor_name_in_request.into()),
            cursor_path_in_response: Some(cursor_path_in_response.into()),
            ..Pagination::default()
        }
    }

    /// Link pagination by the `Link` header's `rel` (usually `next`).
    pub fn link_header(rel: impl Into<String>) -> Self {
        Pagination {
            kind: Some(PaginationType::Link),
            link_rel_in_response_header: Some(rel.into()),
            ..Pagination::default()
        }
    }

    /// Link pagination by a URL in the body.
    pub fn link_body(path: impl Into<String>) -> Self {
        Pagination {
            kind: Some(PaginationType::Link),
            link_path_in_response_body: Some(path.into()),
            ..Pagination::default()
        }
    }

    /// Offset pagination (by response size; see [`per_page`](Self::per_page)).
    pub fn offset(offset_name_in_request: impl Into<String>) -> Self {
        Pagination {
            kind: Some(PaginationType::Offset),
            offset_name_in_request: Some(offset_name_in_request.into()),
            ..Pagination::default()
        }
    }

    /// Page-number pagination, from page 1.
    pub fn page(page_name_in_request: impl Into<String>) -> Self {
        Pagination {
            kind: Some(PaginationType::Page),
            page_name_in_request: Some(page_name_in_request.into()),
            ..Pagination::default()
        }
    }

    /// Sets [`limit`](Self::limit).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets [`limit_name_in_request`](Self::limit_name_in_request).
    pub fn limit_name_in_request(mut self, name: impl Into<String>) -> Self {
        self.limit_name_in_request = Some(name.into());
        self
    }

    /// Sets [`response_path`](Self::response_path).
    pub fn response_path(mut self, path: impl Into<String>) -> Self {
        self.response_path = Some(path.into());
        self
    }

    /// Sets [`in_body`](Self::in_body).
    pub fn in_body(mut self, in_body: bool) -> Self {
        self.in_body = Some(in_body);
        self
    }

    /// Offsets grow by one per page (`per-page`).
    pub fn per_page(mut self) -> Self {
        self.offset_calculation_method = Some(OffsetCalculation::PerPage);
        self
    }

    /// Sets [`offset_start_value`](Self::offset_start_value).
    pub fn offset_start_value(mut self, start: u64) -> Self {
        self.offset_start_value = Some(start);
        self
    }

    /// Sets [`page_start_value`](Self::page_start_value).
    pub fn page_start_value(mut self, start: u64) -> Self {
        self.page_start_value = Some(start);
        self
    }

    /// These settings over `base`: each field set here wins (a shallow merge, as Nango does with
    /// the provider's `proxy.paginate` and the call's `paginate`).
    pub fn merged_over(self, base: &Pagination) -> Pagination {
        let base = base.clone();
        Pagination {
            kind: self.kind.or(base.kind),
            limit: self.limit.or(base.limit),
            limit_name_in_request: self.limit_name_in_request.or(base.limit_name_in_request),
            response_path: self.response_path.or(base.response_path),
            in_body: self.in_body.or(base.in_body),
            cursor_name_in_request: self.cursor_name_in_request.or(base.cursor_name_in_request),
            cursor_path_in_response: self.cursor_path_in_response.or(base.cursor_path_in_response),
            link_rel_in_response_header: self.link_rel_in_response_header.or(base.link_rel_in_response_header),
            link_path_in_response_body: self.link_path_in_response_body.or(base.link_path_in_response_body),
            offset_name_in_request: self.offset_name_in_request.or(base.offset_name_in_request),
            offset_start_value: self.offset_start_value.or(base.offset_start_value),
            offset_calculation_method: self.offset_calculation_method.or(base.offset_calculation_method),
            page_name_in_request: self.page_name_in_request.or(base.page_name_in_request),
            page_start_value: self.page_start_value.or(base.page_start_value),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == Pagination::default()
    }
}

impl TryFrom<&PaginationConfig> for Pagination {
    type Error = String;

    /// Reads providers.yaml's `proxy.paginate` (whose values are strings); unknown keys (Nango's
    /// `on_page`...) are ignored, numbers and booleans are checked.
    fn try_from(config: &PaginationConfig) -> Result<Self, String> {
        let p = &config.params;
        let text = |key: &str| p.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let number = |key: &str| -> Result<Option<u64>, String> {
            text(key)
                .map(|v| v.parse::<u64>().map_err(|_| format!("Param {key} must be a number, not `{v}`")))
                .transpose()
        };
        let in_body = match text("in_body").as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => return Err(format!("Param in_body must be true or false, not `{other}`")),
        };
        let offset_calculation_method = match text("offset_calculation_method").as_deref() {
            None => None,
            Some("by-response-size") => Some(OffsetCalculation::ByResponseSize),
            Some("per-page") => Some(OffsetCalculation::PerPage),
            Some(other) => {
                return Err(format!(
                    "Param offset_calculation_method must be by-response-size or per-page, not `{other}`"
                ));
            }
        };
        Ok(Pagination {
            kind: Some(config.kind.as_str()).filter(|k| !k.trim().is_empty()).map(PaginationType::from),
            limit: number("limit")?,
            limit_name_in_request: text("limit_name_in_request"),
            response_path: text("response_path"),
            in_body,
            cursor_name_in_request: text("cursor_name_in_request"),
            cursor_path_in_response: text("cursor_path_in_response"),
            link_rel_in_response_header: text("link_rel_in_response_header"),
            link_path_in_response_body: text("link_path_in_response_body"),
            offset_name_in_request: text("offset_name_in_request"),
            offset_start_value: number("offset_start_value")?,
            offset_calculation_method,
            page_name_in_request: text("page_name_in_request"),
            page_start_value: number("page_start_value")?,
        })
    }
}

/// A checked pagination configuration.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub style: Style,
    /// The limit parameter's name and value.
    pub limit: Option<(String, u64)>,
    pub response_path: String,
    pub in_body: bool,
}

/// A style with the names and starting values it needs.
#[derive(Debug, Clone)]
pub(crate) enum Style {
    Cursor { name: String, path: String },
    Link { rel: Option<String>, body_path: Option<String> },
    Offset { name: String, start: u64, per_page: bool },
    Page { name: String, start: u64 },
}

/// Nango's checks and messages (plus `page`).
fn resolve(config: &Pagination, method: &Method) -> Result<Resolved, String> {
    let kind = config.kind.as_ref().ok_or("Pagination type is required")?;
    let required = |value: &Option<String>, name: &str| {
        value.clone().ok_or_else(|| format!("Param {name} is required for {} pagination", kind.as_str()))
    };
    let style = match kind {
        PaginationType::Cursor => Style::Cursor {
            name: required(&config.cursor_name_in_request, "cursor_name_in_request")?,
            path: required(&config.cursor_path_in_response, "cursor_path_in_response")?,
        },
        PaginationType::Link => {
            if config.link_rel_in_response_header.is_none() && config.link_path_in_response_body.is_none() {
                return Err("Either param link_rel_in_response_header or link_path_in_response_body is required \
                            for link pagination"
                    .into());
            }
            Style::Link {
                rel: config.link_rel_in_response_header.clone(),
                body_path: config.link_path_in_response_body.clone(),
            }
        }
        PaginationType::Offset => Style::Offset {
            name: required(&config.offset_name_in_request, "offset_name_in_request")?,
            start: config.offset_start_value.unwrap_or(0),
            per_page: config.offset_calculation_method == Some(OffsetCalculation::PerPage),
        },
        PaginationType::Page => Style::Page {
            name: config.page_name_in_request.clone().unwrap_or_else(|| "page".into()),
            start: config.page_start_value.unwrap_or(1),
        },
        PaginationType::Other(other) => {
            return Err(format!(
                "Pagination type {other} is not supported. \
                 Only cursor, link, offset and page pagination types are supported."
            ));
        }
    };
    let limit = match config.limit {
        None => None,
        Some(limit) => Some((
            config.limit_name_in_request.clone().ok_or_else(|| {
                format!("Param limit_name_in_request is required for {} pagination when limit is set", kind.as_str())
            })?,
            limit,
        )),
    };
    let in_body = config.in_body.unwrap_or(matches!(*method, Method::POST | Method::PUT | Method::PATCH));
    Ok(Resolved { style, limit, response_path: config.response_path.clone().unwrap_or_default(), in_body })
}

const NO_CONFIGURATION: &str = "There was no pagination configuration for this integration or configuration passed in.";

/// The configuration a walk uses: `overrides` merged over the provider's `proxy.paginate`, then
/// checked. The error is the message of an [`HttpError::Pagination`](super::HttpError).
pub(crate) fn settle(
    provider: Option<&PaginationConfig>,
    overrides: &Pagination,
    method: &Method,
) -> Result<Resolved, String> {
    let provider = match provider {
        Some(config) => Pagination::try_from(config).map_err(|e| format!("provider proxy.paginate: {e}"))?,
        None => Pagination::default(),
    };
    if provider.is_empty() && overrides.is_empty() {
        return Err(NO_CONFIGURATION.into());
    }
    resolve(&overrides.clone().merged_over(&provider), method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nango_validation_messages() {
        let get = Method::GET;
        let err = |p: Pagination| resolve(&p, &get).unwrap_err();
        assert_eq!(err(Pagination::default().limit(3)), "Pagination type is required");
        let mut cursor = Pagination::cursor("c", "p");
        cursor.cursor_name_in_request = None;
        assert_eq!(err(cursor), "Param cursor_name_in_request is required for cursor pagination");
        let mut cursor = Pagination::cursor("c", "p");
        cursor.cursor_path_in_response = None;
        assert_eq!(err(cursor), "Param cursor_path_in_response is required for cursor pagination");
        assert_eq!(
            err(Pagination::cursor("c", "p").limit(5)),
            "Param limit_name_in_request is required for cursor pagination when limit is set"
        );
        assert_eq!(
            err(Pagination { kind: Some(PaginationType::Link), ..Pagination::default() }),
            "Either param link_rel_in_response_header or link_path_in_response_body is required for link pagination"
        );
        assert_eq!(
            err(Pagination { kind: Some(PaginationType::Offset), ..Pagination::default() }),
            "Param offset_name_in_request is required for offset pagination"
        );
        assert_eq!(
            err(Pagination { kind: Some("seek".into()), ..Pagination::default() }),
            "Pagination type seek is not supported. Only cursor, link, offset and page pagination types are supported."
        );
        assert!(resolve(&Pagination::page("p"), &Method::POST).unwrap().in_body);
        assert!(!resolve(&Pagination::page("p").in_body(false), &Method::POST).unwrap().in_body);

        let config = PaginationConfig { kind: "offset".into(), params: [("limit".to_owned(), "x".to_owned())].into() };
        assert_eq!(Pagination::try_from(&config).unwrap_err(), "Param limit must be a number, not `x`");
    }
}
