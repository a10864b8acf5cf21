//! `/enterprises/{enterprise}/personal-access-token-policy`: the token policy of the enterprise an installation's organization belongs to, which binds all of its organizations.

use actix_web::{get, put, web, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::models::Enterprise;
use patgate_persistence::policy::{self, Owner};
use patgate_persistence::DbConnection;
use patgate_persistence::Touches;

use super::blocking;
use super::policy::{policy_error, read_settings};
use crate::auth::InstallationCaller;
use crate::body;
use crate::dto::lifecycle::{EnterpriseTokenPolicyDto, PolicySettingsDto};
use crate::error::{ApiError, BasicError, ValidationError as ValidationBody};
use crate::state::AppState;

/// The enterprise named in the path, if the caller's organization belongs to it; any other
/// enterprise, existing or not, is "Not Found".
fn caller_enterprise(
    conn: &mut DbConnection,
    caller: &InstallationCaller,
    slug: &str,
) -> Result<Enterprise, ApiError> {
    match policy::enterprise_of(conn, caller.org_id())? {
        Some(e) if e.slug.eq_ignore_ascii_case(slug) => Ok(e),
        _ => Err(ApiError::NotFound),
    }
}

fn dto(
    conn: &mut DbConnection,
    enterprise: Enterprise,
) -> Result<EnterpriseTokenPolicyDto, ApiError> {
    let settings = policy::settings_of(conn, Owner::Enterprise(enterprise.id))?.unwrap_or_default();
    let organizations = policy::organizations_of(conn, enterprise.id)?.len();
    Ok(EnterpriseTokenPolicyDto {
        slug: enterprise.slug,
        policy: PolicySettingsDto::from(&settings),
        organizations_count: i64::try_from(organizations).unwrap_or(i64::MAX),
    })
}

/// Get the personal access token policy of an enterprise
///
/// The settings of the enterprise the caller's organization belongs to. A setting it decided
/// binds every one of its organizations; `null` leaves it to them ("allow organizations to
/// configure"). Needs `enterprise_personal_access_token_policy: read`.
#[utoipa::path(
    operation_id = "patgate/get-enterprise-token-policy",
    tag = "patgate",
    params(("enterprise" = String, Path, description = "The enterprise's slug (not case sensitive)")),
    responses(
        (status = 200, description = "Response", body = EnterpriseTokenPolicyDto),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Not the enterprise of the caller's organization", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[get("/enterprises/{enterprise}/personal-access-token-policy")]
pub async fn get_enterprise_token_policy(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    enterprise: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let body = blocking(move || {
        let mut conn = db.conn()?;
        let enterprise = caller_enterprise(&mut conn, &caller, &enterprise)?;
        caller.authorize(Operation::ReadEnterprisePolicy)?;
        dto(&mut conn, enterprise)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Set the personal access token policy of an enterprise
///
/// Replaces the enterprise's settings, as GitHub's enterprise policy page does: fine-grained
/// tokens `allowed` or `restricted` (or `null`: organizations configure), approval `required`
/// or `not_required` (approval disabled; `null`: organizations configure), classic tokens
/// likewise, the maximum lifetimes (1–366 days) and whether administrators are exempt from
/// them. What it sets binds every organization of the enterprise at once, whatever they set;
/// organizations may still shorten a lifetime. Recorded in each organization's audit trail as
/// `enterprise_policy.updated`. Needs `enterprise_personal_access_token_policy: write`.
#[utoipa::path(
    operation_id = "patgate/set-enterprise-token-policy",
    tag = "patgate",
    params(("enterprise" = String, Path, description = "The enterprise's slug (not case sensitive)")),
    request_body = PolicySettingsDto,
    responses(
        (status = 200, description = "The enterprise's policy now", body = EnterpriseTokenPolicyDto),
        (status = 400, description = "Malformed JSON", body = BasicError),
        (status = 401, description = "Requires authentication", body = BasicError),
        (status = 403, description = "Forbidden", body = BasicError),
        (status = 404, description = "Not the enterprise of the caller's organization", body = BasicError),
        (status = 422, description = "Validation failed, naming the setting", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[put("/enterprises/{enterprise}/personal-access-token-policy")]
pub async fn set_enterprise_token_policy(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    enterprise: web::Path<String>,
    payload: body::RawBody,
) -> Result<HttpResponse, ApiError> {
    let input = read_settings(&payload);
    let db = state.db.clone();
    let body = blocking(move || {
        let enterprise = {
            let mut conn = db.conn()?;
            caller_enterprise(&mut conn, &caller, &enterprise)?
        };
        caller.authorize(Operation::WriteEnterprisePolicy)?;
        let (settings, description) = input?;
        settings.validate().map_err(policy_error)?;
        // Every organization of the enterprise reads this policy: every kept answer goes.
        db.write(Touches::Everything, |conn| {
            let at = patgate_persistence::now();
            policy::save(conn, Owner::Enterprise(enterprise.id), &settings, at)?;
            policy::audit_enterprise_change(
                conn,
                enterprise.id,
                Some((caller.app_id(), caller.installation_id())),
                &description,
                at,
            )?;
            tracing::info!(
                enterprise_id = enterprise.id,
                installation_id = caller.installation_id(),
                "enterprise token policy changed"
            );
            dto(conn, enterprise)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
