//! `GET /metrics` on an address of its own (`--metrics-bind`): requests counted by route
//! template, method and status, refused credentials by kind, rate-limit refusals, kept
//! answers, deliveries and the outbox backlog change as they happen; a real scrape passes
//! `promtool check metrics`, the alert rules in deploy/ pass `promtool check rules` and their
//! unit tests, and every metric exported is documented and every one the alerts and the
//! dashboard use is exported.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// The repository's root, where deploy/ and docs/ are.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// promtool, from Debian's `prometheus` package; its absence fails the test, saying how to
/// install it.
fn promtool() -> Command {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "promtool is not installed; the metrics and alert checks need it. Install Debian's \
         prometheus package, which provides it: apt-get update && apt-get install -y prometheus"
    );
    Command::new("promtool")
}

/// Runs promtool with `args`, feeding it `stdin`; fails with its output unless it passes.
fn promtool_passes(args: &[&str], stdin: Option<&str>) {
    let mut child = promtool()
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write to promtool");
    drop(input);
    let out = child.wait_with_output().expect("promtool's answer");
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One sample of a scrape: its metric name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a scrape in Prometheus' text format (label values here hold no quotes).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                    (key.to_owned(), value.trim_end_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include `labels`; 0 when there is none.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text)
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// Whether the scrape has any sample of `name` with `labels`.
fn has(text: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    samples(text).iter().any(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

/// A server with metrics on a port of their own, and that address.
fn spawn(backend: Backend, extra: &[&str]) -> (TestApp, String) {
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["--expiry-interval", "0", "--metrics-bind", &metrics];
    args.extend_from_slice(extra);
    (TestApp::spawn_with(backend, &args), metrics)
}

async fn scrape(metrics: &str) -> String {
    let res = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .expect("the metrics listener answers");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    res.text().await.expect("the scrape")
}

const LIST_ROUTE: &str = "/orgs/{org}/personal-access-token-requests";
const REVIEW_ROUTE: &str = "/orgs/{org}/personal-access-token-requests/{pat_request_id}";

async fn metrics_follow_requests_reviews_deliveries_and_refusals(backend: Backend) {
    // A hook nothing listens on, tried once: its delivery fails for good at once.
    let dead_hook = format!("http://127.0.0.1:{}/hook", free_port());
    let (app, metrics) = spawn(
        backend,
        &[
            "--rate-limit-per-hour",
            "6",
            "--webhook-poll-ms",
            "50",
            "--webhook-max-attempts",
            "1",
        ],
    );
    // The app's three requests: its installation, the token, its hook.
    let reviewer = app.token_for(REVIEWER).await;
    app.patch(
        "/app/hook/config",
        &app_jwt(REVIEWER),
        &json!({"url": dead_hook, "content_type": "json"}),
    )
    .await
    .assert_status(StatusCode::OK);

    // Two lists (the second may be served from memory), a review, three refusals, a miss.
    let first = app.get_ok(REQUESTS_PATH, &reviewer).await;
    let second = app.get_ok(REQUESTS_PATH, &reviewer).await;
    let is_kept = |r: &Response| r.header(patgate_api::responses::KEPT_HEADER) == Some("1");
    let mut kept = [&first, &second].into_iter().filter(|r| is_kept(r)).count();
    let pending = ids(&first.json);
    app.approve(&reviewer, pending[0]).await;
    // The delivery fails (nothing listens) and is recorded as failed for good.
    let delivered = |text: &str| {
        value(
            text,
            "patgate_outbox_attempts_total",
            &[("outbox", "webhook"), ("outcome", "failed")],
        )
    };
    // Waited for before the lists that follow: on SQLite the record of the attempt is a
    // commit, which makes every kept answer stale (the follower cannot tell what changed).
    let mut text = scrape(&metrics).await;
    for _ in 0..100 {
        if delivered(&text) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = scrape(&metrics).await;
    }
    assert_eq!(delivered(&text), 1.0, "{text}");
    let classic = format!("ghp_{}", "a1".repeat(18));
    app.get(REQUESTS_PATH, &classic)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.send(Method::GET, REQUESTS_PATH, None, None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let fine_grained = format!("github_pat_{}", "b2".repeat(20));
    app.get(REQUESTS_PATH, &fine_grained)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.get("/orgs/acme/no-such-thing/42", &reviewer)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    // Three of the installation's six are used; the seventh is refused.
    let mut refused = 0;
    for _ in 0..4 {
        let res = app.get(REQUESTS_PATH, &reviewer).await;
        if res.status == StatusCode::FORBIDDEN {
            assert!(res.body.contains("rate limit"), "{}", res.body);
            refused += 1;
        }
        kept += usize::from(is_kept(&res));
    }
    assert_eq!(refused, 1, "the seventh request is refused");

    // Scraped again now that the lists are done; the delivery was recorded before them.
    let text = scrape(&metrics).await;
    assert_eq!(delivered(&text), 1.0, "{text}");
    assert_eq!(
        value(
            &text,
            "patgate_outbox_attempts_total",
            &[("outbox", "webhook"), ("outcome", "sent")]
        ),
        0.0
    );
    // The backlog is read when scraped: the failed row, nothing pending or due.
    assert_eq!(
        value(&text, "patgate_outbox_failed", &[("outbox", "webhook")]),
        1.0
    );
    assert_eq!(
        value(&text, "patgate_outbox_pending", &[("outbox", "webhook")]),
        0.0
    );
    assert!(has(
        &text,
        "patgate_outbox_oldest_due_age_seconds",
        &[("outbox", "email")]
    ));

    // Requests by route template, method and status; never a path with its ids.
    let requests = |route: &str, method: &str, status: &str| {
        value(
            &text,
            "patgate_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests(LIST_ROUTE, "GET", "200"), 5.0, "{text}");
    assert_eq!(requests(LIST_ROUTE, "GET", "403"), 3.0);
    assert_eq!(requests(LIST_ROUTE, "GET", "401"), 1.0);
    assert_eq!(requests(REVIEW_ROUTE, "POST", "204"), 1.0);
    assert_eq!(requests("unmatched", "GET", "404"), 1.0);
    assert_eq!(
        requests(
            "/app/installations/{installation_id}/access_tokens",
            "POST",
            "201"
        ),
        1.0
    );
    for sample in samples(&text)
        .iter()
        .filter(|s| s.name == "patgate_http_requests_total")
    {
        let route = &sample.labels["route"];
        assert!(
            !route.contains("acme") && !route.chars().any(|c| c.is_ascii_digit()),
            "a path, not a template: {route}"
        );
    }
    assert_eq!(
        value(
            &text,
            "patgate_http_request_duration_seconds_count",
            &[("route", LIST_ROUTE), ("method", "GET")]
        ),
        9.0
    );

    // Refusals by kind, and by the rate limit.
    let refusals = |kind: &str| value(&text, "patgate_auth_refusals_total", &[("kind", kind)]);
    assert_eq!(refusals("classic_pat"), 1.0);
    assert_eq!(refusals("fine_grained_pat"), 1.0);
    assert_eq!(refusals("missing"), 1.0);
    assert_eq!(refusals("bad_app_jwt"), 0.0, "exported at zero");
    assert_eq!(
        value(
            &text,
            "patgate_rate_limit_refusals_total",
            &[("caller", "installation")]
        ),
        1.0
    );

    // Kept answers: every list served from memory was a hit; the first was read.
    let kept = f64::from(u8::try_from(kept).expect("a few"));
    assert_eq!(value(&text, "patgate_response_cache_hits_total", &[]), kept);
    assert!(value(&text, "patgate_response_cache_misses_total", &[]) >= 1.0);
    assert!(value(&text, "patgate_response_cache_bytes", &[]) > 0.0);

    // The pool, read when scraped, and the build.
    assert_eq!(value(&text, "patgate_db_pool_max_connections", &[]), 16.0);
    assert!(has(
        &text,
        "patgate_db_pool_connections",
        &[("state", "idle")]
    ));
    assert!(value(&text, "patgate_db_pool_wait_seconds_count", &[]) >= 1.0);
    assert_eq!(
        value(
            &text,
            "patgate_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    promtool_passes(&["check", "metrics"], Some(&text));
}

/// The metrics are served on their own address only: the API's answers 404 at `/metrics`,
/// and the metrics listener serves nothing else.
async fn metrics_are_not_served_on_the_api_address(backend: Backend) {
    let (app, metrics) = spawn(backend, &[]);
    app.send(Method::GET, "/metrics", None, None)
        .await
        .assert_not_found();
    let other = reqwest::get(format!("http://{metrics}/orgs/acme"))
        .await
        .expect("an answer");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let text = scrape(&metrics).await;
    assert!(
        !has(
            &text,
            "patgate_http_requests_total",
            &[("route", "/metrics")]
        ),
        "scrapes are not counted as API requests"
    );
}

both_backends!(
    metrics_follow_requests_reviews_deliveries_and_refusals,
    metrics_are_not_served_on_the_api_address,
);

/// The metric names a file mentions (`patgate_…`).
fn mentioned(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("patgate_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_is_documented_and_the_alerts_and_dashboard_use_only_exported_ones() {
    let (app, metrics) = spawn(Backend::Sqlite, &[]);
    app.send(Method::GET, "/", None, None)
        .await
        .assert_status(StatusCode::OK);
    let text = scrape(&metrics).await;
    let exported: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(exported.len() >= 18, "{exported:?}");
    // A histogram's series: its `_bucket`, `_sum` and `_count`.
    let series: BTreeSet<String> = exported
        .iter()
        .flat_map(|name| ["", "_bucket", "_sum", "_count"].map(|suffix| format!("{name}{suffix}")))
        .collect();

    let read = |path: &str| {
        std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let operations = mentioned(&read("docs/OPERATIONS.md"));
    let undocumented: Vec<_> = exported.difference(&operations).collect();
    assert!(
        undocumented.is_empty(),
        "exported but not in docs/OPERATIONS.md: {undocumented:?}"
    );
    for path in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/patgate.json",
        "docs/OPERATIONS.md",
    ] {
        let unknown: Vec<_> = mentioned(&read(path))
            .into_iter()
            .filter(|name| !series.contains(name))
            .collect();
        assert!(
            unknown.is_empty(),
            "{path} names metrics patgate does not export: {unknown:?}"
        );
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/patgate.json")).expect("the dashboard is JSON");
    assert!(
        dashboard["panels"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "the dashboard has panels"
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    promtool_passes(&["check", "rules", "deploy/prometheus/alerts.yml"], None);
    promtool_passes(
        &["test", "rules", "deploy/prometheus/alerts.test.yml"],
        None,
    );
}

/// Every query of the dashboard is PromQL that Prometheus accepts, with Grafana's variables
/// filled in (checked as recording rules, which promtool parses).
#[test]
fn the_dashboards_queries_are_valid_promql() {
    let text =
        std::fs::read_to_string(root().join("deploy/grafana/patgate.json")).expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let panels = dashboard["panels"].as_array().expect("panels");
    let queries: Vec<&str> = panels
        .iter()
        .chain(
            panels
                .iter()
                .flat_map(|p| p["panels"].as_array().into_iter().flatten()),
        )
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    assert!(queries.len() >= 10, "{queries:?}");
    for (i, query) in queries.iter().enumerate() {
        let filled = query
            .replace("$__rate_interval", "5m")
            .replace("$job", "patgate")
            .replace("$instance", ".*");
        // A JSON string is a YAML double-quoted scalar.
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::Value::String(filled)
        ));
    }
    let path = std::env::temp_dir().join(format!("patgate-dashboard-{}.yml", std::process::id()));
    std::fs::write(&path, rules).expect("write the rules");
    let checked = std::panic::catch_unwind(|| {
        promtool_passes(&["check", "rules", path.to_str().expect("utf-8")], None);
    });
    let _ = std::fs::remove_file(&path);
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}
