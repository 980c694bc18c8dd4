//! A page of records as the backends read it: whose records, its rows borrowed from the
//! database's, and what the rows are gathered into (the records themselves, or the records
//! API's body written straight from the rows).

use super::error::During;
use super::{
    ConnectionKey, MetadataRef, PageJson, RecordMetadata, RecordPage, StoreResult, StoredRecord, encode_cursor,
    from_micros,
};

/// Whose records a page reads: a connection's key, or its integration key and connection id
/// (looked up in the page's own statement).
#[derive(Debug, Clone)]
pub(crate) enum PageOf {
    Key(ConnectionKey),
    Name(String, String),
}

/// A row of a page, borrowed from the statement (or from sqlx's copy of it).
pub(crate) struct PageRow<'r> {
    pub(crate) pk: i64,
    pub(crate) id: &'r str,
    pub(crate) json: &'r str,
    pub(crate) first_seen_at: i64,
    pub(crate) last_modified_at: i64,
    pub(crate) last_action: &'r str,
    pub(crate) deleted_at: Option<i64>,
    pub(crate) pruned_at: Option<i64>,
    pub(crate) seq: i64,
}

/// Gives `sink` the first `limit` of `rows`, a page's rows as sqlx read them (on either backend,
/// columns by position as [`PageRow`] lists them); more rows than `limit` mean a next page.
pub(crate) fn gather_sqlx_rows<R: sqlx::Row, S: PageSink>(
    rows: &[R],
    limit: usize,
    mut sink: S,
    operation: &'static str,
) -> StoreResult<S::Page>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    for row in rows.iter().take(limit) {
        let row_of = || -> sqlx::Result<PageRow<'_>> {
            Ok(PageRow {
                pk: row.try_get(0)?,
                id: row.try_get(1)?,
                json: row.try_get(2)?,
                first_seen_at: row.try_get(3)?,
                last_modified_at: row.try_get(4)?,
                last_action: row.try_get(5)?,
                deleted_at: row.try_get(6)?,
                pruned_at: row.try_get(7)?,
                seq: row.try_get(8)?,
            })
        };
        sink.row(&row_of().during(operation)?);
    }
    Ok(sink.finish(rows.len() > limit))
}

impl PageRow<'_> {
    /// Its records-API cursor.
    fn cursor(&self) -> String {
        encode_cursor(self.last_modified_at, self.seq, self.pk)
    }
}

/// What a page's rows are gathered into: the records themselves, or the API's body.
pub(crate) trait PageSink {
    /// What the page becomes.
    type Page;
    /// One of the page's rows (at most `limit` of them, in order).
    fn row(&mut self, row: &PageRow<'_>);
    /// The page; `more` when a row came after the last one given.
    fn finish(self, more: bool) -> Self::Page;
}

/// The rows as [`StoredRecord`]s.
#[derive(Default)]
pub(crate) struct Records(Vec<StoredRecord>);

impl PageSink for Records {
    type Page = RecordPage;

    fn row(&mut self, row: &PageRow<'_>) {
        self.0.push(StoredRecord {
            id: row.id.to_owned(),
            json: row.json.to_owned(),
            metadata: RecordMetadata {
                first_seen_at: from_micros(row.first_seen_at),
                last_modified_at: from_micros(row.last_modified_at),
                last_action: row.last_action.to_owned(),
                deleted_at: row.deleted_at.map(from_micros),
                pruned_at: row.pruned_at.map(from_micros),
                cursor: row.cursor(),
            },
        });
    }

    fn finish(self, more: bool) -> RecordPage {
        let records = self.0;
        let next_cursor = if more { records.last().map(|r| r.metadata.cursor.clone()) } else { None };
        RecordPage { records, next_cursor }
    }
}

/// The rows as the records API's body ([`RecordPage::to_api_json`] of the page, written
/// without building the page).
pub(crate) struct Body {
    page: PageJson,
    last_cursor: Option<String>,
}

impl Body {
    /// For a page of at most `limit` records.
    pub(crate) fn new(limit: usize) -> Body {
        // About 500 bytes a record (the metadata alone is about 300); the buffer grows if not.
        Body { page: PageJson::with_capacity(limit.min(1000) * 512 + 64), last_cursor: None }
    }
}

impl PageSink for Body {
    type Page = String;

    fn row(&mut self, row: &PageRow<'_>) {
        let cursor = row.cursor();
        let metadata = MetadataRef {
            first_seen_at: from_micros(row.first_seen_at),
            last_modified_at: from_micros(row.last_modified_at),
            last_action: row.last_action,
            deleted_at: row.deleted_at.map(from_micros),
            pruned_at: row.pruned_at.map(from_micros),
            cursor: &cursor,
        };
        self.page.record(row.json, &metadata);
        self.last_cursor = Some(cursor);
    }

    fn finish(self, more: bool) -> String {
        let next = if more { self.last_cursor.as_deref() } else { None };
        self.page.finish(next)
    }
}
