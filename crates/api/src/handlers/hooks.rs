//! The app's webhook, called with the app's JWT, in GitHub's shapes: its configuration
//! (`/app/hook/config`), its deliveries and their redelivery (`/app/hook/deliveries`), and
//! patgate's view of the backlog (`/app/hook/backlog`).

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use patgate_persistence::webhooks::{self, AppWebhook, Delivery, Receiver};
use patgate_persistence::Touches;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::blocking;
use crate::auth::AppCaller;
use crate::body;
use crate::dto::timestamp;
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::handlers::org_hooks::read_config;
use crate::pagination::{link_header, ok_with_link, page_from_query};
use crate::state::AppState;
use crate::webhook_payload;

const RESOURCE: &str = "HookConfig";
/// How GitHub shows a secret that is set.
const MASKED: &str = "********";

/// GitHub's `webhook-config`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookConfig {
    /// Where deliveries are posted; null until one is set.
    pub url: Option<String>,
    /// `json` or `form`.
    pub content_type: String,
    /// Always `"0"`: certificates are verified.
    pub insecure_ssl: String,
    /// `********` when a secret is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookConfig {
    /// The configuration as shown: the secret, when set, is masked.
    pub fn new(url: Option<String>, content_type: String, secret: Option<&str>) -> Self {
        Self {
            url,
            content_type,
            insecure_ssl: "0".to_owned(),
            secret: secret.filter(|s| !s.is_empty()).map(|_| MASKED.to_owned()),
        }
    }

    fn of(hook: Option<&AppWebhook>) -> Self {
        Self::new(
            hook.map(|h| h.url.clone()),
            hook.map_or_else(|| "json".to_owned(), |h| h.content_type.clone()),
            hook.and_then(|h| h.secret.as_deref()),
        )
    }
}

/// The fields to change; the others stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfigBody {
    /// An absolute `http` or `https` URL.
    #[schema(max_length = 2048, example = "https://ci.example.com/patgate")]
    pub url: Option<String>,
    /// `json` (default) or `form` (`payload=<JSON>`, URL-encoded).
    pub content_type: Option<String>,
    /// Signs each body (`X-Hub-Signature-256`); an empty string removes it.
    #[schema(max_length = 256)]
    pub secret: Option<String>,
    /// Only `"0"` (verify certificates) is accepted.
    pub insecure_ssl: Option<String>,
}

/// GitHub's `hook-delivery-item`, with patgate's delivery state.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookDeliveryItem {
    pub id: i64,
    /// `X-GitHub-Delivery`; a redelivery has the GUID of the delivery it repeats.
    pub guid: String,
    /// When the latest attempt was made (when it was queued, before any attempt).
    pub delivered_at: String,
    pub redelivery: bool,
    /// Seconds the latest attempt took.
    pub duration: f64,
    /// `OK`, `Invalid HTTP Response: <status>`, the error of the latest attempt, or `pending`.
    pub status: String,
    /// The receiver's status on the latest attempt; 0 when there was none.
    pub status_code: i64,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub throttled_at: Option<String>,
    /// `pending` (to be sent, or sent again), `delivered`, or `failed` (out of attempts).
    pub state: String,
    pub attempts: i64,
    /// When a pending delivery is next sent.
    pub next_attempt_at: Option<String>,
}

impl HookDeliveryItem {
    pub fn build(d: &Delivery) -> Self {
        let status = match (d.status.as_str(), &d.last_error) {
            ("delivered", _) => "OK".to_owned(),
            (_, Some(error)) => error.clone(),
            _ => "pending".to_owned(),
        };
        let attempted: NaiveDateTime = if d.attempts > 0 {
            d.delivered_at.unwrap_or(d.created_at).max(d.created_at)
        } else {
            d.created_at
        };
        Self {
            id: d.id,
            guid: d.guid.clone(),
            delivered_at: timestamp(attempted),
            redelivery: d.redelivery,
            duration: d.duration_ms.unwrap_or(0.0) / 1000.0,
            status,
            status_code: d.status_code.map_or(0, i64::from),
            event: d.event.clone(),
            action: Some(d.action.clone()).filter(|a| !a.is_empty()),
            installation_id: d.installation_id,
            repository_id: None,
            throttled_at: None,
            state: d.status.clone(),
            attempts: i64::from(d.attempts),
            next_attempt_at: (d.status == "pending").then(|| timestamp(d.next_attempt_at)),
        }
    }
}

/// GitHub's `hook-delivery`: the item, with the request that is sent and the response.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookDelivery {
    #[serde(flatten)]
    pub item: HookDeliveryItem,
    pub request: HookDeliveryRequest,
    pub response: HookDeliveryResponse,
}

/// The receiver's answer: patgate keeps its status (`status_code`), not its headers or body,
/// which are always `null`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookDeliveryResponse {
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Value>,
    pub payload: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HookDeliveryRequest {
    /// The event headers sent with the body (the signature is not repeated here).
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// The body, as it is sent now.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// An outbox at a glance: what waits, what failed for good, and how far behind delivery is.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBacklog {
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending_at: Option<String>,
    /// Seconds the oldest pending delivery has waited; 0 when none waits.
    pub lag_seconds: i64,
}

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
    Ok(HttpResponse::Ok().json(WebhookConfig::of(hook.as_ref())))
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
    Ok(HttpResponse::Ok().json(WebhookConfig::of(Some(&hook))))
}

/// An absolute `http(s)` URL with a host, without credentials in it; the error names
/// `resource`.
pub(crate) fn check_url_of(resource: &str, url: &str) -> Result<(), ApiError> {
    let bad = |why: &str| ApiError::invalid(resource, "url", "invalid", why.to_owned());
    if url.len() > 2048 {
        return Err(bad("url must be at most 2048 characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("url must be an absolute http or https URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.chars().any(char::is_whitespace) {
        return Err(bad("url must name a host, without credentials or spaces"));
    }
    Ok(())
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
    Ok(HttpResponse::Ok().json(HookDelivery::read(&state, found).await?))
}

impl HookDelivery {
    /// The delivery with the request sent for it, rendered now.
    pub(crate) async fn read(state: &AppState, found: Delivery) -> Result<Self, ApiError> {
        let (db, base) = (state.db.clone(), state.base_url.clone());
        let d = found.clone();
        let rendered = blocking(move || {
            let mut conn = db.conn()?;
            Ok(webhook_payload::render(&mut conn, &base, &d)?)
        })
        .await?;
        Ok(HookDelivery {
            item: HookDeliveryItem::build(&found),
            request: HookDeliveryRequest {
                headers: serde_json::Value::Object(
                    rendered
                        .headers
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                        .collect(),
                ),
                payload: rendered.payload,
            },
            response: HookDeliveryResponse {
                headers: None,
                payload: None,
            },
        })
    }
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

impl DeliveryBacklog {
    /// What waits, what failed, and the lag of the oldest waiting delivery as of now.
    pub fn new(pending: i64, failed: i64, oldest_pending: Option<NaiveDateTime>) -> Self {
        let now = patgate_persistence::now();
        Self {
            pending,
            failed,
            oldest_pending_at: oldest_pending.map(timestamp),
            lag_seconds: oldest_pending.map_or(0, |t| (now - t).num_seconds().max(0)),
        }
    }
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
