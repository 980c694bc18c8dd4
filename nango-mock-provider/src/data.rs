//! The issues: generated from their number, plus a small overlay of changes.
//!
//! Issue `i` of the `base` issues has `created_at = updated_at = EPOCH + i minutes` and is closed
//! when `i % 3 == 0`; title, body, author, labels and comment count come from a hash of `i`. An
//! update or an addition stores the issue's metadata in `overlay` with an `updated_at` strictly
//! after every timestamp so far, so:
//!
//! * creation order is number order (added issues are created after every base issue), and
//! * update order is "base issues not in the overlay, by number" followed by "overlay issues by
//!   `updated_at`".
//!
//! Listings count and locate base issues arithmetically (minus the few numbers the overlay or the
//! deleted set shadow), so a page costs O(page + overlay), whatever the number of issues.

use std::borrow::Cow;
use std::cmp::{max, min};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use crate::issue::{Fields, Issue, Place};

/// 2024-01-01T00:00:00Z: base issue `i` was created and last updated `i` minutes after it.
pub(crate) const EPOCH: i64 = 1_704_067_200;
/// Seconds between two base issues.
pub(crate) const STEP: i64 = 60;

/// Which issues a listing wants by state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateFilter {
    Open,
    Closed,
    All,
}

impl StateFilter {
    fn accepts(self, closed: bool) -> bool {
        match self {
            StateFilter::Open => !closed,
            StateFilter::Closed => closed,
            StateFilter::All => true,
        }
    }
}

/// The order of a listing, ascending; the handler reverses it for `direction=desc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// By number, which is also creation order.
    Number,
    /// By `updated_at`.
    Updated,
}

/// What a listing keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filter {
    pub(crate) state: StateFilter,
    /// Unix seconds: only issues with `updated_at >= since`.
    pub(crate) since: Option<i64>,
}

/// The metadata of an issue that can change; the rest is generated from its number.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    title: Option<String>,
    closed: bool,
    created_at: i64,
    updated_at: i64,
    closed_at: Option<i64>,
}

/// The issues of a mock server.
#[derive(Debug)]
pub(crate) struct Store {
    /// Issues `1..=base` are generated.
    base: u64,
    /// The highest number given so far.
    last: u64,
    /// Updated base issues and every added issue (not deleted ones).
    overlay: BTreeMap<u64, Meta>,
    /// `updated_at → number` for the overlay (timestamps are unique).
    by_updated: BTreeMap<i64, u64>,
    deleted: BTreeSet<u64>,
    /// Base numbers that the overlay or the deleted set take out of the arithmetic.
    shadowed: BTreeSet<u64>,
    /// The latest `updated_at` of any issue, ever.
    max_updated: i64,
}

fn base_closed(number: u64) -> bool {
    number.is_multiple_of(3)
}

/// How many numbers in `a..=b` (a ≥ 1) have base state accepted by `state`.
fn count_state(a: u64, b: u64, state: StateFilter) -> u64 {
    if b < a {
        return 0;
    }
    let closed = b / 3 - (a - 1) / 3;
    match state {
        StateFilter::All => b - a + 1,
        StateFilter::Closed => closed,
        StateFilter::Open => b - a + 1 - closed,
    }
}

impl Store {
    /// `issues` generated issues, numbered from 1.
    pub(crate) fn new(issues: u64) -> Self {
        Store {
            base: issues,
            last: issues,
            overlay: BTreeMap::new(),
            by_updated: BTreeMap::new(),
            deleted: BTreeSet::new(),
            shadowed: BTreeSet::new(),
            max_updated: EPOCH + STEP * issues as i64,
        }
    }

    /// Whether issue `number` exists (was created and not deleted).
    pub(crate) fn exists(&self, number: u64) -> bool {
        number >= 1 && number <= self.last && !self.deleted.contains(&number)
    }

    /// Whether issue `number` was deleted.
    pub(crate) fn is_deleted(&self, number: u64) -> bool {
        self.deleted.contains(&number)
    }

    /// How many issues exist.
    pub(crate) fn len(&self) -> u64 {
        self.last - self.deleted.len() as u64
    }

    fn meta(&self, number: u64) -> Option<Cow<'_, Meta>> {
        if !self.exists(number) {
            return None;
        }
        if let Some(meta) = self.overlay.get(&number) {
            return Some(Cow::Borrowed(meta));
        }
        let at = EPOCH + STEP * number as i64;
        let closed = base_closed(number);
        Some(Cow::Owned(Meta { title: None, closed, created_at: at, updated_at: at, closed_at: closed.then_some(at) }))
    }

    /// The next `updated_at`: now, or one second after the latest so far if that is later.
    fn next_timestamp(&mut self) -> i64 {
        let at = max(chrono::Utc::now().timestamp(), self.max_updated + 1);
        self.max_updated = at;
        at
    }

    fn put(&mut self, number: u64, meta: Meta) {
        if let Some(old) = self.overlay.insert(number, meta.clone()) {
            self.by_updated.remove(&old.updated_at);
        }
        self.by_updated.insert(meta.updated_at, number);
        if number <= self.base {
            self.shadowed.insert(number);
        }
    }

    /// Changes the title and/or state of issue `number` and bumps its `updated_at`; false when it
    /// does not exist.
    pub(crate) fn update(&mut self, number: u64, title: Option<String>, closed: Option<bool>) -> bool {
        let Some(mut meta) = self.meta(number).map(Cow::into_owned) else {
            return false;
        };
        let at = self.next_timestamp();
        if title.is_some() {
            meta.title = title;
        }
        if let Some(closed) = closed {
            if closed && !meta.closed {
                meta.closed_at = Some(at);
            } else if !closed {
                meta.closed_at = None;
            }
            meta.closed = closed;
        }
        meta.updated_at = at;
        self.put(number, meta);
        true
    }

    /// Deletes issue `number`; false when it does not exist.
    pub(crate) fn delete(&mut self, number: u64) -> bool {
        if !self.exists(number) {
            return false;
        }
        if let Some(old) = self.overlay.remove(&number) {
            self.by_updated.remove(&old.updated_at);
        }
        self.deleted.insert(number);
        if number <= self.base {
            self.shadowed.insert(number);
        }
        true
    }

    /// Adds `count` open issues created now; returns their numbers.
    pub(crate) fn add(&mut self, count: u64) -> RangeInclusive<u64> {
        let first = self.last + 1;
        for _ in 0..count {
            let at = self.next_timestamp();
            self.last += 1;
            let meta = Meta { title: None, closed: false, created_at: at, updated_at: at, closed_at: None };
            self.put(self.last, meta);
        }
        first..=self.last
    }

    /// Adds one open issue with this title, created now; returns its number.
    pub(crate) fn create(&mut self, title: String) -> u64 {
        let at = self.next_timestamp();
        self.last += 1;
        let meta = Meta { title: Some(title), closed: false, created_at: at, updated_at: at, closed_at: None };
        self.put(self.last, meta);
        self.last
    }

    /// The first base number that `filter.since` keeps.
    fn base_start(&self, filter: Filter) -> u64 {
        match filter.since {
            None => 1,
            Some(since) => {
                let minutes = (since - EPOCH).div_euclid(STEP) + i64::from((since - EPOCH).rem_euclid(STEP) > 0);
                max(minutes, 1) as u64
            }
        }
    }

    fn base_accepts(&self, number: u64, filter: Filter) -> bool {
        filter.state.accepts(base_closed(number)) && !self.shadowed.contains(&number)
    }

    /// How many listed base issues have a number ≤ `x` (`start` from [`Self::base_start`]).
    fn base_count_upto(&self, filter: Filter, start: u64, x: u64) -> u64 {
        let end = min(x, self.base);
        if end < start {
            return 0;
        }
        let shadowed = self.shadowed.range(start..=end).filter(|&&n| filter.state.accepts(base_closed(n))).count();
        count_state(start, end, filter.state) - shadowed as u64
    }

    /// The next listed base issue at or after `*cursor`, moving the cursor past it.
    fn next_base(&self, filter: Filter, cursor: &mut u64) -> Option<u64> {
        while *cursor <= self.base {
            let number = *cursor;
            *cursor += 1;
            if self.base_accepts(number, filter) {
                return Some(number);
            }
        }
        None
    }

    fn overlay_accepts(meta: &Meta, filter: Filter) -> bool {
        filter.state.accepts(meta.closed) && filter.since.is_none_or(|since| meta.updated_at >= since)
    }

    /// The listed overlay issues by number.
    fn overlay_by_number(&self, filter: Filter) -> Vec<u64> {
        self.overlay.iter().filter(|(_, meta)| Self::overlay_accepts(meta, filter)).map(|(&n, _)| n).collect()
    }

    /// The listed overlay issues by `updated_at`.
    fn overlay_by_updated(&self, filter: Filter) -> Vec<u64> {
        self.by_updated
            .range(filter.since.unwrap_or(i64::MIN)..)
            .filter(|(_, n)| self.overlay.get(n).is_some_and(|meta| Self::overlay_accepts(meta, filter)))
            .map(|(_, &n)| n)
            .collect()
    }

    /// Smallest `x` in `1..=hi` with `count(x) > position`, for a non-decreasing `count`.
    fn search(hi: u64, position: u64, count: impl Fn(u64) -> u64) -> u64 {
        let (mut lo, mut hi) = (1, max(hi, 1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if count(mid) > position {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// Up to `len` listed issues in number order, starting with the first one ≥ `from`; the
    /// overlay part is `overlay` (from [`Self::overlay_by_number`]).
    fn walk_by_number(&self, filter: Filter, overlay: &[u64], from: u64, len: usize) -> Vec<u64> {
        let mut out = Vec::with_capacity(len);
        let mut cursor = max(from, self.base_start(filter));
        let mut base = self.next_base(filter, &mut cursor);
        let mut index = overlay.partition_point(|&n| n < from);
        while out.len() < len {
            match (base, overlay.get(index)) {
                (Some(b), Some(&o)) if b < o => {
                    out.push(b);
                    base = self.next_base(filter, &mut cursor);
                }
                (_, Some(&o)) => {
                    out.push(o);
                    index += 1;
                }
                (Some(b), None) => {
                    out.push(b);
                    base = self.next_base(filter, &mut cursor);
                }
                (None, None) => break,
            }
        }
        out
    }

    /// The listed issues at positions `start..start + len` of the listing in `order`, reversed
    /// when `descending`, and how many issues the whole listing has.
    pub(crate) fn select(
        &self,
        filter: Filter,
        order: Order,
        descending: bool,
        start: u64,
        len: u64,
    ) -> (Vec<u64>, u64) {
        let base_start = self.base_start(filter);
        let base_total = self.base_count_upto(filter, base_start, self.base);
        let overlay = match order {
            Order::Number => self.overlay_by_number(filter),
            Order::Updated => self.overlay_by_updated(filter),
        };
        let total = base_total + overlay.len() as u64;
        if start >= total || len == 0 {
            return (Vec::new(), total);
        }
        let end = min(start.saturating_add(len), total);
        let (from, to) = if descending { (total - end, total - start) } else { (start, end) };
        let count = (to - from) as usize;
        let mut numbers = match order {
            Order::Number => {
                let first = Self::search(self.last, from, |x| {
                    self.base_count_upto(filter, base_start, x) + overlay.partition_point(|&n| n <= x) as u64
                });
                self.walk_by_number(filter, &overlay, first, count)
            }
            Order::Updated => {
                let mut numbers = Vec::with_capacity(count);
                if from < base_total {
                    let first = Self::search(self.base, from, |x| self.base_count_upto(filter, base_start, x));
                    let mut cursor = max(first, base_start);
                    while (numbers.len() as u64) < min(to, base_total) - from {
                        match self.next_base(filter, &mut cursor) {
                            Some(number) => numbers.push(number),
                            None => break,
                        }
                    }
                }
                let skip = from.saturating_sub(base_total) as usize;
                let take = count - numbers.len();
                numbers.extend(overlay.iter().skip(skip).take(take));
                numbers
            }
        };
        if descending {
            numbers.reverse();
        }
        (numbers, total)
    }

    /// Up to `len` listed issues with a number greater than `after`, in number order, and whether
    /// more follow.
    pub(crate) fn after(&self, filter: Filter, after: u64, len: usize) -> (Vec<u64>, bool) {
        let overlay = self.overlay_by_number(filter);
        let mut numbers = self.walk_by_number(filter, &overlay, after.saturating_add(1), len.saturating_add(1));
        let more = numbers.len() > len;
        numbers.truncate(len);
        (numbers, more)
    }

    /// The JSON of issue `number` as GitHub would show it, when it exists.
    pub(crate) fn issue<'a>(&'a self, number: u64, place: &'a Place<'a>) -> Option<Issue<'a>> {
        let meta = match self.meta(number)? {
            Cow::Borrowed(meta) => Fields {
                title: meta.title.as_deref(),
                closed: meta.closed,
                created_at: meta.created_at,
                updated_at: meta.updated_at,
                closed_at: meta.closed_at,
            },
            Cow::Owned(meta) => Fields {
                title: None,
                closed: meta.closed,
                created_at: meta.created_at,
                updated_at: meta.updated_at,
                closed_at: meta.closed_at,
            },
        };
        Some(Issue::new(number, meta, place))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Filter = Filter { state: StateFilter::All, since: None };

    /// Every listing, computed the slow way.
    fn naive(store: &Store, filter: Filter, order: Order) -> Vec<u64> {
        let mut numbers: Vec<(i64, u64)> = (1..=store.last)
            .filter_map(|n| store.meta(n).map(|meta| (n, meta.into_owned())))
            .filter(|(_, meta)| filter.state.accepts(meta.closed) && filter.since.is_none_or(|s| meta.updated_at >= s))
            .map(|(n, meta)| (if order == Order::Number { n as i64 } else { meta.updated_at }, n))
            .collect();
        numbers.sort();
        numbers.into_iter().map(|(_, n)| n).collect()
    }

    fn check(store: &Store) {
        for state in [StateFilter::All, StateFilter::Open, StateFilter::Closed] {
            for since in [None, Some(EPOCH), Some(EPOCH + STEP * 7 + 1), Some(EPOCH + STEP * 40), Some(i64::MAX / 2)] {
                let filter = Filter { state, since };
                for order in [Order::Number, Order::Updated] {
                    let expected = naive(store, filter, order);
                    for len in [1, 7, 100] {
                        for descending in [false, true] {
                            let mut all: Vec<u64> = Vec::new();
                            let mut start = 0;
                            loop {
                                let (page, total) = store.select(filter, order, descending, start, len);
                                assert_eq!(total, expected.len() as u64);
                                if page.is_empty() {
                                    break;
                                }
                                all.extend(page);
                                start += len;
                            }
                            let mut wanted = expected.clone();
                            if descending {
                                wanted.reverse();
                            }
                            assert_eq!(all, wanted, "{filter:?} {order:?} len {len} desc {descending}");
                        }
                    }
                    if order == Order::Number {
                        let mut all: Vec<u64> = Vec::new();
                        let mut after = 0;
                        loop {
                            let (page, more) = store.after(filter, after, 6);
                            all.extend(&page);
                            if !more {
                                break;
                            }
                            after = *page.last().unwrap();
                        }
                        assert_eq!(all, expected);
                    }
                }
            }
        }
    }

    #[test]
    fn listings_match_a_naive_implementation() {
        let mut store = Store::new(50);
        check(&store);
        assert!(store.update(10, Some("Renamed".into()), Some(true)));
        assert!(store.update(3, None, Some(false)));
        assert!(store.update(44, None, None));
        assert!(store.delete(20));
        assert!(store.delete(21));
        assert!(!store.delete(21));
        assert_eq!(store.add(5), 51..=55);
        assert!(store.update(52, None, Some(true)));
        assert!(store.delete(53));
        assert!(store.update(10, None, None));
        assert_eq!(store.len(), 52);
        check(&store);
        assert!(Store::new(0).select(ALL, Order::Number, false, 0, 10).0.is_empty());
    }

    #[test]
    fn updates_are_after_every_timestamp() {
        let mut store = Store::new(100_000_000);
        let last_base = EPOCH + STEP * 100_000_000;
        store.update(1, None, None);
        assert_eq!(store.overlay[&1].updated_at, last_base + 1);
        store.update(1, None, None);
        assert_eq!(store.overlay[&1].updated_at, last_base + 2);
    }

    #[test]
    fn issues_have_a_realistic_size() {
        let store = Store::new(1000);
        let place = Place::new("http://127.0.0.1:3004", "octocat", "hello-world");
        let sizes: Vec<usize> = (1..=1000)
            .map(|n| {
                let mut out = Vec::new();
                store.issue(n, &place).unwrap().write(&mut out);
                out.len()
            })
            .collect();
        let average = sizes.iter().sum::<usize>() / sizes.len();
        assert!((1000..=2500).contains(&average), "{average}");
    }
}
