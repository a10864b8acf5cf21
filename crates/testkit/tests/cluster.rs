//! Integration tests: databases from the shared cluster are fresh, distinct and connectable.

use std::collections::HashSet;

use patgate_testkit::PgCluster;

mod common;
use common::psql;

/// The database name at the end of a URL (before any query string).
fn database_name(url: &str) -> &str {
    let path = url.split('?').next().expect("split yields a first part");
    path.rsplit('/').next().expect("rsplit yields a last part")
}

/// Two databases have different URLs, accept connections, and do not share tables.
#[test]
fn two_databases_are_distinct_and_connectable() {
    let cluster = PgCluster::shared();
    let a = cluster.create_database();
    let b = cluster.create_database();
    assert_ne!(a, b);

    assert_eq!(psql(&a, "select 1"), "1");
    assert_eq!(psql(&b, "select 1"), "1");
    assert_eq!(psql(&a, "select current_database()"), database_name(&a));
    assert_eq!(psql(&b, "select current_database()"), database_name(&b));

    // Fresh and isolated: a table created in one is absent from the other.
    assert_eq!(
        psql(
            &a,
            "select count(*) from pg_tables where schemaname = 'public'"
        ),
        "0"
    );
    psql(&a, "create table only_in_a (id int)");
    assert_eq!(psql(&b, "select to_regclass('only_in_a') is null"), "t");
}

/// The admin URL connects to `postgres` and sees the created databases.
#[test]
fn admin_url_reaches_the_maintenance_database() {
    let cluster = PgCluster::shared();
    let admin = cluster.admin_url();
    assert_eq!(psql(&admin, "select current_database()"), "postgres");

    let url = cluster.create_database();
    let name = database_name(&url);
    let sql = format!("select count(*) from pg_database where datname = '{name}'");
    assert_eq!(psql(&admin, &sql), "1");
}

/// URLs and names follow the documented format.
#[test]
fn urls_have_the_documented_shape() {
    let cluster = PgCluster::shared();
    let url = cluster.create_database();
    let prefix = format!("patgate_test_{}_", std::process::id());
    let name = database_name(&url);
    let counter = name.strip_prefix(&prefix).expect("name has the pid prefix");
    assert!(counter.parse::<usize>().is_ok(), "counter suffix in {name}");

    if std::env::var_os("PATGATE_TEST_DATABASE_URL_BASE").is_none() {
        assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
        assert!(cluster
            .admin_url()
            .starts_with("postgres://postgres@127.0.0.1:"));
        assert!(cluster.admin_url().ends_with("/postgres"));
    }
}

/// Databases created from many threads at once are all distinct and usable.
#[test]
fn concurrent_creation_yields_unique_databases() {
    let cluster = PgCluster::shared();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| cluster.create_database())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let urls: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("creator thread"))
        .collect();
    let unique: HashSet<&String> = urls.iter().collect();
    assert_eq!(unique.len(), urls.len());
    for url in &urls {
        assert_eq!(psql(url, "select 1"), "1");
    }
}

/// A cluster of a test's own stops (its databases refuse connections) and starts again on the
/// same URL, with its data.
#[test]
fn an_own_cluster_stops_and_starts_again_with_its_data() {
    let cluster = PgCluster::start_own().expect("a cluster of this test's own");
    let url = cluster.create_database();
    psql(
        &url,
        "create table kept (id int); insert into kept values (7)",
    );

    cluster.stop_server().expect("stop");
    let refused = std::process::Command::new("psql")
        .args(["-X", "-At", "-d", &url, "-c", "select 1"])
        .output()
        .expect("run psql");
    assert!(!refused.status.success(), "a stopped server answered");

    cluster.start_server().expect("start again");
    assert_eq!(psql(&url, "select id from kept"), "7");
    assert_ne!(
        cluster.admin_url(),
        PgCluster::shared().admin_url(),
        "not the shared cluster"
    );
}
