//! Route handlers, one module per resource.

pub mod apps;
pub mod audit_log;
pub mod credentials;
pub mod enterprise_policy;
pub mod grants;
pub mod hook_bodies;
pub mod hooks;
pub mod intake;
mod listing;
pub mod notifications;
pub mod org_hooks;
pub mod policy;
pub mod requests;

use actix_web::web;
use patgate_persistence::models::Organization;
use patgate_persistence::{directory, DbConnection};

use crate::auth::InstallationCaller;
use crate::error::ApiError;

/// The organization named in the path, if it is the caller's own; any other organization,
/// existing or not, is "Not Found" so that nothing leaks.
pub(crate) fn caller_org(
    conn: &mut DbConnection,
    caller: &InstallationCaller,
    login: &str,
) -> Result<Organization, ApiError> {
    match directory::org_by_login(conn, login)? {
        Some(org) if org.id == caller.org_id() => Ok(org),
        _ => Err(ApiError::NotFound),
    }
}

/// Runs blocking database work off the async workers.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await?
}

/// Ids as a comma-separated list, for messages.
pub(crate) fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Looks a request or grant up in an organization: the request id whose repositories it
/// reaches, and its repository selection.
pub(crate) type FindAccess = fn(
    &mut patgate_persistence::DbConnection,
    i64,
    i64,
) -> Result<Option<(i64, String)>, patgate_persistence::StoreError>;
