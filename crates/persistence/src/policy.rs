//! Token policies of enterprises and organizations: reading the stack that applies to an organization, and changing it with an audit record.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::policy::{PolicySettings, PolicyStack};

use crate::audit;
use crate::db::DbConnection;
use crate::models::{Enterprise, TokenPolicy};
use crate::schema::{enterprises, organizations, token_policies};
use crate::LoadOne;
use crate::StoreError;

fn settings(row: &TokenPolicy) -> PolicySettings {
    let days = |d: Option<i32>| d.and_then(|d| u32::try_from(d).ok());
    PolicySettings {
        fine_grained_allowed: row.fine_grained_allowed,
        approval_required: row.approval_required,
        classic_allowed: row.classic_allowed,
        fine_grained_max_days: days(row.fine_grained_max_days),
        classic_max_days: days(row.classic_max_days),
        exempt_administrators: row.exempt_administrators,
    }
}

/// The policies that apply to the organization: its enterprise's (if it set one) and its own,
/// in one query.
pub fn stack(conn: &mut DbConnection, org_id: i64) -> Result<PolicyStack, StoreError> {
    let enterprise_of_org = organizations::table
        .filter(organizations::id.eq(org_id))
        .select(organizations::enterprise_id);
    let rows: Vec<TokenPolicy> = token_policies::table
        .filter(
            token_policies::org_id
                .eq(org_id)
                .or(token_policies::enterprise_id.eq_any(enterprise_of_org)),
        )
        .load(conn)?;
    let mut out = PolicyStack::default();
    for row in &rows {
        if row.org_id == Some(org_id) {
            out.organization = settings(row);
        } else {
            out.enterprise = Some(settings(row));
        }
    }
    Ok(out)
}

/// The enterprise an organization belongs to.
pub fn enterprise_of(
    conn: &mut DbConnection,
    org_id: i64,
) -> Result<Option<Enterprise>, StoreError> {
    Ok(organizations::table
        .inner_join(
            enterprises::table.on(organizations::enterprise_id.eq(enterprises::id.nullable())),
        )
        .filter(organizations::id.eq(org_id))
        .select(enterprises::all_columns)
        .load_one(conn)?)
}

/// Whose policy a write is about.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Enterprise(i64),
    Organization(i64),
}

/// Replaces the owner's settings (creating its row if needed).
pub fn save(
    conn: &mut DbConnection,
    owner: Owner,
    new: &PolicySettings,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let days = |d: Option<u32>| d.and_then(|d| i32::try_from(d).ok());
    let values = (
        token_policies::fine_grained_allowed.eq(new.fine_grained_allowed),
        token_policies::approval_required.eq(new.approval_required),
        token_policies::classic_allowed.eq(new.classic_allowed),
        token_policies::fine_grained_max_days.eq(days(new.fine_grained_max_days)),
        token_policies::classic_max_days.eq(days(new.classic_max_days)),
        token_policies::exempt_administrators.eq(new.exempt_administrators),
        token_policies::updated_at.eq(at),
    );
    let (enterprise_id, org_id) = match owner {
        Owner::Enterprise(id) => (Some(id), None),
        Owner::Organization(id) => (None, Some(id)),
    };
    let query = token_policies::table
        .select(token_policies::id)
        .into_boxed();
    let query = match owner {
        Owner::Enterprise(id) => query.filter(token_policies::enterprise_id.eq(id)),
        Owner::Organization(id) => query.filter(token_policies::org_id.eq(id)),
    };
    let existing: Option<i64> = query.load_one(conn)?;
    match existing {
        Some(id) => {
            diesel::update(token_policies::table.find(id))
                .set(values)
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(token_policies::table)
                .values((
                    token_policies::enterprise_id.eq(enterprise_id),
                    token_policies::org_id.eq(org_id),
                    values,
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Whether the user is an owner of the organization (whose tokens a policy may exempt from
/// its lifetime limits).
pub fn is_owner(conn: &mut DbConnection, org_id: i64, user_id: i64) -> Result<bool, StoreError> {
    use crate::schema::organization_owners;
    Ok(diesel::select(diesel::dsl::exists(
        organization_owners::table
            .filter(organization_owners::org_id.eq(org_id))
            .filter(organization_owners::user_id.eq(user_id)),
    ))
    .get_result(conn)?)
}

/// The organizations of the enterprise, by id.
pub fn organizations_of(
    conn: &mut DbConnection,
    enterprise_id: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(organizations::table
        .filter(organizations::enterprise_id.eq(enterprise_id))
        .order(organizations::id)
        .select(organizations::id)
        .load(conn)?)
}

/// Records a change of the owner's policy in the audit trail of each organization it binds:
/// an enterprise's in each of its organizations (`enterprise_policy.updated`), an
/// organization's in its own (`policy.updated`); the owner's id is the subject, the settings
/// stored (`description`) the reason.
fn audit_owner_change(
    conn: &mut DbConnection,
    owner: Owner,
    actor: Option<(i64, i64)>,
    description: &str,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let (action, subject_type, subject_id, org_ids) = match owner {
        Owner::Enterprise(id) => (
            "enterprise_policy.updated",
            "enterprise_policy",
            id,
            organizations_of(conn, id)?,
        ),
        Owner::Organization(id) => ("policy.updated", "policy", id, vec![id]),
    };
    for org_id in org_ids {
        let entry = audit::Entry {
            org_id,
            action,
            subject_type,
            subject_id,
            app_id: actor.map(|a| a.0),
            installation_id: actor.map(|a| a.1),
            reason: Some(description),
            at,
        };
        audit::record(conn, &entry)?;
    }
    Ok(())
}

/// Records a change of an enterprise's policy in the audit trail of each of its
/// organizations, which it binds (`enterprise_policy.updated`, the enterprise's id as subject).
pub fn audit_enterprise_change(
    conn: &mut DbConnection,
    enterprise_id: i64,
    actor: Option<(i64, i64)>,
    description: &str,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let owner = Owner::Enterprise(enterprise_id);
    audit_owner_change(conn, owner, actor, description, at)
}

/// Records a policy change of the organization in its audit trail.
pub fn audit_change(
    conn: &mut DbConnection,
    org_id: i64,
    actor: Option<(i64, i64)>,
    description: &str,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let owner = Owner::Organization(org_id);
    audit_owner_change(conn, owner, actor, description, at)
}

/// The enterprise with this slug, created if absent.
pub fn ensure_enterprise(
    conn: &mut DbConnection,
    slug: &str,
    name: Option<&str>,
    at: NaiveDateTime,
) -> Result<Enterprise, StoreError> {
    if let Some(found) = enterprises::table
        .filter(enterprises::slug.eq(slug))
        .load_one(conn)?
    {
        return Ok(found);
    }
    Ok(diesel::insert_into(enterprises::table)
        .values((
            enterprises::slug.eq(slug),
            enterprises::name.eq(name),
            enterprises::created_at.eq(at),
        ))
        .returning(enterprises::all_columns)
        .get_result(conn)?)
}

/// Puts the organization in the enterprise.
pub fn join_enterprise(
    conn: &mut DbConnection,
    org_id: i64,
    enterprise_id: i64,
) -> Result<(), StoreError> {
    diesel::update(organizations::table.find(org_id))
        .set(organizations::enterprise_id.eq(enterprise_id))
        .execute(conn)?;
    Ok(())
}

/// The settings the owner stored, if it stored any.
pub fn settings_of(
    conn: &mut DbConnection,
    owner: Owner,
) -> Result<Option<PolicySettings>, StoreError> {
    let query = token_policies::table.into_boxed();
    let query = match owner {
        Owner::Enterprise(id) => query.filter(token_policies::enterprise_id.eq(id)),
        Owner::Organization(id) => query.filter(token_policies::org_id.eq(id)),
    };
    let row: Option<TokenPolicy> = query.load_one(conn)?;
    Ok(row.as_ref().map(settings))
}

/// The enterprise with this slug.
pub fn find_enterprise(
    conn: &mut DbConnection,
    slug: &str,
) -> Result<Option<Enterprise>, StoreError> {
    Ok(enterprises::table
        .filter(enterprises::slug.eq(slug))
        .load_one(conn)?)
}
