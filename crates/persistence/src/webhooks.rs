//! Webhooks: apps' and organizations' configurations, and the outbox of deliveries that
//! [`crate::routing`] fills in the transaction of each change. Instances take due deliveries under a lease, record each attempt,
//! and schedule the next one.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::outbox::{Outbox, Status};
use crate::schema::{app_webhooks, org_webhooks, pat_requests, webhook_deliveries};
use crate::{LoadOne, Page, StoreError, Total};

/// GitHub's event of a request's life (`X-GitHub-Event`): created, approved, denied, cancelled.
pub const EVENT: &str = "personal_access_token_request";
/// The token owner's notice of a review (approved, denied) or of a revocation of the access
/// granted (revoked), with the reason, for organizations
/// that route notifications to their own systems rather than (or beside) e-mail.
pub const NOTIFICATION_EVENT: &str = "personal_access_token_request_notification";
/// An organization's daily digest of pending requests (action `pending`).
pub const DIGEST_EVENT: &str = "personal_access_token_request_digest";
/// Sent when an organization hook is created, and on demand (`POST …/pings`).
pub const PING_EVENT: &str = "ping";
/// The events an organization hook may subscribe to; `*` is all of them.
pub const ORG_HOOK_EVENTS: [&str; 4] = ["*", EVENT, NOTIFICATION_EVENT, DIGEST_EVENT];

crate::text_enum! {
    /// How a hook wants its bodies: `json` (`application/json`), or `form`
    /// (`application/x-www-form-urlencoded`, the JSON in a `payload` field).
    ContentType ("hook content type") {
        Json = "json",
        Form = "form",
    }
}

/// An app's webhook configuration.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = app_webhooks)]
pub struct AppWebhook {
    pub app_id: i64,
    pub url: String,
    pub secret: Option<String>,
    pub content_type: ContentType,
    pub active: bool,
    pub updated_at: NaiveDateTime,
}

/// An organization's webhook (`/orgs/{org}/hooks`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = org_webhooks)]
pub struct OrgWebhook {
    pub id: i64,
    pub org_id: i64,
    pub url: String,
    pub secret: Option<String>,
    pub content_type: ContentType,
    /// A JSON array of event names.
    pub events: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl OrgWebhook {
    /// The events the hook receives, as stored.
    pub fn event_names(&self) -> Result<Vec<String>, StoreError> {
        crate::json::parse("organization hook events", &self.events)
    }
}

/// What an organization hook is set to: all of it is written on create and on update.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = org_webhooks, treat_none_as_null = true)]
pub struct OrgWebhookSettings {
    pub url: String,
    pub secret: Option<String>,
    pub content_type: ContentType,
    /// A JSON array of event names (see [`ORG_HOOK_EVENTS`]).
    pub events: String,
    pub active: bool,
}

/// What a hook's create or update asks to change; `None` leaves a setting as it is (or to
/// its default, for a new hook).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookChanges {
    pub url: Option<String>,
    pub content_type: Option<ContentType>,
    /// `Some("")` removes the secret.
    pub secret: Option<String>,
    /// Replaces the events (organization hooks).
    pub events: Option<Vec<String>>,
    /// Added after `events`.
    pub add_events: Vec<String>,
    /// Removed after `add_events`.
    pub remove_events: Vec<String>,
    pub active: Option<bool>,
}

/// Why changes make no hook.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// A new hook (or an app's first configuration) needs somewhere to deliver.
    #[error("url is required: a hook must have somewhere to deliver")]
    NoUrl,
    #[error("a hook must receive at least one event")]
    NoEvents,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HookChanges {
    fn secret_over(&self, current: Option<&String>) -> Option<String> {
        match &self.secret {
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s.clone()),
            None => current.cloned(),
        }
    }

    /// The organization hook these changes make of `current` (or of the defaults, for a new
    /// hook): by default it receives [`EVENT`], as JSON, and is active.
    pub fn org_hook(self, current: Option<&OrgWebhook>) -> Result<OrgWebhookSettings, HookError> {
        let secret = self.secret_over(current.and_then(|h| h.secret.as_ref()));
        let url = self
            .url
            .or_else(|| current.map(|h| h.url.clone()))
            .ok_or(HookError::NoUrl)?;
        let content_type = self
            .content_type
            .or_else(|| current.map(|h| h.content_type))
            .unwrap_or(ContentType::Json);
        let mut events = match (self.events, current) {
            (Some(events), _) => events,
            (None, Some(hook)) => hook.event_names()?,
            (None, None) => vec![EVENT.to_owned()],
        };
        for name in self.add_events {
            if !events.contains(&name) {
                events.push(name);
            }
        }
        events.retain(|name| !self.remove_events.contains(name));
        if events.is_empty() {
            return Err(HookError::NoEvents);
        }
        Ok(OrgWebhookSettings {
            url,
            secret,
            content_type,
            events: crate::json::text("organization hook events", &events)?,
            active: self
                .active
                .or_else(|| current.map(|h| h.active))
                .unwrap_or(true),
        })
    }

    /// The app's webhook configuration these changes make of `current`: by default JSON.
    pub fn app_hook(
        self,
        app_id: i64,
        current: Option<&AppWebhook>,
        at: NaiveDateTime,
    ) -> Result<AppWebhook, HookError> {
        let secret = self.secret_over(current.and_then(|h| h.secret.as_ref()));
        Ok(AppWebhook {
            app_id,
            url: self
                .url
                .or_else(|| current.map(|h| h.url.clone()))
                .ok_or(HookError::NoUrl)?,
            secret,
            content_type: self
                .content_type
                .or_else(|| current.map(|h| h.content_type))
                .unwrap_or(ContentType::Json),
            active: true,
            updated_at: at,
        })
    }
}

/// Whose deliveries: an app's (to any of its installations) or one organization hook's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    App(i64),
    Hook(i64),
}

/// One delivery of one event to one app installation or organization hook, with its latest
/// attempt.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub guid: String,
    /// The request's audit event; `None` for a digest or a ping.
    pub event_id: Option<i64>,
    /// The app and installation of an app delivery; `None` for an organization hook's.
    pub app_id: Option<i64>,
    pub installation_id: Option<i64>,
    /// The organization hook of an organization delivery.
    pub hook_id: Option<i64>,
    pub org_id: Option<i64>,
    /// The period of a digest.
    pub period_start: Option<NaiveDateTime>,
    pub event: String,
    pub action: String,
    pub status: Status,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub leased_by: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub status_code: Option<i32>,
    pub last_error: Option<String>,
    pub duration_ms: Option<f64>,
    pub redelivery: bool,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

pub fn config(conn: &mut DbConnection, app_id: i64) -> Result<Option<AppWebhook>, StoreError> {
    Ok(app_webhooks::table
        .find(app_id)
        .select(AppWebhook::as_select())
        .load_one(conn)?)
}

/// Stores the app's webhook configuration, replacing the one it had.
pub fn set_config(conn: &mut DbConnection, hook: &AppWebhook) -> Result<(), StoreError> {
    let updated = diesel::update(app_webhooks::table.find(hook.app_id))
        .set(hook)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(app_webhooks::table)
            .values(hook)
            .execute(conn)?;
    }
    Ok(())
}

/// Leases up to `limit` due deliveries to `owner` until `lease_until`, oldest first, in one
/// statement ([`crate::outbox::claim`]). A delivery is due when it is pending, its next attempt
/// is not in the future, and no lease on it is in force. On PostgreSQL, rows another instance
/// is leasing at the same moment are skipped rather than waited for (`FOR UPDATE SKIP
/// LOCKED`); on SQLite, writers take turns. To be called in a write transaction.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let mut claimed: Vec<Delivery> = crate::outbox::claim(
        conn,
        Outbox::WebhookDeliveries,
        owner,
        now,
        lease_until,
        limit,
    )?;
    claimed.sort_by_key(|x| (x.next_attempt_at, x.id));
    Ok(claimed)
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The receiver's status, when it answered.
    pub status_code: Option<i32>,
    /// Why the attempt failed (`None` for a 2xx).
    pub error: Option<String>,
    pub duration_ms: f64,
    pub at: NaiveDateTime,
    /// When to try again after a failure; `None` gives up (the delivery is `failed`).
    pub retry_at: Option<NaiveDateTime>,
}

/// Records an attempt of a delivery leased to `owner` and ends the lease. `false` when the
/// lease had passed to another instance (which then records its own attempt).
pub fn record(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    attempt: &Attempt,
) -> Result<bool, StoreError> {
    let delivered = attempt.error.is_none();
    let status = match (delivered, attempt.retry_at) {
        (true, _) => Status::Delivered,
        (false, Some(_)) => Status::Pending,
        (false, None) => Status::Failed,
    };
    // Kept prepared (see `db::Cached`): every value is bound, NULL included, so the text is
    // always the same.
    let updated: Vec<i64> = crate::db::cached(
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(id))
                .filter(webhook_deliveries::leased_by.eq(owner)),
        )
        .set((
            webhook_deliveries::status.eq(status),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::status_code.eq(attempt.status_code),
            webhook_deliveries::last_error.eq(attempt.error.as_deref()),
            webhook_deliveries::duration_ms.eq(attempt.duration_ms),
            webhook_deliveries::delivered_at.eq(delivered.then_some(attempt.at)),
            webhook_deliveries::next_attempt_at.eq(attempt.retry_at.unwrap_or(attempt.at)),
            webhook_deliveries::leased_by.eq(None::<String>),
            webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        ))
        .returning(webhook_deliveries::id),
    )
    .get_results(conn)?;
    Ok(updated.len() == 1)
}

/// Gives back every lease `owner` holds, for another instance (or this one, restarted) to take
/// at once; at shutdown.
pub fn release(conn: &mut DbConnection, owner: &str) -> Result<usize, StoreError> {
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::leased_by.eq(owner))
            .filter(webhook_deliveries::status.eq(crate::literal::Pending)),
    )
    .set((
        webhook_deliveries::leased_by.eq(None::<String>),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?)
}

/// Where a delivery is posted, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub secret: Option<String>,
    pub content_type: ContentType,
    pub active: bool,
}

/// The hook `delivery` goes to, as configured now; `None` once it is gone.
pub fn target(conn: &mut DbConnection, delivery: &Delivery) -> Result<Option<Target>, StoreError> {
    if let Some(hook_id) = delivery.hook_id {
        let hook: Option<OrgWebhook> = org_webhooks::table
            .find(hook_id)
            .select(OrgWebhook::as_select())
            .load_one(conn)?;
        return Ok(hook.map(|h| Target {
            url: h.url,
            secret: h.secret,
            content_type: h.content_type,
            active: h.active,
        }));
    }
    let Some(app_id) = delivery.app_id else {
        return Ok(None);
    };
    Ok(config(conn, app_id)?.map(|h| Target {
        url: h.url,
        secret: h.secret,
        content_type: h.content_type,
        active: h.active,
    }))
}

/// One page of `receiver`'s deliveries, newest first, and what is known of how many follow:
/// the ids of this page and of the next [`crate::COUNT_AHEAD_PAGES`] are read (through the
/// receiver's index), so the last page is known when it is that close, and otherwise only
/// that more follow. Counting all of a busy receiver's deliveries would read its whole
/// history for every page.
pub fn list(
    conn: &mut DbConnection,
    receiver: Receiver,
    page: Page,
) -> Result<(Vec<Delivery>, Total), StoreError> {
    let of_receiver = || {
        let q = webhook_deliveries::table.into_boxed();
        match receiver {
            Receiver::App(id) => q.filter(webhook_deliveries::app_id.eq(id)),
            Receiver::Hook(id) => q.filter(webhook_deliveries::hook_id.eq(id)),
        }
    };
    let mut ids: Vec<i64> = of_receiver()
        .order(webhook_deliveries::id.desc())
        .limit(page.window(crate::COUNT_AHEAD_PAGES))
        .offset(page.offset())
        .select(webhook_deliveries::id)
        .load(conn)?;
    let total = if ids.is_empty() && page.offset() > 0 {
        // Past the end: only a count says where the last page is.
        Total::Exact(of_receiver().count().get_result(conn)?)
    } else {
        page.total_after(crate::COUNT_AHEAD_PAGES, ids.len())
    };
    ids.truncate(usize::try_from(page.per_page).unwrap_or(usize::MAX));
    let rows = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(&ids))
        .order(webhook_deliveries::id.desc())
        .select(Delivery::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// One of `receiver`'s deliveries.
pub fn find(
    conn: &mut DbConnection,
    receiver: Receiver,
    id: i64,
) -> Result<Option<Delivery>, StoreError> {
    let mut q = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .into_boxed();
    q = match receiver {
        Receiver::App(app) => q.filter(webhook_deliveries::app_id.eq(app)),
        Receiver::Hook(hook) => q.filter(webhook_deliveries::hook_id.eq(hook)),
    };
    Ok(q.select(Delivery::as_select()).load_one(conn)?)
}

/// Queues the delivery again, as a new delivery with the same GUID (as GitHub's redelivery):
/// sent at once by whichever instance takes it.
pub fn redeliver(
    conn: &mut DbConnection,
    receiver: Receiver,
    id: i64,
    now: NaiveDateTime,
) -> Result<Option<Delivery>, StoreError> {
    let Some(original) = find(conn, receiver, id)? else {
        return Ok(None);
    };
    let copy: Delivery = diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::guid.eq(&original.guid),
            webhook_deliveries::event_id.eq(original.event_id),
            webhook_deliveries::app_id.eq(original.app_id),
            webhook_deliveries::installation_id.eq(original.installation_id),
            webhook_deliveries::hook_id.eq(original.hook_id),
            webhook_deliveries::org_id.eq(original.org_id),
            webhook_deliveries::period_start.eq(original.period_start),
            webhook_deliveries::event.eq(&original.event),
            webhook_deliveries::action.eq(&original.action),
            webhook_deliveries::status.eq(Status::Pending),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::redelivery.eq(true),
            webhook_deliveries::created_at.eq(now),
        ))
        .returning(webhook_deliveries::all_columns)
        .get_result(conn)?;
    Ok(Some(copy))
}

pub use crate::outbox::Backlog;

/// The backlog of one app's webhook, or of every webhook's (apps' and organizations').
pub fn backlog(conn: &mut DbConnection, app_id: Option<i64>) -> Result<Backlog, StoreError> {
    crate::outbox::backlog!(conn, webhook_deliveries, app_id, app_id)
}

/// The backlog of one organization hook.
pub fn hook_backlog(conn: &mut DbConnection, hook_id: i64) -> Result<Backlog, StoreError> {
    crate::outbox::backlog!(conn, webhook_deliveries, hook_id, Some(hook_id))
}

/// The organization's hooks, oldest first: `limit` from `offset`.
pub fn org_hooks(
    conn: &mut DbConnection,
    org_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<OrgWebhook>, StoreError> {
    Ok(org_webhooks::table
        .filter(org_webhooks::org_id.eq(org_id))
        .order(org_webhooks::id)
        .limit(limit)
        .offset(offset)
        .select(OrgWebhook::as_select())
        .load(conn)?)
}

/// How many hooks the organization has.
pub fn org_hook_count(conn: &mut DbConnection, org_id: i64) -> Result<i64, StoreError> {
    Ok(org_webhooks::table
        .filter(org_webhooks::org_id.eq(org_id))
        .count()
        .get_result(conn)?)
}

/// One of the organization's hooks.
pub fn org_hook(
    conn: &mut DbConnection,
    org_id: i64,
    id: i64,
) -> Result<Option<OrgWebhook>, StoreError> {
    Ok(org_webhooks::table
        .filter(org_webhooks::id.eq(id))
        .filter(org_webhooks::org_id.eq(org_id))
        .select(OrgWebhook::as_select())
        .load_one(conn)?)
}

/// Creates an organization hook and queues its first ping (as GitHub does).
pub fn create_org_hook(
    conn: &mut DbConnection,
    org_id: i64,
    settings: &OrgWebhookSettings,
    now: NaiveDateTime,
) -> Result<OrgWebhook, StoreError> {
    let hook: OrgWebhook = diesel::insert_into(org_webhooks::table)
        .values((
            settings,
            org_webhooks::org_id.eq(org_id),
            org_webhooks::created_at.eq(now),
            org_webhooks::updated_at.eq(now),
        ))
        .returning(org_webhooks::all_columns)
        .get_result(conn)?;
    if hook.active {
        ping(conn, &hook, now)?;
    }
    Ok(hook)
}

/// Replaces an organization hook's settings; `None` when the organization has no such hook.
pub fn update_org_hook(
    conn: &mut DbConnection,
    org_id: i64,
    id: i64,
    settings: &OrgWebhookSettings,
    now: NaiveDateTime,
) -> Result<Option<OrgWebhook>, StoreError> {
    Ok(diesel::update(
        org_webhooks::table
            .filter(org_webhooks::id.eq(id))
            .filter(org_webhooks::org_id.eq(org_id)),
    )
    .set((settings, org_webhooks::updated_at.eq(now)))
    .returning(org_webhooks::all_columns)
    .get_results(conn)?
    .pop())
}

/// Deletes an organization hook with its deliveries, as GitHub does; `false` when the
/// organization has no such hook.
pub fn delete_org_hook(conn: &mut DbConnection, org_id: i64, id: i64) -> Result<bool, StoreError> {
    if org_hook(conn, org_id, id)?.is_none() {
        return Ok(false);
    }
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::hook_id.eq(id)))
        .execute(conn)?;
    let deleted = diesel::delete(org_webhooks::table.find(id)).execute(conn)?;
    Ok(deleted == 1)
}

/// Queues a `ping` to the hook.
pub fn ping(
    conn: &mut DbConnection,
    hook: &OrgWebhook,
    now: NaiveDateTime,
) -> Result<Delivery, StoreError> {
    Ok(diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::guid.eq(new_guid()),
            webhook_deliveries::hook_id.eq(hook.id),
            webhook_deliveries::org_id.eq(hook.org_id),
            webhook_deliveries::event.eq(PING_EVENT),
            webhook_deliveries::action.eq(""),
            webhook_deliveries::status.eq(Status::Pending),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::created_at.eq(now),
        ))
        .returning(webhook_deliveries::all_columns)
        .get_result(conn)?)
}

/// A version-4 UUID (`X-GitHub-Delivery`).
pub fn new_guid() -> String {
    let mut b = [0u8; 16];
    // The system generator does not fail on supported platforms.
    let _ = aws_lc_rs::rand::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Queues the digest of the period starting at `period_start` to every active organization
/// hook subscribed to it whose organization has pending requests. Called once per period, in
/// the transaction that records the period ([`notifications::schedule_digests`]).
pub(crate) fn queue_digests(
    conn: &mut DbConnection,
    period_start: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let hooks: Vec<(i64, i64)> = org_webhooks::table
        .filter(org_webhooks::active.eq(true))
        .filter(
            org_webhooks::events
                .like(format!("%\"{DIGEST_EVENT}\"%"))
                .or(org_webhooks::events.like("%\"*\"%")),
        )
        .filter(diesel::dsl::exists(
            pat_requests::table
                .filter(pat_requests::org_id.eq(org_webhooks::org_id))
                .filter(crate::filters::in_state!(
                    pat_requests,
                    patgate_domain::RequestState::Pending.as_str()
                )),
        ))
        .order(org_webhooks::id)
        .select((org_webhooks::id, org_webhooks::org_id))
        .load(conn)?;
    let rows: Vec<_> = hooks
        .iter()
        .map(|(hook_id, org_id)| {
            (
                webhook_deliveries::guid.eq(new_guid()),
                webhook_deliveries::hook_id.eq(*hook_id),
                webhook_deliveries::org_id.eq(*org_id),
                webhook_deliveries::period_start.eq(period_start),
                webhook_deliveries::event.eq(DIGEST_EVENT),
                webhook_deliveries::action.eq("pending"),
                webhook_deliveries::status.eq(Status::Pending),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::created_at.eq(now),
            )
        })
        .collect();
    let mut queued = 0;
    for row in rows {
        queued += diesel::insert_into(webhook_deliveries::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(queued)
}
