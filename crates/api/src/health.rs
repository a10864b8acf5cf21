//! The probes of load balancers and orchestrators: `/healthz` (liveness) answers while the
//! process does; `/readyz` (readiness) says whether this instance should be sent traffic: it
//! is not starting or shutting down, the database answers within a second with this binary's
//! migrations applied, and the background tasks run. Neither needs a credential, is counted
//! by the rate limit, or is in the OpenAPI document (they are not GitHub's API).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use patgate_events::tasks::Alive;
use patgate_persistence::{Db, StoreError};
use serde_json::{json, Map, Value};

use crate::error::error_chain;
use crate::state::AppState;

pub const LIVENESS_PATH: &str = "/healthz";
pub const READINESS_PATH: &str = "/readyz";

/// How long `/readyz` waits for the database: for a pooled connection and one short read
/// together.
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `path` is one of the probes, which skip GitHub's header rules (a load balancer's
/// check may send no `User-Agent`).
pub fn is_probe(path: &str) -> bool {
    path == LIVENESS_PATH || path == READINESS_PATH
}

/// Where the instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Built, its background tasks not started yet.
    Starting,
    Serving,
    /// Told to stop: still serving, but no longer to be sent traffic.
    Draining,
}

/// What `/readyz` knows besides the database: the instance's phase and its background tasks.
#[derive(Debug)]
pub struct Readiness {
    phase: AtomicU8,
    tasks: RwLock<Vec<(&'static str, Alive)>>,
    /// Whether a database check runs. One at a time: a check stuck on a database that does
    /// not answer keeps its thread, and no other is started beside it.
    checking: Arc<AtomicBool>,
    /// Whether the last checks passed, so that a change is logged once.
    passed: AtomicBool,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            phase: AtomicU8::new(Phase::Starting as u8),
            tasks: RwLock::new(Vec::new()),
            checking: Arc::new(AtomicBool::new(false)),
            passed: AtomicBool::new(true),
        }
    }
}

impl Readiness {
    /// The background tasks are started: ready from now on while `tasks` (named as
    /// `/readyz` shows them) run and the database answers.
    pub fn serving(&self, tasks: Vec<(&'static str, Alive)>) {
        *self.tasks.write().unwrap_or_else(|p| p.into_inner()) = tasks;
        let _ = self.phase.compare_exchange(
            Phase::Starting as u8,
            Phase::Serving as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    /// The instance is shutting down: not ready from now on, for good.
    pub fn drain(&self) {
        self.phase.store(Phase::Draining as u8, Ordering::SeqCst);
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Starting,
            1 => Phase::Serving,
            _ => Phase::Draining,
        }
    }

    /// Each task's name and whether it runs.
    fn tasks(&self) -> Vec<(&'static str, bool)> {
        self.tasks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, alive)| (*name, alive.is_alive()))
            .collect()
    }

    /// Logs a change between passing and failing checks, with the full reason when they fail.
    fn observe(&self, failure: Option<&str>) {
        let passed = failure.is_none();
        if self.passed.swap(passed, Ordering::SeqCst) != passed {
            match failure {
                Some(reason) => tracing::warn!(reason, "not ready"),
                None => tracing::info!("ready again"),
            }
        }
    }
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    probe_answer(HttpResponse::Ok(), json!({"status": "ok"}))
}

/// `GET /readyz`: 200 with each check when the instance should be sent traffic, else 503
/// with the first reason it should not.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let readiness = &state.readiness;
    match readiness.phase() {
        Phase::Starting => return unavailable("starting", None),
        Phase::Draining => return unavailable("shutting down", None),
        Phase::Serving => {}
    }
    let mut checks = Map::new();
    // The first failing check: its short reason for the body and its full one for the log.
    let mut failure: Option<(String, String)> = None;
    match database(&state.db, &readiness.checking).await {
        Ok(pending) if pending.is_empty() => {
            checks.insert("database".into(), "ok".into());
            checks.insert("migrations".into(), "ok".into());
        }
        Ok(pending) => {
            let short = format!("{} pending", pending.len());
            let full = format!("migrations: pending {}", pending.join(", "));
            checks.insert("database".into(), "ok".into());
            checks.insert("migrations".into(), short.clone().into());
            failure = Some((format!("migrations: {short}"), full));
        }
        Err(fault) => {
            checks.insert("database".into(), fault.short.into());
            checks.insert("migrations".into(), "unknown".into());
            failure = Some((format!("database: {}", fault.short), fault.full));
        }
    }
    for (name, alive) in readiness.tasks() {
        checks.insert(name.into(), if alive { "ok" } else { "stopped" }.into());
        if !alive && failure.is_none() {
            let reason = format!("{name}: stopped");
            failure = Some((reason.clone(), reason));
        }
    }
    readiness.observe(failure.as_ref().map(|(_, full)| full.as_str()));
    match failure {
        None => probe_answer(
            HttpResponse::Ok(),
            json!({"status": "ok", "checks": checks}),
        ),
        Some((reason, _)) => unavailable(&reason, Some(checks)),
    }
}

/// Why the database check failed: a few words for the body (which anyone may read: never a
/// host, user or URL) and the error chain for the log.
struct Fault {
    short: &'static str,
    full: String,
}

impl Fault {
    fn of(short: &'static str, error: &dyn std::error::Error) -> Self {
        Self {
            short,
            full: format!("database: {}", error_chain(error)),
        }
    }

    fn timed_out() -> Self {
        Self {
            short: "timed out",
            full: format!("database: no answer within {DATABASE_TIMEOUT:?}"),
        }
    }
}

/// Clears the running check's flag when the check ends, or is dropped before it runs.
struct Checking(Arc<AtomicBool>);

impl Drop for Checking {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The migrations the database lacks, read within [`DATABASE_TIMEOUT`] on a thread of its own
/// (not one of the request handlers' blocking threads, which a busy instance may all be
/// using).
async fn database(db: &Db, checking: &Arc<AtomicBool>) -> Result<Vec<String>, Fault> {
    let deadline = Instant::now() + DATABASE_TIMEOUT;
    // Another probe's check may be running: wait for it, as long as this one may.
    while checking.swap(true, Ordering::SeqCst) {
        if Instant::now() >= deadline {
            return Err(Fault::timed_out());
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    let guard = Checking(Arc::clone(checking));
    let (answer, answered) = tokio::sync::oneshot::channel();
    let db = db.clone();
    let spawned = std::thread::Builder::new()
        .name("patgate-readyz".to_owned())
        .spawn(move || {
            let _guard = guard;
            let _ = answer.send(db.pending_migrations_within(DATABASE_TIMEOUT));
        });
    if let Err(e) = spawned {
        return Err(Fault::of("error", &e));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    match actix_web::rt::time::timeout(left, answered).await {
        Ok(Ok(Ok(pending))) => Ok(pending),
        Ok(Ok(Err(e))) => Err(Fault::of(short_reason(&e), &e)),
        Ok(Err(_)) | Err(_) => Err(Fault::timed_out()),
    }
}

/// The words `/readyz` shows for a store error.
fn short_reason(e: &StoreError) -> &'static str {
    match e {
        StoreError::Connect(_) | StoreError::Pool(_) | StoreError::Disconnected(_) => "unreachable",
        _ => "error",
    }
}

/// 503 with `reason`, and the checks when they ran.
fn unavailable(reason: &str, checks: Option<Map<String, Value>>) -> HttpResponse {
    let mut body = json!({"status": "unavailable", "reason": reason});
    if let Some(checks) = checks {
        body["checks"] = Value::Object(checks);
    }
    probe_answer(HttpResponse::ServiceUnavailable(), body)
}

/// A probe's answer: JSON, never kept by a cache on the way.
fn probe_answer(mut builder: actix_web::HttpResponseBuilder, body: Value) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}
