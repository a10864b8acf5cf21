//! `/orgs/{org}/personal-access-token-requests`: list, review one, review in bulk, and a request's repositories.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use patgate_domain::{IdList, Operation, ReviewAction, ReviewReason, ValidationError};
use patgate_persistence::requests::{self, Review, ReviewError};
use patgate_persistence::Touches;

use super::listing::{filtered_list, repositories_page, FilteredList};
use super::FindAccess;
use super::{blocking, caller_org, join_ids};
use crate::auth::InstallationCaller;
use crate::body;
use crate::dto::{
    Accepted, MinimalRepository, PatGrantRequest, ReviewPatGrantRequestBody,
    ReviewPatGrantRequestsInBulkBody,
};
use crate::error::{ApiError, BasicError, FieldError, ValidationError as ValidationBody};
use crate::list_query::ListParams;
use crate::state::AppState;

const RESOURCE: &str = "PersonalAccessTokenRequest";

/// List requests to access organization resources with fine-grained personal access tokens
///
/// Lists the pending requests of the organization's members' fine-grained tokens. Only
/// GitHub Apps (installation access tokens with `organization_personal_access_token_requests:
/// read`) can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grant-requests",
    tag = "orgs",
    params(("org" = String, Path, description = "The organization name (not case sensitive)"), ListParams),
    responses(
        (status = 200, description = "Response", body = Vec<PatGrantRequest>,
            headers(("Link" = String, description = "Pagination links (first, prev, next, last)"))),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
        (status = 500, description = "Internal Error", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-requests")]
pub async fn list_pat_grant_requests(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    filtered_list(
        state,
        caller,
        org.into_inner(),
        req,
        FilteredList {
            op: Operation::ListRequests,
            fetch: requests::list_pending,
            count: requests::count_pending,
            build: PatGrantRequest::build,
        },
    )
    .await
}

/// List repositories requested to be accessed by a fine-grained personal access token
///
/// The repositories of a `subset` request; every repository of the organization for an `all`
/// request; none for `none`. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grant-request-repositories",
    tag = "orgs",
    params(
        ("org" = String, Path, description = "The organization name (not case sensitive)"),
        ("pat_request_id" = i64, Path, description = "Unique identifier of the request"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Results per page (max 100)"),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number"),
    ),
    responses(
        (status = 200, description = "Response", body = Vec<MinimalRepository>,
            headers(("Link" = String, description = "Pagination links"))),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Invalid pagination parameters", body = ValidationBody),
        (status = 500, description = "Internal Error", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-requests/{pat_request_id}/repositories")]
pub async fn list_pat_grant_request_repositories(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (org, request_id) = path.into_inner();
    let find: FindAccess = |conn, org_id, id| {
        Ok(requests::find(conn, org_id, id)?.map(|r| (r.id, r.repository_selection)))
    };
    repositories_page(
        state,
        caller,
        org,
        request_id,
        req,
        Operation::ListRequestRepositories,
        find,
    )
    .await
}

/// Review a request to access organization resources with a fine-grained personal access token
///
/// Approves or denies one pending request. Approval grants the token access; a denial's
/// reason is kept for the token's owner. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/review-pat-grant-request",
    tag = "orgs",
    params(
        ("org" = String, Path, description = "The organization name (not case sensitive)"),
        ("pat_request_id" = i64, Path, description = "Unique identifier of the request"),
    ),
    request_body = ReviewPatGrantRequestBody,
    responses(
        (status = 204, description = "A header with no content is returned."),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed, or the request is no longer pending", body = ValidationBody),
        (status = 500, description = "Internal Error", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-requests/{pat_request_id}")]
pub async fn review_pat_grant_request(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let (org, request_id) = path.into_inner();
    let input = body::json_object(&payload.0, false)
        .and_then(|map| review_fields(&map))
        .map(|(action, reason)| (vec![request_id], action, reason));
    review(&state, caller, org, input, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Review requests to access organization resources with fine-grained personal access tokens
///
/// Approves or denies up to 100 pending requests at once, all or nothing: if any id is
/// unknown or no longer pending, nothing changes and the 422 names them. Only GitHub Apps can
/// use this endpoint.
#[utoipa::path(
    operation_id = "orgs/review-pat-grant-requests-in-bulk",
    tag = "orgs",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    request_body = ReviewPatGrantRequestsInBulkBody,
    responses(
        (status = 202, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed, or a request is unknown or no longer pending", body = ValidationBody),
        (status = 500, description = "Internal Error", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-requests")]
pub async fn review_pat_grant_requests_in_bulk(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input = body::json_object(&payload.0, false).and_then(|map| {
        let ids = body::required_ids(&map, RESOURCE, "pat_request_ids")?;
        let ids = IdList::parse(ids).map_err(|e| validation(&e, "pat_request_ids"))?;
        let (action, reason) = review_fields(&map)?;
        Ok((ids.as_slice().to_vec(), action, reason))
    });
    review(&state, caller, org.into_inner(), input, true).await?;
    Ok(HttpResponse::Accepted().json(Accepted {}))
}

fn validation(e: &ValidationError, field: &str) -> ApiError {
    ApiError::invalid(RESOURCE, field, "invalid", e.to_string())
}

/// The parsed review: request ids, action and reason, or why the body was refused.
type ReviewInput = Result<(Vec<i64>, ReviewAction, Option<ReviewReason>), ApiError>;

fn review_fields(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<(ReviewAction, Option<ReviewReason>), ApiError> {
    let action = body::required_str(map, RESOURCE, "action")?;
    let action = ReviewAction::parse(action).map_err(|e| validation(&e, "action"))?;
    let reason = body::optional_str(map, RESOURCE, "reason")?
        .map(ReviewReason::parse)
        .transpose()
        .map_err(|e| validation(&e, "reason"))?;
    Ok((action, reason))
}

/// Runs the review transaction and maps its refusals: an unknown id is 404 for a single
/// review and 422 naming it in bulk; a request that is not pending is 422.
///
/// The organization and the permission are checked before the body, so that a caller who may
/// not review learns nothing from validation errors.
async fn review(
    state: &web::Data<AppState>,
    caller: InstallationCaller,
    org: String,
    input: ReviewInput,
    bulk: bool,
) -> Result<(), ApiError> {
    let db = state.db.clone();
    let ids_field = if bulk {
        "pat_request_ids"
    } else {
        "pat_request_id"
    };
    blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            caller_org(&mut conn, &caller, &org)?
        };
        caller.authorize(Operation::ReviewRequests)?;
        let (ids, action, reason) = input?;
        let review = Review {
            by_policy: false,
            org_id: org.id,
            request_ids: &ids,
            action,
            reason: reason.as_ref().map(ReviewReason::as_str),
            app_id: caller.app_id(),
            installation_id: caller.installation_id(),
            at: patgate_persistence::now(),
        };
        let outcome = db.write(Touches::Org(review.org_id), |conn| requests::review(conn, &review));
        match outcome {
            Ok(()) => {
                tracing::info!(org_id = org.id, ids = ?ids, action = action.as_str(), installation_id = caller.installation_id(), "requests reviewed");
                Ok(())
            }
            Err(ReviewError::Unknown(_)) if !bulk => Err(ApiError::NotFound),
            Err(ReviewError::Unknown(unknown)) => Err(ApiError::Unprocessable {
                message: format!("Unknown personal access token request ids: {}", join_ids(&unknown)),
                errors: unknown
                    .iter()
                    .map(|id| FieldError::new(RESOURCE, "pat_request_ids", "missing", format!("request {id} does not exist")))
                    .collect(),
            }),
            Err(ReviewError::NotPending(refused)) => {
                let ids: Vec<i64> = refused.iter().map(|(id, _)| *id).collect();
                let message = if bulk {
                    format!("These requests are no longer pending: {}", join_ids(&ids))
                } else {
                    let state = refused.first().map(|(_, e)| e.from.to_string()).unwrap_or_default();
                    format!("This request is {state}")
                };
                Err(ApiError::Unprocessable {
                    message,
                    errors: refused
                        .iter()
                        .map(|(id, e)| FieldError::new(RESOURCE, ids_field, "unprocessable", format!("request {id}: {e}")))
                        .collect(),
                })
            }
            Err(ReviewError::Store(e)) => Err(e.into()),
        }
    })
    .await
}
