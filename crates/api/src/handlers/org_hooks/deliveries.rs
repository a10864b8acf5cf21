//! An organization hook's deliveries, their redelivery, pings, and the hook's backlog.

use actix_web::{get, post, HttpRequest, HttpResponse};
use patgate_persistence::webhooks::{self, Receiver};

use super::{hook_in, with_hook, write_to_hook};
use crate::dto::hooks::{DeliveryBacklog, HookDelivery, HookDeliveryItem};
use crate::error::ApiError;
use crate::handlers::errors::{NotFoundErrors, PageErrors};
use crate::handlers::hooks::{deliveries_page, read_delivery, Requeued};
use crate::handlers::params::{HookDeliveryPath, HookPath, PageParams};
use crate::handlers::{backlog_json, Call, Reply};
use crate::pagination::page_from_query;

/// List deliveries for an organization webhook
///
/// Newest first. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/list-webhook-deliveries", tag = "orgs", params(HookPath, PageParams),
    responses(
        (status = 200, description = "Newest first", body = Vec<HookDeliveryItem>,
            headers(("Link" = String, description = "Pagination links"))),
        PageErrors,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/deliveries")]
pub async fn list_webhook_deliveries(call: Call<HookPath>, req: HttpRequest) -> Reply {
    let query = page_from_query(req.query_string());
    let (page, found) = with_hook(&call, move |conn, _, hook| {
        let page = query?;
        Ok((page, webhooks::list(conn, Receiver::Hook(hook.id), page)?))
    })
    .await?;
    Ok(deliveries_page(&call.state, &req, page, found))
}

/// Get a webhook delivery for an organization webhook
///
/// With the request as it is sent now. Needs `organization_hooks: read`.
#[utoipa::path(
    operation_id = "orgs/get-webhook-delivery", tag = "orgs", params(HookDeliveryPath),
    responses((status = 200, description = "Response", body = HookDelivery), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}")]
pub async fn get_webhook_delivery(call: Call<HookDeliveryPath>) -> Reply {
    let delivery_id = call.path.delivery_id;
    let found = with_hook(&call, move |conn, _, hook| {
        webhooks::find(conn, Receiver::Hook(hook.id), delivery_id)?.ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(read_delivery(&call.state, found).await?))
}

/// Redeliver a delivery for an organization webhook
///
/// Queued as a new delivery with the same GUID. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/redeliver-webhook-delivery", tag = "orgs", params(HookDeliveryPath),
    responses(Requeued, NotFoundErrors),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts")]
pub async fn redeliver_webhook_delivery(call: Call<HookDeliveryPath>) -> Reply {
    let (id, delivery_id) = (call.path.hook_id, call.path.delivery_id);
    let (login, copy) = write_to_hook(&call, move |conn, _| {
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
    Ok(Requeued::answer())
}

/// Ping an organization webhook
///
/// Queues a `ping` delivery to the hook. Needs `organization_hooks: write`.
#[utoipa::path(
    operation_id = "orgs/ping-webhook", tag = "orgs", params(HookPath),
    responses((status = 204, description = "A header with no content is returned."), NotFoundErrors),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/hooks/{hook_id}/pings")]
pub async fn ping_webhook(call: Call<HookPath>) -> Reply {
    let id = call.path.hook_id;
    let (login, ping) = write_to_hook(&call, move |conn, org| {
        // Read again in the transaction: the hook may have gone since.
        let hook = hook_in(conn, org, id)?;
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
    operation_id = "patgate/get-org-webhook-backlog", tag = "patgate", params(HookPath),
    responses((status = 200, description = "Response", body = DeliveryBacklog), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/hooks/{hook_id}/backlog")]
pub async fn get_org_webhook_backlog(call: Call<HookPath>) -> Reply {
    let backlog = with_hook(&call, |conn, _, hook| {
        Ok(webhooks::hook_backlog(conn, hook.id)?)
    })
    .await?;
    Ok(backlog_json(backlog))
}
