//! An organization's webhooks (`/orgs/{org}/hooks`), called with an installation token, in
//! GitHub's shapes: create, list, get, update, delete, their configuration, pings, deliveries
//! and their redelivery, and patgate's view of a hook's backlog.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::models::Organization;
use patgate_persistence::webhooks::{self, OrgWebhook};
use patgate_persistence::Touches;
use patgate_persistence::{DbConnection, Total};

use super::{blocking, caller_org};
use crate::auth::InstallationCaller;
use crate::body;
use crate::dto::hooks::{OrgHook, WebhookConfig};
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::handlers::hook_bodies::WebhookConfigBody;
use crate::pagination::{ahead, link_header, ok_with_link, page_from_query, page_of};
use crate::state::AppState;

pub mod deliveries;

use crate::handlers::hook_bodies::{read_config, read_hook, settings, Changes};
pub use crate::handlers::hook_bodies::{
    CreateOrgHookBody, InsecureSsl, OrgHookConfigBody, UpdateOrgHookBody,
};

const CONFIG_RESOURCE: &str = "HookConfig";
pub(super) const ORG_PARAM: &str = "The organization name (not case sensitive)";

/// The host (and port) a URL points at: what may be logged of it. URLs with credentials are
/// refused before they are stored, so this holds none.
fn host_of(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or("");
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The caller's organization, once the caller may perform `op` in it, and the hook `id` of
/// it; another organization's hook, or none, is "Not Found".
pub(super) fn org_hook_of(
    conn: &mut DbConnection,
    caller: &InstallationCaller,
    login: &str,
    id: i64,
    op: Operation,
) -> Result<(Organization, OrgWebhook), ApiError> {
    let org = caller_org(conn, caller, login)?;
    caller.authorize(op)?;
    let hook = webhooks::org_hook(conn, org.id, id)?.ok_or(ApiError::NotFound)?;
    Ok((org, hook))
}

/// List organization webhooks
///
/// Oldest first. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/list-webhooks",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Results per page (max 100)"),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number"),
    ),
    responses(
        (status = 200, description = "Response", body = Vec<OrgHook>,
            headers(("Link" = String, description = "Pagination links"))),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Invalid pagination parameters", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = page_from_query(req.query_string());
    let db = state.db.clone();
    let (login, page, rows) = blocking(move || {
        let mut conn = db.conn()?;
        let org = caller_org(&mut conn, &caller, &org)?;
        caller.authorize(Operation::ReadHooks)?;
        let page = query?;
        let rows = webhooks::org_hooks(&mut conn, org.id, page.offset(), ahead(page))?;
        // An organization has few hooks: counting them gives the `last` link.
        let count = webhooks::org_hook_count(&mut conn, org.id)?;
        Ok((org.login, page, (rows, count)))
    })
    .await?;
    let (rows, count) = rows;
    let (rows, _) = page_of(rows, page);
    let total = Total::Exact(count);
    let items: Vec<OrgHook> = rows
        .iter()
        .map(|hook| OrgHook::of(&state.base_url, &login, hook))
        .collect();
    let link = link_header(&state.base_url, req.path(), req.query_string(), page, total);
    Ok(ok_with_link(link).json(items))
}

/// Create an organization webhook
///
/// The hook is sent a `ping` at once when it is active. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/create-webhook",
    tag = "orgs",
    params(("org" = String, Path, description = ORG_PARAM)),
    request_body = CreateOrgHookBody,
    responses(
        (status = 201, description = "Response", body = OrgHook,
            headers(("Location" = String, description = "The hook's URL"))),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/hooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let (login, hook) = blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            caller_org(&mut conn, &caller, &org)?
        };
        caller.authorize(Operation::WriteHooks)?;
        let map = body::json_object(&payload.0, false)?;
        let settings = settings(read_hook(&map, true)?, None)?;
        // No kept answer shows hooks: nothing to invalidate.
        let hook = db.write(Touches::Nothing, |conn| {
            webhooks::create_org_hook(conn, org.id, &settings, patgate_persistence::now())
        })?;
        Ok((org.login, hook))
    })
    .await?;
    tracing::info!(
        org = login,
        hook_id = hook.id,
        host = host_of(&hook.url),
        events = hook.events,
        active = hook.active,
        "organization webhook created"
    );
    let dto = OrgHook::of(&state.base_url, &login, &hook);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, dto.url.clone()))
        .json(dto))
}

/// Get an organization webhook
///
/// Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/get-webhook",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
    ),
    responses(
        (status = 200, description = "Response", body = OrgHook),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let db = state.db.clone();
    let (org, hook) = blocking(move || {
        let mut conn = db.conn()?;
        org_hook_of(&mut conn, &caller, &org, id, Operation::ReadHooks)
    })
    .await?;
    Ok(HttpResponse::Ok().json(OrgHook::of(&state.base_url, &org.login, &hook)))
}

/// Update an organization webhook
///
/// The fields given change; the others stay as they are. An empty `config.secret` removes the
/// secret. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/update-webhook",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
    ),
    request_body = UpdateOrgHookBody,
    responses(
        (status = 200, description = "Response", body = OrgHook),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[patch("/orgs/{org}/hooks/{hook_id}")]
pub async fn update_webhook(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let (login, hook) = change_hook(&state, caller, org, id, move || {
        let map = body::json_object(&payload.0, true)?;
        read_hook(&map, false)
    })
    .await?;
    Ok(HttpResponse::Ok().json(OrgHook::of(&state.base_url, &login, &hook)))
}

/// Checks that the caller may change hook `id` of organization `login` (as [`org_hook_of`]
/// with `organization_hooks: write`), then runs `change` in one write transaction. Returns the
/// organization's login and what `change` returns. No kept answer shows hooks: nothing to
/// invalidate.
pub(super) async fn write_to_hook<T, F>(
    state: &AppState,
    caller: InstallationCaller,
    login: String,
    id: i64,
    change: F,
) -> Result<(String, T), ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &Organization) -> Result<T, ApiError> + Send + 'static,
{
    let db = state.db.clone();
    blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            org_hook_of(&mut conn, &caller, &login, id, Operation::WriteHooks)?.0
        };
        let out = db.write(Touches::Nothing, |conn| change(conn, &org))?;
        Ok((org.login, out))
    })
    .await
}

/// Checks the caller and the hook, reads the changes (after the permission, so that a caller
/// without it learns nothing of the body's faults), and applies them in one transaction.
async fn change_hook<F>(
    state: &AppState,
    caller: InstallationCaller,
    org: String,
    id: i64,
    read: F,
) -> Result<(String, OrgWebhook), ApiError>
where
    F: FnOnce() -> Result<Changes, ApiError> + Send + 'static,
{
    let (login, hook) = write_to_hook(state, caller, org, id, move |conn, org| {
        let changes = read()?;
        let current = webhooks::org_hook(conn, org.id, id)?.ok_or(ApiError::NotFound)?;
        let settings = settings(changes, Some(&current))?;
        webhooks::update_org_hook(conn, org.id, id, &settings, patgate_persistence::now())?
            .ok_or(ApiError::NotFound)
    })
    .await?;
    tracing::info!(
        org = login,
        hook_id = hook.id,
        host = host_of(&hook.url),
        events = hook.events,
        active = hook.active,
        "organization webhook updated"
    );
    Ok((login, hook))
}

/// Delete an organization webhook
///
/// The hook's deliveries go with it. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/delete-webhook",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
    ),
    responses(
        (status = 204, description = "A header with no content is returned."),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[delete("/orgs/{org}/hooks/{hook_id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let (login, ()) =
        write_to_hook(
            &state,
            caller,
            org,
            id,
            move |conn, org| match webhooks::delete_org_hook(conn, org.id, id)? {
                true => Ok(()),
                false => Err(ApiError::NotFound),
            },
        )
        .await?;
    tracing::info!(org = login, hook_id = id, "organization webhook deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Get a webhook configuration for an organization
///
/// The secret, when set, is masked. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/get-webhook-config-for-org",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
    ),
    responses(
        (status = 200, description = "Response", body = WebhookConfig),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/config")]
pub async fn get_webhook_config_for_org(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let db = state.db.clone();
    let (_, hook) = blocking(move || {
        let mut conn = db.conn()?;
        org_hook_of(&mut conn, &caller, &org, id, Operation::ReadHooks)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookConfig::of_org(&hook)))
}

/// Update a webhook configuration for an organization
///
/// The fields given change; the others stay as they are. An empty `secret` removes the secret.
/// Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/update-webhook-config-for-org",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
    ),
    request_body = WebhookConfigBody,
    responses(
        (status = 200, description = "Response", body = WebhookConfig),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[patch("/orgs/{org}/hooks/{hook_id}/config")]
pub async fn update_webhook_config_for_org(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let (_, hook) = change_hook(&state, caller, org, id, move || {
        let map = body::json_object(&payload.0, false)?;
        read_config(&map, CONFIG_RESOURCE, false)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookConfig::of_org(&hook)))
}
