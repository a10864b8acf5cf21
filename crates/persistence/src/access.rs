//! The access check for resource servers: the facts that `patgate_domain::access::decide`
//! asks for, read from the store.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::access::{self, Ask, Facts, Grant};
use patgate_domain::policy::{lifetime_days, PolicyViolation, TokenKind};
use patgate_domain::{AccessLevel, GrantState, RepositorySelection, RequestState};

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

pub use patgate_domain::access::Answer;

/// Answers, with the time from which the answer changes by itself (the token's expiry), when
/// there is one. The rule is [`patgate_domain::access::decide`]; this gathers the facts it
/// asks for, with at most four indexed look-ups when access is allowed: the id of the token's
/// latest grant in the organization, that grant with the token, the policy, and the
/// repository.
pub fn check(
    conn: &mut DbConnection,
    q: &Question<'_>,
) -> Result<(Answer, Option<NaiveDateTime>), StoreError> {
    let ask = Ask {
        permission: q.permission,
        level: q.level,
        repository: q.repository_key.is_some(),
    };
    let mut facts = Stored {
        conn,
        q,
        grant: None,
        token: None,
    };
    let answer = access::decide(ask, &mut facts)?;
    Ok((answer, facts.token.and_then(|t| t.expires_at)))
}

/// The facts as the store holds them, read when the rule asks.
struct Stored<'c, 'q> {
    conn: &'c mut DbConnection,
    q: &'q Question<'q>,
    /// The latest grant's row, once read.
    grant: Option<PatGrant>,
    token: Option<Token>,
}

impl Facts for Stored<'_, '_> {
    type Error = StoreError;

    fn latest_grant(&mut self) -> Result<Option<Grant>, StoreError> {
        // The latest by MAX(id) rather than ORDER BY … LIMIT: see `LoadOne`.
        let latest_id: Option<i64> = pat_grants::table
            .filter(pat_grants::org_id.eq(self.q.org_id))
            .filter(pat_grants::token_id.eq(self.q.token_id))
            .select(diesel::dsl::max(pat_grants::id))
            .get_result(self.conn)?;
        let latest: Option<(PatGrant, Token)> = match latest_id {
            Some(id) => pat_grants::table
                .inner_join(tokens::table)
                .filter(pat_grants::id.eq(id))
                .select((pat_grants::all_columns, tokens::all_columns))
                .load_one(self.conn)?,
            None => None,
        };
        let Some((grant, token)) = latest else {
            return Ok(None);
        };
        let facts = Grant {
            id: grant.id,
            state: GrantState::parse(&grant.status),
            token_expired: token.expires_at.is_some_and(|t| t <= self.q.now),
            permissions: crate::json::parse("grant permissions", &grant.permissions)?,
        };
        self.grant = Some(grant);
        self.token = Some(token);
        Ok(Some(facts))
    }

    fn latest_request(&mut self) -> Result<Option<(i64, Option<RequestState>)>, StoreError> {
        let latest_id: Option<i64> = pat_requests::table
            .filter(pat_requests::org_id.eq(self.q.org_id))
            .filter(pat_requests::token_id.eq(self.q.token_id))
            .select(diesel::dsl::max(pat_requests::id))
            .get_result(self.conn)?;
        let latest: Option<(i64, String)> = match latest_id {
            Some(id) => pat_requests::table
                .filter(pat_requests::id.eq(id))
                .select((pat_requests::id, pat_requests::status))
                .load_one(self.conn)?,
            None => None,
        };
        Ok(latest.map(|(id, status)| (id, RequestState::parse(&status))))
    }

    fn policy(&mut self) -> Result<Result<(), PolicyViolation>, StoreError> {
        let Some(token) = &self.token else {
            return Ok(Ok(()));
        };
        let stack = policy::stack(self.conn, self.q.org_id)?;
        let lifetime = lifetime_days(
            token.created_at.and_utc().timestamp(),
            token.expires_at.map(|t| t.and_utc().timestamp()),
        );
        let by_owner = stack.effective().exempt_administrators
            && policy::is_owner(self.conn, self.q.org_id, token.owner_id)?;
        Ok(stack.admits(TokenKind::FineGrained, lifetime, by_owner))
    }

    fn reaches_repository(&mut self, _: &Grant) -> Result<bool, StoreError> {
        match (&self.grant, self.q.repository_key) {
            (Some(grant), Some(key)) => reaches_repository(self.conn, grant, key),
            _ => Ok(false),
        }
    }
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
