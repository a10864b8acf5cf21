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
        let of = |status: $crate::outbox::Status| {
            let mut q = $table::table.filter($table::status.eq(status)).into_boxed();
            if let Some(value) = value {
                q = q.filter($table::$owner.eq(value));
            }
            q
        };
        let pending: i64 = of($crate::outbox::Status::Pending)
            .count()
            .get_result($conn)?;
        let failed: i64 = of($crate::outbox::Status::Failed)
            .count()
            .get_result($conn)?;
        let oldest_pending: Option<chrono::NaiveDateTime> = of($crate::outbox::Status::Pending)
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
    let table = match outbox {
        Outbox::WebhookDeliveries => "webhook_deliveries",
        Outbox::Notifications => "notifications",
    };
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
