//! Persistence integration tests: every test runs once on SQLite and once on PostgreSQL.

#[macro_use]
mod common;
mod scratch;
