//! Ending installation tokens before their hour is up: revocation, suspension, expiry after a cache hit, the root route's optional credential, and how soon other instances follow.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = REQUESTS_PATH;
const AUDIT: &str = AUDIT_PATH;
const SUSPENDED: &str = "This installation has been suspended";
/// How long another instance may take to follow a change: the poll interval (200 ms), with
/// room for a slow test machine.
const PROPAGATION_BOUND: Duration = Duration::from_secs(2);

async fn revoke(app: &TestApp, token: &str) -> Response {
    app.delete("/installation/token", token).await
}

/// `PUT` (suspend) or `DELETE` (unsuspend) with `token` (the app's JWT, or not).
async fn suspend_as(app: &TestApp, method: Method, token: &str, installation: i64) -> Response {
    app.call(
        method,
        &format!("/app/installations/{installation}/suspended"),
        token,
        None,
    )
    .await
}

/// `PUT` (suspend) or `DELETE` (unsuspend) with the JWT of the app `client_id`.
async fn suspension(app: &TestApp, method: Method, client_id: &str, installation: i64) -> Response {
    suspend_as(app, method, &app_jwt(client_id), installation).await
}

/// Asserts that `path` answers 200 to `token`.
async fn assert_ok(app: &TestApp, path: &str, token: &str) {
    app.get(path, token).await.assert_status(StatusCode::OK);
}

/// Asserts that `token` is a bad credential to `app` at `path`.
async fn assert_bad_credentials(app: &TestApp, path: &str, token: &str) {
    app.get(path, token)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
}

/// Asks until `path` answers `status` to `token`; how long that took. Fails past the bound.
async fn until_status(app: &TestApp, path: &str, token: &str, status: StatusCode) -> Duration {
    let every = Duration::from_millis(20);
    until_answer(app, path, token, PROPAGATION_BOUND, every, |res| {
        res.status == status
    })
    .await
}

fn assert_no_content(res: &Response) {
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert!(res.body.is_empty(), "{}", res.body);
}

async fn a_revoked_token_is_refused_at_once_while_the_installations_others_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let revoked = app.token_for(REVIEWER).await;
    let kept = app.token_for(REVIEWER).await;
    assert_ne!(revoked, kept);
    for token in [&revoked, &kept] {
        assert_ok(&app, LIST, token).await;
    }
    assert_no_content(&revoke(&app, &revoked).await);
    for path in [LIST, "/"] {
        assert_bad_credentials(&app, path, &revoked).await;
    }
    revoke(&app, &revoked)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    assert_ok(&app, LIST, &kept).await;

    // An instance started afterwards refuses it from its first request.
    let later = TestApp::start(app.dir.clone(), app.database_url.clone());
    assert_bad_credentials(&later, LIST, &revoked).await;
    assert_ok(&later, LIST, &kept).await;
}

async fn an_expired_token_is_refused_even_after_a_cache_hit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let real = app.token_for(REVIEWER).await;
    let keys = app.server_keys();
    let mut claims = keys.verify(&real[4..]).expect("own token verifies");
    claims.exp = now() + 3;
    claims.jti = "short-lived".to_owned();
    let exp = claims.exp;
    let short = keys.issue(claims).expect("issue");
    // Verified, then found in the cache.
    for _ in 0..2 {
        assert_ok(&app, LIST, &short).await;
    }
    while now() < exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [LIST, "/"] {
        assert_bad_credentials(&app, path, &short).await;
    }
    assert_ok(&app, LIST, &real).await;
}

async fn a_suspended_installations_tokens_are_refused_at_once_and_restored_on_unsuspend(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let installation = app.installation_id(REVIEWER).await;
    let token = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    assert_ok(&app, LIST, &token).await;

    assert_no_content(&suspension(&app, Method::PUT, REVIEWER, installation).await);
    for path in [LIST, "/"] {
        app.get(path, &token)
            .await
            .assert_error(StatusCode::FORBIDDEN, SUSPENDED);
    }
    app.exchange(installation, &app_jwt(REVIEWER), &serde_json::json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, SUSPENDED);
    let shown_path = format!("/app/installations/{installation}");
    let res = app.get(&shown_path, &app_jwt(REVIEWER)).await;
    assert!(res.json["suspended_at"].is_string(), "{}", res.body);
    // Suspending again changes nothing; another installation is not affected.
    assert_no_content(&suspension(&app, Method::PUT, REVIEWER, installation).await);
    assert_ok(&app, "/", &issuer).await;

    assert_no_content(&suspension(&app, Method::DELETE, REVIEWER, installation).await);
    assert_ok(&app, LIST, &token).await;
    assert_no_content(&suspension(&app, Method::DELETE, REVIEWER, installation).await);
    let res = app.get(&shown_path, &app_jwt(REVIEWER)).await;
    assert!(res.json["suspended_at"].is_null(), "{}", res.body);

    // Each real change is in the organization's audit trail, with the app as actor.
    let app_id = app.get("/app", &app_jwt(REVIEWER)).await.json["id"].clone();
    let res = app
        .get(&format!("{AUDIT}?subject_type=installation"), &token)
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(
        actions(&res.json),
        ["installation.unsuspended", "installation.suspended"]
    );
    for event in res.items() {
        assert_eq!(event["subject_id"], installation);
        assert_eq!(event["actor"]["app_id"], app_id);
        assert!(event["actor"]["installation_id"].is_null(), "{event}");
    }
}

async fn another_apps_installation_cannot_be_suspended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let theirs = app.installation_id(OUTSIDER).await;
    for method in [Method::PUT, Method::DELETE] {
        for installation in [theirs, 999_999] {
            suspension(&app, method.clone(), REVIEWER, installation)
                .await
                .assert_not_found();
        }
    }
    // An installation token is the wrong credential for it.
    let token = app.token_for(REVIEWER).await;
    let own = app.installation_id(REVIEWER).await;
    suspend_as(&app, Method::PUT, &token, own)
        .await
        .assert_error(
            StatusCode::FORBIDDEN,
            "This endpoint requires the app's JWT, not an installation access token",
        );
    let outsider = app.token_for(OUTSIDER).await;
    assert_ok(
        &app,
        "/orgs/globex/personal-access-token-requests",
        &outsider,
    )
    .await;
}

async fn the_root_answers_without_a_credential_or_with_a_valid_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let anonymous = app.send(Method::GET, "/", None, None).await;
    assert_eq!(anonymous.status, StatusCode::OK, "{}", anonymous.body);
    assert_eq!(anonymous.json["name"], "patgate");
    let token = app.token_for(READER).await;
    for scheme in ["Bearer", "token"] {
        let res = app
            .send(Method::GET, "/", Some(&format!("{scheme} {token}")), None)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.json, anonymous.json);
    }
    let mut forged = token.clone();
    let last = forged.pop().expect("non-empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for auth in [
        "Bearer".to_owned(),
        "Basic YWxpY2U6c2VjcmV0".to_owned(),
        "Bearer not-a-token".to_owned(),
        "token ghs_16C7e42F292c6912E7710c838347Ae178B4a".to_owned(),
        format!("Bearer {forged}"),
        format!("Basic {token}"),
    ] {
        let res = app.send(Method::GET, "/", Some(&auth), None).await;
        res.assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    app.get("/", "ghp_16C7e42F292c6912E7710c838347Ae178B4a")
        .await
        .assert_error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by personal access token",
        );
    let res = app.get("/", &app_jwt(READER)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
}

/// Two instances on one database: what one revokes or suspends, the other refuses within
/// its poll interval; what one unsuspends, the other accepts again as soon.
async fn another_instance_follows_revocations_and_suspensions_within_the_poll_interval(
    backend: Backend,
) {
    let (dir, url) = TestApp::prepare(backend);
    let a = TestApp::start(dir.clone(), url.clone());
    let b = TestApp::start(dir, url);
    let revoked = a.token_for(REVIEWER).await;
    let kept = a.token_for(REVIEWER).await;
    for token in [&revoked, &kept] {
        assert_ok(&b, LIST, token).await;
    }
    assert_no_content(&revoke(&a, &revoked).await);
    assert_bad_credentials(&a, LIST, &revoked).await;
    let took = until_status(&b, LIST, &revoked, StatusCode::UNAUTHORIZED).await;
    eprintln!("revocation reached the other instance in {took:?}");
    assert_ok(&b, LIST, &kept).await;

    let installation = a.installation_id(REVIEWER).await;
    assert_no_content(&suspension(&b, Method::PUT, REVIEWER, installation).await);
    b.get(LIST, &kept)
        .await
        .assert_error(StatusCode::FORBIDDEN, SUSPENDED);
    until_status(&a, LIST, &kept, StatusCode::FORBIDDEN).await;
    a.get(LIST, &kept)
        .await
        .assert_error(StatusCode::FORBIDDEN, SUSPENDED);

    assert_no_content(&suspension(&a, Method::DELETE, REVIEWER, installation).await);
    assert_ok(&a, LIST, &kept).await;
    until_status(&b, LIST, &kept, StatusCode::OK).await;
    // The revoked token stays revoked everywhere.
    for instance in [&a, &b] {
        assert_bad_credentials(instance, LIST, &revoked).await;
    }
}

both_backends!(
    a_revoked_token_is_refused_at_once_while_the_installations_others_work,
    an_expired_token_is_refused_even_after_a_cache_hit,
    a_suspended_installations_tokens_are_refused_at_once_and_restored_on_unsuspend,
    another_apps_installation_cannot_be_suspended,
    the_root_answers_without_a_credential_or_with_a_valid_one,
    another_instance_follows_revocations_and_suspensions_within_the_poll_interval,
);
