//! Schema guarantees: the review record is append-only, and a token has at most one pending request per organization.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use patgate_domain::{AccessLevel, ReviewAction};
use patgate_persistence::models::{NewPatRequest, PatRequestReview};
use patgate_persistence::requests;
use patgate_persistence::schema::{
    pat_request_permissions, pat_request_repositories, pat_request_reviews, pat_requests,
};
use patgate_persistence::seed::ensure_repo;
use patgate_persistence::Touches;
use patgate_persistence::{Db, DbConnection, StoreError};

use crate::common::{app, org, pending, perms, read, t, token, user, write};

fn all_reviews(db: &Db) -> Vec<PatRequestReview> {
    read(db, |c| {
        pat_request_reviews::table
            .order(pat_request_reviews::id)
            .load(c)
    })
}

/// A write that the schema must refuse.
/// A raw SQL statement as a change.
fn raw(sql: &'static str) -> Change {
    Box::new(move |c| diesel::sql_query(sql).execute(c))
}

type Change = Box<dyn FnOnce(&mut DbConnection) -> QueryResult<usize>>;

/// Runs `change` in its own transaction and returns the database's refusal.
fn refused(
    db: &Db,
    what: &str,
    change: impl FnOnce(&mut DbConnection) -> QueryResult<usize>,
) -> String {
    match db.write(Touches::Everything, |c| change(c).map_err(StoreError::from)) {
        Ok(n) => panic!("{what} was allowed and changed {n} rows"),
        Err(StoreError::Db(e)) => e.to_string(),
        Err(other) => panic!("{what} failed otherwise: {other:?}"),
    }
}

fn the_review_record_refuses_updates_and_deletes(db: &Db) {
    let acme = write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let alice = user(c, "alice")?;
        for (i, action) in [ReviewAction::Approve, ReviewAction::Deny]
            .into_iter()
            .enumerate()
        {
            let tok = token(c, &alice, &format!("token-{i}"), None)?;
            let r = pending(c, acme.id(), &tok, "none", &[], &perms(&[], &[]), t(1))?;
            requests::review(c, &acme.review(&[r.id], action, Some("first"), t(2)))
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
        }
        Ok(acme)
    });
    let before = all_reviews(db);
    assert_eq!(before.len(), 2);
    let first = before[0].id;
    let acme_id = acme.id();

    let mut attempts: Vec<(&str, Change)> = vec![
        (
            "diesel update of one row",
            Box::new(move |c| {
                diesel::update(pat_request_reviews::table.find(first))
                    .set(pat_request_reviews::reason.eq("rewritten"))
                    .execute(c)
            }),
        ),
        (
            "diesel update of every row",
            Box::new(|c| {
                diesel::update(pat_request_reviews::table)
                    .set(pat_request_reviews::action.eq("approve"))
                    .execute(c)
            }),
        ),
        (
            "diesel delete of one row",
            Box::new(move |c| diesel::delete(pat_request_reviews::table.find(first)).execute(c)),
        ),
        (
            "diesel delete of the organization's rows",
            Box::new(move |c| {
                diesel::delete(
                    pat_request_reviews::table.filter(pat_request_reviews::org_id.eq(acme_id)),
                )
                .execute(c)
            }),
        ),
        (
            "raw UPDATE",
            raw("UPDATE pat_request_reviews SET reason = 'raw'"),
        ),
        ("raw DELETE", raw("DELETE FROM pat_request_reviews")),
    ];
    if db.backend() == patgate_persistence::Backend::Postgres {
        attempts.push(("raw TRUNCATE", raw("TRUNCATE pat_request_reviews")));
        // CASCADE, past the webhook outbox's foreign key: the trigger still refuses.
        attempts.push((
            "raw TRUNCATE of the audit trail",
            raw("TRUNCATE audit_events CASCADE"),
        ));
    }
    attempts.push((
        "raw UPDATE of the audit trail",
        raw("UPDATE audit_events SET reason = 'raw'"),
    ));
    attempts.push((
        "raw DELETE of the audit trail",
        raw("DELETE FROM audit_events"),
    ));
    for (what, change) in attempts {
        let message = refused(db, what, change);
        assert!(
            message.contains("append-only"),
            "{what} is refused by the append-only trigger, got: {message}"
        );
        let after = all_reviews(db);
        assert_eq!(
            format!("{after:?}"),
            format!("{before:?}"),
            "{what} changed the record"
        );
    }

    // Appending is still possible.
    write(db, |c| {
        let alice = user(c, "alice")?;
        let tok = token(c, &alice, "token-late", None)?;
        let r = pending(c, acme.id(), &tok, "none", &[], &perms(&[], &[]), t(3))?;
        requests::review(c, &acme.review(&[r.id], ReviewAction::Approve, None, t(4)))
            .map_err(|e| StoreError::Conflict(e.to_string()))
    });
    assert_eq!(all_reviews(db).len(), 3);
}
both_backends!(the_review_record_refuses_updates_and_deletes);

fn a_token_has_at_most_one_pending_request_per_organization(db: &Db) {
    let (acme, globex, tok, first, repo) = write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let globex = org(c, "globex", &app)?;
        let alice = user(c, "alice")?;
        let tok = token(c, &alice, "token", Some(t(7)))?;
        let repo = ensure_repo(c, acme.id(), "widgets", true, t(0))?;
        let requested = perms(
            &[("issues", AccessLevel::Read)],
            &[("members", AccessLevel::Read)],
        );
        let first = pending(c, acme.id(), &tok, "subset", &[repo.id], &requested, t(1))?;
        Ok((acme, globex, tok, first, repo))
    });
    let counts = |db: &Db| -> (i64, i64, i64) {
        read(db, |c| {
            Ok((
                pat_requests::table.count().get_result(c)?,
                pat_request_repositories::table.count().get_result(c)?,
                pat_request_permissions::table.count().get_result(c)?,
            ))
        })
    };
    assert_eq!(counts(db), (1, 1, 2));

    // ensure_pending_request is idempotent, whatever the second call asks for.
    let again = write(db, |c| {
        pending(
            c,
            acme.id(),
            &tok,
            "all",
            &[],
            &perms(&[("contents", AccessLevel::Write)], &[]),
            t(2),
        )
    });
    assert_eq!(again.id, first.id);
    assert_eq!(again.repository_selection, "subset");
    assert_eq!(counts(db), (1, 1, 2), "nothing was added");

    let row = |org_id: i64, status: &'static str| NewPatRequest {
        org_id,
        token_id: tok.id,
        owner_id: tok.owner_id,
        status,
        reason: None,
        repository_selection: "none",
        permissions: "{}",
        created_at: t(3),
        token_expires_at: None,
        token_last_used_at: None,
    };

    // A second pending request of the same token to the same organization is refused.
    let insert = |db: &Db, status: &'static str| {
        db.write(Touches::Everything, |c| {
            diesel::insert_into(pat_requests::table)
                .values(row(acme.id(), status))
                .returning(pat_requests::id)
                .get_result::<i64>(c)
                .map_err(StoreError::from)
        })
    };
    let assert_refused = |db: &Db| match insert(db, "pending") {
        Err(StoreError::Db(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            info,
        ))) => {
            let text = format!("{} {:?}", info.message(), info.constraint_name());
            assert!(
                text.contains("pat_requests"),
                "the unique index on pat_requests refused it: {text}"
            );
        }
        other => panic!("a second pending request must be refused, got {other:?}"),
    };
    assert_refused(db);
    assert_eq!(counts(db), (1, 1, 2));

    // Closed requests of the same token and a pending one to another organization are fine.
    for status in ["approved", "denied", "cancelled", "expired", "denied"] {
        insert(db, status).expect("a closed request beside the pending one");
    }
    write(db, |c| {
        diesel::insert_into(pat_requests::table)
            .values(row(globex.id(), "pending"))
            .execute(c)?;
        Ok(())
    });
    assert_eq!(counts(db).0, 7);
    assert_refused(db);

    // Once the pending request is reviewed, the token may ask again, once.
    db.write(Touches::Everything, |c| {
        requests::review(
            c,
            &acme.review(&[first.id], ReviewAction::Deny, Some("no"), t(4)),
        )
    })
    .expect("deny the pending request");
    // Seeding again leaves the reviewed requests as they are and adds nothing.
    let seeded = write(db, |c| {
        pending(
            c,
            acme.id(),
            &tok,
            "subset",
            &[repo.id],
            &perms(&[("issues", AccessLevel::Write)], &[]),
            t(5),
        )
    });
    assert_eq!((seeded.org_id, seeded.token_id), (acme.id(), tok.id));
    assert_ne!(seeded.status, "pending");
    assert_eq!(counts(db), (7, 1, 2), "seeding again created nothing");
    let next = insert(db, "pending").expect("a new pending request after the review");
    assert!(next > first.id);
    assert_refused(db);
    assert_eq!(counts(db).0, 8);
}
both_backends!(a_token_has_at_most_one_pending_request_per_organization);
