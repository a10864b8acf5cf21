//! Following committed writes: PostgreSQL names the organizations a commit touched (announced
//! by the writer after its commit, or by the triggers of rarely written tables), SQLite says
//! only that something changed; a rolled-back write is reported by neither; a PostgreSQL writer
//! that disconnects without announcing counts as a change of everything.

use patgate_persistence::Touches;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use patgate_domain::AccessLevel;
use patgate_persistence::changes::{Change, Follower, CENSUS_EVERY};
use patgate_persistence::schema::tokens;
use patgate_persistence::{Backend, Db, StoreError};

use crate::common::{app, connect, org, pending, perms, t, token, user, write, SMALL_POOL};

/// What the follower reports within a quarter of a second, in order, without repeats.
fn settle(follower: &mut Follower) -> Vec<Change> {
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_millis(250);
    while Instant::now() < until {
        for change in follower.poll().expect("poll") {
            if !seen.contains(&change) {
                seen.push(change);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    seen
}

fn a_follower_reports_each_committed_write_and_no_rolled_back_one(db: &Db) {
    let (acme, globex, tok) = write(db, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let globex = org(c, "globex", &app)?;
        let owner = user(c, "alice")?;
        Ok((acme.org, globex.org, token(c, &owner, "ci", None)?))
    });
    let mut follower = db.follower().expect("a follower");
    assert_eq!(settle(&mut follower), vec![], "nothing committed yet");

    let asked = perms(&[("metadata", AccessLevel::Read)], &[]);
    db.write(Touches::Org(acme.id), |c| {
        pending(c, acme.id, &tok, "all", &[], &asked, t(1))
    })
    .expect("a filing");
    let expected = |orgs: &[i64]| match db.backend() {
        Backend::Postgres => orgs.iter().map(|id| Change::Org(*id)).collect::<Vec<_>>(),
        Backend::Sqlite => vec![Change::All],
    };
    assert_eq!(settle(&mut follower), expected(&[acme.id]));

    let rolled_back: Result<(), StoreError> = db.write(Touches::Everything, |c| {
        pending(c, globex.id, &tok, "all", &[], &asked, t(2))?;
        Err(StoreError::Conflict("rolled back on purpose".into()))
    });
    assert!(rolled_back.is_err());
    assert_eq!(
        settle(&mut follower),
        vec![],
        "a rolled-back write is not reported"
    );

    // A token's new name shows in every organization it asked (the tokens' trigger says so).
    db.write(Touches::Org(globex.id), |c| {
        pending(c, globex.id, &tok, "all", &[], &asked, t(3))
    })
    .expect("a filing");
    assert_eq!(settle(&mut follower), expected(&[globex.id]));
    let renamed: Result<(), StoreError> = db.write(Touches::Nothing, |c| {
        diesel::update(tokens::table.find(tok.id))
            .set(tokens::name.eq("renamed"))
            .execute(c)?;
        Ok(())
    });
    renamed.expect("a rename");
    let mut seen = settle(&mut follower);
    seen.sort_by_key(|c| match c {
        Change::Org(id) => *id,
        Change::All => 0,
    });
    let mut both = vec![acme.id, globex.id];
    both.sort_unstable();
    assert_eq!(seen, expected(&both));
}

both_backends!(a_follower_reports_each_committed_write_and_no_rolled_back_one);

/// A writer that committed and died before its announcement: its peers notice it gone.
fn a_writer_gone_without_announcing_counts_as_a_change_of_everything(url: &str) {
    let watcher = connect(url, SMALL_POOL);
    watcher.migrate().expect("migrations");
    let writer = connect(url, SMALL_POOL);
    let (acme, tok) = write(&writer, |c| {
        let app = app(c)?;
        let acme = org(c, "acme", &app)?;
        let owner = user(c, "alice")?;
        Ok((acme.org, token(c, &owner, "ci", None)?))
    });
    let mut follower = watcher.follower().expect("a follower");
    assert_eq!(settle(&mut follower), vec![], "nothing committed yet");

    // Committed on the writer's connection, not announced: what a crash between the commit
    // and the announcement leaves.
    {
        let mut conn = writer.conn().expect("a connection");
        let asked = perms(&[("metadata", AccessLevel::Read)], &[]);
        pending(&mut conn, acme.id, &tok, "all", &[], &asked, t(1)).expect("a filing");
    }
    if watcher.backend() == Backend::Sqlite {
        // SQLite's followers read the file's data version: every commit shows.
        assert_eq!(settle(&mut follower), vec![Change::All]);
        return;
    }
    assert_eq!(
        settle(&mut follower),
        vec![],
        "the commit alone says nothing"
    );
    drop(writer);
    let until = Instant::now() + CENSUS_EVERY * 3;
    let mut seen = Vec::new();
    while Instant::now() < until && seen.is_empty() {
        seen = follower.poll().expect("poll");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen, vec![Change::All], "the writer's disconnection counts");
    assert_eq!(settle(&mut follower), vec![], "and only once");
}

both_backends!(url: a_writer_gone_without_announcing_counts_as_a_change_of_everything);
