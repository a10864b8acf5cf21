//! The webhook outbox: due deliveries are leased once, oldest first, at most as many as asked,
//! in one statement; an attempt is recorded only by the lease's holder; a delivery whose
//! lease ended, or whose retry came, is taken again, and a delivered one never.

use diesel::Connection;
use patgate_persistence::webhooks::{self, Attempt, ContentType, OrgWebhookSettings};
use patgate_persistence::{Db, DbConnection, Touches};

use crate::common::{app, org, t, write};
use crate::query_plans::capture;

/// An organization hook and four pings to it, queued at minutes 1 (the hook's own), 2, 3 and
/// 50; their ids.
fn pings(db: &Db) -> [i64; 4] {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let settings = OrgWebhookSettings {
            url: "https://hooks.example.com/x".to_owned(),
            secret: None,
            content_type: ContentType::Json,
            events: r#"["*"]"#.to_owned(),
            active: true,
        };
        let hook = webhooks::create_org_hook(c, acme.org.id, &settings, t(1))?;
        let first = webhooks::list(
            c,
            webhooks::Receiver::Hook(hook.id),
            patgate_persistence::Page {
                page: 1,
                per_page: 1,
            },
        )?
        .0[0]
            .id;
        Ok([
            first,
            webhooks::ping(c, &hook, t(2))?.id,
            webhooks::ping(c, &hook, t(3))?.id,
            webhooks::ping(c, &hook, t(50))?.id,
        ])
    })
}

/// The ids `owner` leases at `now` until `until`, at most `limit`, in the order given.
fn claim(db: &Db, owner: &str, now: i64, until: i64, limit: i64) -> Vec<i64> {
    write(db, |c| webhooks::claim(c, owner, t(now), t(until), limit))
        .iter()
        .map(|d| d.id)
        .collect()
}

fn record(db: &Db, id: i64, owner: &str, attempt: &Attempt) -> bool {
    db.write(Touches::Nothing, |c| {
        webhooks::record(c, id, owner, attempt)
    })
    .expect("record")
}

fn attempt(at: i64, error: Option<&str>, retry_at: Option<i64>) -> Attempt {
    Attempt {
        status_code: Some(if error.is_some() { 503 } else { 200 }),
        error: error.map(str::to_owned),
        duration_ms: 1.0,
        at: t(at),
        retry_at: retry_at.map(t),
    }
}

fn deliveries_are_leased_once_oldest_first(db: &Db) {
    let [p1, p2, p3, p50] = pings(db);
    assert_eq!(claim(db, "one", 10, 20, 2), [p1, p2], "the two oldest due");
    assert_eq!(
        claim(db, "two", 10, 20, 10),
        [p3],
        "not one's, not the future one"
    );
    assert!(claim(db, "three", 10, 20, 10).is_empty(), "all leased");

    let failed = attempt(11, Some("Invalid HTTP Response: 503"), Some(15));
    assert!(!record(db, p1, "two", &failed), "not two's lease");
    assert!(record(db, p1, "one", &failed));
    assert_eq!(
        claim(db, "three", 14, 30, 10),
        Vec::<i64>::new(),
        "a retry not come yet, leases still in force"
    );
    // At 21 the leases until 20 have ended, and p1's retry has come.
    let retaken = write(db, |c| webhooks::claim(c, "three", t(21), t(30), 10));
    let ids: Vec<i64> = retaken.iter().map(|d| d.id).collect();
    assert_eq!(ids, [p2, p3, p1], "by next attempt: p1's is its retry");
    assert_eq!(retaken[2].attempts, 1);
    assert_eq!(retaken[2].leased_by.as_deref(), Some("three"));
    assert!(
        !record(db, p2, "one", &attempt(22, None, None)),
        "one's lease ended"
    );
    assert!(record(db, p2, "three", &attempt(22, None, None)));
    assert_eq!(
        claim(db, "four", 60, 70, 10),
        [p3, p1, p50],
        "the delivered one is done with"
    );
}

both_backends!(deliveries_are_leased_once_oldest_first);

/// Taking due deliveries or e-mails is one statement in its transaction.
fn a_claim_is_one_statement(db: &Db) {
    pings(db);
    let mut conn = db.conn().expect("a pooled connection");
    let conn: &mut DbConnection = &mut conn;
    let statements = |sent: Vec<String>| -> Vec<String> {
        sent.into_iter()
            .filter(|s| !s.starts_with("BEGIN") && !s.starts_with("COMMIT"))
            .collect()
    };
    let (taken, sent) = capture(conn, |c| {
        c.transaction(|c| webhooks::claim(c, "one", t(10), t(20), 16))
    });
    assert_eq!(taken.expect("claim").len(), 3);
    let sent = statements(sent);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let (taken, sent) = capture(conn, |c| {
        c.transaction(|c| patgate_persistence::notifications::claim(c, "one", t(10), t(20), 16))
    });
    assert!(taken.expect("claim").is_empty());
    let sent = statements(sent);
    assert_eq!(sent.len(), 1, "{sent:#?}");
}

both_backends!(a_claim_is_one_statement);
