//! Configuration: flags, then `PATGATE_*` environment variables, then defaults. Secrets are never printed.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "patgate",
    version,
    about = "Governs fine-grained personal access token requests for organizations, over GitHub's REST API."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory for the default SQLite database and signing key.
    #[arg(long, env = "PATGATE_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Database: a SQLite file path (default: DATA_DIR/patgate.db) or a postgres:// URL.
    #[arg(
        long,
        env = "PATGATE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// PEM file of the Ed25519 key that signs installation tokens (default:
    /// DATA_DIR/signing-key.pem, created if missing). Every instance of one deployment must
    /// share it.
    #[arg(long, env = "PATGATE_SIGNING_KEY_FILE", global = true)]
    pub signing_key_file: Option<PathBuf>,
    /// Further Ed25519 key files (PEM, comma-separated) whose installation tokens are accepted
    /// but which sign nothing: the next key while a rotation begins, the previous one until
    /// the tokens it signed have expired (docs/OPERATIONS.md, "Rotating the signing key").
    #[arg(
        long,
        env = "PATGATE_ACCEPTED_KEY_FILES",
        value_delimiter = ',',
        global = true
    )]
    pub accepted_key_files: Vec<PathBuf>,
    /// Database connections per process.
    #[arg(long, env = "PATGATE_POOL_SIZE", default_value_t = 16, global = true)]
    pub pool_size: u32,
    /// How log lines are written to standard error: `text` (for people) or `json` (one
    /// object per line, for a log collector). Which lines: `PATGATE_LOG` (default `info`).
    #[arg(long, env = "PATGATE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "PATGATE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Address of a second listener that serves only `GET /metrics` (Prometheus' text
    /// format), for a scraper on a private network; never served on BIND. Without it, no
    /// metrics are recorded.
    #[arg(long, env = "PATGATE_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// URL clients reach this server at, used in links and `*_url` fields (default:
    /// http://BIND).
    #[arg(long, env = "PATGATE_BASE_URL")]
    pub base_url: Option<String>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PATGATE_WORKERS")]
    pub workers: Option<usize>,
    /// Seconds between expiry sweeps (requests and grants whose token expired become
    /// `expired`); 0 turns the sweeps off.
    #[arg(long, env = "PATGATE_EXPIRY_INTERVAL", default_value_t = 60)]
    pub expiry_interval: u64,
    /// Days after which a request nobody reviewed expires (default: never).
    #[arg(long, env = "PATGATE_PENDING_REQUEST_TTL_DAYS")]
    pub pending_request_ttl_days: Option<u32>,
    /// Milliseconds between reads of the revocations and suspensions other instances made:
    /// this instance refuses their tokens at most this long after. 0 turns it off (one
    /// instance only: its own changes apply at once).
    #[arg(long, env = "PATGATE_REVOCATION_POLL_MS", default_value_t = crate::revocations::DEFAULT_POLL_MS)]
    pub revocation_poll_ms: u64,
    /// Megabytes of answers kept in memory for repeated reads (list pages, repositories, access
    /// checks), each dropped as soon as its organization's data changes; 0 keeps none.
    #[arg(long, env = "PATGATE_RESPONSE_CACHE_MB", default_value_t = 16)]
    pub response_cache_mb: u32,
    /// Requests each installation, and each app calling with its JWT, may make per hour (as
    /// GitHub's primary rate limit; the access check is not counted), in all the instances on
    /// one PostgreSQL together. 0 turns the limit and its headers off.
    #[arg(long, env = "PATGATE_RATE_LIMIT_PER_HOUR", default_value_t = DEFAULT_RATE_LIMIT)]
    pub rate_limit_per_hour: u32,
    /// Milliseconds between two exchanges of the rate limit's counts with the other instances
    /// on PostgreSQL: a caller may get, in all, its limit plus what the other instances let
    /// through for it in one such interval.
    #[arg(long, env = "PATGATE_RATE_LIMIT_SYNC_MS", default_value_t = crate::rate_limits::DEFAULT_SYNC_MS, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub rate_limit_sync_ms: u64,
    /// Milliseconds between looks for due webhook deliveries.
    #[arg(long, env = "PATGATE_WEBHOOK_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_poll_ms: u64,
    /// Milliseconds a receiver has to answer a delivery.
    #[arg(long, env = "PATGATE_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_timeout_ms: u64,
    /// Milliseconds a taken delivery stays this instance's; past it another instance may send
    /// it. Must exceed the time-out.
    #[arg(long, env = "PATGATE_WEBHOOK_LEASE_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_lease_ms: u64,
    /// Milliseconds before the first retry of a failed delivery; each further failure doubles
    /// it, up to 30 minutes.
    #[arg(long, env = "PATGATE_WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_retry_base_ms: u64,
    /// Attempts before a delivery is marked failed.
    #[arg(long, env = "PATGATE_WEBHOOK_MAX_ATTEMPTS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_max_attempts: u32,
    /// Days that webhook deliveries and e-mail notifications done with (delivered, failed,
    /// sent, skipped) are kept, for the deliveries API and redelivery; older ones are deleted
    /// every 10 minutes. 0 keeps them forever. Rows still to send are never deleted.
    #[arg(long, env = "PATGATE_OUTBOX_RETENTION_DAYS", default_value_t = 30)]
    pub outbox_retention_days: u32,
    /// The SMTP server that sends e-mail notifications, as a URL: `smtp://host:port` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (TLS).
    /// Without it, no e-mail (notice or digest) is queued and notices other instances queued are
    /// marked skipped (organization hooks still get theirs).
    #[arg(long, env = "PATGATE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of e-mail notifications (`address` or `Name <address>`).
    #[arg(
        long,
        env = "PATGATE_MAIL_FROM",
        default_value = "patgate <patgate@localhost>"
    )]
    pub mail_from: String,
    /// Milliseconds between looks for due e-mail notifications.
    #[arg(long, env = "PATGATE_MAIL_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub mail_poll_ms: u64,
    /// Milliseconds before the first retry of an e-mail the server did not take; each further
    /// failure doubles it, up to 30 minutes.
    #[arg(long, env = "PATGATE_MAIL_RETRY_BASE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub mail_retry_base_ms: u64,
    /// Attempts before an e-mail is marked failed.
    #[arg(long, env = "PATGATE_MAIL_MAX_ATTEMPTS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..))]
    pub mail_max_attempts: u32,
    /// The hour (UTC) at which each day's digest of pending requests is sent to organization
    /// owners.
    #[arg(long, env = "PATGATE_DIGEST_HOUR_UTC", default_value_t = 9, value_parser = clap::value_parser!(u32).range(0..=23))]
    pub digest_hour_utc: u32,
    /// Seconds between digests, counted from DIGEST_HOUR_UTC (one day by default).
    #[arg(long, env = "PATGATE_DIGEST_PERIOD_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub digest_period_secs: u64,
    /// Milliseconds between reads of the changes other instances committed: their writes show
    /// in this instance's kept answers at most this long after.
    #[arg(long, env = "PATGATE_CHANGE_POLL_MS", default_value_t = crate::changes::DEFAULT_POLL_MS, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub change_poll_ms: u64,
    /// Milliseconds between SIGTERM (or SIGINT) and the server no longer accepting
    /// connections, while /readyz already answers 503 so that load balancers stop sending
    /// traffic here; then the requests in flight are finished. A second signal ends the wait.
    /// Default: 5000 for `serve`, 0 for `demo`.
    #[arg(long, env = "PATGATE_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration (the same flags as `serve`), the database (reachable,
    /// migrations current), the signing key and the SMTP server when one is configured;
    /// change nothing. Exit status 0 when every check passes, 1 when one fails, 2 when the
    /// command line is wrong.
    Check(ServeArgs),
    /// Load a seed file (JSON; see docs/SEED.md). Running it twice changes nothing.
    Seed {
        /// The seed file.
        file: PathBuf,
    },
    /// Seed the demo organization, write DATA_DIR/demo.json and DATA_DIR/demo-app.pem, then serve.
    Demo(ServeArgs),
    /// Print the OpenAPI document.
    Openapi {
        /// `3.1` (what the server serves) or `3.0` (down-converted, for 3.0-only tools).
        #[arg(long, default_value = "3.1", value_parser = ["3.1", "3.0"])]
        spec_version: String,
    },
    /// Print an app JWT (valid for 9 minutes), for trying the API with curl.
    AppJwt {
        /// The app id or client id (the JWT's `iss`).
        #[arg(long)]
        app_id: String,
        /// The app's private key (PEM).
        #[arg(long)]
        private_key: PathBuf,
    },
}

/// Everything the server needs, resolved from the command line and environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub signing_key_file: PathBuf,
    pub accepted_key_files: Vec<PathBuf>,
    pub pool_size: u32,
    pub bind: String,
    pub metrics_bind: Option<String>,
    pub base_url: Option<String>,
    pub workers: Option<usize>,
    pub expiry_interval: u64,
    pub pending_request_ttl_days: Option<u32>,
    pub revocation_poll_ms: u64,
    pub response_cache_mb: u32,
    pub change_poll_ms: u64,
    pub rate_limit_per_hour: u32,
    pub rate_limit_sync_ms: u64,
    /// From SIGTERM or SIGINT to no longer accepting connections.
    pub shutdown_grace: Duration,
    pub webhooks: patgate_events::worker::Settings,
    pub notifications: patgate_events::mail::Settings,
}

/// GitHub's limit for an installation (without its per-repository and per-user increases).
pub const DEFAULT_RATE_LIMIT: u32 = 5000;

/// The wait between SIGTERM and closing the listener, for `serve`: load balancers probing
/// `/readyz` every few seconds notice the 503 in it and stop sending requests here.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 5000;

/// The retention period of `days` (`None`: keep forever).
fn retention(days: u32) -> Option<Duration> {
    (days > 0).then(|| Duration::from_secs(u64::from(days) * 86_400))
}

impl Settings {
    pub fn new(global: &GlobalArgs, serve: Option<&ServeArgs>) -> Self {
        let default_db = global.data_dir.join("patgate.db").display().to_string();
        Self {
            database_url: global.database_url.clone().unwrap_or(default_db),
            signing_key_file: global
                .signing_key_file
                .clone()
                .unwrap_or_else(|| global.data_dir.join("signing-key.pem")),
            accepted_key_files: global.accepted_key_files.clone(),
            pool_size: global.pool_size,
            bind: serve.map_or_else(|| "127.0.0.1:8080".to_owned(), |s| s.bind.clone()),
            metrics_bind: serve.and_then(|s| s.metrics_bind.clone()),
            base_url: serve.and_then(|s| s.base_url.clone()),
            workers: serve.and_then(|s| s.workers),
            expiry_interval: serve.map_or(60, |s| s.expiry_interval),
            pending_request_ttl_days: serve.and_then(|s| s.pending_request_ttl_days),
            revocation_poll_ms: serve.map_or(crate::revocations::DEFAULT_POLL_MS, |s| {
                s.revocation_poll_ms
            }),
            response_cache_mb: serve.map_or(16, |s| s.response_cache_mb),
            change_poll_ms: serve.map_or(crate::changes::DEFAULT_POLL_MS, |s| s.change_poll_ms),
            rate_limit_per_hour: serve.map_or(DEFAULT_RATE_LIMIT, |s| s.rate_limit_per_hour),
            rate_limit_sync_ms: serve.map_or(crate::rate_limits::DEFAULT_SYNC_MS, |s| {
                s.rate_limit_sync_ms
            }),
            shutdown_grace: Duration::from_millis(
                serve
                    .and_then(|s| s.shutdown_grace_ms)
                    .unwrap_or(DEFAULT_SHUTDOWN_GRACE_MS),
            ),
            webhooks: serve.map_or_else(patgate_events::worker::Settings::default, |s| {
                patgate_events::worker::Settings {
                    poll: Duration::from_millis(s.webhook_poll_ms),
                    timeout: Duration::from_millis(s.webhook_timeout_ms),
                    lease: Duration::from_millis(s.webhook_lease_ms),
                    retry_base: Duration::from_millis(s.webhook_retry_base_ms),
                    max_attempts: s.webhook_max_attempts,
                    retention: retention(s.outbox_retention_days),
                    ..patgate_events::worker::Settings::default()
                }
            }),
            notifications: serve.map_or_else(patgate_events::mail::Settings::default, |s| {
                patgate_events::mail::Settings {
                    smtp_url: s.smtp_url.clone(),
                    from: s.mail_from.clone(),
                    digest_hour_utc: s.digest_hour_utc,
                    digest_period: Duration::from_secs(s.digest_period_secs),
                    delivery: patgate_events::worker::Settings {
                        poll: Duration::from_millis(s.mail_poll_ms),
                        retry_base: Duration::from_millis(s.mail_retry_base_ms),
                        max_attempts: s.mail_max_attempts,
                        retention: retention(s.outbox_retention_days),
                        ..patgate_events::mail::Settings::default().delivery
                    },
                }
            }),
        }
    }

    /// The directory of the SQLite file, to create before opening it.
    pub fn sqlite_dir(&self) -> Option<PathBuf> {
        let (backend, path) = patgate_persistence::Backend::parse_url(&self.database_url).ok()?;
        if backend == patgate_persistence::Backend::Postgres {
            return None;
        }
        PathBuf::from(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
    }
}
