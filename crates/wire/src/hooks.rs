//! Webhooks' shapes: GitHub's `webhook-config`, `org-hook`, `hook-delivery-item` and
//! `hook-delivery`, and patgate's delivery backlog. The same `org-hook` is served by
//! `/orgs/{org}/hooks` and sent in a ping.

use chrono::NaiveDateTime;
use patgate_persistence::outbox::Status;
use patgate_persistence::webhooks::{AppWebhook, ContentType, Delivery, OrgWebhook};
use patgate_persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::timestamp;

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
    pub fn new(url: Option<String>, content_type: ContentType, secret: Option<&str>) -> Self {
        Self {
            url,
            content_type: content_type.as_str().to_owned(),
            insecure_ssl: "0".to_owned(),
            secret: secret.filter(|s| !s.is_empty()).map(|_| MASKED.to_owned()),
        }
    }

    /// An app's webhook configuration (GitHub's defaults when none is set).
    pub fn of_app(hook: Option<&AppWebhook>) -> Self {
        Self::new(
            hook.map(|h| h.url.clone()),
            hook.map_or(ContentType::Json, |h| h.content_type),
            hook.and_then(|h| h.secret.as_deref()),
        )
    }
}

impl WebhookConfig {
    /// An organization hook's configuration.
    pub fn of_org(hook: &OrgWebhook) -> Self {
        Self::new(
            Some(hook.url.clone()),
            hook.content_type,
            hook.secret.as_deref(),
        )
    }
}

/// GitHub's `org-hook`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgHook {
    pub id: i64,
    pub url: String,
    pub ping_url: String,
    pub deliveries_url: String,
    /// Always `web`.
    pub name: String,
    /// The events the hook receives; `*` is all of them.
    pub events: Vec<String>,
    pub active: bool,
    pub config: WebhookConfig,
    pub updated_at: String,
    pub created_at: String,
    /// Always `Organization`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl OrgHook {
    /// The hook as GitHub shows it; malformed stored events are an error.
    pub fn of(base: &str, org_login: &str, hook: &OrgWebhook) -> Result<Self, StoreError> {
        let url = format!("{base}/orgs/{org_login}/hooks/{}", hook.id);
        Ok(Self {
            id: hook.id,
            ping_url: format!("{url}/pings"),
            deliveries_url: format!("{url}/deliveries"),
            url,
            name: "web".to_owned(),
            events: hook.event_names()?,
            active: hook.active,
            config: WebhookConfig::new(
                Some(hook.url.clone()),
                hook.content_type,
                hook.secret.as_deref(),
            ),
            updated_at: timestamp(hook.updated_at),
            created_at: timestamp(hook.created_at),
            kind: "Organization".to_owned(),
        })
    }
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
        let status = match (d.status, &d.last_error) {
            (Status::Delivered, _) => "OK".to_owned(),
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
            state: d.status.as_str().to_owned(),
            attempts: i64::from(d.attempts),
            next_attempt_at: (d.status == Status::Pending).then(|| timestamp(d.next_attempt_at)),
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

impl HookDelivery {
    /// The delivery with the request sent for it (its event headers and body).
    pub fn new(
        d: &Delivery,
        headers: Vec<(&'static str, String)>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            item: HookDeliveryItem::build(d),
            request: HookDeliveryRequest {
                headers: serde_json::Value::Object(
                    headers
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                        .collect(),
                ),
                payload,
            },
            response: HookDeliveryResponse {
                headers: None,
                payload: None,
            },
        }
    }
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
