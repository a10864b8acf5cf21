//! `patgate-ci`, the CI command line, run as a process against the real server: lists, show, reviews, revocations, dry runs and exit codes.

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

/// Every environment variable the command line reads, cleared so that the caller's
/// environment cannot change a test.
const ENV: [&str; 6] = [
    "PATGATE_URL",
    "PATGATE_ORG",
    "PATGATE_APP_ID",
    "PATGATE_INSTALLATION_ID",
    "PATGATE_PRIVATE_KEY",
    "PATGATE_PRIVATE_KEY_FILE",
];

/// A finished `patgate-ci` run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "{self:?}");
        self
    }

    /// Asserts a failure reported as `patgate-ci: …` on stderr, mentioning `text`.
    fn assert_failed(&self, code: i32, text: &str) {
        self.assert_code(code);
        assert!(self.stderr.starts_with("patgate-ci: "), "{self:?}");
        assert!(self.stderr.contains(text), "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
    }
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patgate-ci"));
    for var in ENV {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run patgate-ci");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A PEM file in the test's data directory.
fn key_file(app: &TestApp, name: &str, pem: &str) -> PathBuf {
    let path = app.dir.join(name);
    std::fs::write(&path, pem).expect("write key");
    path
}

/// `patgate-ci` as the app `client_id` on `acme`, its installation looked up from the
/// organization.
fn ci_as(app: &TestApp, client_id: &str, args: &[&str]) -> Run {
    let key = key_file(app, "app.pem", app_private_key());
    run(binary()
        .args(["--base-url", &app.base, "--org", ORG, "--app-id", client_id])
        .arg("--private-key")
        .arg(key)
        .args(args))
}

fn ci(app: &TestApp, args: &[&str]) -> Run {
    ci_as(app, REVIEWER, args)
}

/// The API's JSON without its `null` members, which the generated client's types leave out.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

async fn api_json(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get(path, token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    without_nulls(res.json)
}

/// The pending requests' verdict as the token issuer reads it.
async fn verdict(app: &TestApp, id: i64) -> Value {
    let issuer = app.token_for(ISSUER).await;
    let path = format!("/orgs/{ORG}/personal-access-token-intake/requests/{id}");
    app.get(&path, &issuer).await.json
}

fn id_args(ids: &[i64]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

async fn a_filtered_list_prints_what_the_api_returns(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let query = "?owner=alice,bob&permission=issues_read&per_page=100";
    let expected = api_json(&app, &token, &format!("{REQUESTS_PATH}{query}")).await;
    let logins: Vec<&str> = expected
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["owner"]["login"].as_str().expect("login"))
        .collect();
    assert!(!logins.is_empty() && logins.iter().all(|l| ["alice", "bob"].contains(l)));

    let filters = [
        "--owner",
        "alice",
        "--owner",
        "bob",
        "--permission",
        "issues_read",
        "--per-page",
        "100",
    ];
    let out = ci(
        &app,
        &[&["requests", "list", "--json"], &filters[..]].concat(),
    );
    out.assert_code(0);
    assert_eq!(out.json(), expected);

    // The same list as a table: a header, then one row per request, in the API's order.
    let out = ci(&app, &[&["requests", "list"], &filters[..]].concat());
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("PERMISSIONS"),
        "{out:?}"
    );
    let row_ids: Vec<i64> = lines[1..]
        .iter()
        .map(|l| {
            l.split_whitespace()
                .next()
                .expect("id")
                .parse()
                .expect("number")
        })
        .collect();
    assert_eq!(row_ids, ids(&expected));
    assert!(lines[1..].iter().all(|l| l.contains("issues:")), "{out:?}");
}

async fn all_follows_every_next_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    assert_eq!(pending.len(), REQUESTS);

    let out = ci(&app, &["requests", "list", "--per-page", "7", "--json"]);
    assert_eq!(
        ids(&out.assert_code(0).json()),
        pending[..7].to_vec(),
        "one page without --all"
    );
    let out = ci(
        &app,
        &[
            "requests",
            "list",
            "--per-page",
            "7",
            "--page",
            "2",
            "--json",
        ],
    );
    assert_eq!(ids(&out.assert_code(0).json()), pending[7..14].to_vec());

    let out = ci(
        &app,
        &[
            "requests",
            "list",
            "--all",
            "--per-page",
            "7",
            "--json",
            "--progress",
        ],
    );
    assert_eq!(ids(&out.assert_code(0).json()), pending, "{}", out.stderr);
    // 40 requests, 7 a page: six pages, reported on stderr as they come.
    assert!(out.stderr.contains("page 6, 40 rows"), "{}", out.stderr);
    assert!(!out.stderr.contains("page 7"), "{}", out.stderr);
    // Without --progress and without a terminal, stderr stays quiet.
    let out = ci(
        &app,
        &["requests", "list", "--all", "--per-page", "7", "--json"],
    );
    assert_eq!(ids(&out.assert_code(0).json()).len(), REQUESTS);
    assert_eq!(out.stderr, "");
}

async fn show_prints_the_request_and_every_repository_it_asks_for(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let all = api_json(&app, &token, &format!("{REQUESTS_PATH}?per_page=100")).await;
    // The oldest subset request: at the end of the list, so `show` follows pages to find it.
    let request = all
        .as_array()
        .expect("array")
        .iter()
        .rev()
        .find(|r| r["repository_selection"] == "subset")
        .expect("a subset request")
        .clone();
    let id = request["id"].as_i64().expect("id");
    let repos = api_json(&app, &token, &format!("{REQUESTS_PATH}/{id}/repositories")).await;
    assert_eq!(repos.as_array().map(Vec::len), Some(2));

    let out = ci(&app, &["requests", "show", &id.to_string(), "--json"]);
    assert_eq!(
        out.assert_code(0).json(),
        json!({"request": request, "repositories": repos})
    );

    let out = ci(&app, &["requests", "show", &id.to_string()]);
    out.assert_code(0);
    assert!(
        out.stdout.starts_with(&format!("Request       {id}\n")),
        "{out:?}"
    );
    for repo in repos.as_array().expect("array") {
        let name = repo["full_name"].as_str().expect("full_name");
        assert!(out.stdout.contains(name), "{out:?}");
    }
}

async fn approving_one_request_grants_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    let id = pending[3];

    let out = ci(&app, &["requests", "approve", &id.to_string()]);
    out.assert_code(0);
    assert_eq!(out.stdout, format!("Approved request {id}.\n"));
    assert!(!app.pending_ids(&token).await.contains(&id));
    assert_eq!(verdict(&app, id).await["status"], "approved");
    let grants = api_json(&app, &token, GRANTS_PATH).await;
    assert_eq!(grants.as_array().map(Vec::len), Some(1));
}

async fn denying_several_with_a_reason_records_it_on_each(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    let denied = &pending[..3];

    let mut args = vec!["requests".to_owned(), "deny".into()];
    args.extend(id_args(denied));
    args.extend(["--reason".into(), "Too broad".into(), "--json".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ci(&app, &args);
    assert_eq!(
        out.assert_code(0).json(),
        json!({"action": "deny", "ids": denied, "reason": "Too broad", "dry_run": false})
    );
    assert_eq!(app.pending_ids(&token).await, pending[3..].to_vec());
    for id in denied {
        let verdict = verdict(&app, *id).await;
        assert_eq!(verdict["status"], "denied", "{verdict}");
        assert_eq!(verdict["review_reason"], "Too broad", "{verdict}");
    }
}

async fn revoking_grants_ends_them_and_keeps_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    // Approving several at once takes the bulk endpoint; ids may also be comma-separated.
    let approve = format!("{},{},{}", pending[0], pending[1], pending[2]);
    let out = ci(&app, &["requests", "approve", &approve]);
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        format!("Approved 3 requests: {}.\n", approve.replace(',', ", "))
    );

    let grants = api_json(
        &app,
        &token,
        &format!("{GRANTS_PATH}?owner=alice,bob,carol,dave"),
    )
    .await;
    let out = ci(
        &app,
        &[
            "grants",
            "list",
            "--owner",
            "alice,bob,carol,dave",
            "--json",
        ],
    );
    assert_eq!(out.assert_code(0).json(), grants);
    let grant_ids = ids(&grants);
    assert_eq!(grant_ids.len(), 3);

    let revoked = id_args(&grant_ids[..2]);
    let out = ci(
        &app,
        &["grants", "revoke", &revoked[0], &revoked[1], "--json"],
    );
    assert_eq!(
        out.assert_code(0).json(),
        json!({"action": "revoke", "ids": &grant_ids[..2], "dry_run": false})
    );
    let left = api_json(&app, &token, GRANTS_PATH).await;
    assert_eq!(ids(&left), grant_ids[2..].to_vec());

    // Revoking a revoked grant again is refused by the bulk endpoint, all or nothing.
    let out = ci(
        &app,
        &["grants", "revoke", &revoked[0], &grant_ids[2].to_string()],
    );
    out.assert_failed(6, "HTTP 422");
    assert_eq!(
        ids(&api_json(&app, &token, GRANTS_PATH).await),
        grant_ids[2..].to_vec()
    );

    // A reason goes with the revocation, told to the owner and kept in the audit trail.
    let last = grant_ids[2].to_string();
    let out = ci(
        &app,
        &["grants", "revoke", &last, "--reason", "Rotated", "--json"],
    );
    assert_eq!(out.assert_code(0).json()["reason"], "Rotated");
    let audit = api_json(
        &app,
        &token,
        &format!(
            "/orgs/acme/personal-access-token-audit-log?action=grant.revoked&subject_id={last}"
        ),
    )
    .await;
    assert_eq!(audit[0]["reason"], "Rotated", "{audit}");
}

async fn a_dry_run_reports_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    // The oldest two: the check has to read every page to find them.
    let targets = [pending[REQUESTS - 1], pending[REQUESTS - 2]];
    let expected = api_json(&app, &token, &format!("{REQUESTS_PATH}?per_page=100")).await;
    let expected: Vec<Value> = targets
        .iter()
        .map(|id| {
            expected
                .as_array()
                .expect("array")
                .iter()
                .find(|r| r["id"] == *id)
                .expect("listed")
                .clone()
        })
        .collect();

    let ids_arg = id_args(&targets);
    let out = ci(
        &app,
        &[
            "requests",
            "deny",
            &ids_arg[0],
            &ids_arg[1],
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(
        out.assert_code(0).json(),
        json!({"action": "deny", "ids": targets, "dry_run": true, "requests": expected})
    );
    let out = ci(
        &app,
        &["requests", "approve", &ids_arg[0], &ids_arg[1], "--dry-run"],
    );
    out.assert_code(0);
    assert!(
        out.stdout.contains("Dry run: would approve 2 requests"),
        "{out:?}"
    );
    assert!(out.stdout.contains("Nothing was changed."), "{out:?}");
    assert_eq!(app.pending_ids(&token).await, pending, "nothing reviewed");

    // An id that is not pending fails the check as the bulk endpoint would, with 6.
    let out = ci(
        &app,
        &["requests", "approve", &ids_arg[0], "999999", "--dry-run"],
    );
    out.assert_failed(6, "999999");
    assert_eq!(app.pending_ids(&token).await, pending);

    // Revocation too.
    let out = ci(&app, &["requests", "approve", &ids_arg[0]]);
    out.assert_code(0);
    let grant = ids(&api_json(&app, &token, GRANTS_PATH).await)[0].to_string();
    let out = ci(&app, &["grants", "revoke", &grant, "--dry-run"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains(&format!("Dry run: would revoke grant {grant}.")),
        "{out:?}"
    );
    assert_eq!(
        ids(&api_json(&app, &token, GRANTS_PATH).await).len(),
        1,
        "still active"
    );
}

async fn the_installation_is_looked_up_from_the_organization_or_given(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    // Every other test runs without --installation-id, so through the lookup; here the id is
    // given, and must be the app's own.
    let installation = app.installation_id(REVIEWER).await.to_string();
    let out = ci(
        &app,
        &[
            "requests",
            "list",
            "--installation-id",
            &installation,
            "--json",
        ],
    );
    assert_eq!(ids(&out.assert_code(0).json()), pending[..30].to_vec());
    let other = app.installation_id(READER).await.to_string();
    let out = ci(&app, &["requests", "list", "--installation-id", &other]);
    out.assert_failed(5, "HTTP 404");
    // No installation of this app on an unknown organization.
    let key = key_file(&app, "app.pem", app_private_key());
    let out = run(binary()
        .env("PATGATE_URL", &app.base)
        .env("PATGATE_ORG", "no-such-org")
        .env("PATGATE_APP_ID", REVIEWER)
        .env("PATGATE_PRIVATE_KEY_FILE", &key)
        .args(["requests", "list"]));
    out.assert_failed(5, "looking up the app's installation on no-such-org");
}

async fn a_key_the_app_does_not_have_exits_3(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The PEM in the environment, as a CI secret would hold it.
    let out = run(binary()
        .args(["--base-url", &app.base, "--org", ORG, "--app-id", REVIEWER])
        .env("PATGATE_PRIVATE_KEY", stranger_private_key())
        .args(["requests", "list"]));
    out.assert_failed(3, "HTTP 401");
    assert!(!out.stderr.contains("PRIVATE KEY"), "{out:?}");
    let bad = key_file(&app, "bad.pem", "not a key");
    let out = run(binary()
        .args(["--base-url", &app.base, "--org", ORG, "--app-id", REVIEWER])
        .arg("--private-key")
        .arg(bad)
        .args(["requests", "list"]));
    out.assert_failed(3, "not an RSA private key");
    // The fixture key in the environment works: the refusal above was the key's.
    let out = run(binary()
        .args(["--base-url", &app.base, "--org", ORG, "--app-id", REVIEWER])
        .env("PATGATE_PRIVATE_KEY", app_private_key())
        .args(["requests", "list", "--json"]));
    assert_eq!(ids(&out.assert_code(0).json()).len(), 30);
}

async fn an_installation_without_the_permission_exits_4(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let out = ci_as(&app, BYSTANDER, &["requests", "list"]);
    out.assert_failed(4, "Resource not accessible by integration (HTTP 403)");
    // Read is not write: the reader may list but not review.
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    ci_as(&app, READER, &["requests", "list"]).assert_code(0);
    let out = ci_as(
        &app,
        READER,
        &["requests", "approve", &pending[0].to_string()],
    );
    out.assert_failed(4, "HTTP 403");
    assert_eq!(app.pending_ids(&token).await, pending);
}

async fn an_unknown_request_exits_5(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ci(&app, &["requests", "approve", "999999"]).assert_failed(5, "approving request 999999");
    ci(&app, &["requests", "show", "999999"]).assert_failed(5, "HTTP 404");
    // A request that exists but was reviewed is no longer shown.
    let token = app.token_for(REVIEWER).await;
    let id = app.pending_ids(&token).await[0].to_string();
    ci(&app, &["requests", "deny", &id]).assert_code(0);
    ci(&app, &["requests", "show", &id]).assert_failed(5, "is not pending");
}

async fn approving_an_approved_request_exits_6_with_the_servers_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    let id = pending[0].to_string();
    ci(&app, &["requests", "approve", &id]).assert_code(0);
    let out = ci(&app, &["requests", "approve", &id]);
    out.assert_failed(6, "This request is already approved (HTTP 422)");
    // The server's errors[] follow the message, one line each.
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("patgate-ci:   - ") && l.contains(&id)),
        "{out:?}"
    );
    // In bulk, all or nothing: the other request stays pending.
    let other = pending[1].to_string();
    let out = ci(&app, &["requests", "deny", &other, &id]);
    out.assert_failed(6, "HTTP 422");
    assert!(app.pending_ids(&token).await.contains(&pending[1]));
}

/// `rules validate`, `rules dry-run` (exit 8 when an outcome would change) and `rules apply`
/// (exit 9 when another version was saved since the one named), from files.
async fn rule_files_are_validated_tried_and_applied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rules = app.dir.join("rules.cedar");
    let cases = app.dir.join("cases.json");
    std::fs::write(
        &rules,
        "@id(\"deny-writes\")\n@reason(\"No write access by token.\")\npermit (principal, action == Action::\"deny\", resource)\nwhen { !resource.read_only };\n",
    )
    .expect("write rules");
    std::fs::write(
        &cases,
        json!([{
            "name": "writes are denied",
            "request": {"owner": {"login": "zed"}, "repository_selection": "all",
                        "permissions": {"repository": {"contents": "write"}}, "lifetime_days": 30},
            "expect": {"outcome": "denied", "rules": ["deny-writes"]},
        }])
        .to_string(),
    )
    .expect("write cases");
    let (rules, cases) = (rules.to_str().expect("path"), cases.to_str().expect("path"));

    let out = ci(&app, &["rules", "validate", rules, "--cases", cases]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("1 rules valid, 1 cases passed"),
        "{out:?}"
    );

    // The fixture's pending requests that ask to write would be denied.
    let out = ci(&app, &["rules", "dry-run", rules, "--cases", cases]);
    out.assert_code(8);
    assert!(
        out.stdout.contains("pending requests would change"),
        "{out:?}"
    );
    assert!(out.stdout.contains("denied [deny-writes]"), "{out:?}");
    let json_run = ci(&app, &["--json", "rules", "dry-run", rules]);
    json_run.assert_code(8);
    assert!(json_run.json()["changed"].as_u64().is_some_and(|n| n > 0));

    // An invalid file: exit 6, with the line and column.
    let broken = app.dir.join("broken.cedar");
    std::fs::write(&broken, "@id(\"a\") @reason(\"r\")\npermit (principal, action == Action::\"deny\", resource)\nwhen { resource.read_olny };\n").expect("write");
    let out = ci(&app, &["rules", "validate", broken.to_str().expect("path")]);
    out.assert_failed(6, "line 3, column 8");

    // Applied in shadow mode over the version in force; then over a stale one: exit 9.
    let out = ci(
        &app,
        &[
            "rules", "apply", rules, "--cases", cases, "--mode", "shadow",
        ],
    );
    out.assert_code(0);
    assert!(out.stdout.contains("saved version 1 (shadow)"), "{out:?}");
    let out = ci(
        &app,
        &[
            "rules",
            "apply",
            rules,
            "--mode",
            "enforce",
            "--if-match",
            "\"v0\"",
        ],
    );
    out.assert_failed(9, "HTTP 412");
    let token = app.token_for(REVIEWER).await;
    let current = api_json(
        &app,
        &token,
        "/orgs/acme/personal-access-token-review-rules",
    )
    .await;
    assert_eq!(
        (current["version"].as_i64(), current["mode"].as_str()),
        (Some(1), Some("shadow"))
    );
    // Dry-run against the rules in force, which are the same: nothing changes, exit 0.
    ci(&app, &["rules", "dry-run", rules]).assert_code(0);
}

both_backends!(
    rule_files_are_validated_tried_and_applied,
    a_filtered_list_prints_what_the_api_returns,
    all_follows_every_next_link,
    show_prints_the_request_and_every_repository_it_asks_for,
    approving_one_request_grants_it,
    denying_several_with_a_reason_records_it_on_each,
    revoking_grants_ends_them_and_keeps_the_others,
    a_dry_run_reports_and_changes_nothing,
    the_installation_is_looked_up_from_the_organization_or_given,
    a_key_the_app_does_not_have_exits_3,
    an_installation_without_the_permission_exits_4,
    an_unknown_request_exits_5,
    approving_an_approved_request_exits_6_with_the_servers_errors,
);

#[test]
fn usage_errors_exit_2_before_anything_is_sent() {
    // Nothing listens on this address: any request would fail with 7, not 2.
    let base = ["--base-url", "http://127.0.0.1:9", "--app-id", "1"];
    let out = run(binary()
        .args(base)
        .args(["--org", ORG, "requests", "approve"]));
    out.assert_code(2);
    let out = run(binary().args(base).args(["requests", "list"]));
    out.assert_failed(2, "missing --org");
    let out = run(binary().args(base).args(["--org", ORG, "requests", "list"]));
    out.assert_failed(2, "no private key");
    let many: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
    let out = run(binary()
        .args(base)
        .args(["--org", ORG, "requests", "deny"])
        .args(&many));
    out.assert_failed(2, "at most 100 ids");
}

#[test]
fn an_unreachable_server_exits_7() {
    let key = std::env::temp_dir().join(format!("patgate-ci-key-{}.pem", std::process::id()));
    std::fs::write(&key, app_private_key()).expect("write key");
    let out = run(binary()
        .args([
            "--base-url",
            "http://127.0.0.1:9",
            "--org",
            ORG,
            "--app-id",
            "1",
        ])
        .arg("--private-key")
        .arg(&key)
        .args(["requests", "list"]));
    let _ = std::fs::remove_file(&key);
    out.assert_failed(7, "looking up the app's installation on acme");
}
