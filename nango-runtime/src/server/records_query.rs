//! The query string of `GET /records`, read strictly: every parameter known by name, each value
//! checked, and the first problem a 400 naming the parameter. Pure (no store, no I/O), so the
//! cargo-fuzz target `records_query` (`fuzz/`) drives it with any bytes.

use super::{ApiError, ApiResult};
use crate::store::{ActionFilter, RecordQuery};
use chrono::{DateTime, Utc};

/// The longest model name.
const MAX_MODEL_LEN: usize = 255;
/// The longest cursor.
const MAX_CURSOR_LEN: usize = 1000;
/// The most ids, and the longest id.
const MAX_IDS: usize = 100;
const MAX_ID_LEN: usize = 256;
/// The largest page.
pub(super) const MAX_LIMIT: u32 = 10_000;

/// Reads the raw query string of `GET /records` (without the `?`) into the query the store
/// runs; the model must be given. Every problem is a 400 `invalid_query_params` (a cursor that
/// no page gave out: `invalid_cursor_value`) whose message names the parameter and what it
/// takes. The page size is 100 unless `limit` says otherwise.
///
/// ```
/// use nango_runtime::server::parse_records_query;
/// let q = parse_records_query("model=Ticket&limit=10&filter=added,updated").unwrap();
/// assert_eq!((q.model.as_str(), q.limit), ("Ticket", 10));
/// let e = parse_records_query("model=Ticket&limit=0").unwrap_err();
/// assert_eq!((e.status.as_u16(), e.code), (400, "invalid_query_params"));
/// assert!(e.message.contains("`limit`"));
/// ```
pub fn parse_records_query(raw: &str) -> ApiResult<RecordQuery> {
    let mut query = RecordQuery { limit: 100, ..Default::default() };
    let mut model = None;
    let bad = |m: String| ApiError::bad_request("invalid_query_params", m);
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        match name.as_ref() {
            "model" => {
                let valid = value.len() <= MAX_MODEL_LEN
                    && value.starts_with(|c: char| c.is_ascii_alphabetic())
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(bad(format!("`model` must be a model name such as `Ticket`, not `{value}`")));
                }
                model = Some(value.into_owned());
            }
            "variant" if value == "base" => {}
            "variant" => return Err(bad(format!("variant `{value}`: only the `base` variant exists here"))),
            "modified_after" | "delta" => query.modified_after = Some(parse_time(&name, &value)?),
            "limit" => {
                query.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| bad(format!("`limit` must be a number from 1 to {MAX_LIMIT}, not `{value}`")))?;
            }
            "filter" => query.filter = Some(ActionFilter::parse(&value).map_err(bad)?),
            "cursor" => {
                if value.is_empty() || value.len() > MAX_CURSOR_LEN {
                    return Err(bad(format!("`cursor` must be 1 to {MAX_CURSOR_LEN} characters")));
                }
                // Checked here, so a cursor nobody gave out is refused before any lookup.
                crate::store::decode_cursor(&value)?;
                query.cursor = Some(value.into_owned());
            }
            "ids" | "ids[]" => {
                for id in value.split(',').filter(|s| !s.is_empty()) {
                    if id.len() > MAX_ID_LEN {
                        return Err(bad(format!("each of `ids` must be at most {MAX_ID_LEN} characters")));
                    }
                    query.ids.push(id.to_owned());
                }
                if query.ids.len() > MAX_IDS {
                    return Err(bad(format!("at most {MAX_IDS} `ids` per request")));
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown parameter `{other}`; the parameters are model, variant, modified_after, limit, filter, cursor and ids"
                )));
            }
        }
    }
    query.model = model.ok_or_else(|| bad("`model` is required".into()))?;
    Ok(query)
}

/// An ISO 8601 date-time (or a date, meaning its midnight UTC).
fn parse_time(name: &str, value: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value).map(|t| t.with_timezone(&Utc)).or_else(|_| {
        chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_query_params",
                    format!("`{name}` must be an ISO 8601 date-time such as 2026-01-02T10:00:00Z, not `{value}`"),
                )
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_is_checked_by_name() {
        let q = parse_records_query("model=Issue&modified_after=2026-01-02&ids=a,b&ids[]=c&variant=base").unwrap();
        assert_eq!(q.ids, ["a", "b", "c"]);
        assert_eq!(q.modified_after.unwrap().to_rfc3339(), "2026-01-02T00:00:00+00:00");
        for (raw, named) in [
            ("limit=5", "`model` is required"),
            ("model=Issue&limit=10001", "`limit`"),
            ("model=1x", "`model`"),
            ("model=Issue&variant=v2", "variant `v2`"),
            ("model=Issue&delta=yesterday", "`delta`"),
            ("model=Issue&cursor=", "`cursor`"),
            ("model=Issue&nope=1", "unknown parameter `nope`"),
        ] {
            let e = parse_records_query(raw).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{raw}");
            assert!(e.message.contains(named), "{raw}: {}", e.message);
        }
        assert_eq!(parse_records_query("model=Issue&cursor=bm9wZQ==").unwrap_err().code, "invalid_cursor_value");
    }
}
