//! The token issuer's endpoints (file, refile and withdraw a token's request, read the verdict, report last use) and the access check for resource servers.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::DateTime;
use patgate_domain::policy::{lifetime_days, TokenKind};
use patgate_domain::{
    AccessLevel, Login, Operation, RepoName, RepositorySelection, RequestedPermissions,
    ReviewReason,
};
use patgate_persistence::access::{self, Answer, Question};
use patgate_persistence::intake::{self, CancelError, IntakeError, Outcome, Submission, Verdict};
use patgate_persistence::models::PatRequest;
use patgate_persistence::seed;
use patgate_persistence::Touches;

use super::listing::{answer_and_keep, kept_answer};
use super::{blocking, caller_org};
use crate::auth::InstallationCaller;
use crate::body;
use crate::dto::lifecycle::{
    requested_permissions, AccessCheckBody, AccessCheckResult, ReportUseBody, SubmitRequestBody,
    TokenRequestStatus,
};
use crate::dto::{timestamp, TokenPermissions};
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::state::AppState;

const RESOURCE: &str = "PersonalAccessTokenRequest";

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(RESOURCE, field, "invalid", message)
}

/// A plain e-mail address (`local@domain`): at most 254 characters, one `@`, a dotted domain,
/// no spaces, quotes, commas or angle brackets.
fn email_address(raw: &str) -> Result<&str, ApiError> {
    let bad = || {
        invalid(
            "owner_email",
            "owner_email must be a plain e-mail address (local@domain)",
        )
    };
    let (local, domain) = raw.split_once('@').ok_or_else(bad)?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| {
                c.is_ascii_graphic()
                    && !matches!(
                        c,
                        '"' | ',' | '<' | '>' | '@' | '(' | ')' | ';' | ':' | '[' | ']' | '\\'
                    )
            })
    };
    let dotted = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
    if raw.len() > 254 || !plain(local) || !plain(domain) || !dotted {
        return Err(bad());
    }
    Ok(raw)
}

fn parse_time(field: &str, raw: &str) -> Result<chrono::NaiveDateTime, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| patgate_persistence::truncate(t.naive_utc()))
        .map_err(|_| invalid(field, format!("{field} must be an ISO 8601 time")))
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
    operation_id = "patgate/submit-token-request",
    tag = "patgate",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    request_body = SubmitRequestBody,
    responses(
        (status = 201, description = "A pending request was filed or refiled", body = TokenRequestStatus),
        (status = 200, description = "Nothing new: the request stands, or the access is granted", body = TokenRequestStatus),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed, or refused by policy", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-intake/requests")]
pub async fn submit_token_request(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input = typed::<SubmitRequestBody>(&payload.0);
    let db = state.db.clone();
    let (created, request, verdict) = blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            caller_org(&mut conn, &caller, &org)?
        };
        caller.authorize(Operation::SubmitRequests)?;
        let input = input?;
        let owner =
            Login::parse(&input.owner).map_err(|e| invalid("owner", format!("owner {e}")))?;
        if input.token_id <= 0 {
            return Err(invalid("token_id", "token_id must be a positive integer"));
        }
        if input.token_name.is_empty() || input.token_name.chars().count() > 255 {
            return Err(invalid(
                "token_name",
                "token_name must be 1 to 255 characters",
            ));
        }
        let expires = input
            .token_expires_at
            .as_deref()
            .map(|t| parse_time("token_expires_at", t))
            .transpose()?;
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
        let owner_email = input
            .owner_email
            .as_deref()
            .map(email_address)
            .transpose()?;
        let at = patgate_persistence::now();
        db.write(Touches::Everything, |conn| {
            let mut repository_ids = Vec::new();
            for name in &input.repositories {
                let key = RepoName::parse(name)
                    .map_err(|e| invalid("repositories", format!("{name:?} {e}")))?;
                let repo = seed::find_repo(conn, org.id, key.as_str())?.ok_or_else(|| {
                    invalid(
                        "repositories",
                        format!("{name:?} is not a repository of the organization"),
                    )
                })?;
                repository_ids.push(repo.id);
            }
            let owner = seed::ensure_user(conn, owner.as_str(), None, owner_email, at)?;
            let submission = Submission {
                org_id: org.id,
                owner_id: owner.id,
                token_id: input.token_id,
                token_name: &input.token_name,
                token_expires_at: expires,
                reason: reason.as_ref().map(ReviewReason::as_str),
                repository_selection: selection,
                repository_ids: &repository_ids,
                permissions: &permissions,
                actor: (caller.app_id(), caller.installation_id()),
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
            let verdict = intake::verdict(conn, org.id, request.id)?;
            Ok((created, request, verdict))
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

/// Get a filed request's verdict
///
/// For the token issuer: where the request stands, and a reviewer's reason (a denial's is
/// meant for the token's owner). Needs `organization_personal_access_token_intake: read`.
#[utoipa::path(
    operation_id = "patgate/get-token-request",
    tag = "patgate",
    params(
        ("org" = String, Path, description = "The organization name (not case sensitive)"),
        ("pat_request_id" = i64, Path, description = "The request's id"),
    ),
    responses(
        (status = 200, description = "Response", body = TokenRequestStatus),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-intake/requests/{pat_request_id}")]
pub async fn get_token_request(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let db = state.db.clone();
    let verdict = blocking(move || {
        let mut conn = db.conn()?;
        let org = caller_org(&mut conn, &caller, &org)?;
        caller.authorize(Operation::ReadVerdicts)?;
        intake::verdict(&mut conn, org.id, id)?.ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(status(&verdict.request, Some(&verdict))))
}

/// Withdraw a pending request
///
/// For the token issuer, when the owner deleted or regenerated the token: the request becomes
/// `cancelled`. A request no longer pending → 422. Needs
/// `organization_personal_access_token_intake: write`.
#[utoipa::path(
    operation_id = "patgate/cancel-token-request",
    tag = "patgate",
    params(
        ("org" = String, Path, description = "The organization name (not case sensitive)"),
        ("pat_request_id" = i64, Path, description = "The request's id"),
    ),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "The request is no longer pending", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[delete("/orgs/{org}/personal-access-token-intake/requests/{pat_request_id}")]
pub async fn cancel_token_request(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let db = state.db.clone();
    blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            caller_org(&mut conn, &caller, &org)?
        };
        caller.authorize(Operation::SubmitRequests)?;
        let actor = (caller.app_id(), caller.installation_id());
        let at = patgate_persistence::now();
        db.write(Touches::Org(org.id), |conn| {
            match intake::cancel(conn, org.id, id, actor, at) {
                Ok(_) => Ok(()),
                Err(CancelError::NotFound) => Err(ApiError::NotFound),
                Err(CancelError::NotPending(e)) => Err(ApiError::Unprocessable {
                    message: format!("This request is {}", e.from),
                    errors: vec![crate::error::FieldError::new(
                        RESOURCE,
                        "pat_request_id",
                        "unprocessable",
                        e.to_string(),
                    )],
                }),
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
    operation_id = "patgate/report-token-use",
    tag = "patgate",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    request_body = ReportUseBody,
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-intake/usage")]
pub async fn report_token_use(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input = typed::<ReportUseBody>(&payload.0);
    let db = state.db.clone();
    blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            caller_org(&mut conn, &caller, &org)?
        };
        caller.authorize(Operation::SubmitRequests)?;
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
    operation_id = "patgate/check-token-access",
    tag = "patgate",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    request_body = AccessCheckBody,
    responses(
        (status = 200, description = "The answer", body = AccessCheckResult),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-access-checks")]
pub async fn check_token_access(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    payload: body::RawBody,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Resource servers ask the same questions over and over: an answer is kept while nothing
    // it was read from changes, and not past the expiry of the token it is about.
    let slot = match kept_answer(&state, &caller, &req, &payload.0) {
        Ok(kept) => {
            caller.authorize(Operation::CheckAccess)?;
            return Ok(kept.serve_kept());
        }
        Err(slot) => slot,
    };
    let input = typed::<AccessCheckBody>(&payload.0);
    let db = state.db.clone();
    let (answer, expires_at) = blocking(move || {
        let mut conn = db.conn()?;
        let org = caller_org(&mut conn, &caller, &org)?;
        caller.authorize(Operation::CheckAccess)?;
        let input = input?;
        let level = AccessLevel::parse(&input.level)
            .ok_or_else(|| invalid("level", "level must be read, write or admin"))?;
        if patgate_domain::PermissionFilter::parse(&format!("{}_read", input.permission)).is_none()
        {
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
            Some("classic") => {
                let created = input
                    .token_created_at
                    .as_deref()
                    .map(|t| parse_time("token_created_at", t))
                    .transpose()?
                    .ok_or_else(|| {
                        invalid(
                            "token_created_at",
                            "a classic token's creation time is required",
                        )
                    })?;
                let expires = input
                    .token_expires_at
                    .as_deref()
                    .map(|t| parse_time("token_expires_at", t))
                    .transpose()?;
                if expires.is_some_and(|t| t <= patgate_persistence::now()) {
                    return Ok((Answer::Expired, None));
                }
                let stack = patgate_persistence::policy::stack(&mut conn, org.id)?;
                let lifetime = lifetime_days(
                    created.and_utc().timestamp(),
                    expires.map(|t| t.and_utc().timestamp()),
                );
                // A classic token's check names no owner: no administrator exemption applies.
                let answer = match stack.admits(TokenKind::Classic, lifetime, false) {
                    Ok(()) => Answer::ClassicAllowed,
                    Err(v) => Answer::Policy(v),
                };
                return Ok((answer, expires));
            }
            Some(_) => {
                return Err(invalid(
                    "token_kind",
                    "token_kind must be fine_grained or classic",
                ))
            }
        }
        let question = Question {
            org_id: org.id,
            token_id: input.token_id,
            repository_key: repository.as_deref(),
            permission: &input.permission,
            level,
            now: patgate_persistence::now(),
        };
        Ok(access::check(&mut conn, &question)?)
    })
    .await?;
    let body = serde_json::to_vec(&describe(answer)).map_err(ApiError::internal)?;
    Ok(answer_and_keep(
        &state,
        slot,
        expires_at.into_iter(),
        body,
        None,
    ))
}

fn describe(answer: Answer) -> AccessCheckResult {
    let (allowed, reason, message, grant_id, request_id) = match answer {
        Answer::Allowed { grant_id } => (
            true,
            "granted",
            "The token's grant allows this.".to_owned(),
            Some(grant_id),
            None,
        ),
        Answer::NoGrant => (
            false,
            "no_grant",
            "The token has no access to this organization.".to_owned(),
            None,
            None,
        ),
        Answer::Pending { request_id } => (
            false,
            "pending",
            "The token's request is waiting for review.".to_owned(),
            None,
            Some(request_id),
        ),
        Answer::Denied { request_id } => (
            false,
            "denied",
            "The token's request was denied.".to_owned(),
            None,
            Some(request_id),
        ),
        Answer::Cancelled { request_id } => (
            false,
            "cancelled",
            "The token's request was withdrawn.".to_owned(),
            None,
            Some(request_id),
        ),
        Answer::Revoked { grant_id } => (
            false,
            "revoked",
            "The token's access was revoked.".to_owned(),
            Some(grant_id),
            None,
        ),
        Answer::Expired => (
            false,
            "expired",
            "The token, or its request, expired.".to_owned(),
            None,
            None,
        ),
        Answer::Policy(v) => (false, "policy", format!("Blocked: {v}."), None, None),
        Answer::Repository { grant_id } => (
            false,
            "repository_not_granted",
            "The token's grant does not include this repository.".to_owned(),
            Some(grant_id),
            None,
        ),
        Answer::ClassicAllowed => (
            true,
            "classic_allowed",
            "The policy lets classic tokens reach the organization.".to_owned(),
            None,
            None,
        ),
        Answer::Permission { grant_id } => (
            false,
            "permission_not_granted",
            "The token's grant does not hold this permission at this level.".to_owned(),
            Some(grant_id),
            None,
        ),
    };
    AccessCheckResult {
        allowed,
        reason: reason.to_owned(),
        message,
        grant_id,
        request_id,
    }
}
