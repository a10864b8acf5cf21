//! patgate's store: diesel schema, rows, and queries that run unchanged on SQLite and PostgreSQL.

pub mod access;
pub mod audit;
pub mod db;
pub mod directory;
pub mod expiry;
mod filters;
pub mod grants;
pub mod intake;
pub mod models;
pub mod policy;
pub mod repositories;
pub mod requests;
pub mod revocations;
pub mod schema;
pub mod seed;

pub use db::{Backend, Db, DbConnection, PoolOptions};
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
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("database error")]
    Db(#[source] diesel::result::Error),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Self::NotFound,
            other => Self::Db(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Pool(e)
    }
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
}
