//! GitHub's primary rate limit: each installation, and each app calling with its JWT, may make
//! a number of requests per hour, counted in a window that starts at its first request. Every
//! counted answer carries the `X-RateLimit-*` headers; a request over the limit is refused
//! with 403 and `X-RateLimit-Remaining: 0`, as GitHub does.
//!
//! Each instance counts on its own: behind a load balancer over N instances, a caller may make
//! up to N times the limit.

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
    used: u32,
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
        let window = windows.by_caller.entry(caller).or_insert(Window {
            reset: now + WINDOW,
            used: 0,
        });
        if window.reset <= now {
            *window = Window {
                reset: now + WINDOW,
                used: 0,
            };
        }
        let quota = |used| Quota {
            limit: self.per_hour,
            used,
            reset: window.reset,
        };
        if window.used >= self.per_hour {
            return Err(quota(window.used));
        }
        window.used += 1;
        Ok(Some(quota(window.used)))
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
