//! Who is told of a change, decided in Rust in the change's transaction: a revocation's
//! notice to the token's owner, by e-mail and to the organization's hooks that subscribe to
//! notices. (Reviews and request events are still routed by the triggers of migrations
//! `…_webhooks`, `…_notifications`, `…_org_webhooks` and `…_notification_settings`.)

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::notifications;
use crate::schema::{
    audit_events, notifications as n, org_webhooks, pat_grants, users, webhook_deliveries,
};
use crate::webhooks::{self, OrgWebhook, NOTIFICATION_EVENT};
use crate::StoreError;

/// The address a notice to the token's owner goes to: none when the organization turned
/// e-mail off or the owner has no address.
pub(crate) fn mail_to(email_on: bool, address: Option<&str>) -> Option<&str> {
    address.filter(|a| email_on && !a.trim().is_empty())
}

/// Whether a hook subscribed to `events` receives `event` (`*` is every event).
pub(crate) fn subscribes(events: &[String], event: &str) -> bool {
    events.iter().any(|e| e == event || e == "*")
}

/// Queues the owner's notice of each grant's revocation recorded at `at` (its
/// `grant.revoked` audit event): an e-mail (kind `revoked`) and the
/// `personal_access_token_request_notification` event, action `revoked`, to each active hook
/// of the organization that subscribes to it. GitHub's `personal_access_token_request` event
/// has no revocation, so nothing else is sent.
pub(crate) fn queue_revocation_notices(
    conn: &mut DbConnection,
    org_id: i64,
    grant_ids: &[i64],
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let events: Vec<(i64, i64)> = audit_events::table
        .filter(audit_events::org_id.eq(org_id))
        .filter(audit_events::action.eq("grant.revoked"))
        .filter(audit_events::subject_type.eq("grant"))
        .filter(audit_events::subject_id.eq_any(grant_ids))
        .filter(audit_events::created_at.eq(at))
        .select((audit_events::id, audit_events::subject_id))
        .load(conn)?;
    let owners: HashMap<i64, (i64, Option<String>)> = pat_grants::table
        .inner_join(users::table.on(users::id.eq(pat_grants::owner_id)))
        .filter(pat_grants::id.eq_any(grant_ids))
        .select((pat_grants::id, pat_grants::request_id, users::email))
        .load::<(i64, i64, Option<String>)>(conn)?
        .into_iter()
        .map(|(grant, request, email)| (grant, (request, email)))
        .collect();
    let email_on = notifications::email_enabled(conn, org_id)?;
    let hooks: Vec<i64> = org_webhooks::table
        .filter(org_webhooks::org_id.eq(org_id))
        .filter(org_webhooks::active.eq(true))
        .order(org_webhooks::id)
        .select(OrgWebhook::as_select())
        .load::<OrgWebhook>(conn)?
        .into_iter()
        .filter(|h| subscribes(&h.event_names(), NOTIFICATION_EVENT))
        .map(|h| h.id)
        .collect();
    for (event_id, grant_id) in events {
        let Some((request_id, email)) = owners.get(&grant_id) else {
            continue;
        };
        if let Some(recipient) = mail_to(email_on, email.as_deref()) {
            diesel::insert_into(n::table)
                .values((
                    n::kind.eq("revoked"),
                    n::org_id.eq(org_id),
                    n::event_id.eq(event_id),
                    n::request_id.eq(request_id),
                    n::recipient.eq(recipient),
                    n::status.eq("pending"),
                    n::next_attempt_at.eq(at),
                    n::created_at.eq(at),
                ))
                .execute(conn)?;
        }
        for hook_id in &hooks {
            diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::guid.eq(webhooks::new_guid()),
                    webhook_deliveries::event_id.eq(event_id),
                    webhook_deliveries::hook_id.eq(hook_id),
                    webhook_deliveries::org_id.eq(org_id),
                    webhook_deliveries::event.eq(NOTIFICATION_EVENT),
                    webhook_deliveries::action.eq("revoked"),
                    webhook_deliveries::status.eq("pending"),
                    webhook_deliveries::next_attempt_at.eq(at),
                    webhook_deliveries::created_at.eq(at),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_mailed_unless_email_is_off_or_there_is_no_address() {
        assert_eq!(mail_to(true, Some("a@example.com")), Some("a@example.com"));
        assert_eq!(mail_to(false, Some("a@example.com")), None);
        assert_eq!(mail_to(true, None), None);
        assert_eq!(mail_to(true, Some("  ")), None);
    }

    #[test]
    fn a_hook_gets_what_it_subscribes_to_or_everything_with_a_star() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(subscribes(
            &names(&[NOTIFICATION_EVENT]),
            NOTIFICATION_EVENT
        ));
        assert!(subscribes(&names(&["*"]), NOTIFICATION_EVENT));
        assert!(!subscribes(
            &names(&["personal_access_token_request"]),
            NOTIFICATION_EVENT
        ));
        assert!(!subscribes(&[], NOTIFICATION_EVENT));
    }
}
