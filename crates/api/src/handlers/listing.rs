//! What the request and grant listings share: the caller's organization, the permission, the filters, one page, and the `Link` header.

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use patgate_domain::Operation;
use patgate_persistence::grants::GrantView;
use patgate_persistence::repositories::{self, Access};
use patgate_persistence::requests::{ListFilter, RequestView};
use patgate_persistence::starts::Starts;
use patgate_persistence::{DbConnection, Page, StoreError, Total};
use serde::Serialize;

use super::params::OrgPath;
use super::{Call, InOrg, Reply};
use crate::dto::MinimalRepository;
use crate::error::ApiError;
use crate::list_query::parse_list_query;
use crate::pagination::{link_header, page_from_query};
use crate::responses::{Kept, Slot};
use crate::state::AppState;

/// A listed row that shows a token's expiry, after which the row reads differently
/// (`token_expired`).
pub(crate) trait ShowsToken {
    fn token_expires_at(&self) -> Option<NaiveDateTime>;
}

impl ShowsToken for RequestView {
    fn token_expires_at(&self) -> Option<NaiveDateTime> {
        self.request.token_expires_at
    }
}

impl ShowsToken for GrantView {
    fn token_expires_at(&self) -> Option<NaiveDateTime> {
        self.grant.token_expires_at
    }
}

/// The one way to a kept answer: authorizes first, then looks up. When the caller may `op`
/// and an answer to this very request is kept for the caller's organization and still
/// current, `Ok` sends it with no database work. Otherwise `Err(slot)`: read the store and
/// keep the answer in `slot` (`None`: keep nothing). A caller without the permission looks
/// nothing up and goes the uncached way, which answers 404 for another organization before
/// 403, as every request does.
pub(crate) fn kept_answer<P>(
    call: &Call<P>,
    req: &HttpRequest,
    body: &[u8],
    op: Operation,
) -> Result<HttpResponse, Option<Slot>> {
    if call.caller.authorize(op).is_err() {
        return Err(None);
    }
    let state = &call.state;
    let request = [
        req.method().as_str().as_bytes(),
        req.path().as_bytes(),
        req.query_string().as_bytes(),
        body,
    ];
    match state
        .responses
        .slot(state.db.changes(), call.caller.org_id(), &request)
    {
        Some((_, Some(kept))) => Ok(kept.serve_kept()),
        Some((slot, None)) => Err(Some(slot)),
        None => Err(None),
    }
}

/// Sends `body` (JSON) with `link`, keeping it in `slot` until the first of `expiries` to come.
pub(crate) fn answer_and_keep(
    state: &AppState,
    slot: Option<Slot>,
    expiries: impl Iterator<Item = NaiveDateTime>,
    body: Vec<u8>,
    link: Option<String>,
) -> HttpResponse {
    let kept = Kept {
        body: Bytes::from(body),
        link,
    };
    if let Some(slot) = slot {
        let now = chrono::Utc::now().timestamp();
        let until = expiries
            .map(|t| t.and_utc().timestamp())
            .filter(|t| *t > now)
            .min();
        state
            .responses
            .keep(state.db.changes(), slot, until, kept.clone());
    }
    kept.respond()
}

/// Reads one filtered page of an organization's rows, with the total, from a page start
/// kept by an earlier read when there is one.
pub(crate) type FetchPage<V> = fn(
    &mut DbConnection,
    i64,
    &ListFilter,
    Page,
    &Starts<'_>,
) -> Result<(Vec<V>, Total), StoreError>;

/// Counts an organization's rows that pass a filter.
pub(crate) type CountRows = fn(&mut DbConnection, i64, &ListFilter) -> Result<i64, StoreError>;

/// One of the filtered lists (requests, grants): the permission it needs, how to read a page
/// of rows with what is known of the total, how to count every row, and each row's wire shape
/// (given the base URL and the organization's login).
pub(crate) struct FilteredList<V, T> {
    pub op: Operation,
    pub fetch: FetchPage<V>,
    pub count: CountRows,
    pub build: fn(&str, &str, &V) -> T,
}

/// Answers a filtered, paginated list. When the page did not read to the end of the list, the
/// list is counted, once per change of the organization's data, so that every page's `Link`
/// names the last page.
pub(crate) async fn filtered_list<V, T>(
    call: Call<OrgPath>,
    req: HttpRequest,
    list: FilteredList<V, T>,
) -> Reply
where
    V: ShowsToken + Send + 'static,
    T: Serialize,
{
    let FilteredList {
        op,
        fetch,
        count,
        build,
    } = list;
    let slot = match kept_answer(&call, &req, b"", op) {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let query = parse_list_query(req.query_string());
    let db = call.state.db.clone();
    let (org, page, (rows, total)) = call
        .in_org(op)
        .read(move |conn, org| {
            let (filter, page) = query?;
            let (rows, total) = fetch(conn, org.id, &filter, page, &db.starts(org.id))?;
            let total = match total {
                Total::AtLeast(_) => {
                    let key = format!("{op:?}:{}", filter.selection_key());
                    Total::Exact(db.kept_count(org.id, key, || count(conn, org.id, &filter))?)
                }
                exact => exact,
            };
            Ok((org, page, (rows, total)))
        })
        .await?;
    let items: Vec<T> = rows
        .iter()
        .map(|row| build(&call.state.base_url, &org.login, row))
        .collect();
    let expiries = rows.iter().filter_map(ShowsToken::token_expires_at);
    answer_page(&call.state, &req, slot, expiries, &items, (page, total))
}

/// Sends a page of `items` with its `Link`, keeping it in `slot` until the first of
/// `expiries` to come.
fn answer_page<T: Serialize>(
    state: &AppState,
    req: &HttpRequest,
    slot: Option<Slot>,
    expiries: impl Iterator<Item = NaiveDateTime>,
    items: &[T],
    (page, total): (Page, Total),
) -> Result<HttpResponse, ApiError> {
    let link = link_header(&state.base_url, req.path(), req.query_string(), page, total);
    let body = serde_json::to_vec(items).map_err(ApiError::internal)?;
    Ok(answer_and_keep(state, slot, expiries, body, link))
}

/// What a request's or grant's repositories are read with: the permission, and how to find
/// the request or grant in the organization (the request id whose repositories it reaches,
/// and its repository selection).
pub(crate) struct RepositoriesOf {
    pub op: Operation,
    pub find: FindAccess,
}

/// Looks a request or grant up in an organization: the request id whose repositories it
/// reaches, and its repository selection.
pub(crate) type FindAccess =
    fn(&mut DbConnection, i64, i64) -> Result<Option<(i64, String)>, StoreError>;

/// Answers the repositories a request (or grant) `id` reaches.
pub(crate) async fn repositories_page<P: InOrg>(
    call: Call<P>,
    id: i64,
    req: HttpRequest,
    RepositoriesOf { op, find }: RepositoriesOf,
) -> Reply {
    let slot = match kept_answer(&call, &req, b"", op) {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let page = page_from_query(req.query_string());
    let (org, page, (repos, total)) = call
        .in_org(op)
        .read(move |conn, org| {
            let page = page?;
            let (request_id, selection) = find(conn, org.id, id)?.ok_or(ApiError::NotFound)?;
            let access = Access {
                org_id: org.id,
                request_id,
                repository_selection: &selection,
            };
            let found = repositories::repositories_of(conn, access, page)?;
            Ok((org, page, found))
        })
        .await?;
    let items: Vec<MinimalRepository> = repos
        .iter()
        .map(|r| MinimalRepository::build(&call.state.base_url, &org, r))
        .collect();
    answer_page(
        &call.state,
        &req,
        slot,
        std::iter::empty(),
        &items,
        (page, Total::Exact(total)),
    )
}
