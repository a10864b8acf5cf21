//! An organization's webhooks (`/orgs/{org}/hooks`), called with an installation token, in
//! GitHub's shapes: create, list, get, update, delete, their configuration, pings, deliveries
//! and their redelivery, and patgate's view of a hook's backlog.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::models::Organization;
use patgate_persistence::webhooks::{
    self, OrgWebhook, OrgWebhookSettings, Receiver, ORG_HOOK_EVENTS,
};
use patgate_persistence::{DbConnection, Page, Total};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::hooks::{
    check_url_of, DeliveryBacklog, HookDelivery, HookDeliveryItem, WebhookConfig, WebhookConfigBody,
};
use super::{blocking, caller_org};
use crate::auth::InstallationCaller;
use crate::body;
use crate::dto::timestamp;
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::pagination::{link_header, ok_with_link, page_from_query};
use crate::state::AppState;

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

const RESOURCE: &str = "Hook";
const CONFIG_RESOURCE: &str = "HookConfig";
const ORG_PARAM: &str = "The organization name (not case sensitive)";

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
struct Changes {
    url: Option<String>,
    content_type: Option<String>,
    /// `Some("")` removes the secret.
    secret: Option<String>,
    events: Option<Vec<String>>,
    add_events: Vec<String>,
    remove_events: Vec<String>,
    active: Option<bool>,
}

fn invalid(resource: &str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(resource, field, "invalid", message)
}

fn missing(resource: &str, field: &str) -> ApiError {
    ApiError::invalid(
        resource,
        field,
        "missing_field",
        format!("{field} is missing"),
    )
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
fn read_hook(map: &Map<String, Value>, creating: bool) -> Result<Changes, ApiError> {
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
fn read_config(
    map: &Map<String, Value>,
    resource: &str,
    creating: bool,
) -> Result<Changes, ApiError> {
    only_known(
        map,
        resource,
        &["url", "content_type", "secret", "insecure_ssl"],
    )?;
    let text = |field: &str| match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(
            resource,
            field,
            format!("{field} must be a string"),
        )),
    };
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
        _ => text("url")?,
    };
    if let Some(url) = &url {
        check_url_of(resource, url)?;
    }
    let content_type = text("content_type")?;
    if content_type
        .as_deref()
        .is_some_and(|kind| kind != "json" && kind != "form")
    {
        return Err(invalid(
            resource,
            "content_type",
            "content_type must be json or form",
        ));
    }
    let secret = text("secret")?;
    if secret.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(invalid(
            resource,
            "secret",
            "secret must be at most 256 characters",
        ));
    }
    match map.get("insecure_ssl") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "0" => {}
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => {}
        Some(_) => {
            return Err(invalid(
                resource,
                "insecure_ssl",
                "insecure_ssl must be \"0\": certificates are always verified",
            ))
        }
    }
    Ok(Changes {
        url,
        content_type,
        secret,
        ..Changes::default()
    })
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
fn settings(
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
        .or_else(|| current.map(|h| h.content_type.clone()))
        .unwrap_or_else(|| "json".to_owned());
    let mut events = changes
        .events
        .or_else(|| current.map(OrgWebhook::event_names))
        .unwrap_or_else(|| vec![webhooks::EVENT.to_owned()]);
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
fn org_hook_of(
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

/// One page of `rows` read one row ahead, and what is known of the total.
fn page_of<T>(mut rows: Vec<T>, page: Page) -> (Vec<T>, Total) {
    let per_page = usize::try_from(page.per_page).unwrap_or(usize::MAX);
    let more = rows.len() > per_page;
    rows.truncate(per_page);
    let seen = page.offset() + i64::try_from(rows.len()).unwrap_or(0);
    let total = if more {
        Total::AtLeast(seen + 1)
    } else {
        Total::Exact(seen)
    };
    (rows, total)
}

/// One row past the page: whether there is a next one.
fn ahead(page: Page) -> i64 {
    page.per_page + 1
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
        Ok((org.login, page, rows))
    })
    .await?;
    let (rows, total) = page_of(rows, page);
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
        let hook = db.write_quietly(|conn| {
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
    let db = state.db.clone();
    let (login, hook) = blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            org_hook_of(&mut conn, &caller, &org, id, Operation::WriteHooks)?.0
        };
        let changes = read()?;
        let hook = db.write_quietly(|conn| {
            let current = webhooks::org_hook(conn, org.id, id)?.ok_or(ApiError::NotFound)?;
            let settings = settings(changes, Some(&current))?;
            webhooks::update_org_hook(conn, org.id, id, &settings, patgate_persistence::now())?
                .ok_or(ApiError::NotFound)
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
    let db = state.db.clone();
    let login = blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            org_hook_of(&mut conn, &caller, &org, id, Operation::WriteHooks)?.0
        };
        let deleted = db.write_quietly(|conn| webhooks::delete_org_hook(conn, org.id, id))?;
        if deleted {
            Ok(org.login)
        } else {
            Err(ApiError::NotFound)
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
    Ok(HttpResponse::Ok().json(config_of(&hook)))
}

fn config_of(hook: &OrgWebhook) -> WebhookConfig {
    WebhookConfig::new(
        Some(hook.url.clone()),
        hook.content_type.clone(),
        hook.secret.as_deref(),
    )
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
    Ok(HttpResponse::Ok().json(config_of(&hook)))
}

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
        let rows = webhooks::list(
            &mut conn,
            Receiver::Hook(hook.id),
            page.offset(),
            ahead(page),
        )?;
        Ok((page, rows))
    })
    .await?;
    let (rows, total) = page_of(rows, page);
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
    Ok(HttpResponse::Ok().json(HookDelivery::read(&state, found).await?))
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
    let db = state.db.clone();
    let (login, copy) = blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            org_hook_of(&mut conn, &caller, &org, id, Operation::WriteHooks)?.0
        };
        let copy = db.write_quietly(|conn| {
            webhooks::redeliver(
                conn,
                Receiver::Hook(id),
                delivery_id,
                patgate_persistence::now(),
            )?
            .ok_or(ApiError::NotFound)
        })?;
        Ok((org.login, copy))
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
    let db = state.db.clone();
    let (login, ping) = blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            org_hook_of(&mut conn, &caller, &org, id, Operation::WriteHooks)?.0
        };
        let ping = db.write_quietly(|conn| {
            // Read again in the transaction: the hook may have gone since.
            let hook = webhooks::org_hook(conn, org.id, id)?.ok_or(ApiError::NotFound)?;
            Ok::<_, ApiError>(webhooks::ping(conn, &hook, patgate_persistence::now())?)
        })?;
        Ok((org.login, ping))
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
