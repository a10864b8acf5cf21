//! E-mail over SMTP: every instance queues each period's digests (the database lets one of
//! them do it), takes due notifications under a lease, renders and sends each, and records
//! the attempt. A mail server that refuses for now (4xx) or cannot be reached is tried again
//! with the loop's backoff; one that refuses for good (5xx) fails the notification at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use patgate_persistence::contents::{self, Digest, Notice};
use patgate_persistence::notifications::{self as store, Notification, Outcome};
use patgate_persistence::outbox::{Backlog, Outbox};
use patgate_persistence::{Db, DbConnection, StoreError, Touches};

use crate::tasks::blocking;
use crate::text::{digest_text, notice_text, DIGEST_LIMIT};
use crate::worker::{self, Channel, Running};

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
    pub delivery: worker::Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "patgate <patgate@localhost>".to_owned(),
            digest_hour_utc: 9,
            digest_period: Duration::from_secs(86_400),
            delivery: worker::Settings {
                timeout: Duration::from_secs(30),
                lease: Duration::from_secs(120),
                ..worker::Settings::default()
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

    /// Whether the configured SMTP server answers (a connection and `NOOP`, within the
    /// delivery time-out); `Ok(None)` without one. The error never holds the URL.
    pub async fn reachable(&self) -> Result<Option<()>, String> {
        let Some(transport) = self.transport()? else {
            return Ok(None);
        };
        match transport.test_connection().await {
            Ok(true) => Ok(Some(())),
            Ok(false) => Err("the SMTP server did not accept a NOOP".to_owned()),
            Err(e) => Err(format!("cannot reach the SMTP server: {e}")),
        }
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

#[derive(Clone)]
struct Smtp {
    base_url: String,
    settings: Settings,
    from: Mailbox,
    transport: Option<Transport>,
    /// The digest period this instance last saw queued.
    scheduled: Arc<Mutex<Option<NaiveDateTime>>>,
}

/// Starts sending on the current local set (the SMTP connection pool runs on its runtime).
pub fn start(db: Db, base_url: String, settings: Settings) -> Result<Running, String> {
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
    let channel = Smtp {
        base_url,
        settings,
        from,
        transport,
        scheduled: Arc::new(Mutex::new(None)),
    };
    Ok(worker::start(channel, db, crate::lessee("mail")))
}

impl Channel for Smtp {
    type Item = Notification;
    type Attempt = Outcome;
    const NAME: &'static str = "e-mail";
    const OUTBOX: Outbox = Outbox::Notifications;
    const METRIC: patgate_metrics::Outbox = patgate_metrics::Outbox::Email;

    fn settings(&self) -> &worker::Settings {
        &self.settings.delivery
    }

    fn claim(
        conn: &mut DbConnection,
        lessee: &str,
        now: NaiveDateTime,
        until: NaiveDateTime,
        batch: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        store::claim(conn, lessee, now, until, batch)
    }

    fn record(
        conn: &mut DbConnection,
        n: &Notification,
        lessee: &str,
        outcome: &Outcome,
    ) -> Result<bool, StoreError> {
        store::record(conn, n.id, lessee, outcome, patgate_persistence::now())
    }

    fn release(conn: &mut DbConnection, lessee: &str) -> Result<usize, StoreError> {
        store::release(conn, lessee)
    }

    fn backlog(conn: &mut DbConnection) -> Result<Backlog, StoreError> {
        store::backlog(conn, None)
    }

    /// Queues the current period's digests (e-mailed with a mail server, and to the
    /// organization hooks subscribed to them) unless this instance already saw them queued.
    async fn prepare(&self, db: &Db) -> Result<(), StoreError> {
        let now = patgate_persistence::now();
        let period = self.settings.period_start(now);
        let done = *self.scheduled.lock().unwrap_or_else(|p| p.into_inner());
        if done == Some(period) {
            return Ok(());
        }
        let (db, email) = (db.clone(), self.transport.is_some());
        let queued = blocking(move || {
            db.write(Touches::Nothing, |c| {
                store::schedule_digests(c, period, now, email)
            })
        })
        .await?;
        if queued > 0 {
            tracing::info!(queued, period = %period, "digests of pending requests queued");
        }
        *self.scheduled.lock().unwrap_or_else(|p| p.into_inner()) = Some(period);
        Ok(())
    }

    async fn send(&self, db: &Db, n: &Notification) -> Option<Outcome> {
        let Some(transport) = &self.transport else {
            return Some(Outcome::Skipped {
                why: "no SMTP server configured".to_owned(),
            });
        };
        match self.render(db, n).await {
            Ok(Ok(message)) => Some(self.deliver(transport, n, message).await),
            Ok(Err(skipped)) => Some(skipped),
            Err(e) => {
                tracing::warn!(notification = n.id, error = %e, "cannot read a notification's content; the lease will end and it will be taken again");
                None
            }
        }
    }

    fn outcome(outcome: &Outcome) -> patgate_metrics::Outcome {
        use patgate_metrics::Outcome as Counted;
        match outcome {
            Outcome::Sent { .. } => Counted::Sent,
            Outcome::Skipped { .. } => Counted::Skipped,
            Outcome::Failed {
                retry_at: Some(_), ..
            } => Counted::Retry,
            Outcome::Failed { retry_at: None, .. } => Counted::Failed,
        }
    }

    fn log(n: &Notification, outcome: &Outcome, recorded: Result<bool, &StoreError>) {
        let attempts = n.attempts + 1;
        match (recorded, outcome) {
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
}

impl Smtp {
    /// The message for `n`, rendered now; or why there is nothing to send.
    async fn render(
        &self,
        db: &Db,
        n: &Notification,
    ) -> Result<Result<Message, Outcome>, StoreError> {
        let db = db.clone();
        let (kind, org_id) = (n.kind.clone(), n.org_id);
        let read = {
            let n = n.clone();
            blocking(move || {
                let mut conn = db.conn()?;
                if kind == "digest" {
                    contents::digest(&mut conn, org_id, DIGEST_LIMIT).map(Content::Digest)
                } else {
                    contents::notice(&mut conn, &n).map(|x| Content::Notice(Box::new(x)))
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
        Ok(self.message(n.id, &to, subject, body))
    }

    /// The message from patgate to `to`; or why it cannot be sent.
    fn message(
        &self,
        id: i64,
        to: &[String],
        subject: String,
        body: String,
    ) -> Result<Message, Outcome> {
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            // The same id on every attempt, so that receivers can drop a repeat.
            .message_id(Some(format!("<patgate-notification-{id}@{domain}>")))
            .header(ContentType::TEXT_PLAIN);
        for address in to {
            let mailbox = address.parse::<Mailbox>().map_err(|e| Outcome::Failed {
                error: format!("not an e-mail address: {e}"),
                retry_at: None,
            })?;
            builder = builder.to(mailbox);
        }
        builder.body(body).map_err(|e| Outcome::Failed {
            error: format!("cannot build the message: {e}"),
            retry_at: None,
        })
    }

    async fn deliver(&self, transport: &Transport, n: &Notification, message: Message) -> Outcome {
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
                let retry_at = (!e.is_permanent())
                    .then(|| self.settings.delivery.retry_at(n.attempts))
                    .flatten();
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
