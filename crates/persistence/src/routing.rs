//! Who is told of a change, decided in Rust in the change's transaction, so that a change and
//! its outbox rows commit together or not at all ("never lost").
//!
//! The rules, each stated by a unit test below:
//! - a request's life (`request.created`, `…approved`, `…denied`, `…cancelled`) is GitHub's
//!   `personal_access_token_request` event, sent to each installation of the organization that
//!   is not suspended, whose app has an active webhook, that subscribes to the event and holds
//!   the `organization_personal_access_token_requests` permission; and to each active
//!   organization hook that subscribes to it (or to `*`);
//! - a review (`request.approved`, `request.denied`) and a revocation (`grant.revoked`) are the
//!   token owner's notice: an e-mail to the owner unless the organization turned e-mail off,
//!   the owner has no address or the deployment sends no e-mail ([`with_mail`]), and the `personal_access_token_request_notification` event to
//!   each active organization hook that subscribes to it;
//! - anything else (a request approved by the policy, updated, expired; a grant superseded or
//!   expired) tells no one.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{on_backend, DbConnection};
use crate::models::Installation;
use crate::outbox::Status;
use crate::schema::{
    app_webhooks, installations, notification_settings, notifications as n, org_webhooks,
    pat_requests, users, webhook_deliveries,
};
use crate::webhooks::{self, OrgWebhook, EVENT, NOTIFICATION_EVENT};
use crate::StoreError;

/// The permission an installation needs to receive request events.
const REQUESTS_PERMISSION: &str = "organization_personal_access_token_requests";

thread_local! {
    /// Whether the write running on this thread queues e-mails: set by [`crate::Db`] for the
    /// length of each write, from whether the deployment has a mail server.
    static MAIL: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` (a write) with e-mails queued or not: a deployment without a mail server queues
/// none, rather than rows its worker would only mark skipped one by one. Outside any such
/// scope (a connection used directly), e-mails are queued.
pub(crate) fn with_mail<T>(mail: bool, f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            MAIL.with(|m| m.set(self.0));
        }
    }
    let _restore = Restore(MAIL.with(|m| m.replace(mail)));
    f()
}

/// What one audit action means to the outside world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Route {
    /// The action of GitHub's `personal_access_token_request` event.
    pub request_event: Option<&'static str>,
    /// The owner's notice: the e-mail's kind and the notification event's action.
    pub notice: Option<&'static str>,
}

/// The route of an audit action.
pub(crate) fn route(action: &str) -> Route {
    let (request_event, notice) = match action {
        "request.created" => (Some("created"), None),
        "request.approved" => (Some("approved"), Some("approved")),
        "request.denied" => (Some("denied"), Some("denied")),
        "request.cancelled" => (Some("cancelled"), None),
        "grant.revoked" => (None, Some("revoked")),
        _ => (None, None),
    };
    Route {
        request_event,
        notice,
    }
}

/// The address a notice to the token's owner goes to: none when the owner has no address.
/// (An organization that turned e-mail off gets no notice at all: `queue_mail` reads no
/// address for it, in the same statement; tests/e2e/notifications.rs checks it.)
pub(crate) fn mail_to(address: Option<&str>) -> Option<&str> {
    address.filter(|a| !a.trim().is_empty())
}

/// Whether a hook subscribed to `events` receives `event` (`*` is every event).
pub(crate) fn subscribes(events: &[String], event: &str) -> bool {
    events.iter().any(|e| e == event || e == "*")
}

/// Whether an installation (not suspended, its app's webhook active) receives request events:
/// it subscribes to them and holds the requests permission, at any level.
pub(crate) fn installation_hears(
    events: &[String],
    permissions: &BTreeMap<String, String>,
) -> bool {
    events.iter().any(|e| e == EVENT) && permissions.contains_key(REQUESTS_PERMISSION)
}

/// Where a webhook delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    Installation { app_id: i64, installation_id: i64 },
    Hook(i64),
}

/// Who may hear of the organization's changes: installations that receive request events and
/// active organization hooks with the events they subscribe to.
#[derive(Debug, Default)]
pub(crate) struct Audience {
    pub installations: Vec<(i64, i64)>,
    pub hooks: Vec<(i64, Vec<String>)>,
}

/// The webhook deliveries of one event on `route`: event name, action, receiver.
pub(crate) fn deliveries(
    route: Route,
    audience: &Audience,
) -> Vec<(&'static str, &'static str, Receiver)> {
    let mut out = Vec::new();
    if let Some(action) = route.request_event {
        for &(app_id, installation_id) in &audience.installations {
            let to = Receiver::Installation {
                app_id,
                installation_id,
            };
            out.push((EVENT, action, to));
        }
    }
    for (hook, events) in &audience.hooks {
        if let Some(action) = route.request_event.filter(|_| subscribes(events, EVENT)) {
            out.push((EVENT, action, Receiver::Hook(*hook)));
        }
        if let Some(action) = route
            .notice
            .filter(|_| subscribes(events, NOTIFICATION_EVENT))
        {
            out.push((NOTIFICATION_EVENT, action, Receiver::Hook(*hook)));
        }
    }
    out
}

/// One recorded audit event and the request it concerns (a grant's request for a grant's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded {
    pub event_id: i64,
    pub request_id: i64,
}

// `None` is NULL, not DEFAULT: SQLite's multi-row `INSERT` has no DEFAULT.
#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
struct NewDelivery {
    guid: String,
    event_id: Option<i64>,
    app_id: Option<i64>,
    installation_id: Option<i64>,
    hook_id: Option<i64>,
    org_id: Option<i64>,
    event: &'static str,
    action: &'static str,
    status: Status,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = n, treat_none_as_default_value = false)]
struct NewNotice {
    kind: &'static str,
    org_id: i64,
    event_id: Option<i64>,
    request_id: Option<i64>,
    recipient: String,
    status: Status,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// Queues what the organization's audit events `events`, all of `action` at `at`, tell whom:
/// webhook deliveries and owners' e-mails, in the caller's transaction.
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    org_id: i64,
    action: &str,
    events: &[Recorded],
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let route = route(action);
    if events.is_empty() || route == Route::default() {
        return Ok(());
    }
    let audience = audience(conn, org_id, route)?;
    let per_event = deliveries(route, &audience);
    let mut rows = Vec::with_capacity(per_event.len() * events.len());
    for e in events {
        for &(event, action, to) in &per_event {
            let (app_id, installation_id, hook_id) = match to {
                Receiver::Installation {
                    app_id,
                    installation_id,
                } => (Some(app_id), Some(installation_id), None),
                Receiver::Hook(h) => (None, None, Some(h)),
            };
            rows.push(NewDelivery {
                guid: webhooks::new_guid(),
                event_id: Some(e.event_id),
                app_id,
                installation_id,
                hook_id,
                org_id: Some(org_id),
                event,
                action,
                status: Status::Pending,
                next_attempt_at: at,
                created_at: at,
            });
        }
    }
    if !rows.is_empty() {
        // One statement for all rows, on the concrete connection (diesel's MultiConnection
        // has no multi-row INSERT).
        on_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
            .values(&rows)
            .execute(c))?;
    }
    if let Some(kind) = route.notice.filter(|_| MAIL.with(Cell::get)) {
        queue_mail(conn, org_id, kind, events, at)?;
    }
    Ok(())
}

/// The installations and hooks that may hear of an event on `route`.
fn audience(conn: &mut DbConnection, org_id: i64, route: Route) -> Result<Audience, StoreError> {
    let mut audience = Audience::default();
    if route.request_event.is_some() {
        let rows: Vec<Installation> = installations::table
            .inner_join(app_webhooks::table.on(app_webhooks::app_id.eq(installations::app_id)))
            .filter(installations::org_id.eq(org_id))
            .filter(installations::suspended_at.is_null())
            .filter(app_webhooks::active.eq(true))
            .order(installations::id)
            .select(installations::all_columns)
            .load(conn)?;
        for installation in rows {
            let events = installation.event_names()?;
            if installation_hears(&events, &installation.permission_levels()?) {
                audience
                    .installations
                    .push((installation.app_id, installation.id));
            }
        }
    }
    let hooks: Vec<OrgWebhook> = org_webhooks::table
        .filter(org_webhooks::org_id.eq(org_id))
        .filter(org_webhooks::active.eq(true))
        .order(org_webhooks::id)
        .select(OrgWebhook::as_select())
        .load(conn)?;
    for hook in hooks {
        audience.hooks.push((hook.id, hook.event_names()?));
    }
    Ok(audience)
}

/// The owners' e-mails of kind `kind`, one per event whose request's owner has an address,
/// unless the organization turned e-mail off.
fn queue_mail(
    conn: &mut DbConnection,
    org_id: i64,
    kind: &'static str,
    events: &[Recorded],
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let request_ids: Vec<i64> = events.iter().map(|e| e.request_id).collect();
    // The owners' addresses, in the same statement as the organization's e-mail switch
    // (`notifications::email_enabled`): no row at all when the organization turned it off.
    let email_off = notification_settings::table
        .filter(notification_settings::org_id.eq(org_id))
        .filter(notification_settings::email.eq(false));
    let addresses: HashMap<i64, Option<String>> = crate::db::cached(
        pat_requests::table
            .inner_join(users::table.on(users::id.eq(pat_requests::owner_id)))
            .filter(pat_requests::id.eq_any(&request_ids))
            .filter(diesel::dsl::not(diesel::dsl::exists(email_off)))
            .select((pat_requests::id, users::email)),
    )
    .load::<(i64, Option<String>)>(conn)?
    .into_iter()
    .collect();
    let rows: Vec<NewNotice> = events
        .iter()
        .filter_map(|e| {
            let address = addresses.get(&e.request_id)?.as_deref();
            let recipient = mail_to(address)?.to_owned();
            Some(NewNotice {
                kind,
                org_id,
                event_id: Some(e.event_id),
                request_id: Some(e.request_id),
                recipient,
                status: Status::Pending,
                next_attempt_at: at,
                created_at: at,
            })
        })
        .collect();
    if !rows.is_empty() {
        on_backend!(conn, |c| diesel::insert_into(n::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_is_queued_unless_a_write_says_the_deployment_sends_none() {
        let mail = || MAIL.with(Cell::get);
        assert!(mail());
        assert!(!with_mail(false, mail));
        assert!(with_mail(false, || with_mail(true, mail)));
        assert!(mail(), "restored after the write");
        let panicked = std::panic::catch_unwind(|| with_mail(false, || panic!("write failed")));
        assert!(panicked.is_err());
        assert!(mail(), "restored after a panic");
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_request_s_life_is_the_request_event_and_a_review_or_revocation_the_owner_s_notice() {
        let r = |e, n| Route {
            request_event: e,
            notice: n,
        };
        assert_eq!(route("request.created"), r(Some("created"), None));
        assert_eq!(
            route("request.approved"),
            r(Some("approved"), Some("approved"))
        );
        assert_eq!(route("request.denied"), r(Some("denied"), Some("denied")));
        assert_eq!(route("request.cancelled"), r(Some("cancelled"), None));
        assert_eq!(route("grant.revoked"), r(None, Some("revoked")));
        for silent in [
            "request.auto_approved",
            "request.updated",
            "request.expired",
            "grant.superseded",
            "grant.expired",
            "enterprise_policy.updated",
        ] {
            assert_eq!(route(silent), Route::default(), "{silent}");
        }
    }

    #[test]
    fn the_owner_is_mailed_unless_there_is_no_address() {
        assert_eq!(mail_to(Some("a@example.com")), Some("a@example.com"));
        assert_eq!(mail_to(None), None);
        assert_eq!(mail_to(Some("  ")), None);
    }

    #[test]
    fn a_hook_gets_what_it_subscribes_to_or_everything_with_a_star() {
        assert!(subscribes(
            &names(&[NOTIFICATION_EVENT]),
            NOTIFICATION_EVENT
        ));
        assert!(subscribes(&names(&["*"]), NOTIFICATION_EVENT));
        assert!(!subscribes(&names(&[EVENT]), NOTIFICATION_EVENT));
        assert!(!subscribes(&[], NOTIFICATION_EVENT));
    }

    #[test]
    fn an_installation_hears_requests_with_the_event_and_the_permission() {
        let perms = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
            v.iter()
                .map(|(k, l)| ((*k).to_owned(), (*l).to_owned()))
                .collect()
        };
        let both = perms(&[(REQUESTS_PERMISSION, "read")]);
        assert!(installation_hears(&names(&[EVENT]), &both));
        assert!(
            !installation_hears(&names(&["*"]), &both),
            "no star for apps"
        );
        assert!(!installation_hears(&names(&[]), &both));
        let other = perms(&[("members", "write")]);
        assert!(!installation_hears(&names(&[EVENT]), &other));
    }

    #[test]
    fn installations_hear_the_request_event_and_hooks_what_they_subscribe_to() {
        let audience = Audience {
            installations: vec![(1, 10)],
            hooks: vec![
                (7, names(&[EVENT])),
                (8, names(&[NOTIFICATION_EVENT])),
                (9, names(&["*"])),
                (6, names(&[webhooks::DIGEST_EVENT])),
            ],
        };
        let app = Receiver::Installation {
            app_id: 1,
            installation_id: 10,
        };
        assert_eq!(
            deliveries(route("request.denied"), &audience),
            vec![
                (EVENT, "denied", app),
                (EVENT, "denied", Receiver::Hook(7)),
                (NOTIFICATION_EVENT, "denied", Receiver::Hook(8)),
                (EVENT, "denied", Receiver::Hook(9)),
                (NOTIFICATION_EVENT, "denied", Receiver::Hook(9)),
            ]
        );
        assert_eq!(
            deliveries(route("request.created"), &audience),
            vec![
                (EVENT, "created", app),
                (EVENT, "created", Receiver::Hook(7)),
                (EVENT, "created", Receiver::Hook(9)),
            ]
        );
        assert_eq!(
            deliveries(route("grant.revoked"), &audience),
            vec![
                (NOTIFICATION_EVENT, "revoked", Receiver::Hook(8)),
                (NOTIFICATION_EVENT, "revoked", Receiver::Hook(9)),
            ]
        );
        assert!(deliveries(route("request.auto_approved"), &audience).is_empty());
    }
}
