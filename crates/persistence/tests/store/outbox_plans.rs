//! Query plans of the outboxes (webhook deliveries, e-mail notifications): taking due rows,
//! listing a receiver's deliveries and reading a backlog look up an index instead of reading
//! every row ever queued, which grows with the deployment's history.

use diesel::prelude::*;
use patgate_persistence::outbox::{self, Outbox};
use patgate_persistence::schema::{notifications as n, webhook_deliveries as d};
use patgate_persistence::webhooks::{self, OrgWebhookSettings, Receiver};
use patgate_persistence::{notifications, Backend, Db, DbConnection, Page, StoreError};

use crate::common::{app, org, t, write};
use crate::query_plans::{before_and_after_analyze, capture, full_scans_of, plan_of};

const DELIVERIES: usize = 6000;
const HOOKS: usize = 30;
const CHUNK: usize = 500;

/// The partial indexes that hold only the rows still to send (pending) or failed for good:
/// reading the whole of one reads no history.
#[rustfmt::skip]
const OPEN_ROWS: [&str; 6] = [
    "webhook_deliveries_due", "webhook_deliveries_failed", "webhook_deliveries_app_failed",
    "webhook_deliveries_hook_failed", "notifications_due", "notifications_org_failed",
];

/// Plan lines that read all of `table` (or all of one of its indexes other than the
/// [`OPEN_ROWS`] ones).
fn full_scans(backend: Backend, table: &str, plan: &[String]) -> Vec<String> {
    full_scans_of(backend, table, plan, |line| {
        OPEN_ROWS.iter().any(|index| {
            line.contains(&format!("INDEX {index}")) || line.contains(&format!("using {index} "))
        })
    })
}

/// One app and 30 organization hooks with 6,000 deliveries between them, nearly all
/// delivered (as a deployment's history is), a few pending and failed; 6,000 e-mail
/// notifications likewise. Returns (app id, a quiet hook's id, the organization id).
fn seed(db: &Db) -> (i64, i64, i64) {
    write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let settings = OrgWebhookSettings {
            url: "https://hooks.example.com/x".to_owned(),
            secret: None,
            content_type: patgate_persistence::webhooks::ContentType::Json,
            events: r#"["*"]"#.to_owned(),
            active: true,
        };
        let mut hooks = Vec::new();
        for _ in 0..HOOKS {
            hooks.push(webhooks::create_org_hook(c, acme.org.id, &settings, t(0))?.id);
        }
        let status = |i: usize| match i % 100 {
            0 => "pending",
            1 => "failed",
            _ => "delivered",
        };
        let mut rows = Vec::new();
        for i in 0..DELIVERIES {
            let at = t(i64::try_from(i).expect("small"));
            // A third to the app, a third to a busy hook, the rest spread over quiet ones.
            let (app_id, installation_id, hook_id) = match i % 3 {
                0 => (Some(app.id), Some(acme.installation.id), None),
                1 => (None, None, Some(hooks[0])),
                _ => (None, None, Some(hooks[1 + (i / 3) % (HOOKS - 1)])),
            };
            rows.push((
                d::guid.eq(format!("guid-{i}")),
                d::app_id.eq(app_id),
                d::installation_id.eq(installation_id),
                d::hook_id.eq(hook_id),
                d::org_id.eq(acme.org.id),
                d::event.eq("ping"),
                d::action.eq(""),
                d::status.eq(status(i)),
                d::next_attempt_at.eq(at),
                d::created_at.eq(at),
            ));
        }
        let mails: Vec<_> = (0..DELIVERIES)
            .map(|i| {
                let at = t(i64::try_from(i).expect("small"));
                (
                    n::kind.eq("digest"),
                    n::org_id.eq(acme.org.id),
                    n::period_start.eq(at),
                    n::status.eq(if status(i) == "delivered" {
                        "sent"
                    } else {
                        status(i)
                    }),
                    n::next_attempt_at.eq(at),
                    n::created_at.eq(at),
                )
            })
            .collect();
        insert_chunks!(c, d::table, rows, CHUNK);
        insert_chunks!(c, n::table, mails, CHUNK);
        // A quiet hook's deliveries: a page of them is not found by walking everyone's.
        Ok((app.id, hooks[HOOKS - 1], acme.org.id))
    })
}

/// Every statement the outbox's reads and claims send, with its plan, that reads a whole
/// outbox table.
fn offending(db: &Db, app_id: i64, hook_id: i64, org_id: i64) -> Vec<String> {
    let mut conn = db.conn().expect("a pooled connection");
    let conn: &mut DbConnection = &mut conn;
    let mut statements = Vec::new();
    let mut run = |name: &str, f: &dyn Fn(&mut DbConnection) -> Result<(), StoreError>| {
        let (result, sent) = capture(conn, |c| f(c));
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
        statements.extend(sent.into_iter().map(|s| (name.to_owned(), s)));
    };
    let now = t(100_000);
    run("app deliveries", &|c| {
        // More follow than a page: the deliveries are counted too.
        let page = Page {
            page: 1,
            per_page: 30,
        };
        webhooks::list(c, Receiver::App(app_id), page).map(drop)
    });
    run("hook deliveries", &|c| {
        let page = Page {
            page: 2,
            per_page: 30,
        };
        webhooks::list(c, Receiver::Hook(hook_id), page).map(drop)
    });
    run("app backlog", &|c| {
        webhooks::backlog(c, Some(app_id)).map(drop)
    });
    run("hook backlog", &|c| {
        webhooks::hook_backlog(c, hook_id).map(drop)
    });
    run("every webhook's backlog", &|c| {
        webhooks::backlog(c, None).map(drop)
    });
    run("organization's e-mail backlog", &|c| {
        notifications::backlog(c, Some(org_id)).map(drop)
    });
    run("claim deliveries", &|c| {
        c.transaction(|c| webhooks::claim(c, "plan", now, now, 16).map(drop))
    });
    run("claim e-mails", &|c| {
        c.transaction(|c| notifications::claim(c, "plan", now, now, 16).map(drop))
    });
    // The retention sweep, with a cutoff before every row: it must find that out from an
    // index, not by reading the table.
    run("sweep deliveries", &|c| {
        outbox::sweep(c, Outbox::WebhookDeliveries, t(-1), 1000).map(drop)
    });
    run("sweep e-mails", &|c| {
        outbox::sweep(c, Outbox::Notifications, t(-1), 1000).map(drop)
    });
    // Read at every metrics scrape.
    run("oldest due delivery", &|c| {
        outbox::oldest_due(c, Outbox::WebhookDeliveries, now).map(drop)
    });
    run("oldest due e-mail", &|c| {
        outbox::oldest_due(c, Outbox::Notifications, now).map(drop)
    });
    let mut bad = Vec::new();
    for (name, displayed) in statements {
        if !["SELECT", "UPDATE", "DELETE"]
            .iter()
            .any(|verb| displayed.starts_with(verb))
        {
            continue;
        }
        let plan = plan_of(conn, &displayed);
        if std::env::var_os("PATGATE_SHOW_PLANS").is_some() {
            eprintln!("--- {name}\n{displayed}\n{}\n", plan.join("\n"));
        }
        let scans: Vec<String> = ["webhook_deliveries", "notifications"]
            .iter()
            .flat_map(|table| full_scans(db.backend(), table, &plan))
            .collect();
        if !scans.is_empty() {
            bad.push(format!("{name}:\n{displayed}\n{}", plan.join("\n")));
        }
    }
    bad
}

fn the_outbox_queries_use_an_index(db: &Db) {
    let (app_id, hook_id, org_id) = seed(db);
    let bad = before_and_after_analyze(db, |_| offending(db, app_id, hook_id, org_id));
    assert!(
        bad.is_empty(),
        "full scans of an outbox:\n\n{}",
        bad.join("\n\n")
    );
}

/// The oldest due row is the pending one whose next attempt came first: rows done with,
/// failed for good or not yet due are not due.
fn the_oldest_due_row_is_the_earliest_pending_one_whose_attempt_came(db: &Db) {
    seed(db);
    let due = |outbox, now| {
        let mut conn = db.conn().expect("a pooled connection");
        outbox::oldest_due(&mut conn, outbox, now).expect("oldest due")
    };
    for outbox in [Outbox::WebhookDeliveries, Outbox::Notifications] {
        // Pending rows are every hundredth, from t(0); the failed ones follow them by one.
        assert_eq!(due(outbox, t(150)), Some(t(0)));
        assert_eq!(due(outbox, t(-1)), None, "none is due yet");
    }
    // Everything due at t(0) (the first row, and the hooks' pings) is done with.
    write(db, |c| {
        diesel::update(d::table.filter(d::next_attempt_at.eq(t(0))))
            .set(d::status.eq("delivered"))
            .execute(c)?;
        diesel::update(n::table.filter(n::next_attempt_at.eq(t(0))))
            .set(n::status.eq("sent"))
            .execute(c)?;
        Ok(())
    });
    for outbox in [Outbox::WebhookDeliveries, Outbox::Notifications] {
        assert_eq!(due(outbox, t(150)), Some(t(100)), "{outbox:?}");
        assert_eq!(due(outbox, t(50)), None, "{outbox:?}: the next is not due");
    }
}

both_backends!(the_outbox_queries_use_an_index);
both_backends!(the_oldest_due_row_is_the_earliest_pending_one_whose_attempt_came);
