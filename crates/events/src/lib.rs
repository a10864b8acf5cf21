//! patgate's events after they are queued. A change records its audit event and, in the same
//! transaction, the outbox rows of whoever hears of it (`patgate_persistence::routing`); from
//! there this crate owns them: rendering (webhook payloads in [`payload`], e-mail text in
//! [`text`]), signing ([`webhook::signature`]), and one lease → send → record loop
//! ([`worker`]) run for two channels, webhooks over HTTP ([`webhook`]) and e-mail over SMTP
//! ([`mail`]), with one retry, backoff and jitter policy. [`tasks`] starts and stops every
//! background loop of the server the same way.
//!
//! The binary starts the loops; the api crate uses [`payload::render`] for the deliveries API
//! (a delivery's request, shown as it is sent now).

pub mod mail;
pub mod payload;
pub mod tasks;
pub mod text;
pub mod webhook;
pub mod worker;

/// This instance, as the holder of its leases: `kind`, the process id and a random part.
fn lessee(kind: &str) -> String {
    let mut bytes = [0u8; 6];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}-{}-{random}", std::process::id())
}
