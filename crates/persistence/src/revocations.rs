//! What ends installation access tokens before they expire: revoked tokens and suspended installations, written to one log of changes (`credential_changes`) that every instance follows by id.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::audit;
use crate::db::DbConnection;
use crate::models::CredentialChange;
use crate::schema::{credential_changes, installations};
use crate::StoreError;

const TOKEN_REVOKED: &str = "token.revoked";
const SUSPENDED: &str = "installation.suspended";
const UNSUSPENDED: &str = "installation.unsuspended";

/// Changes read by one [`changes_after`] call, at most.
pub const BATCH: i64 = 1000;

/// One change of the log, as the instances following it apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The token with this `jti` is refused until it expires (and then anyway).
    TokenRevoked {
        jti: String,
        expires_at: NaiveDateTime,
    },
    /// Every token of the installation is refused until it is unsuspended.
    Suspended { installation_id: i64 },
    /// The installation's tokens work again, those not expired or revoked.
    Unsuspended { installation_id: i64 },
}

impl TryFrom<CredentialChange> for Change {
    type Error = StoreError;

    fn try_from(row: CredentialChange) -> Result<Self, StoreError> {
        let installation_id = row.installation_id;
        match (row.action.as_str(), row.jti, row.expires_at) {
            (TOKEN_REVOKED, Some(jti), Some(expires_at)) => {
                Ok(Self::TokenRevoked { jti, expires_at })
            }
            (SUSPENDED, _, _) => Ok(Self::Suspended { installation_id }),
            (UNSUSPENDED, _, _) => Ok(Self::Unsuspended { installation_id }),
            (action, _, _) => Err(StoreError::Corrupt(format!(
                "credential change {}: unexpected action {action:?}",
                row.id
            ))),
        }
    }
}

/// Where a follower starts: the newest change id (0 for an empty log), the revocations still
/// in force and the suspended installations. The id is read first, so that a change made
/// while the rest is read is read again by the first [`changes_after`], never missed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub last_change_id: i64,
    /// `jti` and expiry of every revoked token that has not expired at `now`.
    pub revoked: Vec<(String, NaiveDateTime)>,
    pub suspended_installations: Vec<i64>,
}

/// Reads the state a new follower starts from.
pub fn snapshot(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Snapshot, StoreError> {
    let last_change_id = credential_changes::table
        .select(diesel::dsl::max(credential_changes::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    let revoked = credential_changes::table
        .filter(credential_changes::expires_at.gt(now))
        .filter(credential_changes::action.eq(TOKEN_REVOKED))
        .select((credential_changes::jti, credential_changes::expires_at))
        .load::<(Option<String>, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .filter_map(|(jti, expires_at)| Some((jti?, expires_at?)))
        .collect();
    let suspended_installations = installations::table
        .filter(installations::suspended_at.is_not_null())
        .select(installations::id)
        .load(conn)?;
    Ok(Snapshot {
        last_change_id,
        revoked,
        suspended_installations,
    })
}

/// The changes after `after`, oldest first, at most [`BATCH`]: one look-up on the primary key.
pub fn changes_after(
    conn: &mut DbConnection,
    after: i64,
) -> Result<Vec<(i64, Change)>, StoreError> {
    credential_changes::table
        .filter(credential_changes::id.gt(after))
        .order(credential_changes::id)
        .limit(BATCH)
        .load::<CredentialChange>(conn)?
        .into_iter()
        .map(|row| Ok((row.id, Change::try_from(row)?)))
        .collect()
}

/// Serialises the writers of the log until the transaction ends, so that ids become visible
/// in the order they are given out (a follower that has seen an id has seen every smaller
/// one). PostgreSQL: an EXCLUSIVE table lock, which plain reads do not wait for. SQLite
/// already has one writer at a time.
fn lock_log(conn: &mut DbConnection) -> Result<(), StoreError> {
    if let DbConnection::Postgresql(pg) = conn {
        pg.batch_execute("LOCK TABLE credential_changes IN EXCLUSIVE MODE")?;
    }
    Ok(())
}

/// Records that the token with this `jti`, of this installation, is revoked; returns the
/// change id. Revoking a token twice records it once. Call inside a write transaction.
pub fn revoke_token(
    conn: &mut DbConnection,
    installation_id: i64,
    jti: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<i64, StoreError> {
    lock_log(conn)?;
    let existing = credential_changes::table
        .filter(credential_changes::jti.eq(jti))
        .select(credential_changes::id)
        .first::<i64>(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    Ok(diesel::insert_into(credential_changes::table)
        .values((
            credential_changes::action.eq(TOKEN_REVOKED),
            credential_changes::installation_id.eq(installation_id),
            credential_changes::jti.eq(jti),
            credential_changes::expires_at.eq(expires_at),
            credential_changes::created_at.eq(now),
        ))
        .returning(credential_changes::id)
        .get_result(conn)?)
}

/// Suspends (or unsuspends) the app's installation, with a change in the log and an event in
/// the organization's audit trail (the app as actor). Returns the change id, or `None` when
/// the installation was already in that state (nothing is written);
/// [`StoreError::NotFound`] when it is not an installation of the app. Call inside a write
/// transaction.
pub fn set_suspended(
    conn: &mut DbConnection,
    app_id: i64,
    installation_id: i64,
    suspended: bool,
    now: NaiveDateTime,
) -> Result<Option<i64>, StoreError> {
    lock_log(conn)?;
    let target = installations::table
        .filter(installations::id.eq(installation_id))
        .filter(installations::app_id.eq(app_id));
    let (org_id, suspended_at): (i64, Option<NaiveDateTime>) = target
        .select((installations::org_id, installations::suspended_at))
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    if suspended_at.is_some() == suspended {
        return Ok(None);
    }
    diesel::update(target)
        .set((
            installations::suspended_at.eq(suspended.then_some(now)),
            installations::updated_at.eq(now),
        ))
        .execute(conn)?;
    let action = if suspended { SUSPENDED } else { UNSUSPENDED };
    let id = diesel::insert_into(credential_changes::table)
        .values((
            credential_changes::action.eq(action),
            credential_changes::installation_id.eq(installation_id),
            credential_changes::created_at.eq(now),
        ))
        .returning(credential_changes::id)
        .get_result(conn)?;
    let entry = audit::Entry {
        org_id,
        action,
        subject_type: "installation",
        subject_id: installation_id,
        app_id: Some(app_id),
        installation_id: None,
        reason: None,
        at: now,
    };
    audit::record(conn, &entry)?;
    Ok(Some(id))
}

/// Deletes the revocations of tokens that expired before `now` (they are refused as expired
/// anyway); returns how many. Suspension changes are kept: there are few of them.
pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        credential_changes::table
            .filter(credential_changes::action.eq(TOKEN_REVOKED))
            .filter(credential_changes::expires_at.lt(now)),
    )
    .execute(conn)?)
}
