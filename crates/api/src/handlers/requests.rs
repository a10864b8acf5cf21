//! `/orgs/{org}/personal-access-token-requests`: list, review one, review in bulk, and a request's repositories.

use actix_web::{get, post, HttpRequest, HttpResponse};
use patgate_domain::{Bulk, Operation, ReviewReason, Ruling};
use patgate_persistence::requests::{self, Review, ReviewError};
use patgate_persistence::Touches;

use super::errors::{InternalError, Invalid, MalformedJson, NotFoundErrors, PageErrors};
use super::listing::{filtered_list, repositories_page, FilteredList, RepositoriesOf};
use super::params::{OrgPath, PageParams, PatRequestPath};
use super::{join_ids, unknown_ids, unprocessable, Call, InOrg, Reply};
use crate::body::{self, RawBody};
use crate::dto::{
    Accepted, MinimalRepository, PatGrantRequest, ReviewPatGrantRequestBody,
    ReviewPatGrantRequestsInBulkBody,
};
use crate::error::{ApiError, ValidationError as ValidationBody};
use crate::list_query::ListParams;

const RESOURCE: &str = "PersonalAccessTokenRequest";

/// List requests to access organization resources with fine-grained personal access tokens
///
/// Lists the pending requests of the organization's members' fine-grained tokens. Only
/// GitHub Apps (installation access tokens with `organization_personal_access_token_requests:
/// read`) can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grant-requests", tag = "orgs", params(OrgPath, ListParams),
    responses(
        (status = 200, description = "Response", body = Vec<PatGrantRequest>,
            headers(("Link" = String, description = "Pagination links (first, prev, next, last)"))),
        NotFoundErrors, Invalid, InternalError,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-requests")]
pub async fn list_pat_grant_requests(call: Call<OrgPath>, req: HttpRequest) -> Reply {
    let list = FilteredList {
        op: Operation::ListRequests,
        fetch: requests::list_pending,
        count: requests::count_pending,
        build: PatGrantRequest::build,
    };
    filtered_list(call, req, list).await
}

/// List repositories requested to be accessed by a fine-grained personal access token
///
/// The repositories of a `subset` request; every repository of the organization for an `all`
/// request; none for `none`. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grant-request-repositories", tag = "orgs",
    params(PatRequestPath, PageParams),
    responses(
        (status = 200, description = "Response", body = Vec<MinimalRepository>,
            headers(("Link" = String, description = "Pagination links"))),
        PageErrors, InternalError,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-requests/{pat_request_id}/repositories")]
pub async fn list_pat_grant_request_repositories(
    call: Call<PatRequestPath>,
    req: HttpRequest,
) -> Reply {
    let of = RepositoriesOf {
        op: Operation::ListRequestRepositories,
        find: |conn, org_id, id| {
            Ok(requests::find(conn, org_id, id)?.map(|r| (r.id, r.repository_selection)))
        },
    };
    let id = call.path.pat_request_id;
    repositories_page(call, id, req, of).await
}

/// Review a request to access organization resources with a fine-grained personal access token
///
/// Approves or denies one pending request. Approval grants the token access; a denial's
/// reason is kept for the token's owner. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/review-pat-grant-request", tag = "orgs", params(PatRequestPath),
    request_body = ReviewPatGrantRequestBody,
    responses(
        (status = 204, description = "A header with no content is returned."),
        NotFoundErrors, MalformedJson, InternalError,
        (status = 422, description = "Validation failed, or the request is no longer pending", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-requests/{pat_request_id}")]
pub async fn review_pat_grant_request(call: Call<PatRequestPath>, payload: RawBody) -> Reply {
    let input = body::read::<ReviewPatGrantRequestBody, Ruling>(&payload, RESOURCE)
        .map(|ruling| (vec![call.path.pat_request_id], ruling));
    review(&call, input, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Review requests to access organization resources with fine-grained personal access tokens
///
/// Approves or denies up to 100 pending requests at once, all or nothing: if any id is
/// unknown or no longer pending, nothing changes and the 422 names them. Only GitHub Apps can
/// use this endpoint.
#[utoipa::path(
    operation_id = "orgs/review-pat-grant-requests-in-bulk", tag = "orgs", params(OrgPath),
    request_body = ReviewPatGrantRequestsInBulkBody,
    responses(
        (status = 202, description = "Accepted", body = Accepted),
        NotFoundErrors, MalformedJson, InternalError,
        (status = 422, description = "Validation failed, or a request is unknown or no longer pending", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-requests")]
pub async fn review_pat_grant_requests_in_bulk(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let input = body::read::<ReviewPatGrantRequestsInBulkBody, Bulk<Ruling>>(&payload, RESOURCE)
        .map(|bulk| (bulk.ids.as_slice().to_vec(), bulk.each));
    review(&call, input, true).await?;
    Ok(HttpResponse::Accepted().json(Accepted {}))
}

/// The parsed review: request ids and the ruling, or why the body was refused.
type ReviewInput = Result<(Vec<i64>, Ruling), ApiError>;

/// Runs the review transaction and maps its refusals: an unknown id is 404 for a single
/// review and 422 naming it in bulk; a request that is not pending is 422.
///
/// The organization and the permission are checked before the body, so that a caller who may
/// not review learns nothing from validation errors.
async fn review<P: InOrg>(call: &Call<P>, input: ReviewInput, bulk: bool) -> Result<(), ApiError> {
    let (app_id, installation_id) = call.caller.actor();
    call.in_org(Operation::ReviewRequests).write(move |db, org| {
        let (ids, Ruling { action, reason }) = input?;
        let review = Review {
            by_policy: false,
            org_id: org.id,
            request_ids: &ids,
            action,
            reason: reason.as_ref().map(ReviewReason::as_str),
            app_id,
            installation_id,
            at: patgate_persistence::now(),
        };
        db.write(Touches::Org(org.id), |conn| requests::review(conn, &review))
            .map_err(|e| refused(e, bulk))?;
        tracing::info!(org_id = org.id, ids = ?ids, action = action.as_str(), installation_id, "requests reviewed");
        Ok(())
    })
    .await
}

/// A refused review as GitHub answers it.
fn refused(e: ReviewError, bulk: bool) -> ApiError {
    let field = if bulk {
        "pat_request_ids"
    } else {
        "pat_request_id"
    };
    match e {
        ReviewError::Unknown(_) if !bulk => ApiError::NotFound,
        ReviewError::Unknown(unknown) => unknown_ids(
            RESOURCE,
            field,
            "personal access token request",
            "request",
            &unknown,
        ),
        ReviewError::NotPending(refused) => {
            let ids: Vec<i64> = refused.iter().map(|(id, _)| *id).collect();
            let message = if bulk {
                format!("These requests are no longer pending: {}", join_ids(&ids))
            } else {
                let state = refused.first().map(|(_, e)| e.from.to_string());
                format!("This request is {}", state.unwrap_or_default())
            };
            let why = refused.iter().map(|(id, e)| format!("request {id}: {e}"));
            unprocessable(RESOURCE, field, message, why)
        }
        ReviewError::Store(e) => e.into(),
    }
}
