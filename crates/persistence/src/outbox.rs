//! What the two outboxes (webhook deliveries and e-mail notifications) share: their backlog.

use chrono::NaiveDateTime;

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
        let of = |status: &'static str| {
            let mut q = $table::table.filter($table::status.eq(status)).into_boxed();
            if let Some(value) = value {
                q = q.filter($table::$owner.eq(value));
            }
            q
        };
        let pending: i64 = of("pending").count().get_result($conn)?;
        let failed: i64 = of("failed").count().get_result($conn)?;
        let oldest_pending: Option<chrono::NaiveDateTime> = of("pending")
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
