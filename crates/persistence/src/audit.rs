//! The audit trail: append-only events of an organization's token governance.

/// Records one audit event per row of `$table` (`pat_requests` or `pat_grants`) whose id is in
/// `$ids`, in a single `INSERT … SELECT`: `$action` (e.g. `"grant.revoked"`) about a
/// `$subject` (`"request"` or `"grant"`), by `$actor` (app and installation, `None` for the
/// server itself), with `$reason`, at `$at`.
macro_rules! record_audit {
    ($conn:expr, $table:ident, $ids:expr, $action:expr, $subject:expr, $actor:expr, $reason:expr, $at:expr) => {{
        use crate::schema::audit_events;
        use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
        let actor: Option<(i64, i64)> = $actor;
        let reason: Option<String> = $reason;
        let source = $table::table.filter($table::id.eq_any($ids)).select((
            $table::org_id,
            ($action).into_sql::<Text>(),
            ($subject).into_sql::<Text>(),
            $table::id,
            actor.map(|a| a.0).into_sql::<Nullable<BigInt>>(),
            actor.map(|a| a.1).into_sql::<Nullable<BigInt>>(),
            reason.into_sql::<Nullable<Text>>(),
            ($at).into_sql::<Timestamp>(),
        ));
        diesel::insert_into(audit_events::table)
            .values(source)
            .into_columns((
                audit_events::org_id,
                audit_events::action,
                audit_events::subject_type,
                audit_events::subject_id,
                audit_events::app_id,
                audit_events::installation_id,
                audit_events::reason,
                audit_events::created_at,
            ))
            .execute($conn)
    }};
}

pub(crate) use record_audit;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::models::AuditEvent;
use crate::schema::audit_events;
use crate::{Page, StoreError};

/// Filters of the audit trail listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    pub after: Option<chrono::NaiveDateTime>,
    pub before: Option<chrono::NaiveDateTime>,
}

/// A page of the organization's audit events, newest first, with the total.
pub fn list(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &AuditFilter,
    page: Page,
) -> Result<(Vec<AuditEvent>, i64), StoreError> {
    let build = || {
        let mut q = audit_events::table
            .filter(audit_events::org_id.eq(org_id))
            .into_boxed::<crate::db::MultiBackend>();
        if let Some(action) = &filter.action {
            q = q.filter(audit_events::action.eq(action.clone()));
        }
        if let Some(kind) = &filter.subject_type {
            q = q.filter(audit_events::subject_type.eq(kind.clone()));
        }
        if let Some(id) = filter.subject_id {
            q = q.filter(audit_events::subject_id.eq(id));
        }
        if let Some(after) = filter.after {
            q = q.filter(audit_events::created_at.gt(after));
        }
        if let Some(before) = filter.before {
            q = q.filter(audit_events::created_at.lt(before));
        }
        q
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows = build()
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    Ok((rows, total))
}
