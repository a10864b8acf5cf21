//! The one delivery loop, generic over a [`Channel`] (webhooks over HTTP, e-mail over SMTP):
//! lease due rows, send each, record the attempts (every one finished by then in one
//! transaction), retry with one backoff and jitter policy; report the backlog, delete rows
//! past the retention period, log once when taking work starts failing and once when it works
//! again; at shutdown, let the sends in flight be recorded and give back the leases still held.

use std::time::{Duration, Instant};

use patgate_persistence::outbox::{Backlog, Outbox};
use patgate_persistence::{Db, DbConnection, StoreError, Touches};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::tasks::{blocking, Stopper};

/// How rows are taken, sent and retried.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often due rows are looked for.
    pub poll: Duration,
    /// How long a taken row is this instance's; past it, another instance may take it.
    pub lease: Duration,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The wait after the first failure; it doubles with each failure, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Attempts before a row is marked failed.
    pub max_attempts: u32,
    /// Rows taken (and sent concurrently) at a time.
    pub batch: i64,
    /// How long rows done with (delivered or failed) are kept for the deliveries API and
    /// redelivery; `None` keeps them forever.
    pub retention: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        // 15 attempts, 10 s doubling up to 30 minutes: about four hours of retries, so a
        // receiver down for an hour gets everything once it is back.
        Self {
            poll: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(30 * 60),
            max_attempts: 15,
            batch: 16,
            retention: Some(Duration::from_secs(30 * 86_400)),
        }
    }
}

impl Settings {
    /// When to try again after the `failures`-th failure (1-based), with ±20% jitter; `None`
    /// once the attempts are used up.
    pub fn retry_after(&self, failures: u32, jitter: f64) -> Option<Duration> {
        if failures >= self.max_attempts {
            return None;
        }
        let doubled = self
            .retry_base
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)));
        let wait = doubled.min(self.retry_max);
        Some(wait.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0)))
    }

    /// When to try again after a failure of a row attempted `attempts` times before, as of
    /// now; `None` once the attempts are used up.
    pub fn retry_at(&self, attempts: i32) -> Option<chrono::NaiveDateTime> {
        let failures = u32::try_from(attempts).unwrap_or(0) + 1;
        let wait = self.retry_after(failures, jitter())?;
        Some(patgate_persistence::now() + chrono::Duration::from_std(wait).unwrap_or_default())
    }
}

/// A number in [0, 1) from the system's generator.
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// How often each instance deletes the rows past the retention period (the first time a
/// minute after it starts).
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// One outbox and how its rows are sent.
pub(crate) trait Channel: Clone + 'static {
    /// A row of the outbox.
    type Item: Clone + Send + 'static;
    /// How one attempt went, as recorded.
    type Attempt: Send + 'static;
    /// For the logs: "webhook", "e-mail".
    const NAME: &'static str;
    const OUTBOX: Outbox;
    /// The outbox as the metrics name it.
    const METRIC: patgate_metrics::Outbox;

    fn settings(&self) -> &Settings;
    fn claim(
        conn: &mut DbConnection,
        lessee: &str,
        now: chrono::NaiveDateTime,
        until: chrono::NaiveDateTime,
        batch: i64,
    ) -> Result<Vec<Self::Item>, StoreError>;
    fn record(
        conn: &mut DbConnection,
        item: &Self::Item,
        lessee: &str,
        attempt: &Self::Attempt,
    ) -> Result<bool, StoreError>;
    fn release(conn: &mut DbConnection, lessee: &str) -> Result<usize, StoreError>;
    fn backlog(conn: &mut DbConnection) -> Result<Backlog, StoreError>;
    /// Work before each look for due rows (the mail channel queues the period's digests).
    async fn prepare(&self, _db: &Db) -> Result<(), StoreError> {
        Ok(())
    }
    /// Sends one row; `None` when it could not be read (its lease ends and it is taken again).
    async fn send(&self, db: &Db, item: &Self::Item) -> Option<Self::Attempt>;
    /// Logs how the attempt went and whether it was recorded: `Ok(false)` when the lease had
    /// passed to another instance, the error when the transaction recording it failed.
    fn log(item: &Self::Item, attempt: &Self::Attempt, recorded: Result<bool, &StoreError>);
    /// How a recorded attempt ended, as the metrics count it.
    fn outcome(attempt: &Self::Attempt) -> patgate_metrics::Outcome;
}

/// Logs a finished attempt and counts it by how it ended.
fn log_and_count<C: Channel>(
    item: &C::Item,
    attempt: &C::Attempt,
    recorded: Result<bool, &StoreError>,
) {
    use patgate_metrics::Outcome;
    let outcome = match recorded {
        Ok(true) => C::outcome(attempt),
        Ok(false) => Outcome::LeaseLost,
        Err(_) => Outcome::Unrecorded,
    };
    patgate_metrics::attempt(C::METRIC, outcome, 1);
    C::log(item, attempt, recorded);
}

/// The running loop of one channel. Dropping it stops the loop too, without waiting.
#[derive(Debug)]
pub struct Running {
    stopper: Stopper,
}

impl Running {
    /// Stops the loop at once (it does not finish its sleep), lets the sends in flight be
    /// recorded and gives back the leases still held.
    pub async fn stop(self) {
        self.stopper.stop().await;
    }

    /// The loop as a task among the server's others, stopped the same way.
    pub fn into_stopper(self) -> Stopper {
        self.stopper
    }
}

#[derive(Clone)]
struct Worker<C: Channel> {
    channel: C,
    db: Db,
    /// This instance, as the holder of its leases.
    lessee: String,
}

/// Starts `channel`'s loop on the current runtime's local set.
pub(crate) fn start<C: Channel>(channel: C, db: Db, lessee: String) -> Running {
    let worker = Worker {
        channel,
        db,
        lessee,
    };
    let stopper = Stopper::spawn(move |stopping| worker.run(stopping));
    Running { stopper }
}

impl<C: Channel> Worker<C> {
    async fn run(self, mut stopping: watch::Receiver<bool>) {
        let mut failing = false;
        let mut reported = Instant::now();
        let mut next_sweep = Instant::now() + Duration::from_secs(60);
        let settings = self.channel.settings().clone();
        while !*stopping.borrow() {
            let result = match self.channel.prepare(&self.db).await {
                Ok(()) => self.round(&stopping).await,
                Err(e) => Err(e),
            };
            failing = log_health(C::NAME, failing, result);
            if reported.elapsed() >= Duration::from_secs(60) {
                reported = Instant::now();
                self.report_backlog().await;
            }
            if let Some(retention) = settings.retention.filter(|_| Instant::now() >= next_sweep) {
                next_sweep = Instant::now() + SWEEP_EVERY;
                if let Err(e) = sweep(&self.db, C::OUTBOX, retention).await {
                    tracing::warn!(error = %e, outbox = ?C::OUTBOX, "cannot delete old rows; retrying later");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(settings.poll) => {}
                changed = stopping.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        self.give_back().await;
    }

    /// Takes and sends batches until none is due (or the loop is stopping).
    async fn round(&self, stopping: &watch::Receiver<bool>) -> Result<(), StoreError> {
        let settings = self.channel.settings();
        let lease = chrono::Duration::from_std(settings.lease).unwrap_or_default();
        let batch = settings.batch;
        while !*stopping.borrow() {
            let (db, lessee) = (self.db.clone(), self.lessee.clone());
            let taken = blocking(move || {
                let now = patgate_persistence::now();
                db.write(Touches::Nothing, |c| {
                    C::claim(c, &lessee, now, now + lease, batch)
                })
            })
            .await?;
            let full = i64::try_from(taken.len()).unwrap_or(i64::MAX) >= batch;
            // Sent side by side; the next batch is taken once all of these are recorded.
            let mut sending = JoinSet::new();
            for item in taken {
                let worker = self.clone();
                sending.spawn_local(async move {
                    let attempt = worker.channel.send(&worker.db, &item).await?;
                    Some((item, attempt))
                });
            }
            self.record_as_sent(&mut sending).await;
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Records the attempts as their sends finish: once one has finished, it and every other
    /// finished by then are recorded in one write transaction (one commit for many rows under
    /// load, while a slow receiver holds none of the others back), until none is left. A send
    /// that gave no attempt (`None`) is not recorded; its lease ends.
    async fn record_as_sent(&self, sending: &mut JoinSet<Option<(C::Item, C::Attempt)>>) {
        while let Some(first) = sending.join_next().await {
            let mut joined = vec![first];
            while let Some(next) = sending.try_join_next() {
                joined.push(next);
            }
            let mut finished = Vec::new();
            let mut panicked = None;
            for result in joined {
                match result {
                    Ok(attempt) => finished.extend(attempt),
                    Err(e) if e.is_panic() => panicked = Some(e.into_panic()),
                    Err(_) => {}
                }
            }
            self.record(finished).await;
            if let Some(panic) = panicked {
                // As `JoinSet::join_all` did: a send that panicked ends the loop, once what
                // finished beside it is recorded.
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Records finished attempts in one write transaction and logs each.
    async fn record(&self, finished: Vec<(C::Item, C::Attempt)>) {
        if finished.is_empty() {
            return;
        }
        let count = finished.len();
        let (db, lessee) = (self.db.clone(), self.lessee.clone());
        let recorded = blocking(move || {
            let recorded = db.write(Touches::Nothing, |c| {
                finished
                    .iter()
                    .map(|(item, attempt)| C::record(c, item, &lessee, attempt))
                    .collect::<Result<Vec<bool>, StoreError>>()
            });
            Ok((recorded, finished))
        })
        .await;
        match recorded {
            Ok((Ok(ours), finished)) => {
                for ((item, attempt), ours) in finished.iter().zip(ours) {
                    log_and_count::<C>(item, attempt, Ok(ours));
                }
            }
            Ok((Err(e), finished)) => {
                for (item, attempt) in &finished {
                    log_and_count::<C>(item, attempt, Err(&e));
                }
            }
            Err(e) => {
                let unrecorded = u64::try_from(count).unwrap_or(u64::MAX);
                patgate_metrics::attempt(
                    C::METRIC,
                    patgate_metrics::Outcome::Unrecorded,
                    unrecorded,
                );
                tracing::warn!(
                    error = %e,
                    attempts = count,
                    "{} attempts not recorded; they will be sent again",
                    C::NAME
                );
            }
        }
    }

    /// Logs the backlog while anything waits or has failed.
    async fn report_backlog(&self) {
        let db = self.db.clone();
        match blocking(move || C::backlog(&mut *db.conn()?)).await {
            Ok(b) if b.pending > 0 || b.failed > 0 => {
                let lag_secs = b
                    .oldest_pending
                    .map(|t| (patgate_persistence::now() - t).num_seconds());
                tracing::info!(
                    pending = b.pending,
                    failed = b.failed,
                    lag_secs,
                    "{} backlog",
                    C::NAME
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the {} backlog", C::NAME),
        }
    }

    /// Gives back the leases this instance still holds, for another to take at once.
    async fn give_back(&self) {
        let (db, lessee) = (self.db.clone(), self.lessee.clone());
        match blocking(move || db.write(Touches::Nothing, |c| C::release(c, &lessee))).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "{} leases given back at shutdown", C::NAME),
            Err(e) => tracing::warn!(
                error = %e,
                "cannot give back {} leases; they end by themselves",
                C::NAME
            ),
        }
    }
}

/// Logs when taking work starts failing and when it works again (not every failed poll);
/// whether it is failing now.
fn log_health(name: &str, failing: bool, result: Result<(), StoreError>) -> bool {
    match result {
        Ok(()) if failing => tracing::info!("{name} deliveries resumed"),
        Err(e) if !failing => {
            tracing::warn!(error = %e, "cannot take {name} deliveries; retrying");
            return true;
        }
        Ok(()) => {}
        Err(_) => return true,
    }
    false
}

/// Deletes `outbox`'s rows done with and queued longer ago than `retention`, a thousand per
/// transaction (so that writers are not held up), at most 50 batches a call; the number
/// deleted.
pub async fn sweep(db: &Db, outbox: Outbox, retention: Duration) -> Result<usize, StoreError> {
    const BATCH: i64 = 1000;
    let cutoff =
        patgate_persistence::now() - chrono::Duration::from_std(retention).unwrap_or_default();
    let mut deleted = 0;
    for _ in 0..50 {
        let db = db.clone();
        let n = blocking(move || {
            db.write(Touches::Nothing, |c| {
                patgate_persistence::outbox::sweep(c, outbox, cutoff, BATCH)
            })
        })
        .await?;
        deleted += n;
        if i64::try_from(n).unwrap_or(0) < BATCH {
            break;
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, outbox = ?outbox, "rows past the retention period deleted");
    }
    Ok(deleted)
}

#[cfg(test)]
mod recording_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_the_ceiling_then_stop() {
        let s = Settings::default();
        let middle = |n| s.retry_after(n, 0.5).map(|d| d.as_secs());
        assert_eq!(middle(1), Some(10));
        assert_eq!(middle(2), Some(20));
        assert_eq!(middle(3), Some(40));
        assert_eq!(middle(9), Some(1800));
        assert_eq!(middle(14), Some(1800));
        assert_eq!(middle(15), None);
        let total: u64 = (1..15)
            .filter_map(|n| s.retry_after(n, 0.0))
            .map(|d| d.as_secs())
            .sum();
        assert!(total > 2 * 3600, "retries span {total} s");
        assert_eq!(s.retry_after(1, 0.0).map(|d| d.as_millis()), Some(8000));
        assert_eq!(s.retry_after(1, 1.0).map(|d| d.as_millis()), Some(12000));
    }

    #[test]
    fn jitter_stays_in_the_unit_interval() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
