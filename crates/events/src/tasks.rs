//! Background tasks, started and stopped one way: [`spawn_periodic`] for work done every so
//! often (expiry, credential changes, WAL checkpoints), [`Stopper`] for any loop that must
//! finish what it holds before the server stops (the delivery loops). Each stops when told,
//! without finishing its sleep, and is awaited. Each also says whether it still runs
//! ([`Alive`]), for the readiness probe.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use patgate_persistence::StoreError;
use tokio::sync::watch;

/// Runs `f` on a blocking thread (for the store's synchronous calls).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Connect(e.to_string()))?
}

/// Held by a running task or thread for as long as it runs: dropped when it returns, panics
/// or is dropped, which its [`Alive`] then reports.
#[derive(Debug)]
pub struct RunGuard(#[expect(dead_code, reason = "held for its drop only")] Arc<()>);

/// Whether a task or thread still runs, readable from any thread.
#[derive(Debug, Clone)]
pub struct Alive(Weak<()>);

impl Alive {
    /// A pair: the guard for the task to hold, `Alive` for whoever watches it.
    pub fn pair() -> (RunGuard, Alive) {
        let running = Arc::new(());
        let alive = Arc::downgrade(&running);
        (RunGuard(running), Alive(alive))
    }

    pub fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }
}

/// A task on the current local set, told to stop through a watch channel. Dropping it tells
/// the task to stop too, without waiting for it.
#[derive(Debug)]
pub struct Stopper {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    alive: Alive,
}

impl Stopper {
    /// Spawns `body`, which returns once its receiver says `true` (or closes).
    pub fn spawn<F, Fut>(body: F) -> Self
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let (stop, stopping) = watch::channel(false);
        let (running, alive) = Alive::pair();
        let work = body(stopping);
        let task = tokio::task::spawn_local(async move {
            let _running = running;
            work.await;
        });
        Self {
            stop,
            task: Some(task),
            alive,
        }
    }

    /// Whether the task still runs: not once it has returned or panicked.
    pub fn alive(&self) -> Alive {
        self.alive.clone()
    }

    /// Tells the task to stop and waits for it to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Runs `work` on a blocking thread every `interval` (the first time at once) until stopped.
/// A failure is logged when runs start failing and a recovery when they work again, not every
/// failed run; `name` says what the work is in those lines. `work` logs what it did.
pub fn spawn_periodic<F>(name: &'static str, interval: Duration, work: F) -> Stopper
where
    F: Fn() -> Result<(), StoreError> + Clone + Send + Sync + 'static,
{
    Stopper::spawn(move |mut stopping| async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut health = Health::new(name);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                changed = stopping.changed() => {
                    if changed.is_err() || *stopping.borrow() {
                        return;
                    }
                    continue;
                }
            }
            if *stopping.borrow() {
                return;
            }
            let work = work.clone();
            health.observe(blocking(work).await);
        }
    })
}

/// Whether a loop's work is failing, logged on each change only.
#[derive(Debug)]
pub struct Health {
    name: &'static str,
    failing: bool,
}

impl Health {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            failing: false,
        }
    }

    /// Logs the first failure after success and the first success after failure; whether it
    /// is failing now.
    pub fn observe(&mut self, result: Result<(), StoreError>) -> bool {
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(task = self.name, "{} works again", self.name);
            }
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(task = self.name, error = %e, "{} failed; retrying", self.name);
            }
            _ => {}
        }
        self.failing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn health_changes_only_on_a_change() {
        let mut h = Health::new("test");
        assert!(!h.observe(Ok(())));
        assert!(h.observe(Err(StoreError::NotFound)));
        assert!(h.observe(Err(StoreError::NotFound)));
        assert!(!h.observe(Ok(())));
    }

    #[test]
    fn a_task_is_alive_until_it_returns_or_panics() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let waiting = Stopper::spawn(|mut stopping| async move {
                let _ = stopping.changed().await;
            });
            let panicking = Stopper::spawn(|_| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                panic!("a task that panics");
            });
            let (stopped, panicked) = (waiting.alive(), panicking.alive());
            tokio::task::yield_now().await;
            assert!(stopped.is_alive() && panicked.is_alive());
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(!panicked.is_alive(), "a task that panicked is not alive");
            assert!(stopped.is_alive());
            waiting.stop().await;
            assert!(!stopped.is_alive(), "a stopped task is not alive");
        });
    }

    #[test]
    fn a_periodic_task_runs_until_stopped_and_not_after() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let local = tokio::task::LocalSet::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        local.block_on(&runtime, async move {
            let task = spawn_periodic("count", Duration::from_millis(10), move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            task.stop().await;
            let after_stop = runs.load(Ordering::SeqCst);
            assert!(after_stop >= 2, "ran {after_stop} times");
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(runs.load(Ordering::SeqCst), after_stop, "no run after stop");
        });
    }
}
