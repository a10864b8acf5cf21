//! The token issuer's endpoints (file, refile and withdraw a token's request, read the verdict, report last use) and the access check for resource servers.

use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use patgate_domain::access::decide_classic;
use patgate_domain::intake::{AccessQuery, QueriedToken, TokenFiling, UseReport};
use patgate_domain::policy::{lifetime_days, TokenKind};
use patgate_domain::{Operation, RepoName, RequestedPermissions};
use patgate_persistence::access::{self, Answer, Question};
use patgate_persistence::intake::{self, CancelError, IntakeError, Verdict};
use patgate_persistence::models::PatRequest;
use patgate_persistence::{DbConnection, Touches};

use super::errors::{BodyErrors, MalformedJson, NotFoundErrors};
use super::listing::{answer_and_keep, kept_answer};
use super::params::{FiledRequestPath, OrgPath};
use super::{unprocessable, Call, Reply};
use crate::body::{self, RawBody};
use crate::dto::lifecycle::{
    AccessCheckBody, AccessCheckResult, ReportUseBody, SubmitRequestBody, TokenRequestStatus,
};
use crate::dto::{timestamp, TokenPermissions};
use crate::error::{ApiError, ValidationError as ValidationBody};

const RESOURCE: &str = "PersonalAccessTokenRequest";

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(RESOURCE, field, "invalid", message)
}

fn permissions_of(raw: Option<&str>) -> Option<TokenPermissions> {
    let parsed: RequestedPermissions = serde_json::from_str(raw?).ok()?;
    Some(TokenPermissions::from(&parsed))
}

fn status(request: &PatRequest, verdict: Option<&Verdict>) -> TokenRequestStatus {
    let asked: RequestedPermissions =
        serde_json::from_str(&request.permissions).unwrap_or_default();
    TokenRequestStatus {
        id: request.id,
        status: request.status.clone(),
        token_id: request.token_id,
        grant_id: verdict.and_then(|v| v.grant.as_ref()).map(|g| g.id),
        review_reason: verdict
            .and_then(|v| v.review.as_ref())
            .and_then(|r| r.reason.clone()),
        reviewed_at: request.reviewed_at.map(timestamp),
        created_at: timestamp(request.created_at),
        permissions_added: permissions_of(request.permissions_added.as_deref()),
        permissions_upgraded: permissions_of(request.permissions_upgraded.as_deref()),
        permissions_result: TokenPermissions::from(&asked),
        automatic_review: verdict
            .and_then(|v| v.rules.as_ref())
            .and_then(crate::dto::rules::AutomaticReviewDto::of),
    }
}

/// File a fine-grained token's request for access to an organization
///
/// For the token issuer. The organization's policy decides: refused (422 naming the policy),
/// granted at once when approval is not required (200, `status: approved`), or pending (201).
/// A resubmission for the same token that asks for more replaces the pending request and
/// records what it adds and upgrades; one that asks for nothing new changes nothing (200).
/// Needs `organization_personal_access_token_intake: write`.
#[utoipa::path(
    operation_id = "patgate/submit-token-request", tag = "patgate", params(OrgPath),
    request_body = SubmitRequestBody,
    responses(
        (status = 201, description = "A pending request was filed or refiled", body = TokenRequestStatus),
        (status = 200, description = "Nothing new: the request stands, or the access is granted", body = TokenRequestStatus),
        NotFoundErrors, MalformedJson,
        (status = 422, description = "Validation failed, or refused by policy", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-intake/requests")]
pub async fn submit_token_request(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let input = body::read::<SubmitRequestBody, TokenFiling>(&payload, RESOURCE);
    let actor = call.caller.actor();
    let filed = call
        .in_org(Operation::SubmitRequests)
        .write(move |db, org| {
            let filing = input?;
            let at = patgate_persistence::now();
            db.write(Touches::Everything, |conn| {
                intake::file(conn, org.id, &filing, actor, at).map_err(refused)
            })
        })
        .await?;
    let body = status(&filed.verdict.request, Some(&filed.verdict));
    Ok(if filed.created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// A refused filing as the issuer is told it.
fn refused(e: IntakeError) -> ApiError {
    match e {
        IntakeError::Policy(v) => ApiError::invalid(RESOURCE, "policy", "custom", v.to_string()),
        IntakeError::TokenOwner(_) => invalid("token_id", e.to_string()),
        IntakeError::UnknownRepository(_) => invalid("repositories", e.to_string()),
        IntakeError::Store(e) => e.into(),
    }
}

/// Get a filed request's verdict
///
/// For the token issuer: where the request stands, and a reviewer's reason (a denial's is
/// meant for the token's owner). Needs `organization_personal_access_token_intake: read`.
#[utoipa::path(
    operation_id = "patgate/get-token-request", tag = "patgate", params(FiledRequestPath),
    responses((status = 200, description = "Response", body = TokenRequestStatus), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-intake/requests/{pat_request_id}")]
pub async fn get_token_request(call: Call<FiledRequestPath>) -> Reply {
    let id = call.path.pat_request_id;
    let verdict = call
        .in_org(Operation::ReadVerdicts)
        .read(move |conn, org| intake::verdict(conn, org.id, id)?.ok_or(ApiError::NotFound))
        .await?;
    Ok(HttpResponse::Ok().json(status(&verdict.request, Some(&verdict))))
}

/// Withdraw a pending request
///
/// For the token issuer, when the owner deleted or regenerated the token: the request becomes
/// `cancelled`. A request no longer pending → 422. Needs
/// `organization_personal_access_token_intake: write`.
#[utoipa::path(
    operation_id = "patgate/cancel-token-request", tag = "patgate", params(FiledRequestPath),
    responses(
        (status = 204, description = "Cancelled"),
        NotFoundErrors,
        (status = 422, description = "The request is no longer pending", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[delete("/orgs/{org}/personal-access-token-intake/requests/{pat_request_id}")]
pub async fn cancel_token_request(call: Call<FiledRequestPath>) -> Reply {
    let (id, actor) = (call.path.pat_request_id, call.caller.actor());
    call.in_org(Operation::SubmitRequests)
        .write(move |db, org| {
            let at = patgate_persistence::now();
            db.write(Touches::Org(org.id), |conn| {
                match intake::cancel(conn, org.id, id, actor, at) {
                    Ok(_) => Ok(()),
                    Err(CancelError::NotFound) => Err(ApiError::NotFound),
                    Err(CancelError::NotPending(e)) => {
                        let message = format!("This request is {}", e.from);
                        let field = "pat_request_id";
                        Err(unprocessable(
                            RESOURCE,
                            field,
                            message,
                            [e.to_string()].into_iter(),
                        ))
                    }
                    Err(CancelError::Store(e)) => Err(e.into()),
                }
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Report a token's last use
///
/// For the token issuer. Last use never moves backwards. A token that never asked this
/// organization → 404. Needs `organization_personal_access_token_intake: write`.
#[utoipa::path(
    operation_id = "patgate/report-token-use", tag = "patgate", params(OrgPath),
    request_body = ReportUseBody,
    responses((status = 204, description = "Recorded"), BodyErrors),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-intake/usage")]
pub async fn report_token_use(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let input = body::read::<ReportUseBody, UseReport>(&payload, RESOURCE);
    call.in_org(Operation::SubmitRequests)
        .write(move |db, org| {
            let report = input?;
            let at = report.last_used_at.unwrap_or_else(patgate_persistence::now);
            match db.write(Touches::Everything, |conn| {
                intake::report_use(conn, org.id, report.token_id, at)
            })? {
                true => Ok(()),
                false => Err(ApiError::NotFound),
            }
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Check whether a token may act now
///
/// For resource servers: may the token act on the organization (and the repository, if
/// given) with this permission at this level now? Answers `allowed`, or the reason it may
/// not: `no_grant`, `pending`, `denied`, `cancelled`, `revoked`, `expired`, `policy` (with the
/// rule and its level), `repository_not_granted`, `permission_not_granted`. Needs
/// `organization_personal_access_tokens: read`.
#[utoipa::path(
    operation_id = "patgate/check-token-access", tag = "patgate", params(OrgPath),
    request_body = AccessCheckBody,
    responses((status = 200, description = "The answer", body = AccessCheckResult), BodyErrors),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-access-checks")]
pub async fn check_token_access(call: Call<OrgPath>, payload: RawBody, req: HttpRequest) -> Reply {
    // Resource servers ask the same questions over and over: an answer is kept while nothing
    // it was read from changes, and not past the expiry of the token it is about.
    let op = Operation::CheckAccess;
    let slot = match kept_answer(&call, &req, &payload.0, op) {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let input = body::read::<AccessCheckBody, AccessQuery>(&payload, RESOURCE);
    let (answer, expires_at) = call
        .in_org(op)
        .read(move |conn, org| check(conn, org.id, input?))
        .await?;
    let body = serde_json::to_vec(&describe(answer)).map_err(ApiError::internal)?;
    Ok(answer_and_keep(
        &call.state,
        slot,
        expires_at.into_iter(),
        body,
        None,
    ))
}

/// The answer to an access check, and the expiry of the token it is about, when known.
type Checked = (Answer, Option<NaiveDateTime>);

/// Answers the question: a fine-grained token from its grant, a classic one from the policy.
fn check(conn: &mut DbConnection, org_id: i64, query: AccessQuery) -> Result<Checked, ApiError> {
    let now = patgate_persistence::now();
    let token_id = match query.token {
        QueriedToken::FineGrained { token_id } => token_id,
        QueriedToken::Classic {
            created_at,
            expires_at,
        } => return check_classic(conn, org_id, created_at, expires_at, now),
    };
    let repository = query.repository.as_ref().map(RepoName::key);
    let question = Question {
        org_id,
        token_id,
        repository_key: repository.as_deref(),
        permission: &query.permission,
        level: query.level,
        now,
    };
    Ok(access::check(conn, &question)?)
}

/// A classic token's check: its lifetime against the policy in force. It names no owner: no
/// administrator exemption applies.
fn check_classic(
    conn: &mut DbConnection,
    org_id: i64,
    created: NaiveDateTime,
    expires: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<Checked, ApiError> {
    if expires.is_some_and(|t| t <= now) {
        return Ok((Answer::Expired, None));
    }
    let stack = patgate_persistence::policy::stack(conn, org_id)?;
    let lifetime = lifetime_days(
        created.and_utc().timestamp(),
        expires.map(|t| t.and_utc().timestamp()),
    );
    let answer = decide_classic(stack.admits(TokenKind::Classic, lifetime, false));
    Ok((answer, expires))
}

fn describe(answer: Answer) -> AccessCheckResult {
    let (allowed, reason, message) = verdict(&answer);
    let message = match &answer {
        Answer::Policy(v) => format!("Blocked: {v}."),
        _ => message.to_owned(),
    };
    let (grant_id, request_id) = match answer {
        Answer::Allowed { grant_id }
        | Answer::Revoked { grant_id }
        | Answer::Repository { grant_id }
        | Answer::Permission { grant_id } => (Some(grant_id), None),
        Answer::Pending { request_id }
        | Answer::Denied { request_id }
        | Answer::Cancelled { request_id } => (None, Some(request_id)),
        Answer::NoGrant | Answer::Expired | Answer::Policy(_) | Answer::ClassicAllowed => {
            (None, None)
        }
    };
    AccessCheckResult {
        allowed,
        reason: reason.to_owned(),
        message,
        grant_id,
        request_id,
    }
}

/// Whether an answer allows, its `reason` and its `message` (a policy's names the violation,
/// in `describe`).
fn verdict(answer: &Answer) -> (bool, &'static str, &'static str) {
    match answer {
        Answer::Allowed { .. } => (true, "granted", "The token's grant allows this."),
        Answer::NoGrant => (
            false,
            "no_grant",
            "The token has no access to this organization.",
        ),
        Answer::Pending { .. } => (
            false,
            "pending",
            "The token's request is waiting for review.",
        ),
        Answer::Denied { .. } => (false, "denied", "The token's request was denied."),
        Answer::Cancelled { .. } => (false, "cancelled", "The token's request was withdrawn."),
        Answer::Revoked { .. } => (false, "revoked", "The token's access was revoked."),
        Answer::Expired => (false, "expired", "The token, or its request, expired."),
        Answer::Policy(_) => (false, "policy", ""),
        Answer::Repository { .. } => (
            false,
            "repository_not_granted",
            "The token's grant does not include this repository.",
        ),
        Answer::ClassicAllowed => (
            true,
            "classic_allowed",
            "The policy lets classic tokens reach the organization.",
        ),
        Answer::Permission { .. } => (
            false,
            "permission_not_granted",
            "The token's grant does not hold this permission at this level.",
        ),
    }
}
