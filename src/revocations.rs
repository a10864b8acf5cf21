//! Following the store's log of credential changes: every instance applies the revocations and suspensions other instances made, within one poll interval.

use patgate_persistence::Touches;
use std::sync::Arc;
use std::time::{Duration, Instant};

use patgate_api::auth::revocation::Revocations;
use patgate_persistence::{revocations, Db, StoreError};

/// How often, by default, the log is polled: another instance's revocation or suspension is
/// refused here at most this long after it was made.
pub const DEFAULT_POLL_MS: u64 = 200;
/// How often expired revocations are forgotten in memory and purged from the store.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Polls every `interval` until the task is dropped.
pub async fn run(db: Db, revocations: Arc<Revocations>, interval: Duration) {
    let mut ticker = actix_web::rt::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_purge = Instant::now();
    let mut failing = false;
    loop {
        ticker.tick().await;
        let purge = last_purge.elapsed() >= PURGE_EVERY;
        if purge {
            last_purge = Instant::now();
        }
        let (db, revocations) = (db.clone(), Arc::clone(&revocations));
        let polled = actix_web::web::block(move || poll(&db, &revocations, purge)).await;
        match polled {
            Ok(Ok(())) if failing => {
                failing = false;
                tracing::info!("credential changes followed again");
            }
            Ok(Ok(())) => {}
            // Logged once per outage, not every tick.
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot read credential changes; retrying every tick");
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "credential changes poll did not run");
            }
            _ => {}
        }
    }
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
