//! The binary's own commands: seeding is idempotent, a mistyped database URL is refused, the OpenAPI document is printed.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

async fn seeding_again_changes_nothing_even_after_reviews(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    let res = app
        .post(
            "/orgs/acme/personal-access-token-requests",
            &token,
            &json!({"pat_request_ids": [pending[0], pending[1]], "action": "deny"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let out = run_cli(
        &app.dir,
        &app.database_url,
        &["seed", app.dir.join("seed.json").to_str().expect("path")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.pending_ids(&token).await, pending[2..].to_vec());
}

async fn an_invalid_seed_file_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let before = app.pending_ids(&token).await;
    let bad = app.dir.join("bad.json");
    // A valid new user, then a request naming an unknown repository: all or nothing.
    std::fs::write(
        &bad,
        json!({
            "users": [{"login": "mallory"}],
            "tokens": [{"owner": "mallory", "name": "t"}],
            "requests": [{"org": ORG, "owner": "mallory", "token": "t", "repository_selection": "subset",
                          "repositories": ["nope"], "permissions": {"repository": {"contents": "read"}}}],
        })
        .to_string(),
    )
    .expect("write");
    let out = run_cli(
        &app.dir,
        &app.database_url,
        &["seed", bad.to_str().expect("path")],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown repository"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.pending_ids(&token).await, before);
    let res = app
        .get(
            "/orgs/acme/personal-access-token-requests?owner=mallory",
            &token,
        )
        .await;
    assert_eq!(res.json, json!([]));
}

both_backends!(
    seeding_again_changes_nothing_even_after_reviews,
    an_invalid_seed_file_writes_nothing,
);

#[test]
fn a_mistyped_database_url_is_refused_and_creates_no_file() {
    let dir = std::env::temp_dir().join(format!("patgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .current_dir(&dir)
        .args(["--database-url", "postgress://user@localhost/db", "migrate"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported database URL scheme"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        0,
        "nothing created"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_openapi_command_prints_the_committed_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .arg("openapi")
        .output()
        .expect("run");
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("committed document");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

#[test]
fn the_openapi_command_prints_the_committed_3_0_document_on_request() {
    let out = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(["openapi", "--spec-version", "3.0"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/openapi-3.0.json"
    ))
    .expect("committed document");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
    let out = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(["openapi", "--spec-version", "2.0"])
        .output()
        .expect("run");
    assert!(!out.status.success(), "an unknown version is refused");
}
