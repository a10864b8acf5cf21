//! The token issuer's endpoints (file, refile and withdraw a token's request, read the verdict, report last use) and the access check for resource servers.

use actix_web::{delete, get, post, HttpRequest, HttpResponse};
use chrono::DateTime;
use patgate_domain::access::decide_classic;
use patgate_domain::policy::{lifetime_days, TokenKind};
use patgate_domain::{
    AccessLevel, EmailAddress, Login, Operation, RepoName, RepositorySelection,
    RequestedPermissions, ReviewReason, TokenName,
};
use patgate_persistence::access::{self, Answer, Question};
use patgate_persistence::intake::{self, CancelError, IntakeError, Outcome, Submission, Verdict};
use patgate_persistence::models::PatRequest;
use patgate_persistence::seed;
use patgate_persistence::{DbConnection, Touches};

use super::errors::{BodyErrors, MalformedJson, NotFoundErrors};
use super::listing::{answer_and_keep, kept_answer};
use super::params::{FiledRequestPath, OrgPath};
use super::{unprocessable, Call, Reply};
use crate::body::{self, RawBody};
use crate::dto::lifecycle::{
    requested_permissions, AccessCheckBody, AccessCheckResult, ReportUseBody, SubmitRequestBody,
    TokenRequestStatus,
};
use crate::dto::{timestamp, TokenPermissions};
use crate::error::{ApiError, ValidationError as ValidationBody};

const RESOURCE: &str = "PersonalAccessTokenRequest";

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(RESOURCE, field, "invalid", message)
}

fn parse_time(field: &str, raw: &str) -> Result<chrono::NaiveDateTime, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| patgate_persistence::truncate(t.naive_utc()))
        .map_err(|_| invalid(field, format!("{field} must be an ISO 8601 time")))
}

fn optional_time(
    field: &str,
    raw: Option<&str>,
) -> Result<Option<chrono::NaiveDateTime>, ApiError> {
    raw.map(|t| parse_time(field, t)).transpose()
}

fn typed<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, ApiError> {
    let map = body::json_object(payload, false)?;
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::invalid(RESOURCE, "body", "invalid", e.to_string()))
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
    let input = typed::<SubmitRequestBody>(&payload.0);
    let actor = call.caller.actor();
    let (created, request, verdict) = call
        .in_org(Operation::SubmitRequests)
        .write(move |db, org| {
            let filing = Filing::check(input?)?;
            let at = patgate_persistence::now();
            db.write(Touches::Everything, |conn| {
                filing.file(conn, org.id, actor, at)
            })
        })
        .await?;
    let body = status(&request, verdict.as_ref());
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// A filing whose fields are valid; that its repositories are the organization's is checked
/// when it is filed.
struct Filing {
    input: SubmitRequestBody,
    owner: Login,
    expires: Option<chrono::NaiveDateTime>,
    selection: RepositorySelection,
    permissions: RequestedPermissions,
    reason: Option<ReviewReason>,
}

impl Filing {
    /// Checks each field, in the order the 422s are reported.
    fn check(input: SubmitRequestBody) -> Result<Self, ApiError> {
        let owner =
            Login::parse(&input.owner).map_err(|e| invalid("owner", format!("owner {e}")))?;
        if input.token_id <= 0 {
            return Err(invalid("token_id", "token_id must be a positive integer"));
        }
        TokenName::parse(&input.token_name)
            .map_err(|_| invalid("token_name", "token_name must be 1 to 255 characters"))?;
        let expires = optional_time("token_expires_at", input.token_expires_at.as_deref())?;
        let selection =
            RepositorySelection::parse(&input.repository_selection).ok_or_else(|| {
                invalid(
                    "repository_selection",
                    "repository_selection must be none, all or subset",
                )
            })?;
        if selection.lists_repositories() == input.repositories.is_empty()
            || input.repositories.len() > 500
        {
            return Err(invalid(
                "repositories",
                "1 to 500 repositories are listed exactly when repository_selection is subset",
            ));
        }
        let permissions =
            requested_permissions(&input.permissions).map_err(|m| invalid("permissions", m))?;
        let reason = input
            .reason
            .as_deref()
            .map(ReviewReason::parse)
            .transpose()
            .map_err(|e| invalid("reason", e.to_string()))?;
        // A plain e-mail address (`local@domain`): at most 254 characters, one `@`, a dotted
        // domain, no spaces, quotes, commas or angle brackets.
        if let Some(email) = input.owner_email.as_deref() {
            EmailAddress::parse(email).ok_or_else(|| {
                invalid(
                    "owner_email",
                    "owner_email must be a plain e-mail address (local@domain)",
                )
            })?;
        }
        Ok(Self {
            input,
            owner,
            expires,
            selection,
            permissions,
            reason,
        })
    }

    /// Files the request in the organization's transaction: whether a pending request was
    /// filed, the request, and its verdict.
    fn file(
        &self,
        conn: &mut DbConnection,
        org_id: i64,
        actor: (i64, i64),
        at: chrono::NaiveDateTime,
    ) -> Result<(bool, PatRequest, Option<Verdict>), ApiError> {
        let input = &self.input;
        let repository_ids = self.repository_ids(conn, org_id)?;
        let email = input.owner_email.as_deref();
        let owner = seed::ensure_user(conn, self.owner.as_str(), None, email, at)?;
        let submission = Submission {
            org_id,
            owner_id: owner.id,
            token_id: input.token_id,
            token_name: &input.token_name,
            token_expires_at: self.expires,
            reason: self.reason.as_ref().map(ReviewReason::as_str),
            repository_selection: self.selection,
            repository_ids: &repository_ids,
            permissions: &self.permissions,
            actor,
            at,
        };
        let outcome = intake::submit(conn, &submission).map_err(|e| match e {
            IntakeError::Policy(v) => {
                ApiError::invalid(RESOURCE, "policy", "custom", v.to_string())
            }
            IntakeError::TokenOwner(id) => {
                invalid("token_id", format!("token {id} belongs to another user"))
            }
            IntakeError::Store(e) => e.into(),
        })?;
        let (created, request) = match outcome {
            Outcome::Pending(r) => (true, r),
            Outcome::Unchanged(r) => (false, r),
            Outcome::Granted { request, .. } => (false, request),
        };
        let verdict = intake::verdict(conn, org_id, request.id)?;
        Ok((created, request, verdict))
    }

    /// The ids of the repositories named, each the organization's.
    fn repository_ids(&self, conn: &mut DbConnection, org_id: i64) -> Result<Vec<i64>, ApiError> {
        let mut ids = Vec::new();
        for name in &self.input.repositories {
            let key = RepoName::parse(name)
                .map_err(|e| invalid("repositories", format!("{name:?} {e}")))?;
            let repo = seed::find_repo(conn, org_id, key.as_str())?.ok_or_else(|| {
                invalid(
                    "repositories",
                    format!("{name:?} is not a repository of the organization"),
                )
            })?;
            ids.push(repo.id);
        }
        Ok(ids)
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
    let input = typed::<ReportUseBody>(&payload.0);
    call.in_org(Operation::SubmitRequests)
        .write(move |db, org| {
            let input = input?;
            let at = match input.last_used_at.as_deref() {
                Some(t) => parse_time("last_used_at", t)?,
                None => patgate_persistence::now(),
            };
            match db.write(Touches::Everything, |conn| {
                intake::report_use(conn, org.id, input.token_id, at)
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
    let input = typed::<AccessCheckBody>(&payload.0);
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
type Checked = (Answer, Option<chrono::NaiveDateTime>);

/// Checks the question's fields, then answers it: a fine-grained token from its grant, a
/// classic one from the policy.
fn check(
    conn: &mut DbConnection,
    org_id: i64,
    input: AccessCheckBody,
) -> Result<Checked, ApiError> {
    let level = AccessLevel::parse(&input.level)
        .ok_or_else(|| invalid("level", "level must be read, write or admin"))?;
    if patgate_domain::PermissionFilter::parse(&format!("{}_read", input.permission)).is_none() {
        return Err(invalid(
            "permission",
            "permission must be a permission name, e.g. contents",
        ));
    }
    let repository = input
        .repository
        .as_deref()
        .map(|r| RepoName::parse(r).map(|n| n.key()))
        .transpose()
        .map_err(|e| invalid("repository", format!("repository {e}")))?;
    match input.token_kind.as_deref() {
        None | Some("fine_grained") => {}
        Some("classic") => return check_classic(conn, org_id, &input),
        Some(_) => {
            return Err(invalid(
                "token_kind",
                "token_kind must be fine_grained or classic",
            ))
        }
    }
    let question = Question {
        org_id,
        token_id: input.token_id,
        repository_key: repository.as_deref(),
        permission: &input.permission,
        level,
        now: patgate_persistence::now(),
    };
    Ok(access::check(conn, &question)?)
}

/// A classic token's check: its lifetime against the policy in force. It names no owner: no
/// administrator exemption applies.
fn check_classic(
    conn: &mut DbConnection,
    org_id: i64,
    input: &AccessCheckBody,
) -> Result<Checked, ApiError> {
    let created = optional_time("token_created_at", input.token_created_at.as_deref())?
        .ok_or_else(|| {
            invalid(
                "token_created_at",
                "a classic token's creation time is required",
            )
        })?;
    let expires = optional_time("token_expires_at", input.token_expires_at.as_deref())?;
    if expires.is_some_and(|t| t <= patgate_persistence::now()) {
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
