//! Stopping on SIGTERM or SIGINT without losing requests: `/readyz` answers 503 at once, so
//! that load balancers stop sending traffic here; the server keeps serving for the grace
//! period, then stops accepting connections and finishes the requests in flight (actix's
//! graceful stop), after which `Application::run_until_stopped` stops the background tasks.

use std::sync::Arc;
use std::time::Duration;

use patgate_api::health::Readiness;

/// SIGTERM and SIGINT (Ctrl-C elsewhere than on Unix), caught from the moment they are
/// listened for.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Catches SIGTERM and SIGINT from now on, instead of letting them end the process. Must
    /// be called on the runtime that will wait for them.
    #[cfg(unix)]
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    #[cfg(not(unix))]
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// The next of them to arrive.
    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Resolves when the server should stop accepting connections: `grace` after the first
/// signal, which turns `/readyz` to 503 at once, or at a second signal.
pub async fn after_grace(mut signals: Signals, readiness: Arc<Readiness>, grace: Duration) {
    let signal = signals.next().await;
    readiness.drain();
    tracing::info!(
        signal,
        grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        "shutting down: /readyz answers 503; new connections are accepted until the grace period ends, then the requests in flight are finished"
    );
    tokio::select! {
        () = tokio::time::sleep(grace) => {}
        signal = signals.next() => {
            tracing::info!(signal, "a second signal: stopping without waiting out the grace period");
        }
    }
}
