//! The HTTP layer's metrics (requests by route template, method and status) and the scrape
//! endpoint, `GET /metrics`, which the binary serves on an address of its own
//! (`PATGATE_METRICS_BIND`), never on the API's. What the metrics are is defined in
//! `patgate-metrics`; the gauges read at scrape time (pool, outbox backlogs) are set here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use patgate_metrics::Exporter;
use patgate_persistence::outbox::{self, Outbox};
use patgate_persistence::{notifications, webhooks, Db, StoreError};

/// The Prometheus text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the outbox backlogs; past it, the scrape shows the values last
/// read, and the read goes on to serve the next one.
const BACKLOG_WAIT: Duration = Duration::from_secs(2);

/// Counts an answered request under its route's template (`/orgs/{org}/…`, never the path
/// with its ids), or `unmatched`.
/// `route` is the request's template (`HttpRequest::match_pattern`), which the access log
/// reads too: taken once per request by the caller.
pub fn count_request(
    req: &HttpRequest,
    route: Option<&str>,
    status: StatusCode,
    elapsed: Duration,
) {
    if !patgate_metrics::enabled() {
        return;
    }
    patgate_metrics::http_request(route, req.method().as_str(), status.as_u16(), elapsed);
}

/// What the scrape endpoint reads: the recorder, and the database for the gauges it reads
/// at scrape time.
#[derive(Debug, Clone)]
pub struct Scrape {
    exporter: Exporter,
    db: Db,
    /// A backlog read under way (a slow database must not pile reads up).
    reading: Arc<AtomicBool>,
    /// Whether the last backlog read failed, so that a failure is logged once, not per scrape.
    failing: Arc<AtomicBool>,
}

impl Scrape {
    pub fn new(exporter: Exporter, db: Db) -> Self {
        Self {
            exporter,
            db,
            reading: Arc::new(AtomicBool::new(false)),
            failing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The scrape's text, with the pool and the outbox backlogs read now.
    pub async fn render(&self) -> String {
        let pool = self.db.pool_state();
        patgate_metrics::pool_state(pool.connections, pool.idle, pool.max);
        self.read_backlogs().await;
        self.exporter.render()
    }

    /// Reads both outboxes' backlogs into their gauges, waiting for them at most
    /// [`BACKLOG_WAIT`]. Every instance reads the same shared outboxes.
    async fn read_backlogs(&self) {
        if self.reading.swap(true, Ordering::AcqRel) {
            return;
        }
        let (db, reading) = (self.db.clone(), Arc::clone(&self.reading));
        let read = web::block(move || {
            let _done = Done(reading);
            let mut conn = db.conn()?;
            let now = patgate_persistence::now();
            for (outbox, metric) in [
                (Outbox::WebhookDeliveries, patgate_metrics::Outbox::Webhook),
                (Outbox::Notifications, patgate_metrics::Outbox::Email),
            ] {
                let backlog = match outbox {
                    Outbox::WebhookDeliveries => webhooks::backlog(&mut conn, None)?,
                    Outbox::Notifications => notifications::backlog(&mut conn, None)?,
                };
                let waited = outbox::oldest_due(&mut conn, outbox, now)?
                    .and_then(|due| (now - due).to_std().ok())
                    .unwrap_or_default();
                patgate_metrics::backlog(metric, backlog.pending, backlog.failed, waited);
            }
            Ok::<(), StoreError>(())
        });
        let error = match actix_web::rt::time::timeout(BACKLOG_WAIT, read).await {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e))) => Some(e.to_string()),
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {} s", BACKLOG_WAIT.as_secs())),
        };
        let was_failing = self.failing.swap(error.is_some(), Ordering::AcqRel);
        match (error, was_failing) {
            (Some(error), false) => tracing::warn!(
                error,
                "cannot read the outbox backlogs for the metrics; scrapes show the last values read"
            ),
            (None, true) => tracing::info!("the outbox backlogs are read for the metrics again"),
            _ => {}
        }
    }
}

/// Marks the backlog read finished when dropped, however it ends.
struct Done(Arc<AtomicBool>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The metrics server's application: `GET /metrics`, and 404 for anything else.
pub fn app(
    scrape: Scrape,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(web::Data::new(scrape))
        .route("/metrics", web::get().to(metrics))
        .default_service(web::to(HttpResponse::NotFound))
}

/// Every metric, in Prometheus' text format.
async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(TEXT_FORMAT)
        .body(scrape.render().await)
}
