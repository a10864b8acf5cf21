//! Wire shapes, field for field as GitHub's schemas, built from stored rows.

pub mod fault;
pub mod hook_bodies;
pub mod hooks;
pub mod lifecycle;
pub mod rules;

pub use fault::Fault;

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Utc};
use patgate_domain::{
    Bulk, IdList, RequestedPermissions, ReviewAction, ReviewReason, Revoking, Ruling,
};
use patgate_persistence::grants::GrantView;
use patgate_persistence::models::{App, Installation, Organization, Owner, Repository, User};
use patgate_persistence::requests::RequestView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Timestamps as GitHub writes them: `2026-11-23T08:47:09Z`.
pub fn timestamp(t: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    // Written out rather than through `format`, which parses its pattern on every call: a
    // page of 30 requests writes about a hundred timestamps.
    if (0..=9999).contains(&t.year()) {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// The parts joined into one string, allocated once.
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

fn node_id(kind: &str, id: i64) -> String {
    format!("{kind}_{id:x}")
}

/// GitHub's `simple-user`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimpleUser {
    pub login: String,
    pub id: i64,
    pub node_id: String,
    pub avatar_url: String,
    pub gravatar_id: Option<String>,
    pub url: String,
    pub html_url: String,
    pub followers_url: String,
    pub following_url: String,
    pub gists_url: String,
    pub starred_url: String,
    pub subscriptions_url: String,
    pub organizations_url: String,
    pub repos_url: String,
    pub events_url: String,
    pub received_events_url: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub site_admin: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub user_view_type: String,
}

impl SimpleUser {
    fn build(base: &str, login: &str, id: i64, kind: &str) -> Self {
        let (collection, node) = match kind {
            "Organization" => ("orgs", "O"),
            _ => ("users", "U"),
        };
        // Concatenation rather than `format!`: a page of 30 requests writes 450 of these.
        let url = concat(&[base, "/", collection, "/", login]);
        let under = |suffix: &str| concat(&[&url, suffix]);
        Self {
            login: login.to_owned(),
            id,
            node_id: node_id(node, id),
            avatar_url: concat(&[base, "/avatars/", login]),
            gravatar_id: Some(String::new()),
            html_url: concat(&[base, "/", login]),
            followers_url: under("/followers"),
            following_url: under("/following{/other_user}"),
            gists_url: under("/gists{/gist_id}"),
            starred_url: under("/starred{/owner}{/repo}"),
            subscriptions_url: under("/subscriptions"),
            organizations_url: under("/orgs"),
            repos_url: under("/repos"),
            events_url: under("/events{/privacy}"),
            received_events_url: under("/received_events"),
            url,
            kind: kind.to_owned(),
            site_admin: false,
            name: None,
            email: None,
            user_view_type: "public".to_owned(),
        }
    }

    /// Any account by login, id and type (`User`, `Bot`).
    pub fn of_login(base: &str, login: &str, id: i64, kind: &str) -> Self {
        Self::build(base, login, id, kind)
    }

    pub fn of_user(base: &str, user: &User) -> Self {
        let mut out = Self::build(base, &user.login, user.id, "User");
        out.site_admin = user.site_admin;
        out
    }

    /// The owner of a listed request or grant.
    pub fn of_owner(base: &str, owner: &Owner) -> Self {
        let mut out = Self::build(base, &owner.login, owner.id, "User");
        out.site_admin = owner.site_admin;
        out
    }

    pub fn of_org(base: &str, org: &Organization) -> Self {
        Self::build(base, &org.login, org.id, "Organization")
    }
}

/// The permissions a token requests or holds, grouped as GitHub groups them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"organization": {"members": "read"}, "repository": {"metadata": "read"}}))]
pub struct TokenPermissions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<BTreeMap<String, String>>,
}

impl From<&RequestedPermissions> for TokenPermissions {
    fn from(p: &RequestedPermissions) -> Self {
        let group = |m: &BTreeMap<String, patgate_domain::AccessLevel>| {
            (!m.is_empty()).then(|| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().to_owned()))
                    .collect()
            })
        };
        Self {
            organization: group(&p.organization),
            repository: group(&p.repository),
            other: group(&p.other),
        }
    }
}

/// GitHub's `organization-programmatic-access-grant-request`: a fine-grained token's pending
/// request for access to the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatGrantRequest {
    /// The request's id (`pat_request_id`).
    pub id: i64,
    /// Why the token's owner asked for access.
    pub reason: Option<String>,
    pub owner: SimpleUser,
    /// `none`, `all` or `subset` of the organization's repositories.
    #[schema(example = "subset")]
    pub repository_selection: String,
    /// Lists the repositories; only meaningful when `repository_selection` is `subset`.
    pub repositories_url: String,
    pub permissions: TokenPermissions,
    pub created_at: String,
    /// The id of the owner's token.
    pub token_id: i64,
    pub token_name: String,
    pub token_expired: bool,
    pub token_expires_at: Option<String>,
    pub token_last_used_at: Option<String>,
}

impl PatGrantRequest {
    pub fn build(base: &str, org_login: &str, view: &RequestView) -> Self {
        let r = &view.request;
        let permissions = &view.permissions;
        let now = Utc::now().naive_utc();
        Self {
            id: r.id,
            reason: r.reason.clone(),
            owner: SimpleUser::of_owner(base, &view.owner),
            repository_selection: r.repository_selection.clone(),
            repositories_url: format!(
                "{base}/orgs/{org_login}/personal-access-token-requests/{}/repositories",
                r.id
            ),
            permissions: TokenPermissions::from(permissions),
            created_at: timestamp(r.created_at),
            token_id: view.token.id,
            token_name: view.token.name.clone(),
            token_expired: r.token_expires_at.is_some_and(|t| t <= now),
            token_expires_at: r.token_expires_at.map(timestamp),
            token_last_used_at: r.token_last_used_at.map(timestamp),
        }
    }
}

/// GitHub's `minimal-repository`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinimalRepository {
    pub id: i64,
    pub node_id: String,
    pub name: String,
    pub full_name: String,
    pub owner: SimpleUser,
    pub private: bool,
    pub html_url: String,
    pub description: Option<String>,
    pub fork: bool,
    pub url: String,
    pub archive_url: String,
    pub assignees_url: String,
    pub blobs_url: String,
    pub branches_url: String,
    pub collaborators_url: String,
    pub comments_url: String,
    pub commits_url: String,
    pub compare_url: String,
    pub contents_url: String,
    pub contributors_url: String,
    pub deployments_url: String,
    pub downloads_url: String,
    pub events_url: String,
    pub forks_url: String,
    pub git_commits_url: String,
    pub git_refs_url: String,
    pub git_tags_url: String,
    pub hooks_url: String,
    pub issue_comment_url: String,
    pub issue_events_url: String,
    pub issues_url: String,
    pub keys_url: String,
    pub labels_url: String,
    pub languages_url: String,
    pub merges_url: String,
    pub milestones_url: String,
    pub notifications_url: String,
    pub pulls_url: String,
    pub releases_url: String,
    pub stargazers_url: String,
    pub statuses_url: String,
    pub subscribers_url: String,
    pub subscription_url: String,
    pub tags_url: String,
    pub teams_url: String,
    pub trees_url: String,
    pub visibility: String,
    pub created_at: Option<String>,
}

impl MinimalRepository {
    pub fn build(base: &str, org: &Organization, repo: &Repository) -> Self {
        let full_name = format!("{}/{}", org.login, repo.name);
        let url = format!("{base}/repos/{full_name}");
        let u = |suffix: &str| concat(&[&url, "/", suffix]);
        Self {
            id: repo.id,
            node_id: node_id("R", repo.id),
            name: repo.name.clone(),
            owner: SimpleUser::of_org(base, org),
            private: repo.private,
            html_url: format!("{base}/{full_name}"),
            description: repo.description.clone(),
            fork: false,
            archive_url: u("{archive_format}{/ref}"),
            assignees_url: u("assignees{/user}"),
            blobs_url: u("git/blobs{/sha}"),
            branches_url: u("branches{/branch}"),
            collaborators_url: u("collaborators{/collaborator}"),
            comments_url: u("comments{/number}"),
            commits_url: u("commits{/sha}"),
            compare_url: u("compare/{base}...{head}"),
            contents_url: u("contents/{+path}"),
            contributors_url: u("contributors"),
            deployments_url: u("deployments"),
            downloads_url: u("downloads"),
            events_url: u("events"),
            forks_url: u("forks"),
            git_commits_url: u("git/commits{/sha}"),
            git_refs_url: u("git/refs{/sha}"),
            git_tags_url: u("git/tags{/sha}"),
            hooks_url: u("hooks"),
            issue_comment_url: u("issues/comments{/number}"),
            issue_events_url: u("issues/events{/number}"),
            issues_url: u("issues{/number}"),
            keys_url: u("keys{/key_id}"),
            labels_url: u("labels{/name}"),
            languages_url: u("languages"),
            merges_url: u("merges"),
            milestones_url: u("milestones{/number}"),
            notifications_url: u("notifications{?since,all,participating}"),
            pulls_url: u("pulls{/number}"),
            releases_url: u("releases{/id}"),
            stargazers_url: u("stargazers"),
            statuses_url: u("statuses/{sha}"),
            subscribers_url: u("subscribers"),
            subscription_url: u("subscription"),
            tags_url: u("tags"),
            teams_url: u("teams"),
            trees_url: u("git/trees{/sha}"),
            visibility: if repo.private { "private" } else { "public" }.to_owned(),
            created_at: Some(timestamp(repo.created_at)),
            full_name,
            url,
        }
    }
}

/// GitHub's `installation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallationDto {
    pub id: i64,
    pub account: SimpleUser,
    /// `all` or `selected`.
    pub repository_selection: String,
    pub access_tokens_url: String,
    pub repositories_url: String,
    pub html_url: String,
    pub app_id: i64,
    pub app_slug: String,
    pub client_id: String,
    pub target_id: i64,
    pub target_type: String,
    #[schema(value_type = Object)]
    pub permissions: BTreeMap<String, String>,
    pub events: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub single_file_name: Option<String>,
    pub has_multiple_single_files: bool,
    pub single_file_paths: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub suspended_by: Option<SimpleUser>,
    pub suspended_at: Option<String>,
}

impl InstallationDto {
    /// The installation as GitHub shows it; malformed stored permissions or events are an
    /// error.
    pub fn build(
        base: &str,
        app: &App,
        inst: &Installation,
        org: &Organization,
    ) -> Result<Self, patgate_persistence::StoreError> {
        let permissions = inst.permission_levels()?;
        let events = inst.event_names()?;
        Ok(Self {
            id: inst.id,
            account: SimpleUser::of_org(base, org),
            repository_selection: inst.repository_selection.clone(),
            access_tokens_url: format!("{base}/app/installations/{}/access_tokens", inst.id),
            repositories_url: format!("{base}/installation/repositories"),
            html_url: format!(
                "{base}/organizations/{}/settings/installations/{}",
                org.login, inst.id
            ),
            app_id: app.id,
            app_slug: app.slug.clone(),
            client_id: app.client_id.clone(),
            target_id: org.id,
            target_type: "Organization".to_owned(),
            permissions,
            events,
            created_at: timestamp(inst.created_at),
            updated_at: timestamp(inst.updated_at),
            single_file_name: None,
            has_multiple_single_files: false,
            single_file_paths: Vec::new(),
            suspended_by: None,
            suspended_at: inst.suspended_at.map(timestamp),
        })
    }
}

/// GitHub's `integration`: the authenticated app.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppDto {
    pub id: i64,
    pub slug: String,
    pub node_id: String,
    pub client_id: String,
    #[schema(value_type = Option<Object>)]
    pub owner: Option<SimpleUser>,
    pub name: String,
    pub description: Option<String>,
    pub external_url: String,
    pub html_url: String,
    pub created_at: String,
    pub updated_at: String,
    #[schema(value_type = Object)]
    pub permissions: BTreeMap<String, String>,
    pub events: Vec<String>,
    pub installations_count: i64,
}

impl AppDto {
    pub fn build(base: &str, app: &App, owner: Option<&Organization>, installations: i64) -> Self {
        Self {
            id: app.id,
            slug: app.slug.clone(),
            node_id: node_id("A", app.id),
            client_id: app.client_id.clone(),
            owner: owner.map(|o| SimpleUser::of_org(base, o)),
            name: app.name.clone(),
            description: app.description.clone(),
            external_url: format!("{base}/apps/{}", app.slug),
            html_url: format!("{base}/apps/{}", app.slug),
            created_at: timestamp(app.created_at),
            updated_at: timestamp(app.updated_at),
            permissions: BTreeMap::new(),
            events: Vec::new(),
            installations_count: installations,
        }
    }
}

/// Body of `POST /app/installations/{installation_id}/access_tokens` (all optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstallationTokenBody {
    /// Repository names the token is limited to.
    #[schema(max_items = 500)]
    pub repositories: Option<Vec<String>>,
    /// Repository ids the token is limited to.
    #[schema(max_items = 500)]
    pub repository_ids: Option<Vec<i64>>,
    /// Permissions to narrow the token to; each must be held by the installation.
    #[schema(value_type = Option<Object>, example = json!({"organization_personal_access_token_requests": "read"}))]
    pub permissions: Option<BTreeMap<String, String>>,
}

/// GitHub's `installation-token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallationToken {
    /// The token, used as `Authorization: Bearer <token>` (or `token <token>`).
    pub token: String,
    #[schema(example = "2026-11-23T20:14:10Z")]
    pub expires_at: String,
    #[schema(value_type = Object)]
    pub permissions: BTreeMap<String, String>,
    /// `all` or `selected`.
    pub repository_selection: String,
}

/// Body of `POST /orgs/{org}/personal-access-token-requests/{pat_request_id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewPatGrantRequestBody {
    /// What to do with the request.
    #[schema(example = "deny")]
    pub action: ReviewActionName,
    /// Why; shared with the token's owner.
    #[schema(max_length = 1024, nullable = true)]
    pub reason: Option<String>,
}

/// Body of `POST /orgs/{org}/personal-access-token-requests`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewPatGrantRequestsInBulkBody {
    /// The requests to review, all pending; the call changes all of them or none.
    #[schema(min_items = 1, max_items = 100)]
    pub pat_request_ids: Vec<i64>,
    #[schema(example = "approve")]
    pub action: ReviewActionName,
    #[schema(max_length = 1024, nullable = true)]
    pub reason: Option<String>,
}

/// `approve` or `deny`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReviewActionName {
    Approve,
    Deny,
}

/// The `{}` body of a 202 Accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {}

/// GitHub's `organization-programmatic-access-grant`: a fine-grained token's approved access
/// to the organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatGrant {
    /// The grant's id (`pat_id`).
    pub id: i64,
    pub owner: SimpleUser,
    /// `none`, `all` or `subset` of the organization's repositories.
    #[schema(example = "subset")]
    pub repository_selection: String,
    /// Lists the repositories; only meaningful when `repository_selection` is `subset`.
    pub repositories_url: String,
    pub permissions: TokenPermissions,
    /// When the access was granted.
    pub access_granted_at: String,
    pub token_id: i64,
    pub token_name: String,
    pub token_expired: bool,
    pub token_expires_at: Option<String>,
    pub token_last_used_at: Option<String>,
}

impl PatGrant {
    pub fn build(base: &str, org_login: &str, view: &GrantView) -> Self {
        let g = &view.grant;
        let permissions = &view.permissions;
        let now = Utc::now().naive_utc();
        Self {
            id: g.id,
            owner: SimpleUser::of_owner(base, &view.owner),
            repository_selection: g.repository_selection.clone(),
            repositories_url: format!(
                "{base}/orgs/{org_login}/personal-access-tokens/{}/repositories",
                g.id
            ),
            permissions: TokenPermissions::from(permissions),
            access_granted_at: timestamp(g.access_granted_at),
            token_id: view.token.id,
            token_name: view.token.name.clone(),
            token_expired: g.token_expires_at.is_some_and(|t| t <= now),
            token_expires_at: g.token_expires_at.map(timestamp),
            token_last_used_at: g.token_last_used_at.map(timestamp),
        }
    }
}

/// `revoke`, the one action on a grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GrantActionName {
    Revoke,
}

/// Body of `POST /orgs/{org}/personal-access-tokens/{pat_id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdatePatAccessBody {
    pub action: GrantActionName,
    /// patgate's addition: why, told to the token's owner and kept in the audit trail.
    #[schema(max_length = 1024, nullable = true)]
    pub reason: Option<String>,
}

/// Body of `POST /orgs/{org}/personal-access-tokens`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdatePatAccessesBody {
    pub action: GrantActionName,
    /// The grants to revoke, all active; the call revokes all of them or none.
    #[schema(min_items = 1, max_items = 100)]
    pub pat_ids: Vec<i64>,
    /// patgate's addition: why, told to the tokens' owners and kept in the audit trail.
    #[schema(max_length = 1024, nullable = true)]
    pub reason: Option<String>,
}

/// A reason as the domain takes it (at most 1,024 characters).
fn reason(raw: Option<String>) -> Result<Option<ReviewReason>, Fault> {
    raw.as_deref()
        .map(ReviewReason::parse)
        .transpose()
        .map_err(|e| Fault::invalid("reason", e.to_string()))
}

/// A bulk call's ids (1 to 100, distinct, positive).
fn id_list(field: &str, ids: Vec<i64>) -> Result<IdList, Fault> {
    IdList::parse(ids).map_err(|e| Fault::invalid(field, e.to_string()))
}

impl From<ReviewActionName> for ReviewAction {
    fn from(name: ReviewActionName) -> Self {
        match name {
            ReviewActionName::Approve => Self::Approve,
            ReviewActionName::Deny => Self::Deny,
        }
    }
}

impl TryFrom<ReviewPatGrantRequestBody> for Ruling {
    type Error = Fault;

    fn try_from(body: ReviewPatGrantRequestBody) -> Result<Self, Fault> {
        Ok(Self {
            action: body.action.into(),
            reason: reason(body.reason)?,
        })
    }
}

impl TryFrom<ReviewPatGrantRequestsInBulkBody> for Bulk<Ruling> {
    type Error = Fault;

    fn try_from(body: ReviewPatGrantRequestsInBulkBody) -> Result<Self, Fault> {
        Ok(Self {
            ids: id_list("pat_request_ids", body.pat_request_ids)?,
            each: Ruling {
                action: body.action.into(),
                reason: reason(body.reason)?,
            },
        })
    }
}

impl TryFrom<UpdatePatAccessBody> for Revoking {
    type Error = Fault;

    fn try_from(body: UpdatePatAccessBody) -> Result<Self, Fault> {
        let GrantActionName::Revoke = body.action;
        Ok(Self {
            reason: reason(body.reason)?,
        })
    }
}

impl TryFrom<UpdatePatAccessesBody> for Bulk<Revoking> {
    type Error = Fault;

    fn try_from(body: UpdatePatAccessesBody) -> Result<Self, Fault> {
        let GrantActionName::Revoke = body.action;
        Ok(Self {
            ids: id_list("pat_ids", body.pat_ids)?,
            each: Revoking {
                reason: reason(body.reason)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_as_github_writes_them() {
        let cases = [
            "2026-11-23T08:47:09",
            "2024-02-29T23:59:59",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59",
        ];
        for text in cases {
            let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").expect("valid");
            assert_eq!(timestamp(t), format!("{text}Z"));
            assert_eq!(timestamp(t), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        let far = NaiveDateTime::parse_from_str("+12345-01-01T00:00:00", "%Y-%m-%dT%H:%M:%S")
            .expect("valid");
        assert_eq!(timestamp(far), far.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
}
