//! What the two outboxes (webhook deliveries and e-mail notifications) share: the status of a
//! row, their backlog, and the deletion of rows done with.

use chrono::NaiveDateTime;

crate::text_enum! {
    /// Where an outbox row stands, stored as text. A webhook delivery ends `delivered` or
    /// `failed`; an e-mail `sent`, `skipped` (nothing to send) or `failed`; both wait as
    /// `pending`, leased or not.
    Status ("outbox status") {
        Pending = "pending",
        Delivered = "delivered",
        Sent = "sent",
        Skipped = "skipped",
        Failed = "failed",
    }
}

/// An outbox at a glance: rows waiting, rows failed for good, and when the oldest waiting one
/// was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending: Option<NaiveDateTime>,
}

/// The [`Backlog`] of outbox table `$table`, restricted to `$owner = value` when `$value`
/// (an `Option<i64>`) is given.
macro_rules! backlog {
    ($conn:expr, $table:ident, $owner:ident, $value:expr) => {{
        use diesel::prelude::*;
        let value: Option<i64> = $value;
        // The status written out, as the partial indexes over due and failed rows need.
        macro_rules! of {
            ($status:expr) => {{
                let mut q = $table::table
                    .filter($table::status.eq($status))
                    .into_boxed();
                if let Some(value) = value {
                    q = q.filter($table::$owner.eq(value));
                }
                q
            }};
        }
        let pending: i64 = of!($crate::literal::Pending).count().get_result($conn)?;
        let failed: i64 = of!($crate::literal::Failed).count().get_result($conn)?;
        let oldest_pending: Option<chrono::NaiveDateTime> = of!($crate::literal::Pending)
            .select(diesel::dsl::min($table::created_at))
            .get_result($conn)?;
        Ok($crate::outbox::Backlog {
            pending,
            failed,
            oldest_pending,
        })
    }};
}
pub(crate) use backlog;

/// The two outboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    WebhookDeliveries,
    Notifications,
}

impl Outbox {
    /// The outbox's table, for SQL of our own.
    fn table(self) -> &'static str {
        match self {
            Outbox::WebhookDeliveries => "webhook_deliveries",
            Outbox::Notifications => "notifications",
        }
    }
}

/// Picks `outbox`'s due rows (pending, next attempt come, no lease in force), oldest first, at
/// most `limit`, and leases them, in one statement. `$` are PostgreSQL's parameter marks, `?`
/// SQLite's; `lock` follows the pick (PostgreSQL's `FOR UPDATE SKIP LOCKED`). `status =
/// 'pending'` is written out as the partial index `…_due` has it. The limit is a literal,
/// formatted from an integer: a bound one would make SQLite compile the kept statement again
/// on every execution (see `db::LoadOne`); there is one text per batch size.
fn claim_sql(outbox: Outbox, mark: char, lock: &str, limit: i64) -> String {
    let table = outbox.table();
    format!(
        "UPDATE {table} SET leased_by = {mark}1, lease_until = {mark}2 \
         WHERE id IN (SELECT id FROM {table} \
             WHERE status = 'pending' AND next_attempt_at <= {mark}3 \
               AND (lease_until IS NULL OR lease_until <= {mark}3) \
             ORDER BY next_attempt_at, id LIMIT {limit}{lock}) \
         RETURNING *"
    )
}

/// Leases up to `limit` of `outbox`'s due rows to `owner` until `lease_until`, in one
/// statement, kept prepared; the rows leased, in no particular order. On PostgreSQL the rows
/// another instance is leasing at the same moment are skipped rather than waited for (`FOR
/// UPDATE SKIP LOCKED`); on SQLite, writers take turns, so no row can be leased between the
/// pick and the write. To be called in a write transaction.
pub(crate) fn claim<T>(
    conn: &mut crate::DbConnection,
    outbox: Outbox,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<T>, crate::StoreError>
where
    T: diesel::QueryableByName<diesel::pg::Pg>
        + diesel::QueryableByName<diesel::sqlite::Sqlite>
        + 'static,
{
    use diesel::sql_types::{Text, Timestamp};
    use diesel::RunQueryDsl;
    let query = |sql: String| {
        crate::db::cached(
            diesel::sql_query(sql)
                .bind::<Text, _>(owner.to_owned())
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now),
        )
    };
    Ok(match conn {
        crate::DbConnection::Postgresql(pg) => {
            query(claim_sql(outbox, '$', " FOR UPDATE SKIP LOCKED", limit)).load(pg)?
        }
        crate::DbConnection::Sqlite(lite) => query(claim_sql(outbox, '?', "", limit)).load(lite)?,
    })
}

/// Deletes up to `limit` rows of `outbox` that are done with (not pending) and were queued
/// before `cutoff`, oldest first; the number deleted. Rows still to send are never deleted,
/// however old. To be called in a write transaction, batch after batch.
pub fn sweep(
    conn: &mut crate::DbConnection,
    outbox: Outbox,
    cutoff: NaiveDateTime,
    limit: i64,
) -> Result<usize, crate::StoreError> {
    use diesel::sql_types::{BigInt, Timestamp};
    use diesel::RunQueryDsl;
    let table = outbox.table();
    // `status <> 'pending'` is written out as the partial index `…_done` has it, for SQLite
    // to use that index.
    let sql = |a: &str, b: &str| {
        format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} \
             WHERE status <> 'pending' AND created_at < {a} ORDER BY created_at LIMIT {b})"
        )
    };
    Ok(match conn {
        crate::DbConnection::Postgresql(pg) => diesel::sql_query(sql("$1", "$2"))
            .bind::<Timestamp, _>(cutoff)
            .bind::<BigInt, _>(limit)
            .execute(pg)?,
        crate::DbConnection::Sqlite(lite) => diesel::sql_query(sql("?", "?"))
            .bind::<Timestamp, _>(cutoff)
            .bind::<BigInt, _>(limit)
            .execute(lite)?,
    })
}

/// When the oldest of `outbox`'s due rows (pending, next attempt come by `now`) was due;
/// `None` when none is. One read of the partial index `…_due`, whose condition the query
/// states as written there.
pub fn oldest_due(
    conn: &mut crate::DbConnection,
    outbox: Outbox,
    now: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, crate::StoreError> {
    use diesel::sql_types::{Nullable, Timestamp};
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Due {
        #[diesel(sql_type = Nullable<Timestamp>)]
        due: Option<NaiveDateTime>,
    }
    let table = outbox.table();
    let sql = |mark: &str| {
        format!(
            "SELECT MIN(next_attempt_at) AS due FROM {table} \
             WHERE status = 'pending' AND next_attempt_at <= {mark}"
        )
    };
    let row: Due = match conn {
        crate::DbConnection::Postgresql(pg) => diesel::sql_query(sql("$1"))
            .bind::<Timestamp, _>(now)
            .get_result(pg)?,
        crate::DbConnection::Sqlite(lite) => diesel::sql_query(sql("?"))
            .bind::<Timestamp, _>(now)
            .get_result(lite)?,
    };
    Ok(row.due)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_as_itself_and_nothing_else_reads() {
        for &status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("Pending"), None);
        assert_eq!(Status::parse(""), None);
    }
}
