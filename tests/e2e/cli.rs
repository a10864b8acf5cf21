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

/// `patgate check`: each check on its own line, `ok` or `FAIL` with the reason; exit status 1
/// when any fails, 0 when all pass; nothing created or changed.
async fn the_check_command_says_what_is_wrong_and_changes_nothing(backend: Backend) {
    let (dir, database_url) = TestApp::prepare(backend);
    let check = |extra: &[&str]| {
        let mut args = vec!["check"];
        args.extend_from_slice(extra);
        let out = run_cli(&dir, &database_url, &args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout)
    };
    let line = |stdout: &str, name: &str| -> String {
        stdout
            .lines()
            .find(|l| {
                l.split_once(": ")
                    .is_some_and(|(head, _)| head.ends_with(name))
            })
            .unwrap_or_else(|| panic!("no {name} line: {stdout}"))
            .to_owned()
    };

    // No signing key yet, and a mail server that does not answer.
    let closed = format!("smtp://127.0.0.1:{}", free_port());
    let (code, out) = check(&["--smtp-url", &closed]);
    assert_eq!(code, Some(1), "{out}");
    assert!(line(&out, "configuration").starts_with("ok "), "{out}");
    assert!(line(&out, "database").starts_with("ok "), "{out}");
    assert!(line(&out, "migrations").starts_with("ok "), "{out}");
    assert!(line(&out, "signing key").starts_with("FAIL"), "{out}");
    assert!(line(&out, "smtp").starts_with("FAIL"), "{out}");
    assert!(!out.contains(&closed), "the SMTP URL is not printed: {out}");
    assert!(
        !dir.join("signing-key.pem").exists(),
        "check creates no key"
    );

    patgate_api::keys::ServerKeys::load_or_generate(&dir.join("signing-key.pem")).expect("a key");
    let (code, out) = check(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        5,
        "{out}"
    );

    let (code, out) = check(&["--webhook-lease-ms", "1000", "--webhook-timeout-ms", "2000"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(line(&out, "configuration").starts_with("FAIL"), "{out}");

    // A database nobody migrated: SQLite's file is not created, PostgreSQL's migrations are
    // said to be missing.
    let (empty_url, missing_file) = match backend {
        Backend::Sqlite => {
            let path = dir.join("not-there").join("patgate.db");
            (path.display().to_string(), Some(path))
        }
        Backend::Postgres => (patgate_testkit::PgCluster::shared().create_database(), None),
    };
    let out = run_cli(&dir, &empty_url, &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    match missing_file {
        Some(path) => {
            assert!(line(&stdout, "database").starts_with("FAIL"), "{stdout}");
            assert!(!path.exists(), "check creates no database file");
        }
        None => assert!(line(&stdout, "migrations").starts_with("FAIL"), "{stdout}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

both_backends!(the_check_command_says_what_is_wrong_and_changes_nothing);
