//! Idempotent get-or-create writes used by `patgate seed` and `patgate demo`: running them twice changes nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::{RepositorySelection, RequestState, RequestedPermissions};

use crate::db::DbConnection;
use crate::models::*;
use crate::schema::*;
use crate::StoreError;

pub fn ensure_org(
    conn: &mut DbConnection,
    login: &str,
    name: Option<&str>,
    at: NaiveDateTime,
) -> Result<Organization, StoreError> {
    let key = login.to_ascii_lowercase();
    if let Some(org) = organizations::table
        .filter(organizations::login_key.eq(&key))
        .first(conn)
        .optional()?
    {
        return Ok(org);
    }
    Ok(diesel::insert_into(organizations::table)
        .values(NewOrganization {
            login,
            login_key: &key,
            name,
            description: None,
            created_at: at,
        })
        .returning(organizations::all_columns)
        .get_result(conn)?)
}

pub fn ensure_user(
    conn: &mut DbConnection,
    login: &str,
    name: Option<&str>,
    email: Option<&str>,
    at: NaiveDateTime,
) -> Result<User, StoreError> {
    let key = login.to_ascii_lowercase();
    if let Some(user) = users::table
        .filter(users::login_key.eq(&key))
        .first::<User>(conn)
        .optional()?
    {
        // The seed file is where users' addresses come from: a new one replaces the old.
        return match email.filter(|e| user.email.as_deref() != Some(*e)) {
            Some(email) => Ok(diesel::update(users::table.find(user.id))
                .set(users::email.eq(email))
                .returning(users::all_columns)
                .get_result(conn)?),
            None => Ok(user),
        };
    }
    // In a savepoint: when another transaction creates the same user at the same moment, the
    // unique key refuses this insert, and the user it created is the one to use.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(users::table)
            .values(NewUser {
                login,
                login_key: &key,
                name,
                email,
                site_admin: false,
                created_at: at,
            })
            .returning(users::all_columns)
            .get_result::<User>(c)
    });
    match inserted {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(users::table.filter(users::login_key.eq(&key)).first(conn)?),
        other => Ok(other?),
    }
}

pub fn ensure_repo(
    conn: &mut DbConnection,
    org_id: i64,
    name: &str,
    private: bool,
    at: NaiveDateTime,
) -> Result<Repository, StoreError> {
    let key = name.to_ascii_lowercase();
    if let Some(repo) = repositories::table
        .filter(repositories::org_id.eq(org_id))
        .filter(repositories::name_key.eq(&key))
        .first(conn)
        .optional()?
    {
        return Ok(repo);
    }
    Ok(diesel::insert_into(repositories::table)
        .values(NewRepository {
            org_id,
            name,
            name_key: &key,
            private,
            description: None,
            created_at: at,
        })
        .returning(repositories::all_columns)
        .get_result(conn)?)
}

/// The app with this slug, created if absent; `public_key_pem` is added to its keys if new.
pub fn ensure_app(
    conn: &mut DbConnection,
    new: NewApp<'_>,
    public_key_pem: &str,
) -> Result<App, StoreError> {
    let app: App = match apps::table
        .filter(apps::slug.eq(new.slug))
        .first(conn)
        .optional()?
    {
        Some(app) => app,
        None => diesel::insert_into(apps::table)
            .values(&new)
            .returning(apps::all_columns)
            .get_result(conn)?,
    };
    let known: i64 = app_keys::table
        .filter(app_keys::app_id.eq(app.id))
        .filter(app_keys::public_key_pem.eq(public_key_pem))
        .count()
        .get_result(conn)?;
    if known == 0 {
        diesel::insert_into(app_keys::table)
            .values(NewAppKey {
                app_id: app.id,
                public_key_pem,
                created_at: new.created_at,
            })
            .execute(conn)?;
    }
    Ok(app)
}

/// The app's installation on the organization, created if absent; its permissions and
/// repository selection are set to the given ones either way.
pub fn ensure_installation(
    conn: &mut DbConnection,
    new: NewInstallation<'_>,
) -> Result<Installation, StoreError> {
    let existing: Option<Installation> = installations::table
        .filter(installations::app_id.eq(new.app_id))
        .filter(installations::org_id.eq(new.org_id))
        .first(conn)
        .optional()?;
    match existing {
        Some(inst) => Ok(diesel::update(installations::table.find(inst.id))
            .set((
                installations::permissions.eq(new.permissions),
                installations::events.eq(new.events),
                installations::repository_selection.eq(new.repository_selection),
                installations::updated_at.eq(new.updated_at),
            ))
            .returning(installations::all_columns)
            .get_result(conn)?),
        None => Ok(diesel::insert_into(installations::table)
            .values(&new)
            .returning(installations::all_columns)
            .get_result(conn)?),
    }
}

pub fn ensure_token(conn: &mut DbConnection, new: NewToken<'_>) -> Result<Token, StoreError> {
    if let Some(token) = tokens::table
        .filter(tokens::owner_id.eq(new.owner_id))
        .filter(tokens::name.eq(new.name))
        .first(conn)
        .optional()?
    {
        return Ok(token);
    }
    Ok(diesel::insert_into(tokens::table)
        .values(&new)
        .returning(tokens::all_columns)
        .get_result(conn)?)
}

/// What a token asks of an organization.
#[derive(Debug, Clone)]
pub struct RequestSeed<'a> {
    pub org_id: i64,
    pub token: &'a Token,
    pub reason: Option<&'a str>,
    pub repository_selection: RepositorySelection,
    pub repository_ids: &'a [i64],
    pub permissions: &'a RequestedPermissions,
    pub created_at: NaiveDateTime,
}

/// The token's request to the organization, created pending (with its repositories and
/// permission index rows) if the token has never asked this organization; a request already
/// reviewed is left as it is, so that seeding again changes nothing.
pub fn ensure_pending_request(
    conn: &mut DbConnection,
    seed: &RequestSeed<'_>,
) -> Result<PatRequest, StoreError> {
    if let Some(existing) = pat_requests::table
        .filter(pat_requests::org_id.eq(seed.org_id))
        .filter(pat_requests::token_id.eq(seed.token.id))
        .order(pat_requests::id.desc())
        .first(conn)
        .optional()?
    {
        return Ok(existing);
    }
    crate::requests::file(
        conn,
        &crate::requests::Filing {
            org_id: seed.org_id,
            token: seed.token,
            status: RequestState::Pending,
            reason: seed.reason,
            repository_selection: seed.repository_selection,
            repository_ids: seed.repository_ids,
            permissions: seed.permissions,
            beyond: None,
            at: seed.created_at,
        },
    )
}

/// Look-ups by natural key, so that a seed file may refer to what an earlier one created.
pub fn find_org(conn: &mut DbConnection, login: &str) -> Result<Option<Organization>, StoreError> {
    crate::directory::org_by_login(conn, login)
}

pub fn find_user(conn: &mut DbConnection, login: &str) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .filter(users::login_key.eq(login.to_ascii_lowercase()))
        .first(conn)
        .optional()?)
}

pub fn find_repo(
    conn: &mut DbConnection,
    org_id: i64,
    name: &str,
) -> Result<Option<Repository>, StoreError> {
    Ok(repositories::table
        .filter(repositories::org_id.eq(org_id))
        .filter(repositories::name_key.eq(name.to_ascii_lowercase()))
        .first(conn)
        .optional()?)
}

pub fn find_app(conn: &mut DbConnection, slug: &str) -> Result<Option<App>, StoreError> {
    Ok(apps::table
        .filter(apps::slug.eq(slug))
        .first(conn)
        .optional()?)
}

pub fn find_token(
    conn: &mut DbConnection,
    owner_id: i64,
    name: &str,
) -> Result<Option<Token>, StoreError> {
    Ok(tokens::table
        .filter(tokens::owner_id.eq(owner_id))
        .filter(tokens::name.eq(name))
        .first(conn)
        .optional()?)
}
