//! App webhooks: their configuration, and the outbox of deliveries that the trigger on
//! `audit_events` fills in the transaction of each change (migration `…_webhooks`). Instances
//! take due deliveries under a lease, record each attempt, and schedule the next one.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::models::{AuditEvent, Organization, PatRequest, Repository, Token, User};
use crate::repositories::{self, Access};
use crate::schema::{
    app_webhooks, audit_events, organizations, pat_requests, tokens, users, webhook_deliveries,
};
use crate::{LoadOne, Page, StoreError};

/// The event every delivery carries (`X-GitHub-Event`).
pub const EVENT: &str = "personal_access_token_request";

/// An app's webhook configuration.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = app_webhooks)]
pub struct AppWebhook {
    pub app_id: i64,
    pub url: String,
    pub secret: Option<String>,
    pub content_type: String,
    pub active: bool,
    pub updated_at: NaiveDateTime,
}

/// One delivery of one event to one app installation, with its latest attempt.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub guid: String,
    pub event_id: i64,
    pub app_id: i64,
    pub installation_id: i64,
    pub event: String,
    pub action: String,
    pub status: String,
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

/// Leases up to `limit` due deliveries to `owner` until `lease_until`, oldest first. A
/// delivery is due when it is pending, its next attempt is not in the future, and no lease on
/// it is in force. On PostgreSQL, rows another instance is leasing at the same moment are
/// skipped rather than waited for (`FOR UPDATE SKIP LOCKED`); on SQLite, writers take turns.
/// To be called in a write transaction.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    use webhook_deliveries as d;
    let free = || d::lease_until.is_null().or(d::lease_until.le(now));
    let due = d::table
        .filter(d::status.eq("pending"))
        .filter(d::next_attempt_at.le(now))
        .filter(free())
        .order((d::next_attempt_at, d::id))
        .limit(limit)
        .select(d::id);
    let ids: Vec<i64> = match conn {
        DbConnection::Postgresql(pg) => due.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(lite) => due.load(lite)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Checked again as the rows are written: on SQLite another process may have leased them
    // between the read and the write.
    let mut claimed: Vec<Delivery> = diesel::update(
        d::table
            .filter(d::id.eq_any(&ids))
            .filter(d::status.eq("pending"))
            .filter(free()),
    )
    .set((d::leased_by.eq(owner), d::lease_until.eq(lease_until)))
    .returning(webhook_deliveries::all_columns)
    .get_results(conn)?;
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
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    let updated = diesel::update(
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
    .execute(conn)?;
    Ok(updated == 1)
}

/// Gives back every lease `owner` holds, for another instance (or this one, restarted) to take
/// at once; at shutdown.
pub fn release(conn: &mut DbConnection, owner: &str) -> Result<usize, StoreError> {
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::leased_by.eq(owner))
            .filter(webhook_deliveries::status.eq("pending")),
    )
    .set((
        webhook_deliveries::leased_by.eq(None::<String>),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?)
}

/// What a delivery's payload is made of.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub event: AuditEvent,
    pub request: PatRequest,
    pub owner: User,
    pub token: Token,
    pub org: Organization,
    /// The repositories of a `subset` request (up to 1,000); empty otherwise.
    pub repositories: Vec<Repository>,
    pub repository_count: i64,
}

/// Reads what `delivery`'s payload shows: the event, its request as it is now, the owner, the
/// token, the organization and the repositories.
pub fn context(conn: &mut DbConnection, delivery: &Delivery) -> Result<EventContext, StoreError> {
    let event: AuditEvent = audit_events::table.find(delivery.event_id).first(conn)?;
    let request: PatRequest = pat_requests::table.find(event.subject_id).first(conn)?;
    let owner: User = users::table.find(request.owner_id).first(conn)?;
    let token: Token = tokens::table.find(request.token_id).first(conn)?;
    let org: Organization = organizations::table.find(request.org_id).first(conn)?;
    let (repositories, repository_count) = if request.repository_selection == "subset" {
        let access = Access {
            org_id: request.org_id,
            request_id: request.id,
            repository_selection: &request.repository_selection,
        };
        repositories::repositories_of(
            conn,
            access,
            Page {
                page: 1,
                per_page: 1000,
            },
        )?
    } else {
        (Vec::new(), 0)
    };
    Ok(EventContext {
        event,
        request,
        owner,
        token,
        org,
        repositories,
        repository_count,
    })
}

/// The app's deliveries, newest first: `limit` from `offset`.
pub fn list(
    conn: &mut DbConnection,
    app_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::app_id.eq(app_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .offset(offset)
        .select(Delivery::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, app_id: i64, id: i64) -> Result<Option<Delivery>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::app_id.eq(app_id))
        .select(Delivery::as_select())
        .load_one(conn)?)
}

/// Queues the delivery again, as a new delivery with the same GUID (as GitHub's redelivery):
/// sent at once by whichever instance takes it.
pub fn redeliver(
    conn: &mut DbConnection,
    app_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<Option<Delivery>, StoreError> {
    let Some(original) = find(conn, app_id, id)? else {
        return Ok(None);
    };
    let copy: Delivery = diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::guid.eq(&original.guid),
            webhook_deliveries::event_id.eq(original.event_id),
            webhook_deliveries::app_id.eq(original.app_id),
            webhook_deliveries::installation_id.eq(original.installation_id),
            webhook_deliveries::event.eq(&original.event),
            webhook_deliveries::action.eq(&original.action),
            webhook_deliveries::status.eq("pending"),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::redelivery.eq(true),
            webhook_deliveries::created_at.eq(now),
        ))
        .returning(webhook_deliveries::all_columns)
        .get_result(conn)?;
    Ok(Some(copy))
}

pub use crate::outbox::Backlog;

/// The backlog of one app's webhook, or of every app's.
pub fn backlog(conn: &mut DbConnection, app_id: Option<i64>) -> Result<Backlog, StoreError> {
    crate::outbox::backlog!(conn, webhook_deliveries, app_id, app_id)
}
