//! The periodic expiry sweep run by every server instance; the store's conditional updates make concurrent sweeps from several instances safe.

use patgate_persistence::Touches;
use std::time::Duration;

use patgate_events::tasks::{spawn_periodic, Stopper};
use patgate_persistence::expiry::{self, Swept};
use patgate_persistence::{Db, StoreError};

/// Sweeps every `interval` until stopped; a failed sweep is retried at the next tick.
pub fn start(db: Db, interval: Duration, pending_ttl_days: Option<u32>) -> Stopper {
    spawn_periodic("expiry sweep", interval, move || {
        let swept = sweep_all(&db, pending_ttl_days);
        patgate_metrics::expiry_sweep(swept.is_ok());
        let total = swept?;
        if total != Swept::default() {
            tracing::info!(requests = total.requests, grants = total.grants, "expired");
        }
        Ok(())
    })
}

/// Expires everything due now, batch by batch, each batch its own transaction.
pub fn sweep_all(db: &Db, pending_ttl_days: Option<u32>) -> Result<Swept, StoreError> {
    let mut total = Swept::default();
    loop {
        let now = patgate_persistence::now();
        let cutoff = pending_ttl_days.map(|d| now - chrono::Duration::days(i64::from(d)));
        // Most sweeps expire nothing: only one that did makes kept responses stale.
        let batch = db.write(Touches::Nothing, |conn| expiry::sweep(conn, now, cutoff))?;
        if batch == Swept::default() {
            return Ok(total);
        }
        db.announce(Touches::Everything);
        patgate_metrics::expired(batch.requests, batch.grants);
        total.requests += batch.requests;
        total.grants += batch.grants;
    }
}
