//! Counts of long lists kept until their organization's data changes, so that every page of a
//! list can name its last page (`rel="last"`) while a page still reads only its own rows: the
//! whole filtered list is counted once per change of the organization's data, not per page.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::changes::{Changes, Stamp};
use crate::StoreError;

/// More kept counts than this and the stale ones are dropped (all of them, if none is stale).
const MAX_KEPT: usize = 16_384;

/// Counts kept by organization and by what was counted (a list and its filter).
#[derive(Debug, Default)]
pub struct KeptCounts {
    kept: Mutex<HashMap<(i64, String), (Stamp, i64)>>,
}

impl KeptCounts {
    /// The count kept for `key` in the organization while its data is unchanged, or `count()`
    /// run now and kept under the epochs taken before it ran (so a write committed while it
    /// ran makes it stale at once). Nothing is kept while other processes' writes may be missed.
    pub fn get_or_count(
        &self,
        changes: &Changes,
        org_id: i64,
        key: String,
        count: impl FnOnce() -> Result<i64, StoreError>,
    ) -> Result<i64, StoreError> {
        let Some(stamp) = changes.stamp(org_id) else {
            return count();
        };
        let key = (org_id, key);
        if let Some((kept_at, n)) = self.lock().get(&key) {
            if *kept_at == stamp {
                return Ok(*n);
            }
        }
        let n = count()?;
        let mut kept = self.lock();
        if kept.len() >= MAX_KEPT {
            kept.retain(|(org, _), (at, _)| changes.is_current(*org, *at));
            if kept.len() >= MAX_KEPT {
                kept.clear();
            }
        }
        kept.insert(key, (stamp, n));
        Ok(n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, String), (Stamp, i64)>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn following() -> Changes {
        let changes = Changes::default();
        changes.set_following(true);
        changes
    }

    #[test]
    fn a_count_is_kept_until_its_organization_changes() {
        let changes = following();
        let counts = KeptCounts::default();
        let mut runs = 0;
        let mut count = |n: i64| {
            counts
                .get_or_count(&changes, 7, "requests".into(), || {
                    runs += 1;
                    Ok(n)
                })
                .expect("count")
        };
        assert_eq!(count(10), 10);
        assert_eq!(count(11), 10, "kept while nothing changed");
        changes.org_changed(8);
        assert_eq!(count(12), 10, "another organization changed");
        changes.org_changed(7);
        assert_eq!(count(13), 13);
        changes.org_changed(7 + 1024);
        assert_eq!(count(14), 14, "an organization sharing the bucket changed");
        changes.all_changed();
        assert_eq!(count(15), 15);
        assert_eq!(runs, 4);
    }

    #[test]
    fn nothing_is_kept_while_other_writes_may_be_missed() {
        let changes = Changes::default();
        let counts = KeptCounts::default();
        for n in [1, 2] {
            let got = counts
                .get_or_count(&changes, 1, "grants".into(), || Ok(n))
                .expect("count");
            assert_eq!(got, n);
        }
    }

    #[test]
    fn different_filters_are_counted_apart() {
        let changes = following();
        let counts = KeptCounts::default();
        let a = counts.get_or_count(&changes, 1, "a".into(), || Ok(1));
        let b = counts.get_or_count(&changes, 1, "b".into(), || Ok(2));
        assert_eq!((a.expect("a"), b.expect("b")), (1, 2));
    }
}
