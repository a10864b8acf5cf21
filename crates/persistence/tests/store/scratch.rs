//! scratch
use std::sync::{Arc, Mutex};
use diesel::connection::{Connection, InstrumentationEvent};
use patgate_domain::AccessLevel;
use patgate_persistence::requests::{self, ListFilter};
use patgate_persistence::{Db, Page};
use crate::common::*;

fn capture(db: &Db) {
    let (o, repo) = write(db, |c| {
        let a = app(c)?;
        let o = org(c, "acme", &a)?;
        let u = user(c, "alice")?;
        let r = patgate_persistence::seed::ensure_repo(c, o.id(), "widgets", true, t(0))?;
        let tk = token(c, &u, "tk", Some(t(5)))?;
        pending(c, o.id(), &tk, "subset", &[r.id], &perms(&[("issues", AccessLevel::Read)], &[]), t(1))?;
        Ok((o, r))
    });
    let _ = repo;
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut conn = db.conn().expect("conn");
    let l2 = log.clone();
    conn.set_instrumentation(move |e: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = e {
            l2.lock().expect("l").push(format!("{query}"));
        }
    });
    let filter = ListFilter {
        owner_keys: vec!["alice".into(), "bob".into()],
        repository_key: Some("widgets".into()),
        permission: Some("issues_read".into()),
        last_used_before: Some(t(10)),
        last_used_after: Some(t(1)),
        token_ids: vec![1, 2],
        ascending: false,
    };
    let r = requests::list_pending(&mut conn, o.id(), &filter, Page { page: 1, per_page: 30 }).expect("list");
    eprintln!("{:?}", r.1);
    for q in log.lock().expect("l").iter() {
        eprintln!("{q}\n");
    }
}
both_backends!(capture_sql, capture);
