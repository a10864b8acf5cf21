//! How the loop records attempts: the sends that have finished are recorded together, in one
//! write transaction, as soon as one of them finishes (a slow send holds none of the others
//! back), and a send in flight at shutdown is recorded before the leases are given back.
//! Counted on a channel of test jobs, with diesel's instrumentation counting the `COMMIT`s.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use diesel::connection::{
    set_default_instrumentation, Instrumentation, InstrumentationEvent, SimpleConnection,
};
use diesel::prelude::*;
use patgate_persistence::outbox::{Backlog, Outbox};
use patgate_persistence::{Db, DbConnection, PoolOptions, StoreError, Touches};
use tokio::sync::Notify;

use super::{start, Channel, Settings};

diesel::table! {
    jobs (id) {
        id -> BigInt,
        leased_by -> Nullable<Text>,
        attempts -> Integer,
    }
}

/// `COMMIT`s sent on the connections to each database URL.
static COMMITS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Counts a connection's `COMMIT`s under the URL it was opened with.
struct CountCommits {
    url: Option<String>,
}

impl Instrumentation for CountCommits {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.url = Some(url.to_owned());
            }
            InstrumentationEvent::StartQuery { query, .. } => {
                if let Some(url) = &self.url {
                    if query.to_string().trim_start().starts_with("COMMIT") {
                        let mut commits = COMMITS.lock().unwrap_or_else(|p| p.into_inner());
                        *commits.entry(url.clone()).or_default() += 1;
                    }
                }
            }
            _ => {}
        }
    }
}

/// Counts the `COMMIT`s of every connection opened after it is called.
fn count_commits() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        set_default_instrumentation(|| Some(Box::new(CountCommits { url: None })))
            .expect("instrumentation");
    });
}

/// The `COMMIT`s on connections to `url` (PostgreSQL's carry the process's `application_name`
/// after it).
fn commits(url: &str) -> usize {
    let commits = COMMITS.lock().unwrap_or_else(|p| p.into_inner());
    commits
        .iter()
        .filter(|(opened, _)| {
            opened.strip_prefix(url).is_some_and(|rest| {
                rest.is_empty()
                    || rest.starts_with("?application_name=")
                    || rest.starts_with("&application_name=")
            })
        })
        .map(|(_, n)| n)
        .sum()
}

/// Jobs in a table of their own: taken by setting their lease, recorded by counting the
/// attempt and ending the lease. The send of job `slow` waits for `gate`; every other send finishes at once.
#[derive(Clone)]
struct Jobs {
    settings: Settings,
    slow: i64,
    gate: Arc<Notify>,
}

impl Channel for Jobs {
    type Item = i64;
    type Attempt = ();
    const NAME: &'static str = "test job";
    // Not swept: the settings keep no retention.
    const OUTBOX: Outbox = Outbox::WebhookDeliveries;
    const METRIC: patgate_metrics::Outbox = patgate_metrics::Outbox::Webhook;

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn claim(
        conn: &mut DbConnection,
        lessee: &str,
        _now: chrono::NaiveDateTime,
        _until: chrono::NaiveDateTime,
        batch: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let due: Vec<i64> = jobs::table
            .filter(jobs::leased_by.is_null())
            .filter(jobs::attempts.eq(0))
            .order(jobs::id)
            .limit(batch)
            .select(jobs::id)
            .load(conn)?;
        diesel::update(jobs::table.filter(jobs::id.eq_any(&due)))
            .set(jobs::leased_by.eq(lessee))
            .execute(conn)?;
        Ok(due)
    }

    fn record(
        conn: &mut DbConnection,
        id: &i64,
        lessee: &str,
        (): &(),
    ) -> Result<bool, StoreError> {
        let updated = diesel::update(jobs::table.find(*id).filter(jobs::leased_by.eq(lessee)))
            .set((
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::leased_by.eq(None::<String>),
            ))
            .execute(conn)?;
        Ok(updated == 1)
    }

    fn release(conn: &mut DbConnection, lessee: &str) -> Result<usize, StoreError> {
        Ok(
            diesel::update(jobs::table.filter(jobs::leased_by.eq(lessee)))
                .set(jobs::leased_by.eq(None::<String>))
                .execute(conn)?,
        )
    }

    fn backlog(_conn: &mut DbConnection) -> Result<Backlog, StoreError> {
        Ok(Backlog::default())
    }

    async fn send(&self, _db: &Db, id: &i64) -> Option<()> {
        if *id == self.slow {
            self.gate.notified().await;
        }
        Some(())
    }

    fn log(_id: &i64, (): &(), _recorded: Result<bool, &StoreError>) {}

    fn outcome((): &()) -> patgate_metrics::Outcome {
        patgate_metrics::Outcome::Sent
    }
}

/// (id, attempts, leased) of every job.
fn jobs_now(db: &Db) -> Vec<(i64, i32, bool)> {
    let mut conn = db.conn().expect("a connection");
    let rows: Vec<(i64, i32, Option<String>)> = jobs::table
        .order(jobs::id)
        .select((jobs::id, jobs::attempts, jobs::leased_by))
        .load(&mut **conn)
        .expect("the jobs");
    rows.into_iter()
        .map(|(id, attempts, leased)| (id, attempts, leased.is_some()))
        .collect()
}

/// Waits (at most ten seconds) until `done` holds of the jobs.
async fn wait_for(db: &Db, what: &str, done: impl Fn(&[(i64, i32, bool)]) -> bool) {
    let started = Instant::now();
    loop {
        let now = jobs_now(db);
        if done(&now) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: still {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const JOBS: i64 = 9;

/// Nine jobs taken in one batch: the eight that finish at once are recorded in one
/// transaction while the ninth is still being sent; stopping waits for the ninth, which is
/// recorded in a transaction of its own, and then gives the leases back.
fn finished_attempts_are_recorded_together(url: &str) {
    count_commits();
    let options = PoolOptions {
        max_size: 4,
        connection_timeout: Duration::from_secs(30),
    };
    let db = Db::connect(url, &options).expect("connect");
    db.conn()
        .expect("a connection")
        .batch_execute(
            "CREATE TABLE jobs (id BIGINT PRIMARY KEY, leased_by TEXT, \
             attempts INTEGER NOT NULL DEFAULT 0)",
        )
        .expect("the jobs table");
    db.write(Touches::Nothing, |c| {
        for id in 1..=JOBS {
            diesel::insert_into(jobs::table)
                .values(jobs::id.eq(id))
                .execute(c)?;
        }
        Ok::<_, StoreError>(())
    })
    .expect("the jobs");
    let gate = Arc::new(Notify::new());
    let channel = Jobs {
        settings: Settings {
            // One look for due jobs: the next would come after the test.
            poll: Duration::from_secs(3600),
            retention: None,
            ..Settings::default()
        },
        slow: JOBS,
        gate: Arc::clone(&gate),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let before = commits(url);
        let running = start(channel, db.clone(), "tester".to_owned());
        wait_for(&db, "the fast jobs recorded", |jobs| {
            jobs.iter()
                .filter(|(_, attempts, _)| *attempts == 1)
                .count()
                == 8
        })
        .await;
        assert_eq!(
            jobs_now(&db)[8],
            (JOBS, 0, true),
            "the slow job is still being sent"
        );
        assert_eq!(
            commits(url) - before,
            2,
            "one transaction leases the jobs, one records the eight that finished together"
        );

        let stopping = tokio::task::spawn_local(running.stop());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !stopping.is_finished(),
            "stopping waits for the send in flight"
        );
        gate.notify_one();
        stopping.await.expect("stopped");
        assert!(
            jobs_now(&db)
                .iter()
                .all(|&(_, attempts, leased)| attempts == 1 && !leased),
            "every job recorded once, no lease left: {:?}",
            jobs_now(&db)
        );
        assert_eq!(
            commits(url) - before,
            4,
            "then one records the slow job, and one gives the leases back"
        );
    });
}

/// A SQLite file of its own, removed with its companions when dropped (the test passed or not).
struct SqliteFile(String);

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            // Best effort: a missing companion file is normal.
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0));
        }
    }
}

#[test]
fn finished_attempts_are_recorded_together_on_sqlite() {
    let path = std::env::temp_dir().join(format!(
        "patgate-events-test-{}-{:x}.db",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    let file = SqliteFile(path.to_str().expect("a UTF-8 temp dir").to_owned());
    finished_attempts_are_recorded_together(&file.0);
}

#[test]
fn finished_attempts_are_recorded_together_on_postgres() {
    finished_attempts_are_recorded_together(
        &patgate_testkit::PgCluster::shared().create_database(),
    );
}
