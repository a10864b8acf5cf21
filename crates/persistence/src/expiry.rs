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

/// The ids of up to [`BATCH`] rows of `$table` (`pat_requests` or `pat_grants`) in `$status`
/// whose `$column` is at or before `$bound`.
macro_rules! due {
    ($conn:expr, $table:ident, $status:expr, $column:ident, $bound:expr) => {
        $table::table
            .filter(crate::filters::in_state!($table, $status))
            .filter($table::$column.le($bound))
            .select($table::id)
            .limit(BATCH)
            .load::<i64>($conn)
    };
}

/// Moves the rows of `$table` with the `$due` ids from `$from` to `$to`, stamping `$stamp` with
/// `$now`, and records `$action` about each moved `$subject`; gives how many moved.
/// Conditional on still being in `$from`: a reviewer or another instance may have moved some.
macro_rules! expire {
    ($conn:expr, $table:ident, $due:expr, $from:expr, $to:expr, $stamp:ident, $action:literal, $subject:literal, $now:expr) => {{
        let (conn, due, now): (&mut DbConnection, &[i64], NaiveDateTime) = ($conn, $due, $now);
        let moved: Vec<i64> = if due.is_empty() {
            Vec::new()
        } else {
            diesel::update(
                $table::table
                    .filter($table::id.eq_any(due))
                    .filter($table::status.eq($from)),
            )
            .set(($table::status.eq($to), $table::$stamp.eq(now)))
            .returning($table::id)
            .get_results(conn)?
        };
        if !moved.is_empty() {
            record_audit!(conn, $table, &moved, $action, $subject, None, None, now)?;
        }
        Ok(moved.len())
    }};
}

fn expire_requests(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    cutoff: Option<NaiveDateTime>,
) -> Result<usize, StoreError> {
    let pending = RequestState::Pending.as_str();
    let mut due = due!(conn, pat_requests, pending, token_expires_at, now)?;
    if let Some(cutoff) = cutoff {
        let stale = due!(conn, pat_requests, pending, created_at, cutoff)?;
        due.extend(stale);
        due.sort_unstable();
        due.dedup();
    }
    let expired = RequestState::Expired.as_str();
    expire!(
        conn,
        pat_requests,
        &due,
        pending,
        expired,
        reviewed_at,
        "request.expired",
        "request",
        now
    )
}

fn expire_grants(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    let active = GrantState::Active.as_str();
    let due = due!(conn, pat_grants, active, token_expires_at, now)?;
    let expired = GrantState::Expired.as_str();
    expire!(
        conn,
        pat_grants,
        &due,
        active,
        expired,
        ended_at,
        "grant.expired",
        "grant",
        now
    )
}
