//! Grants, the access approval gives a token: filtered listing and revocation as one conditional transaction.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use patgate_domain::{GrantEvent, GrantState, RequestedPermissions};

use crate::audit::record_audit;
use crate::db::{cached, unindexed_eq, DbConnection};
use crate::filters::{count_filtered, list_views, ListFilter};
use crate::models::{Owner, PatGrant, TokenName};
use crate::routing::{self, Recorded};
use crate::schema::pat_grants;
use crate::starts::Starts;
use crate::LoadOne;
use crate::{Page, StoreError, Total};

/// A grant with the token and owner the API shows with it.
#[derive(Debug, Clone)]
pub struct GrantView {
    pub grant: PatGrant,
    /// The grant's permissions, read from the row.
    pub permissions: RequestedPermissions,
    pub token: TokenName,
    pub owner: Owner,
}

/// How many active grants pass the filter (see [`count_filtered!`]).
pub fn count_active(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &ListFilter,
) -> Result<i64, StoreError> {
    let active = GrantState::Active.as_str();
    count_filtered!(
        conn,
        pat_grants,
        "pat_grants.request_id",
        active,
        org_id,
        filter
    )
}

/// One page of active grants, most recently granted first unless `filter.ascending`, with
/// the total; read from the page's first row when `starts` knows where it is (`starts.rs`).
pub fn list_active(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &ListFilter,
    page: Page,
    starts: &Starts<'_>,
) -> Result<(Vec<GrantView>, Total), StoreError> {
    let active = GrantState::Active.as_str();
    list_views!(
        conn,
        pat_grants,
        "pat_grants.request_id",
        active,
        org_id,
        filter,
        page,
        starts,
        access_granted_at,
        PatGrant,
        |grant: PatGrant, token, owner| {
            let permissions = crate::json::parse("grant permissions", &grant.permissions)?;
            Ok(GrantView {
                grant,
                permissions,
                token,
                owner,
            })
        }
    )
}

/// The grant with this id in this organization, whatever its state.
pub fn find(
    conn: &mut DbConnection,
    org_id: i64,
    grant_id: i64,
) -> Result<Option<PatGrant>, StoreError> {
    Ok(pat_grants::table
        .filter(pat_grants::id.eq(grant_id))
        .filter(pat_grants::org_id.eq(org_id))
        .load_one(conn)?)
}

/// Who revokes which grants, on whose behalf.
#[derive(Debug, Clone)]
pub struct Revocation<'a> {
    pub org_id: i64,
    pub grant_ids: &'a [i64],
    pub app_id: i64,
    pub installation_id: i64,
    /// Why, as told to the token's owner and kept in the audit trail.
    pub reason: Option<&'a str>,
    pub at: NaiveDateTime,
}

/// Why a revocation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// Ids that are not grants of this organization.
    #[error("unknown grant ids: {0:?}")]
    Unknown(Vec<i64>),
    /// Grants that already ended, with the state each is in.
    #[error("grants not active: {0:?}")]
    NotActive(Vec<(i64, GrantState)>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_from_diesel!(RevokeError);

/// Revokes every named grant in one transaction, all or nothing: each must be an active grant
/// of the organization. The update is conditional on `status = 'active'`, so of concurrent
/// revocations exactly one succeeds per grant. Each revocation goes into the audit trail, and
/// its owner's notice into the outboxes, in the same transaction.
pub fn revoke(conn: &mut DbConnection, revocation: &Revocation<'_>) -> Result<(), RevokeError> {
    let ids = revocation.grant_ids;
    let requests = end_active(conn, revocation)?;
    let recorded = record_audit!(
        conn,
        pat_grants,
        ids,
        "grant.revoked",
        "grant",
        Some((revocation.app_id, revocation.installation_id)),
        revocation.reason.map(str::to_owned),
        revocation.at
    )?;
    let events = with_requests(&requests, recorded);
    let (org_id, at) = (revocation.org_id, revocation.at);
    routing::enqueue(conn, org_id, "grant.revoked", &events, at)?;
    Ok(())
}

/// Ends the grants, on the condition that each is still active, and gives the request each
/// was made for. The update is tried at once; only when it misses a grant is the reason read:
/// unknown in the organization, or no longer active (ended before, or by another caller while
/// this revocation ran), and the caller rolls back.
fn end_active(
    conn: &mut DbConnection,
    revocation: &Revocation<'_>,
) -> Result<BTreeMap<i64, i64>, RevokeError> {
    let (ids, org_id) = (revocation.grant_ids, revocation.org_id);
    let active = GrantState::Active.as_str();
    let updated: BTreeMap<i64, i64> = cached(
        diesel::update(
            pat_grants::table
                .filter(pat_grants::id.eq_any(ids))
                .filter(unindexed_eq!("pat_grants.org_id", BigInt, org_id))
                .filter(unindexed_eq!("pat_grants.status", Text, active)),
        )
        .set((
            pat_grants::status.eq(GrantState::Revoked.as_str()),
            pat_grants::ended_at.eq(revocation.at),
        ))
        .returning((pat_grants::id, pat_grants::request_id)),
    )
    .get_results::<(i64, i64)>(conn)?
    .into_iter()
    .collect();
    if updated.len() == ids.len() {
        return Ok(updated);
    }
    let missed = crate::absent(ids, |id| updated.contains_key(id));
    let now = states(conn, org_id, &missed)?;
    let unknown = crate::absent(&missed, |id| now.contains_key(id));
    if !unknown.is_empty() {
        return Err(RevokeError::Unknown(unknown));
    }
    Err(RevokeError::NotActive(
        now.into_iter()
            .filter(|(_, state)| state.apply(GrantEvent::Revoke).is_none())
            .collect(),
    ))
}

/// The recorded events (audit event id, grant id) with the request each grant was made for.
fn with_requests(requests: &BTreeMap<i64, i64>, recorded: Vec<(i64, i64)>) -> Vec<Recorded> {
    recorded
        .into_iter()
        .filter_map(|(event_id, grant_id)| {
            let request_id = *requests.get(&grant_id)?;
            Some(Recorded {
                event_id,
                request_id,
            })
        })
        .collect()
}

fn states(
    conn: &mut DbConnection,
    org_id: i64,
    ids: &[i64],
) -> Result<BTreeMap<i64, GrantState>, StoreError> {
    cached(
        pat_grants::table
            .filter(pat_grants::id.eq_any(ids))
            .filter(unindexed_eq!("pat_grants.org_id", BigInt, org_id))
            .select((pat_grants::id, pat_grants::status)),
    )
    .load::<(i64, String)>(conn)?
    .into_iter()
    .map(|(id, s)| {
        GrantState::parse(&s)
            .map(|state| (id, state))
            .ok_or_else(|| StoreError::Corrupt(format!("grant {id} has an unknown status")))
    })
    .collect()
}
