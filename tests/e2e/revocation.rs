//! Ending installation tokens before their hour is up: revocation, suspension, expiry after a cache hit, the root route's optional credential, and how soon other instances follow.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = "/orgs/acme/personal-access-token-requests";
const AUDIT: &str = "/orgs/acme/personal-access-token-audit-log";
const SUSPENDED: &str = "This installation has been suspended";
/// How long another instance may take to follow a change: the poll interval (200 ms), with
/// room for a slow test machine.
const PROPAGATION_BOUND: Duration = Duration::from_secs(2);

async fn revoke(app: &TestApp, token: &str) -> Response {
    app.send(
        Method::DELETE,
        "/installation/token",
        Some(&format!("Bearer {token}")),
        None,
    )
    .await
}

/// `PUT` (suspend) or `DELETE` (unsuspend) with the JWT of the app `client_id`.
async fn suspension(app: &TestApp, method: Method, client_id: &str, installation: i64) -> Response {
    app.send(
        method,
        &format!("/app/installations/{installation}/suspended"),
        Some(&format!("Bearer {}", app_jwt(client_id))),
        None,
    )
    .await
}

/// Asks until `path` answers `status` to `token`; how long that took. Fails past the bound.
async fn until_status(app: &TestApp, path: &str, token: &str, status: StatusCode) -> Duration {
    let start = Instant::now();
    loop {
        let res = app.get(path, token).await;
        if res.status == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < PROPAGATION_BOUND,
            "still {} after {:?}: {}",
            res.status,
            start.elapsed(),
            res.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
        let res = app.get(LIST, token).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    assert_no_content(&revoke(&app, &revoked).await);
    for path in [LIST, "/"] {
        app.get(path, &revoked)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    revoke(&app, &revoked)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    let res = app.get(LIST, &kept).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // An instance started afterwards refuses it from its first request.
    let later = TestApp::start(app.dir.clone(), app.database_url.clone());
    later
        .get(LIST, &revoked)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    let res = later.get(LIST, &kept).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
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
        let res = app.get(LIST, &short).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    while now() < exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [LIST, "/"] {
        app.get(path, &short)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let res = app.get(LIST, &real).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

async fn a_suspended_installations_tokens_are_refused_at_once_and_restored_on_unsuspend(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let installation = app.installation_id(REVIEWER).await;
    let token = app.token_for(REVIEWER).await;
    let issuer = app.token_for(ISSUER).await;
    let res = app.get(LIST, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    assert_no_content(&suspension(&app, Method::PUT, REVIEWER, installation).await);
    for path in [LIST, "/"] {
        app.get(path, &token)
            .await
            .assert_error(StatusCode::FORBIDDEN, SUSPENDED);
    }
    let exchange = format!("/app/installations/{installation}/access_tokens");
    app.post(&exchange, &app_jwt(REVIEWER), &serde_json::json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, SUSPENDED);
    let shown = app
        .get(
            &format!("/app/installations/{installation}"),
            &app_jwt(REVIEWER),
        )
        .await;
    assert!(shown.json["suspended_at"].is_string(), "{}", shown.body);
    // Suspending again changes nothing; another installation is not affected.
    assert_no_content(&suspension(&app, Method::PUT, REVIEWER, installation).await);
    let res = app.get("/", &issuer).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    assert_no_content(&suspension(&app, Method::DELETE, REVIEWER, installation).await);
    let res = app.get(LIST, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_no_content(&suspension(&app, Method::DELETE, REVIEWER, installation).await);
    let shown = app
        .get(
            &format!("/app/installations/{installation}"),
            &app_jwt(REVIEWER),
        )
        .await;
    assert!(shown.json["suspended_at"].is_null(), "{}", shown.body);

    // Each real change is in the organization's audit trail, with the app as actor.
    let app_id = app.get("/app", &app_jwt(REVIEWER)).await.json["id"].clone();
    let res = app
        .get(&format!("{AUDIT}?subject_type=installation"), &token)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let events = res.json.as_array().expect("array");
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["installation.unsuspended", "installation.suspended"]
    );
    for event in events {
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
                .assert_error(StatusCode::NOT_FOUND, "Not Found");
        }
    }
    // An installation token is the wrong credential for it.
    let token = app.token_for(REVIEWER).await;
    let own = app.installation_id(REVIEWER).await;
    let res = app
        .send(
            Method::PUT,
            &format!("/app/installations/{own}/suspended"),
            Some(&format!("Bearer {token}")),
            None,
        )
        .await;
    res.assert_error(
        StatusCode::FORBIDDEN,
        "This endpoint requires the app's JWT, not an installation access token",
    );
    let outsider = app.token_for(OUTSIDER).await;
    let res = app
        .get("/orgs/globex/personal-access-token-requests", &outsider)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
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
        let res = b.get(LIST, token).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    assert_no_content(&revoke(&a, &revoked).await);
    a.get(LIST, &revoked)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    let took = until_status(&b, LIST, &revoked, StatusCode::UNAUTHORIZED).await;
    eprintln!("revocation reached the other instance in {took:?}");
    let res = b.get(LIST, &kept).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

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
    let res = a.get(LIST, &kept).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    until_status(&b, LIST, &kept, StatusCode::OK).await;
    // The revoked token stays revoked everywhere.
    for instance in [&a, &b] {
        instance
            .get(LIST, &revoked)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
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
