//! Which stored data may have changed since a response was built: an epoch for all data and
//! one per bucket of organizations, moved on after every write this process commits and by the
//! [`Follower`] of every other process's writes.
//!
//! A reader takes a [`Stamp`] *before* it reads the store, so whatever it reads is at least as
//! new as the stamp says; a writer moves the epoch on *after* its commit, before it answers.
//! A response kept under a stamp is therefore served only while no write has been committed
//! since the stamp was taken (here at once, elsewhere within one poll of the follower).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::backend::Backend;
use crate::StoreError;

/// Organizations share epochs by `id % BUCKETS`: a write in one organization also moves on
/// the epoch of the others in its bucket, which costs them a cache miss, never a stale answer.
const BUCKETS: usize = 1024;

/// The channel every change is announced on, with an organization id or `*` as payload: by
/// [`Db::write`](crate::Db::write) after its commit, and by the triggers still left on rarely
/// written tables (users, organizations, enterprises, policies, repositories, tokens;
/// migrations `2026-11-24-000005_change_notifications` and `2026-12-07-000018_announce_after_commit`).
pub const CHANNEL: &str = "patgate_changes";

/// What every connection a patgate process opens on PostgreSQL is named (`application_name`),
/// followed by a space and the process's own name: peers tell by these names which processes
/// are connected (see [`Follower::poll`]).
pub const APPLICATION: &str = "patgate";

/// A name for this process's connections, unique among the processes on one database: the
/// application, the process id and when the name was made.
pub(crate) fn instance_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{APPLICATION} {}-{nanos:x}", std::process::id())
}

/// The PostgreSQL URL `url` with `application_name` set to `name` (made by
/// [`instance_name`]): given when connecting, it costs no statement.
pub(crate) fn named_url(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={}", name.replace(' ', "%20"))
}

/// The epochs of this process.
#[derive(Debug)]
pub struct Changes {
    all: AtomicU64,
    orgs: Box<[AtomicU64]>,
    /// Whether other processes' writes are being followed; while they are not, no stamp is
    /// given, so nothing is kept or served.
    following: AtomicBool,
}

/// The epochs an organization's data was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    all: u64,
    org: u64,
}

impl Default for Changes {
    fn default() -> Self {
        Self {
            all: AtomicU64::new(0),
            orgs: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            following: AtomicBool::new(false),
        }
    }
}

impl Changes {
    fn bucket(&self, org_id: i64) -> &AtomicU64 {
        &self.orgs[org_id.rem_euclid(BUCKETS as i64) as usize]
    }

    /// The organization's epochs now, or `None` while other processes' writes may be missed.
    pub fn stamp(&self, org_id: i64) -> Option<Stamp> {
        if !self.following.load(Ordering::SeqCst) {
            return None;
        }
        Some(Stamp {
            all: self.all.load(Ordering::SeqCst),
            org: self.bucket(org_id).load(Ordering::SeqCst),
        })
    }

    /// Whether nothing has changed for the organization since `stamp` was taken.
    /// The epoch of changes that may touch any organization, or `None` while other processes'
    /// writes are not followed.
    pub fn all_epoch(&self) -> Option<u64> {
        self.following
            .load(Ordering::SeqCst)
            .then(|| self.all.load(Ordering::SeqCst))
    }

    pub fn is_current(&self, org_id: i64, stamp: Stamp) -> bool {
        self.stamp(org_id) == Some(stamp)
    }

    /// A committed write touched the organization's data.
    pub fn org_changed(&self, org_id: i64) {
        self.bucket(org_id).fetch_add(1, Ordering::SeqCst);
    }

    /// A committed write may have touched any organization's data.
    pub fn all_changed(&self) {
        self.all.fetch_add(1, Ordering::SeqCst);
    }

    /// A write (committed or not) changed what `touches` names.
    pub fn moved(&self, touches: crate::Touches) {
        match touches {
            crate::Touches::Org(org_id) => self.org_changed(org_id),
            crate::Touches::Everything => self.all_changed(),
            crate::Touches::Nothing => {}
        }
    }

    /// Starts or stops trusting that other processes' writes are seen. Either way every epoch
    /// moves on: what was kept before a gap in following may have missed a write.
    pub fn set_following(&self, following: bool) {
        self.all_changed();
        self.following.store(following, Ordering::SeqCst);
        self.all_changed();
    }

    pub fn is_following(&self) -> bool {
        self.following.load(Ordering::SeqCst)
    }
}

/// One change another process (or this one) committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Org(i64),
    All,
}

impl Change {
    pub fn apply(self, changes: &Changes) {
        match self {
            Self::Org(id) => changes.org_changed(id),
            Self::All => changes.all_changed(),
        }
    }
}

/// Follows the writes of every process on the database over a connection of its own:
/// PostgreSQL's notifications (one per organization touched, sent by the writer right after its
/// commit), or SQLite's `PRAGMA data_version`, which moves on when any other connection commits
/// (SQLite does not say what changed, so any change counts for all organizations).
///
/// A writer that dies between its commit and its notification is noticed all the same: on
/// PostgreSQL the follower takes a census of the patgate processes connected (by their
/// connections' `application_name`, see [`APPLICATION`]) every [`CENSUS_EVERY`], and a process
/// that is gone counts as a change of every organization.
pub enum Follower {
    Postgres {
        conn: Box<PgConnection>,
        /// The patgate processes connected at the last census.
        peers: HashSet<String>,
        census_at: Instant,
    },
    Sqlite {
        conn: Box<SqliteConnection>,
        version: i64,
    },
    /// An in-memory SQLite database: no other connection can write to it.
    Alone,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres { .. } => "Follower::Postgres",
            Self::Sqlite { .. } => "Follower::Sqlite",
            Self::Alone => "Follower::Alone",
        })
    }
}

#[derive(QueryableByName)]
struct Peer {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    data_version: i64,
}

/// How often a PostgreSQL follower takes its census of patgate processes. It is also the
/// follower's liveness probe: reading pending notifications does not notice a connection that
/// died without closing.
pub const CENSUS_EVERY: Duration = Duration::from_secs(1);

/// The patgate processes connected to the database now, by name.
fn census(conn: &mut PgConnection) -> Result<HashSet<String>, StoreError> {
    let peers: Vec<Peer> = diesel::sql_query(format!(
        "SELECT DISTINCT application_name AS name FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name LIKE '{APPLICATION} %'"
    ))
    .load(conn)?;
    Ok(peers.into_iter().map(|p| p.name).collect())
}

impl Follower {
    /// Connects and starts listening; every change committed after this returns is reported.
    /// `name` is the process's name on PostgreSQL (see [`APPLICATION`]).
    pub(crate) fn connect(backend: Backend, url: &str, name: &str) -> Result<Self, StoreError> {
        match backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&named_url(url, name))
                    .map_err(|e| StoreError::Connect(e.to_string()))?;
                conn.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                let peers = census(&mut conn)?;
                Ok(Self::Postgres {
                    conn: Box::new(conn),
                    peers,
                    census_at: Instant::now(),
                })
            }
            Backend::Sqlite if url == ":memory:" || url.is_empty() => Ok(Self::Alone),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(url)
                    .map_err(|e| StoreError::Connect(e.to_string()))?;
                let version = data_version(&mut conn)?;
                Ok(Self::Sqlite {
                    conn: Box::new(conn),
                    version,
                })
            }
        }
    }

    /// The changes committed since the last poll (in no particular order, repeats possible).
    /// On PostgreSQL, a patgate process that has disconnected since the last census counts as
    /// [`Change::All`]: it may have died after a commit and before its notification.
    pub fn poll(&mut self) -> Result<Vec<Change>, StoreError> {
        match self {
            Self::Postgres {
                conn,
                peers,
                census_at,
            } => {
                let mut changes = Vec::new();
                if census_at.elapsed() >= CENSUS_EVERY {
                    *census_at = Instant::now();
                    let now = census(conn)?;
                    if peers.iter().any(|p| !now.contains(p)) {
                        changes.push(Change::All);
                    }
                    *peers = now;
                }
                for note in conn.notifications_iter() {
                    let note = note?;
                    changes.push(match note.payload.parse::<i64>() {
                        Ok(id) => Change::Org(id),
                        Err(_) => Change::All,
                    });
                }
                Ok(changes)
            }
            Self::Sqlite { conn, version } => {
                let now = data_version(conn)?;
                if now == *version {
                    return Ok(Vec::new());
                }
                *version = now;
                Ok(vec![Change::All])
            }
            Self::Alone => Ok(Vec::new()),
        }
    }
}

fn data_version(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let row: DataVersion = diesel::sql_query("PRAGMA data_version").get_result(conn)?;
    Ok(row.data_version)
}
