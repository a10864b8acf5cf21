//! The e-mail outbox: a review queues a notice for a token owner with an address only, a
//! refused review queues nothing, and each period queues one digest per organization with an
//! owner to send it to and pending requests, however often it is asked.

use diesel::prelude::*;
use patgate_domain::{AccessLevel, ReviewAction};
use patgate_persistence::notifications::{self, Notification};
use patgate_persistence::requests;
use patgate_persistence::schema::notifications as n;
use patgate_persistence::seed::ensure_user;
use patgate_persistence::webhooks;
use patgate_persistence::Db;
use patgate_persistence::Touches;

use crate::common::{app, org, pending, perms, read, t, token, write, OrgFixture};

/// acme: owned by dave (with an address) and carol (without), one pending request of alice
/// (with an address) and one of bob (without). globex: owned by carol only, one pending
/// request. initech: owned by dave, nothing pending.
fn fixture(db: &Db) -> (OrgFixture, i64, i64) {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let globex = org(c, "globex", &app)?;
        let initech = org(c, "initech", &app)?;
        let alice = ensure_user(c, "alice", None, Some("alice@example.com"), t(0))?;
        let bob = ensure_user(c, "bob", None, None, t(0))?;
        let carol = ensure_user(c, "carol", None, None, t(0))?;
        let dave = ensure_user(c, "dave", None, Some("dave@example.com"), t(0))?;
        notifications::add_owner(c, acme.org.id, dave.id)?;
        notifications::add_owner(c, acme.org.id, carol.id)?;
        notifications::add_owner(c, acme.org.id, dave.id)?;
        notifications::add_owner(c, globex.org.id, carol.id)?;
        notifications::add_owner(c, initech.org.id, dave.id)?;
        let p = perms(&[("issues", AccessLevel::Read)], &[]);
        let (ta, tb, tg) = (
            token(c, &alice, "a", None)?,
            token(c, &bob, "b", None)?,
            token(c, &bob, "g", None)?,
        );
        let a = pending(c, acme.org.id, &ta, "all", &[], &p, t(1))?;
        let b = pending(c, acme.org.id, &tb, "all", &[], &p, t(2))?;
        pending(c, globex.org.id, &tg, "all", &[], &p, t(3))?;
        Ok((acme, a.id, b.id))
    })
}

fn queued(db: &Db) -> Vec<Notification> {
    read(db, |c| {
        n::table
            .order(n::id)
            .select(Notification::as_select())
            .load(c)
    })
}

fn a_review_notifies_an_owner_with_an_address_only(db: &Db) {
    let (acme, alice_request, bob_request) = fixture(db);
    // Refused as a whole (an unknown id): nothing is queued.
    let refused = db.write(Touches::Everything, |c| {
        requests::review(
            c,
            &acme.review(&[alice_request, 999], ReviewAction::Deny, Some("no"), t(10)),
        )
    });
    assert!(refused.is_err());
    assert!(queued(db).is_empty());
    db.write(Touches::Everything, |c| {
        requests::review(
            c,
            &acme.review(
                &[alice_request, bob_request],
                ReviewAction::Deny,
                Some("too broad"),
                t(11),
            ),
        )
    })
    .expect("review");
    let rows = queued(db);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, "denied");
    assert_eq!(rows[0].request_id, Some(alice_request));
    assert_eq!(rows[0].recipient.as_deref(), Some("alice@example.com"));
    assert_eq!(rows[0].status, "pending");
    let notice = read(db, |c| {
        Ok(patgate_persistence::contents::notice(c, &rows[0]).expect("notice"))
    });
    assert_eq!(notice.event.reason.as_deref(), Some("too broad"));
    assert_eq!(notice.owner.login, "alice");
}

fn each_period_queues_one_digest_per_organization(db: &Db) {
    let (acme, _, _) = fixture(db);
    let first = write(db, |c| {
        notifications::schedule_digests(c, t(60), t(61), true)
    });
    assert_eq!(
        first, 1,
        "acme only: globex has no owner with an address, initech nothing pending"
    );
    let again = write(db, |c| {
        notifications::schedule_digests(c, t(60), t(62), true)
    });
    assert_eq!(again, 0);
    let next = write(db, |c| {
        notifications::schedule_digests(c, t(120), t(121), true)
    });
    assert_eq!(next, 1);
    let rows = queued(db);
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r.kind == "digest" && r.org_id == acme.org.id));
    let digest = read(db, |c| {
        Ok(patgate_persistence::contents::digest(c, acme.org.id, 1).expect("digest"))
    });
    let to: Vec<_> = digest.recipients.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(to, ["dave"]);
    let owners: Vec<_> = digest.pending.iter().map(|p| p.owner.as_str()).collect();
    assert_eq!(owners, ["alice"], "the oldest, as many as asked");
    assert_eq!(digest.pending_count, 2);
}

fn leases_are_taken_once_and_attempts_recorded(db: &Db) {
    fixture(db);
    write(db, |c| {
        notifications::schedule_digests(c, t(60), t(60), true)
    });
    let now = t(61);
    let taken = write(db, |c| notifications::claim(c, "one", now, t(70), 10));
    assert_eq!(taken.len(), 1);
    let none = write(db, |c| notifications::claim(c, "two", now, t(70), 10));
    assert!(none.is_empty(), "leased to one");
    let failed = notifications::Outcome::Failed {
        error: "451".to_owned(),
        retry_at: Some(t(65)),
    };
    assert!(!db
        .write(Touches::Everything, |c| notifications::record(
            c,
            taken[0].id,
            "two",
            &failed,
            now
        ))
        .expect("record"));
    assert!(db
        .write(Touches::Everything, |c| notifications::record(
            c,
            taken[0].id,
            "one",
            &failed,
            now
        ))
        .expect("record"));
    let early = write(db, |c| notifications::claim(c, "two", t(64), t(70), 10));
    assert!(early.is_empty(), "not due before its retry");
    let retaken = write(db, |c| notifications::claim(c, "two", t(65), t(70), 10));
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].attempts, 1);
    assert_eq!(write(db, |c| notifications::backlog(c, None)).pending, 1);
}

/// Recording an attempt is one statement: a sent notice keeps the addresses it went to; a
/// failed one, or a skipped digest, keeps what it had; another instance's record changes
/// nothing.
fn an_attempt_is_recorded_in_one_statement(db: &Db) {
    use notifications::Outcome;
    let (acme, alice_request, _) = fixture(db);
    db.write(Touches::Everything, |c| {
        requests::review(
            c,
            &acme.review(&[alice_request], ReviewAction::Deny, None, t(10)),
        )
    })
    .expect("review");
    write(db, |c| {
        notifications::schedule_digests(c, t(60), t(60), true)
    });
    let taken = write(db, |c| notifications::claim(c, "one", t(61), t(70), 10));
    let kinds: Vec<&str> = taken.iter().map(|x| x.kind.as_str()).collect();
    assert_eq!(kinds, ["denied", "digest"]);
    let (notice, digest) = (taken[0].id, taken[1].id);
    let record = |id: i64, owner: &str, outcome: &Outcome| -> (bool, usize) {
        let mut conn = db.conn().expect("a pooled connection");
        let (recorded, sent) = crate::query_plans::capture(&mut conn, |c| {
            notifications::record(c, id, owner, outcome, t(62))
        });
        let statements = sent
            .iter()
            .filter(|s| !s.starts_with("BEGIN") && !s.starts_with("COMMIT"))
            .count();
        (recorded.expect("record"), statements)
    };
    let row = |id: i64| {
        queued(db)
            .into_iter()
            .find(|x| x.id == id)
            .expect("the row")
    };
    let failed = Outcome::Failed {
        error: "451".to_owned(),
        retry_at: Some(t(65)),
    };
    let sent = Outcome::Sent {
        recipient: "alice@example.net".to_owned(),
    };
    assert_eq!(record(notice, "two", &sent), (false, 1), "not two's lease");
    assert_eq!(row(notice).recipient.as_deref(), Some("alice@example.com"));
    assert_eq!(record(notice, "one", &failed), (true, 1));
    assert_eq!(row(notice).recipient.as_deref(), Some("alice@example.com"));
    let skipped = Outcome::Skipped {
        why: "nobody".to_owned(),
    };
    assert_eq!(record(digest, "one", &skipped), (true, 1));
    assert_eq!(row(digest).recipient, None);
    assert_eq!(row(digest).status, "skipped");
    let retaken = write(db, |c| notifications::claim(c, "two", t(65), t(70), 10));
    assert_eq!(retaken.len(), 1);
    assert_eq!(record(notice, "two", &sent), (true, 1));
    let done = row(notice);
    assert_eq!(done.recipient.as_deref(), Some("alice@example.net"));
    assert_eq!(done.status, "sent");
    assert_eq!(done.sent_at, Some(t(62)));
    assert_eq!(done.attempts, 2);
    assert_eq!(done.leased_by, None);
}

both_backends!(a_review_notifies_an_owner_with_an_address_only);
both_backends!(each_period_queues_one_digest_per_organization);
both_backends!(leases_are_taken_once_and_attempts_recorded);
both_backends!(an_attempt_is_recorded_in_one_statement);

fn hook(events: &[&str], active: bool) -> webhooks::OrgWebhookSettings {
    webhooks::OrgWebhookSettings {
        url: "https://hooks.example.com/x".to_owned(),
        secret: Some("s".to_owned()),
        content_type: webhooks::ContentType::Json,
        events: serde_json::to_string(events).expect("json"),
        active,
    }
}

/// (hook, event, action) of every delivery to an organization hook, pings aside.
fn hook_deliveries(db: &Db) -> Vec<(i64, String, String)> {
    use patgate_persistence::schema::webhook_deliveries as d;
    read(db, |c| {
        d::table
            .filter(d::hook_id.is_not_null())
            .filter(d::event.ne("ping"))
            .order((d::hook_id, d::event, d::action))
            .select((d::hook_id.assume_not_null(), d::event, d::action))
            .load(c)
    })
}

/// Organization hooks get, in the transaction of the change, the events they subscribe to:
/// the request events, the owner's notices of reviews, and one digest per period; an inactive
/// hook and another organization's hook get nothing of acme's.
/// The events of the deliveries queued for hook `hook_id`, oldest first.
fn events_to(db: &Db, hook_id: i64) -> Vec<String> {
    hook_deliveries(db)
        .into_iter()
        .filter(|(h, _, _)| *h == hook_id)
        .map(|(_, e, _)| e)
        .collect()
}

fn org_hooks_get_what_they_subscribe_to(db: &Db) {
    let (acme, alice_request, bob_request) = fixture(db);
    let globex = read(db, |c| {
        Ok(patgate_persistence::directory::org_by_login(c, "globex")
            .expect("globex")
            .expect("globex exists"))
    });
    let (notices, all, off, other) = db
        .write(Touches::Everything, |c| {
            let at = t(5);
            Ok::<_, patgate_persistence::StoreError>((
                webhooks::create_org_hook(
                    c,
                    acme.org.id,
                    &hook(&[webhooks::NOTIFICATION_EVENT], true),
                    at,
                )?
                .id,
                webhooks::create_org_hook(c, acme.org.id, &hook(&["*"], true), at)?.id,
                webhooks::create_org_hook(c, acme.org.id, &hook(&[webhooks::EVENT], false), at)?.id,
                webhooks::create_org_hook(c, globex.id, &hook(&["*"], true), at)?.id,
            ))
        })
        .expect("hooks");
    let digests = write(db, |c| {
        notifications::schedule_digests(c, t(60), t(61), false)
    });
    assert_eq!(digests, 2, "acme's and globex's hooks subscribed to all");
    let again = write(db, |c| {
        notifications::schedule_digests(c, t(60), t(62), false)
    });
    assert_eq!(again, 0, "once per period");
    assert!(queued(db).is_empty(), "no e-mail digest without e-mail");
    let refused = db.write(Touches::Everything, |c| {
        requests::review(
            c,
            &acme.review(&[alice_request, 999], ReviewAction::Deny, Some("no"), t(70)),
        )
    });
    assert!(refused.is_err());
    assert_eq!(
        hook_deliveries(db).len(),
        2,
        "a refused review queues nothing"
    );
    db.write(Touches::Everything, |c| {
        requests::review(
            c,
            &acme.review(
                &[alice_request, bob_request],
                ReviewAction::Deny,
                None,
                t(71),
            ),
        )
    })
    .expect("review");
    let got = hook_deliveries(db);
    let of = |hook: i64| -> Vec<(String, String)> {
        got.iter()
            .filter(|(h, _, _)| *h == hook)
            .map(|(_, e, a)| (e.clone(), a.clone()))
            .collect()
    };
    let pair = |e: &str, a: &str| (e.to_owned(), a.to_owned());
    assert_eq!(
        of(notices),
        [
            pair(webhooks::NOTIFICATION_EVENT, "denied"),
            pair(webhooks::NOTIFICATION_EVENT, "denied")
        ]
    );
    assert_eq!(
        of(all),
        [
            pair(webhooks::EVENT, "denied"),
            pair(webhooks::EVENT, "denied"),
            pair(webhooks::DIGEST_EVENT, "pending"),
            pair(webhooks::NOTIFICATION_EVENT, "denied"),
            pair(webhooks::NOTIFICATION_EVENT, "denied"),
        ]
    );
    assert!(of(off).is_empty(), "an inactive hook gets nothing");
    assert_eq!(
        of(other),
        [pair(webhooks::DIGEST_EVENT, "pending")],
        "globex's own digest, none of acme's events"
    );
}

both_backends!(org_hooks_get_what_they_subscribe_to);

/// An organization that turned e-mail off gets no notice and no digest by e-mail; its hooks
/// still get theirs.
fn an_organization_without_email_is_not_mailed(db: &Db) {
    let (acme, alice_request, _) = fixture(db);
    let changed = write(db, |c| {
        notifications::set_email(c, acme.org.id, false, None, t(5))
    });
    assert!(changed);
    let again = write(db, |c| {
        notifications::set_email(c, acme.org.id, false, None, t(6))
    });
    assert!(!again, "no change, nothing recorded");
    let hook = write(db, |c| {
        webhooks::create_org_hook(c, acme.org.id, &hook(&["*"], true), t(7))
    });
    let queued_digests = write(db, |c| {
        notifications::schedule_digests(c, t(60), t(61), true)
    });
    assert_eq!(queued_digests, 1, "the hook's digest only");
    db.write(Touches::Everything, |c| {
        requests::review(
            c,
            &acme.review(&[alice_request], ReviewAction::Approve, None, t(70)),
        )
    })
    .expect("review");
    assert!(queued(db).is_empty(), "no e-mail at all");
    let to_hook = events_to(db, hook.id);
    assert_eq!(
        to_hook,
        [
            webhooks::EVENT,
            webhooks::DIGEST_EVENT,
            webhooks::NOTIFICATION_EVENT
        ]
    );
}

both_backends!(an_organization_without_email_is_not_mailed);

/// A deployment without a mail server (`Db::with_mail(false)`) queues no e-mail for a review:
/// nothing its worker would only mark skipped. Hooks still get the notice.
fn a_deployment_without_mail_queues_no_email(db: &Db) {
    let (acme, alice_request, _) = fixture(db);
    let hook = write(db, |c| {
        webhooks::create_org_hook(c, acme.org.id, &hook(&["*"], true), t(7))
    });
    let unmailed = db.clone().with_mail(false);
    unmailed
        .write(Touches::Everything, |c| {
            requests::review(
                c,
                &acme.review(&[alice_request], ReviewAction::Deny, None, t(70)),
            )
        })
        .expect("review");
    assert!(queued(db).is_empty(), "no e-mail queued");
    let to_hook = events_to(db, hook.id);
    assert_eq!(to_hook, [webhooks::EVENT, webhooks::NOTIFICATION_EVENT]);
}

both_backends!(a_deployment_without_mail_queues_no_email);

/// The retention sweep deletes the rows done with and queued before the cutoff, oldest first,
/// as many as asked; rows still to send stay however old, and so do newer ones.
fn the_retention_sweep_deletes_old_rows_done_with_only(db: &Db) {
    use patgate_persistence::outbox::{self, Outbox};
    use patgate_persistence::schema::webhook_deliveries as d;
    let (acme, _, _) = fixture(db);
    let h = write(db, |c| {
        webhooks::create_org_hook(c, acme.org.id, &hook(&["*"], true), t(0))
    });
    db.write(Touches::Everything, |c| {
        for (i, status) in ["delivered", "failed", "pending", "delivered", "delivered"]
            .iter()
            .enumerate()
        {
            let at = t(10 * i64::try_from(i).expect("small"));
            diesel::insert_into(d::table)
                .values((
                    d::guid.eq(format!("g-{i}")),
                    d::hook_id.eq(h.id),
                    d::org_id.eq(acme.org.id),
                    d::event.eq("ping"),
                    d::action.eq(""),
                    d::status.eq(*status),
                    d::next_attempt_at.eq(at),
                    d::created_at.eq(at),
                ))
                .execute(c)?;
        }
        Ok::<_, patgate_persistence::StoreError>(())
    })
    .expect("deliveries");
    let guids = || -> Vec<String> {
        read(db, |c| {
            d::table
                .filter(d::guid.like("g-%"))
                .order(d::guid)
                .select(d::guid)
                .load(c)
        })
    };
    // Cutoff at minute 35: g-0..g-3 are older; g-2 is pending. One at a time, oldest first.
    let first = db
        .write(Touches::Everything, |c| {
            outbox::sweep(c, Outbox::WebhookDeliveries, t(35), 1)
        })
        .expect("sweep");
    assert_eq!(first, 1);
    assert_eq!(guids(), ["g-1", "g-2", "g-3", "g-4"]);
    let rest = db
        .write(Touches::Everything, |c| {
            outbox::sweep(c, Outbox::WebhookDeliveries, t(35), 100)
        })
        .expect("sweep");
    assert_eq!(rest, 2);
    assert_eq!(guids(), ["g-2", "g-4"], "pending and newer rows stay");
    // E-mails likewise: a sent digest past the cutoff goes, a pending one stays.
    write(db, |c| {
        notifications::schedule_digests(c, t(60), t(61), true)
    });
    let swept = db
        .write(Touches::Everything, |c| {
            outbox::sweep(c, Outbox::Notifications, t(1000), 100)
        })
        .expect("sweep");
    assert_eq!(swept, 0, "the digest is still to send");
    assert_eq!(queued(db).len(), 1);
}

both_backends!(the_retention_sweep_deletes_old_rows_done_with_only);
