//! Row structs as stored, and the insertable `New*` forms.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::*;

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: i64,
    pub login: String,
    pub login_key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
    pub enterprise_id: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization<'a> {
    pub login: &'a str,
    pub login_key: &'a str,
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub login_key: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub site_admin: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub login: &'a str,
    pub login_key: &'a str,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub site_admin: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = repositories)]
pub struct Repository {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub name_key: String,
    pub private: bool,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = repositories)]
pub struct NewRepository<'a> {
    pub org_id: i64,
    pub name: &'a str,
    pub name_key: &'a str,
    pub private: bool,
    pub description: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = apps)]
pub struct App {
    pub id: i64,
    pub slug: String,
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub owner_org_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = apps)]
pub struct NewApp<'a> {
    pub slug: &'a str,
    pub client_id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub owner_org_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = app_keys)]
pub struct NewAppKey<'a> {
    pub app_id: i64,
    pub public_key_pem: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = installations)]
pub struct Installation {
    pub id: i64,
    pub app_id: i64,
    pub org_id: i64,
    pub permissions: String,
    pub events: String,
    pub repository_selection: String,
    pub suspended_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Installation {
    /// The permissions granted to the installation (name → level), as stored.
    pub fn permission_levels(
        &self,
    ) -> Result<std::collections::BTreeMap<String, String>, crate::StoreError> {
        crate::json::parse("installation permissions", &self.permissions)
    }

    /// The events the installation subscribes to, as stored.
    pub fn event_names(&self) -> Result<Vec<String>, crate::StoreError> {
        crate::json::parse("installation events", &self.events)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = installations)]
pub struct NewInstallation<'a> {
    pub app_id: i64,
    pub org_id: i64,
    pub permissions: &'a str,
    pub events: &'a str,
    pub repository_selection: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = tokens)]
pub struct Token {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tokens)]
pub struct NewToken<'a> {
    pub owner_id: i64,
    pub name: &'a str,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = pat_requests)]
pub struct PatRequest {
    pub id: i64,
    pub org_id: i64,
    pub token_id: i64,
    pub owner_id: i64,
    pub status: String,
    pub reason: Option<String>,
    pub repository_selection: String,
    pub permissions: String,
    pub created_at: NaiveDateTime,
    pub reviewed_at: Option<NaiveDateTime>,
    pub token_expires_at: Option<NaiveDateTime>,
    pub token_last_used_at: Option<NaiveDateTime>,
    pub permissions_added: Option<String>,
    pub permissions_upgraded: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = pat_requests)]
pub struct NewPatRequest<'a> {
    pub org_id: i64,
    pub token_id: i64,
    pub owner_id: i64,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub repository_selection: &'a str,
    pub permissions: &'a str,
    pub created_at: NaiveDateTime,
    pub token_expires_at: Option<NaiveDateTime>,
    pub token_last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = pat_grants)]
pub struct PatGrant {
    pub id: i64,
    pub org_id: i64,
    pub request_id: i64,
    pub token_id: i64,
    pub owner_id: i64,
    pub status: String,
    pub repository_selection: String,
    pub permissions: String,
    pub access_granted_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub token_expires_at: Option<NaiveDateTime>,
    pub token_last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = pat_request_reviews)]
pub struct PatRequestReview {
    pub id: i64,
    pub request_id: i64,
    pub org_id: i64,
    pub app_id: i64,
    pub installation_id: i64,
    pub action: String,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = enterprises)]
pub struct Enterprise {
    pub id: i64,
    pub slug: String,
    pub name: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = token_policies)]
pub struct TokenPolicy {
    pub id: i64,
    pub enterprise_id: Option<i64>,
    pub org_id: Option<i64>,
    pub fine_grained_allowed: Option<bool>,
    pub approval_required: Option<bool>,
    pub classic_allowed: Option<bool>,
    pub fine_grained_max_days: Option<i32>,
    pub classic_max_days: Option<i32>,
    pub updated_at: NaiveDateTime,
    pub exempt_administrators: Option<bool>,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub org_id: i64,
    pub action: String,
    pub subject_type: String,
    pub subject_id: i64,
    pub app_id: Option<i64>,
    pub installation_id: Option<i64>,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Identifiable)]
#[diesel(table_name = credential_changes)]
pub struct CredentialChange {
    pub id: i64,
    pub action: String,
    pub installation_id: i64,
    pub jti: Option<String>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// What a listed request or grant shows of its token: the columns it needs, not the row.
#[derive(Debug, Clone, Queryable)]
pub struct TokenName {
    pub id: i64,
    pub name: String,
}

/// What a listed request or grant shows of its owner (GitHub's `simple-user` needs no more).
#[derive(Debug, Clone, Queryable)]
pub struct Owner {
    pub id: i64,
    pub login: String,
    pub login_key: String,
    pub site_admin: bool,
}
