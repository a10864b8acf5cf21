//! The bodies of webhook configurations: an organization hook's create and update and any
//! hook's `config` (also the app's `PATCH /app/hook/config`), read field by field so that
//! each fault is a 422 naming its field, and the settings they make.

use patgate_persistence::webhooks::{
    self, ContentType, OrgWebhook, OrgWebhookSettings, ORG_HOOK_EVENTS,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::body::missing;
use crate::error::ApiError;

/// The resource an organization hook's errors name.
const RESOURCE: &str = "Hook";

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

/// The body of `POST /orgs/{org}/hooks`; other fields are refused. Event names are `*` (all of
/// them), `personal_access_token_request`, `personal_access_token_request_notification` and
/// `personal_access_token_request_digest`.
#[derive(Debug, ToSchema)]
pub struct CreateOrgHookBody {
    /// Must be `web`.
    #[schema(example = "web")]
    pub name: String,
    pub config: OrgHookConfigBody,
    /// The events the hook receives; default `["personal_access_token_request"]`.
    #[schema(example = json!(["personal_access_token_request"]))]
    pub events: Option<Vec<String>>,
    /// Whether deliveries are sent (default `true`).
    pub active: Option<bool>,
}

/// The body of `PATCH /orgs/{org}/hooks/{hook_id}`: the fields given change, the others stay.
/// Event names are `*` (all of them), `personal_access_token_request`,
/// `personal_access_token_request_notification` and `personal_access_token_request_digest`.
#[derive(Debug, ToSchema)]
pub struct UpdateOrgHookBody {
    pub config: Option<WebhookConfigBody>,
    /// Replaces the events the hook receives.
    pub events: Option<Vec<String>>,
    /// Events added to the hook's (after `events`).
    pub add_events: Option<Vec<String>>,
    /// Events removed from the hook's (after `add_events`); at least one must remain.
    pub remove_events: Option<Vec<String>>,
    pub active: Option<bool>,
    /// Must be `web` when given.
    pub name: Option<String>,
}

/// GitHub's `webhook-config` of a new hook; other fields are refused.
#[derive(Debug, ToSchema)]
pub struct OrgHookConfigBody {
    /// An absolute `http` or `https` URL, without credentials.
    #[schema(max_length = 2048, example = "https://ci.example.com/patgate")]
    pub url: String,
    /// `json` (default) or `form` (`payload=<JSON>`, URL-encoded).
    pub content_type: Option<String>,
    /// Signs each body (`X-Hub-Signature-256`); an empty string removes it.
    #[schema(max_length = 256)]
    pub secret: Option<String>,
    pub insecure_ssl: Option<InsecureSsl>,
}

/// Only `"0"` (or `0`) is accepted: certificates are always verified.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum InsecureSsl {
    Text(String),
    Number(f64),
}

/// What a body asks to change; `None` leaves a setting as it is (or to its default).
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) url: Option<String>,
    pub(crate) content_type: Option<ContentType>,
    /// `Some("")` removes the secret.
    pub(crate) secret: Option<String>,
    events: Option<Vec<String>>,
    add_events: Vec<String>,
    remove_events: Vec<String>,
    active: Option<bool>,
}

fn invalid(resource: &str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(resource, field, "invalid", message)
}

/// Refuses any key of `map` not in `known`, naming it.
fn only_known(map: &Map<String, Value>, resource: &str, known: &[&str]) -> Result<(), ApiError> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(invalid(
            resource,
            key,
            format!(
                "{key} is not a known field; expected one of: {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// Reads the body of a hook's create (`creating`) or update.
pub(super) fn read_hook(map: &Map<String, Value>, creating: bool) -> Result<Changes, ApiError> {
    let known: &[&str] = if creating {
        &["name", "config", "events", "active"]
    } else {
        &[
            "name",
            "config",
            "events",
            "add_events",
            "remove_events",
            "active",
        ]
    };
    only_known(map, RESOURCE, known)?;
    match map.get("name") {
        None | Some(Value::Null) if creating => return Err(missing(RESOURCE, "name")),
        None | Some(Value::Null) => {}
        Some(Value::String(name)) if name == "web" => {}
        Some(_) => return Err(invalid(RESOURCE, "name", "name must be \"web\"")),
    }
    let mut changes = match map.get("config") {
        None | Some(Value::Null) if creating => return Err(missing(RESOURCE, "config")),
        None | Some(Value::Null) => Changes::default(),
        Some(Value::Object(config)) => read_config(config, RESOURCE, creating)?,
        Some(_) => return Err(invalid(RESOURCE, "config", "config must be an object")),
    };
    changes.events = events(map, "events")?;
    if changes.events.as_ref().is_some_and(Vec::is_empty) {
        return Err(invalid(
            RESOURCE,
            "events",
            "events must name at least one event",
        ));
    }
    changes.add_events = events(map, "add_events")?.unwrap_or_default();
    changes.remove_events = events(map, "remove_events")?.unwrap_or_default();
    changes.active = match map.get("active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(active)) => Some(*active),
        Some(_) => return Err(invalid(RESOURCE, "active", "active must be a boolean")),
    };
    Ok(changes)
}

/// Reads a `webhook-config` object; the URL is required when `creating`.
pub(crate) fn read_config(
    map: &Map<String, Value>,
    resource: &str,
    creating: bool,
) -> Result<Changes, ApiError> {
    only_known(
        map,
        resource,
        &["url", "content_type", "secret", "insecure_ssl"],
    )?;
    let url = match (map.get("url"), creating) {
        (None, false) => None,
        (None | Some(Value::Null), _) => {
            return Err(ApiError::invalid(
                resource,
                "url",
                "missing_field",
                "url is required: a hook must have somewhere to deliver",
            ))
        }
        _ => text(map, resource, "url")?,
    };
    if let Some(url) = &url {
        check_url_of(resource, url)?;
    }
    let content_type = text(map, resource, "content_type")?
        .map(|kind| {
            ContentType::parse(&kind).ok_or_else(|| {
                invalid(
                    resource,
                    "content_type",
                    "content_type must be json or form",
                )
            })
        })
        .transpose()?;
    let secret = text(map, resource, "secret")?;
    if secret.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(invalid(
            resource,
            "secret",
            "secret must be at most 256 characters",
        ));
    }
    check_insecure_ssl(map, resource)?;
    Ok(Changes {
        url,
        content_type,
        secret,
        ..Changes::default()
    })
}

/// An optional string field of a `webhook-config`.
fn text(map: &Map<String, Value>, resource: &str, field: &str) -> Result<Option<String>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(
            resource,
            field,
            format!("{field} must be a string"),
        )),
    }
}

/// `insecure_ssl` may only be `"0"` (or `0`): certificates are always verified.
fn check_insecure_ssl(map: &Map<String, Value>, resource: &str) -> Result<(), ApiError> {
    match map.get("insecure_ssl") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s == "0" => Ok(()),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(()),
        Some(_) => Err(invalid(
            resource,
            "insecure_ssl",
            "insecure_ssl must be \"0\": certificates are always verified",
        )),
    }
}

/// An optional array of event names an organization hook may receive, without repeats.
fn events(map: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    let items = match map.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(invalid(
                RESOURCE,
                field,
                format!("{field} must be an array of event names"),
            ))
        }
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .as_str()
            .filter(|name| ORG_HOOK_EVENTS.contains(name))
            .ok_or_else(|| {
                invalid(
                    RESOURCE,
                    field,
                    format!(
                        "{field} may only name these events: {}",
                        ORG_HOOK_EVENTS.join(", ")
                    ),
                )
            })?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(Some(names))
}

/// The settings `changes` make of `current` (or of the defaults, for a new hook).
pub(super) fn settings(
    changes: Changes,
    current: Option<&OrgWebhook>,
) -> Result<OrgWebhookSettings, ApiError> {
    let url = changes
        .url
        .or_else(|| current.map(|h| h.url.clone()))
        .ok_or_else(|| missing(RESOURCE, "url"))?;
    let secret = match changes.secret {
        Some(s) if s.is_empty() => None,
        Some(s) => Some(s),
        None => current.and_then(|h| h.secret.clone()),
    };
    let content_type = changes
        .content_type
        .or_else(|| current.map(|h| h.content_type))
        .unwrap_or(ContentType::Json);
    let mut events = match (changes.events, current) {
        (Some(events), _) => events,
        (None, Some(hook)) => hook.event_names()?,
        (None, None) => vec![webhooks::EVENT.to_owned()],
    };
    for name in changes.add_events {
        if !events.contains(&name) {
            events.push(name);
        }
    }
    events.retain(|name| !changes.remove_events.contains(name));
    if events.is_empty() {
        return Err(invalid(
            RESOURCE,
            "remove_events",
            "a hook must receive at least one event",
        ));
    }
    Ok(OrgWebhookSettings {
        url,
        secret,
        content_type,
        events: serde_json::to_string(&events).map_err(ApiError::internal)?,
        active: changes
            .active
            .or_else(|| current.map(|h| h.active))
            .unwrap_or(true),
    })
}
