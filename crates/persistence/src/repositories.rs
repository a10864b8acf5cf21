//! The repositories a request asks for, and so the ones its grant reaches.

use diesel::prelude::*;
use patgate_domain::RepositorySelection;

use crate::db::DbConnection;
use crate::models::Repository;
use crate::schema::{pat_request_repositories, repositories};
use crate::{Page, StoreError};

/// What a request (or the grant made from it) reaches: its organization, its selection, and
/// the request whose listed repositories a `subset` selection means.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub org_id: i64,
    pub request_id: i64,
    /// `none`, `all` or `subset`.
    pub repository_selection: &'a str,
}

/// A page of the repositories a request asks for (or its grant holds), by id, with the total: the listed ones for
/// `subset`, every repository of the organization for `all`, none for `none`.
pub fn repositories_of(
    conn: &mut DbConnection,
    access: Access<'_>,
    page: Page,
) -> Result<(Vec<Repository>, i64), StoreError> {
    match RepositorySelection::parse(access.repository_selection) {
        Some(RepositorySelection::Subset) => {
            let total = pat_request_repositories::table
                .filter(pat_request_repositories::request_id.eq(access.request_id))
                .count()
                .get_result(conn)?;
            let rows = pat_request_repositories::table
                .inner_join(repositories::table)
                .filter(pat_request_repositories::request_id.eq(access.request_id))
                .order(repositories::id)
                .limit(page.per_page)
                .offset(page.offset())
                .select(repositories::all_columns)
                .load(conn)?;
            Ok((rows, total))
        }
        Some(RepositorySelection::All) => {
            let total = repositories::table
                .filter(repositories::org_id.eq(access.org_id))
                .count()
                .get_result(conn)?;
            let rows = repositories::table
                .filter(repositories::org_id.eq(access.org_id))
                .order(repositories::id)
                .limit(page.per_page)
                .offset(page.offset())
                .load(conn)?;
            Ok((rows, total))
        }
        _ => Ok((Vec::new(), 0)),
    }
}
