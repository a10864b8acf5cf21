//! Intake from the token issuer: a token files, refiles or withdraws its request for an organization's resources, and reports its last use; policy decides what a filing becomes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::intake::TokenFiling;
use patgate_domain::policy::{lifetime_days, IntakeDecision, PolicyStack, PolicyViolation};
use patgate_domain::{
    EmailAddress, RepositorySelection, RequestEvent, RequestState, RequestedPermissions,
    ReviewReason, TransitionError,
};

use crate::db::DbConnection;
use crate::models::{NewToken, PatGrant, PatRequest, PatRequestReview, Repository, Token, User};
use crate::requests::{self, Filing};
use crate::routing::{self, Recorded};
use crate::schema::{
    pat_grants, pat_request_repositories, pat_request_reviews, pat_requests, tokens,
};
use crate::{literal, policy, review_rules, seed, StoreError};

/// A token's request as the issuer files it.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub org_id: i64,
    pub owner: &'a User,
    /// The token's id, as the issuer knows it.
    pub token_id: i64,
    pub token_name: &'a str,
    pub token_expires_at: Option<NaiveDateTime>,
    pub reason: Option<&'a str>,
    /// `none`, `all` or `subset`.
    pub repository_selection: RepositorySelection,
    /// The repositories named, each the organization's.
    pub repositories: &'a [Repository],
    pub permissions: &'a RequestedPermissions,
    /// The issuer: app and installation.
    pub actor: (i64, i64),
    pub at: NaiveDateTime,
}

/// What a filing became.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A new pending request, or the pending one replaced by a resubmission asking for more.
    Pending(PatRequest),
    /// The same pending request, unchanged: the resubmission asked for nothing new.
    Unchanged(PatRequest),
    /// Access granted at once (the policy requires no approval), or already held.
    Granted {
        request: PatRequest,
        grant: PatGrant,
    },
}

/// Why a filing changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Policy(PolicyViolation),
    #[error("token {0} belongs to another user")]
    TokenOwner(i64),
    /// A repository named that is not the organization's.
    #[error("{0:?} is not a repository of the organization")]
    UnknownRepository(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_from_diesel!(IntakeError);

/// What a filing did: whether a pending request was filed, and the request with its verdict.
#[derive(Debug, Clone)]
pub struct Filed {
    pub created: bool,
    pub verdict: Verdict,
}

/// Files a checked request for the organization, in the caller's transaction: the owner is
/// made known (taking the address the filing gives), each repository named must be the
/// organization's, then [`submit`] decides.
pub fn file(
    conn: &mut DbConnection,
    org_id: i64,
    filing: &TokenFiling,
    actor: (i64, i64),
    at: NaiveDateTime,
) -> Result<Filed, IntakeError> {
    let mut repositories = Vec::with_capacity(filing.repositories.len());
    for name in &filing.repositories {
        let repo = seed::find_repo(conn, org_id, name.as_str())?
            .ok_or_else(|| IntakeError::UnknownRepository(name.as_str().to_owned()))?;
        repositories.push(repo);
    }
    let email = filing.owner_email.as_ref().map(EmailAddress::as_str);
    let owner = seed::ensure_user(conn, filing.owner.as_str(), None, email, at)?;
    let submission = Submission {
        org_id,
        owner: &owner,
        token_id: filing.token_id,
        token_name: filing.token_name.as_str(),
        token_expires_at: filing.token_expires_at,
        reason: filing.reason.as_ref().map(ReviewReason::as_str),
        repository_selection: filing.selection,
        repositories: &repositories,
        permissions: &filing.permissions,
        actor,
        at,
    };
    let (outcome, rules) = submit(conn, &submission)?;
    let (created, request) = match outcome {
        Outcome::Pending(r) => (true, r),
        Outcome::Unchanged(r) => (false, r),
        Outcome::Granted { request, .. } => (false, request),
    };
    // The request as `submit` wrote it: only its review and grant are read, and the rules'
    // decision when the filing did not just make it.
    let rules = match rules {
        Decided::Known(row) => row,
        Decided::Unknown => review_rules::latest_decision(conn, request.id)?,
    };
    Ok(Filed {
        created,
        verdict: verdict_with(conn, request, rules)?,
    })
}

/// Records the request's audit event and queues whom it tells ([`routing`]).
fn audit(
    conn: &mut DbConnection,
    org_id: i64,
    action: &str,
    request_id: i64,
    actor: (i64, i64),
    reason: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let entry = crate::audit::Entry {
        org_id,
        action,
        subject_type: "request",
        subject_id: request_id,
        app_id: Some(actor.0),
        installation_id: Some(actor.1),
        reason,
        at,
    };
    let event_id = crate::audit::record(conn, &entry)?;
    let event = Recorded {
        event_id,
        request_id,
    };
    routing::enqueue(conn, org_id, action, &[event], at)
}

/// The token row, created with the issuer's id or updated with its current name and expiry.
fn upsert_token(conn: &mut DbConnection, s: &Submission<'_>) -> Result<Token, IntakeError> {
    let existing: Option<Token> = tokens::table.find(s.token_id).first(conn).optional()?;
    match existing {
        Some(token) if token.owner_id != s.owner.id => Err(IntakeError::TokenOwner(s.token_id)),
        Some(token) => {
            let token: Token = diesel::update(tokens::table.find(token.id))
                .set((
                    tokens::name.eq(s.token_name),
                    tokens::expires_at.eq(s.token_expires_at),
                ))
                .returning(tokens::all_columns)
                .get_result(conn)?;
            // Requests and grants keep a copy of the expiry for filtering and sweeping.
            diesel::update(pat_requests::table.filter(pat_requests::token_id.eq(token.id)))
                .set(pat_requests::token_expires_at.eq(token.expires_at))
                .execute(conn)?;
            diesel::update(pat_grants::table.filter(pat_grants::token_id.eq(token.id)))
                .set(pat_grants::token_expires_at.eq(token.expires_at))
                .execute(conn)?;
            Ok(token)
        }
        None => {
            let token = diesel::insert_into(tokens::table)
                .values((
                    tokens::id.eq(s.token_id),
                    NewToken {
                        owner_id: s.owner.id,
                        name: s.token_name,
                        expires_at: s.token_expires_at,
                        last_used_at: None,
                        created_at: s.at,
                    },
                ))
                .returning(tokens::all_columns)
                .get_result(conn)?;
            // The issuer chose the id: keep PostgreSQL's sequence ahead of it, so that tokens
            // created without an id (seeding) never collide with it.
            if let DbConnection::Postgresql(pg) = conn {
                diesel::connection::SimpleConnection::batch_execute(
                    pg,
                    "SELECT setval(pg_get_serial_sequence('tokens', 'id'), \
                     GREATEST((SELECT MAX(id) FROM tokens), 1))",
                )?;
            }
            Ok(token)
        }
    }
}

fn active_grant(
    conn: &mut DbConnection,
    org_id: i64,
    token_id: i64,
) -> Result<Option<PatGrant>, StoreError> {
    Ok(pat_grants::table
        .filter(pat_grants::org_id.eq(org_id))
        .filter(pat_grants::token_id.eq(token_id))
        .filter(pat_grants::status.eq(literal::Active))
        .first(conn)
        .optional()?)
}

fn pending_request(
    conn: &mut DbConnection,
    org_id: i64,
    token_id: i64,
) -> Result<Option<PatRequest>, StoreError> {
    Ok(pat_requests::table
        .filter(pat_requests::org_id.eq(org_id))
        .filter(pat_requests::token_id.eq(token_id))
        .filter(pat_requests::status.eq(literal::Pending))
        .first(conn)
        .optional()?)
}

fn repository_ids(conn: &mut DbConnection, request_id: i64) -> Result<Vec<i64>, StoreError> {
    Ok(pat_request_repositories::table
        .filter(pat_request_repositories::request_id.eq(request_id))
        .select(pat_request_repositories::repository_id)
        .order(pat_request_repositories::repository_id)
        .load(conn)?)
}

fn parse(permissions: &str) -> Result<RequestedPermissions, StoreError> {
    crate::json::parse("request permissions", permissions)
}

/// The latest decision of the organization's rules about a request a filing left, when the
/// filing knows it.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Rules ran at this filing (`Some`), or the request is new and none did (`None`).
    Known(Option<review_rules::DecisionRow>),
    /// An earlier filing's, if any: read it.
    Unknown,
}

/// Files the token's request: the policy refuses it, grants it at once, or leaves it pending.
/// A resubmission replaces the pending request when it asks for anything new, and records
/// what it adds to or upgrades in the access the token already holds.
pub fn submit(
    conn: &mut DbConnection,
    s: &Submission<'_>,
) -> Result<(Outcome, Decided), IntakeError> {
    let token = upsert_token(conn, s)?;
    let (decision, stack) = decide(conn, s.org_id, &token)?;
    let mut asked_repos: Vec<i64> = s.repositories.iter().map(|r| r.id).collect();
    asked_repos.sort_unstable();
    asked_repos.dedup();
    let grant = active_grant(conn, s.org_id, token.id)?;
    let held = match &grant {
        Some(g) => parse(&g.permissions)?,
        None => RequestedPermissions::default(),
    };
    let (added, upgraded) = s.permissions.beyond(&held);
    if let Some(grant) = &grant {
        let nothing_new = added.is_empty() && upgraded.is_empty();
        if nothing_new && covers(conn, grant, s.repository_selection, &asked_repos)? {
            let request = pat_requests::table.find(grant.request_id).first(conn)?;
            let granted = Outcome::Granted {
                request,
                grant: grant.clone(),
            };
            return Ok((granted, Decided::Unknown));
        }
    }
    let filing = Filing {
        org_id: s.org_id,
        token: &token,
        status: RequestState::Pending,
        reason: s.reason,
        repository_selection: s.repository_selection,
        repository_ids: &asked_repos,
        permissions: s.permissions,
        beyond: grant.as_ref().map(|_| (&added, &upgraded)),
        at: s.at,
    };
    if let Some(pending) = pending_request(conn, s.org_id, token.id)? {
        return refile(conn, s, &token, pending, &filing, &stack);
    }
    let request = requests::file(conn, &filing)?;
    if decision == IntakeDecision::Pending {
        audit(
            conn,
            s.org_id,
            "request.created",
            request.id,
            s.actor,
            s.reason,
            s.at,
        )?;
        return by_rules(conn, s, &token, request, &stack, Decided::Known(None));
    }
    Ok((
        approve_by_policy(conn, s, request.id)?,
        Decided::Known(None),
    ))
}

/// A pending request after the organization's review rules ran over it (in enforce mode they
/// may have approved or denied it), with their decision; `without` when no rules ran.
fn by_rules(
    conn: &mut DbConnection,
    s: &Submission<'_>,
    token: &Token,
    request: PatRequest,
    stack: &PolicyStack,
    without: Decided,
) -> Result<(Outcome, Decided), IntakeError> {
    let known = review_rules::Known {
        owner: s.owner,
        token,
        repositories: s.repositories,
    };
    let Some(applied) = review_rules::decide_filed(conn, &request, known, stack, s.actor, s.at)?
    else {
        return Ok((Outcome::Pending(request), without));
    };
    let decided = Decided::Known(Some(applied.row));
    if !applied.acted {
        return Ok((Outcome::Pending(request), decided));
    }
    let request: PatRequest = pat_requests::table.find(request.id).first(conn)?;
    let grant: Option<PatGrant> = pat_grants::table
        .filter(pat_grants::request_id.eq(request.id))
        .first(conn)
        .optional()?;
    let outcome = match grant {
        Some(grant) => Outcome::Granted { request, grant },
        None => Outcome::Pending(request),
    };
    Ok((outcome, decided))
}

/// What the organization's policy makes of the token's filing, with the policy read; a
/// refusal is an error.
fn decide(
    conn: &mut DbConnection,
    org_id: i64,
    token: &Token,
) -> Result<(IntakeDecision, PolicyStack), IntakeError> {
    let stack = policy::stack(conn, org_id)?;
    let lifetime = lifetime_days(
        token.created_at.and_utc().timestamp(),
        token.expires_at.map(|t| t.and_utc().timestamp()),
    );
    // Only a policy that exempts administrators needs to know whether the owner is one.
    let by_owner =
        stack.effective().exempt_administrators && policy::is_owner(conn, org_id, token.owner_id)?;
    match stack.decide_intake(lifetime, by_owner) {
        IntakeDecision::Refused(violation) => Err(IntakeError::Policy(violation)),
        decision => Ok((decision, stack)),
    }
}

/// Whether the grant already reaches every repository asked for.
fn covers(
    conn: &mut DbConnection,
    grant: &PatGrant,
    asked: RepositorySelection,
    asked_repos: &[i64],
) -> Result<bool, StoreError> {
    let held_repos = repository_ids(conn, grant.request_id)?;
    let held_selection =
        RepositorySelection::parse(&grant.repository_selection).ok_or_else(|| {
            StoreError::Corrupt(format!("grant {} has an unknown selection", grant.id))
        })?;
    Ok(held_selection.covers(&held_repos, asked, asked_repos))
}

/// A resubmission while a request is pending: the same request unchanged, or replaced by
/// what is asked now.
fn refile(
    conn: &mut DbConnection,
    s: &Submission<'_>,
    token: &Token,
    pending: PatRequest,
    filing: &Filing<'_>,
    stack: &PolicyStack,
) -> Result<(Outcome, Decided), IntakeError> {
    let same = parse(&pending.permissions)? == *s.permissions
        && pending.repository_selection == s.repository_selection.as_str()
        && repository_ids(conn, pending.id)? == filing.repository_ids;
    if same {
        return Ok((Outcome::Unchanged(pending), Decided::Unknown));
    }
    let refiled = requests::refile(conn, &pending, filing)?;
    audit(
        conn,
        s.org_id,
        "request.updated",
        refiled.id,
        s.actor,
        s.reason,
        s.at,
    )?;
    // The request stays the same row: without rules now, an earlier decision stands.
    by_rules(conn, s, token, refiled, stack, Decided::Unknown)
}

/// No approval required: the request is approved at once by the policy, recorded as one
/// `request.auto_approved` event. As on GitHub, where a token that needs no approval makes no
/// request, no `personal_access_token_request` event and no owner's notice follow.
fn approve_by_policy(
    conn: &mut DbConnection,
    s: &Submission<'_>,
    request_id: i64,
) -> Result<Outcome, IntakeError> {
    let review = requests::Review {
        by_policy: true,
        org_id: s.org_id,
        request_ids: &[request_id],
        action: patgate_domain::ReviewAction::Approve,
        reason: Some("approval not required by policy"),
        app_id: s.actor.0,
        installation_id: s.actor.1,
        at: s.at,
    };
    requests::review(conn, &review).map_err(|e| match e {
        requests::ReviewError::Store(e) => IntakeError::Store(e),
        other => IntakeError::Store(StoreError::Conflict(other.to_string())),
    })?;
    let grant: PatGrant = pat_grants::table
        .filter(pat_grants::request_id.eq(request_id))
        .first(conn)?;
    let request = pat_requests::table.find(request_id).first(conn)?;
    Ok(Outcome::Granted { request, grant })
}

/// Why a withdrawal changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    NotPending(TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_from_diesel!(CancelError);

/// Withdraws a pending request (its token was deleted or regenerated): it becomes cancelled.
pub fn cancel(
    conn: &mut DbConnection,
    org_id: i64,
    request_id: i64,
    actor: (i64, i64),
    at: NaiveDateTime,
) -> Result<PatRequest, CancelError> {
    let request = requests::find(conn, org_id, request_id)?.ok_or(CancelError::NotFound)?;
    let state = RequestState::parse(&request.status).ok_or_else(|| {
        StoreError::Corrupt(format!("request {request_id} has an unknown status"))
    })?;
    let next = state
        .apply(RequestEvent::Cancel)
        .map_err(CancelError::NotPending)?;
    let updated: Option<PatRequest> = diesel::update(
        pat_requests::table
            .filter(pat_requests::id.eq(request_id))
            .filter(pat_requests::status.eq(literal::Pending)),
    )
    .set((
        pat_requests::status.eq(next.as_str()),
        pat_requests::reviewed_at.eq(at),
    ))
    .returning(pat_requests::all_columns)
    .get_result(conn)
    .optional()?;
    let Some(updated) = updated else {
        // Reviewed between our read and our write.
        let now = requests::find(conn, org_id, request_id)?.ok_or(CancelError::NotFound)?;
        let from = RequestState::parse(&now.status).unwrap_or(RequestState::Cancelled);
        return Err(CancelError::NotPending(TransitionError {
            from,
            event: RequestEvent::Cancel,
        }));
    };
    audit(
        conn,
        org_id,
        "request.cancelled",
        request_id,
        actor,
        None,
        at,
    )?;
    Ok(updated)
}

/// A request with its latest review, for the issuer to tell the token's owner.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub request: PatRequest,
    pub review: Option<PatRequestReview>,
    pub grant: Option<PatGrant>,
    /// The latest decision of the organization's review rules about it.
    pub rules: Option<review_rules::DecisionRow>,
}

pub fn verdict(
    conn: &mut DbConnection,
    org_id: i64,
    request_id: i64,
) -> Result<Option<Verdict>, StoreError> {
    match requests::find(conn, org_id, request_id)? {
        Some(request) => {
            let rules = review_rules::latest_decision(conn, request.id)?;
            Ok(Some(verdict_with(conn, request, rules)?))
        }
        None => Ok(None),
    }
}

/// The request with its latest review, its grant and the rules' latest decision (`rules`).
fn verdict_with(
    conn: &mut DbConnection,
    request: PatRequest,
    rules: Option<review_rules::DecisionRow>,
) -> Result<Verdict, StoreError> {
    let review = pat_request_reviews::table
        .filter(pat_request_reviews::request_id.eq(request.id))
        .order(pat_request_reviews::id.desc())
        .first(conn)
        .optional()?;
    let grant = pat_grants::table
        .filter(pat_grants::request_id.eq(request.id))
        .first(conn)
        .optional()?;
    Ok(Verdict {
        request,
        review,
        grant,
        rules,
    })
}

/// Records the token's last use, on the token and on the copies its requests and grants keep
/// for filtering. Returns false when the token has never asked this organization.
pub fn report_use(
    conn: &mut DbConnection,
    org_id: i64,
    token_id: i64,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
    let known: i64 = pat_requests::table
        .filter(pat_requests::org_id.eq(org_id))
        .filter(pat_requests::token_id.eq(token_id))
        .count()
        .get_result(conn)?;
    if known == 0 {
        return Ok(false);
    }
    // Never move last use backwards: reports may arrive out of order.
    diesel::update(
        tokens::table.filter(tokens::id.eq(token_id)).filter(
            tokens::last_used_at
                .is_null()
                .or(tokens::last_used_at.lt(at)),
        ),
    )
    .set(tokens::last_used_at.eq(at))
    .execute(conn)?;
    let last: Option<NaiveDateTime> = tokens::table
        .find(token_id)
        .select(tokens::last_used_at)
        .first(conn)?;
    diesel::update(pat_requests::table.filter(pat_requests::token_id.eq(token_id)))
        .set(pat_requests::token_last_used_at.eq(last))
        .execute(conn)?;
    diesel::update(pat_grants::table.filter(pat_grants::token_id.eq(token_id)))
        .set(pat_grants::token_last_used_at.eq(last))
        .execute(conn)?;
    Ok(true)
}
