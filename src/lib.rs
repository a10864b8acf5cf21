//! The `patgate` binary's library: configuration, the seed file, the demo data set, and `Application`, which binds the server for `main` and for tests alike.

pub mod changes;
pub mod check;
pub mod config;
pub mod demo;
pub mod expiry;
pub mod metrics;
pub mod rate_limits;
pub mod review_rules;
pub mod revocations;
pub mod seed;
pub mod shutdown;

use std::net::TcpListener;
use std::sync::Arc;

use patgate_api::auth::cache::TokenCache;
use patgate_api::auth::revocation::Revocations;
use patgate_api::health::Readiness;
use patgate_api::keys::ServerKeys;
use patgate_api::rate_limit::RateLimiter;
use patgate_api::responses::ResponseCache;
use patgate_api::AppState;
use patgate_events::tasks::{spawn_periodic, Stopper};
use patgate_persistence::{Db, PoolOptions};

use crate::config::Settings;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database")]
    Store(#[from] patgate_persistence::StoreError),
    #[error("signing key")]
    Key(#[from] patgate_api::keys::KeyError),
    #[error("{0}")]
    Config(String),
    #[error("cannot start the thread that follows the database's changes")]
    Follower(#[source] std::io::Error),
    #[error("metrics")]
    Metrics(#[from] patgate_metrics::InstallError),
    #[error("cannot listen for SIGTERM and SIGINT")]
    Signals(#[source] std::io::Error),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Opens the database and applies pending migrations.
pub fn open_db(settings: &Settings) -> Result<Db, StartError> {
    if let Some(dir) = settings.sqlite_dir() {
        std::fs::create_dir_all(&dir).map_err(|source| StartError::Bind {
            addr: dir.display().to_string(),
            source,
        })?;
    }
    let db = Db::connect(
        &settings.database_url,
        &PoolOptions {
            max_size: settings.pool_size,
            ..PoolOptions::default()
        },
    )?
    // Without a mail server, reviews and revocations queue no e-mail to skip later.
    .with_mail(settings.notifications.smtp_url.is_some());
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(backend = db.backend().as_str(), migrations = ?applied, "migrations applied");
    }
    Ok(db)
}

/// Refuses settings the server cannot run with, before anything starts.
pub fn validate(settings: &Settings) -> Result<(), StartError> {
    if settings.webhooks.lease <= settings.webhooks.timeout {
        return Err(StartError::Config(
            "the webhook lease (PATGATE_WEBHOOK_LEASE_MS) must be longer than the time-out (PATGATE_WEBHOOK_TIMEOUT_MS): an instance still sending must still hold the delivery".to_owned(),
        ));
    }
    settings.notifications.check().map_err(StartError::Config)
}

/// A bound, ready-to-run server.
pub struct Application {
    addr: std::net::SocketAddr,
    db: Db,
    expiry_interval: u64,
    pending_request_ttl_days: Option<u32>,
    revocations: Arc<Revocations>,
    revocation_poll_ms: u64,
    /// The primary rate limit's counts, exchanged with the other instances on PostgreSQL.
    limits: Arc<RateLimiter>,
    rate_limit_sync_ms: u64,
    /// Follows other processes' writes while answers are kept in memory.
    following: Option<changes::Following>,
    webhooks: patgate_events::worker::Settings,
    notifications: patgate_events::mail::Settings,
    base_url: String,
    /// What `/readyz` reports: told here when the background tasks run.
    readiness: Arc<Readiness>,
    server: actix_web::dev::Server,
    /// `GET /metrics` on an address of its own, when one is configured.
    metrics: Option<metrics::Listener>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds the listener and builds the server; `bind` may use port 0. The revocations and
    /// suspensions in force are read first, so that none is missed from the first request.
    pub fn build(settings: &Settings, db: Db) -> Result<Self, StartError> {
        validate(settings)?;
        let revocations = Arc::new(Revocations::load(&db)?);
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
        let base_url = settings
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let readiness = Arc::new(Readiness::default());
        let state = app_state(
            settings,
            &db,
            Arc::clone(&revocations),
            Arc::clone(&readiness),
            &base_url,
        )?;
        let limits = Arc::clone(&state.limits);
        // Followed whether or not answers are kept: the counts behind `rel="last"` are kept
        // too, and served only while every process's writes are seen.
        let following = Some(
            changes::start(
                db.clone(),
                std::time::Duration::from_millis(settings.change_poll_ms),
            )
            .map_err(StartError::Follower)?,
        );
        let metrics = settings
            .metrics_bind
            .as_deref()
            .map(|bind| metrics::bind(bind, &db))
            .transpose()?;
        // Caught from here on: a SIGTERM while starting is not the end of the process either.
        let signals = shutdown::Signals::listen().map_err(StartError::Signals)?;
        let stop = shutdown::after_grace(signals, Arc::clone(&readiness), settings.shutdown_grace);
        let server = serve(settings, state, listener, addr, stop)?;
        Ok(Self {
            addr,
            db,
            expiry_interval: settings.expiry_interval,
            pending_request_ttl_days: settings.pending_request_ttl_days,
            revocations,
            revocation_poll_ms: settings.revocation_poll_ms,
            limits,
            rate_limit_sync_ms: settings.rate_limit_sync_ms,
            following,
            webhooks: settings.webhooks.clone(),
            notifications: settings.notifications.clone(),
            base_url,
            readiness,
            server,
            metrics,
        })
    }

    /// The address the listener is bound to (the real port when 0 was asked for).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address `GET /metrics` is served on, if metrics are.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(metrics::Listener::local_addr)
    }

    /// Serves until SIGTERM or SIGINT (see [`shutdown`]: `/readyz` answers 503 at once, the
    /// listener closes after the grace period, the requests in flight are finished), then
    /// stops the background tasks. Expiry sweeps, the poll of other instances' revocations
    /// and suspensions, and the delivery loops run alongside.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let interval = std::time::Duration::from_secs(self.expiry_interval);
        let ttl = self.pending_request_ttl_days;
        let poll = std::time::Duration::from_millis(self.revocation_poll_ms);
        // Named as `/readyz` shows them.
        let mut tasks: Vec<(&'static str, Stopper)> = [
            (self.expiry_interval > 0).then(|| {
                (
                    "expiry_sweep",
                    expiry::start(self.db.clone(), interval, ttl),
                )
            }),
            (self.revocation_poll_ms > 0).then(|| {
                let revoked = Arc::clone(&self.revocations);
                (
                    "revocation_poll",
                    revocations::start(self.db.clone(), revoked, poll),
                )
            }),
            Some((
                "review_rules",
                review_rules::start(self.db.clone(), REVIEW_RULES_POLL),
            )),
            (self.db.backend() == patgate_persistence::Backend::Sqlite)
                .then(|| ("sqlite_checkpoints", checkpoints(self.db.clone()))),
            // One SQLite file serves one instance: nothing to share.
            (self.db.backend() == patgate_persistence::Backend::Postgres
                && self.limits.is_counting())
            .then(|| {
                let sync = std::time::Duration::from_millis(self.rate_limit_sync_ms);
                (
                    "rate_limit_sync",
                    rate_limits::start(self.db.clone(), Arc::clone(&self.limits), sync),
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        let delivering = patgate_events::webhook::start(
            self.db.clone(),
            self.base_url.clone(),
            self.webhooks.clone(),
        )
        .map_err(std::io::Error::other)?;
        let mailing = patgate_events::mail::start(
            self.db.clone(),
            self.base_url.clone(),
            self.notifications.clone(),
        )
        .map_err(std::io::Error::other)?;
        tasks.push(("webhook_deliveries", delivering.into_stopper()));
        tasks.push(("email_notifications", mailing.into_stopper()));
        let mut watched: Vec<_> = tasks
            .iter()
            .map(|(name, task)| (*name, task.alive()))
            .collect();
        watched.extend(
            self.following
                .as_ref()
                .map(|f| ("change_follower", f.alive())),
        );
        let metrics = self.metrics.map(metrics::Listener::start);
        self.readiness.serving(watched);
        let result = self.server.await;
        // One shutdown path: each loop is told to stop and awaited; the delivery loops let
        // the sends in flight be recorded (within their time-out) and give back their leases.
        for (_, task) in tasks {
            task.stop().await;
        }
        drop(self.following);
        if let Some(metrics) = metrics {
            metrics.stop().await;
        }
        result
    }
}

/// How often an instance looks for a check of pending requests to run, after review rules
/// were saved in enforce mode.
const REVIEW_RULES_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// What every handler shares: the store, keys, caches, limits and the base URL.
fn app_state(
    settings: &Settings,
    db: &Db,
    revocations: Arc<Revocations>,
    readiness: Arc<Readiness>,
    base_url: &str,
) -> Result<AppState, StartError> {
    Ok(AppState {
        db: db.clone(),
        keys: Arc::new(ServerKeys::load_ring(
            &settings.signing_key_file,
            &settings.accepted_key_files,
        )?),
        tokens: Arc::new(TokenCache::default()),
        revocations,
        responses: Arc::new(ResponseCache::new(
            usize::try_from(settings.response_cache_mb).unwrap_or(usize::MAX) << 20,
        )),
        limits: Arc::new(RateLimiter::new(settings.rate_limit_per_hour)),
        readiness,
        base_url: base_url.to_owned(),
    })
}

/// The HTTP server on `listener`, with its workers and their blocking threads; it stops
/// gracefully when `stop` resolves (and only then: actix's own signal handling is off).
fn serve(
    settings: &Settings,
    state: AppState,
    listener: TcpListener,
    addr: std::net::SocketAddr,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<actix_web::dev::Server, StartError> {
    let mut server = actix_web::HttpServer::new(move || patgate_api::build_app(state.clone()))
        .shutdown_signal(stop)
        .listen(listener)
        .map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    if let Some(workers) = settings.workers {
        server = server.workers(workers);
    }
    // Database work runs on each worker's blocking threads; more of them than pooled
    // connections only queue on the pool, each with its own stack and allocator arena.
    let workers = settings
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let pool = usize::try_from(settings.pool_size).unwrap_or(usize::MAX);
    server = server.worker_max_blocking_threads((pool / workers).max(1));
    Ok(server.run())
}

/// How often the SQLite WAL is copied back into the database (connections do not do it at
/// commit; see `Db::checkpoint`).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Checkpoints the SQLite WAL off the request path until stopped.
fn checkpoints(db: Db) -> Stopper {
    spawn_periodic("SQLite WAL checkpoint", CHECKPOINT_EVERY, move || {
        db.checkpoint().map(|_| ())
    })
}
