//! Following committed writes: PostgreSQL names the organizations a commit touched (through
//! the triggers' notifications), SQLite says only that something changed; a rolled-back write
//! is reported by neither.

use patgate_persistence::Touches;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use patgate_domain::AccessLevel;
use patgate_persistence::changes::{Change, Follower};
use patgate_persistence::schema::tokens;
use patgate_persistence::{Backend, Db, StoreError};

use crate::common::{app, org, pending, perms, t, token, user, write};

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
    write(db, |c| pending(c, acme.id, &tok, "all", &[], &asked, t(1)));
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

    // A token's new name shows in every organization it asked.
    write(db, |c| {
        pending(c, globex.id, &tok, "all", &[], &asked, t(3))?;
        Ok(())
    });
    assert_eq!(settle(&mut follower), expected(&[globex.id]));
    write(db, |c| {
        diesel::update(tokens::table.find(tok.id))
            .set(tokens::name.eq("renamed"))
            .execute(c)?;
        Ok(())
    });
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
