//! Concurrent reviews: of racing reviewers exactly one wins, and overlapping bulk reviews review each request once.

use patgate_persistence::Touches;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};

use diesel::prelude::*;
use patgate_domain::{AccessLevel, RequestEvent, RequestState, ReviewAction, TransitionError};
use patgate_persistence::requests::{self, ReviewError};
use patgate_persistence::schema::{pat_grants, pat_request_reviews};
use patgate_persistence::Db;

use crate::common::{
    app, grants_of, org, pending, perms, read, request_row, reviews_of, t, token, user, write,
    OrgFixture,
};

/// Pool large enough for every thread to hold a connection at once.
const POOL: u32 = 24;
const RACERS: usize = 20;
const ROUNDS: usize = 3;

/// An organization with `n` pending requests, one per token.
fn requests(db: &Db, n: usize) -> (OrgFixture, Vec<i64>) {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let owner = user(c, "alice")?;
        let issues_write = perms(&[("issues", AccessLevel::Write)], &[]);
        let mut ids = Vec::new();
        for i in 0..n {
            let tok = token(c, &owner, &format!("token-{i}"), Some(t(1)))?;
            let minutes = i64::try_from(i).expect("small index");
            let r = pending(c, acme.id(), &tok, "all", &[], &issues_write, t(minutes))?;
            ids.push(r.id);
        }
        Ok((acme, ids))
    })
}

fn action_of(thread: usize) -> ReviewAction {
    if thread.is_multiple_of(2) {
        ReviewAction::Approve
    } else {
        ReviewAction::Deny
    }
}

fn state_after(action: ReviewAction) -> RequestState {
    match action {
        ReviewAction::Approve => RequestState::Approved,
        ReviewAction::Deny => RequestState::Denied,
    }
}

/// Runs `run` on one thread per item of `work`, each with its own handle on `db`, the
/// organization and its item, all released together; what each returned, in `work`'s order.
fn race<W, T, F>(db: &Db, acme: &OrgFixture, work: Vec<W>, what: &str, run: F) -> Vec<T>
where
    W: Send + 'static,
    T: Send + 'static,
    F: Fn(Db, OrgFixture, W) -> T + Clone + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(work.len()));
    let handles: Vec<_> = work
        .into_iter()
        .map(|item| {
            let (db, acme, barrier, run) =
                (db.clone(), acme.clone(), Arc::clone(&barrier), run.clone());
            std::thread::spawn(move || {
                barrier.wait();
                run(db, acme, item)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| panic!("{what} thread panicked"))
        })
        .collect()
}

fn twenty_reviewers_racing_for_one_request_have_exactly_one_winner(db: &Db) {
    let (acme, ids) = requests(db, ROUNDS);
    for id in ids {
        let outcomes: Vec<(ReviewAction, Result<(), ReviewError>)> = race(
            db,
            &acme,
            (0..RACERS).collect(),
            "reviewer",
            move |db, acme, thread| {
                let action = action_of(thread);
                let reason = format!("reviewer {thread}");
                let ids = [id];
                let review = acme.review(&ids, action, Some(&reason), t(1000));
                (
                    action,
                    db.write(Touches::Everything, |c| requests::review(c, &review)),
                )
            },
        );

        let winners: Vec<ReviewAction> = outcomes
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(a, _)| *a)
            .collect();
        assert_eq!(winners.len(), 1, "exactly one winner: {outcomes:?}");
        let won = state_after(winners[0]);
        for (action, result) in &outcomes {
            match result {
                Ok(()) => {}
                Err(ReviewError::NotPending(refusals)) => assert_eq!(
                    refusals,
                    &vec![(
                        id,
                        TransitionError {
                            from: won,
                            event: RequestEvent::from_review(*action),
                        }
                    )],
                    "a loser is told what the winner did"
                ),
                Err(other) => panic!("a loser failed otherwise: {other:?} ({other})"),
            }
        }

        assert_eq!(request_row(db, id).status, won.as_str());
        let grants = grants_of(db, id).len();
        assert_eq!(grants, usize::from(won == RequestState::Approved));
        let reviews = reviews_of(db, id);
        assert_eq!(reviews.len(), 1, "exactly one review row");
        assert_eq!(reviews[0].action, winners[0].as_str());
    }
}
both_backends!(
    twenty_reviewers_racing_for_one_request_have_exactly_one_winner,
    pool = POOL
);

/// What one bulk reviewer achieved: the ids of each successful call, and any unexpected error.
type BulkOutcome = (ReviewAction, Vec<Vec<i64>>, Vec<String>);

fn overlapping_bulk_reviews_review_every_request_exactly_once(db: &Db) {
    const REQUESTS: usize = 24;
    const THREADS: usize = 8;
    const SPAN: usize = 6;
    let (acme, ids) = requests(db, REQUESTS);
    // Each thread names SPAN requests starting at 3 * thread (wrapping), so every request is
    // named by two threads; odd threads name theirs in reverse order.
    let work: Vec<(usize, Vec<i64>)> = (0..THREADS)
        .map(|thread| {
            let mut mine: Vec<i64> = (0..SPAN)
                .map(|k| ids[(3 * thread + k) % REQUESTS])
                .collect();
            if thread % 2 == 1 {
                mine.reverse();
            }
            (thread, mine)
        })
        .collect();
    let outcomes = race(
        db,
        &acme,
        work,
        "bulk",
        |db, acme, (thread, mut mine)| -> BulkOutcome {
            let action = action_of(thread);
            let mut succeeded = Vec::new();
            let mut errors = Vec::new();
            // Retry without whatever someone else reviewed first, until nothing is left.
            while !mine.is_empty() {
                let review = acme.review(&mine, action, None, t(1000));
                match db.write(Touches::Everything, |c| requests::review(c, &review)) {
                    Ok(()) => {
                        succeeded.push(std::mem::take(&mut mine));
                    }
                    Err(ReviewError::NotPending(refusals)) if !refusals.is_empty() => {
                        let gone: BTreeSet<i64> = refusals.iter().map(|(id, _)| *id).collect();
                        mine.retain(|id| !gone.contains(id));
                    }
                    Err(other) => {
                        errors.push(format!("{other:?} ({other})"));
                        break;
                    }
                }
            }
            (action, succeeded, errors)
        },
    );

    let mut reviewed_by: BTreeMap<i64, Vec<ReviewAction>> = BTreeMap::new();
    for (action, succeeded, errors) in outcomes {
        assert!(errors.is_empty(), "unexpected errors: {errors:?}");
        for call in succeeded {
            for id in call {
                reviewed_by.entry(id).or_default().push(action);
            }
        }
    }
    assert_eq!(
        reviewed_by.keys().copied().collect::<Vec<_>>(),
        {
            let mut sorted = ids.clone();
            sorted.sort();
            sorted
        },
        "every request was reviewed"
    );
    for (id, actions) in &reviewed_by {
        assert_eq!(
            actions.len(),
            1,
            "request {id} reviewed by one successful call"
        );
        let row = request_row(db, *id);
        assert_eq!(row.status, state_after(actions[0]).as_str());
        let reviews = reviews_of(db, *id);
        assert_eq!(reviews.len(), 1, "one review row for {id}");
        assert_eq!(reviews[0].action, actions[0].as_str());
        let grants = grants_of(db, *id).len();
        assert_eq!(grants, usize::from(actions[0] == ReviewAction::Approve));
    }
    let approved = reviewed_by
        .values()
        .filter(|a| a[0] == ReviewAction::Approve)
        .count();
    let grants: i64 = read(db, |c| pat_grants::table.count().get_result(c));
    let reviews: i64 = read(db, |c| pat_request_reviews::table.count().get_result(c));
    assert_eq!(grants, i64::try_from(approved).expect("small count"));
    assert_eq!(reviews, i64::try_from(REQUESTS).expect("small count"));
}
both_backends!(
    overlapping_bulk_reviews_review_every_request_exactly_once,
    pool = POOL
);

/// Two handles on one database, as two processes have (a server and `patgate seed`, or two
/// instances on PostgreSQL): each thread reads, then writes, in one transaction, while the
/// other handle's threads commit. None is refused: on SQLite write transactions take the
/// write lock when they begin, and wait for it.
fn writers_of_two_handles_wait_for_each_other(url: &str) {
    let first = crate::common::connect(url, 4);
    first.migrate().expect("migrate");
    let second = crate::common::connect(url, 4);
    let handles = [first, second];
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let db = handles[n % 2].clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                for i in 0..25 {
                    db.write(Touches::Everything, |c| {
                        use patgate_persistence::schema::users;
                        let _: i64 = users::table.count().get_result(c)?;
                        user(c, &format!("writer-{n}-{i}"))
                    })
                    .expect("a read-then-write transaction is never refused");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer thread");
    }
    let users: i64 = read(&handles[0], |c| {
        patgate_persistence::schema::users::table
            .count()
            .get_result(c)
    });
    assert_eq!(users, 100);
}

both_backends!(url: writers_of_two_handles_wait_for_each_other);
