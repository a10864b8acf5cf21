//! The probes: `/healthz` and `/readyz` answer without a credential and uncounted; `/readyz`
//! turns 503 while the database is down (and requests fail fast with GitHub's body) and as
//! soon as the server is told to stop, before it stops accepting connections.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;

/// `path` asked as a load balancer asks: no credential, no `User-Agent`.
async fn probe(
    app: &TestApp,
    method: Method,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let res = reqwest::Client::new()
        .request(method, format!("{}{path}", app.base))
        .send()
        .await
        .expect("probe");
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// `/readyz` until it answers `status`, looking every 50 ms for at most `bound`; its body.
async fn readiness_turns(app: &TestApp, status: StatusCode, bound: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (now, _, body) = probe(app, Method::GET, "/readyz").await;
        if now == status {
            return body;
        }
        assert!(
            start.elapsed() < bound,
            "/readyz still {now} after {bound:?}, not {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The names of the checks of a `/readyz` body, sorted.
fn check_names(body: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = body["checks"]
        .as_object()
        .unwrap_or_else(|| panic!("no checks: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

async fn probes_answer_without_credentials_and_are_not_counted(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &args("--expiry-interval 0 --rate-limit-per-hour 100"),
    );
    let (status, headers, body) = probe(&app, Method::GET, "/healthz").await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        headers.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );

    let body = readiness_turns(&app, StatusCode::OK, Duration::from_secs(10)).await;
    assert_eq!(body["status"], "ok", "{body}");
    let mut expected = vec![
        "change_follower",
        "database",
        "email_notifications",
        "migrations",
        "revocation_poll",
        "review_rules",
        "webhook_deliveries",
    ];
    expected.push(match backend {
        Backend::Sqlite => "sqlite_checkpoints",
        // The rate limit is on: its counts are shared through PostgreSQL.
        Backend::Postgres => "rate_limit_sync",
    });
    expected.sort_unstable();
    assert_eq!(check_names(&body), expected, "{body}");
    assert!(
        body["checks"]
            .as_object()
            .expect("checks")
            .values()
            .all(|v| v == "ok"),
        "{body}"
    );
    let (status, _, _) = probe(&app, Method::HEAD, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "HEAD, as some load balancers ask");

    // Counted requests move the quota; probes, with or without the caller's token, do not,
    // and carry no quota of their own.
    let token = app.token_for(REVIEWER).await;
    let remaining = |res: &Response| {
        res.header("x-ratelimit-remaining")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("no quota: {:?}", res.headers))
    };
    let before = remaining(&app.get_ok(REQUESTS_PATH, &token).await);
    for path in ["/healthz", "/readyz"] {
        for _ in 0..3 {
            let with_token = app.get(path, &token).await;
            with_token.assert_status(StatusCode::OK);
            let (status, headers, _) = probe(&app, Method::GET, path).await;
            assert_eq!(status, StatusCode::OK);
            for headers in [&with_token.headers, &headers] {
                assert!(
                    headers
                        .keys()
                        .all(|name| !name.as_str().starts_with("x-ratelimit")),
                    "{path}: {headers:?}"
                );
            }
        }
    }
    let after = remaining(&app.get_ok(REQUESTS_PATH, &token).await);
    assert_eq!(after, before - 1, "only the second list was counted");
}

async fn shutdown_turns_readiness_off_first_then_drains_and_exits_zero(backend: Backend) {
    const GRACE: Duration = Duration::from_millis(1500);
    let mut app = TestApp::spawn_with(
        backend,
        &args("--expiry-interval 0 --shutdown-grace-ms 1500"),
    );
    let token = app.token_for(REVIEWER).await;
    readiness_turns(&app, StatusCode::OK, Duration::from_secs(10)).await;

    app.signal("TERM");
    let told = Instant::now();
    let body = readiness_turns(
        &app,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(
        (&body["status"], &body["reason"]),
        (&Value::from("unavailable"), &Value::from("shutting down")),
        "{body}"
    );
    // Within the grace period everything else is still served, on new connections too.
    let list = app.get_ok(REQUESTS_PATH, &token).await;
    assert!(!list.items().is_empty());
    let (status, _, _) = probe(&app, Method::GET, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        told.elapsed() < GRACE,
        "the checks took the whole grace period"
    );

    let status = app.exit_status(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
    assert!(
        told.elapsed() >= GRACE,
        "stopped after {:?}, within the grace period",
        told.elapsed()
    );
}

async fn a_second_signal_ends_the_grace_period(backend: Backend) {
    let mut app = TestApp::spawn_with(
        backend,
        &args("--expiry-interval 0 --shutdown-grace-ms 60000"),
    );
    readiness_turns(&app, StatusCode::OK, Duration::from_secs(10)).await;
    app.signal("INT");
    readiness_turns(
        &app,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(1),
    )
    .await;
    app.signal("INT");
    let status = app.exit_status(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
}

both_backends!(
    probes_answer_without_credentials_and_are_not_counted,
    shutdown_turns_readiness_off_first_then_drains_and_exits_zero,
    a_second_signal_ends_the_grace_period,
);

/// How long an API request may take to fail while the database is down.
const FAIL_FAST: Duration = Duration::from_millis(1500);

/// PostgreSQL only: stopping a database is a server's matter. On a cluster of the test's own,
/// so that the shared cluster's other tests do not notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_requests_fail_fast_while_it_is_down() {
    let cluster = patgate_testkit::PgCluster::start_own().expect("a PostgreSQL cluster");
    let (dir, url) = TestApp::prepare_on(cluster.create_database());
    let app = TestApp::start(dir, url.clone());
    let token = app.token_for(REVIEWER).await;
    app.get_ok(REQUESTS_PATH, &token).await;
    readiness_turns(&app, StatusCode::OK, Duration::from_secs(10)).await;

    cluster.stop_server().expect("stop PostgreSQL");
    let body = readiness_turns(
        &app,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["reason"], "database: unreachable", "{body}");
    assert_eq!(body["checks"]["database"], "unreachable", "{body}");
    assert_eq!(body["checks"]["webhook_deliveries"], "ok", "{body}");
    let text = body.to_string();
    assert!(
        !text.contains("postgres") && !text.contains("127.0.0.1"),
        "the body names the database: {text}"
    );

    // At once: on a connection the server closed (not reused), or on none.
    let res = app
        .get(&format!("{REQUESTS_PATH}?per_page=5"), &token)
        .await;
    res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable");

    // Connections the pool still holds, dead with the server, answer at once, but at most
    // one request each and only while they were checked in the last second: past that
    // second, and for more requests than the pool has connections, each request needs a new
    // connection, which the database refuses. Pages never asked before, so that no kept
    // answer stands in for the database.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for page in 1..=20 {
        let start = Instant::now();
        let res = app
            .get(&format!("{REQUESTS_PATH}?per_page=7&page={page}"), &token)
            .await;
        let took = start.elapsed();
        res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable");
        assert_eq!(res.header("retry-after"), Some("1"));
        assert!(took < FAIL_FAST, "page {page} failed after {took:?}");
    }
    let start = Instant::now();
    let review = app
        .post_review(&token, 1, &serde_json::json!({"action": "approve"}))
        .await;
    review.assert_error(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable");
    assert!(
        start.elapsed() < FAIL_FAST,
        "the review failed after {:?}",
        start.elapsed()
    );

    cluster.start_server().expect("start PostgreSQL again");
    readiness_turns(&app, StatusCode::OK, Duration::from_secs(15)).await;
    let list = app
        .get_ok(&format!("{REQUESTS_PATH}?per_page=7&page=1"), &token)
        .await;
    assert_eq!(list.items().len(), 7);
    let id = list.items()[0]["id"].as_i64().expect("id");
    app.approve(&token, id).await;
}
