//! Enterprise token policy, as GitHub's "Enforcing policies for personal access tokens in your enterprise" describes it: what the enterprise decides binds its organizations, lifetimes are 1–366 days, administrators may be exempt, and the policy has its own API, permission and audit record.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const ENTERPRISE: &str = "/enterprises/megacorp/personal-access-token-policy";
const POLICY: &str = POLICY_PATH;
const INTAKE: &str = INTAKE_PATH;
/// An app whose installation on acme may change its enterprise's policy.
const ADMIN: &str = "Iv1.entadmin";
/// One that may only read it.
const VIEWER: &str = "Iv1.entviewer";

/// acme in the enterprise megacorp (no policy yet), globex in othercorp; dave owns acme.
fn seed(app: &TestApp) {
    let public = patgate_api::keys::rsa_public_pem(app_private_key()).expect("public key");
    let app_of = |slug: &str, client_id: &str| json!({"slug": slug, "name": slug, "client_id": client_id, "owner": ORG, "public_key_pem": public});
    let seed = json!({
        "enterprises": [{"slug": "megacorp"}, {"slug": "othercorp"}],
        "organizations": [
            {"login": ORG, "enterprise": "megacorp", "owners": ["dave"]},
            {"login": OTHER_ORG, "enterprise": "othercorp"},
        ],
        "apps": [app_of("entadmin", ADMIN), app_of("entviewer", VIEWER)],
        "installations": [
            {"app": "entadmin", "org": ORG, "permissions": {"enterprise_personal_access_token_policy": "write"}},
            {"app": "entviewer", "org": ORG, "permissions": {"enterprise_personal_access_token_policy": "read"}},
        ],
    });
    app.seed("enterprise.json", &seed);
}

/// The fixture with [`seed`]'s enterprises, and the tokens of the enterprise admin, the
/// reviewer and the issuer.
async fn seeded(backend: Backend) -> (TestApp, String, String, String) {
    let app = TestApp::spawn(backend).await;
    seed(&app);
    let admin = app.token_for(ADMIN).await;
    let reviewer = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    (app, admin, reviewer, issuer)
}

/// Sets the policy at `path` to `body`, asserting the 200; the policy answered.
async fn set(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    app.put(path, token, &body)
        .await
        .assert_status(StatusCode::OK)
        .json
        .clone()
}

/// Asserts that setting `body` at `path` is refused with a 422 naming `field`.
async fn refused(app: &TestApp, path: &str, token: &str, body: Value, field: &str) -> Response {
    let res = app.put(path, token, &body).await;
    assert_eq!(
        res.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{body}: {}",
        res.body
    );
    assert_eq!(
        res.json["errors"][0]["field"], field,
        "{body}: {}",
        res.body
    );
    res
}

fn filing(owner: &str, token_id: i64, days: i64) -> Value {
    json!({
        "owner": owner, "token_id": token_id, "token_name": format!("t-{token_id}"),
        "token_expires_at": in_days(days), "repository_selection": "none",
        "permissions": {"organization": {"members": "read"}},
    })
}

async fn the_enterprise_policy_has_its_own_api_and_permission(backend: Backend) {
    let (app, admin, reviewer, _) = seeded(backend).await;
    let viewer = app.token_for(VIEWER).await;

    let res = app.get(ENTERPRISE, &viewer).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["slug"], "megacorp");
    assert_eq!(res.json["organizations_count"], 1);
    assert_eq!(res.json["policy"]["fine_grained_tokens"], Value::Null);
    let res = app
        .get(
            "/enterprises/MegaCorp/personal-access-token-policy",
            &viewer,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "the slug is not case sensitive");
    // Another enterprise, or none, is not found; an installation without the permission is
    // refused and told which one would do.
    for other in ["othercorp", "no-such-enterprise"] {
        let res = app
            .get(
                &format!("/enterprises/{other}/personal-access-token-policy"),
                &admin,
            )
            .await;
        res.assert_not_found();
    }
    let res = app.get(ENTERPRISE, &reviewer).await;
    res.assert_forbidden("enterprise_personal_access_token_policy=read");
    app.put(ENTERPRISE, &viewer, &json!({}))
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Bad settings are 422 naming the setting, and change nothing.
    for (body, field) in [
        (
            json!({"fine_grained_max_lifetime_days": 367}),
            "fine_grained_max_lifetime_days",
        ),
        (
            json!({"classic_max_lifetime_days": 0}),
            "classic_max_lifetime_days",
        ),
        (
            json!({"fine_grained_tokens": "maybe"}),
            "fine_grained_tokens",
        ),
        (json!({"surprise": true}), "surprise"),
    ] {
        refused(&app, ENTERPRISE, &admin, body, field).await;
    }
    let res = app.get(ENTERPRISE, &viewer).await;
    assert_eq!(
        res.json["policy"]["fine_grained_max_lifetime_days"],
        Value::Null
    );

    let policy = set(
        &app,
        ENTERPRISE,
        &admin,
        json!({"fine_grained_max_lifetime_days": 366, "exempt_administrators": true}),
    )
    .await;
    assert_eq!(policy["policy"]["fine_grained_max_lifetime_days"], 366);
    assert_eq!(policy["policy"]["exempt_administrators"], true);
    // Audited in the trail of the organization it binds, with the app that changed it.
    let audit = app
        .audit(&reviewer, "action=enterprise_policy.updated")
        .await;
    let events = audit.items();
    assert_eq!(events.len(), 1, "{}", audit.body);
    assert_eq!(events[0]["subject_type"], "enterprise_policy");
    assert!(events[0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("\"exempt_administrators\":true")));
    // globex's trail does not show megacorp's change.
    let outsider = app.token_for(OUTSIDER).await;
    let theirs = app
        .get(
            "/orgs/globex/personal-access-token-audit-log?action=enterprise_policy.updated",
            &outsider,
        )
        .await;
    assert_eq!(theirs.json, json!([]), "{}", theirs.body);
}

async fn what_the_enterprise_decides_binds_its_organizations(backend: Backend) {
    let (app, admin, reviewer, issuer) = seeded(backend).await;

    // Left to the organization, it decides: approval off.
    set(
        &app,
        POLICY,
        &reviewer,
        json!({"fine_grained_approval": "not_required"}),
    )
    .await;
    let res = app.post(INTAKE, &issuer, &filing("alice", 7001, 30)).await;
    assert_eq!(res.json["status"], "approved", "{}", res.body);

    // The enterprise requires approval and allows fine-grained tokens: both bind, over the
    // organization's own setting stored before.
    set(
        &app,
        ENTERPRISE,
        &admin,
        json!({"fine_grained_approval": "required", "fine_grained_tokens": "allowed"}),
    )
    .await;
    let policy = app.get(POLICY, &reviewer).await;
    assert_eq!(
        policy.json["organization"]["fine_grained_approval"],
        "not_required"
    );
    assert_eq!(
        policy.json["effective"]["fine_grained_approval"],
        "required"
    );
    let res = app.post(INTAKE, &issuer, &filing("alice", 7002, 30)).await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["status"], "pending");
    // The organization can neither restrict what the enterprise allows nor turn off the
    // approval it requires; the 422 names the setting and the rule.
    for (body, field) in [
        (
            json!({"fine_grained_tokens": "restricted"}),
            "fine_grained_tokens",
        ),
        (
            json!({"fine_grained_approval": "not_required"}),
            "fine_grained_approval",
        ),
    ] {
        let res = refused(&app, POLICY, &reviewer, body, field).await;
        let message = res.error_message();
        assert!(
            message.contains("organizations cannot override"),
            "{message}"
        );
    }
    // "Disable approval" binds too: the organization cannot require it.
    set(
        &app,
        ENTERPRISE,
        &admin,
        json!({"fine_grained_approval": "not_required"}),
    )
    .await;
    app.put(
        POLICY,
        &reviewer,
        &json!({"fine_grained_approval": "required"}),
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.post(INTAKE, &issuer, &filing("bob", 7003, 30)).await;
    assert_eq!(res.json["status"], "approved", "{}", res.body);
    // "Allow organizations to configure" (null) gives the choice back.
    set(&app, ENTERPRISE, &admin, json!({})).await;
    let policy = set(
        &app,
        POLICY,
        &reviewer,
        json!({"fine_grained_tokens": "restricted"}),
    )
    .await;
    assert_eq!(policy["effective"]["fine_grained_tokens"], "restricted");
}

async fn exempt_administrators_lets_owners_tokens_past_the_lifetime(backend: Backend) {
    let (app, admin, reviewer, issuer) = seeded(backend).await;
    let limit = json!({"fine_grained_max_lifetime_days": 30, "exempt_administrators": true});
    set(&app, ENTERPRISE, &admin, limit).await;
    // dave owns acme: his 100-day token passes; alice's does not.
    app.file_as(&issuer, &filing("dave", 7101, 100), StatusCode::CREATED)
        .await;
    let res = app.post(INTAKE, &issuer, &filing("alice", 7102, 100)).await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let message = res.error_message();
    assert!(
        message.contains("enterprise policy's maximum of 30 days"),
        "{message}"
    );
    // The organization cannot take back what the enterprise decided.
    app.put(POLICY, &reviewer, &json!({"exempt_administrators": false}))
        .await
        .assert_invalid_field("exempt_administrators");
    // Without the exemption, the owner's token is held to the limit like any other.
    set(
        &app,
        ENTERPRISE,
        &admin,
        json!({"fine_grained_max_lifetime_days": 30}),
    )
    .await;
    app.post(INTAKE, &issuer, &filing("dave", 7103, 100))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let policy = app.get(POLICY, &reviewer).await;
    assert_eq!(policy.json["effective"]["exempt_administrators"], false);
}

both_backends!(
    the_enterprise_policy_has_its_own_api_and_permission,
    what_the_enterprise_decides_binds_its_organizations,
    exempt_administrators_lets_owners_tokens_past_the_lifetime,
);
