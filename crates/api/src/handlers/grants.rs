//! `/orgs/{org}/personal-access-tokens`: list grants, revoke one or many, and a grant's repositories.

use actix_web::{get, post, HttpRequest, HttpResponse};
use patgate_domain::{Bulk, Operation, ReviewReason, Revoking};
use patgate_persistence::grants::{self, Revocation, RevokeError};
use patgate_persistence::Touches;

use super::errors::{InternalError, Invalid, MalformedJson, NotFoundErrors, PageErrors};
use super::listing::{filtered_list, repositories_page, FilteredList, RepositoriesOf};
use super::params::{OrgPath, PageParams, PatAccessPath, PatGrantPath};
use super::{join_ids, unknown_ids, unprocessable, Call, InOrg, Reply};
use crate::body::{self, RawBody};
use crate::dto::{
    Accepted, MinimalRepository, PatGrant, UpdatePatAccessBody, UpdatePatAccessesBody,
};
use crate::error::{ApiError, ValidationError as ValidationBody};
use crate::list_query::ListParams;

const RESOURCE: &str = "PersonalAccessToken";

/// List fine-grained personal access tokens with access to organization resources
///
/// Lists the active grants: the organization members' fine-grained tokens whose requests were
/// approved. Only GitHub Apps (installation access tokens with
/// `organization_personal_access_tokens: read`) can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grants", tag = "orgs", params(OrgPath, ListParams),
    responses(
        (status = 200, description = "Response", body = Vec<PatGrant>,
            headers(("Link" = String, description = "Pagination links (first, prev, next, last)"))),
        NotFoundErrors, Invalid, InternalError,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-tokens")]
pub async fn list_pat_grants(call: Call<OrgPath>, req: HttpRequest) -> Reply {
    let list = FilteredList {
        op: Operation::ListGrants,
        fetch: grants::list_active,
        count: grants::count_active,
        build: PatGrant::build,
    };
    filtered_list(call, req, list).await
}

/// List repositories a fine-grained personal access token has access to
///
/// The repositories of a `subset` grant; every repository of the organization for `all`; none
/// for `none`. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/list-pat-grant-repositories", tag = "orgs",
    params(PatGrantPath, PageParams),
    responses(
        (status = 200, description = "Response", body = Vec<MinimalRepository>,
            headers(("Link" = String, description = "Pagination links"))),
        PageErrors, InternalError,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-tokens/{pat_id}/repositories")]
pub async fn list_pat_grant_repositories(call: Call<PatGrantPath>, req: HttpRequest) -> Reply {
    let of = RepositoriesOf {
        op: Operation::ListGrantRepositories,
        find: |conn, org_id, id| {
            Ok(grants::find(conn, org_id, id)?.map(|g| (g.request_id, g.repository_selection)))
        },
    };
    let id = call.path.pat_id;
    repositories_page(call, id, req, of).await
}

/// Update the access a fine-grained personal access token has to organization resources
///
/// Limited to revoking the token's existing access. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/update-pat-access", tag = "orgs", params(PatAccessPath),
    request_body = UpdatePatAccessBody,
    responses(
        (status = 204, description = "A header with no content is returned."),
        NotFoundErrors, MalformedJson, InternalError,
        (status = 422, description = "Validation failed, or the grant is no longer active", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-tokens/{pat_id}")]
pub async fn update_pat_access(call: Call<PatAccessPath>, payload: RawBody) -> Reply {
    let input = body::read::<UpdatePatAccessBody, Revoking>(&payload, RESOURCE)
        .map(|revoking| (vec![call.path.pat_id], revoking));
    revoke(&call, input, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Update the access to organization resources via fine-grained personal access tokens
///
/// Revokes up to 100 grants at once, all or nothing: if any id is unknown or no longer active,
/// nothing changes and the 422 names them. Only GitHub Apps can use this endpoint.
#[utoipa::path(
    operation_id = "orgs/update-pat-accesses", tag = "orgs", params(OrgPath),
    request_body = UpdatePatAccessesBody,
    responses(
        (status = 202, description = "Accepted", body = Accepted),
        NotFoundErrors, MalformedJson, InternalError,
        (status = 422, description = "Validation failed, or a grant is unknown or no longer active", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-tokens")]
pub async fn update_pat_accesses(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let input = body::read::<UpdatePatAccessesBody, Bulk<Revoking>>(&payload, RESOURCE)
        .map(|bulk| (bulk.ids.as_slice().to_vec(), bulk.each));
    revoke(&call, input, true).await?;
    Ok(HttpResponse::Accepted().json(Accepted {}))
}

/// Runs the revocation and maps its refusals: an unknown id is 404 for a single grant and 422
/// naming it in bulk; a grant that already ended is 422. The organization and the permission
/// are checked before the body.
async fn revoke<P: InOrg>(
    call: &Call<P>,
    input: Result<(Vec<i64>, Revoking), ApiError>,
    bulk: bool,
) -> Result<(), ApiError> {
    let (app_id, installation_id) = call.caller.actor();
    call.in_org(Operation::RevokeGrants)
        .write(move |db, org| {
            let (ids, Revoking { reason }) = input?;
            let revocation = Revocation {
                org_id: org.id,
                grant_ids: &ids,
                app_id,
                installation_id,
                reason: reason.as_ref().map(ReviewReason::as_str),
                at: patgate_persistence::now(),
            };
            db.write(Touches::Org(org.id), |conn| {
                grants::revoke(conn, &revocation)
            })
            .map_err(|e| refused(e, bulk))?;
            tracing::info!(org_id = org.id, ids = ?ids, installation_id, "grants revoked");
            Ok(())
        })
        .await
}

/// A refused revocation as GitHub answers it.
fn refused(e: RevokeError, bulk: bool) -> ApiError {
    let field = if bulk { "pat_ids" } else { "pat_id" };
    match e {
        RevokeError::Unknown(_) if !bulk => ApiError::NotFound,
        RevokeError::Unknown(unknown) => {
            unknown_ids(RESOURCE, field, "personal access token", "grant", &unknown)
        }
        RevokeError::NotActive(ended) => {
            let ids: Vec<i64> = ended.iter().map(|(id, _)| *id).collect();
            let message = match (bulk, ended.first()) {
                (false, Some((_, state))) => {
                    format!("This token's access is already {}", state.as_str())
                }
                _ => format!(
                    "These tokens' access is no longer active: {}",
                    join_ids(&ids)
                ),
            };
            let why = ended
                .iter()
                .map(|(id, state)| format!("grant {id} is {}", state.as_str()));
            unprocessable(RESOURCE, field, message, why)
        }
        RevokeError::Store(e) => e.into(),
    }
}
