//! Answers kept in memory for the reads bots and resource servers repeat (list pages, the
//! repositories of a request or grant, the access check), each under the [`Stamp`] of its
//! organization's data when it was read: served again only while that stamp is current, and
//! never past the first token expiry it depends on.
//!
//! The key holds the caller's organization, so an installation can only be served what its own
//! organization was answered; the caller's permission is still checked on every request.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use patgate_persistence::changes::{Changes, Stamp};

/// An answer as it was sent: the JSON body and the `Link` header.
#[derive(Debug, Clone)]
pub struct Kept {
    pub body: Bytes,
    pub link: Option<String>,
}

impl Kept {
    /// The answer as it was just read from the store.
    pub fn respond(&self) -> HttpResponse {
        self.response(false)
    }

    /// The answer served again from memory. Debug builds say so in [`KEPT_HEADER`], so that
    /// tests can tell it was; release builds send exactly what a fresh read sends.
    pub fn serve_kept(&self) -> HttpResponse {
        self.response(cfg!(debug_assertions))
    }

    fn response(&self, mark: bool) -> HttpResponse {
        let mut res = HttpResponse::Ok();
        if let Some(link) = &self.link {
            res.insert_header((header::LINK, link.as_str()));
        }
        if mark {
            res.insert_header((KEPT_HEADER, "1"));
        }
        res.content_type(header::ContentType::json())
            .body(self.body.clone())
    }
}

/// The header a debug build adds to an answer served from memory.
pub const KEPT_HEADER: &str = "x-patgate-kept";

#[derive(Debug)]
struct Entry {
    org_id: i64,
    stamp: Stamp,
    /// Unix seconds from which the answer is wrong (a token it shows or checks expires).
    until: Option<i64>,
    kept: Kept,
    size: usize,
    seq: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Keys in the order they were stored, with the sequence number they were stored under.
    order: VecDeque<(String, u64)>,
    bytes: usize,
    seq: u64,
}

/// The kept answers, within a byte budget; the oldest go first.
#[derive(Debug)]
pub struct ResponseCache {
    budget: usize,
    inner: Mutex<Inner>,
}

/// A request's place in the cache: its key and the stamp taken before the store was read.
#[derive(Debug)]
pub struct Slot {
    key: String,
    org_id: i64,
    stamp: Stamp,
}

impl ResponseCache {
    /// Keeps up to `budget` bytes of answers; 0 keeps none.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.budget > 0
    }

    /// The bytes kept now.
    pub fn kept_bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the answer to `request` (method, path, query, body) for the organization is kept,
    /// with what is kept there if it is still right; `None` when nothing may be kept now.
    pub fn slot(
        &self,
        changes: &Changes,
        org_id: i64,
        request: &[&[u8]],
    ) -> Option<(Slot, Option<Kept>)> {
        if !self.is_enabled() {
            return None;
        }
        let stamp = changes.stamp(org_id)?;
        let mut key =
            String::with_capacity(request.iter().map(|p| p.len() + 1).sum::<usize>() + 20);
        key.push_str(&org_id.to_string());
        for part in request {
            key.push('\n');
            key.push_str(&String::from_utf8_lossy(part));
        }
        let now = chrono::Utc::now().timestamp();
        let mut inner = self.lock();
        let hit = match inner.entries.get(&key) {
            Some(e)
                if e.org_id == org_id && e.stamp == stamp && e.until.is_none_or(|t| now < t) =>
            {
                Some(e.kept.clone())
            }
            Some(_) => {
                let gone = inner.entries.remove(&key).map_or(0, |e| e.size);
                inner.bytes -= gone;
                patgate_metrics::cache_bytes(inner.bytes);
                None
            }
            None => None,
        };
        drop(inner);
        if hit.is_some() {
            patgate_metrics::cache_hit();
        } else {
            patgate_metrics::cache_miss();
        }
        Some((Slot { key, org_id, stamp }, hit))
    }

    /// Keeps `kept` in its slot, valid until `until` (Unix seconds) at the latest, unless a
    /// write changed the organization's data while the answer was being read.
    pub fn keep(&self, changes: &Changes, slot: Slot, until: Option<i64>, kept: Kept) {
        if !changes.is_current(slot.org_id, slot.stamp) {
            return;
        }
        let size =
            slot.key.len() + kept.body.len() + kept.link.as_ref().map_or(0, String::len) + 128;
        if size > self.budget / 4 {
            return;
        }
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        inner.order.push_back((slot.key.clone(), seq));
        let old = inner.entries.insert(
            slot.key,
            Entry {
                org_id: slot.org_id,
                stamp: slot.stamp,
                until,
                kept,
                size,
                seq,
            },
        );
        inner.bytes = inner.bytes + size - old.map_or(0, |e| e.size);
        while inner.bytes > self.budget {
            let Some((key, seq)) = inner.order.pop_front() else {
                break;
            };
            // A key stored again since has a later sequence number: its newer entry stays.
            if inner.entries.get(&key).is_some_and(|e| e.seq == seq) {
                let gone = inner.entries.remove(&key).map_or(0, |e| e.size);
                inner.bytes -= gone;
            }
        }
        patgate_metrics::cache_bytes(inner.bytes);
        // Keys whose entries were replaced or dropped are skipped above; keep the queue from
        // growing without bound when the same keys are stored over and over.
        if inner.order.len() > 4 * inner.entries.len() + 64 {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(key, seq)| entries.get(key).is_some_and(|e| e.seq == *seq));
        }
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

    fn kept(body: &'static str) -> Kept {
        Kept {
            body: Bytes::from_static(body.as_bytes()),
            link: None,
        }
    }

    fn get(cache: &ResponseCache, changes: &Changes, org: i64, path: &str) -> Option<String> {
        let (_, hit) = cache.slot(changes, org, &[b"GET", path.as_bytes()])?;
        hit.map(|k| String::from_utf8(k.body.to_vec()).expect("utf-8"))
    }

    fn put(cache: &ResponseCache, changes: &Changes, org: i64, path: &str, body: &'static str) {
        let (slot, _) = cache
            .slot(changes, org, &[b"GET", path.as_bytes()])
            .expect("a slot");
        cache.keep(changes, slot, None, kept(body));
    }

    #[test]
    fn an_answer_is_served_until_its_organization_changes() {
        let (cache, changes) = (ResponseCache::new(1 << 20), following());
        put(&cache, &changes, 7, "/a", "[1]");
        put(&cache, &changes, 8, "/a", "[2]");
        assert_eq!(get(&cache, &changes, 7, "/a").as_deref(), Some("[1]"));
        changes.org_changed(7);
        assert_eq!(get(&cache, &changes, 7, "/a"), None);
        assert_eq!(get(&cache, &changes, 8, "/a").as_deref(), Some("[2]"));
        changes.all_changed();
        assert_eq!(get(&cache, &changes, 8, "/a"), None);
    }

    #[test]
    fn an_answer_read_while_a_write_committed_is_not_kept() {
        let (cache, changes) = (ResponseCache::new(1 << 20), following());
        let (slot, _) = cache.slot(&changes, 7, &[b"GET", b"/a"]).expect("a slot");
        changes.org_changed(7);
        cache.keep(&changes, slot, None, kept("[old]"));
        assert_eq!(get(&cache, &changes, 7, "/a"), None);
    }

    #[test]
    fn nothing_is_kept_or_served_while_other_processes_are_not_followed() {
        let (cache, changes) = (ResponseCache::new(1 << 20), following());
        put(&cache, &changes, 7, "/a", "[1]");
        changes.set_following(false);
        assert!(cache.slot(&changes, 7, &[b"GET", b"/a"]).is_none());
        changes.set_following(true);
        assert_eq!(get(&cache, &changes, 7, "/a"), None, "kept before the gap");
    }

    #[test]
    fn an_answer_is_not_served_from_the_second_a_token_it_shows_expires() {
        let (cache, changes) = (ResponseCache::new(1 << 20), following());
        let now = chrono::Utc::now().timestamp();
        for (path, until) in [("/past", now), ("/future", now + 60)] {
            let (slot, _) = cache
                .slot(&changes, 7, &[b"GET", path.as_bytes()])
                .expect("a slot");
            cache.keep(&changes, slot, Some(until), kept("[1]"));
        }
        assert_eq!(get(&cache, &changes, 7, "/past"), None);
        assert_eq!(get(&cache, &changes, 7, "/future").as_deref(), Some("[1]"));
    }

    #[test]
    fn the_oldest_answers_go_first_and_the_budget_holds() {
        let body: &'static str = "x".repeat(1000).leak();
        let (cache, changes) = (ResponseCache::new(10_000), following());
        for i in 0..50 {
            put(&cache, &changes, 7, &format!("/{i}"), body);
            put(&cache, &changes, 7, "/hot", body);
            assert!(cache.kept_bytes() <= 10_000);
        }
        assert_eq!(get(&cache, &changes, 7, "/0"), None);
        assert!(get(&cache, &changes, 7, "/49").is_some());
        assert!(get(&cache, &changes, 7, "/hot").is_some());
        let inner = cache.lock();
        assert!(inner.order.len() <= 4 * inner.entries.len() + 64);
    }

    #[test]
    fn a_disabled_cache_gives_no_slot() {
        let changes = following();
        assert!(ResponseCache::new(0).slot(&changes, 7, &[b"GET"]).is_none());
    }
}
