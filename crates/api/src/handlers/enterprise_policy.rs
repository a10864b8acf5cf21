//! `/enterprises/{enterprise}/personal-access-token-policy`: the token policy of the enterprise an installation's organization belongs to, which binds all of its organizations.

use actix_web::{get, put, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::models::Enterprise;
use patgate_persistence::policy::{self, Owner};
use patgate_persistence::Touches;
use patgate_persistence::{Db, DbConnection};

use super::errors::{AuthErrors, MalformedJson, NotEnterprise};
use super::params::EnterprisePath;
use super::policy::read_settings;
use super::{Call, Reply, Scope};
use crate::auth::InstallationCaller;
use crate::body::RawBody;
use crate::dto::lifecycle::{EnterpriseTokenPolicyDto, PolicySettingsDto};
use crate::error::{ApiError, ValidationError as ValidationBody};

/// The enterprise named in the path, if the caller's organization belongs to it; any other
/// enterprise, existing or not, is "Not Found".
fn caller_enterprise(
    db: &Db,
    caller: &InstallationCaller,
    slug: &str,
) -> Result<Enterprise, ApiError> {
    match policy::enterprise_of(&mut **db.conn()?, caller.org_id())? {
        Some(e) if e.slug.eq_ignore_ascii_case(slug) => Ok(e),
        _ => Err(ApiError::NotFound),
    }
}

/// The enterprise the path names, if the caller's organization belongs to it (else 404), for
/// `op` (else 403).
fn in_enterprise(call: &Call<EnterprisePath>, op: Operation) -> Scope<Enterprise> {
    Scope::new(call, caller_enterprise, &call.path.enterprise, op)
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
    operation_id = "patgate/get-enterprise-token-policy", tag = "patgate", params(EnterprisePath),
    responses(
        (status = 200, description = "Response", body = EnterpriseTokenPolicyDto),
        AuthErrors, NotEnterprise,
    ),
    security(("installation_token" = []))
)]
#[get("/enterprises/{enterprise}/personal-access-token-policy")]
pub async fn get_enterprise_token_policy(call: Call<EnterprisePath>) -> Reply {
    let body = in_enterprise(&call, Operation::ReadEnterprisePolicy)
        .read(dto)
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
    operation_id = "patgate/set-enterprise-token-policy", tag = "patgate", params(EnterprisePath),
    request_body = PolicySettingsDto,
    responses(
        (status = 200, description = "The enterprise's policy now", body = EnterpriseTokenPolicyDto),
        AuthErrors, NotEnterprise, MalformedJson,
        (status = 422, description = "Validation failed, naming the setting", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[put("/enterprises/{enterprise}/personal-access-token-policy")]
pub async fn set_enterprise_token_policy(call: Call<EnterprisePath>, payload: RawBody) -> Reply {
    let input = read_settings(&payload);
    let (actor, installation_id) = (Some(call.caller.actor()), call.caller.installation_id());
    let body = in_enterprise(&call, Operation::WriteEnterprisePolicy)
        .write(move |db, enterprise| {
            let (settings, description) = input?;
            // Every organization of the enterprise reads this policy: every kept answer goes.
            db.write(Touches::Everything, |conn| {
                let at = patgate_persistence::now();
                policy::save(conn, Owner::Enterprise(enterprise.id), &settings, at)?;
                policy::audit_enterprise_change(conn, enterprise.id, actor, &description, at)?;
                tracing::info!(
                    enterprise_id = enterprise.id,
                    installation_id,
                    "enterprise token policy changed"
                );
                dto(conn, enterprise)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}
