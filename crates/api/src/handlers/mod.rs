//! Route handlers, one module per resource.

pub mod apps;
pub mod audit_log;
mod call;
pub mod credentials;
pub mod enterprise_policy;
pub mod errors;
pub mod grants;
pub mod hooks;
pub mod intake;
mod listing;
pub mod notifications;
pub mod org_hooks;
pub mod params;
pub mod policy;
pub mod requests;
pub mod review_rules;

use actix_web::{web, HttpRequest, HttpResponse};
pub(crate) use call::Scope;
pub use call::{AppCall, Call, InOrg, Reply};
use patgate_persistence::models::Organization;
use patgate_persistence::outbox::Backlog;
use patgate_persistence::{directory, Db, DbConnection, Page, Total, Touches};
use serde::Serialize;

use crate::auth::InstallationCaller;
use crate::dto::hooks::DeliveryBacklog;
use crate::error::{ApiError, FieldError};
use crate::pagination::{link_header, ok_with_link};
use crate::state::AppState;

/// The organization named in the path, if it is the caller's own; any other organization,
/// existing or not, is "Not Found" so that nothing leaks.
pub(crate) fn caller_org(
    db: &Db,
    caller: &InstallationCaller,
    login: &str,
) -> Result<Organization, ApiError> {
    let id = caller.org_id();
    let org = db.kept_org(id, || directory::org_by_id(&mut **db.conn()?, id))?;
    match org {
        Some(org) if org.login_key.eq_ignore_ascii_case(login) => Ok(org),
        _ => Err(ApiError::NotFound),
    }
}

/// What a path names as the caller may see it, any other being "Not Found": [`caller_org`],
/// or the enterprise of the enterprise policy endpoints.
pub(crate) type Lookup<S> = fn(&Db, &InstallationCaller, &str) -> Result<S, ApiError>;

/// Runs blocking database work off the async workers.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await?
}

/// Reads on one pooled connection, off the async workers.
pub(crate) async fn read<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let db = state.db.clone();
    blocking(move || f(&mut *db.conn()?)).await
}

/// Runs `write` in one transaction, off the async workers; `touches` says which kept answers it
/// may make stale (see [`Db::write`]).
pub(crate) async fn write<T, F>(state: &AppState, touches: Touches, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let db = state.db.clone();
    blocking(move || db.write(touches, f)).await
}

/// Ids as a comma-separated list, for messages.
pub(crate) fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The 422 of a bulk change naming ids that do not exist: "Unknown {what} ids: 1, 2", and each
/// as "{noun} {id} does not exist".
pub(crate) fn unknown_ids(
    resource: &str,
    field: &str,
    what: &str,
    noun: &str,
    ids: &[i64],
) -> ApiError {
    ApiError::Unprocessable {
        message: format!("Unknown {what} ids: {}", join_ids(ids)),
        errors: ids
            .iter()
            .map(|id| {
                FieldError::new(
                    resource,
                    field,
                    "missing",
                    format!("{noun} {id} does not exist"),
                )
            })
            .collect(),
    }
}

/// A 422 with `message` and one `unprocessable` error of `field` per refused item.
pub(crate) fn unprocessable(
    resource: &str,
    field: &str,
    message: String,
    refusals: impl Iterator<Item = String>,
) -> ApiError {
    ApiError::Unprocessable {
        message,
        errors: refusals
            .map(|why| FieldError::new(resource, field, "unprocessable", why))
            .collect(),
    }
}

/// An outbox's backlog (a hook's, an app's, an organization's e-mail) as of now.
pub(crate) fn backlog_json(backlog: Backlog) -> HttpResponse {
    let Backlog {
        pending,
        failed,
        oldest_pending,
    } = backlog;
    HttpResponse::Ok().json(DeliveryBacklog::new(pending, failed, oldest_pending))
}

/// A 200 with one page of `items` (JSON) and its `Link` header (see [`link_header`]).
pub(crate) fn page_json(
    state: &AppState,
    req: &HttpRequest,
    page: Page,
    total: impl Into<Total>,
    items: &impl Serialize,
) -> HttpResponse {
    let link = link_header(&state.base_url, req.path(), req.query_string(), page, total);
    ok_with_link(link).json(items)
}
