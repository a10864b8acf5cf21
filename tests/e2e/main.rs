//! End-to-end tests: each starts the real `patgate` binary on a free port against a fresh SQLite file or PostgreSQL database and talks HTTP to it.

mod helpers;

mod apps;
mod audit_log;
mod auth;
mod ci_cli;
mod cli;
mod client;
mod enterprise;
mod grants;
mod health;
mod kept;
mod key_rotation;
mod lifecycle;
mod logs;
mod metrics;
mod notifications;
mod openapi_doc;
mod org_hooks;
mod rate_limit;
mod requests;
mod review;
mod review_rules;
mod revocation;
mod webhooks;
