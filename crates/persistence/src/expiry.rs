//! Expiry: pending requests and active grants whose token expired, and pending requests left unreviewed too long, become `expired`, with an audit record each. Safe to run from several instances at once: each row moves once.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::{GrantState, RequestState};

use crate::audit::record_audit;
use crate::db::DbConnection;
use crate::schema::{pat_grants, pat_requests};
use crate::StoreError;

/// Rows moved in one batch, at most.
pub const BATCH: i64 = 500;

/// How many rows a sweep expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub requests: usize,
    pub grants: usize,
}

/// Expires one batch of requests and one of grants that are due at `now`; pending requests
/// older than `pending_cutoff` (if given) are due too. Call until it returns zeros.
pub fn sweep(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    pending_cutoff: Option<NaiveDateTime>,
) -> Result<Swept, StoreError> {
    Ok(Swept {
        requests: expire_requests(conn, now, pending_cutoff)?,
        grants: expire_grants(conn, now)?,
    })
}

fn expire_requests(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    cutoff: Option<NaiveDateTime>,
) -> Result<usize, StoreError> {
    let pending = RequestState::Pending.as_str();
    let mut due: Vec<i64> = pat_requests::table
        .filter(pat_requests::status.eq(pending))
        .filter(pat_requests::token_expires_at.le(now))
        .select(pat_requests::id)
        .limit(BATCH)
        .load(conn)?;
    if let Some(cutoff) = cutoff {
        let stale: Vec<i64> = pat_requests::table
            .filter(pat_requests::status.eq(pending))
            .filter(pat_requests::created_at.le(cutoff))
            .select(pat_requests::id)
            .limit(BATCH)
            .load(conn)?;
        due.extend(stale);
        due.sort_unstable();
        due.dedup();
    }
    if due.is_empty() {
        return Ok(0);
    }
    // Conditional on still pending: a reviewer or another instance may have moved some.
    let moved: Vec<i64> = diesel::update(
        pat_requests::table
            .filter(pat_requests::id.eq_any(&due))
            .filter(pat_requests::status.eq(pending)),
    )
    .set((
        pat_requests::status.eq(RequestState::Expired.as_str()),
        pat_requests::reviewed_at.eq(now),
    ))
    .returning(pat_requests::id)
    .get_results(conn)?;
    if moved.is_empty() {
        return Ok(0);
    }
    record_audit!(
        conn,
        pat_requests,
        &moved,
        "request.expired",
        "request",
        None,
        None,
        now
    )?;
    Ok(moved.len())
}

fn expire_grants(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    let active = GrantState::Active.as_str();
    let due: Vec<i64> = pat_grants::table
        .filter(pat_grants::status.eq(active))
        .filter(pat_grants::token_expires_at.le(now))
        .select(pat_grants::id)
        .limit(BATCH)
        .load(conn)?;
    if due.is_empty() {
        return Ok(0);
    }
    let moved: Vec<i64> = diesel::update(
        pat_grants::table
            .filter(pat_grants::id.eq_any(&due))
            .filter(pat_grants::status.eq(active)),
    )
    .set((
        pat_grants::status.eq(GrantState::Expired.as_str()),
        pat_grants::ended_at.eq(now),
    ))
    .returning(pat_grants::id)
    .get_results(conn)?;
    if moved.is_empty() {
        return Ok(0);
    }
    record_audit!(
        conn,
        pat_grants,
        &moved,
        "grant.expired",
        "grant",
        None,
        None,
        now
    )?;
    Ok(moved.len())
}
