//! The app's webhook, called with the app's JWT, in GitHub's shapes: its configuration
//! (`/app/hook/config`), its deliveries and their redelivery (`/app/hook/deliveries`), and
//! patgate's view of the backlog (`/app/hook/backlog`).

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use patgate_persistence::webhooks::{self, AppWebhook, Delivery, Receiver};
use patgate_persistence::Touches;

use super::blocking;
use crate::auth::AppCaller;
use crate::body;
use crate::dto::hooks::{DeliveryBacklog, HookDelivery, HookDeliveryItem, WebhookConfig};
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::handlers::hook_bodies::{read_config, WebhookConfigBody};
use crate::pagination::{link_header, ok_with_link, page_from_query};
use crate::state::AppState;
use patgate_events::payload as webhook_payload;

const RESOURCE: &str = "HookConfig";

/// Get a webhook configuration for an app
#[utoipa::path(
    operation_id = "apps/get-webhook-config-for-app",
    tag = "apps",
    responses(
        (status = 200, description = "Response", body = WebhookConfig),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
    ),
    security(("app_jwt" = []))
)]
#[get("/app/hook/config")]
pub async fn get_webhook_config(
    state: web::Data<AppState>,
    caller: AppCaller,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let app_id = caller.app.id;
    let hook = blocking(move || {
        let mut conn = db.conn()?;
        Ok(webhooks::config(&mut conn, app_id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookConfig::of_app(hook.as_ref())))
}

/// Update a webhook configuration for an app
#[utoipa::path(
    operation_id = "apps/update-webhook-config-for-app",
    tag = "apps",
    request_body = WebhookConfigBody,
    responses(
        (status = 200, description = "Response", body = WebhookConfig),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
    ),
    security(("app_jwt" = []))
)]
#[patch("/app/hook/config")]
pub async fn update_webhook_config(
    state: web::Data<AppState>,
    caller: AppCaller,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let map = body::json_object(&payload.0, false)?;
    let input = read_config(&map, RESOURCE, false)?;
    let db = state.db.clone();
    let app_id = caller.app.id;
    let hook = blocking(move || {
        db.write(Touches::Nothing, |conn| {
            let current = webhooks::config(conn, app_id)?;
            let url = match (input.url, &current) {
                (Some(url), _) => url,
                (None, Some(hook)) => hook.url.clone(),
                (None, None) => {
                    return Err(ApiError::invalid(
                        RESOURCE,
                        "url",
                        "missing_field",
                        "url is required to set up the webhook",
                    ))
                }
            };
            let hook = AppWebhook {
                app_id,
                url,
                secret: match input.secret {
                    Some(s) if s.is_empty() => None,
                    Some(s) => Some(s),
                    None => current.as_ref().and_then(|h| h.secret.clone()),
                },
                content_type: input
                    .content_type
                    .or_else(|| current.as_ref().map(|h| h.content_type.clone()))
                    .unwrap_or_else(|| "json".to_owned()),
                active: true,
                updated_at: patgate_persistence::now(),
            };
            webhooks::set_config(conn, &hook)?;
            Ok(hook)
        })
    })
    .await?;
    tracing::info!(app_id, "app webhook configured");
    Ok(HttpResponse::Ok().json(WebhookConfig::of_app(Some(&hook))))
}

/// List deliveries for an app webhook
#[utoipa::path(
    operation_id = "apps/list-webhook-deliveries",
    tag = "apps",
    params(
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Results per page (max 100)"),
        ("page" = Option<i64>, Query, minimum = 1, description = "Page number"),
    ),
    responses(
        (status = 200, description = "Newest first", body = Vec<HookDeliveryItem>,
            headers(("Link" = String, description = "Pagination links"))),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 422, description = "Invalid pagination parameters", body = ValidationBody),
    ),
    security(("app_jwt" = []))
)]
#[get("/app/hook/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    caller: AppCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = page_from_query(req.query_string())?;
    let db = state.db.clone();
    let app_id = caller.app.id;
    let (rows, total) = blocking(move || {
        let mut conn = db.conn()?;
        Ok(webhooks::list(&mut conn, Receiver::App(app_id), page)?)
    })
    .await?;
    let items: Vec<HookDeliveryItem> = rows.iter().map(HookDeliveryItem::build).collect();
    let link = link_header(&state.base_url, req.path(), req.query_string(), page, total);
    Ok(ok_with_link(link).json(items))
}

async fn delivery(state: &AppState, app_id: i64, id: i64) -> Result<Delivery, ApiError> {
    let db = state.db.clone();
    blocking(move || {
        let mut conn = db.conn()?;
        webhooks::find(&mut conn, Receiver::App(app_id), id)?.ok_or(ApiError::NotFound)
    })
    .await
}

/// Get a delivery for an app webhook
#[utoipa::path(
    operation_id = "apps/get-webhook-delivery",
    tag = "apps",
    params(("delivery_id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "Response", body = HookDelivery),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("app_jwt" = []))
)]
#[get("/app/hook/deliveries/{delivery_id}")]
pub async fn get_webhook_delivery(
    state: web::Data<AppState>,
    caller: AppCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let found = delivery(&state, caller.app.id, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(read_delivery(&state, found).await?))
}

/// The delivery with the request sent for it, rendered now.
pub(crate) async fn read_delivery(
    state: &AppState,
    found: Delivery,
) -> Result<HookDelivery, ApiError> {
    let (db, base) = (state.db.clone(), state.base_url.clone());
    let d = found.clone();
    let rendered = blocking(move || {
        let mut conn = db.conn()?;
        Ok(webhook_payload::render(&mut conn, &base, &d)?)
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
    operation_id = "apps/redeliver-webhook-delivery",
    tag = "apps",
    params(("delivery_id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 202, description = "Queued: sent again, with the same GUID, by the next instance that looks", body = Object),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("app_jwt" = []))
)]
#[post("/app/hook/deliveries/{delivery_id}/attempts")]
pub async fn redeliver_webhook_delivery(
    state: web::Data<AppState>,
    caller: AppCaller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let (app_id, id) = (caller.app.id, path.into_inner());
    let copy = blocking(move || {
        db.write(Touches::Nothing, |conn| {
            webhooks::redeliver(conn, Receiver::App(app_id), id, patgate_persistence::now())?
                .ok_or(ApiError::NotFound)
        })
    })
    .await?;
    tracing::info!(
        app_id,
        delivery_id = id,
        redelivery_id = copy.id,
        guid = copy.guid,
        "webhook redelivery queued"
    );
    Ok(HttpResponse::Accepted().json(serde_json::json!({})))
}

/// Get the backlog of an app webhook
#[utoipa::path(
    operation_id = "patgate/get-webhook-backlog",
    tag = "patgate",
    responses(
        (status = 200, description = "Response", body = DeliveryBacklog),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
    ),
    security(("app_jwt" = []))
)]
#[get("/app/hook/backlog")]
pub async fn get_webhook_backlog(
    state: web::Data<AppState>,
    caller: AppCaller,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let app_id = caller.app.id;
    let backlog = blocking(move || {
        let mut conn = db.conn()?;
        Ok(webhooks::backlog(&mut conn, Some(app_id))?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryBacklog::new(
        backlog.pending,
        backlog.failed,
        backlog.oldest_pending,
    )))
}
