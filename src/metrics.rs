//! The metrics listener: a second, small HTTP server in the process that serves only
//! `GET /metrics`, on `PATGATE_METRICS_BIND`, so that metrics need not be public; and the
//! upkeep of the recorder behind it. Without that setting nothing is recorded or served.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use patgate_api::metrics::Scrape;
use patgate_events::tasks::{spawn_periodic, Stopper};
use patgate_metrics::Exporter;
use patgate_persistence::Db;

use crate::StartError;

/// How often recorded latencies are drained into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The bound, not yet started, metrics listener.
pub struct Listener {
    addr: SocketAddr,
    server: Server,
    exporter: Exporter,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Installs the recorder (metrics are recorded from now on) and binds `bind`.
pub fn bind(bind: &str, db: &Db) -> Result<Listener, StartError> {
    let exporter = Exporter::install()?;
    let failed = |source| StartError::Bind {
        addr: bind.to_owned(),
        source,
    };
    let listener = TcpListener::bind(bind).map_err(failed)?;
    let addr = listener.local_addr().map_err(failed)?;
    let scrape = Scrape::new(exporter.clone(), db.clone());
    // One worker is plenty for a scraper or two; the API server handles the signals, and
    // this one is stopped after it.
    let server = actix_web::HttpServer::new(move || patgate_api::metrics::app(scrape.clone()))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .map_err(failed)?
        .run();
    Ok(Listener {
        addr,
        server,
        exporter,
    })
}

impl Listener {
    /// The address the listener is bound to (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves on the current system until [`Serving::stop`].
    pub fn start(self) -> Serving {
        tracing::info!(addr = %self.addr, "serving metrics at /metrics");
        let handle = self.server.handle();
        actix_web::rt::spawn(self.server);
        let exporter = self.exporter;
        let upkeep = spawn_periodic("metrics upkeep", UPKEEP_EVERY, move || {
            exporter.upkeep();
            Ok(())
        });
        Serving { handle, upkeep }
    }
}

/// The running metrics listener.
pub struct Serving {
    handle: ServerHandle,
    upkeep: Stopper,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving").finish_non_exhaustive()
    }
}

impl Serving {
    /// Stops serving; called once the API server and the background loops have stopped.
    pub async fn stop(self) {
        self.upkeep.stop().await;
        self.handle.stop(true).await;
    }
}
