//! Following the store's log of credential changes: every instance applies the revocations and suspensions other instances made, within one poll interval.

use patgate_persistence::Touches;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patgate_api::auth::revocation::Revocations;
use patgate_events::tasks::{spawn_periodic, Stopper};
use patgate_persistence::{revocations, Db, StoreError};

/// How often, by default, the log is polled: another instance's revocation or suspension is
/// refused here at most this long after it was made.
pub const DEFAULT_POLL_MS: u64 = 200;
/// How often expired revocations are forgotten in memory and purged from the store.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Polls every `interval` until stopped; a failing poll is logged once, until it works again.
pub fn start(db: Db, revocations: Arc<Revocations>, interval: Duration) -> Stopper {
    let last_purge = Arc::new(Mutex::new(Instant::now()));
    spawn_periodic("credential changes poll", interval, move || {
        let purge = {
            let mut last = last_purge.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.elapsed() >= PURGE_EVERY;
            if due {
                *last = Instant::now();
            }
            due
        };
        poll(&db, &revocations, purge)
    })
}

/// Applies the changes made since the last poll; with `purge`, also forgets and deletes the
/// revocations of tokens that have expired.
pub fn poll(db: &Db, revocations: &Revocations, purge: bool) -> Result<(), StoreError> {
    let applied = revocations.sync(db)?;
    if applied > 0 {
        tracing::debug!(
            applied,
            cursor = revocations.cursor(),
            "credential changes applied"
        );
    }
    if purge {
        let now = patgate_persistence::now();
        revocations.prune(now.and_utc().timestamp());
        // Revocations are not part of any kept response.
        let purged = db.write(Touches::Nothing, |conn| {
            revocations::purge_expired(conn, now)
        })?;
        if purged > 0 {
            tracing::debug!(purged, "expired revocations purged");
        }
    }
    Ok(())
}
