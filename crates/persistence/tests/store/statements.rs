//! A guard on the round trips of the write paths: how many statements a review, a bulk review
//! and a revocation send through `Db::write` (the pool's checkout test and the transaction's
//! own `BEGIN`/`COMMIT` included), counted by diesel's instrumentation. A change that adds one
//! fails here and has to say why; a bulk call must not grow with its ids. (A list page's guard
//! is `query_plans::a_page_costs_a_fixed_number_of_statements_whatever_its_size`.)

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::Once;

use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use patgate_domain::{AccessLevel, ReviewAction};
use patgate_persistence::grants::{self, Revocation};
use patgate_persistence::requests;
use patgate_persistence::schema::pat_grants;
use patgate_persistence::starts::Starts;
use patgate_persistence::{Db, Touches};

use crate::common::{
    app, connect, org, pending, perms, read, t, token, user, write, OrgFixture, SMALL_POOL,
};

thread_local! {
    /// Statements sent on this thread: a test's writes run on its own thread.
    static SENT: Cell<usize> = const { Cell::new(0) };
    /// The text of every statement diesel has kept prepared on this thread's connections.
    static KEPT: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
    /// While `Some`, the text of every statement sent on this thread.
    static RAN: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

struct Counter;

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                SENT.with(|n| n.set(n.get() + 1));
                RAN.with(|ran| {
                    if let Some(ran) = ran.borrow_mut().as_mut() {
                        let text = query.to_string();
                        let sql = text.split(" -- binds:").next().unwrap_or("").to_owned();
                        ran.push(sql);
                    }
                });
            }
            InstrumentationEvent::CacheQuery { sql, .. } => {
                KEPT.with(|kept| kept.borrow_mut().insert(sql.to_owned()));
            }
            _ => {}
        }
    }
}

/// The statements `f` sends on this thread that are not kept prepared (transaction control
/// and the checkout test aside).
fn not_kept<T>(f: impl FnOnce() -> T) -> (Vec<String>, T) {
    RAN.with(|ran| *ran.borrow_mut() = Some(Vec::new()));
    let out = f();
    let ran = RAN.with(|ran| ran.borrow_mut().take()).unwrap_or_default();
    let control = [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "SELECT 1",
    ];
    let missing = ran
        .into_iter()
        .filter(|sql| !control.iter().any(|c| sql.trim_start().starts_with(c)))
        .filter(|sql| !KEPT.with(|kept| kept.borrow().contains(sql)))
        .collect();
    (missing, out)
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
    let (fixture, ids) = pending_in(db, n, "");
    reviewing(db, &fixture, &ids)
}

/// An organization of its own (its name ends in `tag`) with `n` pending requests.
fn pending_in(db: &Db, n: usize, tag: &str) -> (OrgFixture, Vec<i64>) {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, &format!("acme{n}{tag}"), &app)?;
        let p = perms(&[("issues", AccessLevel::Read)], &[]);
        let mut ids = Vec::new();
        for i in 0..n {
            let owner = user(c, &format!("owner{n}-{i}{tag}"))?;
            let tok = token(c, &owner, &format!("t{n}-{i}{tag}"), None)?;
            ids.push(pending(c, acme.org.id, &tok, "all", &[], &p, t(1))?.id);
        }
        Ok((acme, ids))
    })
}

/// Statements of an approval of `ids`, from the checkout to the commit.
fn reviewing(db: &Db, fixture: &OrgFixture, ids: &[i64]) -> usize {
    let (count, done) = sent(|| {
        db.write(Touches::Org(fixture.id()), |c| {
            requests::review(
                c,
                &fixture.review(ids, ReviewAction::Approve, Some("ok"), t(5)),
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

/// Every statement of a review, a bulk review, a revocation and a list page (each filter) is
/// prepared once per connection and kept: the second of two alike sends only statements kept
/// prepared. diesel prepares an `UPDATE`, SQLite's `IN (…)` lists and SQL of our own anew on
/// every execution unless told otherwise (`db::cached`); a page's offset is bound on
/// PostgreSQL and kept for the first pages on SQLite.
fn statements_are_prepared_once(url: &str) {
    count_statements();
    // One connection, so that the second call finds what the first prepared.
    let db = &connect(url, 1);
    db.migrate().expect("migrations");
    for n in [1, 2] {
        review_of(db, n);
        let (fixture, ids) = pending_in(db, n, "again");
        let (missing, _) = not_kept(|| reviewing(db, &fixture, &ids));
        assert!(
            missing.is_empty(),
            "a review of {n} prepared anew: {missing:#?}"
        );
    }
    let org_id = write(db, |c| {
        let app = app(c)?;
        let lists = org(c, "lists", &app)?;
        let p = perms(&[("issues", AccessLevel::Read)], &[]);
        for i in 0..5 {
            let owner = user(c, &format!("lister-{i}"))?;
            let tok = token(c, &owner, &format!("listed-{i}"), None)?;
            pending(c, lists.org.id, &tok, "all", &[], &p, t(1))?;
        }
        Ok(lists.id())
    });
    let filters = [
        requests::ListFilter::default(),
        requests::ListFilter {
            owner_keys: vec!["lister-0".to_owned()],
            ..Default::default()
        },
        requests::ListFilter {
            permission: Some("issues_read".to_owned()),
            ..Default::default()
        },
        requests::ListFilter {
            last_used_before: Some(t(9)),
            ..Default::default()
        },
    ];
    for filter in &filters {
        for page in [1, 3] {
            let page = patgate_persistence::Page { page, per_page: 1 };
            let list = || {
                let mut conn = db.conn().expect("a pooled connection");
                requests::list_pending(&mut conn, org_id, filter, page, &Starts::none())
                    .map(|(rows, _)| rows.len())
                    .expect("a page")
            };
            list();
            let (missing, _) = not_kept(list);
            assert!(
                missing.is_empty(),
                "a page ({filter:?}, {page:?}) prepared anew: {missing:#?}"
            );
        }
    }
}

both_backends!(url: statements_are_prepared_once);

/// The statements `f` sends on this thread, as diesel shows them (with their binds).
fn texts<T>(f: impl FnOnce() -> T) -> (Vec<String>, T) {
    RAN.with(|ran| *ran.borrow_mut() = Some(Vec::new()));
    let out = f();
    (
        RAN.with(|ran| ran.borrow_mut().take()).unwrap_or_default(),
        out,
    )
}

/// A page whose first row an earlier read found is read from that row's key, not walked to
/// from the beginning, and lists what walking to it lists; a write to the organization makes
/// the start stale, and the page is walked to again.
fn a_later_page_starts_at_its_first_rows_key(url: &str) {
    count_statements();
    let db = &connect(url, 1);
    db.migrate().expect("migrations");
    db.changes().set_following(true);
    let fixture = write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "paged", &app)?;
        let p = perms(&[("issues", AccessLevel::Read)], &[]);
        for i in 0..20 {
            let owner = user(c, &format!("paged-{i}"))?;
            let tok = token(c, &owner, &format!("paged-{i}"), None)?;
            pending(c, acme.org.id, &tok, "all", &[], &p, t(i))?;
        }
        Ok(acme)
    });
    let filter = requests::ListFilter::default();
    let page = |n: i64, starts: &Starts<'_>| {
        let mut conn = db.conn().expect("a pooled connection");
        let (rows, _) = requests::list_pending(
            &mut conn,
            fixture.id(),
            &filter,
            patgate_persistence::Page {
                page: n,
                per_page: 2,
            },
            starts,
        )
        .expect("a page");
        rows.iter().map(|r| r.request.id).collect::<Vec<i64>>()
    };
    let walked = page(4, &Starts::none());
    assert_eq!(walked.len(), 2);
    let keyset = |sql: &Vec<String>| sql.iter().any(|s| s.contains(".id) <= ("));
    let (sent, _) = texts(|| page(1, &db.starts(fixture.id())));
    assert!(
        !keyset(&sent),
        "page 1 has no start to read from: {sent:#?}"
    );
    let (sent, found) = texts(|| page(4, &db.starts(fixture.id())));
    assert!(keyset(&sent), "page 4 starts at its first row: {sent:#?}");
    assert_eq!(found, walked, "and lists what walking to it lists");
    // Any write to the organization: the starts found before it are not used.
    let id = fixture.id();
    db.write(Touches::Org(id), |_| {
        Ok::<_, patgate_persistence::StoreError>(())
    })
    .expect("a write");
    let (sent, found) = texts(|| page(4, &db.starts(fixture.id())));
    assert!(
        !keyset(&sent),
        "after a write, page 4 is walked to: {sent:#?}"
    );
    assert_eq!(found, walked);
}

both_backends!(url: a_later_page_starts_at_its_first_rows_key);

/// An organization hook of its own organization (`login`), for outbox rows.
fn outbox_fixture(db: &Db, login: &str) -> (i64, patgate_persistence::webhooks::OrgWebhook) {
    use patgate_persistence::webhooks::{self, ContentType, OrgWebhookSettings};
    write(db, |c| {
        let app = app(c)?;
        let fixture = org(c, login, &app)?;
        let settings = OrgWebhookSettings {
            url: "https://hooks.example.com/x".to_owned(),
            secret: None,
            content_type: ContentType::Json,
            events: r#"["*"]"#.to_owned(),
            active: false,
        };
        let hook = webhooks::create_org_hook(c, fixture.id(), &settings, t(0))?;
        Ok((fixture.id(), hook))
    })
}

/// Taking due webhook deliveries and e-mails, which the delivery loops do every half second,
/// and recording their attempts, a statement per row, are prepared once per connection and
/// kept.
fn outbox_statements_are_prepared_once(url: &str) {
    use patgate_persistence::notifications::{self, Outcome};
    use patgate_persistence::schema::notifications as n;
    use patgate_persistence::webhooks::{self, Attempt};
    count_statements();
    let db = &connect(url, 1);
    db.migrate().expect("migrations");
    let (org_id, hook) = outbox_fixture(db, "outbox");
    for minute in [1, 2] {
        write(db, |c| {
            for k in 0..2 {
                webhooks::ping(c, &hook, t(minute))?;
                diesel::insert_into(n::table)
                    .values((
                        n::kind.eq("digest"),
                        n::org_id.eq(org_id),
                        n::period_start.eq(t(10 * minute + k)),
                        n::status.eq("pending"),
                        n::next_attempt_at.eq(t(minute)),
                        n::created_at.eq(t(minute)),
                    ))
                    .execute(c)?;
            }
            Ok(())
        });
        let (missing, recorded) = not_kept(|| {
            write(db, |c| {
                let deliveries = webhooks::claim(c, "one", t(minute), t(60), 16)?;
                let mails = notifications::claim(c, "one", t(minute), t(60), 16)?;
                let mut recorded = 0;
                for (i, d) in deliveries.iter().enumerate() {
                    let failed = i % 2 == 1;
                    let attempt = Attempt {
                        status_code: (!failed).then_some(200),
                        error: failed.then(|| "timed out".to_owned()),
                        duration_ms: 1.0,
                        at: t(minute),
                        retry_at: None,
                    };
                    recorded += usize::from(webhooks::record(c, d.id, "one", &attempt)?);
                }
                for (i, m) in mails.iter().enumerate() {
                    let outcome = if i % 2 == 0 {
                        Outcome::Sent {
                            recipient: "dave@example.com".to_owned(),
                        }
                    } else {
                        Outcome::Skipped {
                            why: "nobody".to_owned(),
                        }
                    };
                    recorded +=
                        usize::from(notifications::record(c, m.id, "one", &outcome, t(minute))?);
                }
                Ok(recorded)
            })
        });
        assert_eq!(recorded, 4, "the new rows are taken and recorded");
        if minute > 1 {
            assert!(
                missing.is_empty(),
                "a claim or a record prepared anew: {missing:#?}"
            );
        }
    }
}

both_backends!(url: outbox_statements_are_prepared_once);

/// The bundled SQLite plans without looking at bound values (`SQLITE_ENABLE_QPSG`, set in
/// `.cargo/config.toml`). Otherwise it prepares a statement again each time one is bound (every
/// `LIMIT ?`, every comparison a partial index might match): a third of a filing's time.
#[test]
fn sqlite_is_built_to_plan_without_bound_values() {
    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }
    let (url, _guard) = crate::common::fresh_url(patgate_persistence::Backend::Sqlite);
    let db = connect(&url, 1);
    let options: Vec<CompileOption> =
        read(&db, |c| diesel::sql_query("PRAGMA compile_options").load(c));
    let options: Vec<String> = options.into_iter().map(|o| o.compile_options).collect();
    assert!(
        options.iter().any(|o| o == "ENABLE_QPSG"),
        "SQLite was built without SQLITE_ENABLE_QPSG: {options:?}"
    );
}
