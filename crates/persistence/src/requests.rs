//! Fine-grained token requests: filtered listing, their repositories, and reviews as one conditional transaction.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use patgate_domain::{
    GrantState, RepositorySelection, RequestEvent, RequestState, RequestedPermissions,
    ReviewAction, TransitionError,
};

use crate::audit::record_audit;
use crate::db::{cached, unindexed_eq, DbConnection};
pub use crate::filters::ListFilter;
use crate::filters::{count_filtered, list_views};
use crate::models::NewPatRequest;
use crate::models::{Owner, PatRequest, Token, TokenName};
use crate::routing::{self, Recorded};
use crate::schema::{
    pat_grants, pat_request_permissions, pat_request_repositories, pat_request_reviews,
    pat_requests,
};
use crate::starts::Starts;
use crate::LoadOne;
use crate::{literal, Page, StoreError, Total};

/// A request with the token and owner the API shows with it.
#[derive(Debug, Clone)]
pub struct RequestView {
    pub request: PatRequest,
    /// The permissions asked for, read from the row.
    pub permissions: RequestedPermissions,
    pub token: TokenName,
    pub owner: Owner,
}

/// One page of pending requests, newest first unless `filter.ascending`, with the total; read
/// from the page's first row when `starts` knows where it is (`starts.rs`).
pub fn list_pending(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &ListFilter,
    page: Page,
    starts: &Starts<'_>,
) -> Result<(Vec<RequestView>, Total), StoreError> {
    let pending = RequestState::Pending.as_str();
    list_views!(
        conn,
        pat_requests,
        "pat_requests.id",
        pending,
        org_id,
        filter,
        page,
        starts,
        created_at,
        PatRequest,
        |request: PatRequest, token, owner| {
            let permissions = crate::json::parse("request permissions", &request.permissions)?;
            Ok(RequestView {
                request,
                permissions,
                token,
                owner,
            })
        }
    )
}

/// How many pending requests pass the filter (see [`count_filtered!`]).
pub fn count_pending(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &ListFilter,
) -> Result<i64, StoreError> {
    let pending = RequestState::Pending.as_str();
    count_filtered!(
        conn,
        pat_requests,
        "pat_requests.id",
        pending,
        org_id,
        filter
    )
}

/// A request as a token files it: the row, its repositories and its permission index.
#[derive(Debug, Clone)]
pub struct Filing<'a> {
    pub org_id: i64,
    pub token: &'a Token,
    pub status: RequestState,
    pub reason: Option<&'a str>,
    pub repository_selection: RepositorySelection,
    pub repository_ids: &'a [i64],
    pub permissions: &'a RequestedPermissions,
    /// For a resubmission: what it adds to and upgrades in the access the token had.
    pub beyond: Option<(&'a RequestedPermissions, &'a RequestedPermissions)>,
    pub at: NaiveDateTime,
}

fn json(p: &RequestedPermissions) -> Result<String, StoreError> {
    crate::json::text("request permissions", p)
}

/// Inserts a request with its repositories and permission index rows.
pub fn file(conn: &mut DbConnection, f: &Filing<'_>) -> Result<PatRequest, StoreError> {
    let permissions = json(f.permissions)?;
    let added = f.beyond.map(|(a, _)| json(a)).transpose()?;
    let upgraded = f.beyond.map(|(_, u)| json(u)).transpose()?;
    let request: PatRequest = diesel::insert_into(pat_requests::table)
        .values((
            NewPatRequest {
                org_id: f.org_id,
                token_id: f.token.id,
                owner_id: f.token.owner_id,
                status: f.status.as_str(),
                reason: f.reason,
                repository_selection: f.repository_selection.as_str(),
                permissions: &permissions,
                created_at: f.at,
                token_expires_at: f.token.expires_at,
                token_last_used_at: f.token.last_used_at,
            },
            pat_requests::permissions_added.eq(added),
            pat_requests::permissions_upgraded.eq(upgraded),
        ))
        .returning(pat_requests::all_columns)
        .get_result(conn)?;
    write_details(conn, &request, f.repository_ids, f.permissions)?;
    Ok(request)
}

/// Replaces a pending request's content with a resubmission's.
pub fn refile(
    conn: &mut DbConnection,
    request: &PatRequest,
    f: &Filing<'_>,
) -> Result<PatRequest, StoreError> {
    let permissions = json(f.permissions)?;
    let added = f.beyond.map(|(a, _)| json(a)).transpose()?;
    let upgraded = f.beyond.map(|(_, u)| json(u)).transpose()?;
    let updated: PatRequest = diesel::update(pat_requests::table.find(request.id))
        .set((
            pat_requests::reason.eq(f.reason),
            pat_requests::repository_selection.eq(f.repository_selection.as_str()),
            pat_requests::permissions.eq(&permissions),
            pat_requests::permissions_added.eq(added),
            pat_requests::permissions_upgraded.eq(upgraded),
            pat_requests::token_expires_at.eq(f.token.expires_at),
        ))
        .returning(pat_requests::all_columns)
        .get_result(conn)?;
    diesel::delete(
        pat_request_repositories::table.filter(pat_request_repositories::request_id.eq(request.id)),
    )
    .execute(conn)?;
    diesel::delete(
        pat_request_permissions::table.filter(pat_request_permissions::request_id.eq(request.id)),
    )
    .execute(conn)?;
    write_details(conn, &updated, f.repository_ids, f.permissions)?;
    Ok(updated)
}

fn write_details(
    conn: &mut DbConnection,
    request: &PatRequest,
    repository_ids: &[i64],
    permissions: &RequestedPermissions,
) -> Result<(), StoreError> {
    for repository_id in repository_ids {
        diesel::insert_into(pat_request_repositories::table)
            .values((
                pat_request_repositories::request_id.eq(request.id),
                pat_request_repositories::repository_id.eq(repository_id),
            ))
            .execute(conn)?;
    }
    let mut names: Vec<String> = permissions
        .entries()
        .map(|(key, level)| format!("{key}_{level}"))
        .collect();
    names.sort();
    names.dedup();
    for permission in names {
        diesel::insert_into(pat_request_permissions::table)
            .values((
                pat_request_permissions::request_id.eq(request.id),
                pat_request_permissions::org_id.eq(request.org_id),
                pat_request_permissions::permission.eq(permission),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The request with this id in this organization, whatever its state.
pub fn find(
    conn: &mut DbConnection,
    org_id: i64,
    request_id: i64,
) -> Result<Option<PatRequest>, StoreError> {
    Ok(pat_requests::table
        .filter(pat_requests::id.eq(request_id))
        .filter(pat_requests::org_id.eq(org_id))
        .load_one(conn)?)
}

/// Who reviews, on whose behalf, and what they decided.
#[derive(Debug, Clone)]
pub struct Review<'a> {
    pub org_id: i64,
    pub request_ids: &'a [i64],
    pub action: ReviewAction,
    pub reason: Option<&'a str>,
    pub app_id: i64,
    pub installation_id: i64,
    pub at: NaiveDateTime,
    /// Approved by the organization's policy at filing, not by a reviewer: recorded as
    /// `request.auto_approved`, which sends no event and no notice (GitHub sends none for a
    /// token that needs no approval).
    pub by_policy: bool,
}

/// Why a review changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Ids that are not requests of this organization.
    #[error("unknown request ids: {0:?}")]
    Unknown(Vec<i64>),
    /// Requests the state machine refuses to move, with the reason for each.
    #[error("requests not pending: {}", .0.iter().map(|(id, e)| format!("{id}: {e}")).collect::<Vec<_>>().join("; "))]
    NotPending(Vec<(i64, TransitionError)>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_from_diesel!(ReviewError);

/// Approves or denies every named request in one transaction, all or nothing: each must be a
/// pending request of the organization. The update is conditional on `status = 'pending'`, so
/// of concurrent reviews of one request exactly one succeeds. Approval creates exactly one
/// grant per request; every review is recorded with its reviewer.
pub fn review(conn: &mut DbConnection, review: &Review<'_>) -> Result<(), ReviewError> {
    let ids = review.request_ids;
    let event = RequestEvent::from_review(review.action);
    // Every request must be pending, so the new state is known before anything is read: the
    // update is tried at once, and only when it misses a request is the reason read (one round
    // trip fewer for every review that succeeds).
    let target = RequestState::Pending.apply(event).map_err(|e| {
        StoreError::Corrupt(format!("a review cannot move a pending request: {e:?}"))
    })?;
    let updated: Vec<i64> = cached(
        diesel::update(
            pat_requests::table
                .filter(pat_requests::id.eq_any(ids))
                .filter(unindexed_eq!("pat_requests.org_id", BigInt, review.org_id))
                .filter(unindexed_eq!(
                    "pat_requests.status",
                    Text,
                    RequestState::Pending.as_str()
                )),
        )
        .set((
            pat_requests::status.eq(target.as_str()),
            pat_requests::reviewed_at.eq(review.at),
        ))
        .returning(pat_requests::id),
    )
    .get_results(conn)?;
    if updated.len() != ids.len() {
        // Unknown, already reviewed, or reviewed by another reviewer since this review began:
        // say which; the caller rolls everything back.
        let missed = crate::absent(ids, |id| updated.contains(id));
        return Err(refusal(conn, review.org_id, &missed, event));
    }

    if target.creates_grant() {
        supersede_grants(conn, review)?;
        insert_grants(conn, ids, review.at)?;
    }
    insert_reviews(conn, review)?;
    insert_audit(conn, review, target)?;
    Ok(())
}

/// `request.approved` / `request.denied` (`request.auto_approved` by policy) in the audit
/// trail, one row per request, and whom each tells ([`routing`]).
fn insert_audit(
    conn: &mut DbConnection,
    review: &Review<'_>,
    target: RequestState,
) -> Result<(), StoreError> {
    let action = if review.by_policy {
        "request.auto_approved".to_owned()
    } else {
        format!("request.{}", target.as_str())
    };
    let recorded = record_audit!(
        conn,
        pat_requests,
        review.request_ids,
        action.as_str(),
        "request",
        Some((review.app_id, review.installation_id)),
        review.reason.map(str::to_owned),
        review.at
    )?;
    let events: Vec<Recorded> = recorded
        .into_iter()
        .map(|(event_id, request_id)| Recorded {
            event_id,
            request_id,
        })
        .collect();
    routing::enqueue(conn, review.org_id, &action, &events, review.at)
}

/// The one state every request moves to, or every refusal the state machine gives.
fn transition_all(
    ids: &[i64],
    current: &BTreeMap<i64, String>,
    event: RequestEvent,
) -> Result<RequestState, ReviewError> {
    let mut refused = Vec::new();
    let mut target = None;
    for id in ids {
        let state = current
            .get(id)
            .and_then(|s| RequestState::parse(s))
            .ok_or_else(|| StoreError::Corrupt(format!("request {id} has an unknown status")))?;
        match state.apply(event) {
            Ok(next) => target = Some(next),
            Err(e) => refused.push((*id, e)),
        }
    }
    match target {
        Some(next) if refused.is_empty() => Ok(next),
        _ => Err(ReviewError::NotPending(refused)),
    }
}

/// Why the requests `missed` could not be reviewed: those not in the organization are
/// unknown; the others are no longer pending (reviewed before, or by another reviewer while
/// this review ran).
fn refusal(
    conn: &mut DbConnection,
    org_id: i64,
    missed: &[i64],
    event: RequestEvent,
) -> ReviewError {
    let current: BTreeMap<i64, String> = match cached(
        pat_requests::table
            .filter(pat_requests::id.eq_any(missed))
            .filter(unindexed_eq!("pat_requests.org_id", BigInt, org_id))
            .select((pat_requests::id, pat_requests::status)),
    )
    .load::<(i64, String)>(conn)
    {
        Ok(rows) => rows.into_iter().collect(),
        Err(e) => return e.into(),
    };
    let unknown = crate::absent(missed, |id| current.contains_key(id));
    if !unknown.is_empty() {
        return ReviewError::Unknown(unknown);
    }
    match transition_all(missed, &current, event) {
        Err(refused) => refused,
        // Pending now, yet not moved: only a write between the update and this read does that.
        Ok(_) => ReviewError::NotPending(Vec::new()),
    }
}

/// Ends the grants the approved requests' tokens held before: a resubmission's approval
/// replaces the token's access, it does not add a second grant.
fn supersede_grants(conn: &mut DbConnection, review: &Review<'_>) -> Result<(), StoreError> {
    let tokens_of = pat_requests::table
        .filter(pat_requests::id.eq_any(review.request_ids))
        .select(pat_requests::token_id);
    let ended: Vec<i64> = cached(
        diesel::update(
            pat_grants::table
                .filter(pat_grants::org_id.eq(review.org_id))
                .filter(pat_grants::status.eq(literal::Active))
                .filter(pat_grants::token_id.eq_any(tokens_of)),
        )
        .set((
            pat_grants::status.eq(GrantState::Revoked.as_str()),
            pat_grants::ended_at.eq(review.at),
        ))
        .returning(pat_grants::id),
    )
    .get_results(conn)?;
    if ended.is_empty() {
        return Ok(());
    }
    record_audit!(
        conn,
        pat_grants,
        &ended,
        "grant.superseded",
        "grant",
        Some((review.app_id, review.installation_id)),
        None,
        review.at
    )?;
    Ok(())
}

/// One grant per approved request, copied from the request in a single statement.
fn insert_grants(
    conn: &mut DbConnection,
    ids: &[i64],
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let source = pat_requests::table
        .filter(pat_requests::id.eq_any(ids))
        .select((
            pat_requests::org_id,
            pat_requests::id,
            pat_requests::token_id,
            pat_requests::owner_id,
            GrantState::Active.as_str().into_sql::<Text>(),
            pat_requests::repository_selection,
            pat_requests::permissions,
            at.into_sql::<Timestamp>(),
            pat_requests::token_expires_at,
            pat_requests::token_last_used_at,
        ));
    // Loaded with `RETURNING`: SQLite prepares an `INSERT … SELECT` run with `execute` anew
    // every time, kept or not (store test `statements_are_prepared_once`).
    let _: Vec<i64> = cached(
        diesel::insert_into(pat_grants::table)
            .values(source)
            .into_columns((
                pat_grants::org_id,
                pat_grants::request_id,
                pat_grants::token_id,
                pat_grants::owner_id,
                pat_grants::status,
                pat_grants::repository_selection,
                pat_grants::permissions,
                pat_grants::access_granted_at,
                pat_grants::token_expires_at,
                pat_grants::token_last_used_at,
            ))
            .returning(pat_grants::id),
    )
    .load(conn)?;
    Ok(())
}

/// The append-only review record, one row per request, in a single statement.
fn insert_reviews(conn: &mut DbConnection, review: &Review<'_>) -> Result<(), StoreError> {
    let source = pat_requests::table
        .filter(pat_requests::id.eq_any(review.request_ids))
        .select((
            pat_requests::id,
            pat_requests::org_id,
            review.app_id.into_sql::<BigInt>(),
            review.installation_id.into_sql::<BigInt>(),
            review.action.as_str().into_sql::<Text>(),
            review
                .reason
                .map(str::to_owned)
                .into_sql::<Nullable<Text>>(),
            review.at.into_sql::<Timestamp>(),
        ));
    // Loaded with `RETURNING`: SQLite prepares an `INSERT … SELECT` run with `execute` anew
    // every time, kept or not (store test `statements_are_prepared_once`).
    let _: Vec<i64> = cached(
        diesel::insert_into(pat_request_reviews::table)
            .values(source)
            .into_columns((
                pat_request_reviews::request_id,
                pat_request_reviews::org_id,
                pat_request_reviews::app_id,
                pat_request_reviews::installation_id,
                pat_request_reviews::action,
                pat_request_reviews::reason,
                pat_request_reviews::created_at,
            ))
            .returning(pat_request_reviews::id),
    )
    .load(conn)?;
    Ok(())
}
