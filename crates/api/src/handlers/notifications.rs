//! `/orgs/{org}/personal-access-token-notifications/…`: how an organization's notifications
//! go out (e-mail on or off), and its e-mail outbox at a glance.

use actix_web::{get, put, web, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::notifications;
use patgate_persistence::Touches;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{blocking, caller_org};
use crate::auth::InstallationCaller;
use crate::body;
use crate::dto::hooks::DeliveryBacklog;
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::state::AppState;

const RESOURCE: &str = "NotificationSettings";

/// How an organization's notifications go out.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Whether review notices and the daily digest are e-mailed (when the deployment has an
    /// SMTP server). `false` for an organization that routes them elsewhere: its hooks
    /// subscribed to `personal_access_token_request_notification` and
    /// `personal_access_token_request_digest` get them either way.
    pub email: bool,
}

/// Get an organization's notification settings
///
/// Needs `organization_administration: read`.
#[utoipa::path(
    operation_id = "patgate/get-notification-settings",
    tag = "patgate",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    responses(
        (status = 200, description = "Response", body = NotificationSettings),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-notifications/settings")]
pub async fn get_notification_settings(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let email = blocking(move || {
        let mut conn = db.conn()?;
        let org = caller_org(&mut conn, &caller, &org)?;
        caller.authorize(Operation::ReadPolicy)?;
        Ok(notifications::email_enabled(&mut conn, org.id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(NotificationSettings { email }))
}

/// Set an organization's notification settings
///
/// `email: false` stops e-mailing the organization's review notices and digests from now on
/// (what is already queued still goes); organization hooks subscribed to the notification and
/// digest events get them either way. A change is recorded in the audit trail
/// (`notifications.updated`). Needs `organization_administration: write`.
#[utoipa::path(
    operation_id = "patgate/set-notification-settings",
    tag = "patgate",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    request_body = NotificationSettings,
    responses(
        (status = 200, description = "The settings now in force", body = NotificationSettings),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
        (status = 422, description = "Validation failed", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[put("/orgs/{org}/personal-access-token-notifications/settings")]
pub async fn set_notification_settings(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let email = blocking(move || {
        let org = {
            let mut conn = db.conn()?;
            caller_org(&mut conn, &caller, &org)?
        };
        caller.authorize(Operation::WritePolicy)?;
        let map = body::json_object(&payload.0, false)?;
        let input: NotificationSettings = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| {
                let field = if e.to_string().contains("unknown field") {
                    "body"
                } else {
                    "email"
                };
                ApiError::invalid(
                    RESOURCE,
                    field,
                    "invalid",
                    format!("{e}: email must be true or false"),
                )
            })?;
        let actor = Some((caller.app_id(), caller.installation_id()));
        db.write(Touches::Org(org.id), |conn| {
            notifications::set_email(conn, org.id, input.email, actor, patgate_persistence::now())
        })?;
        tracing::info!(
            org = org.login,
            email = input.email,
            "notification settings set"
        );
        Ok(input.email)
    })
    .await?;
    Ok(HttpResponse::Ok().json(NotificationSettings { email }))
}

/// Get the backlog of an organization's e-mail notifications
#[utoipa::path(
    operation_id = "patgate/get-notification-backlog",
    tag = "patgate",
    params(("org" = String, Path, description = "The organization name (not case sensitive)")),
    responses(
        (status = 200, description = "The organization's review notices and digests waiting to be sent, failed for good, and the lag of the oldest", body = DeliveryBacklog),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Resource not found", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-notifications/backlog")]
pub async fn get_notification_backlog(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let backlog = blocking(move || {
        let mut conn = db.conn()?;
        let org = caller_org(&mut conn, &caller, &org)?;
        caller.authorize(Operation::ReadAudit)?;
        Ok(notifications::backlog(&mut conn, Some(org.id))?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryBacklog::new(
        backlog.pending,
        backlog.failed,
        backlog.oldest_pending,
    )))
}
