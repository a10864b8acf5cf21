//! Review rules as code: versions with `If-Match`, validation with line and column, cases that
//! refuse a save, decisions at filing (enforce and shadow), deny wins, fail closed, the hard
//! limits, the check of pending requests after a save (once across instances), the dry-run.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const RULES: &str = "/orgs/acme/personal-access-token-review-rules";

const SOURCE: &str = r#"
@id("approve-read-only")
@reason("Read-only access is approved.")
permit (principal, action == Action::"approve", resource)
when { resource.read_only };

@id("deny-admin")
@reason("Admin access is never granted to tokens.")
permit (principal, action == Action::"deny", resource)
when { resource.highest_level == "admin" };

@id("deny-long-lived")
@reason("Tokens may live 90 days at most.")
permit (principal, action == Action::"deny", resource)
when { resource has lifetime_days && resource.lifetime_days > 90 };

@id("people-review-infra")
@reason("Access to infra is reviewed by people.")
forbid (principal, action == Action::"approve", resource)
when { resource.repository_names.contains("infra") };
"#;

fn body(mode: &str, source: &str) -> Value {
    json!({"mode": mode, "source": source})
}

/// Saves `body` over version `over` as the reviewer, asserting the 200; the answer.
async fn save(app: &TestApp, token: &str, over: i64, body: &Value) -> Value {
    let res = app
        .put_if_match(RULES, token, body, Some(&format!("\"v{over}\"")))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        res.header("etag"),
        Some(format!("\"v{}\"", over + 1).as_str())
    );
    res.json.clone()
}

/// A filing by zed asking `permissions` on `repositories` (a subset), valid `days`.
fn filing(token_id: i64, repositories: &[&str], repository: Value, days: i64) -> Value {
    let mut f = zed_filing(
        token_id,
        "subset",
        repositories,
        json!({"repository": repository}),
    );
    f["token_expires_at"] = json!(in_days(days));
    f
}

async fn file(app: &TestApp, issuer: &str, body: &Value) -> Response {
    app.post(INTAKE_PATH, issuer, body).await
}

async fn versions_are_immutable_and_saved_over_the_one_named_by_if_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let res = app.get(RULES, &reviewer).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.header("etag"), Some("\"v0\""));
    assert_eq!(res.json["version"], 0);
    assert_eq!(res.json["mode"], "off");

    // If-Match is required, and must name the version in force.
    let first = body("shadow", SOURCE);
    app.put_if_match(RULES, &reviewer, &first, None)
        .await
        .assert_status(StatusCode::PRECONDITION_REQUIRED);
    app.put_if_match(RULES, &reviewer, &first, Some("\"v3\""))
        .await
        .assert_status(StatusCode::PRECONDITION_FAILED);
    let v1 = save(&app, &reviewer, 0, &first).await;
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["mode"], "shadow");
    assert_eq!(v1["sha256"].as_str().map(str::len), Some(64));
    assert!(v1["saved_by"]["app_id"].as_i64().is_some());
    let ids: Vec<&str> = v1["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "approve-read-only",
            "deny-admin",
            "deny-long-lived",
            "people-review-infra"
        ]
    );

    // A save over v0 now is stale: 412, and nothing is saved.
    let stale = app
        .put_if_match(RULES, &reviewer, &body("enforce", ""), Some("\"v0\""))
        .await;
    stale.assert_status(StatusCode::PRECONDITION_FAILED);
    assert!(
        stale.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"v1\"")),
        "{}",
        stale.body
    );
    assert_eq!(app.get(RULES, &reviewer).await.json["version"], 1);

    // `*` saves over whatever is in force; saving v1's source again rolls back.
    let res = app
        .put_if_match(RULES, &reviewer, &body("off", ""), Some("*"))
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["version"], 2);
    let v3 = save(&app, &reviewer, 2, &first).await;
    assert_eq!(v3["sha256"], v1["sha256"]);

    let versions = app.get(&format!("{RULES}/versions"), &reviewer).await;
    versions.assert_status(StatusCode::OK);
    let numbers: Vec<i64> = versions
        .items()
        .iter()
        .map(|v| v["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    let old = app.get(&format!("{RULES}/versions/2"), &reviewer).await;
    old.assert_status(StatusCode::OK);
    assert_eq!(
        (old.json["mode"].as_str(), old.json["source"].as_str()),
        (Some("off"), Some(""))
    );
    app.get(&format!("{RULES}/versions/9"), &reviewer)
        .await
        .assert_not_found();

    // Every save is in the audit trail.
    let audit = app.audit(&reviewer, "action=review_rules.updated").await;
    assert_eq!(audit.items().len(), 3, "{}", audit.body);
    assert_eq!(audit.items()[0]["subject_type"], "review_rules");
}

async fn invalid_rules_are_refused_with_line_and_column(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let misspelled = "@id(\"a\")\n@reason(\"r\")\npermit (principal, action == Action::\"approve\", resource)\nwhen { resource.read_olny };";
    let res = app
        .put_if_match(
            RULES,
            &reviewer,
            &body("enforce", misspelled),
            Some("\"v0\""),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let error = &res.json["errors"][0];
    assert_eq!(error["field"], "source", "{}", res.body);
    assert_eq!(
        (error["line"].as_i64(), error["column"].as_i64()),
        (Some(4), Some(8)),
        "{}",
        res.body
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("rule \"a\"")),
        "{}",
        res.body
    );

    let broken =
        "@id(\"a\") @reason(\"r\")\npermit (principal, action, resource)\nwhen { true &&& false };";
    let res = app
        .put_if_match(RULES, &reviewer, &body("enforce", broken), Some("\"v0\""))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json["errors"][0]["line"], 3, "{}", res.body);

    let anonymous = "permit (principal, action == Action::\"approve\", resource);";
    let res = app
        .put_if_match(
            RULES,
            &reviewer,
            &body("enforce", anonymous),
            Some("\"v0\""),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.error_message().contains("@id"), "{}", res.body);

    // The dry-run refuses the same way; nothing was saved.
    let res = app
        .post(
            &format!("{RULES}/dry-run"),
            &reviewer,
            &json!({"source": misspelled}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(RULES, &reviewer).await.json["version"], 0);
}

async fn cases_run_on_every_save_and_a_failing_one_refuses_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let case = |name: &str, level: &str, outcome: &str| {
        json!({
            "name": name,
            "request": {
                "owner": {"login": "zed"},
                "repository_selection": "subset",
                "repositories": [{"name": "docs"}],
                "permissions": {"repository": {"contents": level}},
                "lifetime_days": 30,
            },
            "expect": {"outcome": outcome},
        })
    };
    let mut failing = body("enforce", SOURCE);
    failing["cases"] = json!([
        case("read is approved", "read", "approved"),
        case("admin is approved", "admin", "approved"),
    ]);
    let res = app
        .put_if_match(RULES, &reviewer, &failing, Some("\"v0\""))
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json["errors"][0]["field"], "cases");
    assert!(
        res.error_message().contains("admin is approved")
            && res.error_message().contains("deny-admin"),
        "{}",
        res.body
    );
    assert_eq!(app.get(RULES, &reviewer).await.json["version"], 0);

    let mut passing = body("shadow", SOURCE);
    let mut admin = case("admin is denied", "admin", "denied");
    admin["expect"]["rules"] = json!(["deny-admin"]);
    passing["cases"] = json!([case("read is approved", "read", "approved"), admin]);
    let saved = save(&app, &reviewer, 0, &passing).await;
    let results = saved["case_results"].as_array().expect("case_results");
    assert!(results.iter().all(|r| r["passed"] == true), "{saved}");
    assert_eq!(saved["cases"].as_array().map(Vec::len), Some(2));
    // No case and no pending request asks for 90+ days or for infra with read-only access.
    let unmatched = saved["unmatched_rules"].as_array().expect("unmatched");
    assert!(unmatched.contains(&json!("deny-long-lived")), "{saved}");
}

async fn enforced_rules_decide_each_filing_and_say_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    save(&app, &reviewer, 0, &body("enforce", SOURCE)).await;

    // Read-only: approved at once, with the rule that decided.
    let res = file(
        &app,
        &issuer,
        &filing(9001, &["api"], json!({"contents": "read"}), 30),
    )
    .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["status"], "approved", "{}", res.body);
    assert!(res.json["grant_id"].as_i64().is_some());
    let review = &res.json["automatic_review"];
    assert_eq!(review["reviewer"], "review-rules");
    assert_eq!(
        (review["version"].as_i64(), review["acted"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(review["rules"], json!(["approve-read-only"]));

    // Admin for 120 days: denied, with every matching reason (deny wins over nothing else).
    let res = file(
        &app,
        &issuer,
        &filing(9002, &["api"], json!({"administration": "admin"}), 120),
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["status"], "denied", "{}", res.body);
    assert_eq!(
        res.json["automatic_review"]["rules"],
        json!(["deny-admin", "deny-long-lived"])
    );
    let told = res.json["review_reason"].as_str().expect("review_reason");
    assert!(
        told.contains("Admin access is never granted") && told.contains("90 days at most"),
        "{told}"
    );

    // Read-only but 120 days: deny wins over approve.
    let res = file(
        &app,
        &issuer,
        &filing(9003, &["api"], json!({"contents": "read"}), 120),
    )
    .await;
    assert_eq!(res.json["status"], "denied", "{}", res.body);
    assert_eq!(
        res.json["automatic_review"]["rules"],
        json!(["deny-long-lived"])
    );

    // Read-only on infra: left for people by the rule that says so.
    let res = file(
        &app,
        &issuer,
        &filing(9004, &["infra"], json!({"contents": "read"}), 30),
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["status"], "pending", "{}", res.body);
    assert_eq!(res.json["automatic_review"]["outcome"], "pending");
    assert_eq!(
        res.json["automatic_review"]["rules"],
        json!(["people-review-infra"])
    );

    // Nothing matching: pending, no rule.
    let res = file(
        &app,
        &issuer,
        &filing(9005, &["api"], json!({"contents": "write"}), 30),
    )
    .await;
    assert_eq!(res.json["status"], "pending", "{}", res.body);
    assert_eq!(res.json["automatic_review"]["rules"], json!([]));
    let pending = res.id();

    // The verdict endpoint shows the same, and the audit trail has the reviews.
    let verdict = app.get(&format!("{INTAKE_PATH}/{pending}"), &issuer).await;
    assert_eq!(verdict.json["automatic_review"]["outcome"], "pending");
    let denied = app.audit(&reviewer, "action=request.denied").await;
    assert_eq!(denied.items().len(), 2, "{}", denied.body);
    assert!(denied.items()[0]["reason"]
        .as_str()
        .expect("reason")
        .starts_with("Review rules v1"));
    let listed = app.pending_ids(&reviewer).await;
    assert!(listed.contains(&pending));
}

async fn shadow_rules_record_decisions_and_act_on_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    save(&app, &reviewer, 0, &body("shadow", SOURCE)).await;
    let res = file(
        &app,
        &issuer,
        &filing(9101, &["api"], json!({"administration": "admin"}), 30),
    )
    .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["status"], "pending", "{}", res.body);
    let review = &res.json["automatic_review"];
    assert_eq!(
        (review["mode"].as_str(), review["outcome"].as_str()),
        (Some("shadow"), Some("denied"))
    );
    assert_eq!(review["acted"], false);
    assert!(app
        .audit(&reviewer, "action=request.denied")
        .await
        .items()
        .is_empty());

    // Off: nothing is evaluated.
    save(&app, &reviewer, 1, &body("off", SOURCE)).await;
    let res = file(
        &app,
        &issuer,
        &filing(9102, &["api"], json!({"administration": "admin"}), 30),
    )
    .await;
    assert_eq!(res.json["automatic_review"], Value::Null, "{}", res.body);
}

async fn an_evaluation_error_leaves_the_request_pending(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    let source = r#"
@id("overflows") @reason("Guards long lifetimes.")
permit (principal, action == Action::"deny", resource)
when { resource has lifetime_days && resource.lifetime_days * 9223372036854775807 > 0 };
@id("approve-all") @reason("Everything else.")
permit (principal, action == Action::"approve", resource);
"#;
    save(&app, &reviewer, 0, &body("enforce", source)).await;
    let res = file(
        &app,
        &issuer,
        &filing(9201, &["api"], json!({"contents": "read"}), 30),
    )
    .await;
    assert_eq!(res.json["status"], "pending", "{}", res.body);
    let error = res.json["automatic_review"]["error"]
        .as_str()
        .expect("error");
    assert!(error.contains("overflow"), "{error}");
}

/// A version saved in enforce mode decides the requests pending at the save; an approval
/// never passes the policy's limits (the fixture's tokens never expire, which the default
/// policy refuses).
async fn saving_in_enforce_mode_decides_the_pending_requests(backend: Backend) {
    let app = TestApp::spawn_with(backend, &args("--expiry-interval 0"));
    let reviewer = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    let mut filed = Vec::new();
    for token_id in 9301..9306 {
        let res = file(
            &app,
            &issuer,
            &filing(token_id, &["api"], json!({"contents": "read"}), 30),
        )
        .await;
        res.assert_status(StatusCode::CREATED);
        filed.push(res.id());
    }
    let before = app.pending_ids(&reviewer).await.len();
    save(&app, &reviewer, 0, &body("enforce", SOURCE)).await;
    let pending = retry(
        || app.pending_ids(&reviewer),
        |p: &Vec<i64>| filed.iter().all(|id| !p.contains(id)),
    )
    .await;
    assert!(filed.iter().all(|id| !pending.contains(id)), "{pending:?}");
    assert_eq!(pending.len(), before - filed.len());
    let run = retry(
        || app.get(RULES, &reviewer),
        |r: &Response| r.json["run"].is_null(),
    )
    .await;
    assert!(run.json["run"].is_null(), "{}", run.body);

    // The fixture's read-only requests: approve-read-only matched, the policy kept them
    // pending (their tokens never expire, or have expired).
    let listed = app
        .get(&format!("{REQUESTS_PATH}?per_page=100"), &reviewer)
        .await;
    let read_only: Vec<i64> = listed
        .items()
        .iter()
        .filter(|r| !r["permissions"].to_string().contains("write"))
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    let mut limited = 0;
    for id in read_only {
        let verdict = app.get(&format!("{INTAKE_PATH}/{id}"), &issuer).await;
        let review = &verdict.json["automatic_review"];
        assert_eq!(review["outcome"], "pending", "{}", verdict.body);
        // Those asking for infra were held by people-review-infra instead.
        if review["rules"] == json!(["approve-read-only"]) {
            assert!(
                !review["limits"].as_array().expect("limits").is_empty(),
                "{}",
                verdict.body
            );
            limited += 1;
        } else {
            assert_eq!(
                review["rules"],
                json!(["people-review-infra"]),
                "{}",
                verdict.body
            );
        }
    }
    assert!(limited > 0);
    let approved = app
        .audit(&reviewer, "action=request.approved&per_page=100")
        .await;
    assert_eq!(approved.items().len(), filed.len(), "{}", approved.body);
}

async fn a_dry_run_compares_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let reader = app.token_for(READER).await;
    let issuer = app.token_for(ISSUER).await;
    save(&app, &reviewer, 0, &body("shadow", SOURCE)).await;
    let id = file(
        &app,
        &issuer,
        &filing(9401, &["api"], json!({"contents": "read"}), 30),
    )
    .await
    .id();
    // A grant the candidate would refuse.
    let granted = file(
        &app,
        &issuer,
        &filing(9402, &["api"], json!({"contents": "write"}), 30),
    )
    .await
    .id();
    app.approve(&reviewer, granted).await;

    let candidate = r#"
@id("deny-writes") @reason("No write access.")
permit (principal, action == Action::"deny", resource) when { !resource.read_only };
@id("never") @reason("Matches nothing.")
permit (principal, action == Action::"deny", resource) when { resource.token_name == "no such token" };
"#;
    let audit_before = app.audit(&reviewer, "per_page=100").await.items().len();
    let pending_before = app.pending_ids(&reviewer).await;
    // The read permission suffices for a dry-run.
    let res = app
        .post(
            &format!("{RULES}/dry-run"),
            &reader,
            &json!({"source": candidate}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["current_version"], 1);
    assert_eq!(
        res.json["pending"].as_u64(),
        Some(pending_before.len() as u64)
    );
    let mine = res.json["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["pat_request_id"] == id)
        .expect("the filed request")
        .clone();
    assert_eq!(mine["current"]["outcome"], "approved");
    assert_eq!(mine["candidate"]["outcome"], "pending");
    assert_eq!(mine["changed"], true);
    let refused = res.json["grants_refused"]
        .as_array()
        .expect("grants_refused");
    assert!(
        refused
            .iter()
            .any(|g| g["pat_request_id"] == granted && g["rules"] == json!(["deny-writes"])),
        "{}",
        res.body
    );
    assert!(res.json["unmatched_rules"]
        .as_array()
        .expect("unmatched")
        .contains(&json!("never")));

    // Nothing changed.
    assert_eq!(
        app.audit(&reviewer, "per_page=100").await.items().len(),
        audit_before
    );
    assert_eq!(app.pending_ids(&reviewer).await, pending_before);
    assert_eq!(app.get(RULES, &reviewer).await.json["version"], 1);
}

async fn the_rules_have_their_own_permission_and_stay_in_their_organization(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token_for(READER).await;
    app.get(RULES, &reader).await.assert_status(StatusCode::OK);
    app.get(&format!("{RULES}/schema"), &reader)
        .await
        .assert_status(StatusCode::OK);
    app.put_if_match(RULES, &reader, &body("enforce", SOURCE), Some("\"v0\""))
        .await
        .assert_forbidden("organization_personal_access_token_review_rules=write");
    let bystander = app.token_for(BYSTANDER).await;
    app.get(RULES, &bystander)
        .await
        .assert_forbidden("organization_personal_access_token_review_rules=read");
    let outsider = app.token_for(OUTSIDER).await;
    app.get(RULES, &outsider).await.assert_not_found();
    app.post(
        &format!("{RULES}/dry-run"),
        &outsider,
        &json!({"source": ""}),
    )
    .await
    .assert_not_found();

    let schema = app.get(&format!("{RULES}/schema"), &reader).await;
    assert_eq!(schema.json["format"], "cedar");
    assert!(schema.json["schema"]
        .as_str()
        .expect("schema")
        .contains("entity TokenRequest"));
}

/// Three instances on one PostgreSQL: a save in enforce mode decides each pending request once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_decide_each_pending_request_once() {
    let (dir, url) = TestApp::prepare(Backend::Postgres);
    let instances: Vec<TestApp> = (0..3)
        .map(|_| TestApp::start_with(dir.clone(), url.clone(), &["--expiry-interval", "0"]))
        .collect();
    let app = &instances[0];
    let reviewer = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    let mut filed = Vec::new();
    for token_id in 9501..9531 {
        let res = file(
            app,
            &issuer,
            &filing(token_id, &["api"], json!({"contents": "read"}), 30),
        )
        .await;
        filed.push(res.id());
    }
    save(app, &reviewer, 0, &body("enforce", SOURCE)).await;
    retry(
        || app.pending_ids(&reviewer),
        |p: &Vec<i64>| filed.iter().all(|id| !p.contains(id)),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let approved = app
        .audit(&reviewer, "action=request.approved&per_page=100")
        .await;
    let mut subjects: Vec<i64> = approved
        .items()
        .iter()
        .map(|e| e["subject_id"].as_i64().expect("id"))
        .collect();
    subjects.sort_unstable();
    let mut want = filed.clone();
    want.sort_unstable();
    assert_eq!(subjects, want, "each request approved exactly once");
}

both_backends!(
    versions_are_immutable_and_saved_over_the_one_named_by_if_match,
    invalid_rules_are_refused_with_line_and_column,
    cases_run_on_every_save_and_a_failing_one_refuses_it,
    enforced_rules_decide_each_filing_and_say_why,
    shadow_rules_record_decisions_and_act_on_nothing,
    an_evaluation_error_leaves_the_request_pending,
    saving_in_enforce_mode_decides_the_pending_requests,
    a_dry_run_compares_and_writes_nothing,
    the_rules_have_their_own_permission_and_stay_in_their_organization,
);
