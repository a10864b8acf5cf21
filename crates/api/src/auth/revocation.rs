//! What refuses a verified installation token before it expires: revoked tokens and suspended installations, mirrored in memory from the store's log of credential changes, so that every request is checked without the database.

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::NaiveDateTime;
use patgate_persistence::revocations::{self, Change, Snapshot};
use patgate_persistence::{Db, StoreError};

/// Why a verified token is refused although it has not expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The token was revoked (`DELETE /installation/token`).
    Revoked,
    /// Its installation is suspended.
    Suspended,
}

/// Revoked tokens and suspended installations as this instance knows them: changed at once
/// by this instance's own requests, and by [`Revocations::sync`] with what other instances
/// wrote to the log.
#[derive(Debug, Default)]
pub struct Revocations {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Revoked tokens by `jti`, with the token's expiry (Unix seconds): past it the token is
    /// refused as expired and the entry can go.
    revoked: HashMap<String, i64>,
    /// Installations by id: whether suspended, and the id of the change that said so, so that
    /// an older change never overrides a newer one, whichever arrives first.
    installations: HashMap<i64, (bool, i64)>,
    /// The newest change of the log applied.
    cursor: i64,
}

fn unix(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

impl Revocations {
    /// The state a snapshot of the store describes.
    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        let cursor = snapshot.last_change_id;
        let state = State {
            revoked: snapshot
                .revoked
                .into_iter()
                .map(|(jti, expires_at)| (jti, unix(expires_at)))
                .collect(),
            installations: snapshot
                .suspended_installations
                .into_iter()
                .map(|id| (id, (true, cursor)))
                .collect(),
            cursor,
        };
        Self {
            state: RwLock::new(state),
        }
    }

    /// Reads the revocations in force and the suspended installations (at start-up, before
    /// serving).
    pub fn load(db: &Db) -> Result<Self, StoreError> {
        let mut conn = db.conn()?;
        let snapshot = revocations::snapshot(&mut conn, patgate_persistence::now())?;
        Ok(Self::from_snapshot(snapshot))
    }

    /// Whether a token that verified and has not expired may be used.
    pub fn check(&self, jti: &str, installation_id: i64) -> Result<(), Refusal> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        if state.revoked.contains_key(jti) {
            return Err(Refusal::Revoked);
        }
        match state.installations.get(&installation_id) {
            Some((true, _)) => Err(Refusal::Suspended),
            _ => Ok(()),
        }
    }

    /// Refuses the token with this `jti` from now on; `expires_at` is its own expiry.
    pub fn revoke(&self, jti: &str, expires_at: i64) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.revoked.insert(jti.to_owned(), expires_at);
    }

    /// Records the installation's state as of change `change_id`, unless a newer change
    /// is already known.
    pub fn set_suspended(&self, installation_id: i64, suspended: bool, change_id: i64) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.set_suspended(installation_id, suspended, change_id);
    }

    /// Applies changes of the log, oldest first, and moves the cursor past them.
    pub fn apply(&self, changes: &[(i64, Change)]) {
        // Most polls find nothing: they take no write lock, which would hold up requests.
        if changes.is_empty() {
            return;
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for (id, change) in changes {
            match change {
                Change::TokenRevoked { jti, expires_at } => {
                    state.revoked.insert(jti.clone(), unix(*expires_at));
                }
                Change::Suspended { installation_id } => {
                    state.set_suspended(*installation_id, true, *id);
                }
                Change::Unsuspended { installation_id } => {
                    state.set_suspended(*installation_id, false, *id);
                }
            }
            state.cursor = state.cursor.max(*id);
        }
    }

    /// The newest change of the log applied.
    pub fn cursor(&self) -> i64 {
        self.state.read().unwrap_or_else(|p| p.into_inner()).cursor
    }

    /// Reads and applies every change of the log newer than the cursor; returns how many.
    /// Each read is one look-up on the log's primary key.
    pub fn sync(&self, db: &Db) -> Result<usize, StoreError> {
        let mut conn = db.conn()?;
        let mut applied = 0;
        loop {
            let changes = revocations::changes_after(&mut conn, self.cursor())?;
            self.apply(&changes);
            applied += changes.len();
            if changes.len() < revocations::BATCH as usize {
                return Ok(applied);
            }
        }
    }

    /// Forgets revoked tokens that have expired at `now` (Unix seconds): they are refused as
    /// expired.
    pub fn prune(&self, now: i64) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.revoked.retain(|_, expires_at| *expires_at > now);
    }

    /// How many revoked tokens are remembered.
    pub fn revoked_count(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .revoked
            .len()
    }
}

impl State {
    fn set_suspended(&mut self, installation_id: i64, suspended: bool, change_id: i64) {
        let newer = self
            .installations
            .get(&installation_id)
            .is_none_or(|&(_, known)| change_id > known);
        if newer {
            self.installations
                .insert(installation_id, (suspended, change_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(secs, 0)
            .expect("valid time")
            .naive_utc()
    }

    #[test]
    fn a_snapshot_refuses_its_revoked_tokens_and_suspended_installations() {
        let r = Revocations::from_snapshot(Snapshot {
            last_change_id: 7,
            revoked: vec![("j1".into(), at(1_000))],
            suspended_installations: vec![3],
        });
        assert_eq!(r.cursor(), 7);
        assert_eq!(r.check("j1", 1), Err(Refusal::Revoked));
        assert_eq!(r.check("j2", 3), Err(Refusal::Suspended));
        assert_eq!(r.check("j2", 1), Ok(()));
    }

    #[test]
    fn a_revocation_refuses_that_token_only() {
        let r = Revocations::default();
        r.revoke("j1", 1_000);
        assert_eq!(r.check("j1", 1), Err(Refusal::Revoked));
        assert_eq!(r.check("j2", 1), Ok(()));
    }

    #[test]
    fn the_newest_change_decides_a_suspension_whatever_the_order_of_arrival() {
        let r = Revocations::default();
        // This instance unsuspends (change 9) after the poller had applied a suspension (5).
        r.apply(&[(5, Change::Suspended { installation_id: 1 })]);
        assert_eq!(r.check("j", 1), Err(Refusal::Suspended));
        r.set_suspended(1, false, 9);
        assert_eq!(r.check("j", 1), Ok(()));
        // A change older than 9 arriving late changes nothing.
        r.set_suspended(1, true, 8);
        assert_eq!(r.check("j", 1), Ok(()));
        // Replaying the log up to 9 ends where it should, and moves the cursor.
        r.apply(&[
            (5, Change::Suspended { installation_id: 1 }),
            (9, Change::Unsuspended { installation_id: 1 }),
        ]);
        assert_eq!(r.check("j", 1), Ok(()));
        assert_eq!(r.cursor(), 9);
        r.apply(&[(10, Change::Suspended { installation_id: 1 })]);
        assert_eq!(r.check("j", 1), Err(Refusal::Suspended));
        assert_eq!(r.check("j", 2), Ok(()));
    }

    #[test]
    fn a_suspension_in_the_snapshot_yields_to_later_changes_only() {
        let r = Revocations::from_snapshot(Snapshot {
            last_change_id: 4,
            revoked: vec![],
            suspended_installations: vec![1],
        });
        r.apply(&[(4, Change::Unsuspended { installation_id: 1 })]);
        assert_eq!(r.check("j", 1), Err(Refusal::Suspended));
        r.apply(&[(5, Change::Unsuspended { installation_id: 1 })]);
        assert_eq!(r.check("j", 1), Ok(()));
    }

    #[test]
    fn applied_revocations_are_refused_and_pruned_once_expired() {
        let r = Revocations::default();
        r.apply(&[
            (
                1,
                Change::TokenRevoked {
                    jti: "old".into(),
                    expires_at: at(100),
                },
            ),
            (
                2,
                Change::TokenRevoked {
                    jti: "new".into(),
                    expires_at: at(10_000),
                },
            ),
        ]);
        assert_eq!(r.check("old", 1), Err(Refusal::Revoked));
        assert_eq!(r.revoked_count(), 2);
        r.prune(100);
        assert_eq!(r.revoked_count(), 1);
        assert_eq!(r.check("new", 1), Err(Refusal::Revoked));
        assert_eq!(r.cursor(), 2);
    }
}
