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
            let listed = || {
                pat_request_repositories::table
                    .filter(pat_request_repositories::request_id.eq(access.request_id))
            };
            let total = listed().count().get_result(conn)?;
            let rows = listed()
                .inner_join(repositories::table)
                .order(repositories::id)
                .limit(page.per_page)
                .offset(page.offset())
                .select(repositories::all_columns)
                .load(conn)?;
            Ok((rows, total))
        }
        Some(RepositorySelection::All) => {
            let of_org = || repositories::table.filter(repositories::org_id.eq(access.org_id));
            let total = of_org().count().get_result(conn)?;
            let rows = of_org()
                .order(repositories::id)
                .limit(page.per_page)
                .offset(page.offset())
                .load(conn)?;
            Ok((rows, total))
        }
        _ => Ok((Vec::new(), 0)),
    }
}
