//! Persistence integration tests: every test runs once on SQLite and once on PostgreSQL.

#[macro_use]
mod common;
mod changes;
mod concurrency;
mod constraints;
mod deliveries;
mod list_pending;
mod migrations;
mod notifications;
mod outbox_plans;
mod query_plans;
mod rate_limits;
mod review;
mod review_rules;
mod revocations;
mod statements;
mod wal;
