//! Look-ups of organizations, apps, their keys and installations.

use diesel::prelude::*;

use crate::db::{on_backend, DbConnection};
use crate::models::{App, Installation, Organization};
use crate::schema::{app_keys, apps, installations, organizations};
use crate::LoadOne;
use crate::{Page, StoreError};

/// The organization with this login, compared case-insensitively.
pub fn org_by_login(
    conn: &mut DbConnection,
    login: &str,
) -> Result<Option<Organization>, StoreError> {
    let key = login.to_ascii_lowercase();
    let found: Vec<Organization> = on_backend!(conn, |c| organizations::table
        .filter(organizations::login_key.eq(&key))
        .load(c))?;
    Ok(found.into_iter().next())
}

pub fn org_by_id(conn: &mut DbConnection, id: i64) -> Result<Option<Organization>, StoreError> {
    Ok(organizations::table.find(id).load_one(conn)?)
}

/// The app a JWT's `iss` names: its numeric id, or its client id.
pub fn app_by_issuer(conn: &mut DbConnection, iss: &str) -> Result<Option<App>, StoreError> {
    let query = apps::table.into_boxed();
    let query = match iss.parse::<i64>() {
        Ok(id) => query.filter(apps::id.eq(id)),
        Err(_) => query.filter(apps::client_id.eq(iss)),
    };
    Ok(query.load_one(conn)?)
}

/// The app with this slug.
pub fn app_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<App>, StoreError> {
    Ok(apps::table.filter(apps::slug.eq(slug)).load_one(conn)?)
}

/// The user id of this login, compared case-insensitively.
pub fn user_id_by_login(conn: &mut DbConnection, login: &str) -> Result<Option<i64>, StoreError> {
    use crate::schema::users;
    let key = login.to_ascii_lowercase();
    Ok(users::table
        .filter(users::login_key.eq(key))
        .select(users::id)
        .load_one(conn)?)
}

pub fn app_by_id(conn: &mut DbConnection, id: i64) -> Result<Option<App>, StoreError> {
    Ok(apps::table.find(id).load_one(conn)?)
}

/// Every public key registered for the app (PEM), oldest first.
pub fn app_public_keys(conn: &mut DbConnection, app_id: i64) -> Result<Vec<String>, StoreError> {
    Ok(app_keys::table
        .filter(app_keys::app_id.eq(app_id))
        .order(app_keys::id)
        .select(app_keys::public_key_pem)
        .load(conn)?)
}

/// The installation with this id if it belongs to `app_id` (another app's installation is
/// reported as absent).
pub fn installation_of_app(
    conn: &mut DbConnection,
    app_id: i64,
    installation_id: i64,
) -> Result<Option<(Installation, Organization)>, StoreError> {
    Ok(installations::table
        .inner_join(organizations::table)
        .filter(installations::id.eq(installation_id))
        .filter(installations::app_id.eq(app_id))
        .select((installations::all_columns, organizations::all_columns))
        .load_one(conn)?)
}

/// The app's installation on the organization with this login.
pub fn installation_for_org(
    conn: &mut DbConnection,
    app_id: i64,
    org_login: &str,
) -> Result<Option<(Installation, Organization)>, StoreError> {
    Ok(installations::table
        .inner_join(organizations::table)
        .filter(installations::app_id.eq(app_id))
        .filter(organizations::login_key.eq(org_login.to_ascii_lowercase()))
        .select((installations::all_columns, organizations::all_columns))
        .load_one(conn)?)
}

/// A page of the app's installations, oldest first, with the total count.
pub fn installations_of_app(
    conn: &mut DbConnection,
    app_id: i64,
    page: Page,
) -> Result<(Vec<(Installation, Organization)>, i64), StoreError> {
    let total = installations::table
        .filter(installations::app_id.eq(app_id))
        .count()
        .get_result(conn)?;
    let rows = installations::table
        .inner_join(organizations::table)
        .filter(installations::app_id.eq(app_id))
        .order(installations::id)
        .limit(page.per_page)
        .offset(page.offset())
        .select((installations::all_columns, organizations::all_columns))
        .load(conn)?;
    Ok((rows, total))
}

/// How many installations the app has.
pub fn installation_count(conn: &mut DbConnection, app_id: i64) -> Result<i64, StoreError> {
    Ok(installations::table
        .filter(installations::app_id.eq(app_id))
        .count()
        .get_result(conn)?)
}

/// How many of the named repositories (by case-folded name or by id) the organization has.
pub fn count_repositories(
    conn: &mut DbConnection,
    org_id: i64,
    name_keys: &[String],
    ids: &[i64],
) -> Result<i64, StoreError> {
    use crate::schema::repositories;
    let by_name: i64 = if name_keys.is_empty() {
        0
    } else {
        repositories::table
            .filter(repositories::org_id.eq(org_id))
            .filter(repositories::name_key.eq_any(name_keys))
            .count()
            .get_result(conn)?
    };
    let by_id: i64 = if ids.is_empty() {
        0
    } else {
        repositories::table
            .filter(repositories::org_id.eq(org_id))
            .filter(repositories::id.eq_any(ids))
            .count()
            .get_result(conn)?
    };
    Ok(by_name + by_id)
}

/// The app's installation on the organization with this id.
pub fn installation_of_org(
    conn: &mut DbConnection,
    app_id: i64,
    org_id: i64,
) -> Result<Option<Installation>, StoreError> {
    Ok(installations::table
        .filter(installations::app_id.eq(app_id))
        .filter(installations::org_id.eq(org_id))
        .load_one(conn)?)
}
