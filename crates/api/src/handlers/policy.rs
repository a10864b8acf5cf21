//! `/orgs/{org}/personal-access-token-policy` and the audit trail: an organization's token policy, bounded by its enterprise's, and the record of what happened.

use actix_web::{get, put, HttpRequest, HttpResponse};
use chrono::DateTime;
use patgate_domain::policy::{PolicyError, PolicySettings};
use patgate_domain::Operation;
use patgate_persistence::audit::{self, AuditFilter};
use patgate_persistence::policy::{self, Owner};
use patgate_persistence::Touches;
use utoipa::IntoParams;

use super::errors::{MalformedJson, NotFoundErrors};
use super::params::{OrgPath, PageParams};
use super::{page_json, Call, Reply};
use crate::body::{self, RawBody};
use crate::dto::lifecycle::{
    AuditActor, AuditEventDto, EffectivePolicyDto, EnterprisePolicyDto, PolicySettingsDto,
    TokenPolicyDto,
};
use crate::dto::timestamp;
use crate::error::{ApiError, FieldError, ValidationError as ValidationBody};
use crate::pagination::{invalid_request, query_pairs, read_page};

const RESOURCE: &str = "TokenPolicy";

fn policy_dto(
    conn: &mut patgate_persistence::DbConnection,
    org_id: i64,
) -> Result<TokenPolicyDto, ApiError> {
    let stack = policy::stack(conn, org_id)?;
    let enterprise = policy::enterprise_of(conn, org_id)?.map(|e| EnterprisePolicyDto {
        slug: e.slug,
        policy: PolicySettingsDto::from(&stack.enterprise.unwrap_or_default()),
    });
    Ok(TokenPolicyDto {
        organization: PolicySettingsDto::from(&stack.organization),
        enterprise,
        effective: EffectivePolicyDto::from(&stack.effective()),
    })
}

/// Get the personal access token policy of an organization
///
/// The organization's own settings, its enterprise's (which bound them), and the policy in
/// force. Needs `organization_administration: read`.
#[utoipa::path(
    operation_id = "patgate/get-token-policy", tag = "patgate", params(OrgPath),
    responses((status = 200, description = "Response", body = TokenPolicyDto), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-policy")]
pub async fn get_token_policy(call: Call<OrgPath>) -> Reply {
    let dto = call
        .in_org(Operation::ReadPolicy)
        .read(|conn, org| policy_dto(conn, org.id))
        .await?;
    Ok(HttpResponse::Ok().json(dto))
}

/// Set the personal access token policy of an organization
///
/// Replaces the organization's settings; `null` leaves a setting to the enterprise or the
/// default. A setting may not loosen the enterprise's policy (422 naming it). Pending requests
/// stay reviewable; the change is recorded in the audit trail. Needs
/// `organization_administration: write`.
#[utoipa::path(
    operation_id = "patgate/set-token-policy", tag = "patgate", params(OrgPath),
    request_body = PolicySettingsDto,
    responses(
        (status = 200, description = "The policy now in force", body = TokenPolicyDto),
        NotFoundErrors, MalformedJson,
        (status = 422, description = "Validation failed, or the setting loosens the enterprise policy", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[put("/orgs/{org}/personal-access-token-policy")]
pub async fn set_token_policy(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let input = read_settings(&payload);
    let actor = Some(call.caller.actor());
    let dto = call
        .in_org(Operation::WritePolicy)
        .write(move |db, org| {
            let (settings, description) = input?;
            db.write(Touches::Org(org.id), |conn| {
                let stack = policy::stack(conn, org.id)?;
                if let Some(enterprise) = &stack.enterprise {
                    settings.check_within(enterprise).map_err(policy_error)?;
                }
                let at = patgate_persistence::now();
                policy::save(conn, Owner::Organization(org.id), &settings, at)?;
                policy::audit_change(conn, org.id, actor, &description, at)?;
                policy_dto(conn, org.id)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(dto))
}

/// A policy body (an organization's or an enterprise's): the settings, and the JSON the
/// audit trail keeps of them.
pub(crate) fn read_settings(payload: &RawBody) -> Result<(PolicySettings, String), ApiError> {
    let settings: PolicySettings = body::read::<PolicySettingsDto, _>(payload, RESOURCE)?;
    let description =
        serde_json::to_string(&PolicySettingsDto::from(&settings)).map_err(ApiError::internal)?;
    Ok((settings, description))
}

/// A 422 naming the setting and the rule that refused it.
pub(crate) fn policy_error(e: PolicyError) -> ApiError {
    ApiError::invalid(RESOURCE, e.field(), "invalid", e.to_string())
}

/// List the audit trail of an organization's token governance
///
/// Every request created, updated, approved, denied, cancelled or expired, every grant
/// revoked, expired or superseded, and every policy change, newest first. Filters: `action`,
/// `subject_type`, `subject_id`, `after`, `before` (ISO 8601). Needs
/// `organization_administration: read`.
#[utoipa::path(
    operation_id = "patgate/list-audit-events", tag = "patgate",
    params(OrgPath, AuditEventQuery, PageParams),
    responses(
        (status = 200, description = "Response", body = Vec<AuditEventDto>,
            headers(("Link" = String, description = "Pagination links"))),
        NotFoundErrors,
        (status = 422, description = "Invalid parameters", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-audit-log")]
pub async fn list_audit_events(call: Call<OrgPath>, req: HttpRequest) -> Reply {
    let query = parse_audit_query(req.query_string());
    let (page, (rows, total)) = call
        .in_org(Operation::ReadAudit)
        .read(move |conn, org| {
            let (filter, page) = query?;
            Ok((page, audit::list(conn, org.id, &filter, page)?))
        })
        .await?;
    let items: Vec<AuditEventDto> = rows
        .into_iter()
        .map(|e| AuditEventDto {
            id: e.id,
            action: e.action,
            subject_type: e.subject_type,
            subject_id: e.subject_id,
            actor: e.app_id.map(|app_id| AuditActor {
                app_id,
                installation_id: e.installation_id,
            }),
            reason: e.reason,
            created_at: timestamp(e.created_at),
        })
        .collect();
    Ok(page_json(&call.state, &req, page, total, &items))
}

/// The filters of the audit trail, as documented; [`parse_audit_query`] reads them.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; parse_audit_query reads it")]
struct AuditEventQuery {
    /// e.g. request.approved
    action: Option<String>,
    /// request, grant, policy, enterprise_policy, notifications or installation
    subject_type: Option<String>,
    /// The request's, grant's, installation's, enterprise's or (for policy and notifications) organization's id
    subject_id: Option<i64>,
    /// Only events after this time
    after: Option<String>,
    /// Only events before this time
    before: Option<String>,
}

fn parse_audit_query(query: &str) -> Result<(AuditFilter, patgate_persistence::Page), ApiError> {
    let pairs = query_pairs(query);
    let mut errors = Vec::new();
    let page = read_page(&pairs, &mut errors);
    let mut filter = AuditFilter::default();
    let bad = |field: &str, message: &str| FieldError::new("AuditEvent", field, "invalid", message);
    for (key, value) in &pairs {
        let time = || DateTime::parse_from_rfc3339(value).map(|t| t.naive_utc());
        match key.as_str() {
            "action" => filter.action = Some(value.clone()),
            "subject_type" => filter.subject_type = Some(value.clone()),
            "subject_id" => match value.parse() {
                Ok(id) => filter.subject_id = Some(id),
                Err(_) => errors.push(bad("subject_id", "subject_id must be an integer")),
            },
            "after" => match time() {
                Ok(t) => filter.after = Some(t),
                Err(_) => errors.push(bad("after", "after must be an ISO 8601 time")),
            },
            "before" => match time() {
                Ok(t) => filter.before = Some(t),
                Err(_) => errors.push(bad("before", "before must be an ISO 8601 time")),
            },
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok((filter, page))
    } else {
        Err(invalid_request(errors))
    }
}
