//! The audit trail: append-only events of an organization's token governance.

/// Records one audit event per row of `$table` (`pat_requests` or `pat_grants`) whose id is in
/// `$ids`, in a single `INSERT … SELECT`: `$action` (e.g. `"grant.revoked"`) about a
/// `$subject` (`"request"` or `"grant"`), by `$actor` (app and installation, `None` for the
/// server itself), with `$reason`, at `$at`. Gives each event's id with its subject's.
macro_rules! record_audit {
    ($conn:expr, $table:ident, $ids:expr, $action:expr, $subject:expr, $actor:expr, $reason:expr, $at:expr) => {{
        use crate::schema::audit_events;
        use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
        let actor: Option<(i64, i64)> = $actor;
        let reason: Option<String> = $reason;
        let source = $table::table.filter($table::id.eq_any($ids)).select((
            $table::org_id,
            ($action).into_sql::<Text>(),
            ($subject).into_sql::<Text>(),
            $table::id,
            actor.map(|a| a.0).into_sql::<Nullable<BigInt>>(),
            actor.map(|a| a.1).into_sql::<Nullable<BigInt>>(),
            reason.into_sql::<Nullable<Text>>(),
            ($at).into_sql::<Timestamp>(),
        ));
        crate::db::cached(
            diesel::insert_into(audit_events::table)
                .values(source)
                .into_columns((
                    audit_events::org_id,
                    audit_events::action,
                    audit_events::subject_type,
                    audit_events::subject_id,
                    audit_events::app_id,
                    audit_events::installation_id,
                    audit_events::reason,
                    audit_events::created_at,
                ))
                .returning((audit_events::id, audit_events::subject_id)),
        )
        .get_results::<(i64, i64)>($conn)
    }};
}

pub(crate) use record_audit;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::models::AuditEvent;
use crate::schema::audit_events;
use crate::{Page, StoreError};

/// One audit event written on its own (one per row of a table: [`record_audit!`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub org_id: i64,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: i64,
    /// The app that acted, and through which installation; `None` for the server itself.
    pub app_id: Option<i64>,
    pub installation_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub at: chrono::NaiveDateTime,
}

/// Writes the event; gives its id.
pub(crate) fn record(conn: &mut DbConnection, e: &Entry<'_>) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(audit_events::table)
        .values((
            audit_events::org_id.eq(e.org_id),
            audit_events::action.eq(e.action),
            audit_events::subject_type.eq(e.subject_type),
            audit_events::subject_id.eq(e.subject_id),
            audit_events::app_id.eq(e.app_id),
            audit_events::installation_id.eq(e.installation_id),
            audit_events::reason.eq(e.reason),
            audit_events::created_at.eq(e.at),
        ))
        .returning(audit_events::id)
        .get_result(conn)?)
}

/// Filters of the audit trail listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    pub after: Option<chrono::NaiveDateTime>,
    pub before: Option<chrono::NaiveDateTime>,
}

/// A page of the organization's audit events, newest first, with the total.
pub fn list(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &AuditFilter,
    page: Page,
) -> Result<(Vec<AuditEvent>, i64), StoreError> {
    let build = || {
        let mut q = audit_events::table
            .filter(audit_events::org_id.eq(org_id))
            .into_boxed::<crate::db::MultiBackend>();
        if let Some(action) = &filter.action {
            q = q.filter(audit_events::action.eq(action.clone()));
        }
        if let Some(kind) = &filter.subject_type {
            q = q.filter(audit_events::subject_type.eq(kind.clone()));
        }
        if let Some(id) = filter.subject_id {
            q = q.filter(audit_events::subject_id.eq(id));
        }
        if let Some(after) = filter.after {
            q = q.filter(audit_events::created_at.gt(after));
        }
        if let Some(before) = filter.before {
            q = q.filter(audit_events::created_at.lt(before));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows = build()
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    Ok((rows, total))
}

/// Where a page of the GitHub-shaped audit feed starts: strictly after or before an event
/// (its time and id), in the feed's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedCursor {
    After(chrono::NaiveDateTime, i64),
    Before(chrono::NaiveDateTime, i64),
}

/// A page of the GitHub-shaped audit feed: which of patgate's actions, by whom, about whose
/// tokens, when, from where and in which order.
#[derive(Debug, Clone, Default)]
pub struct FeedQuery {
    pub org_id: i64,
    /// patgate's actions to include (never empty: the caller lists what it can show).
    pub actions: Vec<String>,
    /// Only events this app acted in (`actor:` a bot).
    pub app_id: Option<i64>,
    /// Only events about the requests of this user (`actor:` a user, for the actions a token's
    /// owner makes; `user:` for every action about their tokens).
    pub owner_id: Option<i64>,
    /// Only events at or after / before or at these times (`created:`).
    pub from: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
    pub cursor: Option<FeedCursor>,
    /// Oldest first (`order=asc`) instead of newest first.
    pub ascending: bool,
    pub limit: i64,
}

/// An event of the feed with what GitHub's event shows of it: the request it is about (for a
/// grant's event, the request that was granted), the token's owner and name, and the app
/// that acted.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub event: AuditEvent,
    pub request: crate::models::PatRequest,
    pub owner: crate::models::User,
    pub token_name: String,
    pub app_slug: Option<String>,
}

/// One page of the feed in its order (up to `limit` events), read through the organization's
/// `(org_id, created_at, id)` index. A `Before` cursor reads backwards from it and returns the
/// page in the feed's order.
pub fn feed(conn: &mut DbConnection, q: &FeedQuery) -> Result<Vec<FeedEvent>, StoreError> {
    let mut query = feed_filter(q);
    // Walking forwards in the feed's order, or backwards from a `Before` cursor.
    let backwards = matches!(q.cursor, Some(FeedCursor::Before(..)));
    let newest_first = q.ascending == backwards;
    if let Some(FeedCursor::After(t, id) | FeedCursor::Before(t, id)) = q.cursor {
        let same_time = audit_events::created_at.eq(t);
        query = if newest_first {
            query.filter(
                audit_events::created_at
                    .lt(t)
                    .or(same_time.and(audit_events::id.lt(id))),
            )
        } else {
            query.filter(
                audit_events::created_at
                    .gt(t)
                    .or(same_time.and(audit_events::id.gt(id))),
            )
        };
    }
    query = if newest_first {
        query.order((audit_events::created_at.desc(), audit_events::id.desc()))
    } else {
        query.order((audit_events::created_at.asc(), audit_events::id.asc()))
    };
    let mut events: Vec<AuditEvent> = query.limit(q.limit).load(conn)?;
    if backwards {
        events.reverse();
    }
    feed_context(conn, events)
}

/// The organization's events that the query's actions, app, owner and times select.
fn feed_filter(q: &FeedQuery) -> audit_events::BoxedQuery<'static, crate::db::MultiBackend> {
    use crate::schema::{pat_grants, pat_requests};
    let mut query = audit_events::table
        .filter(audit_events::org_id.eq(q.org_id))
        .filter(audit_events::action.eq_any(q.actions.clone()))
        .into_boxed::<crate::db::MultiBackend>();
    if let Some(app) = q.app_id {
        query = query.filter(audit_events::app_id.eq(app));
    }
    if let Some(owner) = q.owner_id {
        let requests = pat_requests::table
            .filter(pat_requests::owner_id.eq(owner))
            .select(pat_requests::id);
        let grants = pat_grants::table
            .filter(pat_grants::owner_id.eq(owner))
            .select(pat_grants::id);
        query = query.filter(
            audit_events::subject_type
                .eq("request")
                .and(audit_events::subject_id.eq_any(requests))
                .or(audit_events::subject_type
                    .eq("grant")
                    .and(audit_events::subject_id.eq_any(grants))),
        );
    }
    if let Some(from) = q.from {
        query = query.filter(audit_events::created_at.ge(from));
    }
    if let Some(until) = q.until {
        query = query.filter(audit_events::created_at.le(until));
    }
    query
}

/// The requests, owners, tokens and apps of a page of events, in a few queries.
fn feed_context(
    conn: &mut DbConnection,
    events: Vec<AuditEvent>,
) -> Result<Vec<FeedEvent>, StoreError> {
    use std::collections::HashMap;

    use crate::models::{PatRequest, User};
    use crate::schema::{apps, pat_grants, pat_requests, tokens, users};
    let grant_ids: Vec<i64> = events
        .iter()
        .filter(|e| e.subject_type == "grant")
        .map(|e| e.subject_id)
        .collect();
    let granted: HashMap<i64, i64> = pat_grants::table
        .filter(pat_grants::id.eq_any(&grant_ids))
        .select((pat_grants::id, pat_grants::request_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let request_of = |e: &AuditEvent| match e.subject_type.as_str() {
        "grant" => granted.get(&e.subject_id).copied(),
        _ => Some(e.subject_id),
    };
    let request_ids: Vec<i64> = events.iter().filter_map(request_of).collect();
    let rows: Vec<(PatRequest, User, String)> = pat_requests::table
        .inner_join(users::table.on(users::id.eq(pat_requests::owner_id)))
        .inner_join(tokens::table.on(tokens::id.eq(pat_requests::token_id)))
        .filter(pat_requests::id.eq_any(&request_ids))
        .select((pat_requests::all_columns, users::all_columns, tokens::name))
        .load(conn)?;
    let by_request: HashMap<i64, (PatRequest, User, String)> =
        rows.into_iter().map(|r| (r.0.id, r)).collect();
    let app_ids: Vec<i64> = events.iter().filter_map(|e| e.app_id).collect();
    let slugs: HashMap<i64, String> = apps::table
        .filter(apps::id.eq_any(&app_ids))
        .select((apps::id, apps::slug))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let Some(request_id) = request_of(&event) else {
            continue;
        };
        // Several events may be about one request: each takes a copy.
        let Some((request, owner, token_name)) = by_request.get(&request_id).cloned() else {
            continue;
        };
        let app_slug = event.app_id.and_then(|id| slugs.get(&id).cloned());
        out.push(FeedEvent {
            event,
            request,
            owner,
            token_name,
            app_slug,
        });
    }
    Ok(out)
}
