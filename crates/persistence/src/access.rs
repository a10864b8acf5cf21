//! The access check for resource servers: may this token act on this organization (and repository) with this permission now, and if not, why.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::policy::{lifetime_days, PolicyViolation, TokenKind};
use patgate_domain::{
    AccessLevel, GrantState, RepositorySelection, RequestState, RequestedPermissions,
};

use crate::db::DbConnection;
use crate::models::{PatGrant, Token};
use crate::schema::{pat_grants, pat_request_repositories, pat_requests, repositories, tokens};
use crate::LoadOne;
use crate::{policy, StoreError};

/// What is asked.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub org_id: i64,
    pub token_id: i64,
    /// Case-folded repository name, for repository permissions.
    pub repository_key: Option<&'a str>,
    pub permission: &'a str,
    pub level: AccessLevel,
    pub now: NaiveDateTime,
}

/// The answer: allowed through a grant, or refused with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Allowed {
        grant_id: i64,
    },
    /// The token never asked this organization (or is unknown).
    NoGrant,
    Pending {
        request_id: i64,
    },
    Denied {
        request_id: i64,
    },
    Cancelled {
        request_id: i64,
    },
    Revoked {
        grant_id: i64,
    },
    Expired,
    /// The policy blocks the token (it is not revoked: lifting the policy restores access).
    Policy(PolicyViolation),
    /// The grant does not reach this repository.
    Repository {
        grant_id: i64,
    },
    /// The grant does not hold this permission at this level.
    Permission {
        grant_id: i64,
    },
    /// A classic token, which needs no grant, and the policy lets it through.
    ClassicAllowed,
}

/// Answers, with the time from which the answer changes by itself (the token's expiry), when
/// there is one.
pub fn check(
    conn: &mut DbConnection,
    q: &Question<'_>,
) -> Result<(Answer, Option<NaiveDateTime>), StoreError> {
    let mut expires_at = None;
    let answer = answer(conn, q, &mut expires_at)?;
    Ok((answer, expires_at))
}

/// Answers with at most four indexed look-ups when access is allowed: the id of the token's
/// latest grant in the organization, that grant with the token, the policy, and the
/// repository. Sets `expires_at` once the token is read.
fn answer(
    conn: &mut DbConnection,
    q: &Question<'_>,
    expires_at: &mut Option<NaiveDateTime>,
) -> Result<Answer, StoreError> {
    // The latest by MAX(id) rather than ORDER BY … LIMIT: see `LoadOne`.
    let latest_id: Option<i64> = pat_grants::table
        .filter(pat_grants::org_id.eq(q.org_id))
        .filter(pat_grants::token_id.eq(q.token_id))
        .select(diesel::dsl::max(pat_grants::id))
        .get_result(conn)?;
    let latest: Option<(PatGrant, Token)> = match latest_id {
        Some(id) => pat_grants::table
            .inner_join(tokens::table)
            .filter(pat_grants::id.eq(id))
            .select((pat_grants::all_columns, tokens::all_columns))
            .load_one(conn)?,
        None => None,
    };
    let Some((grant, token)) = latest else {
        return why_no_grant(conn, q);
    };
    *expires_at = token.expires_at;
    if token.expires_at.is_some_and(|t| t <= q.now) {
        return Ok(Answer::Expired);
    }
    match GrantState::parse(&grant.status) {
        Some(GrantState::Active) => {}
        ended => {
            // A request filed after the grant ended says more than the old grant does.
            if let pending @ Answer::Pending { .. } = why_no_grant(conn, q)? {
                return Ok(pending);
            }
            return Ok(match ended {
                Some(GrantState::Expired) => Answer::Expired,
                _ => Answer::Revoked { grant_id: grant.id },
            });
        }
    }
    let stack = policy::stack(conn, q.org_id)?;
    let lifetime = lifetime_days(
        token.created_at.and_utc().timestamp(),
        token.expires_at.map(|t| t.and_utc().timestamp()),
    );
    let by_owner = stack.effective().exempt_administrators
        && policy::is_owner(conn, q.org_id, token.owner_id)?;
    if let Err(violation) = stack.admits(TokenKind::FineGrained, lifetime, by_owner) {
        return Ok(Answer::Policy(violation));
    }
    let held: RequestedPermissions = crate::json::parse("grant permissions", &grant.permissions)?;
    if !held.allows(q.permission, q.level) {
        return Ok(Answer::Permission { grant_id: grant.id });
    }
    if let Some(key) = q.repository_key {
        if !reaches_repository(conn, &grant, key)? {
            return Ok(Answer::Repository { grant_id: grant.id });
        }
    }
    Ok(Answer::Allowed { grant_id: grant.id })
}

fn reaches_repository(
    conn: &mut DbConnection,
    grant: &PatGrant,
    key: &str,
) -> Result<bool, StoreError> {
    let in_org = repositories::table
        .filter(repositories::org_id.eq(grant.org_id))
        .filter(repositories::name_key.eq(key));
    let found: i64 = match RepositorySelection::parse(&grant.repository_selection) {
        Some(RepositorySelection::All) => in_org.count().get_result(conn)?,
        Some(RepositorySelection::Subset) => in_org
            .inner_join(
                pat_request_repositories::table
                    .on(pat_request_repositories::repository_id.eq(repositories::id)),
            )
            .filter(pat_request_repositories::request_id.eq(grant.request_id))
            .count()
            .get_result(conn)?,
        _ => 0,
    };
    Ok(found > 0)
}

/// Without a grant, the token's latest request in the organization says why.
fn why_no_grant(conn: &mut DbConnection, q: &Question<'_>) -> Result<Answer, StoreError> {
    let latest_id: Option<i64> = pat_requests::table
        .filter(pat_requests::org_id.eq(q.org_id))
        .filter(pat_requests::token_id.eq(q.token_id))
        .select(diesel::dsl::max(pat_requests::id))
        .get_result(conn)?;
    let latest: Option<(i64, String)> = match latest_id {
        Some(id) => pat_requests::table
            .filter(pat_requests::id.eq(id))
            .select((pat_requests::id, pat_requests::status))
            .load_one(conn)?,
        None => None,
    };
    Ok(match latest {
        None => Answer::NoGrant,
        Some((request_id, status)) => match RequestState::parse(&status) {
            Some(RequestState::Pending) => Answer::Pending { request_id },
            Some(RequestState::Denied) => Answer::Denied { request_id },
            Some(RequestState::Cancelled) => Answer::Cancelled { request_id },
            Some(RequestState::Expired) => Answer::Expired,
            // Approved always has a grant; reaching here means data was changed by hand.
            _ => Answer::NoGrant,
        },
    })
}
