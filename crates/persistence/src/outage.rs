//! Whether the database refused this process's last attempt to connect, so that a checkout
//! that would wait for a new connection fails at once while it does, instead of waiting out
//! the pool's time-out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The outcome of the pool's latest attempt to open a connection. The pool keeps trying in
/// the background (r2d2 retries with a growing pause, at most half its time-out), so the
/// first connection it opens once the database is back ends the outage by itself.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    down: AtomicBool,
    /// Why the latest attempt failed, for logs and errors; never shown to clients.
    reason: Mutex<String>,
}

impl Outage {
    /// The latest attempt failed with `error`. Logged when an outage begins, not on every
    /// attempt while it lasts.
    pub(crate) fn failed(&self, error: &dyn std::fmt::Display) {
        let reason = error.to_string();
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = reason.clone();
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::warn!(error = %reason, "cannot connect to the database; requests that need a new connection fail at once until it answers again");
        }
    }

    /// The latest attempt opened a connection.
    pub(crate) fn connected(&self) {
        if self.down.swap(false, Ordering::SeqCst) {
            tracing::info!("connected to the database again");
        }
    }

    /// Whether the latest attempt failed.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Why the latest attempt failed.
    pub(crate) fn reason(&self) -> String {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_lasts_from_a_failed_attempt_to_the_next_connection() {
        let outage = Outage::default();
        assert!(!outage.is_down());
        outage.failed(&"connection refused");
        outage.failed(&"still refused");
        assert!(outage.is_down());
        assert_eq!(outage.reason(), "still refused");
        outage.connected();
        assert!(!outage.is_down());
    }
}
