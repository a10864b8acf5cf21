//! `/orgs/{org}/personal-access-tokens`: list grants, revoke one or many, and a grant's repositories.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use patgate_domain::{IdList, Operation, ReviewReason};
use patgate_persistence::grants::{self, Revocation, RevokeError};
use patgate_persistence::Touches;

use super::listing::{filtered_list, repositories_page, FilteredList};
use super::FindAccess;
use super::{blocking, caller_org, join_ids};
use crate::auth::InstallationCaller;
use crate::body;
use crate::dto::{
    Accepted, MinimalRepository, PatGrant, UpdatePatAccessBody, UpdatePatAccessesBody,
};
use crate::error::{ApiError, BasicError, FieldError, ValidationError as ValidationBody};
use crate::list_query::ListParams;
use crate::state::AppState;

const RESOURCE: &str = "PersonalAccessToken";

/// List fine-grained personal access tokens with access to organization resources
///
/// Lists the active grants: the organization members' fine-grained tokens whose requests were
/// approved. Only GitHub Apps (installation access tokens with
/// `organization_personal_access_tokens: read`) can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grants",
    tag = "orgs",
    params(("org" = String, Path, description = "The organization name (not case sensitive)"), ListParams),
    responses(
        (status = 200, description = "Response", body = Vec<PatGrant>,
            headers(("Link" = String, description = "Pagination links (first, prev, next, last)"))),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
        (status = 500, description = "Internal Error", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-tokens")]
pub async fn list_pat_grants(
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
            op: Operation::ListGrants,
            fetch: grants::list_active,
            count: grants::count_active,
            build: PatGrant::build,
        },
    )
    .await
}

/// List repositories a fine-grained personal access token has access to
///
/// The repositories of a `subset` grant; every repository of the organization for `all`; none
/// for `none`. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grant-repositories",
    tag = "orgs",
    params(
        ("org" = String, Path, description = "The organization name (not case sensitive)"),
        ("pat_id" = i64, Path, description = "Unique identifier of the fine-grained personal access token."),
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
#[get("/orgs/{org}/personal-access-tokens/{pat_id}/repositories")]
pub async fn list_pat_grant_repositories(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (org, grant_id) = path.into_inner();
    let find: FindAccess = |conn, org_id, id| {
        Ok(grants::find(conn, org_id, id)?.map(|g| (g.request_id, g.repository_selection)))
    };
    repositories_page(
        state,
        caller,
        org,
        grant_id,
        req,
        Operation::ListGrantRepositories,
        find,
    )
    .await
}

/// Update the access a fine-grained personal access token has to organization resources
///
/// Limited to revoking the token's existing access. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/update-pat-access",
    tag = "orgs",
    params(
        ("org" = String, Path, description = "The organization name (not case sensitive)"),
        ("pat_id" = i64, Path, description = "The unique identifier of the fine-grained personal access token."),
    ),
    request_body = UpdatePatAccessBody,
    responses(
        (status = 204, description = "A header with no content is returned."),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed, or the grant is no longer active", body = ValidationBody),
        (status = 500, description = "Internal Error", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-tokens/{pat_id}")]
pub async fn update_pat_access(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let (org, grant_id) = path.into_inner();
    let input = body::json_object(&payload.0, false)
        .and_then(|map| revoke_fields(&map))
        .map(|reason| (vec![grant_id], reason));
    revoke(&state, caller, org, input, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Update the access to organization resources via fine-grained personal access tokens
///
/// Revokes up to 100 grants at once, all or nothing: if any id is unknown or no longer active,
/// nothing changes and the 422 names them. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/update-pat-accesses",
    tag = "orgs",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    request_body = UpdatePatAccessesBody,
    responses(
        (status = 202, description = "Accepted", body = Accepted),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed, or a grant is unknown or no longer active", body = ValidationBody),
        (status = 500, description = "Internal Error", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-tokens")]
pub async fn update_pat_accesses(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input = body::json_object(&payload.0, false).and_then(|map| {
        let reason = revoke_fields(&map)?;
        let ids = body::required_ids(&map, RESOURCE, "pat_ids")?;
        let ids = IdList::parse(ids)
            .map(|ids| ids.as_slice().to_vec())
            .map_err(|e| ApiError::invalid(RESOURCE, "pat_ids", "invalid", e.to_string()))?;
        Ok((ids, reason))
    });
    revoke(&state, caller, org.into_inner(), input, true).await?;
    Ok(HttpResponse::Accepted().json(Accepted {}))
}

/// The revocation's `action` (`revoke`, GitHub's only one) and patgate's optional `reason`,
/// told to the token's owner (at most 1,024 characters, as a review's).
fn revoke_fields(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<ReviewReason>, ApiError> {
    let reason = body::optional_str(map, RESOURCE, "reason")?
        .map(ReviewReason::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(RESOURCE, "reason", "invalid", e.to_string()))?;
    match body::required_str(map, RESOURCE, "action")? {
        "revoke" => Ok(reason),
        other => Err(ApiError::invalid(
            RESOURCE,
            "action",
            "invalid",
            format!(
                "action must be revoke (got {:?})",
                other.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// Runs the revocation and maps its refusals: an unknown id is 404 for a single grant and 422
/// naming it in bulk; a grant that already ended is 422. The organization and the permission
/// are checked before the body.
async fn revoke(
    state: &web::Data<AppState>,
    caller: InstallationCaller,
    org: String,
    input: Result<(Vec<i64>, Option<ReviewReason>), ApiError>,
    bulk: bool,
) -> Result<(), ApiError> {
    let db = state.db.clone();
    let field = if bulk { "pat_ids" } else { "pat_id" };
    blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            caller_org(&mut conn, &caller, &org)?
        };
        caller.authorize(Operation::RevokeGrants)?;
        let (ids, reason) = input?;
        let revocation = Revocation {
            org_id: org.id,
            grant_ids: &ids,
            app_id: caller.app_id(),
            installation_id: caller.installation_id(),
            reason: reason.as_ref().map(ReviewReason::as_str),
            at: patgate_persistence::now(),
        };
        match db.write(Touches::Org(org.id), |conn| grants::revoke(conn, &revocation)) {
            Ok(()) => {
                tracing::info!(org_id = org.id, ids = ?ids, installation_id = caller.installation_id(), "grants revoked");
                Ok(())
            }
            Err(RevokeError::Unknown(_)) if !bulk => Err(ApiError::NotFound),
            Err(RevokeError::Unknown(unknown)) => Err(ApiError::Unprocessable {
                message: format!("Unknown personal access token ids: {}", join_ids(&unknown)),
                errors: unknown
                    .iter()
                    .map(|id| FieldError::new(RESOURCE, field, "missing", format!("grant {id} does not exist")))
                    .collect(),
            }),
            Err(RevokeError::NotActive(ended)) => {
                let ids: Vec<i64> = ended.iter().map(|(id, _)| *id).collect();
                let message = match (bulk, ended.first()) {
                    (false, Some((_, state))) => format!("This token's access is already {}", state.as_str()),
                    _ => format!("These tokens' access is no longer active: {}", join_ids(&ids)),
                };
                Err(ApiError::Unprocessable {
                    message,
                    errors: ended
                        .iter()
                        .map(|(id, state)| FieldError::new(RESOURCE, field, "unprocessable", format!("grant {id} is {}", state.as_str())))
                        .collect(),
                })
            }
            Err(RevokeError::Store(e)) => Err(e.into()),
        }
    })
    .await
}
