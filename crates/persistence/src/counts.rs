//! Counts of long lists kept until their organization's data changes, so that every page of a
//! list can name its last page (`rel="last"`) while a page still reads only its own rows: the
//! whole filtered list is counted once per change of the organization's data, not per page.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::changes::{Changes, Stamp};
use crate::StoreError;

/// More kept counts than this and the stale ones are dropped (all of them, if none is stale).
const MAX_KEPT: usize = 16_384;

type Key = (i64, String);

#[derive(Debug, Default)]
struct Inner {
    kept: HashMap<Key, (Stamp, i64)>,
    /// Counts running now: a second caller for the same key waits for the first rather than
    /// counting the same million rows beside it.
    running: HashSet<Key>,
}

/// Counts kept by organization and by what was counted (a list and its filter).
#[derive(Debug, Default)]
pub struct KeptCounts {
    inner: Mutex<Inner>,
    done: Condvar,
}

/// Marks a key's count as running; done (and the waiters woken) when dropped, even if the
/// count failed or panicked.
struct Running<'a> {
    counts: &'a KeptCounts,
    key: Key,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.counts.lock().running.remove(&self.key);
        self.counts.done.notify_all();
    }
}

impl KeptCounts {
    /// The count kept for `key` in the organization while its data is unchanged, or `count()`
    /// run now and kept under the epochs taken before it ran (so a write committed while it
    /// ran makes it stale at once). One count of a key runs at a time; the others wait for
    /// it. Nothing is kept while other processes' writes may be missed.
    pub fn get_or_count(
        &self,
        changes: &Changes,
        org_id: i64,
        key: String,
        count: impl FnOnce() -> Result<i64, StoreError>,
    ) -> Result<i64, StoreError> {
        let key = (org_id, key);
        let mut inner = self.lock();
        let stamp = loop {
            let Some(stamp) = changes.stamp(org_id) else {
                drop(inner);
                return count();
            };
            if let Some((kept_at, n)) = inner.kept.get(&key) {
                if *kept_at == stamp {
                    return Ok(*n);
                }
            }
            if !inner.running.contains(&key) {
                break stamp;
            }
            inner = self.done.wait(inner).unwrap_or_else(|p| p.into_inner());
        };
        inner.running.insert(key.clone());
        drop(inner);
        let running = Running { counts: self, key };
        let n = count()?;
        let mut inner = self.lock();
        if inner.kept.len() >= MAX_KEPT {
            inner
                .kept
                .retain(|(org, _), (at, _)| changes.is_current(*org, *at));
            if inner.kept.len() >= MAX_KEPT {
                inner.kept.clear();
            }
        }
        inner.kept.insert(running.key.clone(), (stamp, n));
        drop(inner);
        drop(running);
        Ok(n)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
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
    fn concurrent_callers_of_one_key_count_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let changes = following();
        let counts = KeptCounts::default();
        let runs = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let n = counts
                        .get_or_count(&changes, 3, "slow".into(), || {
                            runs.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            Ok(42)
                        })
                        .expect("count");
                    assert_eq!(n, 42);
                });
            }
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_count_lets_the_next_caller_count() {
        let changes = following();
        let counts = KeptCounts::default();
        let failed = counts.get_or_count(&changes, 1, "k".into(), || Err(StoreError::NotFound));
        assert!(failed.is_err());
        let n = counts.get_or_count(&changes, 1, "k".into(), || Ok(5));
        assert_eq!(n.expect("count"), 5);
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
