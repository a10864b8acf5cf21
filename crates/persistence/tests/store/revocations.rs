//! The log of credential changes: revocations recorded once, suspensions only when they change something, followers reading every change in order, expired revocations purged.

use diesel::prelude::*;
use patgate_persistence::revocations::{self, Change};
use patgate_persistence::schema::audit_events;
use patgate_persistence::Touches;
use patgate_persistence::{Db, StoreError};

use crate::common::{app, org, read, t, write, OrgFixture};
use patgate_persistence::models::App;

/// The reviewing app, installed on `acme`.
fn app_on_acme(db: &Db) -> (App, OrgFixture) {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        Ok((app, acme))
    })
}

/// An audit event as compared here: action, subject type and id, app and installation.
type Event = (String, String, i64, Option<i64>, Option<i64>);

fn revoke(db: &Db, installation_id: i64, jti: &str, expires_minutes: i64) -> i64 {
    write(db, |c| {
        revocations::revoke_token(c, installation_id, jti, t(expires_minutes), t(0))
    })
}

fn changes_after(db: &Db, after: i64) -> Vec<(i64, Change)> {
    let mut conn = db.conn().expect("a pooled connection");
    revocations::changes_after(&mut conn, after).expect("changes")
}

fn a_revocation_is_recorded_once_and_read_by_followers_in_order(db: &Db) {
    let (app, acme) = app_on_acme(db);
    let inst = acme.installation.id;
    let first = revoke(db, inst, "jti-1", 60);
    assert_eq!(
        revoke(db, inst, "jti-1", 60),
        first,
        "a second revocation is the first"
    );
    let second = revoke(db, inst, "jti-2", 60);
    assert!(second > first);
    let suspended = write(db, |c| {
        revocations::set_suspended(c, app.id, inst, true, t(1))
    })
    .expect("a change");
    assert!(suspended > second);
    assert_eq!(
        changes_after(db, 0),
        vec![
            (
                first,
                Change::TokenRevoked {
                    jti: "jti-1".into(),
                    expires_at: t(60)
                }
            ),
            (
                second,
                Change::TokenRevoked {
                    jti: "jti-2".into(),
                    expires_at: t(60)
                }
            ),
            (
                suspended,
                Change::Suspended {
                    installation_id: inst
                }
            ),
        ]
    );
    assert_eq!(changes_after(db, second).len(), 1);
    assert!(changes_after(db, suspended).is_empty());
}
both_backends!(a_revocation_is_recorded_once_and_read_by_followers_in_order);

fn suspension_changes_only_what_it_changes_and_only_the_apps_own(db: &Db) {
    let (app, acme) = app_on_acme(db);
    let inst = acme.installation.id;
    let set = |suspended: bool, app_id: i64, installation_id: i64| {
        db.write(Touches::Everything, |c| {
            revocations::set_suspended(c, app_id, installation_id, suspended, t(5))
        })
    };
    assert!(
        matches!(set(false, app.id, inst), Ok(None)),
        "not suspended yet"
    );
    assert!(matches!(set(true, app.id, inst), Ok(Some(_))));
    assert!(
        matches!(set(true, app.id, inst), Ok(None)),
        "already suspended"
    );
    assert!(matches!(
        set(true, app.id + 1, inst),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        set(true, app.id, inst + 100),
        Err(StoreError::NotFound)
    ));

    let mut conn = db.conn().expect("a pooled connection");
    let snapshot = revocations::snapshot(&mut conn, t(0)).expect("snapshot");
    assert_eq!(snapshot.suspended_installations, vec![inst]);
    drop(conn);

    assert!(matches!(set(false, app.id, inst), Ok(Some(_))));
    let events: Vec<Event> = read(db, |c| {
        audit_events::table
            .filter(audit_events::subject_type.eq("installation"))
            .order(audit_events::id)
            .select((
                audit_events::action,
                audit_events::subject_type,
                audit_events::subject_id,
                audit_events::app_id,
                audit_events::installation_id,
            ))
            .load(c)
    });
    assert_eq!(
        events,
        vec![
            (
                "installation.suspended".into(),
                "installation".into(),
                inst,
                Some(app.id),
                None
            ),
            (
                "installation.unsuspended".into(),
                "installation".into(),
                inst,
                Some(app.id),
                None
            ),
        ]
    );
    assert_eq!(changes_after(db, 0).len(), 2, "one change per real change");
}
both_backends!(suspension_changes_only_what_it_changes_and_only_the_apps_own);

fn a_snapshot_holds_the_revocations_in_force_and_purging_drops_the_others(db: &Db) {
    let (_, acme) = app_on_acme(db);
    let inst = acme.installation.id;
    revoke(db, inst, "old", 10);
    let newest = revoke(db, inst, "live", 90);
    let mut conn = db.conn().expect("a pooled connection");
    let snapshot = revocations::snapshot(&mut conn, t(30)).expect("snapshot");
    assert_eq!(snapshot.last_change_id, newest);
    assert_eq!(snapshot.revoked, vec![("live".to_owned(), t(90))]);
    assert!(snapshot.suspended_installations.is_empty());
    drop(conn);

    assert_eq!(write(db, |c| revocations::purge_expired(c, t(30))), 1);
    assert_eq!(write(db, |c| revocations::purge_expired(c, t(30))), 0);
    let left: Vec<i64> = changes_after(db, 0).into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, vec![newest]);
    // Ids are never given out again, even once the newest row is purged.
    assert_eq!(write(db, |c| revocations::purge_expired(c, t(100))), 1);
    let next = revoke(db, inst, "later", 200);
    assert!(next > newest, "{next} > {newest}");
    let mut conn = db.conn().expect("a pooled connection");
    let empty = revocations::snapshot(&mut conn, t(0)).expect("snapshot");
    assert_eq!(empty.last_change_id, next);
}
both_backends!(a_snapshot_holds_the_revocations_in_force_and_purging_drops_the_others);

/// Writers racing on several connections while a follower reads the log by id: ids become
/// visible in order, so the follower, which never reads an id twice, misses none.
fn a_follower_polling_during_racing_writes_misses_no_change(db: &Db) {
    const WRITERS: usize = 4;
    const EACH: usize = 40;
    let (_, acme) = app_on_acme(db);
    let inst = acme.installation.id;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    db.write(Touches::Everything, |c| {
                        revocations::revoke_token(c, inst, &format!("w{w}-{i}"), t(60), t(0))
                    })
                    .expect("revocation");
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while seen.len() < WRITERS * EACH {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} seen",
            seen.len()
        );
        for (id, change) in changes_after(db, cursor) {
            cursor = id;
            if let Change::TokenRevoked { jti, .. } = change {
                seen.push(jti);
            }
        }
    }
    for writer in writers {
        writer.join().expect("writer thread");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), WRITERS * EACH);
}
both_backends!(
    a_follower_polling_during_racing_writes_misses_no_change,
    pool = 6
);
