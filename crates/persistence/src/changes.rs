//! Which stored data may have changed since a response was built: an epoch for all data and
//! one per bucket of organizations, moved on after every write this process commits and by the
//! [`Follower`] of every other process's writes.
//!
//! A reader takes a [`Stamp`] *before* it reads the store, so whatever it reads is at least as
//! new as the stamp says; a writer moves the epoch on *after* its commit, before it answers.
//! A response kept under a stamp is therefore served only while no write has been committed
//! since the stamp was taken (here at once, elsewhere within one poll of the follower).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::backend::Backend;
use crate::StoreError;

/// Organizations share epochs by `id % BUCKETS`: a write in one organization also moves on
/// the epoch of the others in its bucket, which costs them a cache miss, never a stale answer.
const BUCKETS: usize = 1024;

/// The channel PostgreSQL's triggers notify, with an organization id or `*` as payload
/// (migration `2026-11-24-000005_change_notifications`).
pub const CHANNEL: &str = "patgate_changes";

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
/// PostgreSQL's notifications (sent at commit by triggers, one per organization touched), or
/// SQLite's `PRAGMA data_version`, which moves on when any other connection commits (SQLite
/// does not say what changed, so any change counts for all organizations).
pub enum Follower {
    Postgres {
        conn: Box<PgConnection>,
        polls: u32,
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
struct DataVersion {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    data_version: i64,
}

/// How many polls pass between liveness probes of the PostgreSQL connection: reading pending
/// notifications does not notice a connection that died without closing.
const PROBE_EVERY: u32 = 100;

impl Follower {
    /// Connects and starts listening; every change committed after this returns is reported.
    pub(crate) fn connect(backend: Backend, url: &str) -> Result<Self, StoreError> {
        match backend {
            Backend::Postgres => {
                let mut conn =
                    PgConnection::establish(url).map_err(|e| StoreError::Connect(e.to_string()))?;
                conn.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                Ok(Self::Postgres {
                    conn: Box::new(conn),
                    polls: 0,
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
    pub fn poll(&mut self) -> Result<Vec<Change>, StoreError> {
        match self {
            Self::Postgres { conn, polls } => {
                *polls += 1;
                if *polls >= PROBE_EVERY {
                    *polls = 0;
                    conn.batch_execute("SELECT 1")?;
                }
                let mut changes = Vec::new();
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
