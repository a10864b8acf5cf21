//! Webhooks over HTTP: every instance takes due deliveries under a lease, posts each signed
//! body, and records the attempt. A failure (no answer within the time-out, or a status
//! other than 2xx) is retried with the loop's backoff until the attempts run out; an instance
//! that dies mid-delivery leaves a lease that ends, and another instance sends the delivery
//! again (receivers de-duplicate on `X-GitHub-Delivery`).

use std::time::Instant;

use aws_lc_rs::hmac;
use patgate_persistence::outbox::{Backlog, Outbox};
use patgate_persistence::webhooks::{self, Attempt, ContentType, Delivery, Target};
use patgate_persistence::{Db, DbConnection, StoreError};

use crate::payload::{self, Rendered};
use crate::tasks::blocking;
use crate::worker::{self, Channel, Running, Settings};

/// The `sha256=…` value of `X-Hub-Signature-256`: the body's HMAC-SHA256 under the secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The webhook channel: what one instance needs to deliver.
#[derive(Debug, Clone)]
struct Http {
    base_url: String,
    settings: Settings,
    client: reqwest::Client,
}

/// Starts delivering webhooks on the current local set.
pub fn start(db: Db, base_url: String, settings: Settings) -> Result<Running, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "GitHub-Hookshot/patgate-",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?;
    let channel = Http {
        base_url,
        settings,
        client,
    };
    Ok(worker::start(channel, db, crate::lessee("hook")))
}

impl Channel for Http {
    type Item = Delivery;
    type Attempt = Attempt;
    const NAME: &'static str = "webhook";
    const OUTBOX: Outbox = Outbox::WebhookDeliveries;
    const METRIC: patgate_metrics::Outbox = patgate_metrics::Outbox::Webhook;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn claim(
        conn: &mut DbConnection,
        lessee: &str,
        now: chrono::NaiveDateTime,
        until: chrono::NaiveDateTime,
        batch: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        webhooks::claim(conn, lessee, now, until, batch)
    }

    fn record(
        conn: &mut DbConnection,
        item: &Delivery,
        lessee: &str,
        attempt: &Attempt,
    ) -> Result<bool, StoreError> {
        webhooks::record(conn, item.id, lessee, attempt)
    }

    fn release(conn: &mut DbConnection, lessee: &str) -> Result<usize, StoreError> {
        webhooks::release(conn, lessee)
    }

    fn backlog(conn: &mut DbConnection) -> Result<Backlog, StoreError> {
        webhooks::backlog(conn, None)
    }

    async fn send(&self, db: &Db, delivery: &Delivery) -> Option<Attempt> {
        let (db, base) = (db.clone(), self.base_url.clone());
        let d = delivery.clone();
        let read = blocking(move || {
            let mut conn = db.conn()?;
            let hook = webhooks::target(&mut conn, &d)?;
            let rendered = payload::render(&mut conn, &base, &d)?;
            Ok((hook, rendered))
        })
        .await;
        let (hook, rendered) = match read {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(guid = delivery.guid, error = %e, "cannot read a webhook delivery's event; the lease will end and it will be taken again");
                return None;
            }
        };
        Some(match hook.filter(|h| h.active) {
            Some(hook) => self.post(delivery, &hook, rendered).await,
            None => Attempt {
                status_code: None,
                error: Some("the webhook was removed or deactivated".to_owned()),
                duration_ms: 0.0,
                at: patgate_persistence::now(),
                retry_at: None,
            },
        })
    }

    fn outcome(attempt: &Attempt) -> patgate_metrics::Outcome {
        use patgate_metrics::Outcome;
        match (&attempt.error, attempt.retry_at) {
            (None, _) => Outcome::Sent,
            (Some(_), Some(_)) => Outcome::Retry,
            (Some(_), None) => Outcome::Failed,
        }
    }

    fn log(delivery: &Delivery, attempt: &Attempt, recorded: Result<bool, &StoreError>) {
        match (recorded, &attempt.error) {
            (Ok(true), None) => tracing::info!(
                guid = delivery.guid,
                action = delivery.action,
                app_id = delivery.app_id,
                hook_id = delivery.hook_id,
                event = delivery.event,
                status = attempt.status_code,
                attempts = delivery.attempts + 1,
                duration_ms = attempt.duration_ms,
                "webhook delivered"
            ),
            (Ok(true), Some(error)) => tracing::warn!(
                guid = delivery.guid,
                action = delivery.action,
                app_id = delivery.app_id,
                hook_id = delivery.hook_id,
                event = delivery.event,
                status = attempt.status_code,
                attempts = delivery.attempts + 1,
                error,
                retry_at = ?attempt.retry_at,
                "webhook delivery failed"
            ),
            (Ok(false), _) => tracing::warn!(
                guid = delivery.guid,
                "webhook delivery's lease ended before its attempt was recorded; another instance took it"
            ),
            (Err(e), _) => {
                tracing::warn!(guid = delivery.guid, error = %e, "webhook attempt not recorded; it will be sent again");
            }
        }
    }
}

impl Http {
    /// Posts the rendered body, signed when the hook has a secret.
    async fn post(&self, delivery: &Delivery, hook: &Target, rendered: Rendered) -> Attempt {
        let json = serde_json::to_vec(&rendered.payload).unwrap_or_default();
        let (body, content_type) = if hook.content_type == ContentType::Form {
            let encoded: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &String::from_utf8_lossy(&json))
                .finish();
            (encoded.into_bytes(), "application/x-www-form-urlencoded")
        } else {
            (json, "application/json")
        };
        let mut request = self
            .client
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
        let retry_at = error
            .as_ref()
            .and_then(|_| self.settings.retry_at(delivery.attempts));
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
}
