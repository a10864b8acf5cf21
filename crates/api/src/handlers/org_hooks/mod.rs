//! An organization's webhooks (`/orgs/{org}/hooks`), called with an installation token, in
//! GitHub's shapes: create, list, get, update, delete, their configuration, pings, deliveries
//! and their redelivery, and patgate's view of a hook's backlog.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, HttpRequest, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::models::Organization;
use patgate_persistence::webhooks::{self, HookChanges, HookError, OrgWebhook};
use patgate_persistence::DbConnection;
use patgate_persistence::Touches;

use super::errors::{BodyErrors, NotFoundErrors, PageErrors};
use super::params::{HookDeliveryPath, HookPath, OrgPath, PageParams};
use crate::body::{self, RawBody};
use crate::dto::hook_bodies::{CreateOrgHookBody, UpdateOrgHookBody, WebhookConfigBody};
use crate::dto::hooks::{OrgHook, WebhookConfig};
use crate::error::ApiError;
use crate::handlers::{page_json, Call, InOrg, Reply};
use crate::pagination::{ahead, page_from_query, page_of};

pub mod deliveries;

/// The resource a hook's errors name, and its `config`'s.
const RESOURCE: &str = "Hook";
const CONFIG_RESOURCE: &str = "HookConfig";

/// Changes that make no hook, as a 422 naming `resource`.
pub(crate) fn hook_error(resource: &str, e: HookError) -> ApiError {
    match e {
        HookError::NoUrl => ApiError::invalid(resource, "url", "missing_field", e.to_string()),
        HookError::NoEvents => {
            ApiError::invalid(resource, "remove_events", "invalid", e.to_string())
        }
        HookError::Store(e) => e.into(),
    }
}

/// The host (and port) a URL points at: what may be logged of it. URLs with credentials are
/// refused before they are stored, so this holds none.
fn host_of(url: &str) -> &str {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or("");
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// Hook `id` of the organization; another organization's hook, or none, is "Not Found".
fn hook_in(conn: &mut DbConnection, org: &Organization, id: i64) -> Result<OrgWebhook, ApiError> {
    webhooks::org_hook(conn, org.id, id)?.ok_or(ApiError::NotFound)
}

/// A path that names an organization's hook, `/orgs/{org}/hooks/{hook_id}…`.
pub(super) trait InHook: InOrg {
    fn hook_id(&self) -> i64;
}

impl InHook for HookPath {
    fn hook_id(&self) -> i64 {
        self.hook_id
    }
}

impl InHook for HookDeliveryPath {
    fn hook_id(&self) -> i64 {
        self.hook_id
    }
}

/// Reads in the hook the path names with `read`, given the organization and the hook: the
/// organization is checked, then the permission to read hooks, then the hook.
pub(super) async fn with_hook<P, T, F>(call: &Call<P>, read: F) -> Result<T, ApiError>
where
    P: InHook,
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, Organization, OrgWebhook) -> Result<T, ApiError> + Send + 'static,
{
    let id = call.path.hook_id();
    call.in_org(Operation::ReadHooks)
        .read(move |conn, org| {
            let hook = hook_in(conn, &org, id)?;
            read(conn, org, hook)
        })
        .await
}

/// Checks that the caller may change the hook the path names (as [`with_hook`], with
/// `organization_hooks: write`), then runs `change` in one write transaction. Returns the
/// organization's login and what `change` returns. No kept answer shows hooks: nothing to
/// invalidate.
pub(super) async fn write_to_hook<P, T, F>(
    call: &Call<P>,
    change: F,
) -> Result<(String, T), ApiError>
where
    P: InHook,
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &Organization) -> Result<T, ApiError> + Send + 'static,
{
    let id = call.path.hook_id();
    call.in_org(Operation::WriteHooks)
        .write(move |db, org| {
            // The hook is looked up in the change's own transaction: one connection, and no
            // gap between the check and the change.
            let out = db.write(Touches::Nothing, |conn| {
                hook_in(conn, &org, id)?;
                change(conn, &org)
            })?;
            Ok((org.login, out))
        })
        .await
}

/// Logs what became of a hook, naming its host only.
fn log_hook(login: &str, hook: &OrgWebhook, what: &str) {
    tracing::info!(
        org = login,
        hook_id = hook.id,
        host = host_of(&hook.url),
        events = hook.events,
        active = hook.active,
        "{what}"
    );
}

/// List organization webhooks
///
/// Oldest first. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/list-webhooks", tag = "orgs", params(OrgPath, PageParams),
    responses(
        (status = 200, description = "Response", body = Vec<OrgHook>,
            headers(("Link" = String, description = "Pagination links"))),
        PageErrors,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks")]
pub async fn list_webhooks(call: Call<OrgPath>, req: HttpRequest) -> Reply {
    let query = page_from_query(req.query_string());
    let (login, page, (rows, count)) = call
        .in_org(Operation::ReadHooks)
        .read(move |conn, org| {
            let page = query?;
            let rows = webhooks::org_hooks(conn, org.id, page.offset(), ahead(page))?;
            // An organization has few hooks: counting them gives the `last` link.
            let count = webhooks::org_hook_count(conn, org.id)?;
            Ok((org.login, page, (rows, count)))
        })
        .await?;
    let (rows, _) = page_of(rows, page);
    let items = rows
        .iter()
        .map(|hook| OrgHook::of(&call.state.base_url, &login, hook))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page_json(&call.state, &req, page, count, &items))
}

/// Create an organization webhook
///
/// The hook is sent a `ping` at once when it is active. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/create-webhook", tag = "orgs", params(OrgPath),
    request_body = CreateOrgHookBody,
    responses(
        (status = 201, description = "Response", body = OrgHook,
            headers(("Location" = String, description = "The hook's URL"))),
        BodyErrors,
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/hooks")]
pub async fn create_webhook(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let changes = body::read::<CreateOrgHookBody, HookChanges>(&payload, RESOURCE);
    let (login, hook) = call
        .in_org(Operation::WriteHooks)
        .write(move |db, org| {
            let settings = changes?
                .org_hook(None)
                .map_err(|e| hook_error(RESOURCE, e))?;
            // No kept answer shows hooks: nothing to invalidate.
            let hook = db.write(Touches::Nothing, |conn| {
                webhooks::create_org_hook(conn, org.id, &settings, patgate_persistence::now())
            })?;
            Ok((org.login, hook))
        })
        .await?;
    log_hook(&login, &hook, "organization webhook created");
    let dto = OrgHook::of(&call.state.base_url, &login, &hook)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, dto.url.clone()))
        .json(dto))
}

/// Get an organization webhook
///
/// Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/get-webhook", tag = "orgs", params(HookPath),
    responses((status = 200, description = "Response", body = OrgHook), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}")]
pub async fn get_webhook(call: Call<HookPath>) -> Reply {
    let (login, hook) = with_hook(&call, |_, org, hook| Ok((org.login, hook))).await?;
    Ok(HttpResponse::Ok().json(OrgHook::of(&call.state.base_url, &login, &hook)?))
}

/// Update an organization webhook
///
/// The fields given change; the others stay as they are. An empty `config.secret` removes the
/// secret. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/update-webhook", tag = "orgs", params(HookPath),
    request_body = UpdateOrgHookBody,
    responses((status = 200, description = "Response", body = OrgHook), BodyErrors),
    security(("installation_token" = []))
)]
#[patch("/orgs/{org}/hooks/{hook_id}")]
pub async fn update_webhook(call: Call<HookPath>, payload: RawBody) -> Reply {
    let changes = body::read_or_empty::<UpdateOrgHookBody, HookChanges>(&payload, RESOURCE);
    let (login, hook) = change_hook(&call, changes, RESOURCE).await?;
    Ok(HttpResponse::Ok().json(OrgHook::of(&call.state.base_url, &login, &hook)?))
}

/// Checks the caller and the hook, then applies the changes read from the body in one
/// transaction; a body's faults (named as `resource`'s) are told only after the permission, so
/// that a caller without it learns nothing of them.
async fn change_hook(
    call: &Call<HookPath>,
    changes: Result<HookChanges, ApiError>,
    resource: &'static str,
) -> Result<(String, OrgWebhook), ApiError> {
    let id = call.path.hook_id;
    let (login, hook) = write_to_hook(call, move |conn, org| {
        let current = hook_in(conn, org, id)?;
        let settings = changes?
            .org_hook(Some(&current))
            .map_err(|e| hook_error(resource, e))?;
        webhooks::update_org_hook(conn, org.id, id, &settings, patgate_persistence::now())?
            .ok_or(ApiError::NotFound)
    })
    .await?;
    log_hook(&login, &hook, "organization webhook updated");
    Ok((login, hook))
}

/// Delete an organization webhook
///
/// The hook's deliveries go with it. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/delete-webhook", tag = "orgs", params(HookPath),
    responses((status = 204, description = "A header with no content is returned."), NotFoundErrors),
    security(("installation_token" = []))
)]
#[delete("/orgs/{org}/hooks/{hook_id}")]
pub async fn delete_webhook(call: Call<HookPath>) -> Reply {
    let id = call.path.hook_id;
    let (login, ()) = write_to_hook(&call, move |conn, org| {
        match webhooks::delete_org_hook(conn, org.id, id)? {
            true => Ok(()),
            false => Err(ApiError::NotFound),
        }
    })
    .await?;
    tracing::info!(org = login, hook_id = id, "organization webhook deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Get a webhook configuration for an organization
///
/// The secret, when set, is masked. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/get-webhook-config-for-org", tag = "orgs", params(HookPath),
    responses((status = 200, description = "Response", body = WebhookConfig), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/config")]
pub async fn get_webhook_config_for_org(call: Call<HookPath>) -> Reply {
    let hook = with_hook(&call, |_, _, hook| Ok(hook)).await?;
    Ok(HttpResponse::Ok().json(WebhookConfig::of_org(&hook)))
}

/// Update a webhook configuration for an organization
///
/// The fields given change; the others stay as they are. An empty `secret` removes the secret.
/// Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/update-webhook-config-for-org", tag = "orgs", params(HookPath),
    request_body = WebhookConfigBody,
    responses((status = 200, description = "Response", body = WebhookConfig), BodyErrors),
    security(("installation_token" = []))
)]
#[patch("/orgs/{org}/hooks/{hook_id}/config")]
pub async fn update_webhook_config_for_org(call: Call<HookPath>, payload: RawBody) -> Reply {
    let changes = body::read::<WebhookConfigBody, HookChanges>(&payload, CONFIG_RESOURCE);
    let (_, hook) = change_hook(&call, changes, CONFIG_RESOURCE).await?;
    Ok(HttpResponse::Ok().json(WebhookConfig::of_org(&hook)))
}
