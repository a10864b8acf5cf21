//! `/orgs/{org}/personal-access-token-notifications/…`: how an organization's notifications
//! go out (e-mail on or off), and its e-mail outbox at a glance.

use actix_web::{get, put, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::notifications;
use patgate_persistence::Touches;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::errors::{BodyErrors, NotFoundErrors};
use super::params::OrgPath;
use super::{backlog_json, Call, Reply};
use crate::body::{self, RawBody};
use crate::dto::hooks::DeliveryBacklog;

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
    operation_id = "patgate/get-notification-settings", tag = "patgate", params(OrgPath),
    responses((status = 200, description = "Response", body = NotificationSettings), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-notifications/settings")]
pub async fn get_notification_settings(call: Call<OrgPath>) -> Reply {
    let email = call
        .in_org(Operation::ReadPolicy)
        .read(|conn, org| Ok(notifications::email_enabled(conn, org.id)?))
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
    operation_id = "patgate/set-notification-settings", tag = "patgate", params(OrgPath),
    request_body = NotificationSettings,
    responses(
        (status = 200, description = "The settings now in force", body = NotificationSettings),
        BodyErrors,
    ),
    security(("installation_token" = []))
)]
#[put("/orgs/{org}/personal-access-token-notifications/settings")]
pub async fn set_notification_settings(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let actor = Some(call.caller.actor());
    let email = call
        .in_org(Operation::WritePolicy)
        .write(move |db, org| {
            let input: NotificationSettings =
                body::read::<NotificationSettings, _>(&payload, RESOURCE)?;
            db.write(Touches::Org(org.id), |conn| {
                notifications::set_email(
                    conn,
                    org.id,
                    input.email,
                    actor,
                    patgate_persistence::now(),
                )
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
    operation_id = "patgate/get-notification-backlog", tag = "patgate", params(OrgPath),
    responses(
        (status = 200, description = "The organization's review notices and digests waiting to be sent, failed for good, and the lag of the oldest", body = DeliveryBacklog),
        NotFoundErrors,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-notifications/backlog")]
pub async fn get_notification_backlog(call: Call<OrgPath>) -> Reply {
    let backlog = call
        .in_org(Operation::ReadAudit)
        .read(|conn, org| Ok(notifications::backlog(conn, Some(org.id))?))
        .await?;
    Ok(backlog_json(backlog))
}
