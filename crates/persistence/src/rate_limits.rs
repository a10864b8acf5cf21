//! The primary rate limit's windows shared by every instance on one database. Each instance
//! counts its callers' requests in memory (no write per request) and, every few hundred
//! milliseconds, adds what it counted to the shared window of each caller and reads back the
//! total, in one transaction ([`exchange`]).

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::{DbConnection, StoreError};

/// A caller's window: who (`installation:ID`, `app:ID`), when it ends (Unix seconds) and how
/// many requests it counts.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct SharedWindow {
    #[diesel(sql_type = Text)]
    pub caller: String,
    #[diesel(sql_type = BigInt)]
    pub reset_at: i64,
    #[diesel(sql_type = BigInt)]
    pub used: i64,
}

/// Adds `counted` (each caller's requests counted here since the last exchange, with the end
/// of the window they were counted in) to the shared windows, and reads the windows of
/// `watched` (callers this instance counted nothing for, but may serve soon); gives every
/// window as it now stands. A shared window that has ended by `now` is replaced by the
/// counted one; one in force keeps its end and adds the count. To be called in a write
/// transaction.
pub fn exchange(
    conn: &mut DbConnection,
    now: i64,
    counted: &[SharedWindow],
    watched: &[String],
) -> Result<Vec<SharedWindow>, StoreError> {
    // `{m}` is the parameter mark: `$` on PostgreSQL, `?` (numbered) on SQLite.
    let add = |m: char| {
        format!(
            "INSERT INTO rate_limit_windows (caller, reset_at, used) VALUES ({m}1, {m}2, {m}3) \
             ON CONFLICT (caller) DO UPDATE SET \
             used = CASE WHEN rate_limit_windows.reset_at <= {m}4 THEN excluded.used \
                    ELSE rate_limit_windows.used + excluded.used END, \
             reset_at = CASE WHEN rate_limit_windows.reset_at <= {m}4 THEN excluded.reset_at \
                    ELSE rate_limit_windows.reset_at END \
             RETURNING caller, reset_at, used"
        )
    };
    let read = |m: char| {
        format!(
            "SELECT caller, reset_at, used FROM rate_limit_windows \
             WHERE caller = {m}1 AND reset_at > {m}2"
        )
    };
    let mut windows = Vec::with_capacity(counted.len() + watched.len());
    for w in counted {
        let query = |sql: String| {
            diesel::sql_query(sql)
                .bind::<Text, _>(w.caller.clone())
                .bind::<BigInt, _>(w.reset_at)
                .bind::<BigInt, _>(w.used)
                .bind::<BigInt, _>(now)
        };
        windows.push(match conn {
            DbConnection::Postgresql(pg) => query(add('$')).get_result(pg)?,
            DbConnection::Sqlite(lite) => query(add('?')).get_result(lite)?,
        });
    }
    for caller in watched {
        let query = |sql: String| {
            diesel::sql_query(sql)
                .bind::<Text, _>(caller.clone())
                .bind::<BigInt, _>(now)
        };
        let found: Vec<SharedWindow> = match conn {
            DbConnection::Postgresql(pg) => query(read('$')).load(pg)?,
            DbConnection::Sqlite(lite) => query(read('?')).load(lite)?,
        };
        windows.extend(found);
    }
    Ok(windows)
}

/// Deletes the windows that ended before `before`; how many.
pub fn forget_ended(conn: &mut DbConnection, before: i64) -> Result<usize, StoreError> {
    use crate::schema::rate_limit_windows as w;
    use diesel::{ExpressionMethods, QueryDsl};
    Ok(diesel::delete(w::table.filter(w::reset_at.lt(before))).execute(conn)?)
}
