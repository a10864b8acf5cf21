//! E-mail notifications: organization owners, the outbox that [`crate::routing`] fills with
//! review and revocation notices in each change's transaction, and the daily digests, each
//! written once per organization and period. Instances take due notifications under a lease.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit;
use crate::db::DbConnection;
use crate::models::User;
use crate::outbox::{Outbox, Status};
use crate::schema::{
    digest_runs, notification_settings, notifications, organization_owners, pat_requests, users,
};
use crate::StoreError;

/// One e-mail to send: a review notice (`approved`, `denied`) or a digest (`digest`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub org_id: i64,
    pub event_id: Option<i64>,
    pub request_id: Option<i64>,
    pub period_start: Option<NaiveDateTime>,
    pub recipient: Option<String>,
    pub status: Status,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub leased_by: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// Makes `user_id` an owner of `org_id` (nothing changes if it already is one).
pub fn add_owner(conn: &mut DbConnection, org_id: i64, user_id: i64) -> Result<(), StoreError> {
    let known: i64 = organization_owners::table
        .filter(organization_owners::org_id.eq(org_id))
        .filter(organization_owners::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    if known == 0 {
        diesel::insert_into(organization_owners::table)
            .values((
                organization_owners::org_id.eq(org_id),
                organization_owners::user_id.eq(user_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The organization's owners that have an e-mail address, by login.
pub fn owners_with_email(conn: &mut DbConnection, org_id: i64) -> Result<Vec<User>, StoreError> {
    Ok(users::table
        .inner_join(organization_owners::table)
        .filter(organization_owners::org_id.eq(org_id))
        .filter(users::email.is_not_null())
        .filter(users::email.ne(""))
        .order(users::login_key)
        .select(users::all_columns)
        .load(conn)?)
}

/// Whether the organization's notices and digests are e-mailed: yes unless it turned e-mail
/// off ([`set_email`]).
pub fn email_enabled(conn: &mut DbConnection, org_id: i64) -> Result<bool, StoreError> {
    Ok(email_setting(conn, org_id)?.unwrap_or(true))
}

/// The organization's stored e-mail setting; `None` if it never set one.
pub fn email_setting(conn: &mut DbConnection, org_id: i64) -> Result<Option<bool>, StoreError> {
    Ok(notification_settings::table
        .find(org_id)
        .select(notification_settings::email)
        .first(conn)
        .optional()?)
}

/// Turns the organization's e-mail notifications on or off, and records the change in its
/// audit trail (`notifications.updated`) when it is one, by `actor` (app, installation). Only
/// what is queued afterwards is affected. Returns whether anything changed.
pub fn set_email(
    conn: &mut DbConnection,
    org_id: i64,
    email: bool,
    actor: Option<(i64, i64)>,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
    if email_enabled(conn, org_id)? == email {
        return Ok(false);
    }
    let updated = diesel::update(notification_settings::table.find(org_id))
        .set((
            notification_settings::email.eq(email),
            notification_settings::updated_at.eq(at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(notification_settings::table)
            .values((
                notification_settings::org_id.eq(org_id),
                notification_settings::email.eq(email),
                notification_settings::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    let reason = format!("{{\"email\":{email}}}");
    let entry = audit::Entry {
        org_id,
        action: "notifications.updated",
        subject_type: "notifications",
        subject_id: org_id,
        app_id: actor.map(|a| a.0),
        installation_id: actor.map(|a| a.1),
        reason: Some(&reason),
        at,
    };
    audit::record(conn, &entry)?;
    Ok(true)
}

/// Inserts `$insert` unless it breaks a unique key, on either backend; the rows inserted.
macro_rules! insert_unless_present {
    ($conn:expr, $insert:expr) => {
        match $conn {
            DbConnection::Postgresql(pg) => $insert.on_conflict_do_nothing().execute(pg),
            DbConnection::Sqlite(lite) => $insert.on_conflict_do_nothing().execute(lite),
        }
    };
}

/// Queues the digests of the period starting at `period_start`, once for every instance: the
/// first caller records the period and, in the same transaction, queues the digest to every
/// organization hook subscribed to `personal_access_token_request_digest` whose organization
/// has pending requests and, when `email`, an e-mail digest for each organization that has an
/// owner with an e-mail address and pending requests. Later callers find the period recorded
/// and queue nothing; the unique key (organization, period) refuses a second e-mail digest in
/// any case. Returns the digests queued (e-mails and hook deliveries). To be called in a
/// write transaction.
pub fn schedule_digests(
    conn: &mut DbConnection,
    period_start: NaiveDateTime,
    now: NaiveDateTime,
    email: bool,
) -> Result<usize, StoreError> {
    let run = diesel::insert_into(digest_runs::table).values((
        digest_runs::period_start.eq(period_start),
        digest_runs::created_at.eq(now),
    ));
    if insert_unless_present!(conn, run)? == 0 {
        return Ok(0);
    }
    let hooked = crate::webhooks::queue_digests(conn, period_start, now)?;
    if !email {
        return Ok(hooked);
    }
    let org_ids: Vec<i64> = organization_owners::table
        .inner_join(users::table)
        .filter(users::email.is_not_null())
        .filter(users::email.ne(""))
        .filter(diesel::dsl::exists(
            pat_requests::table
                .filter(pat_requests::org_id.eq(organization_owners::org_id))
                .filter(crate::filters::in_state!(
                    pat_requests,
                    patgate_domain::RequestState::Pending.as_str()
                )),
        ))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            notification_settings::table
                .filter(notification_settings::org_id.eq(organization_owners::org_id))
                .filter(notification_settings::email.eq(false)),
        )))
        .select(organization_owners::org_id)
        .distinct()
        .load(conn)?;
    let mut queued = 0;
    for org_id in org_ids {
        let digest = diesel::insert_into(notifications::table).values((
            notifications::kind.eq("digest"),
            notifications::org_id.eq(org_id),
            notifications::period_start.eq(period_start),
            notifications::status.eq(Status::Pending),
            notifications::next_attempt_at.eq(now),
            notifications::created_at.eq(now),
        ));
        queued += insert_unless_present!(conn, digest)?;
    }
    Ok(hooked + queued)
}

/// Leases up to `limit` due notifications to `owner` until `lease_until`, oldest first, in one
/// statement ([`crate::outbox::claim`]). On PostgreSQL the rows another instance is leasing at
/// the same moment are skipped rather than waited for (`FOR UPDATE SKIP LOCKED`); on SQLite,
/// writers take turns. To be called in a write transaction.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    let mut claimed: Vec<Notification> =
        crate::outbox::claim(conn, Outbox::Notifications, owner, now, lease_until, limit)?;
    claimed.sort_by_key(|x| (x.next_attempt_at, x.id));
    Ok(claimed)
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The mail server accepted the message.
    Sent { recipient: String },
    /// Nothing to send (no mail server, or nobody to send it to).
    Skipped { why: String },
    /// Refused or unreachable: tried again at `retry_at`, or `failed` for good without one.
    Failed {
        error: String,
        retry_at: Option<NaiveDateTime>,
    },
}

/// Records an attempt of a notification leased to `owner` and ends the lease, in one
/// statement; a sent one keeps the addresses it went to (`recipient`). `false` when the lease
/// had passed to another instance.
pub fn record(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    outcome: &Outcome,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
    use notifications as n;
    let (status, error, next, sent_at, recipient) = match outcome {
        Outcome::Sent { recipient } => (Status::Sent, None, at, Some(at), Some(recipient.as_str())),
        Outcome::Skipped { why } => (Status::Skipped, Some(why.as_str()), at, None, None),
        Outcome::Failed { error, retry_at } => (
            if retry_at.is_some() {
                Status::Pending
            } else {
                Status::Failed
            },
            Some(error.as_str()),
            retry_at.unwrap_or(at),
            None,
            None,
        ),
    };
    let target = n::table.filter(n::id.eq(id)).filter(n::leased_by.eq(owner));
    // Kept prepared (see `db::Cached`): two texts, with the recipient and without.
    let updated: Vec<i64> = crate::db::cached(
        diesel::update(target)
            .set((
                n::status.eq(status),
                n::attempts
                    .eq(n::attempts + i32::from(!matches!(outcome, Outcome::Skipped { .. }))),
                n::last_error.eq(error),
                n::next_attempt_at.eq(next),
                n::sent_at.eq(sent_at),
                // Left out (not set to NULL) when nothing was sent: a notice keeps its address.
                recipient.map(|r| n::recipient.eq(r)),
                lease_ended(),
            ))
            .returning(n::id),
    )
    .get_results(conn)?;
    Ok(updated.len() == 1)
}

/// The columns that end a lease.
fn lease_ended() -> (
    diesel::dsl::Eq<notifications::leased_by, Option<String>>,
    diesel::dsl::Eq<notifications::lease_until, Option<NaiveDateTime>>,
) {
    (
        notifications::leased_by.eq(None),
        notifications::lease_until.eq(None),
    )
}

/// Gives back every lease `lessee` holds, for another instance to take at once; at shutdown.
pub fn release(conn: &mut DbConnection, lessee: &str) -> Result<usize, StoreError> {
    use notifications as n;
    let held = n::table
        .filter(n::leased_by.eq(lessee))
        .filter(n::status.eq(crate::literal::Pending));
    Ok(diesel::update(held).set(lease_ended()).execute(conn)?)
}

pub use crate::outbox::Backlog;

/// The backlog of one organization's notifications, or of every organization's.
pub fn backlog(conn: &mut DbConnection, org_id: Option<i64>) -> Result<Backlog, StoreError> {
    crate::outbox::backlog!(conn, notifications, org_id, org_id)
}
