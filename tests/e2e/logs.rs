//! `PATGATE_LOG_FORMAT=json`: one JSON object per line, a line per request with its id (as
//! sent in `X-GitHub-Request-Id`), method, route template, status, latency and who called;
//! and no credential, key or secret anywhere in a run's logs.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

async fn json_logs_say_who_asked_what_and_never_a_secret(backend: Backend) {
    let (dir, database_url) = TestApp::prepare(backend);
    let log = std::env::temp_dir().join(format!(
        "patgate-e2e-log-{}-{:?}.jsonl",
        std::process::id(),
        backend
    ));
    let app = TestApp::start_logging(
        dir,
        database_url,
        &["--expiry-interval", "0"],
        &[("PATGATE_LOG", "info"), ("PATGATE_LOG_FORMAT", "json")],
        Some(&log),
    );

    // Every credential and secret this run hands the server.
    let jwt = app_jwt(REVIEWER);
    let installation = app.installation_id(REVIEWER).await;
    let res = app.exchange(installation, &jwt, &json!({})).await;
    res.assert_status(StatusCode::CREATED);
    let token = res.json["token"].as_str().expect("token").to_owned();
    let listed = app.get(REQUESTS_PATH, &token).await;
    listed.assert_status(StatusCode::OK);
    let listed_id = listed
        .header("x-github-request-id")
        .expect("request id")
        .to_owned();
    let secret = "hook-s3cr3t-never-logged";
    let hook = app
        .post(
            "/orgs/acme/hooks",
            &token,
            &json!({
                "name": "web",
                "config": {"url": "http://127.0.0.1:9/hook", "content_type": "json", "secret": secret},
                "events": ["personal_access_token_request"],
            }),
        )
        .await;
    hook.assert_status(StatusCode::CREATED);
    let body36 = "16C7e42F292c6912E7710c838347Ae178B4a";
    let refused = [
        format!("ghp_{body36}"),
        format!("gho_{body36}"),
        format!("ghu_{body36}"),
        "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI"
            .to_owned(),
    ];
    for credential in &refused {
        let res = app.get(REQUESTS_PATH, credential).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    }
    let signing_key = std::fs::read_to_string(app.dir.join("signing-key.pem")).expect("key");
    drop(app);

    let text = std::fs::read_to_string(&log).expect("the log");
    let _ = std::fs::remove_file(&log);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests.len() >= 7, "a line per request: {text}");
    let line = requests
        .iter()
        .find(|l| l["request_id"] == listed_id.as_str())
        .unwrap_or_else(|| panic!("the list's line, by its request id {listed_id}: {text}"));
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(
        line["route"], "/orgs/{org}/personal-access-token-requests",
        "{line}"
    );
    assert_eq!(line["path"], REQUESTS_PATH, "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["elapsed_ms"].as_f64().is_some(), "{line}");
    assert_eq!(line["installation_id"], installation, "{line}");
    assert!(line["org_id"].as_i64().is_some(), "{line}");
    assert!(line["app_id"].as_i64().is_some(), "{line}");
    assert!(
        line["level"].is_string() && line["timestamp"].is_string(),
        "{line}"
    );

    let mut secrets: Vec<&str> = vec![&jwt, &token, secret];
    secrets.extend(refused.iter().map(String::as_str));
    // The keys' bodies, line by line (a PEM's lines are base64 of the key).
    secrets.extend(
        signing_key
            .lines()
            .chain(app_private_key().lines())
            .filter(|l| !l.starts_with("-----") && l.len() > 16),
    );
    for secret in secrets {
        assert!(!text.contains(secret), "the log holds a secret: {secret}");
        // Part of one would do harm too (a JWT's signature, a token's body).
        let tail = &secret[secret.len().saturating_sub(20)..];
        assert!(
            !text.contains(tail),
            "the log holds part of a secret: {tail}"
        );
    }
}

both_backends!(json_logs_say_who_asked_what_and_never_a_secret);
