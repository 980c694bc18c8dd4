#![no_main]
//! Any query string of `GET /records` gives a query within its bounds or a 400 naming what is
//! wrong, never a panic or a hang.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The server hands the handler the raw query as text; form decoding copes with any of it.
    let raw = String::from_utf8_lossy(data);
    match nango_runtime::server::parse_records_query(&raw) {
        Ok(query) => {
            assert!((1..=10_000).contains(&query.limit), "limit {}", query.limit);
            assert!(query.ids.len() <= 100 && query.ids.iter().all(|id| !id.is_empty() && id.len() <= 256));
            assert!(!query.model.is_empty() && query.model.len() <= 255);
            assert!(query.cursor.as_ref().is_none_or(|c| !c.is_empty() && c.len() <= 1000));
        }
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "{}", e.message);
            assert!(!e.message.is_empty());
        }
    }
});
