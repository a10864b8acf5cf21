//! The token lifecycle: intake from the issuer, policy (with an enterprise above), the access check, resubmission, withdrawal, expiry and the audit trail.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const USAGE: &str = "/orgs/acme/personal-access-token-intake/usage";
const PAT_REQUESTS: &str = REQUESTS_PATH;
const GRANTS: &str = GRANTS_PATH;
const POLICY: &str = POLICY_PATH;
const CHECK: &str = CHECK_PATH;
const AUDIT: &str = AUDIT_PATH;

/// A filing for token `token_id` of `zed`, valid 30 days, asking contents:read on `api`.
fn filing(token_id: i64) -> Value {
    let permissions = json!({"repository": {"contents": "read", "metadata": "read"}});
    let mut filing = zed_filing(token_id, "subset", &["api"], permissions);
    filing["reason"] = json!("deploys");
    filing
}

struct Actors {
    issuer: String,
    reviewer: String,
}

async fn actors(app: &TestApp) -> Actors {
    Actors {
        issuer: app.token_for(ISSUER).await,
        reviewer: app.token_for(REVIEWER).await,
    }
}

async fn check(app: &TestApp, token: &str, body: Value) -> Value {
    app.post(CHECK, token, &body)
        .await
        .assert_status(StatusCode::OK)
        .json
        .clone()
}

/// The access check of `token_id` for `level` on `contents` of `repository`.
async fn check_contents(
    app: &TestApp,
    token: &str,
    token_id: i64,
    level: &str,
    repository: &str,
) -> Value {
    let question = json!({"token_id": token_id, "permission": "contents", "level": level, "repository": repository});
    check(app, token, question).await
}

async fn reason(app: &TestApp, token: &str, token_id: i64) -> String {
    let answer = check_contents(app, token, token_id, "read", "api").await;
    answer["reason"].as_str().expect("reason").to_owned()
}

/// Sets `acme`'s policy as the reviewer, asserting the 200; the policy answered.
async fn set_policy(app: &TestApp, a: &Actors, policy: Value) -> Value {
    app.put(POLICY, &a.reviewer, &policy)
        .await
        .assert_status(StatusCode::OK)
        .json
        .clone()
}

/// Files `body` as the issuer; the answer.
async fn file(app: &TestApp, a: &Actors, body: &Value) -> Response {
    app.post(INTAKE_PATH, &a.issuer, body).await
}

/// The pending requests of `acme` that `query` selects, as the reviewer sees them.
async fn listed(app: &TestApp, a: &Actors, query: &str) -> Response {
    app.get(&format!("{PAT_REQUESTS}?{query}"), &a.reviewer)
        .await
}

/// The active grants of `token_id`.
async fn grants_of(app: &TestApp, a: &Actors, token_id: i64) -> Response {
    app.get(&format!("{GRANTS}?token_id={token_id}"), &a.reviewer)
        .await
}

/// Asserts a 422 whose first error's message contains `part`.
fn assert_refused_with(res: &Response, part: &str) {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.error_message().contains(part), "{}", res.body);
}

/// Waits until the expiry sweeps leave only the fixture's unexpired tokens' requests pending.
async fn until_expired_tokens_lose_their_requests(app: &TestApp, reviewer: &str) -> usize {
    let want = (0..REQUESTS).filter(|i| i % 6 != 5).count();
    let pending = retry(|| app.pending_ids(reviewer), |p| p.len() == want).await;
    assert_eq!(pending.len(), want);
    want
}

async fn an_issuers_request_is_reviewed_and_then_governs_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    assert_eq!(reason(&app, &a.reviewer, 9001).await, "no_grant");
    let res = file(&app, &a, &filing(9001)).await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["status"], "pending");
    let id = res.id();
    // Reviewers see it, with the issuer's reason.
    let listed = listed(&app, &a, "token_id=9001").await;
    assert_eq!(ids(&listed.json), vec![id]);
    assert_eq!(listed.json[0]["owner"]["login"], "zed");
    assert_eq!(listed.json[0]["reason"], "deploys");
    assert_eq!(reason(&app, &a.reviewer, 9001).await, "pending");
    // Approval makes a grant the access check allows, for what was asked only.
    app.approve(&a.reviewer, id).await;
    let verdict = app.get(&format!("{INTAKE_PATH}/{id}"), &a.issuer).await;
    assert_eq!(verdict.json["status"], "approved", "{}", verdict.body);
    let grant_id = verdict.json["grant_id"].as_i64().expect("grant");
    let allowed = check_contents(&app, &a.reviewer, 9001, "read", "api").await;
    assert_eq!(allowed["allowed"], true);
    assert_eq!(allowed["grant_id"], grant_id);
    let write = check_contents(&app, &a.reviewer, 9001, "write", "api").await;
    assert_eq!(
        (write["allowed"].clone(), write["reason"].clone()),
        (json!(false), json!("permission_not_granted"))
    );
    let other = check_contents(&app, &a.reviewer, 9001, "read", "web").await;
    assert_eq!(other["reason"], "repository_not_granted");
    // Revocation refuses it at once.
    app.revoke(&a.reviewer, grant_id, None).await;
    assert_eq!(reason(&app, &a.reviewer, 9001).await, "revoked");
    // Filing again after the revocation: the new pending request is what the check reports.
    app.file_as(&a.issuer, &filing(9001), StatusCode::CREATED)
        .await;
    assert_eq!(reason(&app, &a.reviewer, 9001).await, "pending");
    // A regenerated token keeps its name under a new id: a request of its own.
    let mut regenerated = filing(9101);
    regenerated["token_name"] = json!("zed-9001");
    app.file_as(&a.issuer, &regenerated, StatusCode::CREATED)
        .await;
    // The access check needs its permission, and validates its input.
    app.post(
        CHECK,
        &a.issuer,
        &json!({"token_id": 9001, "permission": "contents", "level": "read"}),
    )
    .await
    .assert_not_accessible();
    let res = app
        .post(
            CHECK,
            &a.reviewer,
            &json!({"token_id": 9001, "permission": "contents", "level": "sudo"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
}

async fn a_denial_reaches_the_issuer_with_its_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let id = file(&app, &a, &filing(9002)).await.id();
    app.review(
        &a.reviewer,
        id,
        &json!({"action": "deny", "reason": "Use the deploy bot"}),
    )
    .await;
    let verdict = app.get(&format!("{INTAKE_PATH}/{id}"), &a.issuer).await;
    assert_eq!(verdict.json["status"], "denied");
    assert_eq!(verdict.json["review_reason"], "Use the deploy bot");
    assert!(verdict.json["grant_id"].is_null());
    assert_eq!(reason(&app, &a.reviewer, 9002).await, "denied");
    // Another organization's issuer cannot read it.
    let outsider = app.token_for(OUTSIDER).await;
    let res = app.get(&format!("{INTAKE_PATH}/{id}"), &outsider).await;
    res.assert_not_found();
}

async fn a_resubmission_asking_for_more_replaces_the_pending_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let id = file(&app, &a, &filing(9003)).await.id();
    // The same filing again changes nothing.
    let again = app.file_as(&a.issuer, &filing(9003), StatusCode::OK).await;
    assert_eq!(again, id);
    // Asking for more replaces the pending request in place.
    let mut more = filing(9003);
    more["permissions"]["repository"]["issues"] = json!("write");
    let res = file(&app, &a, &more).await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["id"], id);
    assert_eq!(
        res.json["permissions_result"]["repository"]["issues"],
        "write"
    );
    let pending = listed(&app, &a, "token_id=9003").await;
    assert_eq!(ids(&pending.json), vec![id]);
    assert_eq!(
        pending.json[0]["permissions"]["repository"]["issues"],
        "write"
    );
    // Once approved, asking for more files a new request that says what it adds and
    // upgrades; approving it replaces the grant rather than adding a second one.
    app.approve(&a.reviewer, id).await;
    let mut beyond = more.clone();
    beyond["permissions"]["repository"]["contents"] = json!("write");
    beyond["permissions"]["organization"] = json!({"members": "read"});
    let res = file(&app, &a, &beyond).await;
    res.assert_status(StatusCode::CREATED);
    let second = res.id();
    assert_ne!(second, id);
    assert_eq!(
        res.json["permissions_added"],
        json!({"organization": {"members": "read"}})
    );
    assert_eq!(
        res.json["permissions_upgraded"],
        json!({"repository": {"contents": "write"}})
    );
    // Until then the old grant still applies.
    assert_eq!(reason(&app, &a.reviewer, 9003).await, "granted");
    app.approve(&a.reviewer, second).await;
    let grants = grants_of(&app, &a, 9003).await;
    assert_eq!(grants.items().len(), 1, "{}", grants.body);
    assert_eq!(
        grants.json[0]["permissions"]["repository"]["contents"],
        "write"
    );
    // Asking for no more than the grant holds is already granted.
    let res = file(&app, &a, &filing(9003)).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["status"], "approved");
}

async fn withdrawing_cancels_a_pending_request_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let id = file(&app, &a, &filing(9004)).await.id();
    let path = format!("{INTAKE_PATH}/{id}");
    app.delete(&path, &a.issuer)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let res = app.delete(&path, &a.issuer).await;
    res.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "This request is cancelled",
    );
    assert_eq!(app.get(&path, &a.issuer).await.json["status"], "cancelled");
    assert_eq!(reason(&app, &a.reviewer, 9004).await, "cancelled");
    assert!(listed(&app, &a, "token_id=9004").await.items().is_empty());
    // A cancelled request cannot be reviewed, and an unknown one cannot be withdrawn.
    let res = app
        .post(
            &format!("{PAT_REQUESTS}/{id}"),
            &a.reviewer,
            &json!({"action": "approve"}),
        )
        .await;
    res.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "This request is cancelled",
    );
    app.delete(&format!("{INTAKE_PATH}/999999"), &a.issuer)
        .await
        .assert_not_found();
    // Reviewers cannot file or withdraw: that is the issuer's permission.
    let res = app.post(INTAKE_PATH, &a.reviewer, &filing(9005)).await;
    res.assert_forbidden("organization_personal_access_token_intake=write");
}

async fn reported_last_use_feeds_the_lists_and_never_moves_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    file(&app, &a, &filing(9006)).await;
    for at in ["2026-03-01T10:00:00Z", "2026-02-01T10:00:00Z"] {
        app.post(
            USAGE,
            &a.issuer,
            &json!({"token_id": 9006, "last_used_at": at}),
        )
        .await
        .assert_status(StatusCode::NO_CONTENT);
    }
    let listed_now = listed(&app, &a, "token_id=9006").await;
    assert_eq!(
        listed_now.json[0]["token_last_used_at"],
        "2026-03-01T10:00:00Z"
    );
    let after = listed(
        &app,
        &a,
        "last_used_after=2026-02-15T00:00:00Z&token_id=9006",
    )
    .await;
    assert_eq!(after.items().len(), 1);
    app.post(USAGE, &a.issuer, &json!({"token_id": 123456}))
        .await
        .assert_not_found();
    app.post(
        USAGE,
        &a.issuer,
        &json!({"token_id": 9006, "last_used_at": "yesterday"}),
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
}

async fn invalid_filings_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let cases = [
        ("owner", json!("not a login")),
        ("token_id", json!(0)),
        ("token_name", json!("")),
        ("token_expires_at", json!("soon")),
        ("repository_selection", json!("some")),
        ("repositories", json!(["no-such-repo"])),
        ("repositories", json!([])),
        ("permissions", json!({"repository": {"contents": "sudo"}})),
        ("reason", json!("x".repeat(1025))),
        ("surprise", json!(true)),
    ];
    for (field, value) in cases {
        let mut body = filing(9007);
        body[field] = value;
        let res = file(&app, &a, &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            res.body
        );
    }
    // The token belongs to its first owner.
    file(&app, &a, &filing(9007)).await;
    let mut stolen = filing(9007);
    stolen["owner"] = json!("alice");
    file(&app, &a, &stolen)
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let listed = listed(&app, &a, "token_id=9007").await;
    assert_eq!(listed.items().len(), 1);
    assert_eq!(listed.json[0]["owner"]["login"], "zed");
}

async fn the_organization_policy_decides_what_a_filing_becomes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let res = app.get(POLICY, &a.reviewer).await;
    assert_eq!(
        res.json["effective"],
        json!({
            "fine_grained_tokens": "allowed", "fine_grained_approval": "required",
            "classic_tokens": "allowed", "fine_grained_max_lifetime_days": 366, "classic_max_lifetime_days": null,
            "exempt_administrators": false,
        })
    );
    assert!(res.json["enterprise"].is_null());
    // A token that never expires exceeds the default maximum lifetime.
    let mut forever = filing(9009);
    forever["token_expires_at"] = Value::Null;
    let res = file(&app, &a, &forever).await;
    assert_refused_with(&res, "default policy's maximum lifetime of 366 days");
    // A pending request filed before the policy changes stays pending and reviewable.
    let before = file(&app, &a, &filing(9010)).await.id();

    // Approval not required: granted at once, and the access check allows it.
    set_policy(&app, &a, json!({"fine_grained_approval": "not_required"})).await;
    let res = file(&app, &a, &filing(9011)).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["status"], "approved");
    assert!(res.json["grant_id"].is_i64());
    assert_eq!(reason(&app, &a.reviewer, 9011).await, "granted");

    // Lifetime: at most 30 days, and a token must expire.
    set_policy(&app, &a, json!({"fine_grained_max_lifetime_days": 30})).await;
    let mut long = filing(9012);
    long["token_expires_at"] = json!(in_days(60));
    let res = file(&app, &a, &long).await;
    assert_refused_with(&res, "organization policy's maximum of 30 days");
    long["token_expires_at"] = Value::Null;
    let res = file(&app, &a, &long).await;
    assert!(
        res.error_message().contains("without an expiry"),
        "{}",
        res.body
    );
    // The grant of 9011 (30 days, within the new limit) still applies.
    assert_eq!(reason(&app, &a.reviewer, 9011).await, "granted");

    // Restricted: refused, and existing grants are blocked (not revoked) until lifted.
    set_policy(&app, &a, json!({"fine_grained_tokens": "restricted"})).await;
    let res = file(&app, &a, &filing(9013)).await;
    assert_refused_with(&res, "restricted by the organization policy");
    let blocked = check_contents(&app, &a.reviewer, 9011, "read", "api").await;
    assert_eq!(blocked["reason"], "policy");
    assert!(blocked["message"]
        .as_str()
        .expect("message")
        .contains("organization policy"));
    assert_eq!(grants_of(&app, &a, 9011).await.items().len(), 1);
    set_policy(&app, &a, json!({})).await;
    assert_eq!(reason(&app, &a.reviewer, 9011).await, "granted");

    // History is not rewritten: the early request is still pending and can be approved.
    assert!(app.pending_ids(&a.reviewer).await.contains(&before));
    app.approve(&a.reviewer, before).await;
    // Every change is in the audit trail.
    let audit = app
        .audit(&a.reviewer, "action=policy.updated&per_page=100")
        .await;
    assert_eq!(audit.items().len(), 4, "{}", audit.body);

    // Bad settings change nothing; reading and writing the policy need their permission.
    for bad in [
        json!({"fine_grained_max_lifetime_days": 0}),
        json!({"classic_tokens": "maybe"}),
        json!({"surprise": 1}),
    ] {
        let res = app.put(POLICY, &a.reviewer, &bad).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            res.body
        );
    }
    let reader = app.token_for(READER).await;
    let res = app.get(POLICY, &reader).await;
    res.assert_forbidden("organization_administration=read");
}

async fn an_enterprise_policy_bounds_its_organizations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let seed = json!({
        "enterprises": [{"slug": "megacorp", "policy": {
            "fine_grained_approval": "required", "classic_tokens": "restricted", "fine_grained_max_lifetime_days": 90,
        }}],
        "organizations": [{"login": ORG, "enterprise": "megacorp"}],
    });
    app.seed("enterprise.json", &seed);

    let res = app.get(POLICY, &a.reviewer).await;
    assert_eq!(res.json["enterprise"]["slug"], "megacorp");
    assert_eq!(res.json["effective"]["fine_grained_max_lifetime_days"], 90);
    assert_eq!(res.json["effective"]["classic_tokens"], "restricted");
    // The organization cannot loosen what the enterprise set.
    for (loosening, field) in [
        (
            json!({"fine_grained_approval": "not_required"}),
            "fine_grained_approval",
        ),
        (json!({"classic_tokens": "allowed"}), "classic_tokens"),
        (
            json!({"fine_grained_max_lifetime_days": 120}),
            "fine_grained_max_lifetime_days",
        ),
    ] {
        let res = app.put(POLICY, &a.reviewer, &loosening).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{loosening}: {}",
            res.body
        );
        assert_eq!(res.json["errors"][0]["field"], field);
        assert!(res.error_message().contains("enterprise"));
    }
    // The enterprise's maximum applies, named as the enterprise's.
    let mut long = filing(9020);
    long["token_expires_at"] = json!(in_days(100));
    let res = file(&app, &a, &long).await;
    assert_refused_with(&res, "enterprise policy's maximum of 90 days");
    // It may tighten: 30 days within the enterprise's 90.
    let res = set_policy(&app, &a, json!({"fine_grained_max_lifetime_days": 30})).await;
    assert_eq!(res["effective"]["fine_grained_max_lifetime_days"], 30);
    // Seeding again does not undo the change made over the API.
    app.seed("enterprise.json", &seed);
    let res = app.get(POLICY, &a.reviewer).await;
    assert_eq!(res.json["effective"]["fine_grained_max_lifetime_days"], 30);
    assert_eq!(
        res.json["enterprise"]["policy"]["fine_grained_max_lifetime_days"],
        90
    );

    // Organizations inherit the enterprise's restriction when they set nothing themselves.
    app.seed(
        "opt-out.json",
        &json!({"enterprises": [{"slug": "lockdown", "policy": {"fine_grained_tokens": "restricted"}}],
            "organizations": [{"login": OTHER_ORG, "enterprise": "lockdown"}]}),
    );
    let outsider = app.token_for(OUTSIDER).await;
    let res = app
        .get("/orgs/globex/personal-access-token-policy", &outsider)
        .await;
    res.assert_status(StatusCode::OK);
    assert!(res.json["organization"]["fine_grained_tokens"].is_null());
    assert_eq!(res.json["effective"]["fine_grained_tokens"], "restricted");
}

async fn expired_tokens_expire_their_requests_and_grants_on_their_own(backend: Backend) {
    let app = TestApp::spawn_with(backend, &["--expiry-interval", "1"]);
    let a = actors(&app).await;
    // The fixture's tokens that expired in 2025 lose their pending requests.
    let want = until_expired_tokens_lose_their_requests(&app, &a.reviewer).await;
    let audit = app
        .audit(&a.reviewer, "action=request.expired&per_page=100")
        .await;
    let events = audit.items();
    assert_eq!(
        events.len(),
        REQUESTS - want,
        "each expired exactly once: {}",
        audit.body
    );
    assert!(events.iter().all(|e| e["actor"].is_null()));
    // A grant whose token expires goes too, and the access check says so.
    set_policy(&app, &a, json!({"fine_grained_approval": "not_required"})).await;
    let mut brief = filing(9030);
    brief["token_expires_at"] = json!(in_seconds(2));
    let res = file(&app, &a, &brief).await;
    assert_eq!(res.json["status"], "approved", "{}", res.body);
    let grant = res.json["grant_id"].as_i64().expect("grant");
    let active = retry(
        || async { ids(&app.get(GRANTS, &a.reviewer).await.json) },
        |active| !active.contains(&grant),
    )
    .await;
    assert!(!active.contains(&grant), "grant {grant} did not expire");
    assert_eq!(reason(&app, &a.reviewer, 9030).await, "expired");
    let audit = app
        .audit(
            &a.reviewer,
            &format!("action=grant.expired&subject_id={grant}"),
        )
        .await;
    assert_eq!(audit.items().len(), 1);
}

async fn unreviewed_requests_expire_after_the_configured_days(backend: Backend) {
    // The fixture's requests were filed in January 2026, long before one day ago.
    let app = TestApp::spawn_with(
        backend,
        &["--expiry-interval", "1", "--pending-request-ttl-days", "1"],
    );
    let a = actors(&app).await;
    let left = retry(|| app.pending_ids(&a.reviewer), Vec::is_empty).await;
    assert_eq!(left.len(), 0);
    // A fresh filing is not affected.
    let id = file(&app, &a, &filing(9040)).await.id();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.pending_ids(&a.reviewer).await, vec![id]);
}

async fn approving_a_resubmission_while_revoking_its_grant_leaves_one_outcome(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let first = file(&app, &a, &filing(9050)).await.id();
    app.approve(&a.reviewer, first).await;
    let grant = ids(&grants_of(&app, &a, 9050).await.json)[0];
    let mut more = filing(9050);
    more["permissions"]["repository"]["issues"] = json!("read");
    let second = file(&app, &a, &more).await.id();
    let approve = json!({"action": "approve"});
    let revoke = json!({"action": "revoke"});
    let (approve_path, revoke_path) = (
        format!("{PAT_REQUESTS}/{second}"),
        format!("{GRANTS}/{grant}"),
    );
    let (approved, revoked) = tokio::join!(
        app.post(&approve_path, &a.reviewer, &approve),
        app.post(&revoke_path, &a.reviewer, &revoke),
    );
    assert_eq!(approved.status, StatusCode::NO_CONTENT, "{}", approved.body);
    // The revocation either came first (204) or found the grant already superseded (422).
    assert!(
        matches!(revoked.status.as_u16(), 204 | 422),
        "{}",
        revoked.body
    );
    let active = grants_of(&app, &a, 9050).await;
    assert_eq!(
        active.items().len(),
        1,
        "exactly one active grant: {}",
        active.body
    );
    assert_ne!(active.json[0]["id"], grant);
}

async fn the_audit_trail_records_every_change_with_its_actor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let id = file(&app, &a, &filing(9060)).await.id();
    app.review(&a.reviewer, id, &json!({"action": "deny", "reason": "no"}))
        .await;
    let res = app
        .audit(
            &a.reviewer,
            &format!("subject_type=request&subject_id={id}"),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        actions(&res.json),
        vec!["request.denied", "request.created"]
    );
    let issuer_installation = app.installation_id(ISSUER).await;
    let reviewer_installation = app.installation_id(REVIEWER).await;
    assert_eq!(
        res.json[0]["actor"]["installation_id"],
        reviewer_installation
    );
    assert_eq!(res.json[0]["reason"], "no");
    assert_eq!(res.json[1]["actor"]["installation_id"], issuer_installation);
    let all = app.audit(&a.reviewer, "per_page=1").await;
    assert!(all
        .header("link")
        .is_some_and(|l| l.contains("rel=\"next\"")));
    let res = app.audit(&a.reviewer, "after=yesterday").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let outsider = app.token_for(OUTSIDER).await;
    app.get(AUDIT, &outsider).await.assert_not_found();
}

async fn classic_tokens_are_judged_by_the_policy_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let classic = |created: i64, expires: Option<i64>| {
        json!({
            "token_kind": "classic", "token_id": 1, "permission": "contents", "level": "read",
            "token_created_at": in_days(created),
            "token_expires_at": expires.map(in_days),
        })
    };
    let answer = check(&app, &a.reviewer, classic(-1, None)).await;
    assert_eq!(
        (answer["allowed"].clone(), answer["reason"].clone()),
        (json!(true), json!("classic_allowed"))
    );
    set_policy(&app, &a, json!({"classic_tokens": "restricted"})).await;
    let answer = check(&app, &a.reviewer, classic(-1, None)).await;
    assert_eq!(answer["reason"], "policy");
    assert!(answer["message"]
        .as_str()
        .expect("message")
        .contains("(classic) are restricted by the organization policy"));
    set_policy(&app, &a, json!({"classic_max_lifetime_days": 30})).await;
    assert_eq!(
        check(&app, &a.reviewer, classic(-1, Some(10))).await["reason"],
        "classic_allowed"
    );
    assert_eq!(
        check(&app, &a.reviewer, classic(-1, None)).await["reason"],
        "policy"
    );
    assert_eq!(
        check(&app, &a.reviewer, classic(-60, Some(10))).await["reason"],
        "policy"
    );
    assert_eq!(
        check(&app, &a.reviewer, classic(-60, Some(-1))).await["reason"],
        "expired"
    );
    let mut missing = classic(-1, None);
    missing["token_created_at"] = Value::Null;
    app.post(CHECK, &a.reviewer, &missing)
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
}

/// Three instances sweep one PostgreSQL database at once: every due request expires once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_instances_on_one_postgres_expire_each_request_exactly_once() {
    let (dir, url) = TestApp::prepare(Backend::Postgres);
    let instances: Vec<TestApp> = (0..3)
        .map(|_| TestApp::start_with(dir.clone(), url.clone(), &["--expiry-interval", "1"]))
        .collect();
    let app = &instances[0];
    let reviewer = app.token_for(REVIEWER).await;
    let want = until_expired_tokens_lose_their_requests(app, &reviewer).await;
    // Let every instance sweep a few more times, then count.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let audit = app
        .audit(&reviewer, "action=request.expired&per_page=100")
        .await;
    let events = audit.items();
    assert_eq!(events.len(), REQUESTS - want);
    let mut subjects: Vec<i64> = events
        .iter()
        .map(|e| e["subject_id"].as_i64().expect("id"))
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    assert_eq!(subjects.len(), events.len(), "no request expired twice");
}

/// Filings for an owner patgate has not seen, made at the same moment, each create their
/// request: the owner is created once, and no filing fails on it.
async fn concurrent_filings_by_a_new_owner_all_succeed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = actors(&app).await;
    let mut first = filing(9500);
    first["owner"] = json!("newcomer");
    let filings = (9500..9512).map(|token| {
        let mut body = first.clone();
        body["token_id"] = json!(token);
        body["token_name"] = json!(format!("newcomer-{token}"));
        let (app, issuer) = (&app, &a.issuer);
        async move { app.post(INTAKE_PATH, issuer, &body).await }
    });
    for res in futures_util::future::join_all(filings).await {
        res.assert_status(StatusCode::CREATED);
    }
    let listed = listed(&app, &a, "owner=newcomer&per_page=100").await;
    assert_eq!(ids(&listed.json).len(), 12, "{}", listed.body);
}

both_backends!(
    concurrent_filings_by_a_new_owner_all_succeed,
    classic_tokens_are_judged_by_the_policy_alone,
    an_issuers_request_is_reviewed_and_then_governs_access,
    a_denial_reaches_the_issuer_with_its_reason,
    a_resubmission_asking_for_more_replaces_the_pending_request,
    withdrawing_cancels_a_pending_request_only,
    reported_last_use_feeds_the_lists_and_never_moves_back,
    invalid_filings_are_refused_and_change_nothing,
    the_organization_policy_decides_what_a_filing_becomes,
    an_enterprise_policy_bounds_its_organizations,
    expired_tokens_expire_their_requests_and_grants_on_their_own,
    unreviewed_requests_expire_after_the_configured_days,
    approving_a_resubmission_while_revoking_its_grant_leaves_one_outcome,
    the_audit_trail_records_every_change_with_its_actor,
);
