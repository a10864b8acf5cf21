//! What the request and grant listings share: the caller's organization, the permission, the filters, one page, and the `Link` header.

use actix_web::{web, HttpRequest, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::models::{Organization, Repository};
use patgate_persistence::repositories::{self, Access};
use patgate_persistence::requests::ListFilter;
use patgate_persistence::{DbConnection, Page, StoreError, Total};
use serde::Serialize;

use super::{blocking, caller_org};
use crate::auth::InstallationCaller;
use crate::dto::MinimalRepository;
use crate::error::ApiError;
use crate::list_query::parse_list_query;
use crate::pagination::{link_header, ok_with_link, page_from_query};
use crate::state::AppState;

/// Reads one filtered page of an organization's rows, with the total.
pub(crate) type FetchPage<V> =
    fn(&mut DbConnection, i64, &ListFilter, Page) -> Result<(Vec<V>, Total), StoreError>;

/// Answers a filtered, paginated list: `fetch` reads one page of rows and the total, `build`
/// turns a row into its wire shape (given the base URL and the organization's login).
pub(crate) async fn filtered_list<V, T>(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: String,
    req: HttpRequest,
    op: Operation,
    fetch: FetchPage<V>,
    build: fn(&str, &str, &V) -> T,
) -> Result<HttpResponse, ApiError>
where
    V: Send + 'static,
    T: Serialize,
{
    let query = parse_list_query(req.query_string());
    let db = state.db.clone();
    let (org, page, (rows, total)) = blocking(move || {
        let mut conn = db.conn()?;
        let org = caller_org(&mut conn, &caller, &org)?;
        caller.authorize(op)?;
        let (filter, page) = query?;
        let found = fetch(&mut conn, org.id, &filter, page)?;
        Ok((org, page, found))
    })
    .await?;
    let items: Vec<T> = rows
        .iter()
        .map(|row| build(&state.base_url, &org.login, row))
        .collect();
    let link = link_header(&state.base_url, req.path(), req.query_string(), page, total);
    Ok(ok_with_link(link).json(items))
}

/// Answers the repositories a request (or grant) reaches: `find` looks the request or grant up
/// in the organization and says what it reaches.
pub(crate) async fn repositories_page(
    state: web::Data<AppState>,
    caller: InstallationCaller,
    org: String,
    id: i64,
    req: HttpRequest,
    op: Operation,
    find: super::FindAccess,
) -> Result<HttpResponse, ApiError> {
    let page = page_from_query(req.query_string());
    let db = state.db.clone();
    let (org, page, (repos, total)): (Organization, Page, (Vec<Repository>, i64)) =
        blocking(move || {
            let mut conn = db.conn()?;
            let org = caller_org(&mut conn, &caller, &org)?;
            caller.authorize(op)?;
            let page = page?;
            let (request_id, selection) = find(&mut conn, org.id, id)?.ok_or(ApiError::NotFound)?;
            let access = Access {
                org_id: org.id,
                request_id,
                repository_selection: &selection,
            };
            let found = repositories::repositories_of(&mut conn, access, page)?;
            Ok((org, page, found))
        })
        .await?;
    let items: Vec<MinimalRepository> = repos
        .iter()
        .map(|r| MinimalRepository::build(&state.base_url, &org, r))
        .collect();
    let link = link_header(&state.base_url, req.path(), req.query_string(), page, total);
    Ok(ok_with_link(link).json(items))
}
