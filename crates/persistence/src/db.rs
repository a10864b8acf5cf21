//! Connections to SQLite or PostgreSQL through one diesel `MultiConnection`, the pool, migrations and the transaction helpers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use crate::backend::Backend;
use crate::changes::{Changes, Follower};
use crate::counts::KeptCounts;
use crate::kept_orgs::KeptOrgs;
use crate::models::Organization;
use crate::outage::Outage;
use crate::starts::{KeptStarts, Starts};
use crate::StoreError;

/// Loads the one row a query matches by a unique key, if any: diesel's `first(conn).optional()`
/// without its `LIMIT`.
///
/// diesel binds `first`'s `LIMIT 1` as a parameter, and SQLite plans with the value bound to a
/// `LIMIT`, so every execution of a cached statement that has one is compiled again:
/// measured at about 38 µs for an organization lookup against 10 µs without the `LIMIT`
/// (BENCHMARKS.md). Only for queries that match at most one row.
pub trait LoadOne<U>: Sized {
    fn load_one(self, conn: &mut DbConnection) -> diesel::QueryResult<Option<U>>;
}

/// Runs a backend-generic diesel query on the concrete connection inside a [`DbConnection`].
/// Through the MultiConnection wrapper, every execution builds the statement's SQL text to find
/// it in the statement cache; on the concrete connection a query of static shape is found by
/// its type. For the lookups every request makes.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgresql($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// `<column> = <value>`, written (through `COALESCE`) so that SQLite does not answer it from an
/// index. For statements that pick their rows by primary key (`id IN (…)`): with a plain
/// `org_id = ?` or `status = ?` beside the ids, SQLite, which plans without statistics, walks
/// every row of the organization in an `(org_id, status, …)` index instead of fetching the
/// ids (measured: 42 ms against under 1 ms for 100 ids among 100,000 requests).
macro_rules! unindexed_eq {
    ($column:literal, $sql_type:ty, $value:expr) => {
        diesel::dsl::sql::<diesel::sql_types::Bool>(concat!("COALESCE(", $column, ", NULL) = "))
            .bind::<$sql_type, _>($value)
    };
}
pub(crate) use unindexed_eq;

/// `ORDER BY` terms followed by a list's page window, `LIMIT … OFFSET …`. The `LIMIT` is a
/// literal: a bound one would make SQLite compile the statement again on every execution (see
/// [`LoadOne`]), and it tells PostgreSQL's planner how far the walk goes. The offset is bound on
/// PostgreSQL, so that one prepared statement serves every page, and a literal on SQLite for
/// the same reason as the limit ([`Window::cacheable`] says which of those are kept). The
/// numbers are formatted from integers, never from request text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub limit: i64,
    pub offset: i64,
    pub bind_offset: bool,
}

/// The deepest offset whose SQLite statement (offset written as a literal) is kept prepared:
/// the first pages, which most callers read, whatever their size; deeper pages, as many as
/// there are rows, are prepared when asked.
const KEPT_OFFSETS: i64 = 1_000;

impl Window {
    pub(crate) fn for_connection(conn: &DbConnection, limit: i64, offset: i64) -> Self {
        Self {
            limit,
            offset,
            bind_offset: matches!(conn, DbConnection::Postgresql(_)),
        }
    }

    /// Whether a statement ending with this window may be kept prepared: its text is the same
    /// for every offset when the offset is bound, and there are few when it is a literal.
    pub(crate) fn cacheable(self) -> bool {
        self.bind_offset || self.offset <= KEPT_OFFSETS
    }

    /// The `ORDER BY` expression: `terms` followed by this window.
    pub(crate) fn after(self, terms: &'static str) -> WindowOrder {
        WindowOrder {
            terms,
            window: self,
        }
    }
}

/// `ORDER BY` terms and a [`Window`], as one expression for diesel's `order`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowOrder {
    terms: &'static str,
    window: Window,
}

impl diesel::expression::Expression for WindowOrder {
    type SqlType = diesel::sql_types::BigInt;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for WindowOrder {}

impl<QS> diesel::expression::SelectableExpression<QS> for WindowOrder {}

impl<GB> diesel::expression::ValidGrouping<GB> for WindowOrder {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryId for WindowOrder {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for WindowOrder
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::BigInt>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        let w = &self.window;
        out.push_sql(self.terms);
        out.push_sql(&format!(" LIMIT {} OFFSET ", w.limit));
        if w.bind_offset {
            out.push_bind_param::<diesel::sql_types::BigInt, i64>(&w.offset)
        } else {
            out.push_sql(&w.offset.to_string());
            Ok(())
        }
    }
}

/// A statement that diesel would prepare anew on every execution (an `UPDATE`, whose changeset
/// may leave absent values out; SQLite's `IN (…)` lists; SQL text of our own) but whose text,
/// here, is all there is to it: with `keep`, it is prepared once per connection and kept in
/// diesel's statement cache, found again by its text and bind types. Only for statements with
/// few distinct texts: one per number of ids in an `IN` list, never one per value.
///
/// Run it with `load` or `get_results` (an `UPDATE` with a `RETURNING`), which hand diesel the
/// statement itself: `execute` hands it a reference, whose `QueryFragment` (diesel's impl for
/// `&T`) does not pass on `is_safe_to_cache_prepared`, so the statement would be prepared anew
/// on every execution after all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cached<Q> {
    query: Q,
    keep: bool,
}

/// `query`, kept prepared (see [`Cached`]).
pub(crate) fn cached<Q>(query: Q) -> Cached<Q> {
    Cached { query, keep: true }
}

/// `query`, kept prepared when `keep` (see [`Cached`]).
pub(crate) fn cached_if<Q>(query: Q, keep: bool) -> Cached<Q> {
    Cached { query, keep }
}

impl<Q> diesel::query_builder::QueryId for Cached<Q> {
    type QueryId = ();
    // Found by its text: the type says nothing of the number of ids or of the SQL of its own.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Cached<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        self.query.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, backend: &DB) -> diesel::QueryResult<bool> {
        if self.keep {
            Ok(true)
        } else {
            self.query.is_safe_to_cache_prepared(backend)
        }
    }
}

impl<Q, Conn> diesel::RunQueryDsl<Conn> for Cached<Q> {}

impl<'q, Q, U> LoadOne<U> for Q
where
    Q: diesel::RunQueryDsl<DbConnection> + diesel::query_dsl::LoadQuery<'q, DbConnection, U>,
{
    fn load_one(self, conn: &mut DbConnection) -> diesel::QueryResult<Option<U>> {
        Ok(self.load::<U>(conn)?.into_iter().next())
    }
}

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// One connection to either backend; every query in this crate is written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgresql(_) => "DbConnection::Postgresql",
            Self::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

/// Opens connections for the pool, choosing the backend from the URL rather than by trial.
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
    /// This process's name on PostgreSQL (`application_name` of each of its connections),
    /// by which peers notice it disconnect (see `changes::Follower`).
    name: Arc<str>,
    /// Whether the pool's latest attempt to connect failed.
    outage: Arc<Outage>,
}

impl Manager {
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let (backend, url) = Backend::parse_url(url)?;
        Ok(Self {
            url,
            backend,
            name: crate::changes::instance_name().into(),
            outage: Arc::new(Outage::default()),
        })
    }

    fn establish(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                let url = crate::changes::named_url(&self.url, &self.name);
                Ok(DbConnection::Postgresql(PgConnection::establish(&url)?))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url)?;
                // WAL is set once per file in `Db::connect`; these are per connection.
                conn.batch_execute(
                    // No checkpoint at commit: the writer that crosses the WAL's threshold
                    // would copy (and fsync) every page of it before it answers. A bulk review
                    // of 100 dirties about 2,600 pages at 1M rows, so every one paid a
                    // checkpoint. `Db::checkpoint` runs them off the request path instead.
                    "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA wal_autocheckpoint = 0;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// `Connection::transaction` begun with `BEGIN IMMEDIATE`, for SQLite: the write lock is
/// taken at once, waiting under `busy_timeout` for another process's writer. A deferred
/// transaction that reads, then writes after another process committed, fails with "database
/// is locked" at once: SQLite's busy handler does not cover upgrading a read to a write.
/// Nested `transaction` calls inside `f` are savepoints, as usual (the multi-connection's
/// transaction state is the inner connection's).
fn immediate_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Transactions = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Sqlite(lite) => {
            AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
        }
        DbConnection::Postgresql(_) => Transactions::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Transactions::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Transactions::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

impl Manager {
    /// An exclusive lock shared by every process that opens the same SQLite file, held while
    /// the file is set up or migrated (`None` for PostgreSQL and in-memory databases). Released
    /// when dropped, or when the process dies.
    fn process_lock(&self) -> Result<Option<std::fs::File>, StoreError> {
        if self.backend != Backend::Sqlite || self.url == ":memory:" || self.url.is_empty() {
            return Ok(None);
        }
        let path = format!("{}.lock", self.url);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Connect(format!("cannot open the lock file {path}: {e}")))?;
        file.lock()
            .map_err(|e| StoreError::Connect(format!("cannot lock {path}: {e}")))?;
        Ok(Some(file))
    }
}

/// A pooled connection, with when the server last answered a check on it.
#[derive(Debug)]
pub struct Pooled {
    conn: DbConnection,
    checked: Instant,
}

impl std::ops::Deref for Pooled {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// How long a PostgreSQL connection is taken on trust after the server answered on it: the
/// checkout test (`SELECT 1`, a round trip) runs at most this often per connection, so that a
/// connection the server dropped serves errors for at most this long before it is replaced.
const CHECK_EVERY: Duration = Duration::from_secs(1);

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let conn = self.establish().map_err(|e| {
            self.outage.failed(&e);
            r2d2::Error::ConnectionError(e)
        })?;
        self.outage.connected();
        Ok(Pooled {
            conn,
            checked: Instant::now(),
        })
    }

    /// A SQLite connection is a file handle: nothing to check. A PostgreSQL one is checked
    /// when it has not been for [`CHECK_EVERY`].
    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), r2d2::Error> {
        if matches!(pooled.conn, DbConnection::Sqlite(_)) || pooled.checked.elapsed() < CHECK_EVERY
        {
            return Ok(());
        }
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)?;
        pooled.checked = Instant::now();
        Ok(())
    }

    /// A connection left inside a transaction, or whose transaction state is lost, is not
    /// reused. That includes a PostgreSQL connection the server closed: once a statement has
    /// failed on it, libpq reports its transaction status as unknown, which diesel records as
    /// a broken transaction state.
    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        use diesel::connection::TransactionManager;
        type Transactions = <DbConnection as Connection>::TransactionManager;
        Transactions::is_broken_transaction_manager(&mut pooled.conn)
    }
}

/// How often a checkout waiting for a connection looks whether the database refused one
/// meanwhile (see [`Db::conn_within`]).
const OUTAGE_LOOK_EVERY: Duration = Duration::from_millis(50);

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// What a write may change that kept answers show: every write names it, so that a write
/// cannot forget to drop the answers it makes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touches {
    /// One organization's data (its requests, grants, policy, hooks, settings).
    Org(i64),
    /// Data any organization's answers may show (users, apps, enterprises, seeds), or an
    /// unknown set of organizations.
    Everything,
    /// Data no kept answer shows (outboxes, credentials, sweeps' bookkeeping), or a write
    /// whose caller reports what it changed through [`Db::changes`] once committed.
    Nothing,
}

/// The database: a connection pool plus, on SQLite, the single-writer lock.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    manager: Manager,
    backend: Backend,
    /// SQLite allows one writer at a time; a deferred transaction that reads and then writes
    /// fails with "database is locked" when another writer got there first. Serialising
    /// writers inside the process avoids that. PostgreSQL needs no such lock.
    write_lock: Arc<Mutex<()>>,
    /// What every write moves on, so that responses kept in memory are not served stale.
    changes: Arc<Changes>,
    /// Counts of long lists, kept while their organization's data is unchanged.
    counts: Arc<KeptCounts>,
    /// Organizations by id, kept until a change that may touch any organization.
    orgs: Arc<KeptOrgs>,
    /// Where the pages of long lists begin, kept until their organization's data changes.
    starts: Arc<KeptStarts>,
    /// Whether writes queue e-mails: only when the deployment has a mail server.
    mail: bool,
    /// How long a checkout waits for a connection while the database answers.
    checkout_timeout: Duration,
}

/// A pool's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open, in use or idle.
    pub connections: u32,
    pub idle: u32,
    /// The most connections the pool may open.
    pub max: u32,
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

impl Db {
    /// Connects, checking the URL with one direct connection first so that the real error
    /// (not the pool's time-out) is what the operator sees.
    pub fn connect(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let manager = Manager::new(url)?;
        {
            // Switching a new file to WAL needs it to itself: other processes opening it at the
            // same moment wait on the lock file instead of failing with "database is locked".
            let _lock = manager.process_lock()?;
            let mut first = manager
                .establish()
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            if let DbConnection::Sqlite(conn) = &mut first {
                conn.batch_execute("PRAGMA journal_mode = WAL;")?;
            }
        }
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .connection_timeout(options.connection_timeout)
            // Failed attempts are logged once per outage (`Outage`), not once per attempt.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(manager.clone())
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        Ok(Self {
            pool,
            manager: manager.clone(),
            backend: manager.backend,
            write_lock: Arc::new(Mutex::new(())),
            changes: Arc::new(Changes::default()),
            counts: Arc::new(KeptCounts::default()),
            orgs: Arc::new(KeptOrgs::default()),
            starts: Arc::new(KeptStarts::default()),
            mail: true,
            checkout_timeout: options.connection_timeout,
        })
    }

    /// Whether writes queue owners' e-mails (the default): a deployment without a mail server
    /// says no, and its reviews and revocations queue none.
    pub fn with_mail(mut self, mail: bool) -> Self {
        self.mail = mail;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection for reads, waiting for one at most the pool's time-out; see
    /// [`Db::conn_within`].
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        self.conn_within(self.checkout_timeout)
    }

    /// A pooled connection, waiting for one at most `timeout` while the database answers.
    /// While it refuses connections (the pool's latest attempt failed), an idle connection is
    /// taken if there is one and otherwise the checkout fails at once
    /// ([`StoreError::Connect`]), rather than every request waiting out its time-out; a
    /// checkout already waiting notices such a failure within [`OUTAGE_LOOK_EVERY`].
    ///
    /// The wait and a time-out are reported to the metrics here, once per checkout, rather
    /// than by the pool's events, which see each slice of the wait as a checkout of its own.
    pub fn conn_within(&self, timeout: Duration) -> Result<PooledConn, StoreError> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            if self.manager.outage.is_down() {
                let conn = self
                    .pool
                    .try_get()
                    .ok_or_else(|| StoreError::Connect(self.manager.outage.reason()))?;
                patgate_metrics::pool_checkout(start.elapsed());
                return Ok(conn);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pool.get_timeout(left.min(OUTAGE_LOOK_EVERY)) {
                Ok(conn) => {
                    patgate_metrics::pool_checkout(start.elapsed());
                    return Ok(conn);
                }
                Err(e) if left <= OUTAGE_LOOK_EVERY => {
                    patgate_metrics::pool_timeout();
                    return Err(e.into());
                }
                Err(_) => {}
            }
        }
    }

    /// The pool's connections now, and the most it may open.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// The epochs this process's writes move on and its [`Follower`] follows.
    pub fn changes(&self) -> &Arc<Changes> {
        &self.changes
    }

    /// The count of `key` in the organization, kept until its data changes: `count` runs only
    /// when no count is kept for the organization's current data (see [`KeptCounts`]).
    pub fn kept_count(
        &self,
        org_id: i64,
        key: String,
        count: impl FnOnce() -> Result<i64, StoreError>,
    ) -> Result<i64, StoreError> {
        self.counts.get_or_count(&self.changes, org_id, key, count)
    }

    /// The page starts of organization `org_id`'s lists, for a read that starts now (see
    /// `starts.rs`).
    pub fn starts(&self, org_id: i64) -> Starts<'_> {
        Starts::new(&self.starts, &self.changes, org_id)
    }

    /// Organization `id`, kept in memory until a change that may touch any organization
    /// (`load` reads it when none is kept; see `kept_orgs.rs`).
    pub fn kept_org(
        &self,
        id: i64,
        load: impl FnOnce() -> Result<Option<Organization>, StoreError>,
    ) -> Result<Option<Organization>, StoreError> {
        self.orgs.get_or_load(&self.changes, id, load)
    }

    /// A connection of its own that reports every process's committed writes.
    pub fn follower(&self) -> Result<Follower, StoreError> {
        Follower::connect(self.backend, &self.manager.url, &self.manager.name)
    }

    /// Says that a write committed outside [`Db::write`]'s own reporting changed `touches`:
    /// this process's kept answers count as stale at once, other processes' once the
    /// notification reaches their followers.
    pub fn announce(&self, touches: Touches) {
        self.changes.moved(touches);
        if self.backend == Backend::Postgres && touches != Touches::Nothing {
            match self.conn() {
                Ok(mut conn) => self.tell_peers(&mut conn, touches),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot announce a committed change; other instances keep their answers until they notice")
                }
            }
        }
    }

    /// Tells other processes, through PostgreSQL's notifications, that a write just committed
    /// changed `touches`. Sent after the commit, in a transaction of its own that does not wait
    /// for its own WAL flush: a notification sent inside a write's transaction holds a lock
    /// across that write's flush, which every other notifying commit in the cluster waits for.
    /// A process that dies before this is sent is noticed by its peers' census instead (see
    /// `changes::Follower`). Tried again once on another connection; nothing on SQLite (its
    /// followers read the file's data version).
    fn tell_peers(&self, conn: &mut DbConnection, touches: Touches) {
        let payload = match touches {
            Touches::Org(id) => id.to_string(),
            Touches::Everything => "*".to_owned(),
            Touches::Nothing => return,
        };
        let sql = format!(
            "BEGIN; SET LOCAL synchronous_commit = off; \
             SELECT pg_notify('{}', '{payload}'); COMMIT",
            crate::changes::CHANNEL
        );
        let send = |conn: &mut DbConnection| match conn {
            DbConnection::Postgresql(pg) => {
                let sent = pg.batch_execute(&sql);
                if sent.is_err() {
                    // Left in the failed transaction otherwise, and back to the pool so.
                    let _ = pg.batch_execute("ROLLBACK");
                }
                sent
            }
            DbConnection::Sqlite(_) => Ok(()),
        };
        if send(conn).is_ok() {
            return;
        }
        let again = self
            .conn()
            .map_err(|e| e.to_string())
            .and_then(|mut other| send(&mut other).map_err(|e| e.to_string()));
        if let Err(error) = again {
            tracing::warn!(%error, "cannot announce a committed change; other instances keep their answers until they notice");
        }
    }

    /// Runs `f` in one write transaction: committed when it returns `Ok`, rolled back
    /// otherwise. Afterwards, the kept answers `touches` names count as stale, whatever the
    /// outcome (a rolled-back write costs them a miss, never a stale answer).
    pub fn write<T, E, F>(&self, touches: Touches, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error> + From<StoreError>,
    {
        let result = self.transaction(touches, f);
        self.changes.moved(touches);
        result
    }

    /// Runs `f` in a transaction and, once it has committed, tells other processes what it
    /// changed, on the same connection.
    fn transaction<T, E, F>(&self, touches: Touches, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error> + From<StoreError>,
    {
        // Take the writer lock before a connection, so that writers queued on SQLite do not
        // hold pool connections that readers need.
        let _guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().unwrap_or_else(|p| p.into_inner())),
            Backend::Postgres => None,
        };
        let mut conn = self.conn()?;
        let conn: &mut DbConnection = &mut conn;
        let result = crate::routing::with_mail(self.mail, || match conn {
            DbConnection::Postgresql(_) => conn.transaction(f),
            DbConnection::Sqlite(_) => immediate_transaction(conn, f),
        });
        if result.is_ok() && self.backend == Backend::Postgres {
            self.tell_peers(conn, touches);
        }
        result
    }

    /// Copies the SQLite WAL back into the database without waiting for readers or writers
    /// (`PRAGMA wal_checkpoint(PASSIVE)`), as a task beside the server does every few hundred
    /// milliseconds: connections do not checkpoint at commit. Returns the WAL's frames and the
    /// frames copied. Nothing to do on PostgreSQL.
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        #[derive(diesel::QueryableByName)]
        struct Checkpoint {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            log: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            checkpointed: i64,
        }
        use diesel::RunQueryDsl;
        if self.backend != Backend::Sqlite {
            return Ok((0, 0));
        }
        let mut conn = self.conn()?;
        let row: Checkpoint =
            diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(&mut **conn)?;
        Ok((row.log, row.checkpointed))
    }

    /// The migrations of this build not yet applied to the database (none: its schema is
    /// current), without applying them.
    pub fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        self.pending_migrations_within(self.checkout_timeout)
    }

    /// [`Db::pending_migrations`], on a connection taken within `timeout`: a short read that
    /// also tells whether the database answers (for the readiness probe). A failed statement
    /// is reported as the store error it is (a lost connection as such).
    pub fn pending_migrations_within(&self, timeout: Duration) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn_within(timeout)?;
        let migrations = match self.backend {
            Backend::Postgres => PG_MIGRATIONS,
            Backend::Sqlite => SQLITE_MIGRATIONS,
        };
        Ok(conn
            .pending_migrations(migrations)
            .map_err(|e| match e.downcast::<diesel::result::Error>() {
                Ok(statement) => StoreError::from(*statement),
                Err(other) => StoreError::Migration(other.to_string()),
            })?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect())
    }

    /// Applies every pending migration of the backend; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        // Other processes on the same SQLite file wait on the lock file; other threads of this
        // one on the writer lock.
        let _process = self.manager.process_lock()?;
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut conn = self.conn()?;
        let migrations = match self.backend {
            Backend::Postgres => PG_MIGRATIONS,
            Backend::Sqlite => SQLITE_MIGRATIONS,
        };
        // Several instances may start at once against one PostgreSQL: take a session lock so
        // that exactly one of them applies the migrations.
        if self.backend == Backend::Postgres {
            conn.batch_execute("SELECT pg_advisory_lock(7428136)")?;
        }
        let result = conn
            .run_pending_migrations(migrations)
            .map(|applied| applied.iter().map(|v| v.to_string()).collect())
            .map_err(|e| StoreError::Migration(e.to_string()));
        if self.backend == Backend::Postgres {
            conn.batch_execute("SELECT pg_advisory_unlock(7428136)")?;
        }
        result
    }
}
