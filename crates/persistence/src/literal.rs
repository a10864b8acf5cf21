//! Constant text written into a statement's SQL instead of bound: `status = 'pending'`.
//!
//! The indexes over pending requests, active grants, due and failed outbox rows and automatic
//! approvals are partial (`WHERE status = 'pending'`). A planner uses one only when the query's
//! condition states the same constant: PostgreSQL does not prove it from a bound parameter in
//! a generic plan, and SQLite, built with the query planner stability guarantee
//! (`SQLITE_ENABLE_QPSG`, `.cargo/config.toml`), never plans from bound values. Without that
//! guarantee SQLite would plan from them and prepare the statement again each time a value is
//! bound: every `LIMIT ?` diesel sends, every `status = ?`. Each literal here is a type of its
//! own, so that a statement using it is kept prepared like any other.

use diesel::backend::Backend;
use diesel::expression::ValidGrouping;
use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::QueryResult;

macro_rules! literals {
    ($($(#[$doc:meta])* $name:ident = $sql:literal;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl Expression for $name {
            type SqlType = diesel::sql_types::Text;
        }

        impl<DB: Backend> QueryFragment<DB> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl QueryId for $name {
            type QueryId = Self;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl<QS: ?Sized> AppearsOnTable<QS> for $name {}

        impl<QS: ?Sized> SelectableExpression<QS> for $name {}

        impl<GB> ValidGrouping<GB> for $name {
            type IsAggregate = is_aggregate::Never;
        }
    )+};
}

literals! {
    /// A pending request, or an outbox row still to send.
    Pending = "'pending'";
    /// An active grant.
    Active = "'active'";
    /// An outbox row given up on.
    Failed = "'failed'";
    /// A request approved (a rule's outcome).
    Approved = "'approved'";
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;

    use super::*;
    use crate::schema::pat_requests;

    #[test]
    fn a_literal_is_written_into_the_sql() {
        let query = pat_requests::table
            .filter(pat_requests::status.eq(Pending))
            .select(pat_requests::id);
        let sql = diesel::debug_query::<Sqlite, _>(&query).to_string();
        assert!(sql.contains("`pat_requests`.`status` = 'pending'"), "{sql}");
        assert!(sql.ends_with("-- binds: []"), "{sql}");
    }
}
