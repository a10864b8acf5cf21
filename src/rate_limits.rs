//! Sharing the primary rate limit between the instances on one PostgreSQL: every interval,
//! what this instance counted since the last exchange is added to each caller's shared window
//! and the totals come back ([`patgate_persistence::rate_limits::exchange`]), in one
//! transaction; no request writes to the database. One instance on SQLite needs none of it.

use std::sync::Arc;
use std::time::Duration;

use patgate_api::rate_limit::{Caller, RateLimiter};
use patgate_events::tasks::{spawn_periodic, Stopper};
use patgate_persistence::rate_limits::{self, SharedWindow};
use patgate_persistence::{Db, Touches};

/// How often, by default, the instances exchange their counts: a caller may get, in all, its
/// limit plus what the other instances let through for it in one such interval.
pub const DEFAULT_SYNC_MS: u64 = 250;

/// How often ended windows are deleted.
const FORGET_EVERY: i64 = 60;

/// Exchanges counts every `interval` until stopped.
pub fn start(db: Db, limiter: Arc<RateLimiter>, interval: Duration) -> Stopper {
    let next_forget = Arc::new(std::sync::atomic::AtomicI64::new(0));
    spawn_periodic("rate-limit exchange", interval, move || {
        let now = chrono::Utc::now().timestamp();
        exchange(&db, &limiter, now)?;
        if now >= next_forget.load(std::sync::atomic::Ordering::SeqCst) {
            next_forget.store(now + FORGET_EVERY, std::sync::atomic::Ordering::SeqCst);
            db.write(Touches::Nothing, |c| rate_limits::forget_ended(c, now - 60))?;
        }
        Ok(())
    })
}

/// One exchange: tells the others what this instance counted, learns what they did.
pub fn exchange(
    db: &Db,
    limiter: &RateLimiter,
    now: i64,
) -> Result<(), patgate_persistence::StoreError> {
    let unshared = limiter.take_unshared(now);
    if unshared.is_empty() {
        return Ok(());
    }
    let counted: Vec<SharedWindow> = unshared
        .counted
        .iter()
        .map(|(caller, reset, count)| SharedWindow {
            caller: caller.key(),
            reset_at: *reset,
            used: i64::from(*count),
        })
        .collect();
    let watched: Vec<String> = unshared.watched.iter().map(|c| c.key()).collect();
    match db.write(Touches::Nothing, |c| {
        rate_limits::exchange(c, now, &counted, &watched)
    }) {
        Ok(windows) => {
            let shared: Vec<(Caller, i64, u32)> = windows
                .iter()
                .filter_map(|w| {
                    Some((
                        Caller::from_key(&w.caller)?,
                        w.reset_at,
                        u32::try_from(w.used).unwrap_or(u32::MAX),
                    ))
                })
                .collect();
            limiter.learn(&shared, now);
            Ok(())
        }
        Err(e) => {
            limiter.put_back(&unshared);
            Err(e)
        }
    }
}
