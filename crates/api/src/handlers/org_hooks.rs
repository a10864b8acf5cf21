//! An organization's webhooks (`/orgs/{org}/hooks`), called with an installation token, in
//! GitHub's shapes: create, list, get, update, delete, their configuration, pings, deliveries
//! and their redelivery, and patgate's view of a hook's backlog.

use patgate_persistence::webhooks::OrgWebhook;
use serde::Serialize;
use utoipa::ToSchema;

use super::hooks::WebhookConfig;
use crate::dto::timestamp;

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
    pub fn of(base: &str, org_login: &str, hook: &OrgWebhook) -> Self {
        let url = format!("{base}/orgs/{org_login}/hooks/{}", hook.id);
        Self {
            id: hook.id,
            ping_url: format!("{url}/pings"),
            deliveries_url: format!("{url}/deliveries"),
            url,
            name: "web".to_owned(),
            events: hook.event_names(),
            active: hook.active,
            config: WebhookConfig::new(
                Some(hook.url.clone()),
                hook.content_type.clone(),
                hook.secret.as_deref(),
            ),
            updated_at: timestamp(hook.updated_at),
            created_at: timestamp(hook.created_at),
            kind: "Organization".to_owned(),
        }
    }
}
