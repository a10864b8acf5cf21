//! The app's webhook, called with the app's JWT, in GitHub's shapes: its configuration
//! (`/app/hook/config`), its deliveries and their redelivery (`/app/hook/deliveries`), and
//! patgate's view of the backlog (`/app/hook/backlog`).

use std::collections::BTreeMap;

use actix_web::{get, patch, post, HttpRequest, HttpResponse};
use patgate_persistence::webhooks::{self, Delivery, HookChanges, Receiver};
use patgate_persistence::{Page, Total, Touches};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

use super::errors::{AuthErrors, BadPage, Invalid, MalformedJson, NotFoundErrors};
use super::params::{DeliveryPath, PageParams};
use super::{backlog_json, page_json, read, write, AppCall, Reply};
use crate::body::{self, RawBody};
use crate::dto::hook_bodies::WebhookConfigBody;
use crate::dto::hooks::{DeliveryBacklog, HookDelivery, HookDeliveryItem, WebhookConfig};
use crate::error::ApiError;
use crate::handlers::org_hooks::hook_error;
use crate::pagination::page_from_query;
use crate::state::AppState;
use patgate_events::payload as webhook_payload;

const RESOURCE: &str = "HookConfig";

/// Get a webhook configuration for an app
#[utoipa::path(
    operation_id = "apps/get-webhook-config-for-app", tag = "apps",
    responses((status = 200, description = "Response", body = WebhookConfig), AuthErrors),
    security(("app_jwt" = []))
)]
#[get("/app/hook/config")]
pub async fn get_webhook_config(call: AppCall) -> Reply {
    let app_id = call.caller.app.id;
    let hook = read(&call.state, move |conn| Ok(webhooks::config(conn, app_id)?)).await?;
    Ok(HttpResponse::Ok().json(WebhookConfig::of_app(hook.as_ref())))
}

/// Update a webhook configuration for an app
#[utoipa::path(
    operation_id = "apps/update-webhook-config-for-app", tag = "apps",
    request_body = WebhookConfigBody,
    responses(
        (status = 200, description = "Response", body = WebhookConfig),
        AuthErrors, MalformedJson, Invalid,
    ),
    security(("app_jwt" = []))
)]
#[patch("/app/hook/config")]
pub async fn update_webhook_config(call: AppCall, payload: RawBody) -> Reply {
    let changes = body::read::<WebhookConfigBody, HookChanges>(&payload, RESOURCE)?;
    let app_id = call.caller.app.id;
    let hook = write(&call.state, Touches::Nothing, move |conn| {
        let current = webhooks::config(conn, app_id)?;
        let hook = changes
            .app_hook(app_id, current.as_ref(), patgate_persistence::now())
            .map_err(|e| hook_error(RESOURCE, e))?;
        webhooks::set_config(conn, &hook)?;
        Ok(hook)
    })
    .await?;
    tracing::info!(app_id, "app webhook configured");
    Ok(HttpResponse::Ok().json(WebhookConfig::of_app(Some(&hook))))
}

/// List deliveries for an app webhook
#[utoipa::path(
    operation_id = "apps/list-webhook-deliveries", tag = "apps", params(PageParams),
    responses(
        (status = 200, description = "Newest first", body = Vec<HookDeliveryItem>,
            headers(("Link" = String, description = "Pagination links"))),
        AuthErrors, BadPage,
    ),
    security(("app_jwt" = []))
)]
#[get("/app/hook/deliveries")]
pub async fn list_webhook_deliveries(call: AppCall, req: HttpRequest) -> Reply {
    let page = page_from_query(req.query_string())?;
    let receiver = Receiver::App(call.caller.app.id);
    let found = read(&call.state, move |conn| {
        Ok(webhooks::list(conn, receiver, page)?)
    })
    .await?;
    Ok(deliveries_page(&call.state, &req, page, found))
}

/// A page of a hook's deliveries, newest first.
pub(crate) fn deliveries_page(
    state: &AppState,
    req: &HttpRequest,
    page: Page,
    (rows, total): (Vec<Delivery>, Total),
) -> HttpResponse {
    let items: Vec<HookDeliveryItem> = rows.iter().map(HookDeliveryItem::build).collect();
    page_json(state, req, page, total, &items)
}

/// Get a delivery for an app webhook
#[utoipa::path(
    operation_id = "apps/get-webhook-delivery", tag = "apps", params(DeliveryPath),
    responses((status = 200, description = "Response", body = HookDelivery), NotFoundErrors),
    security(("app_jwt" = []))
)]
#[get("/app/hook/deliveries/{delivery_id}")]
pub async fn get_webhook_delivery(call: AppCall<DeliveryPath>) -> Reply {
    let (receiver, id) = (Receiver::App(call.caller.app.id), call.path.delivery_id);
    let found = read(&call.state, move |conn| {
        webhooks::find(conn, receiver, id)?.ok_or(ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(read_delivery(&call.state, found).await?))
}

/// The delivery with the request sent for it, rendered now.
pub(crate) async fn read_delivery(
    state: &AppState,
    found: Delivery,
) -> Result<HookDelivery, ApiError> {
    let (base, d) = (state.base_url.clone(), found.clone());
    let rendered = read(state, move |conn| {
        Ok(webhook_payload::render(conn, &base, &d)?)
    })
    .await?;
    Ok(HookDelivery::new(
        &found,
        rendered.headers,
        rendered.payload,
    ))
}

/// Redeliver a delivery for an app webhook
#[utoipa::path(
    operation_id = "apps/redeliver-webhook-delivery", tag = "apps", params(DeliveryPath),
    responses(Requeued, NotFoundErrors),
    security(("app_jwt" = []))
)]
#[post("/app/hook/deliveries/{delivery_id}/attempts")]
pub async fn redeliver_webhook_delivery(call: AppCall<DeliveryPath>) -> Reply {
    let (app_id, id) = (call.caller.app.id, call.path.delivery_id);
    let copy = write(&call.state, Touches::Nothing, move |conn| {
        webhooks::redeliver(conn, Receiver::App(app_id), id, patgate_persistence::now())?
            .ok_or(ApiError::NotFound)
    })
    .await?;
    tracing::info!(
        app_id,
        delivery_id = id,
        redelivery_id = copy.id,
        guid = copy.guid,
        "webhook redelivery queued"
    );
    Ok(Requeued::answer())
}

/// 202: a delivery queued again, an app hook's or an organization hook's; the body is `{}`.
pub(crate) struct Requeued;

impl Requeued {
    pub(crate) fn answer() -> HttpResponse {
        HttpResponse::Accepted().json(serde_json::json!({}))
    }
}

impl IntoResponses for Requeued {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let object = ObjectBuilder::new().schema_type(Type::Object);
        let response = ResponseBuilder::new()
            .description("Queued: sent again, with the same GUID, by the next instance that looks")
            .content("application/json", Content::new(Some(object)))
            .build();
        BTreeMap::from([("202".to_owned(), RefOr::T(response))])
    }
}

/// Get the backlog of an app webhook
#[utoipa::path(
    operation_id = "patgate/get-webhook-backlog", tag = "patgate",
    responses((status = 200, description = "Response", body = DeliveryBacklog), AuthErrors),
    security(("app_jwt" = []))
)]
#[get("/app/hook/backlog")]
pub async fn get_webhook_backlog(call: AppCall) -> Reply {
    let app_id = call.caller.app.id;
    let backlog = read(&call.state, move |conn| {
        Ok(webhooks::backlog(conn, Some(app_id))?)
    })
    .await?;
    Ok(backlog_json(backlog))
}
