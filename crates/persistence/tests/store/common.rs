//! Shared harness: a fresh database per test on each backend, the `both_backends!` macro and fixture builders.

use patgate_persistence::Touches;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use patgate_domain::{AccessLevel, RequestedPermissions, ReviewAction};
use patgate_persistence::models::{
    App, Installation, NewApp, NewInstallation, NewToken, Organization, PatGrant, PatRequest,
    PatRequestReview, Token, User,
};
use patgate_persistence::requests::Review;
use patgate_persistence::schema::{pat_grants, pat_request_reviews, pat_requests};
use patgate_persistence::seed::{self, RequestSeed};
use patgate_persistence::{Backend, Db, DbConnection, PoolOptions, StoreError};

/// Inserts `$rows` into `$table`, `$chunk` rows a statement, on the backend's own connection
/// (diesel's `MultiConnection` has no multi-row inserts); `?` on failure.
macro_rules! insert_chunks {
    ($conn:expr, $table:expr, $rows:expr, $chunk:expr) => {
        for chunk in $rows.chunks($chunk) {
            match $conn {
                DbConnection::Sqlite(inner) => {
                    diesel::insert_into($table).values(chunk).execute(inner)?
                }
                DbConnection::Postgresql(inner) => {
                    diesel::insert_into($table).values(chunk).execute(inner)?
                }
            };
        }
    };
}

/// Pool size of the ordinary tests: small, since r2d2 opens every connection up front.
pub const SMALL_POOL: u32 = 4;

/// Generates `$name::on_sqlite` and `$name::on_postgres`, each running `$body` on a fresh,
/// migrated database of that backend. `$body` is a `fn(&Db)` of the enclosing module; when
/// `$name` is left out, `$body` names the tests too.
/// With `url:` in front, `$body` is a `fn(&str)` given the URL of a fresh, empty database.
/// `pool = n` sets the pool size; `sqlite: #[...]` / `postgres: #[...]` add attributes (such
/// as `#[ignore = "bug: ..."]`) to one backend's test only.
macro_rules! both_backends {
    (@tests $name:ident, $run:ident, $arg:expr, $body:ident,
        [$(#[$sqlite:meta])*], [$(#[$postgres:meta])*]) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            $(#[$sqlite])*
            fn on_sqlite() {
                $crate::common::$run(patgate_persistence::Backend::Sqlite, $arg, super::$body);
            }

            #[test]
            $(#[$postgres])*
            fn on_postgres() {
                $crate::common::$run(patgate_persistence::Backend::Postgres, $arg, super::$body);
            }
        }
    };
    ($body:ident) => {
        both_backends!($body, $body);
    };
    ($body:ident, pool = $pool:expr) => {
        both_backends!($body, $body, pool = $pool);
    };
    (url: $body:ident) => {
        both_backends!(url: $body, $body);
    };
    ($name:ident, $body:ident
        $(, sqlite: $(#[$sqlite:meta])+)? $(, postgres: $(#[$postgres:meta])+)?) => {
        both_backends!(@tests $name, with_db, $crate::common::SMALL_POOL, $body,
            [$($(#[$sqlite])+)?], [$($(#[$postgres])+)?]);
    };
    ($name:ident, $body:ident, pool = $pool:expr
        $(, sqlite: $(#[$sqlite:meta])+)? $(, postgres: $(#[$postgres:meta])+)?) => {
        both_backends!(@tests $name, with_db, $pool, $body,
            [$($(#[$sqlite])+)?], [$($(#[$postgres])+)?]);
    };
    (url: $name:ident, $body:ident
        $(, sqlite: $(#[$sqlite:meta])+)? $(, postgres: $(#[$postgres:meta])+)?) => {
        both_backends!(@tests $name, with_url, (), $body,
            [$($(#[$sqlite])+)?], [$($(#[$postgres])+)?]);
    };
}

/// A SQLite database file (and its WAL companions), removed when dropped.
#[derive(Debug)]
pub struct SqliteFile(PathBuf);

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            // Best effort: a missing companion file is normal.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The URL of a fresh, empty database, with the guard that removes it (SQLite only).
pub fn fresh_url(backend: Backend) -> (String, Option<SqliteFile>) {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    match backend {
        Backend::Sqlite => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let path = std::env::temp_dir().join(format!(
                "patgate-persistence-test-{}-{}-{nanos:x}.db",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let url = path.to_str().expect("temp dir path is UTF-8").to_owned();
            (url, Some(SqliteFile(path)))
        }
        Backend::Postgres => (patgate_testkit::PgCluster::shared().create_database(), None),
    }
}

/// Connects to `url` with a pool of `max_size` connections.
pub fn connect(url: &str, max_size: u32) -> Db {
    let options = PoolOptions {
        max_size,
        connection_timeout: Duration::from_secs(30),
    };
    Db::connect(url, &options).expect("connect to the test database")
}

/// Runs `body` on a fresh, migrated database of `backend`.
pub fn with_db(backend: Backend, pool: u32, body: fn(&Db)) {
    let (url, guard) = fresh_url(backend);
    let db = connect(&url, pool);
    assert_eq!(db.backend(), backend, "the URL chose the backend");
    db.migrate().expect("migrations apply to a fresh database");
    body(&db);
    drop(db);
    drop(guard);
}

/// Runs `body` with the URL of a fresh, empty database of `backend`.
pub fn with_url(backend: Backend, _: (), body: fn(&str)) {
    let (url, guard) = fresh_url(backend);
    body(&url);
    drop(guard);
}

/// A fixed point in time plus `minutes`; whole seconds, as stored.
pub fn t(minutes: i64) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid base date")
        + chrono::Duration::minutes(minutes)
}

/// Requested permissions: `repo` pairs in the repository group, `org` pairs in the organization group.
pub fn perms(repo: &[(&str, AccessLevel)], org: &[(&str, AccessLevel)]) -> RequestedPermissions {
    RequestedPermissions {
        organization: org.iter().map(|(k, l)| ((*k).to_owned(), *l)).collect(),
        repository: repo.iter().map(|(k, l)| ((*k).to_owned(), *l)).collect(),
        other: Default::default(),
    }
}

/// An organization with the reviewing app installed on it.
#[derive(Debug, Clone)]
pub struct OrgFixture {
    pub org: Organization,
    pub installation: Installation,
}

impl OrgFixture {
    pub fn id(&self) -> i64 {
        self.org.id
    }

    /// A review of `ids` by this organization's installation, at `at`.
    pub fn review<'a>(
        &self,
        ids: &'a [i64],
        action: ReviewAction,
        reason: Option<&'a str>,
        at: NaiveDateTime,
    ) -> Review<'a> {
        Review {
            by_policy: false,
            org_id: self.org.id,
            request_ids: ids,
            action,
            reason,
            app_id: self.installation.app_id,
            installation_id: self.installation.id,
            at,
        }
    }
}

/// The reviewing app (any text serves as its key at this layer).
pub fn app(conn: &mut DbConnection) -> Result<App, StoreError> {
    seed::ensure_app(
        conn,
        NewApp {
            slug: "reviewer",
            client_id: "Iv1.reviewer",
            name: "Reviewer",
            description: None,
            owner_org_id: None,
            created_at: t(0),
            updated_at: t(0),
        },
        "not a real key",
    )
}

/// An organization with `app` installed on it.
pub fn org(conn: &mut DbConnection, login: &str, app: &App) -> Result<OrgFixture, StoreError> {
    let org = seed::ensure_org(conn, login, None, t(0))?;
    let installation = seed::ensure_installation(
        conn,
        NewInstallation {
            app_id: app.id,
            org_id: org.id,
            permissions: r#"{"organization_personal_access_token_requests":"write"}"#,
            events: "[]",
            repository_selection: "all",
            created_at: t(0),
            updated_at: t(0),
        },
    )?;
    Ok(OrgFixture { org, installation })
}

pub fn user(conn: &mut DbConnection, login: &str) -> Result<User, StoreError> {
    seed::ensure_user(conn, login, None, None, t(0))
}

/// A token of `owner`, last used at `last_used` (copied into the requests it makes).
pub fn token(
    conn: &mut DbConnection,
    owner: &User,
    name: &str,
    last_used: Option<NaiveDateTime>,
) -> Result<Token, StoreError> {
    seed::ensure_token(
        conn,
        NewToken {
            owner_id: owner.id,
            name,
            expires_at: None,
            last_used_at: last_used,
            created_at: t(0),
        },
    )
}

/// The token's pending request to `org_id`.
pub fn pending(
    conn: &mut DbConnection,
    org_id: i64,
    token: &Token,
    selection: &str,
    repository_ids: &[i64],
    permissions: &RequestedPermissions,
    created_at: NaiveDateTime,
) -> Result<PatRequest, StoreError> {
    seed::ensure_pending_request(
        conn,
        &RequestSeed {
            org_id,
            token,
            reason: Some("for the tests"),
            repository_selection: patgate_domain::RepositorySelection::parse(selection)
                .expect("none, all or subset"),
            repository_ids,
            permissions,
            created_at,
        },
    )
}

/// Runs `f` in a write transaction of `db`, failing the test on error.
pub fn write<T>(db: &Db, f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>) -> T {
    db.write(Touches::Everything, f).expect("fixture write")
}

/// Runs `f` on a pooled connection of `db`, outside any explicit transaction.
pub fn read<T>(db: &Db, f: impl FnOnce(&mut DbConnection) -> QueryResult<T>) -> T {
    let mut conn = db.conn().expect("a pooled connection");
    f(&mut conn).expect("read query")
}

pub fn request_row(db: &Db, id: i64) -> PatRequest {
    read(db, |c| pat_requests::table.find(id).first(c))
}

pub fn grants_of(db: &Db, request_id: i64) -> Vec<PatGrant> {
    read(db, |c| {
        pat_grants::table
            .filter(pat_grants::request_id.eq(request_id))
            .load(c)
    })
}

pub fn reviews_of(db: &Db, request_id: i64) -> Vec<PatRequestReview> {
    read(db, |c| {
        pat_request_reviews::table
            .filter(pat_request_reviews::request_id.eq(request_id))
            .order(pat_request_reviews::id)
            .load(c)
    })
}

/// Everything a review may change: every request's status and review time, every grant and
/// every review row (ids included), for comparing before and after a refused review.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub requests: Vec<(i64, String, Option<NaiveDateTime>)>,
    pub grants: Vec<(i64, i64)>,
    pub reviews: Vec<(i64, i64, String)>,
}

pub fn snapshot(db: &Db) -> Snapshot {
    read(db, |c| {
        Ok(Snapshot {
            requests: pat_requests::table
                .select((
                    pat_requests::id,
                    pat_requests::status,
                    pat_requests::reviewed_at,
                ))
                .order(pat_requests::id)
                .load(c)?,
            grants: pat_grants::table
                .select((pat_grants::id, pat_grants::request_id))
                .order(pat_grants::id)
                .load(c)?,
            reviews: pat_request_reviews::table
                .select((
                    pat_request_reviews::id,
                    pat_request_reviews::request_id,
                    pat_request_reviews::action,
                ))
                .order(pat_request_reviews::id)
                .load(c)?,
        })
    })
}
