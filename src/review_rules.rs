//! The check of pending requests after a version of review rules is saved in enforce mode:
//! every instance looks for a run to lease, and decides its requests batch by batch, each batch
//! in its own transaction with the run's cursor (so a run survives a restart, and runs once
//! across instances).

use std::time::Duration;

use chrono::TimeDelta;
use patgate_events::tasks::{spawn_periodic, Stopper};
use patgate_persistence::review_rules::{self, Progress};
use patgate_persistence::{Db, StoreError, Touches};

/// Requests decided in one transaction.
const BATCH: i64 = 200;
/// How long a run is leased to the instance that took it, in seconds; renewed at every batch.
const LEASE_SECONDS: i64 = 30;

/// Looks for runs every `interval` until stopped.
pub fn start(db: Db, interval: Duration) -> Stopper {
    spawn_periodic("review rules", interval, move || {
        let decided = run_all(&db)?;
        if decided > 0 {
            tracing::info!(decided, "review rules checked pending requests");
        }
        Ok(())
    })
}

/// Finishes every run this instance can lease; how many requests it decided.
pub fn run_all(db: &Db) -> Result<usize, StoreError> {
    let lease = TimeDelta::seconds(LEASE_SECONDS);
    let mut decided = 0;
    loop {
        let at = patgate_persistence::now();
        let claimed = db.write(Touches::Nothing, |conn| {
            review_rules::claim_run(conn, at, lease)
        })?;
        let Some(run) = claimed else {
            return Ok(decided);
        };
        loop {
            let at = patgate_persistence::now();
            let progress = db.write(Touches::Org(run.org_id), |conn| {
                review_rules::run_batch(conn, &run, BATCH, at, lease)
            })?;
            match progress {
                Progress::More { decided: n } => decided += n,
                Progress::Done { decided: n } => {
                    decided += n;
                    break;
                }
            }
        }
    }
}
