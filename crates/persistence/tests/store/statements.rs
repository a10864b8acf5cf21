//! A guard on the round trips of the write paths: how many statements a review, a bulk review
//! and a revocation send through `Db::write` (the pool's checkout test and the transaction's
//! own `BEGIN`/`COMMIT` included), counted by diesel's instrumentation. A change that adds one
//! fails here and has to say why; a bulk call must not grow with its ids. (A list page's guard
//! is `query_plans::a_page_costs_a_fixed_number_of_statements_whatever_its_size`.)

use std::cell::Cell;
use std::sync::Once;

use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use patgate_domain::{AccessLevel, ReviewAction};
use patgate_persistence::grants::{self, Revocation};
use patgate_persistence::requests;
use patgate_persistence::schema::pat_grants;
use patgate_persistence::{Db, Touches};

use crate::common::{app, connect, org, pending, perms, read, t, token, user, write, SMALL_POOL};

thread_local! {
    /// Statements sent on this thread: a test's writes run on its own thread.
    static SENT: Cell<usize> = const { Cell::new(0) };
}

struct Counter;

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            SENT.with(|n| n.set(n.get() + 1));
        }
    }
}

/// Counts every statement of every connection made after it is called.
fn count_statements() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        set_default_instrumentation(|| Some(Box::new(Counter))).expect("instrumentation");
    });
}

/// The statements `f` sends on this thread.
fn sent<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = SENT.with(Cell::get);
    let out = f();
    (SENT.with(Cell::get) - before, out)
}

/// Statements of a review of `n` pending requests, from the checkout to the commit.
fn review_of(db: &Db, n: usize) -> usize {
    let (fixture, ids) = write(db, |c| {
        let app = app(c)?;
        let acme = org(c, &format!("acme{n}"), &app)?;
        let p = perms(&[("issues", AccessLevel::Read)], &[]);
        let mut ids = Vec::new();
        for i in 0..n {
            let owner = user(c, &format!("owner{n}-{i}"))?;
            let tok = token(c, &owner, &format!("t{n}-{i}"), None)?;
            ids.push(pending(c, acme.org.id, &tok, "all", &[], &p, t(1))?.id);
        }
        Ok((acme, ids))
    });
    let (count, done) = sent(|| {
        db.write(Touches::Org(fixture.id()), |c| {
            requests::review(
                c,
                &fixture.review(&ids, ReviewAction::Approve, Some("ok"), t(5)),
            )
        })
    });
    done.expect("review");
    count
}

fn statements_stay_few(url: &str) {
    // Installed before the pool connects, so that every connection of it counts.
    count_statements();
    let db = &connect(url, SMALL_POOL);
    db.migrate().expect("migrations");
    let one = review_of(db, 1);
    let two = review_of(db, 2);
    let hundred = review_of(db, 100);
    assert!(one > 0, "the counter counts");
    assert!(one <= 11, "a review sends {one} statements (at most 11)");
    assert_eq!(two, hundred, "a bulk review does not grow with its ids");
    assert!(
        hundred <= 11,
        "a bulk review sends {hundred} statements (at most 11)"
    );

    let org_id = read(db, |c| {
        patgate_persistence::schema::organizations::table
            .filter(patgate_persistence::schema::organizations::login.eq("acme100"))
            .select(patgate_persistence::schema::organizations::id)
            .first::<i64>(c)
    });
    let grant_ids: Vec<i64> = read(db, |c| {
        pat_grants::table
            .filter(pat_grants::org_id.eq(org_id))
            .select(pat_grants::id)
            .order(pat_grants::id)
            .load(c)
    });
    let (app_id, installation_id) = read(db, |c| {
        patgate_persistence::schema::installations::table
            .filter(patgate_persistence::schema::installations::org_id.eq(org_id))
            .select((
                patgate_persistence::schema::installations::app_id,
                patgate_persistence::schema::installations::id,
            ))
            .first::<(i64, i64)>(c)
    });
    let revoke = |ids: &[i64]| {
        sent(|| {
            db.write(Touches::Org(org_id), |c| {
                grants::revoke(
                    c,
                    &Revocation {
                        org_id,
                        grant_ids: ids,
                        app_id,
                        installation_id,
                        reason: None,
                        at: t(9),
                    },
                )
            })
        })
    };
    let (single, done) = revoke(&grant_ids[..1]);
    done.expect("revoke one");
    let (bulk, done) = revoke(&grant_ids[1..51]);
    done.expect("revoke fifty");
    assert!(
        single <= 7,
        "a revocation sends {single} statements (at most 7)"
    );
    assert_eq!(single, bulk, "a bulk revocation does not grow with its ids");
}

both_backends!(url: statements_stay_few);

/// A checkout tests a PostgreSQL connection (`SELECT 1`) only when the server has not
/// answered on it for a second; a SQLite connection is never tested.
fn a_checkout_tests_a_connection_at_most_once_a_second(url: &str) {
    count_statements();
    let db = connect(url, SMALL_POOL);
    let checkout = || sent(|| drop(db.conn().expect("a pooled connection"))).0;
    assert_eq!(checkout(), 0, "a new connection is not tested");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let tested = match db.backend() {
        patgate_persistence::Backend::Postgres => 1,
        patgate_persistence::Backend::Sqlite => 0,
    };
    assert_eq!(checkout(), tested, "tested after a second");
    assert_eq!(checkout(), 0, "and not again at once");
}

both_backends!(url: a_checkout_tests_a_connection_at_most_once_a_second);
