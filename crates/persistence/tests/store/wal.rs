//! SQLite's write-ahead log is copied back by `Db::checkpoint` (a task beside the server), not
//! by the commit that fills it: a commit that crossed the threshold used to pay for copying
//! the whole log before it answered.

use diesel::prelude::*;
use patgate_persistence::{seed, Backend, Db};

use crate::common::{t, write};

#[derive(QueryableByName)]
struct AutoCheckpoint {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    wal_autocheckpoint: i64,
}

fn commits_leave_the_log_to_the_checkpoint_task(db: &Db) {
    if db.backend() != Backend::Sqlite {
        assert_eq!(db.checkpoint().expect("nothing to do"), (0, 0));
        return;
    }
    {
        let mut conn = db.conn().expect("a pooled connection");
        let row: AutoCheckpoint = diesel::sql_query("PRAGMA wal_autocheckpoint")
            .get_result(&mut **conn)
            .expect("the setting");
        assert_eq!(
            row.wal_autocheckpoint, 0,
            "pooled connections do not checkpoint"
        );
    }
    // More than SQLite's default threshold of 1,000 pages, in one commit.
    let long = "x".repeat(3000);
    write(db, |c| {
        for i in 0..2000 {
            seed::ensure_user(c, &format!("user-{i}"), Some(&long), None, t(0))?;
        }
        Ok(())
    });
    let (log, copied) = db.checkpoint().expect("a checkpoint");
    assert!(
        log > 1000,
        "the commit's pages wait in the log: {log} frames"
    );
    assert_eq!(copied, log, "a checkpoint with no reader copies them all");
}

both_backends!(commits_leave_the_log_to_the_checkpoint_task);
