//! E-mail notifications over SMTP: every instance queues each period's digests (the database
//! lets one of them do it), takes due notifications under a lease, renders and sends each,
//! and records the attempt. A mail server that refuses for now (4xx) or cannot be reached is
//! tried again with exponential backoff and jitter; one that refuses for good (5xx) fails the
//! notification at once.

use patgate_persistence::Touches;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use patgate_persistence::notifications::{self as store, Digest, Notice, Notification, Outcome};
use patgate_persistence::outbox::Outbox;
use patgate_persistence::{Db, StoreError};
use tokio::sync::watch;

use patgate_api::notice_text::{digest_text, notice_text, DIGEST_LIMIT};

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Where and when e-mail goes. `delivery` sets polling, leases, the time-out and retries as
/// for webhooks.
#[derive(Clone)]
pub struct Settings {
    /// lettre's URL form: `smtp://host:port`, `smtps://user:pass@host:465`, `?tls=required`.
    pub smtp_url: Option<String>,
    pub from: String,
    pub digest_hour_utc: u32,
    pub digest_period: Duration,
    pub delivery: crate::webhooks::Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "patgate <patgate@localhost>".to_owned(),
            digest_hour_utc: 9,
            digest_period: Duration::from_secs(86_400),
            delivery: crate::webhooks::Settings {
                timeout: Duration::from_secs(30),
                lease: Duration::from_secs(120),
                ..crate::webhooks::Settings::default()
            },
        }
    }
}

impl std::fmt::Debug for Settings {
    // The URL may carry the SMTP password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "********"))
            .field("from", &self.from)
            .field("digest_hour_utc", &self.digest_hour_utc)
            .field("digest_period", &self.digest_period)
            .field("delivery", &self.delivery)
            .finish()
    }
}

impl Settings {
    /// Refuses a sender or an SMTP URL that cannot be used, before the server starts.
    pub fn check(&self) -> Result<(), String> {
        self.from
            .parse::<Mailbox>()
            .map_err(|e| format!("PATGATE_MAIL_FROM is not an e-mail address: {e}"))?;
        if let Some(url) = &self.smtp_url {
            Self::parse_url(url)?;
        }
        Ok(())
    }

    fn parse_url(url: &str) -> Result<lettre::transport::smtp::AsyncSmtpTransportBuilder, String> {
        // The error is given without the URL, which may carry credentials.
        Transport::from_url(url).map_err(|e| format!("PATGATE_SMTP_URL cannot be used: {e}"))
    }

    /// The transport, with its connection pool; on a tokio runtime, which the pool runs on.
    fn transport(&self) -> Result<Option<Transport>, String> {
        let Some(url) = &self.smtp_url else {
            return Ok(None);
        };
        let builder = Self::parse_url(url)?;
        Ok(Some(builder.timeout(Some(self.delivery.timeout)).build()))
    }

    /// The start of the digest period `now` falls in: periods are counted from the digest hour
    /// of 1 January 1970.
    pub fn period_start(&self, now: NaiveDateTime) -> NaiveDateTime {
        let anchor = i64::from(self.digest_hour_utc) * 3600;
        let period = i64::try_from(self.digest_period.as_secs().max(1)).unwrap_or(86_400);
        let slot = (now.and_utc().timestamp() - anchor).div_euclid(period);
        DateTime::from_timestamp(anchor + slot * period, 0).map_or(now, |start| start.naive_utc())
    }
}

/// The running mail loop. Dropping it stops the loop too, without waiting.
#[derive(Debug)]
pub struct Mailing {
    stop: watch::Sender<bool>,
    task: actix_web::rt::task::JoinHandle<()>,
}

impl Mailing {
    /// Stops the loop at once (it does not finish its sleep), lets the messages in flight be
    /// recorded and gives back the leases still held.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[derive(Clone)]
struct Mailer {
    db: Db,
    base_url: String,
    settings: Settings,
    from: Mailbox,
    transport: Option<Transport>,
    /// This instance, as the holder of its leases.
    lessee: String,
}

/// Starts sending on the current actix runtime (the SMTP connection pool runs on it).
pub fn start(db: Db, base_url: String, settings: Settings) -> Result<Mailing, String> {
    settings.check()?;
    let from = settings
        .from
        .parse::<Mailbox>()
        .map_err(|e| e.to_string())?;
    let transport = settings.transport()?;
    if transport.is_none() {
        tracing::info!(
            "no SMTP server configured (PATGATE_SMTP_URL): e-mail notifications are skipped"
        );
    }
    let lessee = format!(
        "mail-{}-{}",
        std::process::id(),
        &patgate_api::keys::random_hex()[..12]
    );
    let (stop, stopping) = watch::channel(false);
    let mailer = Mailer {
        db,
        base_url,
        settings,
        from,
        transport,
        lessee,
    };
    let task = actix_web::rt::spawn(run(mailer, stopping));
    Ok(Mailing { stop, task })
}

async fn run(mailer: Mailer, mut stopping: watch::Receiver<bool>) {
    let mut scheduled: Option<NaiveDateTime> = None;
    let mut failing = false;
    let mut reported = Instant::now();
    let mut next_sweep = Instant::now() + Duration::from_secs(60);
    while !*stopping.borrow() {
        let result = mailer.pass(&mut scheduled, &stopping).await;
        failing = log_health(failing, result);
        if reported.elapsed() >= Duration::from_secs(60) {
            reported = Instant::now();
            mailer.report_backlog().await;
        }
        let retention = mailer.settings.delivery.retention;
        if let Some(retention) = retention.filter(|_| Instant::now() >= next_sweep) {
            next_sweep = Instant::now() + crate::webhooks::SWEEP_EVERY;
            let swept = crate::webhooks::sweep(&mailer.db, Outbox::Notifications, retention).await;
            if let Err(e) = swept {
                tracing::warn!(error = %e, "cannot delete old e-mail notifications; retrying later");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(mailer.settings.delivery.poll) => {}
            changed = stopping.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    mailer.give_back().await;
}

/// Logs when taking work starts failing and when it works again (not every failed poll);
/// whether it is failing now.
fn log_health(failing: bool, result: Result<(), StoreError>) -> bool {
    match result {
        Ok(()) if failing => tracing::info!("e-mail notifications resumed"),
        Err(e) if !failing => {
            tracing::warn!(error = %e, "cannot take e-mail notifications; retrying");
            return true;
        }
        Ok(()) => {}
        Err(_) => return true,
    }
    false
}

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    actix_web::web::block(f)
        .await
        .map_err(|e| StoreError::Connect(e.to_string()))?
}

impl Mailer {
    /// One look for work: the period's digests (e-mailed with a mail server, and to the
    /// organization hooks subscribed to them), then what is due.
    async fn pass(
        &self,
        scheduled: &mut Option<NaiveDateTime>,
        stopping: &watch::Receiver<bool>,
    ) -> Result<(), StoreError> {
        *scheduled = Some(self.schedule(*scheduled).await?);
        self.round(stopping).await
    }

    /// Gives back the leases this instance still holds, for another to take at once.
    async fn give_back(&self) {
        let (db, lessee) = (self.db.clone(), self.lessee.clone());
        match blocking(move || db.write(Touches::Nothing, |c| store::release(c, &lessee))).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "e-mail leases given back at shutdown"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot give back e-mail leases; they end by themselves");
            }
        }
    }

    /// Queues the current period's digests unless this instance already saw them queued;
    /// returns the period.
    async fn schedule(&self, done: Option<NaiveDateTime>) -> Result<NaiveDateTime, StoreError> {
        let now = patgate_persistence::now();
        let period = self.settings.period_start(now);
        if done == Some(period) {
            return Ok(period);
        }
        let (db, email) = (self.db.clone(), self.transport.is_some());
        let queued = blocking(move || {
            db.write(Touches::Nothing, |c| {
                store::schedule_digests(c, period, now, email)
            })
        })
        .await?;
        if queued > 0 {
            tracing::info!(queued, period = %period, "digests of pending requests queued");
        }
        Ok(period)
    }

    /// Takes and sends batches until none is due (or the loop is stopping).
    async fn round(&self, stopping: &watch::Receiver<bool>) -> Result<(), StoreError> {
        let lease = chrono::Duration::from_std(self.settings.delivery.lease).unwrap_or_default();
        while !*stopping.borrow() {
            let (db, lessee, batch) = (
                self.db.clone(),
                self.lessee.clone(),
                self.settings.delivery.batch,
            );
            let taken = blocking(move || {
                let now = patgate_persistence::now();
                db.write(Touches::Nothing, |c| {
                    store::claim(c, &lessee, now, now + lease, batch)
                })
            })
            .await?;
            if taken.is_empty() {
                return Ok(());
            }
            // Sent side by side; the next batch is taken once all of these are recorded.
            let mut sending = tokio::task::JoinSet::new();
            for n in taken {
                let mailer = self.clone();
                sending.spawn_local(async move { mailer.deliver(n).await });
            }
            sending.join_all().await;
        }
        Ok(())
    }

    async fn report_backlog(&self) {
        let db = self.db.clone();
        match blocking(move || store::backlog(&mut *db.conn()?, None)).await {
            Ok(b) if b.pending > 0 || b.failed > 0 => {
                let lag_secs = b
                    .oldest_pending
                    .map(|t| (patgate_persistence::now() - t).num_seconds());
                tracing::info!(
                    pending = b.pending,
                    failed = b.failed,
                    lag_secs,
                    "e-mail backlog"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the e-mail backlog"),
        }
    }

    /// Sends one notification and records how it went.
    async fn deliver(&self, n: Notification) {
        let outcome = match &self.transport {
            None => Outcome::Skipped {
                why: "no SMTP server configured".to_owned(),
            },
            Some(transport) => match self.render(&n).await {
                Ok(Ok(message)) => self.send(transport, &n, message).await,
                Ok(Err(skipped)) => skipped,
                Err(e) => {
                    tracing::warn!(notification = n.id, error = %e, "cannot read a notification's content; the lease will end and it will be taken again");
                    return;
                }
            },
        };
        let (db, owner, id) = (self.db.clone(), self.lessee.clone(), n.id);
        let at = patgate_persistence::now();
        let logged = outcome.clone();
        let recorded = blocking(move || {
            db.write(Touches::Nothing, |c| {
                store::record(c, id, &owner, &outcome, at)
            })
        })
        .await;
        let attempts = n.attempts + 1;
        match (recorded, logged) {
            (Ok(true), Outcome::Sent { recipient }) => tracing::info!(
                notification = n.id, kind = n.kind, org_id = n.org_id, attempts, recipient,
                "e-mail notification sent"
            ),
            (Ok(true), Outcome::Skipped { why }) => tracing::info!(
                notification = n.id, kind = n.kind, org_id = n.org_id, why,
                "e-mail notification skipped"
            ),
            (Ok(true), Outcome::Failed { error, retry_at }) => tracing::warn!(
                notification = n.id, kind = n.kind, org_id = n.org_id, attempts, error,
                retry_at = ?retry_at, "e-mail notification not sent"
            ),
            (Ok(false), _) => tracing::warn!(
                notification = n.id,
                "e-mail notification's lease ended before its attempt was recorded; another instance took it"
            ),
            (Err(e), _) => tracing::warn!(
                notification = n.id, error = %e,
                "e-mail attempt not recorded; it will be sent again"
            ),
        }
    }

    /// The message for `n`, rendered now; or why there is nothing to send.
    async fn render(&self, n: &Notification) -> Result<Result<Message, Outcome>, StoreError> {
        let db = self.db.clone();
        let (id, kind, org_id) = (n.id, n.kind.clone(), n.org_id);
        let read = {
            let n = n.clone();
            blocking(move || {
                let mut conn = db.conn()?;
                if kind == "digest" {
                    store::digest(&mut conn, org_id, DIGEST_LIMIT).map(Content::Digest)
                } else {
                    store::notice(&mut conn, &n).map(|x| Content::Notice(Box::new(x)))
                }
            })
            .await?
        };
        let (to, subject, body) = match read {
            Content::Notice(notice) => {
                let to = n.recipient.clone().unwrap_or_default();
                let (subject, body) = notice_text(&notice);
                (vec![to], subject, body)
            }
            Content::Digest(digest) => {
                if digest.pending.is_empty() || digest.recipients.is_empty() {
                    return Ok(Err(Outcome::Skipped {
                        why: "no pending request, or no owner with an e-mail address".to_owned(),
                    }));
                }
                let period = n.period_start.unwrap_or(n.created_at);
                let (subject, body) = digest_text(&digest, &self.base_url, period);
                let to = digest
                    .recipients
                    .iter()
                    .filter_map(|u| u.email.clone())
                    .collect();
                (to, subject, body)
            }
        };
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            // The same id on every attempt, so that receivers can drop a repeat.
            .message_id(Some(format!("<patgate-notification-{id}@{domain}>")))
            .header(ContentType::TEXT_PLAIN);
        for address in &to {
            match address.parse::<Mailbox>() {
                Ok(mailbox) => builder = builder.to(mailbox),
                Err(e) => {
                    return Ok(Err(Outcome::Failed {
                        error: format!("not an e-mail address: {e}"),
                        retry_at: None,
                    }))
                }
            }
        }
        Ok(builder.body(body).map_err(|e| Outcome::Failed {
            error: format!("cannot build the message: {e}"),
            retry_at: None,
        }))
    }

    async fn send(&self, transport: &Transport, n: &Notification, message: Message) -> Outcome {
        let recipient = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match transport.send(message).await {
            Ok(_) => Outcome::Sent { recipient },
            Err(e) => {
                let failures = u32::try_from(n.attempts).unwrap_or(0) + 1;
                let retry_at = (!e.is_permanent())
                    .then(|| self.settings.delivery.retry_after(failures, jitter()))
                    .flatten()
                    .map(|wait| {
                        patgate_persistence::now()
                            + chrono::Duration::from_std(wait).unwrap_or_default()
                    });
                Outcome::Failed {
                    // lettre's message already includes its causes.
                    error: e.to_string(),
                    retry_at,
                }
            }
        }
    }
}

enum Content {
    Notice(Box<Notice>),
    Digest(Digest),
}

/// A number in [0, 1) from the system's generator.
fn jitter() -> f64 {
    let mut bytes = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    f64::from(u16::from_le_bytes(bytes)) / 65_536.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn a_day_starts_at_the_digest_hour() {
        let s = Settings::default();
        assert_eq!(
            s.period_start(at("2026-11-24 01:30:00")),
            at("2026-11-23 09:00:00")
        );
        assert_eq!(
            s.period_start(at("2026-11-24 09:00:00")),
            at("2026-11-24 09:00:00")
        );
        assert_eq!(
            s.period_start(at("2026-11-24 23:59:59")),
            at("2026-11-24 09:00:00")
        );
    }

    #[test]
    fn shorter_periods_count_from_the_digest_hour() {
        let s = Settings {
            digest_period: Duration::from_secs(7),
            ..Settings::default()
        };
        let start = s.period_start(at("2026-11-24 12:00:00"));
        assert!(start <= at("2026-11-24 12:00:00"));
        assert!(at("2026-11-24 12:00:00") - start < chrono::Duration::seconds(7));
        assert_eq!((start.and_utc().timestamp() - 9 * 3600) % 7, 0);
    }

    #[test]
    fn the_smtp_password_is_never_printed() {
        let s = Settings {
            smtp_url: Some("smtps://u:hunter2@mail.example:465".to_owned()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(s.check().is_ok());
        let bad = Settings {
            from: "not an address".to_owned(),
            ..Settings::default()
        };
        assert!(bad.check().is_err());
    }
}
