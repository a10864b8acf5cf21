//! Review rules in the store: a save checks the version it replaces; the check of pending
//! requests after a save in enforce mode decides each request once, even with two workers on
//! one run, and moves its cursor batch by batch.

use chrono::TimeDelta;
use diesel::prelude::*;
use patgate_domain::intake::TokenFiling;
use patgate_domain::{AccessLevel, Login, RepositorySelection, TokenName};
use patgate_persistence::intake::{self, IntakeError};
use patgate_persistence::models::PatRequest;
use patgate_persistence::review_rules::{self, Expected, NewVersion, Progress, SaveError};
use patgate_persistence::schema::{pat_request_reviews, pat_requests, review_rule_decisions};
use patgate_persistence::{Db, Touches};
use patgate_rules::Mode;

use crate::common::{app, org, pending, perms, read, t, token, user, write, OrgFixture};

const DENY_ALL: &str = r#"@id("deny-all") @reason("No tokens this week.")
permit (principal, action == Action::"deny", resource);"#;

fn fixture(db: &Db, n: usize) -> (OrgFixture, Vec<PatRequest>) {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let alice = user(c, "alice")?;
        let mut requests = Vec::new();
        for i in 0..n {
            let tok = token(c, &alice, &format!("token-{i}"), None)?;
            requests.push(pending(
                c,
                acme.id(),
                &tok,
                "all",
                &[],
                &perms(&[("issues", AccessLevel::Read)], &[]),
                t(i as i64),
            )?);
        }
        Ok((acme, requests))
    })
}

fn version<'a>(acme: &OrgFixture, mode: Mode, source: &'a str) -> NewVersion<'a> {
    NewVersion {
        org_id: acme.id(),
        mode,
        source,
        cases: "[]",
        actor: (acme.installation.app_id, acme.installation.id),
        at: t(100),
    }
}

fn a_save_checks_the_version_it_replaces(db: &Db) {
    let (acme, _) = fixture(db, 0);
    let new = version(&acme, Mode::Shadow, DENY_ALL);
    let first = db
        .write(Touches::Nothing, |c| {
            review_rules::save(c, Expected::Version(0), &new)
        })
        .expect("first save");
    assert_eq!(first.version, 1);
    assert_eq!(first.sha256, patgate_rules::sha256(DENY_ALL));
    let stale = db.write(Touches::Nothing, |c| {
        review_rules::save(c, Expected::Version(0), &new)
    });
    assert!(matches!(stale, Err(SaveError::Stale(1))), "{stale:?}");
    let any = db
        .write(Touches::Nothing, |c| {
            review_rules::save(c, Expected::Any, &new)
        })
        .expect("save over any");
    assert_eq!(any.version, 2);
    let current = read(db, |c| {
        Ok(review_rules::current(c, acme.id()).expect("current"))
    });
    assert_eq!(current.map(|v| v.version), Some(2));
}

fn two_workers_on_one_run_decide_each_request_once(db: &Db) {
    const REQUESTS: usize = 25;
    let (acme, requests) = fixture(db, REQUESTS);
    let new = version(&acme, Mode::Enforce, DENY_ALL);
    db.write(Touches::Nothing, |c| {
        review_rules::save(c, Expected::Version(0), &new)
    })
    .expect("save");
    let lease = TimeDelta::seconds(30);
    let run = db
        .write(Touches::Nothing, |c| {
            review_rules::claim_run(c, t(101), lease)
        })
        .expect("claim")
        .expect("a run to claim");
    assert_eq!(run.until_id, requests.last().expect("requests").id);
    // A second claim finds the run leased.
    let again = db
        .write(Touches::Nothing, |c| {
            review_rules::claim_run(c, t(101), lease)
        })
        .expect("claim");
    assert!(again.is_none());

    // As if the lease had lapsed: two workers hold the same run and race through it.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let run = run.clone();
            scope.spawn(move || loop {
                let progress = db
                    .write(Touches::Org(run.org_id), |c| {
                        review_rules::run_batch(c, &run, 4, t(102), lease)
                    })
                    .expect("batch");
                if matches!(progress, Progress::Done { .. }) {
                    break;
                }
            });
        }
    });

    let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let statuses: Vec<String> = read(db, |c| {
        pat_requests::table
            .filter(pat_requests::id.eq_any(&ids))
            .select(pat_requests::status)
            .load(c)
    });
    assert!(statuses.iter().all(|s| s == "denied"), "{statuses:?}");
    for id in ids {
        let reviews: i64 = read(db, |c| {
            pat_request_reviews::table
                .filter(pat_request_reviews::request_id.eq(id))
                .count()
                .get_result(c)
        });
        let decisions: i64 = read(db, |c| {
            review_rule_decisions::table
                .filter(review_rule_decisions::request_id.eq(id))
                .count()
                .get_result(c)
        });
        assert_eq!((reviews, decisions), (1, 1), "request {id}");
    }
    // The run is gone.
    let left = read(db, |c| Ok(review_rules::run_of(c, acme.id()).expect("run")));
    assert!(left.is_none());
}

/// A filing still in flight when a version is saved in enforce mode is decided by that
/// version: the save waits for the filing's transaction (then its check covers the request),
/// or the filing waits for the save (then it reads the version saved).
fn a_filing_in_flight_during_a_save_is_decided_by_the_saved_version(db: &Db) {
    let (acme, _) = fixture(db, 0);
    let actor = (acme.installation.app_id, acme.installation.id);
    let filing = TokenFiling {
        owner: Login::parse("bob").expect("login"),
        owner_email: None,
        token_id: 77,
        token_name: TokenName::parse("in flight").expect("name"),
        token_expires_at: Some(t(60 * 24 * 30)),
        selection: RepositorySelection::All,
        repositories: Vec::new(),
        permissions: perms(&[("issues", AccessLevel::Read)], &[]),
        reason: None,
    };
    let new = version(&acme, Mode::Enforce, DENY_ALL);
    let (filed_tx, filed_rx) = std::sync::mpsc::channel();
    let org_id = acme.id();
    let request_id = std::thread::scope(|scope| {
        let filing = &filing;
        // The sender moves in: a failed filing drops it and the saver stops waiting.
        let filer = scope.spawn(move || {
            db.write(Touches::Nothing, |c| {
                let filed = intake::file(c, org_id, filing, actor, t(101))?;
                filed_tx.send(()).expect("tell the saver");
                // The save starts while this transaction is still open.
                std::thread::sleep(std::time::Duration::from_millis(400));
                Ok::<_, IntakeError>(filed.verdict.request.id)
            })
            .expect("filing")
        });
        filed_rx.recv().expect("the filing");
        db.write(Touches::Nothing, |c| {
            review_rules::save(c, Expected::Any, &new)
        })
        .expect("save");
        filer.join().expect("filer")
    });
    let lease = TimeDelta::seconds(30);
    while let Some(run) = db
        .write(Touches::Nothing, |c| {
            review_rules::claim_run(c, t(102), lease)
        })
        .expect("claim")
    {
        while let Progress::More { .. } = db
            .write(Touches::Org(run.org_id), |c| {
                review_rules::run_batch(c, &run, 10, t(102), lease)
            })
            .expect("batch")
        {}
    }
    let status: String = read(db, |c| {
        pat_requests::table
            .find(request_id)
            .select(pat_requests::status)
            .first(c)
    });
    assert_eq!(status, "denied", "request {request_id}");
}

both_backends!(a_save_checks_the_version_it_replaces);
both_backends!(
    a_filing_in_flight_during_a_save_is_decided_by_the_saved_version,
    pool = 4
);
both_backends!(two_workers_on_one_run_decide_each_request_once, pool = 4);
