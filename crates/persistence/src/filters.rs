//! The list filters shared by requests and grants, built once as a boxed query so that a page and its count use the very same conditions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::schema::{repositories, users};
use crate::LoadOne;
use crate::StoreError;

/// The list filters of `GET /orgs/{org}/personal-access-token-requests` and of grants.
/// Logins and repository names are case-folded keys.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub owner_keys: Vec<String>,
    pub repository_key: Option<String>,
    /// `<permission>_<level>`, e.g. `issues_read`.
    pub permission: Option<String>,
    pub last_used_before: Option<NaiveDateTime>,
    pub last_used_after: Option<NaiveDateTime>,
    pub token_ids: Vec<i64>,
    pub ascending: bool,
}

impl ListFilter {
    /// What the filter selects, whatever the order it lists in or how its values were given:
    /// rows passing equal keys are the same rows.
    pub fn selection_key(&self) -> String {
        let mut owners = self.owner_keys.clone();
        owners.sort_unstable();
        owners.dedup();
        let mut tokens = self.token_ids.clone();
        tokens.sort_unstable();
        tokens.dedup();
        format!(
            "owners={owners:?};repository={:?};permission={:?};before={:?};after={:?};tokens={tokens:?}",
            self.repository_key, self.permission, self.last_used_before, self.last_used_after
        )
    }
}

/// A filter with its repository name turned into an id, once per list call.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    pub org_id: i64,
    pub filter: &'a ListFilter,
    pub repository_id: Option<i64>,
    /// The owners' user ids, so that the owner index serves both the filter and the order
    /// (a subquery on logins hides the ids from SQLite's planner, which then scans the whole
    /// list in creation order looking for them).
    pub owner_ids: Vec<i64>,
    /// What closes the repository probe. On PostgreSQL, `OFFSET 0` keeps the `EXISTS` a probe
    /// per row walked: without it the planner may first hash every request that names the
    /// repository (12,000 of them at 1M rows: 4.5 ms a page, growing with the data, against
    /// 0.24 ms for the probes; `EXPLAIN ANALYZE`, BENCHMARKS.md). SQLite probes per row anyway,
    /// and has no `OFFSET` without `LIMIT`.
    pub probe_end: &'static str,
}

impl<'a> Resolved<'a> {
    /// Pages to count ahead: fewer when every row walked costs a probe (see
    /// [`crate::COUNT_AHEAD_PAGES_PROBED`]).
    pub fn pages_ahead(&self) -> i64 {
        let f = self.filter;
        let probes = f.permission.is_some()
            || self.repository_id.is_some()
            || f.last_used_before.is_some()
            || f.last_used_after.is_some();
        if probes {
            crate::COUNT_AHEAD_PAGES_PROBED
        } else {
            crate::COUNT_AHEAD_PAGES
        }
    }

    /// `None` when the filter names a repository the organization does not have, so that
    /// nothing can match.
    pub fn new(
        conn: &mut DbConnection,
        org_id: i64,
        filter: &'a ListFilter,
    ) -> Result<Option<Self>, StoreError> {
        let repository_id = match &filter.repository_key {
            None => None,
            Some(key) => {
                let found: Option<i64> = repositories::table
                    .filter(repositories::org_id.eq(org_id))
                    .filter(repositories::name_key.eq(key))
                    .select(repositories::id)
                    .load_one(conn)?;
                match found {
                    Some(id) => Some(id),
                    None => return Ok(None),
                }
            }
        };
        let mut owner_ids = Vec::new();
        if !filter.owner_keys.is_empty() {
            owner_ids = crate::db::cached(
                users::table
                    .filter(users::login_key.eq_any(&filter.owner_keys))
                    .select(users::id),
            )
            .load(conn)?;
            if owner_ids.is_empty() {
                return Ok(None);
            }
        }
        let probe_end = match conn {
            DbConnection::Postgresql(_) => " OFFSET 0))",
            DbConnection::Sqlite(_) => "))",
        };
        Ok(Some(Self {
            org_id,
            filter,
            repository_id,
            owner_ids,
            probe_end,
        }))
    }
}

/// `$table.status = '$state'`, the state written out: the indexes over pending requests and
/// active grants are partial (`WHERE status = 'pending'`), and a query uses one only when its
/// condition states the same literal (`crate::literal`). For the statements these macros
/// build, whose state is chosen at run time; `$state` is the `as_str` of a state enum, never
/// outside input.
macro_rules! in_state {
    ($table:ident, $state:expr) => {{
        let state: &'static str = $state;
        debug_assert!(state.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            concat!(stringify!($table), ".status = '{}'"),
            state
        ))
    }};
}

pub(crate) use in_state;

/// The rows of `$table` (`pat_requests` or `pat_grants`) of the organization in `$status`
/// that pass the resolved filter, as a boxed query. `$request_id_sql` names the column holding the
/// request id, through which requested repositories and permissions are matched.
macro_rules! filtered {
    ($table:ident, $request_id_sql:literal, $status:expr, $resolved:expr) => {{
        let r = &$resolved;
        let f = r.filter;
        let mut query = $table::table
            .filter($table::org_id.eq(r.org_id))
            .filter(crate::filters::in_state!($table, $status))
            .into_boxed::<crate::db::MultiBackend>();
        if !r.owner_ids.is_empty() {
            query = query.filter($table::owner_id.eq_any(&r.owner_ids));
        }
        if !f.token_ids.is_empty() {
            query = query.filter($table::token_id.eq_any(&f.token_ids));
        }
        // Through COALESCE, so that SQLite walks the list in its order and stops when the page
        // is full, rather than collecting every row in the time range and sorting them all.
        for (bound, op) in [(f.last_used_before, "<"), (f.last_used_after, ">")] {
            if let Some(at) = bound {
                query = query.filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                        "COALESCE({}.token_last_used_at, NULL) {op} ",
                        stringify!($table)
                    ))
                    .bind::<diesel::sql_types::Timestamp, _>(at),
                );
            }
        }
        // Correlated EXISTS probes, one primary-key lookup per row walked: the list is read
        // in its order and the walk stops when the window is full. An `IN (subquery)` makes
        // both backends collect every matching id of the organization first.
        if let Some(permission) = &f.permission {
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(concat!(
                    "EXISTS (SELECT 1 FROM pat_request_permissions p WHERE p.request_id = ",
                    $request_id_sql,
                    " AND p.permission = "
                ))
                .bind::<diesel::sql_types::Text, _>(permission.clone())
                .sql(")"),
            );
        }
        if let Some(repository_id) = r.repository_id {
            // A token with access to all repositories can reach this one too.
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(concat!(
                    "(",
                    stringify!($table),
                    ".repository_selection = 'all' OR EXISTS (SELECT 1 FROM pat_request_repositories rr WHERE rr.request_id = ",
                    $request_id_sql,
                    " AND rr.repository_id = "
                ))
                .bind::<diesel::sql_types::BigInt, _>(repository_id)
                .sql(r.probe_end),
            );
        }
        query
    }};
}

pub(crate) use filtered;

/// How many rows of `$table` in `$status` pass `$filter` in organization `$org_id`: what the
/// `Link` header's last page is computed from when a page did not read to the end (one pass
/// over the filter's index).
macro_rules! count_filtered {
    ($conn:expr, $table:ident, $request_id_sql:literal, $status:expr, $org_id:expr, $filter:expr) => {{
        match crate::filters::Resolved::new($conn, $org_id, $filter)? {
            None => Ok(0),
            Some(resolved) => Ok(crate::db::cached(
                crate::filters::filtered!($table, $request_id_sql, $status, resolved).count(),
            )
            .get_result($conn)?),
        }
    }};
}

pub(crate) use count_filtered;

/// `($table.$order, $table.id) $op ((SELECT s.$order FROM $table s WHERE s.id = `: the start
/// of a keyset condition from a row given by its id, closed by the caller with the id's bind,
/// `), `, the id's bind again and `)`.
macro_rules! from_first_row {
    ($table:ident, $order:ident, $op:literal) => {
        concat!(
            "(",
            stringify!($table),
            ".",
            stringify!($order),
            ", ",
            stringify!($table),
            ".id) ",
            $op,
            " ((SELECT s.",
            stringify!($order),
            " FROM ",
            stringify!($table),
            " s WHERE s.id = "
        )
    };
}

pub(crate) use from_first_row;

/// `($table.$order, $table.id) $op (the row $id's $order, $id)`: the rows from row `$id` on in
/// the order of an index on `($order, id)`, a range of that index.
macro_rules! from_row {
    ($table:ident, $order:ident, $op:literal, $id:expr) => {{
        let id: i64 = $id;
        diesel::dsl::sql::<diesel::sql_types::Bool>(crate::filters::from_first_row!(
            $table, $order, $op
        ))
        .bind::<diesel::sql_types::BigInt, _>(id)
        .sql("), ")
        .bind::<diesel::sql_types::BigInt, _>(id)
        .sql(")")
    }};
}

pub(crate) use from_row;

/// The ids of one page of `$table`'s rows in `$status` that pass `$resolved`, ordered by
/// `$table.$order` then id (newest first unless `$ascending`), and what is known of the
/// total: the ids of this page and of the read-ahead window are read, and only a page past
/// the end is counted. A page whose start `$starts` knows (under the name `$list`) is read
/// from its first row's key, without walking the rows before it; the starts of the pages read
/// are kept for the next reads (`starts.rs`).
macro_rules! page_ids {
    ($conn:expr, $table:ident, $request_id_sql:literal, $status:expr, $resolved:expr, $page:expr, $ascending:expr, $order:ident, $starts:expr, $list:expr) => {{
        let (resolved, page, starts, list): (_, crate::Page, &crate::starts::Starts<'_>, &str) =
            (&$resolved, $page, $starts, $list);
        let ascending: bool = $ascending;
        let terms = if ascending {
            concat!(
                stringify!($table),
                ".",
                stringify!($order),
                " ASC, ",
                stringify!($table),
                ".id ASC"
            )
        } else {
            concat!(
                stringify!($table),
                ".",
                stringify!($order),
                " DESC, ",
                stringify!($table),
                ".id DESC"
            )
        };
        let start = starts.get(list, page.offset());
        let mut query = crate::filters::filtered!($table, $request_id_sql, $status, resolved);
        if let Some(first) = start {
            // The page's first row and those after it in the list's order: a range of the
            // list's index instead of a walk from its beginning. The first row's order value
            // is read by its id (a primary-key lookup) rather than kept, so that the window
            // decodes no timestamps.
            query = if ascending {
                query.filter(crate::filters::from_row!($table, $order, ">=", first))
            } else {
                query.filter(crate::filters::from_row!($table, $order, "<=", first))
            };
        }
        let window = crate::db::Window::for_connection(
            $conn,
            page.window(resolved.pages_ahead()),
            if start.is_some() { 0 } else { page.offset() },
        );
        let mut ids: Vec<i64> = crate::db::cached_if(
            query.select($table::id).order(window.after(terms)),
            window.cacheable(),
        )
        .load($conn)?;
        if let Ok(per_page) = usize::try_from(page.per_page) {
            if per_page > 0 {
                starts.keep(
                    list,
                    ids.iter()
                        .enumerate()
                        .step_by(per_page)
                        .map(|(i, id)| (page.offset() + i64::try_from(i).unwrap_or(i64::MAX), *id)),
                );
            }
        }
        if ids.is_empty() && page.offset() > 0 {
            // Past the end: only a count says where the last page is.
            let total: i64 = crate::db::cached(
                crate::filters::filtered!($table, $request_id_sql, $status, resolved).count(),
            )
            .get_result($conn)?;
            (ids, crate::Total::Exact(total))
        } else {
            let total = page.total_after(resolved.pages_ahead(), ids.len());
            ids.truncate(usize::try_from(page.per_page).unwrap_or(usize::MAX));
            (ids, total)
        }
    }};
}

pub(crate) use page_ids;

/// The rows (`$row`) of `$table` with these ids, each with its token's name and its owner, in the
/// order of `$ids`, built into views by `$view(row, token, owner)` (which may fail, on malformed stored
/// data); one query for the page.
macro_rules! load_views {
    ($conn:expr, $table:ident, $row:ty, $ids:expr, $view:expr) => {{
        let ids: &[i64] = $ids;
        let rows: Vec<($row, crate::models::TokenName, crate::models::Owner)> = crate::db::cached(
            $table::table
                .inner_join(crate::schema::tokens::table)
                .inner_join(
                    crate::schema::users::table.on(crate::schema::users::id.eq($table::owner_id)),
                )
                .filter($table::id.eq_any(ids))
                .select((
                    $table::all_columns,
                    (crate::schema::tokens::id, crate::schema::tokens::name),
                    (
                        crate::schema::users::id,
                        crate::schema::users::login,
                        crate::schema::users::login_key,
                        crate::schema::users::site_admin,
                    ),
                )),
        )
        .load($conn)?;
        let mut by_id: std::collections::HashMap<i64, _> = rows
            .into_iter()
            .map(|(row, token, owner)| (row.id, $view(row, token, owner)))
            .collect();
        ids.iter()
            .filter_map(|id| by_id.remove(id))
            .collect::<Result<Vec<_>, crate::StoreError>>()
    }};
}

pub(crate) use load_views;

/// One page of `$table`'s rows in `$status` that pass `$filter` in organization `$org_id`,
/// ordered by `$order` ([`page_ids!`], from a start `$starts` knows when it knows one) and
/// built into views ([`load_views!`]), with the total; nothing is read past the filter when it
/// can match nothing.
macro_rules! list_views {
    ($conn:expr, $table:ident, $request_id_sql:literal, $status:expr, $org_id:expr, $filter:expr, $page:expr, $starts:expr, $order:ident, $row:ty, $view:expr) => {{
        let filter: &crate::filters::ListFilter = $filter;
        match crate::filters::Resolved::new($conn, $org_id, filter)? {
            None => Ok((Vec::new(), crate::Total::Exact(0))),
            Some(resolved) => {
                let list = format!(
                    "{}:{}:{}:{}",
                    stringify!($table),
                    $status,
                    filter.ascending,
                    filter.selection_key()
                );
                let (ids, total) = crate::filters::page_ids!(
                    $conn,
                    $table,
                    $request_id_sql,
                    $status,
                    resolved,
                    $page,
                    filter.ascending,
                    $order,
                    $starts,
                    &list
                );
                let views = crate::filters::load_views!($conn, $table, $row, &ids, $view)?;
                Ok((views, total))
            }
        }
    }};
}

pub(crate) use list_views;
