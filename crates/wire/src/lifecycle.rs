//! Wire shapes of patgate's own endpoints: token policy, intake from the token issuer, the access check and the audit trail.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use patgate_domain::intake::{AccessQuery, QueriedToken, TokenFiling, UseReport};
use patgate_domain::policy::{EffectivePolicy, PolicySettings};
use patgate_domain::{
    AccessLevel, EmailAddress, Login, PermissionFilter, RepoName, RepositorySelection,
    ReviewReason, TokenName,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Fault, TokenPermissions};

/// `allowed` or `restricted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Allowed,
    Restricted,
}

/// `required` or `not_required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Required,
    NotRequired,
}

/// One level's token policy. `null` leaves a setting to the enterprise or the default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySettingsDto {
    /// Whether fine-grained personal access tokens may reach the organization.
    pub fine_grained_tokens: Option<Access>,
    /// Whether their requests wait for a reviewer's approval.
    pub fine_grained_approval: Option<Approval>,
    /// Whether personal access tokens (classic) may reach the organization.
    pub classic_tokens: Option<Access>,
    /// Longest lifetime of a fine-grained token, in days (1–366, as on GitHub).
    #[schema(minimum = 1, maximum = 366)]
    pub fine_grained_max_lifetime_days: Option<u32>,
    /// Longest lifetime of a classic token, in days (1–366, as on GitHub).
    #[schema(minimum = 1, maximum = 366)]
    pub classic_max_lifetime_days: Option<u32>,
    /// Whether the organization's owners' tokens are exempt from the lifetime limits
    /// (GitHub's "exempt administrators").
    pub exempt_administrators: Option<bool>,
}

impl From<&PolicySettings> for PolicySettingsDto {
    fn from(p: &PolicySettings) -> Self {
        Self {
            fine_grained_tokens: p.fine_grained_allowed.map(access),
            fine_grained_approval: p.approval_required.map(approval),
            classic_tokens: p.classic_allowed.map(access),
            fine_grained_max_lifetime_days: p.fine_grained_max_days,
            classic_max_lifetime_days: p.classic_max_days,
            exempt_administrators: p.exempt_administrators,
        }
    }
}

impl From<&PolicySettingsDto> for PolicySettings {
    fn from(p: &PolicySettingsDto) -> Self {
        Self {
            fine_grained_allowed: p.fine_grained_tokens.map(|a| a == Access::Allowed),
            approval_required: p.fine_grained_approval.map(|a| a == Approval::Required),
            classic_allowed: p.classic_tokens.map(|a| a == Access::Allowed),
            fine_grained_max_days: p.fine_grained_max_lifetime_days,
            classic_max_days: p.classic_max_lifetime_days,
            exempt_administrators: p.exempt_administrators,
        }
    }
}

/// Settings as a body sets them: each lifetime within GitHub's bounds.
impl TryFrom<PolicySettingsDto> for PolicySettings {
    type Error = Fault;

    fn try_from(dto: PolicySettingsDto) -> Result<Self, Fault> {
        let settings = Self::from(&dto);
        settings
            .validate()
            .map_err(|e| Fault::invalid(e.field(), e.to_string()))?;
        Ok(settings)
    }
}

fn access(allowed: bool) -> Access {
    if allowed {
        Access::Allowed
    } else {
        Access::Restricted
    }
}

fn approval(required: bool) -> Approval {
    if required {
        Approval::Required
    } else {
        Approval::NotRequired
    }
}

/// The policy in force, every setting decided.
#[derive(Debug, Serialize, ToSchema)]
pub struct EffectivePolicyDto {
    pub fine_grained_tokens: Access,
    pub fine_grained_approval: Approval,
    pub classic_tokens: Access,
    pub fine_grained_max_lifetime_days: u32,
    /// `null`: classic tokens may live for ever.
    pub classic_max_lifetime_days: Option<u32>,
    /// Whether the organization's owners' tokens are exempt from the lifetime limits.
    pub exempt_administrators: bool,
}

impl From<&EffectivePolicy> for EffectivePolicyDto {
    fn from(p: &EffectivePolicy) -> Self {
        Self {
            fine_grained_tokens: access(p.fine_grained_allowed),
            fine_grained_approval: approval(p.approval_required),
            classic_tokens: access(p.classic_allowed),
            fine_grained_max_lifetime_days: p.fine_grained_max_days,
            classic_max_lifetime_days: p.classic_max_days,
            exempt_administrators: p.exempt_administrators,
        }
    }
}

/// An enterprise's policy, which binds its organizations.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterprisePolicyDto {
    pub slug: String,
    pub policy: PolicySettingsDto,
}

/// An enterprise's token policy as its own endpoint shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseTokenPolicyDto {
    pub slug: String,
    pub policy: PolicySettingsDto,
    /// How many organizations the policy binds.
    pub organizations_count: i64,
}

/// The token policy of an organization: its own settings, its enterprise's, and the result.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPolicyDto {
    pub organization: PolicySettingsDto,
    pub enterprise: Option<EnterprisePolicyDto>,
    pub effective: EffectivePolicyDto,
}

/// `read`, `write` or `admin` (documentation of a string field).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum LevelName {
    Read,
    Write,
    Admin,
}

/// `none`, `all` or `subset` (documentation of a string field).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RepositorySelectionName {
    None,
    All,
    Subset,
}

/// `fine_grained` or `classic` (documentation of a string field).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TokenKindName {
    FineGrained,
    Classic,
}

/// A token's request as the issuer files it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequestBody {
    /// The token owner's login (created if patgate does not know it yet).
    pub owner: String,
    /// The token's id.
    #[schema(minimum = 1)]
    pub token_id: i64,
    #[schema(min_length = 1, max_length = 255)]
    pub token_name: String,
    /// When the token expires (`YYYY-MM-DDTHH:MM:SSZ`); `null` for never.
    #[schema(format = DateTime)]
    pub token_expires_at: Option<String>,
    /// `none`, `all` or `subset`.
    #[schema(value_type = RepositorySelectionName)]
    pub repository_selection: String,
    /// Repository names, for `subset`.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub repositories: Vec<String>,
    pub permissions: TokenPermissions,
    /// The owner's reason, shown to reviewers.
    #[schema(max_length = 1024)]
    pub reason: Option<String>,
    /// The owner's e-mail address, where the notice of the review goes; it replaces the one
    /// patgate has. Omitted: the address patgate has (from the seed file or an earlier filing)
    /// stays.
    #[schema(max_length = 254, format = "email", example = "octocat@example.com")]
    pub owner_email: Option<String>,
}

/// Where a filed request stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRequestStatus {
    /// The request's id (`pat_request_id`).
    pub id: i64,
    /// `pending`, `approved`, `denied`, `cancelled` or `expired`.
    pub status: String,
    pub token_id: i64,
    /// The grant, once approved.
    pub grant_id: Option<i64>,
    /// The reviewer's reason (a denial's is meant for the token's owner).
    pub review_reason: Option<String>,
    pub reviewed_at: Option<String>,
    pub created_at: String,
    /// What a resubmission adds to the access the token already had.
    pub permissions_added: Option<TokenPermissions>,
    /// What it upgrades in that access.
    pub permissions_upgraded: Option<TokenPermissions>,
    /// All the permissions asked for.
    pub permissions_result: TokenPermissions,
    /// What the organization's review rules decided about it, and why (`null`: no rules
    /// decided about it).
    pub automatic_review: Option<crate::rules::AutomaticReviewDto>,
}

/// A token's last use.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportUseBody {
    #[schema(minimum = 1)]
    pub token_id: i64,
    /// When it was used (`YYYY-MM-DDTHH:MM:SSZ`); default: now.
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
}

/// May a token do this now?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessCheckBody {
    /// `fine_grained` (default) or `classic`. Classic tokens need no grant: only the policy
    /// (allowed at all, lifetime) decides, from `token_created_at` and `token_expires_at`.
    #[schema(value_type = Option<TokenKindName>)]
    pub token_kind: Option<String>,
    /// The fine-grained token's id (any value for a classic token).
    #[schema(minimum = 1)]
    pub token_id: i64,
    /// A classic token's creation time (`YYYY-MM-DDTHH:MM:SSZ`).
    #[schema(format = DateTime)]
    pub token_created_at: Option<String>,
    /// A classic token's expiry; `null` for never.
    #[schema(format = DateTime)]
    pub token_expires_at: Option<String>,
    /// A permission name, e.g. `contents` or `members`.
    pub permission: String,
    /// `read`, `write` or `admin`.
    #[schema(value_type = LevelName)]
    pub level: String,
    /// The repository acted on, if any (its name).
    pub repository: Option<String>,
}

/// The answer of the access check.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessCheckResult {
    pub allowed: bool,
    /// `granted`, `no_grant`, `pending`, `denied`, `cancelled`, `revoked`, `expired`, `policy`,
    /// `repository_not_granted`, `permission_not_granted`, or for classic tokens
    /// `classic_allowed`.
    pub reason: String,
    /// Why, in words (for `policy`, which rule of which level).
    pub message: String,
    pub grant_id: Option<i64>,
    pub request_id: Option<i64>,
}

/// The app and installation that acted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditActor {
    pub app_id: i64,
    pub installation_id: Option<i64>,
}

/// One event of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventDto {
    pub id: i64,
    /// e.g. `request.created`, `request.approved`, `request.denied`, `request.cancelled`,
    /// `request.expired`, `grant.revoked`, `grant.expired`, `grant.superseded`,
    /// `policy.updated`, `installation.suspended`, `installation.unsuspended`,
    /// `notifications.updated`.
    pub action: String,
    /// `request`, `grant`, `policy`, `installation` or `notifications`.
    pub subject_type: String,
    pub subject_id: i64,
    /// `null` for the server's own actions (expiry).
    pub actor: Option<AuditActor>,
    pub reason: Option<String>,
    pub created_at: String,
}

/// Converts the wire permission groups to the domain's, refusing unknown levels.
pub fn requested_permissions(
    p: &TokenPermissions,
) -> Result<patgate_domain::RequestedPermissions, String> {
    let group = |g: &Option<BTreeMap<String, String>>| {
        g.iter()
            .flatten()
            .map(|(k, v)| {
                patgate_domain::AccessLevel::parse(v)
                    .map(|l| (k.clone(), l))
                    .ok_or_else(|| format!("{k}: level must be read, write or admin"))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
    };
    let out = patgate_domain::RequestedPermissions {
        organization: group(&p.organization)?,
        repository: group(&p.repository)?,
        other: group(&p.other)?,
    };
    if !out.is_well_formed() {
        return Err("permission names are lowercase letters, digits and underscores".into());
    }
    Ok(out)
}

fn invalid(field: &str, message: impl Into<String>) -> Fault {
    Fault::invalid(field, message)
}

/// A time as the issuer writes it (ISO 8601 with an offset), to the second.
fn time(field: &str, raw: &str) -> Result<NaiveDateTime, Fault> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| patgate_persistence::truncate(t.naive_utc()))
        .map_err(|_| Fault::invalid(field, format!("{field} must be an ISO 8601 time")))
}

fn optional_time(field: &str, raw: Option<&str>) -> Result<Option<NaiveDateTime>, Fault> {
    raw.map(|t| time(field, t)).transpose()
}

/// The repositories named: 1 to 500 exactly when the selection is `subset`.
fn repositories(selection: RepositorySelection, names: &[String]) -> Result<Vec<RepoName>, Fault> {
    if selection.lists_repositories() == names.is_empty() || names.len() > 500 {
        return Err(invalid(
            "repositories",
            "1 to 500 repositories are listed exactly when repository_selection is subset",
        ));
    }
    names
        .iter()
        .map(|name| {
            RepoName::parse(name).map_err(|e| invalid("repositories", format!("{name:?} {e}")))
        })
        .collect()
}

/// A plain e-mail address (`local@domain`): at most 254 characters, one `@`, a dotted domain,
/// no spaces, quotes, commas or angle brackets.
fn email(raw: &str) -> Result<EmailAddress, Fault> {
    EmailAddress::parse(raw).ok_or_else(|| {
        invalid(
            "owner_email",
            "owner_email must be a plain e-mail address (local@domain)",
        )
    })
}

/// The fields checked in the order their faults are reported.
impl TryFrom<SubmitRequestBody> for TokenFiling {
    type Error = Fault;

    fn try_from(body: SubmitRequestBody) -> Result<Self, Fault> {
        let owner =
            Login::parse(&body.owner).map_err(|e| invalid("owner", format!("owner {e}")))?;
        if body.token_id <= 0 {
            return Err(invalid("token_id", "token_id must be a positive integer"));
        }
        let token_name = TokenName::parse(&body.token_name)
            .map_err(|_| invalid("token_name", "token_name must be 1 to 255 characters"))?;
        let token_expires_at = optional_time("token_expires_at", body.token_expires_at.as_deref())?;
        let selection =
            RepositorySelection::parse(&body.repository_selection).ok_or_else(|| {
                invalid(
                    "repository_selection",
                    "repository_selection must be none, all or subset",
                )
            })?;
        let repositories = repositories(selection, &body.repositories)?;
        let permissions =
            requested_permissions(&body.permissions).map_err(|m| invalid("permissions", m))?;
        let reason = body
            .reason
            .as_deref()
            .map(ReviewReason::parse)
            .transpose()
            .map_err(|e| invalid("reason", e.to_string()))?;
        let owner_email = body.owner_email.as_deref().map(email).transpose()?;
        Ok(Self {
            owner,
            owner_email,
            token_id: body.token_id,
            token_name,
            token_expires_at,
            selection,
            repositories,
            permissions,
            reason,
        })
    }
}

impl TryFrom<ReportUseBody> for UseReport {
    type Error = Fault;

    fn try_from(body: ReportUseBody) -> Result<Self, Fault> {
        Ok(Self {
            token_id: body.token_id,
            last_used_at: optional_time("last_used_at", body.last_used_at.as_deref())?,
        })
    }
}

/// The fields checked in the order their faults are reported.
impl TryFrom<AccessCheckBody> for AccessQuery {
    type Error = Fault;

    fn try_from(body: AccessCheckBody) -> Result<Self, Fault> {
        let level = AccessLevel::parse(&body.level)
            .ok_or_else(|| invalid("level", "level must be read, write or admin"))?;
        if PermissionFilter::parse(&format!("{}_read", body.permission)).is_none() {
            return Err(invalid(
                "permission",
                "permission must be a permission name, e.g. contents",
            ));
        }
        let repository = body
            .repository
            .as_deref()
            .map(RepoName::parse)
            .transpose()
            .map_err(|e| invalid("repository", format!("repository {e}")))?;
        let token = match body.token_kind.as_deref() {
            None | Some("fine_grained") => QueriedToken::FineGrained {
                token_id: body.token_id,
            },
            Some("classic") => QueriedToken::Classic {
                created_at: optional_time("token_created_at", body.token_created_at.as_deref())?
                    .ok_or_else(|| {
                        invalid(
                            "token_created_at",
                            "a classic token's creation time is required",
                        )
                    })?,
                expires_at: optional_time("token_expires_at", body.token_expires_at.as_deref())?,
            },
            Some(_) => {
                return Err(invalid(
                    "token_kind",
                    "token_kind must be fine_grained or classic",
                ))
            }
        };
        Ok(Self {
            token,
            permission: body.permission,
            level,
            repository,
        })
    }
}
