//! GitHub's primary rate limit: each installation, and each app calling with its JWT, may make
//! a number of requests per hour, counted in a window that starts at its first request. Every
//! counted answer carries the `X-RateLimit-*` headers; a request over the limit is refused
//! with 403 and `X-RateLimit-Remaining: 0`, as GitHub does.
//!
//! Instances on one PostgreSQL share the count: each counts in memory (no database write per
//! request) and exchanges what it counted with the others every few hundred milliseconds
//! (`PATGATE_RATE_LIMIT_SYNC_MS`; the binary's `rate_limits` task and
//! `patgate_persistence::rate_limits`). Between two exchanges an instance does not know what the
//! others counted, so a caller may get, in all, its limit plus what the other instances let
//! through for it in one exchange interval.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The length of a window, in seconds.
const WINDOW: i64 = 3600;
/// The bucket every counted request belongs to (`X-RateLimit-Resource`).
pub const RESOURCE: &str = "core";

/// Who a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    Installation(i64),
    App(i64),
}

impl Caller {
    /// The caller as the shared windows name it: `installation:ID` or `app:ID`.
    pub fn key(self) -> String {
        match self {
            Self::Installation(id) => format!("installation:{id}"),
            Self::App(id) => format!("app:{id}"),
        }
    }

    /// The caller a shared window's name gives; `None` for anything else.
    pub fn from_key(key: &str) -> Option<Self> {
        let (kind, id) = key.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "installation" => Some(Self::Installation(id)),
            "app" => Some(Self::App(id)),
            _ => None,
        }
    }

    /// GitHub's message for a caller over its limit.
    pub fn exceeded(self) -> String {
        match self {
            Self::Installation(id) => format!("API rate limit exceeded for installation ID {id}."),
            Self::App(id) => format!("API rate limit exceeded for app ID {id}."),
        }
    }
}

/// Where a caller stands in its window after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub used: u32,
    /// When the window ends, in Unix seconds.
    pub reset: i64,
}

impl Quota {
    pub fn remaining(self) -> u32 {
        self.limit.saturating_sub(self.used)
    }

    /// Sets the five `X-RateLimit-*` headers.
    pub fn write(self, headers: &mut HeaderMap) {
        let values = [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining().to_string()),
            ("x-ratelimit-used", self.used.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
            ("x-ratelimit-resource", RESOURCE.to_owned()),
        ];
        for (name, value) in values {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    reset: i64,
    /// Every request counted in the window, as far as this instance knows: the total of the
    /// last exchange plus what it counted since.
    used: u32,
    /// Requests this instance counted since its last exchange.
    unshared: u32,
    /// When this instance last counted a request of the caller.
    seen: i64,
}

impl Window {
    fn new(now: i64) -> Self {
        Self {
            reset: now + WINDOW,
            used: 0,
            unshared: 0,
            seen: now,
        }
    }
}

/// How long, after this instance last counted a caller, it keeps learning the caller's
/// count from the others (so that a caller that comes back finds its count known).
const WATCH: i64 = 60;

/// What this instance counted since its last exchange (caller, end of the window, count),
/// and the callers it counted nothing for lately but watches.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unshared {
    pub counted: Vec<(Caller, i64, u32)>,
    pub watched: Vec<Caller>,
}

impl Unshared {
    pub fn is_empty(&self) -> bool {
        self.counted.is_empty() && self.watched.is_empty()
    }
}

#[derive(Debug, Default)]
struct Windows {
    by_caller: HashMap<Caller, Window>,
    /// When ended windows are next forgotten, in Unix seconds.
    next_sweep: i64,
}

/// The windows of every caller seen in the last hour.
#[derive(Debug)]
pub struct RateLimiter {
    per_hour: u32,
    windows: Mutex<Windows>,
}

impl RateLimiter {
    /// `per_hour` requests per caller and hour; 0 counts nothing and sends no headers.
    pub fn new(per_hour: u32) -> Self {
        Self {
            per_hour,
            windows: Mutex::new(Windows::default()),
        }
    }

    /// Whether requests are counted at all (a limit of 0 counts none).
    pub fn is_counting(&self) -> bool {
        self.per_hour > 0
    }

    /// Counts one request of `caller` at `now` (Unix seconds): `Ok(None)` when nothing is
    /// counted, `Ok(quota)` within the limit, `Err(quota)` over it (the request is not
    /// counted, and must be refused).
    pub fn take(&self, caller: Caller, now: i64) -> Result<Option<Quota>, Quota> {
        if self.per_hour == 0 {
            return Ok(None);
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Forget ended windows once a minute, so that callers gone quiet cost no memory.
        if now >= windows.next_sweep {
            windows.next_sweep = now + 60;
            windows.by_caller.retain(|_, w| w.reset > now);
        }
        let window = windows
            .by_caller
            .entry(caller)
            .or_insert_with(|| Window::new(now));
        if window.reset <= now {
            *window = Window::new(now);
        }
        window.seen = now;
        let quota = |used| Quota {
            limit: self.per_hour,
            used,
            reset: window.reset,
        };
        if window.used >= self.per_hour {
            return Err(quota(window.used));
        }
        window.used += 1;
        window.unshared += 1;
        Ok(Some(quota(window.used)))
    }

    /// What to tell the others: the counts since the last exchange (now reset to zero here)
    /// and the callers to learn about.
    pub fn take_unshared(&self, now: i64) -> Unshared {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut unshared = Unshared::default();
        for (caller, w) in &mut windows.by_caller {
            if w.reset <= now {
                continue;
            }
            if w.unshared > 0 {
                unshared.counted.push((*caller, w.reset, w.unshared));
                w.unshared = 0;
            } else if w.seen > now - WATCH {
                unshared.watched.push(*caller);
            }
        }
        unshared
    }

    /// Counts again what an exchange that failed was to tell the others.
    pub fn put_back(&self, unshared: &Unshared) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for (caller, reset, count) in &unshared.counted {
            if let Some(w) = windows.by_caller.get_mut(caller) {
                if w.reset == *reset {
                    w.unshared += count;
                }
            }
        }
    }

    /// What the exchange learnt: each caller's shared window (its end and total count, this
    /// instance's counts up to the exchange included). Counts made here since are added.
    pub fn learn(&self, shared: &[(Caller, i64, u32)], now: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for (caller, reset, used) in shared {
            if *reset <= now {
                continue;
            }
            let w = windows
                .by_caller
                .entry(*caller)
                .or_insert_with(|| Window::new(now));
            w.reset = *reset;
            w.used = used.saturating_add(w.unshared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_is_refused_past_its_limit_until_its_window_ends() {
        let limiter = RateLimiter::new(2);
        let me = Caller::Installation(7);
        let first = limiter.take(me, 1000).expect("within").expect("counted");
        assert_eq!((first.used, first.remaining(), first.reset), (1, 1, 4600));
        let second = limiter.take(me, 1500).expect("within").expect("counted");
        assert_eq!(
            (second.used, second.remaining(), second.reset),
            (2, 0, 4600)
        );
        let refused = limiter.take(me, 4599).expect_err("over the limit");
        assert_eq!((refused.used, refused.remaining()), (2, 0));
        let again = limiter
            .take(me, 4600)
            .expect("a new window")
            .expect("counted");
        assert_eq!((again.used, again.reset), (1, 8200));
    }

    #[test]
    fn two_instances_that_exchange_their_counts_share_one_limit() {
        let (one, two) = (RateLimiter::new(10), RateLimiter::new(10));
        let me = Caller::Installation(7);
        for _ in 0..4 {
            one.take(me, 1000).expect("within");
        }
        for _ in 0..3 {
            two.take(me, 1001).expect("within");
        }
        // The shared table, as the persistence exchange keeps it: the first window's end wins.
        let mut table: HashMap<Caller, (i64, u32)> = HashMap::new();
        let mut exchange = |limiter: &RateLimiter, now: i64| {
            let unshared = limiter.take_unshared(now);
            for (caller, reset, count) in &unshared.counted {
                let entry = table.entry(*caller).or_insert((*reset, 0));
                entry.1 += count;
            }
            let shared: Vec<_> = table.iter().map(|(c, (r, u))| (*c, *r, *u)).collect();
            limiter.learn(&shared, now);
        };
        exchange(&one, 1002);
        exchange(&two, 1002);
        let after = two.take(me, 1003).expect("within").expect("counted");
        assert_eq!(
            (after.used, after.reset),
            (8, 4600),
            "7 exchanged, then one more"
        );
        exchange(&two, 1004);
        exchange(&one, 1004);
        for _ in 0..2 {
            one.take(me, 1005).expect("within");
        }
        let refused = one.take(me, 1006).expect_err("10 in all");
        assert_eq!(refused.used, 10);
        assert_eq!(one.take_unshared(1007).counted, vec![(me, 4600, 2)]);
    }

    #[test]
    fn a_failed_exchange_counts_again_what_it_was_to_tell() {
        let limiter = RateLimiter::new(10);
        let me = Caller::App(3);
        limiter.take(me, 0).expect("within");
        let unshared = limiter.take_unshared(1);
        assert_eq!(unshared.counted, vec![(me, WINDOW, 1)]);
        limiter.put_back(&unshared);
        assert_eq!(limiter.take_unshared(2).counted, vec![(me, WINDOW, 1)]);
        assert_eq!(
            limiter.take_unshared(3).watched,
            vec![me],
            "watched once counted"
        );
        assert_eq!(Caller::from_key(&me.key()), Some(me));
        assert_eq!(Caller::from_key("user:1"), None);
    }

    #[test]
    fn callers_are_counted_apart() {
        let limiter = RateLimiter::new(1);
        assert!(limiter.take(Caller::Installation(1), 0).is_ok());
        assert!(limiter.take(Caller::Installation(2), 0).is_ok());
        assert!(limiter.take(Caller::App(1), 0).is_ok());
        assert!(limiter.take(Caller::Installation(1), 0).is_err());
    }

    #[test]
    fn a_limit_of_zero_counts_nothing() {
        let limiter = RateLimiter::new(0);
        for _ in 0..10 {
            assert_eq!(limiter.take(Caller::App(1), 0), Ok(None));
        }
    }

    #[test]
    fn ended_windows_are_forgotten() {
        let limiter = RateLimiter::new(5);
        for id in 0..1024 {
            limiter.take(Caller::Installation(id), 0).expect("within");
        }
        limiter
            .take(Caller::Installation(5000), WINDOW + 1)
            .expect("within");
        let windows = limiter.windows.lock().expect("lock");
        assert_eq!(
            windows.by_caller.len(),
            1,
            "only the new caller's window is kept"
        );
    }

    #[test]
    fn the_headers_are_githubs() {
        let mut headers = HeaderMap::new();
        Quota {
            limit: 5000,
            used: 12,
            reset: 1_700_000_000,
        }
        .write(&mut headers);
        let get = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(get("x-ratelimit-limit").as_deref(), Some("5000"));
        assert_eq!(get("x-ratelimit-remaining").as_deref(), Some("4988"));
        assert_eq!(get("x-ratelimit-used").as_deref(), Some("12"));
        assert_eq!(get("x-ratelimit-reset").as_deref(), Some("1700000000"));
        assert_eq!(get("x-ratelimit-resource").as_deref(), Some("core"));
    }
}
