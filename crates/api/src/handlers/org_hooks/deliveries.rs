//! An organization hook's deliveries, their redelivery, pings, and the hook's backlog.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::webhooks::{self, Receiver};

use super::{org_hook_of, write_to_hook, ORG_PARAM};
use crate::auth::InstallationCaller;
use crate::dto::hooks::{DeliveryBacklog, HookDelivery, HookDeliveryItem};
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::handlers::blocking;
use crate::handlers::hooks::read_delivery;
use crate::pagination::{link_header, ok_with_link, page_from_query};
use crate::state::AppState;

/// List deliveries for an organization webhook
///
/// Newest first. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/list-webhook-deliveries",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Results per page (max 100)"),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number"),
    ),
    responses(
        (status = 200, description = "Newest first", body = Vec<HookDeliveryItem>,
            headers(("Link" = String, description = "Pagination links"))),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Invalid pagination parameters", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let query = page_from_query(req.query_string());
    let db = state.db.clone();
    let (page, rows) = blocking(move || {
        let mut conn = db.conn()?;
        let (_, hook) = org_hook_of(&mut conn, &caller, &org, id, Operation::ReadHooks)?;
        let page = query?;
        let found = webhooks::list(&mut conn, Receiver::Hook(hook.id), page)?;
        Ok((page, found))
    })
    .await?;
    let (rows, total) = rows;
    let items: Vec<HookDeliveryItem> = rows.iter().map(HookDeliveryItem::build).collect();
    let link = link_header(&state.base_url, req.path(), req.query_string(), page, total);
    Ok(ok_with_link(link).json(items))
}

/// Get a webhook delivery for an organization webhook
///
/// With the request as it is sent now. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/get-webhook-delivery",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
        ("delivery_id" = i64, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 200, description = "Response", body = HookDelivery),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}")]
pub async fn get_webhook_delivery(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id, delivery_id) = path.into_inner();
    let db = state.db.clone();
    let found = blocking(move || {
        let mut conn = db.conn()?;
        let (_, hook) = org_hook_of(&mut conn, &caller, &org, id, Operation::ReadHooks)?;
        webhooks::find(&mut conn, Receiver::Hook(hook.id), delivery_id)?.ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(read_delivery(&state, found).await?))
}

/// Redeliver a delivery for an organization webhook
///
/// Queued as a new delivery with the same GUID. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/redeliver-webhook-delivery",
    tag = "orgs",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
        ("delivery_id" = i64, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 202, description = "Queued: sent again, with the same GUID, by the next instance that looks", body = Object),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts")]
pub async fn redeliver_webhook_delivery(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id, delivery_id) = path.into_inner();
    let (login, copy) = write_to_hook(&state, caller, org, id, move |conn, _| {
        let now = patgate_persistence::now();
        webhooks::redeliver(conn, Receiver::Hook(id), delivery_id, now)?.ok_or(ApiError::NotFound)
    })
    .await?;
    tracing::info!(
        org = login,
        hook_id = id,
        delivery_id,
        redelivery_id = copy.id,
        guid = copy.guid,
        "organization webhook redelivery queued"
    );
    Ok(HttpResponse::Accepted().json(serde_json::json!({})))
}

/// Ping an organization webhook
///
/// Queues a `ping` delivery to the hook. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/ping-webhook",
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
#[post("/orgs/{org}/hooks/{hook_id}/pings")]
pub async fn ping_webhook(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let (login, ping) = write_to_hook(&state, caller, org, id, move |conn, org| {
        // Read again in the transaction: the hook may have gone since.
        let hook = webhooks::org_hook(conn, org.id, id)?.ok_or(ApiError::NotFound)?;
        Ok(webhooks::ping(conn, &hook, patgate_persistence::now())?)
    })
    .await?;
    tracing::info!(
        org = login,
        hook_id = id,
        delivery_id = ping.id,
        guid = ping.guid,
        "organization webhook ping queued"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Get the backlog of an organization webhook
///
/// The hook's deliveries waiting to be sent, failed for good, and the lag of the oldest.
/// Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "patgate/get-org-webhook-backlog",
    tag = "patgate",
    params(
        ("org" = String, Path, description = ORG_PARAM),
        ("hook_id" = i64, Path, description = "The unique identifier of the hook."),
    ),
    responses(
        (status = 200, description = "Response", body = DeliveryBacklog),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/backlog")]
pub async fn get_org_webhook_backlog(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let db = state.db.clone();
    let backlog = blocking(move || {
        let mut conn = db.conn()?;
        let (_, hook) = org_hook_of(&mut conn, &caller, &org, id, Operation::ReadHooks)?;
        Ok(webhooks::hook_backlog(&mut conn, hook.id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryBacklog::new(
        backlog.pending,
        backlog.failed,
        backlog.oldest_pending,
    )))
}
