//! patgate's store: diesel schema, rows, and queries that run unchanged on SQLite and PostgreSQL.

pub mod access;
pub mod audit;
mod backend;
pub mod changes;
pub mod contents;
mod counts;
pub mod db;
pub mod directory;
pub mod expiry;
mod filters;
pub mod grants;
pub mod intake;
pub(crate) mod json;
mod kept_orgs;
mod literal;
pub mod models;
pub mod notifications;
mod outage;
pub mod outbox;
pub mod policy;
pub mod rate_limits;
pub mod repositories;
pub mod requests;
pub mod review_rules;
pub mod revocations;
mod routing;
pub mod schema;
pub mod seed;
pub mod starts;
mod text_enum;
pub mod webhooks;

pub use db::{Backend, Db, DbConnection, LoadOne, PoolOptions, PoolState, Touches};
/// diesel's error type, for callers' `From` conversions.
pub use diesel::result as diesel_error;

/// What can go wrong below the API, whatever the operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("no database connection available")]
    Pool(#[source] diesel::r2d2::PoolError),
    /// The connection failed under a statement: the server closed it, or it could not be
    /// written to. The pool does not reuse it.
    #[error("the connection to the database was lost")]
    Disconnected(#[source] diesel::result::Error),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("database error")]
    Db(#[source] diesel::result::Error),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => Self::NotFound,
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Self::Disconnected(e),
            other => Self::Db(other),
        }
    }
}

/// `From<diesel::result::Error>` for an operation's error whose `Store` variant holds a
/// [`StoreError`], so that its queries can use `?` directly.
macro_rules! store_error_from_diesel {
    ($($error:ty),+) => {$(
        impl From<diesel::result::Error> for $error {
            fn from(e: diesel::result::Error) -> Self {
                Self::Store(e.into())
            }
        }
    )+};
}

pub(crate) use store_error_from_diesel;

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Pool(e)
    }
}

/// The ids in `ids` that `known` does not hold, in their order: those a batch names that are
/// not in the organization, or that another writer moved first.
pub(crate) fn absent(ids: &[i64], known: impl Fn(&i64) -> bool) -> Vec<i64> {
    ids.iter().copied().filter(|id| !known(id)).collect()
}

/// The current time as stored: UTC, whole seconds (what the API shows, on both backends).
pub fn now() -> chrono::NaiveDateTime {
    truncate(chrono::Utc::now().naive_utc())
}

/// Drops sub-second precision, which SQLite and PostgreSQL keep differently.
pub fn truncate(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    t.with_nanosecond(0).unwrap_or(t)
}

/// A page of a list: 1-based page number and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// How many rows a list reads from its offset: this page and up to `pages_ahead` more,
    /// plus one to tell whether even more follow.
    pub fn window(self, pages_ahead: i64) -> i64 {
        self.per_page
            .saturating_mul(pages_ahead.saturating_add(1))
            .saturating_add(1)
    }

    /// The total implied by `seen` rows read from the offset with [`Page::window`]: exact when
    /// the window was not filled, a lower bound when it was.
    pub fn total_after(self, pages_ahead: i64, seen: usize) -> Total {
        let seen = i64::try_from(seen).unwrap_or(i64::MAX);
        let total = self.offset().saturating_add(seen);
        if seen >= self.window(pages_ahead) {
            Total::AtLeast(total)
        } else {
            Total::Exact(total)
        }
    }
}

/// Pages a list reads beyond the one asked for, to count the rows that follow: within them
/// the `Link` header names the last page; beyond them it names only the next one. Reading a
/// bounded window instead of counting every matching row keeps the cost of a page the same
/// at any list size.
pub const COUNT_AHEAD_PAGES: i64 = 10;

/// The same when a filter must probe each row it walks (permission, repository, last use):
/// there every row read ahead costs a lookup, so only the next page is counted.
pub const COUNT_AHEAD_PAGES_PROBED: i64 = 1;

/// How many rows a list has, as far as it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    Exact(i64),
    /// At least this many: more follow than were read.
    AtLeast(i64),
}

impl Total {
    /// The exact or lower-bound count.
    pub fn count(self) -> i64 {
        match self {
            Total::Exact(n) | Total::AtLeast(n) => n,
        }
    }
}

impl From<i64> for Total {
    fn from(n: i64) -> Self {
        Total::Exact(n)
    }
}

impl PartialEq<i64> for Total {
    fn eq(&self, other: &i64) -> bool {
        *self == Total::Exact(*other)
    }
}
