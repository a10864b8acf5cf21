//! The audit trail: append-only events of an organization's token governance.

/// Inserts audit events from a `SELECT` of
/// `(org_id, action, subject_type, subject_id, app_id, installation_id, reason, created_at)`,
/// one statement for any number of rows.
macro_rules! insert_audit_from {
    ($conn:expr, $source:expr) => {{
        use crate::schema::audit_events;
        diesel::insert_into(audit_events::table)
            .values($source)
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

pub(crate) use insert_audit_from;
