//! The list filters shared by requests and grants, built once as a boxed query so that a page and its count use the very same conditions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::schema::repositories;
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

/// A filter with its repository name turned into an id, once per list call.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    pub org_id: i64,
    pub filter: &'a ListFilter,
    pub repository_id: Option<i64>,
}

impl<'a> Resolved<'a> {
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
                    .first(conn)
                    .optional()?;
                match found {
                    Some(id) => Some(id),
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(Self {
            org_id,
            filter,
            repository_id,
        }))
    }
}

/// The rows of `$table` (`pat_requests` or `pat_grants`) of the organization in `$status`
/// that pass the resolved filter, as a boxed query. `$request_id` is the column holding the
/// request id, through which requested repositories and permissions are matched.
macro_rules! filtered {
    ($table:ident, $request_id:expr, $status:expr, $resolved:expr) => {{
        use crate::schema::{pat_request_permissions, pat_request_repositories, users};
        let r = &$resolved;
        let f = r.filter;
        let mut query = $table::table
            .filter($table::org_id.eq(r.org_id))
            .filter($table::status.eq($status))
            .into_boxed::<crate::db::MultiBackend>();
        if !f.owner_keys.is_empty() {
            let owners = users::table
                .filter(users::login_key.eq_any(&f.owner_keys))
                .select(users::id);
            query = query.filter($table::owner_id.eq_any(owners));
        }
        if !f.token_ids.is_empty() {
            query = query.filter($table::token_id.eq_any(&f.token_ids));
        }
        if let Some(before) = f.last_used_before {
            query = query.filter($table::token_last_used_at.lt(before));
        }
        if let Some(after) = f.last_used_after {
            query = query.filter($table::token_last_used_at.gt(after));
        }
        if let Some(permission) = &f.permission {
            let ids = pat_request_permissions::table
                .filter(pat_request_permissions::org_id.eq(r.org_id))
                .filter(pat_request_permissions::permission.eq(permission))
                .select(pat_request_permissions::request_id);
            query = query.filter($request_id.eq_any(ids));
        }
        if let Some(repository_id) = r.repository_id {
            // A token with access to all repositories can reach this one too.
            let ids = pat_request_repositories::table
                .filter(pat_request_repositories::repository_id.eq(repository_id))
                .select(pat_request_repositories::request_id);
            query = query.filter(
                $table::repository_selection
                    .eq("all")
                    .or($request_id.eq_any(ids)),
            );
        }
        query
    }};
}

pub(crate) use filtered;
