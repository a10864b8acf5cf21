//! App endpoints: the app, its installations, and exchanging the app's JWT for installation tokens.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

async fn the_app_and_its_installations_are_visible_with_its_jwt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let jwt = app_jwt(REVIEWER);
    let res = app.get("/app", &jwt).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["slug"], "reviewer");
    assert_eq!(res.json["installations_count"], 1);
    assert_eq!(res.json["owner"]["login"], ORG);

    let res = app.get("/app/installations", &jwt).await;
    res.assert_status(StatusCode::OK);
    let list = res.items();
    assert_eq!(list.len(), 1);
    let installation = &list[0];
    assert_eq!(installation["account"]["login"], ORG);
    assert_eq!(installation["target_type"], "Organization");
    assert_eq!(
        installation["permissions"]["organization_personal_access_token_requests"],
        "write"
    );
    let id = installation["id"].as_i64().expect("id");

    for path in [
        format!("/app/installations/{id}"),
        "/orgs/ACME/installation".to_owned(),
    ] {
        let res = app.get(&path, &jwt).await;
        res.assert_status(StatusCode::OK);
        assert_eq!(res.json["id"], id);
    }
}

async fn another_apps_installation_is_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let theirs = app.installation_id(OUTSIDER).await;
    let jwt = app_jwt(REVIEWER);
    for path in [
        format!("/app/installations/{theirs}"),
        "/app/installations/999999".to_owned(),
        "/orgs/globex/installation".to_owned(),
        "/orgs/no-such-org/installation".to_owned(),
    ] {
        app.get(&path, &jwt).await.assert_not_found();
    }
    app.exchange(theirs, &jwt, &json!({}))
        .await
        .assert_not_found();
}

async fn a_token_carries_the_installations_permissions_for_an_hour(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.installation_id(REVIEWER).await;
    let path = exchange_path(id);
    // No body at all, as octokit sends it.
    let res = app
        .call(reqwest::Method::POST, &path, &app_jwt(REVIEWER), None)
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["repository_selection"], "all");
    // A JSON `null` body means no narrowing too.
    app.call(
        reqwest::Method::POST,
        &path,
        &app_jwt(REVIEWER),
        Some(&serde_json::Value::Null),
    )
    .await
    .assert_status(StatusCode::CREATED);
    assert_eq!(
        res.json["permissions"],
        json!({
            "members": "read",
            "organization_administration": "write",
            "organization_hooks": "write",
            "organization_personal_access_token_requests": "write",
            "organization_personal_access_tokens": "write",
            "organization_personal_access_token_review_rules": "write",
        })
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(res.json["expires_at"].as_str().expect("expires_at"))
            .expect("RFC 3339");
    let lifetime = expires.timestamp() - now();
    assert!((3590..=3600).contains(&lifetime), "lifetime {lifetime}");
}

async fn a_token_may_be_narrowed_but_never_widened(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let narrow = app
        .token_with(
            REVIEWER,
            &json!({"permissions": {"organization_personal_access_token_requests": "read"}}),
        )
        .await;
    let res = app.get(REQUESTS_PATH, &narrow).await;
    res.assert_status(StatusCode::OK);
    let id = ids(&res.json)[0];
    app.post_review(&narrow, id, &json!({"action": "approve"}))
        .await
        .assert_not_accessible();

    let reader = app.installation_id(READER).await;
    let path = exchange_path(reader);
    // GitHub's messages, as GitHub words them.
    let above =
        "The level of access for permissions requested are not granted to this installation.";
    let not_held = "The permissions requested are not granted to this installation.";
    let level = "There is at least one permission action that is not supported. It should be one of: \"read\", \"write\" or \"admin\".";
    let repo = "There is at least one repository that does not exist or is not accessible to the parent installation.";
    for (body, message) in [
        (
            json!({"permissions": {"organization_personal_access_token_requests": "write"}}),
            above,
        ),
        (json!({"permissions": {"contents": "read"}}), not_held),
        (
            json!({"permissions": {"no such permission": "read"}}),
            not_held,
        ),
        (
            json!({"permissions": {"organization_personal_access_token_requests": "sudo"}}),
            level,
        ),
        (json!({"repositories": ["no-such-repo"]}), repo),
        (json!({"repository_ids": [999999]}), repo),
        (json!({"unknown_field": true}), "Validation Failed"),
    ] {
        let res = app.post(&path, &app_jwt(READER), &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.body
        );
        assert_eq!(res.json["message"], message, "{body}");
        assert!(res.json["errors"].is_array(), "{}", res.body);
    }
    let res = app
        .post(
            &path,
            &app_jwt(READER),
            &json!({"repositories": ["api", "API"]}),
        )
        .await;
    res.assert_status(StatusCode::CREATED);
    assert_eq!(res.json["repository_selection"], "selected");
    for bad in ["{", "[1]"] {
        let res = app
            .send(
                reqwest::Method::POST,
                &path,
                Some(&format!("Bearer {}", app_jwt(READER))),
                Some(bad),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
    }
}

async fn empty_narrowings_narrow_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.installation_id(REVIEWER).await;
    let path = exchange_path(id);
    let jwt = app_jwt(REVIEWER);
    let full = app.post(&path, &jwt, &json!({})).await;
    full.assert_status(StatusCode::CREATED);
    // PyGithub's get_access_token always sends an empty permissions object.
    for body in [
        json!({"permissions": {}}),
        json!({"permissions": null}),
        json!({"permissions": {}, "repositories": [], "repository_ids": []}),
        json!({"repositories": []}),
        json!({"repository_ids": []}),
    ] {
        let res = app.post(&path, &jwt, &body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{body}: {}", res.body);
        assert_eq!(res.json["permissions"], full.json["permissions"], "{body}");
        assert_eq!(res.json["repository_selection"], "all", "{body}");
        let token = res.json["token"].as_str().expect("token");
        let list = app.get(REQUESTS_PATH, token).await;
        assert_eq!(list.status, StatusCode::OK, "{body}: {}", list.body);
    }
}

both_backends!(
    empty_narrowings_narrow_nothing,
    the_app_and_its_installations_are_visible_with_its_jwt,
    another_apps_installation_is_not_found,
    a_token_carries_the_installations_permissions_for_an_hour,
    a_token_may_be_narrowed_but_never_widened,
);
