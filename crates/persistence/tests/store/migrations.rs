//! Migrations: applying them twice is harmless, and racing instances apply them once.

use std::path::Path;
use std::sync::{Arc, Barrier};

use diesel::prelude::*;
use patgate_persistence::schema::{pat_request_reviews, pat_requests};
use patgate_persistence::{Backend, Db, PoolOptions};

use crate::common::{connect, fresh_url, read, SMALL_POOL};

/// The versions of the backend's migration directories, as diesel names them
/// (`2026-11-23-000001_core` → `20261123000001`), oldest first.
fn expected_versions(backend: Backend) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend.as_str());
    let mut versions: Vec<String> = std::fs::read_dir(&dir)
        .expect("the migrations directory is readable")
        .map(|entry| entry.expect("a directory entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.split('_')
                .next()
                .expect("split yields at least one part")
                .replace('-', "")
        })
        .collect();
    versions.sort();
    assert!(!versions.is_empty(), "no migrations in {}", dir.display());
    versions
}

/// The tables exist and are empty.
fn assert_schema_usable(db: &Db) {
    let requests: i64 = read(db, |c| pat_requests::table.count().get_result(c));
    let reviews: i64 = read(db, |c| pat_request_reviews::table.count().get_result(c));
    assert_eq!((requests, reviews), (0, 0));
}

fn migrations_apply_twice_and_the_second_run_applies_nothing(url: &str) {
    let db = connect(url, SMALL_POOL);
    let mut first = db.migrate().expect("first migration run");
    first.sort();
    assert_eq!(first, expected_versions(db.backend()));
    assert_schema_usable(&db);

    let second = db.migrate().expect("second migration run on the same pool");
    assert!(second.is_empty(), "second run applied {second:?}");

    // A new process (a new pool) finds nothing to do either.
    drop(db);
    let again = connect(url, SMALL_POOL);
    let third = again.migrate().expect("migration run from a new pool");
    assert!(third.is_empty(), "third run applied {third:?}");
    assert_schema_usable(&again);
}
both_backends!(url: migrations_apply_twice_and_the_second_run_applies_nothing);

/// The backend of `url`, and how many rounds a race is run there: `on_sqlite`, or 3 on
/// PostgreSQL.
fn rounds(url: &str, on_sqlite: usize) -> (Backend, usize) {
    let (backend, _) = Backend::parse_url(url).expect("a test URL");
    let rounds = match backend {
        Backend::Sqlite => on_sqlite,
        Backend::Postgres => 3,
    };
    (backend, rounds)
}

fn instances_starting_together_apply_the_migrations_exactly_once(url: &str) {
    const INSTANCES: usize = 4;
    // The race is lost only now and then: several rounds, each on a new database.
    let (backend, rounds) = rounds(url, 10);
    for round in 0..rounds {
        let (fresh, guard) = if round == 0 {
            (url.to_owned(), None)
        } else {
            fresh_url(backend)
        };
        // Connecting is not what races here (see the next test): every instance connects first.
        let instances: Vec<Db> = (0..INSTANCES).map(|_| connect(&fresh, 1)).collect();
        let barrier = Arc::new(Barrier::new(INSTANCES));
        let handles: Vec<_> = instances
            .into_iter()
            .map(|db| {
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    db.migrate().map_err(|e| e.to_string())
                })
            })
            .collect();
        let mut appliers = 0;
        for handle in handles {
            let applied = handle.join().expect("migration thread panicked");
            let mut applied =
                applied.unwrap_or_else(|e| panic!("round {round}: an instance failed: {e}"));
            if !applied.is_empty() {
                appliers += 1;
                applied.sort();
                assert_eq!(applied, expected_versions(backend));
            }
        }
        assert_eq!(appliers, 1, "exactly one instance applies the migrations");
        assert_schema_usable(&connect(&fresh, 1));
        drop(guard);
    }
}
both_backends!(url: instances_starting_together_apply_the_migrations_exactly_once);

fn instances_connecting_together_to_a_new_database_all_succeed(url: &str) {
    const INSTANCES: usize = 4;
    // The failure on SQLite is intermittent (a few connections in a thousand): many rounds.
    let (backend, rounds) = rounds(url, 150);
    let mut failures = Vec::new();
    for round in 0..rounds {
        let (fresh, guard) = if round == 0 {
            (url.to_owned(), None)
        } else {
            fresh_url(backend)
        };
        let barrier = Arc::new(Barrier::new(INSTANCES));
        let handles: Vec<_> = (0..INSTANCES)
            .map(|_| {
                let fresh = fresh.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let options = PoolOptions {
                        max_size: 1,
                        ..PoolOptions::default()
                    };
                    Db::connect(&fresh, &options)
                        .map(drop)
                        .map_err(|e| format!("{e}: {e:?}"))
                })
            })
            .collect();
        for handle in handles {
            if let Err(e) = handle.join().expect("connecting thread panicked") {
                failures.push(format!("round {round}: {e}"));
            }
        }
        drop(guard);
    }
    assert!(
        failures.is_empty(),
        "{} of {} connections failed, e.g. {:?}",
        failures.len(),
        rounds * INSTANCES,
        failures.first()
    );
}
both_backends!(url: instances_connecting_together_to_a_new_database_all_succeed);

fn pending_migrations_names_those_the_database_has_not_applied(url: &str) {
    let db = connect(url, SMALL_POOL);
    db.migrate().expect("migrations");
    let within = std::time::Duration::from_secs(1);
    assert_eq!(
        db.pending_migrations_within(within).expect("read"),
        Vec::<String>::new()
    );

    let newest = expected_versions(db.backend())
        .pop()
        .expect("at least one migration");
    let mut conn = db.conn().expect("a pooled connection");
    // A version is digits only.
    diesel::sql_query(format!(
        "DELETE FROM __diesel_schema_migrations WHERE version = '{newest}'"
    ))
    .execute(&mut **conn)
    .expect("forget the newest migration");
    drop(conn);
    assert_eq!(
        db.pending_migrations_within(within).expect("read"),
        vec![newest]
    );
}
both_backends!(url: pending_migrations_names_those_the_database_has_not_applied);
