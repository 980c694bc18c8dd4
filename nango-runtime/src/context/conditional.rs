//! Conditional requests of a sync: a page fetched before is asked for with its stored `ETag`
//! (`If-None-Match`), and a `304 Not Modified` answer skips it, going on from where the page led
//! last time. GitHub answers so when nothing in the page changed, and a 304 costs no rate limit.
//!
//! The validators are stored per (connection, sync, request URL) by the host (see
//! [`PageValidator`]); a page's is stored only after the records handed over before
//! [`NangoSync::page_done`] are written, so a page is never skipped whose records were not kept.

use super::{NangoSync, Result};
use crate::SyncDefinition;
use crate::http::{IfNoneMatch, RequestBuilder};
use crate::store::PageValidator;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Validators kept in memory before they are written (with the records before them).
pub(super) const VALIDATORS_PER_WRITE: usize = 100;

/// What [`NangoSync::send_json_if_changed`] got.
#[derive(Debug)]
pub enum PageIfChanged<T, L> {
    /// The page is new or changed: its decoded content, and what to hand to
    /// [`NangoSync::page_done`] once its records are handed over.
    Changed(T, FetchedPage),
    /// The provider answered `304 Not Modified`: nothing in the page changed since it was last
    /// fetched, and its records are stored. Where it led then (`None`: it was the last page).
    Unchanged(Option<L>),
}

/// A page fetched by [`NangoSync::send_json_if_changed`], to hand to [`NangoSync::page_done`].
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedPage {
    url: String,
    etag: Option<String>,
}

impl FetchedPage {
    /// The `ETag` the provider answered with (`None`: it gave none, and the page will be
    /// fetched again next time).
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }
}

impl<S: SyncDefinition> NangoSync<S> {
    /// Sends `request` (a page of a listing) with the `ETag` stored for its URL, if any, as
    /// `If-None-Match`, and decodes a 2xx answer into `T`. A `304 Not Modified` answer is
    /// [`PageIfChanged::Unchanged`] with where the page led when it was fetched (what
    /// [`page_done`](Self::page_done) stored, of type `L`): the run goes on from there without
    /// reading or writing anything of the page.
    ///
    /// The validators are cleared when the sync is reset or its records are deleted, and runs
    /// that end well forget those they did not use. A sync with `track_deletes` never sends a
    /// validator (this sends `request` as it is): the records of a skipped page would not be
    /// marked seen, and the sweep at the end of the run would delete them.
    ///
    /// ```no_run
    /// # async fn demo<S: nango_runtime::SyncDefinition>(nango: &mut nango_runtime::NangoSync<S>) -> nango_runtime::Result<()> {
    /// use nango_runtime::PageIfChanged;
    /// let mut page = Some(1u32);
    /// while let Some(n) = page {
    ///     let request = nango.get("/items").query("page", n);
    ///     match nango.send_json_if_changed::<Vec<serde_json::Value>, u32>(request).await? {
    ///         PageIfChanged::Unchanged(next) => page = next,
    ///         PageIfChanged::Changed(items, fetched) => {
    ///             // ... nango.batch_save(...) the page's records here ...
    ///             let next = (!items.is_empty()).then_some(n + 1);
    ///             nango.page_done(fetched, next.as_ref()).await?;
    ///             page = next;
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_json_if_changed<T: DeserializeOwned, L: DeserializeOwned>(
        &mut self,
        request: RequestBuilder,
    ) -> Result<PageIfChanged<T, L>> {
        let url = request.shown_url()?;
        if S::DESCRIPTOR.track_deletes {
            return Ok(PageIfChanged::Changed(request.send_json().await?, FetchedPage { url, etag: None }));
        }
        // A stored position that does not decode as `L` (the sync's code changed) is no
        // validator: the page is fetched.
        let stored = self.host.page_validator(url.clone()).await?.and_then(|validator| {
            let led_to = validator.led_to.clone().map(serde_json::from_value::<L>).transpose().ok()?;
            Some((validator, led_to))
        });
        let etag = stored.as_ref().map(|(validator, _)| validator.etag.as_str());
        match request.send_json_if_none_match::<T>(etag).await? {
            IfNoneMatch::Modified { value, etag } => Ok(PageIfChanged::Changed(value, FetchedPage { url, etag })),
            IfNoneMatch::NotModified => match stored {
                Some((validator, led_to)) => {
                    // Kept as used by this run, so the end of the run does not forget it.
                    self.keep_validator(validator).await?;
                    Ok(PageIfChanged::Unchanged(led_to))
                }
                None => Err(format!(
                    "{url} answered 304 Not Modified, but no validator of it is stored (an `If-None-Match` header \
                     set by hand?)"
                )
                .into()),
            },
        }
    }

    /// Stores the validator of a page fetched by [`send_json_if_changed`](Self::send_json_if_changed)
    /// with where it led (`None` for the last page), once the records handed over before this
    /// call are written: call it after handing over the page's records. Nothing is stored when
    /// the page had no `ETag` or the sync has `track_deletes`.
    pub async fn page_done<L: Serialize>(&mut self, page: FetchedPage, led_to: Option<&L>) -> Result<()> {
        let FetchedPage { url, etag: Some(etag) } = page else { return Ok(()) };
        if S::DESCRIPTOR.track_deletes {
            return Ok(());
        }
        let led_to = led_to.map(serde_json::to_value).transpose()?;
        self.keep_validator(PageValidator { url, etag, led_to }).await
    }

    /// Keeps a validator to write after the records before it.
    async fn keep_validator(&mut self, validator: PageValidator) -> Result<()> {
        self.validators.push(validator);
        if self.validators.len() >= VALIDATORS_PER_WRITE {
            self.flush().await?;
        }
        Ok(())
    }
}
