//! Delivering the outbox: every instance takes due webhook deliveries under a lease, posts each
//! signed body, and records the attempt. A failure (no answer within the time-out, or a status
//! other than 2xx) is retried with exponential backoff and jitter until the attempts run out;
//! an instance that dies mid-delivery leaves a lease that ends, and another instance sends the
//! delivery again (receivers de-duplicate on `X-GitHub-Delivery`).

use patgate_persistence::Touches;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use patgate_api::webhook_payload::{self, Rendered};
use patgate_persistence::outbox::Outbox;
use patgate_persistence::webhooks::{self, Attempt, Delivery, Target};
use patgate_persistence::{Db, StoreError};

/// How deliveries are taken, sent and retried.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often due deliveries are looked for.
    pub poll: Duration,
    /// How long a taken delivery is this instance's; past it, another instance may take it.
    pub lease: Duration,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// The wait after the first failure; it doubles with each failure, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// Deliveries taken (and sent concurrently) at a time.
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
}

/// The `sha256=…` value of `X-Hub-Signature-256`: the body's HMAC-SHA256 under the secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A number in [0, 1) from the system's generator.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// Stops the delivery loop when dropped, after the deliveries in flight are recorded and the
/// leases still held are given back.
#[derive(Debug)]
pub struct Delivering {
    stop: Arc<AtomicBool>,
    task: Option<actix_web::rt::task::JoinHandle<()>>,
}

impl Delivering {
    /// Asks the loop to stop and waits for it.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Delivering {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What one instance needs to deliver.
#[derive(Debug, Clone)]
struct Worker {
    db: Db,
    base_url: String,
    settings: Settings,
    /// This instance, as the holder of its leases.
    owner: String,
    http: reqwest::Client,
}

/// Starts delivering on the current actix runtime.
pub fn start(db: Db, base_url: String, settings: Settings) -> Result<Delivering, reqwest::Error> {
    let http = reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "GitHub-Hookshot/patgate-",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?;
    let owner = format!(
        "{}-{}",
        std::process::id(),
        &patgate_api::keys::random_hex()[..12]
    );
    let worker = Worker {
        db,
        base_url,
        settings,
        owner,
        http,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let task = actix_web::rt::spawn(run(worker, Arc::clone(&stop)));
    Ok(Delivering {
        stop,
        task: Some(task),
    })
}

/// How often each instance deletes the rows past the retention period (the first time a
/// minute after it starts).
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

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
        let n = actix_web::web::block(move || {
            db.write(Touches::Nothing, |c| {
                patgate_persistence::outbox::sweep(c, outbox, cutoff, BATCH)
            })
        })
        .await
        .map_err(|e| StoreError::Connect(e.to_string()))??;
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

async fn run(worker: Worker, stop: Arc<AtomicBool>) {
    let mut failing = false;
    let mut reported = Instant::now();
    let mut next_sweep = Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::SeqCst) {
        if reported.elapsed() >= Duration::from_secs(60) {
            reported = Instant::now();
            worker.report_backlog().await;
        }
        if let Some(retention) = worker
            .settings
            .retention
            .filter(|_| Instant::now() >= next_sweep)
        {
            next_sweep = Instant::now() + SWEEP_EVERY;
            if let Err(e) = sweep(&worker.db, Outbox::WebhookDeliveries, retention).await {
                tracing::warn!(error = %e, "cannot delete old webhook deliveries; retrying later");
            }
        }
        match worker.round(&stop).await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("webhook deliveries resumed");
            }
            Ok(_) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot take webhook deliveries; retrying");
            }
            Err(_) => {}
        }
        actix_web::rt::time::sleep(worker.settings.poll).await;
    }
    let (db, owner) = (worker.db.clone(), worker.owner.clone());
    match actix_web::web::block(move || {
        db.write(Touches::Nothing, |c| webhooks::release(c, &owner))
    })
    .await
    {
        Ok(Ok(0)) => {}
        Ok(Ok(released)) => tracing::info!(released, "webhook leases given back at shutdown"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot give back webhook leases; they end by themselves")
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot give back webhook leases; they end by themselves")
        }
    }
}

impl Worker {
    /// Logs the backlog of every webhook (apps' and organizations'), while anything waits or
    /// has failed.
    async fn report_backlog(&self) {
        let db = self.db.clone();
        let read = actix_web::web::block(move || webhooks::backlog(&mut *db.conn()?, None)).await;
        match read {
            Ok(Ok(b)) if b.pending > 0 || b.failed > 0 => {
                let lag_secs = b
                    .oldest_pending
                    .map(|t| (patgate_persistence::now() - t).num_seconds());
                tracing::info!(
                    pending = b.pending,
                    failed = b.failed,
                    lag_secs,
                    "webhook backlog"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the webhook backlog"),
            Err(e) => tracing::warn!(error = %e, "cannot read the webhook backlog"),
        }
    }

    /// Takes and sends batches until none is due (or the loop is stopping).
    async fn round(&self, stop: &AtomicBool) -> Result<(), StoreError> {
        while !stop.load(Ordering::SeqCst) {
            let (db, owner, batch) = (self.db.clone(), self.owner.clone(), self.settings.batch);
            let lease = chrono::Duration::from_std(self.settings.lease).unwrap_or_default();
            let claimed = actix_web::web::block(move || {
                let now = patgate_persistence::now();
                db.write(Touches::Nothing, |c| {
                    webhooks::claim(c, &owner, now, now + lease, batch)
                })
            })
            .await
            .map_err(|e| StoreError::Connect(e.to_string()))??;
            let full = i64::try_from(claimed.len()).unwrap_or(i64::MAX) >= batch;
            let mut sending = tokio::task::JoinSet::new();
            for delivery in claimed {
                let worker = self.clone();
                sending.spawn_local(async move { worker.deliver(delivery).await });
            }
            while sending.join_next().await.is_some() {}
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// Sends one delivery and records how it went.
    async fn deliver(&self, delivery: Delivery) {
        let (db, base) = (self.db.clone(), self.base_url.clone());
        let d = delivery.clone();
        let read = actix_web::web::block(move || -> Result<_, StoreError> {
            let mut conn = db.conn()?;
            let hook = webhooks::target(&mut conn, &d)?;
            let rendered = webhook_payload::render(&mut conn, &base, &d)?;
            Ok((hook, rendered))
        })
        .await;
        let (hook, rendered) = match read {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::warn!(guid = delivery.guid, error = %e, "cannot read a webhook delivery's event; the lease will end and it will be taken again");
                return;
            }
            Err(e) => {
                tracing::warn!(guid = delivery.guid, error = %e, "webhook delivery not read");
                return;
            }
        };
        let attempt = match hook.filter(|h| h.active) {
            Some(hook) => self.send(&delivery, &hook, rendered).await,
            None => Attempt {
                status_code: None,
                error: Some("the webhook was removed or deactivated".to_owned()),
                duration_ms: 0.0,
                at: patgate_persistence::now(),
                retry_at: None,
            },
        };
        let (db, owner, id) = (self.db.clone(), self.owner.clone(), delivery.id);
        let logged = attempt.clone();
        let recorded = actix_web::web::block(move || {
            db.write(Touches::Nothing, |c| {
                webhooks::record(c, id, &owner, &attempt)
            })
        })
        .await;
        match (recorded, &logged.error) {
            (Ok(Ok(true)), None) => tracing::info!(
                guid = delivery.guid,
                action = delivery.action,
                app_id = delivery.app_id,
                hook_id = delivery.hook_id,
                event = delivery.event,
                status = logged.status_code,
                attempts = delivery.attempts + 1,
                duration_ms = logged.duration_ms,
                "webhook delivered"
            ),
            (Ok(Ok(true)), Some(error)) => tracing::warn!(
                guid = delivery.guid,
                action = delivery.action,
                app_id = delivery.app_id,
                hook_id = delivery.hook_id,
                event = delivery.event,
                status = logged.status_code,
                attempts = delivery.attempts + 1,
                error,
                retry_at = ?logged.retry_at,
                "webhook delivery failed"
            ),
            (Ok(Ok(false)), _) => tracing::warn!(
                guid = delivery.guid,
                "webhook delivery's lease ended before its attempt was recorded; another instance took it"
            ),
            (Ok(Err(e)), _) => {
                tracing::warn!(guid = delivery.guid, error = %e, "webhook attempt not recorded; it will be sent again");
            }
            (Err(e), _) => {
                tracing::warn!(guid = delivery.guid, error = %e, "webhook attempt not recorded; it will be sent again");
            }
        }
    }

    async fn send(&self, delivery: &Delivery, hook: &Target, rendered: Rendered) -> Attempt {
        let json = serde_json::to_vec(&rendered.payload).unwrap_or_default();
        let (body, content_type) = if hook.content_type == "form" {
            let encoded: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &String::from_utf8_lossy(&json))
                .finish();
            (encoded.into_bytes(), "application/x-www-form-urlencoded")
        } else {
            (json, "application/json")
        };
        let mut request = self
            .http
            .post(&hook.url)
            .header("Content-Type", content_type);
        for (name, value) in rendered.headers {
            request = request.header(name, value);
        }
        if let Some(secret) = hook.secret.as_deref().filter(|s| !s.is_empty()) {
            request = request.header("X-Hub-Signature-256", signature(secret, &body));
        }
        let started = Instant::now();
        let sent = request.body(body).send().await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let at = patgate_persistence::now();
        let (status_code, error) = match sent {
            Ok(res) if res.status().is_success() => (Some(i32::from(res.status().as_u16())), None),
            Ok(res) => (
                Some(i32::from(res.status().as_u16())),
                Some(format!("Invalid HTTP Response: {}", res.status().as_u16())),
            ),
            Err(e) if e.is_timeout() => (None, Some("timed out".to_owned())),
            Err(e) => (
                None,
                Some(format!("could not send: {}", error_text(&e.without_url()))),
            ),
        };
        let failures = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
        let retry_at = error.as_ref().and_then(|_| {
            let wait = self.settings.retry_after(failures, jitter())?;
            Some(at + chrono::Duration::from_std(wait).unwrap_or_default())
        });
        Attempt {
            status_code,
            error,
            duration_ms,
            at,
            retry_at,
        }
    }
}

/// The error and its causes (given without its URL, which may carry credentials).
fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_githubs_hmac_sha256() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

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
}
