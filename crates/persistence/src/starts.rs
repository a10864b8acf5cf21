//! Where the pages of a long list begin, learnt from the pages read, so that a later page
//! starts at its first row's key (keyset paging) instead of walking every row before it
//! (`OFFSET`): page 10,000 then costs what page 1 costs. GitHub's `page` parameter stays; the
//! key is found from it.
//!
//! A page reads its own rows and those of the pages it counts ahead ([`crate::Page::window`]),
//! so it learns where each of those pages begins: a client walking a list page after page
//! reads every page but the first from its key, and a page asked again (a poller) from its
//! own. A start is kept per organization, list (with its filter and order) and row offset,
//! under the epochs taken before the read that found it (`changes.rs`), and used only while
//! they are current: any write to the organization, here or in another process, makes every
//! start of it stale, and the next page walks from the offset again. A page nobody has reached
//! yet walks from the offset too.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::changes::{Changes, Stamp};

/// More kept starts than this and all are dropped (the next pages walk from their offsets once).
const MAX_KEPT: usize = 65_536;

/// The id of a page's first row: the page is read from that row's order value and id on.
pub type Start = i64;

/// Organization, list, row offset.
type Key = (i64, String, i64);

/// Page starts kept by organization, list and offset.
#[derive(Debug, Default)]
pub struct KeptStarts {
    kept: Mutex<HashMap<Key, (Stamp, Start)>>,
}

impl KeptStarts {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, (Stamp, Start)>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One organization's list, as one read sees its starts: the epochs taken before the read
/// (`None` while other processes' writes may be missed: nothing is used or kept).
#[derive(Debug)]
pub struct Starts<'a> {
    kept: Option<&'a KeptStarts>,
    stamp: Option<Stamp>,
    org_id: i64,
}

impl<'a> Starts<'a> {
    /// For a read of organization `org_id`'s lists starting now.
    pub(crate) fn new(kept: &'a KeptStarts, changes: &Changes, org_id: i64) -> Self {
        Self {
            kept: Some(kept),
            stamp: changes.stamp(org_id),
            org_id,
        }
    }

    /// Knows no start and keeps none: every page walks from its offset.
    pub fn none() -> Self {
        Self {
            kept: None,
            stamp: None,
            org_id: 0,
        }
    }

    /// The start of the row at `offset` of `list`, if a read under the current epochs found it.
    pub(crate) fn get(&self, list: &str, offset: i64) -> Option<Start> {
        let (kept, stamp) = (self.kept?, self.stamp?);
        let found = kept
            .lock()
            .get(&(self.org_id, list.to_owned(), offset))
            .copied();
        found.and_then(|(at, start)| (at == stamp).then_some(start))
    }

    /// Keeps where the rows at these offsets of `list` begin.
    pub(crate) fn keep(&self, list: &str, starts: impl Iterator<Item = (i64, Start)>) {
        let (Some(kept), Some(stamp)) = (self.kept, self.stamp) else {
            return;
        };
        let mut map = kept.lock();
        if map.len() >= MAX_KEPT {
            map.clear();
        }
        for (offset, start) in starts {
            map.insert((self.org_id, list.to_owned(), offset), (stamp, start));
        }
    }
}
