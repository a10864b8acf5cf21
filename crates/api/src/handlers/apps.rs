//! App endpoints, called with the app's JWT: the app itself, its installations, and installation access tokens.

use std::collections::BTreeMap;

use actix_web::{get, post, HttpRequest, HttpResponse};
use patgate_domain::{AccessLevel, NarrowError, PermissionSet, RepoName};
use patgate_persistence::directory;
use patgate_persistence::models::{Installation, Organization};

use super::errors::{AuthErrors, BadPage, BodyErrors, NotFoundErrors};
use super::params::{InstallationPath, OrgPath, PageParams};
use super::{page_json, read, AppCall, Reply};
use crate::body::{self, RawBody};
use crate::dto::{
    timestamp, AppDto, CreateInstallationTokenBody, InstallationDto, InstallationToken,
};
use crate::error::{ApiError, FieldError};
use crate::keys::{random_hex, InstallationClaims};
use crate::pagination::page_from_query;
use crate::state::AppState;

/// How long an installation access token lives.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
const RESOURCE: &str = "InstallationToken";

/// Get the authenticated app
#[utoipa::path(
    operation_id = "apps/get-authenticated", tag = "apps",
    responses((status = 200, description = "Response", body = AppDto), AuthErrors),
    security(("app_jwt" = []))
)]
#[get("/app")]
pub async fn get_authenticated(call: AppCall) -> Reply {
    let app = call.caller.app.clone();
    let (owner, count) = read(&call.state, move |conn| {
        let owner = match app.owner_org_id {
            Some(id) => directory::org_by_id(conn, id)?,
            None => None,
        };
        Ok((owner, directory::installation_count(conn, app.id)?))
    })
    .await?;
    Ok(HttpResponse::Ok().json(AppDto::build(
        &call.state.base_url,
        &call.caller.app,
        owner.as_ref(),
        count,
    )))
}

/// List installations for the authenticated app
#[utoipa::path(
    operation_id = "apps/list-installations", tag = "apps", params(PageParams),
    responses(
        (status = 200, description = "The permissions the installation has are included under the `permissions` key.", body = Vec<InstallationDto>,
            headers(("Link" = String, description = "Pagination links"))),
        AuthErrors, BadPage,
    ),
    security(("app_jwt" = []))
)]
#[get("/app/installations")]
pub async fn list_installations(call: AppCall, req: HttpRequest) -> Reply {
    let page = page_from_query(req.query_string())?;
    let app_id = call.caller.app.id;
    let (rows, total) = read(&call.state, move |conn| {
        Ok(directory::installations_of_app(conn, app_id, page)?)
    })
    .await?;
    let items = rows
        .iter()
        .map(|(inst, org)| {
            InstallationDto::build(&call.state.base_url, &call.caller.app, inst, org)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(&call.state, &req, page, total, &items))
}

/// Get an installation for the authenticated app
#[utoipa::path(
    operation_id = "apps/get-installation", tag = "apps", params(InstallationPath),
    responses((status = 200, description = "Response", body = InstallationDto), NotFoundErrors),
    security(("app_jwt" = []))
)]
#[get("/app/installations/{installation_id}")]
pub async fn get_installation(call: AppCall<InstallationPath>) -> Reply {
    let found = installation(&call.state, call.caller.app.id, call.path.installation_id).await?;
    installation_json(&call, found)
}

/// Get an organization installation for the authenticated app
#[utoipa::path(
    operation_id = "apps/get-org-installation", tag = "apps", params(OrgPath),
    responses((status = 200, description = "Response", body = InstallationDto), NotFoundErrors),
    security(("app_jwt" = []))
)]
#[get("/orgs/{org}/installation")]
pub async fn get_org_installation(call: AppCall<OrgPath>) -> Reply {
    let (app_id, login) = (call.caller.app.id, call.path.org.clone());
    let found = read(&call.state, move |conn| {
        directory::installation_for_org(conn, app_id, &login)?.ok_or(ApiError::NotFound)
    })
    .await?;
    installation_json(&call, found)
}

/// The app's installation `installation_id`; another app's, or none, is "Not Found".
async fn installation(
    state: &AppState,
    app_id: i64,
    installation_id: i64,
) -> Result<(Installation, Organization), ApiError> {
    read(state, move |conn| {
        directory::installation_of_app(conn, app_id, installation_id)?.ok_or(ApiError::NotFound)
    })
    .await
}

fn installation_json<P>(call: &AppCall<P>, (inst, org): (Installation, Organization)) -> Reply {
    let (base, app) = (&call.state.base_url, &call.caller.app);
    Ok(HttpResponse::Ok().json(InstallationDto::build(base, app, &inst, &org)?))
}

/// Create an installation access token for an app
///
/// Creates a token an installation uses to call the organization endpoints. It expires after
/// one hour. `permissions` may narrow the installation's permissions, never widen them.
#[utoipa::path(
    operation_id = "apps/create-installation-access-token", tag = "apps", params(InstallationPath),
    request_body(content = Option<CreateInstallationTokenBody>, description = "Optional narrowing of the token"),
    responses((status = 201, description = "Response", body = InstallationToken), BodyErrors),
    security(("app_jwt" = []))
)]
#[post("/app/installations/{installation_id}/access_tokens")]
pub async fn create_installation_access_token(
    call: AppCall<InstallationPath>,
    payload: RawBody,
) -> Reply {
    let request: CreateInstallationTokenBody =
        body::read_or_empty::<CreateInstallationTokenBody, _>(&payload, RESOURCE)?;
    let (inst, org) =
        installation(&call.state, call.caller.app.id, call.path.installation_id).await?;
    if inst.suspended_at.is_some() {
        return Err(ApiError::forbidden(crate::auth::SUSPENDED_MESSAGE));
    }
    let held: BTreeMap<String, String> =
        serde_json::from_str(&inst.permissions).map_err(ApiError::internal)?;
    let held = permission_set(&held, "installation")?;
    let granted = match &request.permissions {
        Some(asked) => held
            .narrow(&permission_set(asked, "permissions")?)
            .map_err(|e| not_granted(&held, &e))?,
        None => held,
    };
    let selection = check_repositories(&call.state, &request, org.id).await?;
    let now = chrono::Utc::now();
    let exp = now.timestamp() + TOKEN_LIFETIME_SECS;
    let perms: BTreeMap<String, AccessLevel> =
        granted.iter().map(|(k, l)| (k.to_owned(), l)).collect();
    let claims = InstallationClaims {
        iss: String::new(),
        aud: String::new(),
        sub: inst.id.to_string(),
        app: call.caller.app.id,
        inst: inst.id,
        org: org.id,
        perms: perms.clone(),
        iat: now.timestamp(),
        exp,
        jti: random_hex(),
    };
    let token = call.state.keys.issue(claims).map_err(ApiError::internal)?;
    let expires_at = chrono::DateTime::from_timestamp(exp, 0)
        .map(|t| timestamp(t.naive_utc()))
        .unwrap_or_default();
    tracing::info!(
        app_id = call.caller.app.id,
        installation_id = inst.id,
        "installation token issued"
    );
    Ok(HttpResponse::Created().json(InstallationToken {
        token,
        expires_at,
        permissions: perms
            .into_iter()
            .map(|(k, l)| (k, l.as_str().to_owned()))
            .collect(),
        repository_selection: selection,
    }))
}

/// A 422 with GitHub's message and `field`'s error.
fn refused(field: &str, message: &str, detail: String) -> ApiError {
    ApiError::Unprocessable {
        message: message.to_owned(),
        errors: vec![FieldError::new(RESOURCE, field, "invalid", detail)],
    }
}

/// GitHub's refusal of a narrowing the installation cannot give: a permission it does not
/// hold at all, or one it holds at a lower level.
fn not_granted(held: &PermissionSet, e: &NarrowError) -> ApiError {
    let NarrowError::NotGranted(missing) = e else {
        return refused("permissions", NOT_GRANTED, e.to_string());
    };
    let unknown = missing.iter().any(|m| {
        let key = m.split(':').next().unwrap_or_default();
        !held.iter().any(|(k, _)| k == key)
    });
    let message = if unknown {
        NOT_GRANTED
    } else {
        "The level of access for permissions requested are not granted to this installation."
    };
    refused("permissions", message, e.to_string())
}

const NOT_GRANTED: &str = "The permissions requested are not granted to this installation.";

fn permission_set(map: &BTreeMap<String, String>, field: &str) -> Result<PermissionSet, ApiError> {
    let mut pairs = Vec::new();
    for (key, level) in map {
        let level = AccessLevel::parse(level).ok_or_else(|| {
            refused(
                field,
                "There is at least one permission action that is not supported. It should be one of: \"read\", \"write\" or \"admin\".",
                format!("{key}: level must be read, write or admin"),
            )
        })?;
        pairs.push((key.clone(), level));
    }
    PermissionSet::from_pairs(pairs).map_err(|e| refused(field, NOT_GRANTED, e.to_string()))
}

const NO_SUCH_REPOSITORY: &str = "There is at least one repository that does not exist or is not accessible to the parent installation.";

/// Checks that the repositories a token is limited to exist in the organization (at most 500);
/// returns the resulting repository selection.
async fn check_repositories(
    state: &AppState,
    request: &CreateInstallationTokenBody,
    org_id: i64,
) -> Result<String, ApiError> {
    let names = request.repositories.clone().unwrap_or_default();
    let mut ids = request.repository_ids.clone().unwrap_or_default();
    ids.sort_unstable();
    ids.dedup();
    if names.is_empty() && ids.is_empty() {
        return Ok("all".to_owned());
    }
    if names.len() + ids.len() > 500 {
        return Err(ApiError::invalid(
            RESOURCE,
            "repositories",
            "invalid",
            "at most 500 repositories may be listed",
        ));
    }
    let mut keys = Vec::new();
    for name in &names {
        let name = RepoName::parse(name)
            .map_err(|e| refused("repositories", NO_SUCH_REPOSITORY, format!("{name:?} {e}")))?;
        keys.push(name.key());
    }
    keys.sort();
    keys.dedup();
    let expected = (keys.len() + ids.len()) as i64;
    let found = read(state, move |conn| {
        Ok(directory::count_repositories(conn, org_id, &keys, &ids)?)
    })
    .await?;
    if found != expected {
        return Err(refused(
            "repositories",
            NO_SUCH_REPOSITORY,
            "a repository named is not one of the organization's".to_owned(),
        ));
    }
    Ok("selected".to_owned())
}
