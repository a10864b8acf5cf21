//! The shared windows of the primary rate limit: counts add up within a window, an ended
//! window is replaced, watched callers are read without a write, ended windows are forgotten.

use patgate_persistence::rate_limits::{exchange, forget_ended, SharedWindow};
use patgate_persistence::Db;

use crate::common::write;

fn window(caller: &str, reset_at: i64, used: i64) -> SharedWindow {
    SharedWindow {
        caller: caller.to_owned(),
        reset_at,
        used,
    }
}

fn counts_add_up_within_a_window_and_an_ended_one_is_replaced(db: &Db) {
    let first = write(db, |c| {
        exchange(c, 1000, &[window("installation:7", 4600, 4)], &[])
    });
    assert_eq!(first, vec![window("installation:7", 4600, 4)]);
    // Another instance counted 3 in a window it began a second later: the first end stays.
    let second = write(db, |c| {
        exchange(
            c,
            1001,
            &[window("installation:7", 4601, 3)],
            &["app:1".to_owned()],
        )
    });
    assert_eq!(
        second,
        vec![window("installation:7", 4600, 7)],
        "app:1 has no window"
    );
    let watched = write(db, |c| {
        exchange(c, 1002, &[], &["installation:7".to_owned()])
    });
    assert_eq!(watched, vec![window("installation:7", 4600, 7)]);
    // Past its end, the window is replaced by the one counted now.
    let next = write(db, |c| {
        exchange(c, 4600, &[window("installation:7", 8200, 1)], &[])
    });
    assert_eq!(next, vec![window("installation:7", 8200, 1)]);
    let ended = write(db, |c| {
        exchange(c, 8200, &[], &["installation:7".to_owned()])
    });
    assert_eq!(ended, vec![], "an ended window is not read");
    assert_eq!(write(db, |c| forget_ended(c, 8201)), 1);
}

both_backends!(counts_add_up_within_a_window_and_an_ended_one_is_replaced);
