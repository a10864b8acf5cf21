//! Grants: approved requests become grants that can be listed, filtered and revoked, one or many, all or nothing.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const REQUESTS: &str = REQUESTS_PATH;
const GRANTS: &str = GRANTS_PATH;

/// Approves the `n` newest pending requests; returns the active grants, newest first.
async fn approve_newest(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    let ids: Vec<i64> = app.pending_ids(token).await.into_iter().take(n).collect();
    let res = app
        .post(
            REQUESTS,
            token,
            &json!({"pat_request_ids": ids, "action": "approve"}),
        )
        .await;
    res.assert_status(StatusCode::ACCEPTED);
    active_grants(app, token).await.items().clone()
}

/// Every active grant of `acme`, newest first.
async fn active_grants(app: &TestApp, token: &str) -> Response {
    let res = app.get(&format!("{GRANTS}?per_page=100"), token).await;
    res.assert_status(StatusCode::OK);
    res
}

async fn active_grant_ids(app: &TestApp, token: &str) -> Vec<i64> {
    ids(&active_grants(app, token).await.json)
}

/// Revokes grant `id` (`action` alone); the answer.
async fn revoke(app: &TestApp, token: &str, id: i64) -> Response {
    app.revoke_grant(token, id, &json!({"action": "revoke"}))
        .await
}

/// A running fixture, the reviewer's token and the grants of the `n` newest requests.
async fn with_grants(backend: Backend, n: usize) -> (TestApp, String, Vec<Value>) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let grants = approve_newest(&app, &token, n).await;
    (app, token, grants)
}

async fn approved_requests_become_grants_with_githubs_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    assert_eq!(active_grant_ids(&app, &token).await, Vec::<i64>::new());
    let pending = app.get(&format!("{REQUESTS}?per_page=6"), &token).await;
    let grants = approve_newest(&app, &token, 6).await;
    assert_eq!(grants.len(), 6);
    let requests: BTreeMap<i64, &Value> = pending
        .items()
        .iter()
        .map(|r| (r["token_id"].as_i64().expect("token_id"), r))
        .collect();
    for grant in &grants {
        let request = requests[&grant["token_id"].as_i64().expect("token_id")];
        for field in [
            "owner",
            "repository_selection",
            "permissions",
            "token_name",
            "token_expired",
            "token_expires_at",
            "token_last_used_at",
        ] {
            assert_eq!(grant[field], request[field], "{field}");
        }
        assert!(grant.get("reason").is_none());
        assert_listed(grant, "access_granted_at", GRANTS);
    }
    // The same filters as requests: owner, permission, and paging with Link.
    let owner = grants[0]["owner"]["login"].as_str().expect("login");
    let res = app.get(&format!("{GRANTS}?owner={owner}"), &token).await;
    let expected: Vec<i64> = grants
        .iter()
        .filter(|g| g["owner"]["login"] == owner)
        .map(|g| g["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids(&res.json), expected);
    let res = app
        .get(
            &format!("{GRANTS}?permission=members_read&per_page=4"),
            &token,
        )
        .await;
    assert_eq!(res.items().len(), 4);
    assert!(res
        .header("link")
        .is_some_and(|l| l.contains("page=2>; rel=\"last\"")));
    // Every page names the last one, even where a page reads only the next one ahead.
    for page in [1, 2, 3] {
        let res = app
            .get(
                &format!("{GRANTS}?permission=members_read&per_page=1&page={page}"),
                &token,
            )
            .await;
        assert!(
            res.header("link")
                .is_some_and(|l| l.contains("page=6>; rel=\"last\"")),
            "page {page}: {:?}",
            res.header("link")
        );
    }
    // A subset grant lists its repositories.
    let subset = grants
        .iter()
        .find(|g| g["repository_selection"] == "subset")
        .expect("a subset grant");
    let res = app
        .get(&format!("{GRANTS}/{}/repositories", subset["id"]), &token)
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.items().len(), 2);
    let res = app
        .get(&format!("{GRANTS}/999999/repositories"), &token)
        .await;
    res.assert_not_found();
}

async fn revoking_a_grant_is_204_once_then_422(backend: Backend) {
    let (app, token, grants) = with_grants(backend, 3).await;
    let id = grants[1]["id"].as_i64().expect("id");
    revoke(&app, &token, id)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert!(!active_grant_ids(&app, &token).await.contains(&id));
    revoke(&app, &token, id).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "This token's access is already revoked",
    );
    revoke(&app, &token, 999999).await.assert_not_found();
    for body in [
        json!({}),
        json!({"action": "approve"}),
        json!({"action": 1}),
    ] {
        let other = grants[0]["id"].as_i64().expect("id");
        let res = app.revoke_grant(&token, other, &body).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.body
        );
    }
    assert_eq!(active_grant_ids(&app, &token).await.len(), 2);
}

async fn a_bulk_revocation_is_all_or_nothing(backend: Backend) {
    let (app, token, grants) = with_grants(backend, 5).await;
    let grants = ids(&Value::from(grants));
    revoke(&app, &token, grants[0])
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let before = active_grant_ids(&app, &token).await;
    for (ids, named) in [
        (vec![grants[1], 999999], "999999"),
        (
            vec![grants[1], grants[0]],
            grants[0].to_string().leak() as &str,
        ),
    ] {
        let res = app
            .post(GRANTS, &token, &json!({"action": "revoke", "pat_ids": ids}))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
        assert!(
            res.json["message"]
                .as_str()
                .expect("message")
                .contains(named),
            "{}",
            res.body
        );
        assert_eq!(
            active_grant_ids(&app, &token).await,
            before,
            "nothing changed"
        );
    }
    let too_many: Vec<i64> = (1..=101).collect();
    for body in [
        json!({"action": "revoke"}),
        json!({"action": "revoke", "pat_ids": []}),
        json!({"action": "revoke", "pat_ids": too_many}),
        json!({"action": "revoke", "pat_ids": [grants[1], grants[1]]}),
        json!({"action": "deny", "pat_ids": [grants[1]]}),
    ] {
        app.post(GRANTS, &token, &body)
            .await
            .assert_validation_failed(&body);
    }
    let res = app
        .post(
            GRANTS,
            &token,
            &json!({"action": "revoke", "pat_ids": &grants[1..]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.json, json!({}));
    assert_eq!(active_grant_ids(&app, &token).await, Vec::<i64>::new());
}

async fn grants_need_their_own_permission_and_organization(backend: Backend) {
    let (app, token, grants) = with_grants(backend, 2).await;
    let id = grants[0]["id"].as_i64().expect("id");
    // The reader may list requests but has no permission on grants.
    let reader = app.token_for(READER).await;
    let res = app.get(GRANTS, &reader).await;
    res.assert_forbidden("organization_personal_access_tokens=read");
    let res = revoke(&app, &reader, id).await;
    assert_eq!(
        res.header("x-accepted-github-permissions"),
        Some("organization_personal_access_tokens=write")
    );
    // A token narrowed to read grants may list but not revoke.
    let narrow = app
        .token_with(
            REVIEWER,
            &json!({"permissions": {"organization_personal_access_tokens": "read"}}),
        )
        .await;
    assert_eq!(app.get(GRANTS, &narrow).await.status, StatusCode::OK);
    app.post(
        GRANTS,
        &narrow,
        &json!({"action": "revoke", "pat_ids": [id]}),
    )
    .await
    .assert_not_accessible();
    // Another organization's installation sees nothing of acme's grants.
    let outsider = app.token_for(OUTSIDER).await;
    for res in [
        app.get(GRANTS, &outsider).await,
        app.get(&format!("{GRANTS}/{id}/repositories"), &outsider)
            .await,
        revoke(&app, &outsider, id).await,
    ] {
        res.assert_not_found();
    }
    assert_eq!(active_grant_ids(&app, &token).await.len(), 2);
}

async fn concurrent_revocations_of_one_grant_have_exactly_one_winner(backend: Backend) {
    let (app, token, grants) = with_grants(backend, 1).await;
    let path = format!("{GRANTS}/{}", grants[0]["id"]);
    let body = json!({"action": "revoke"});
    let results =
        futures_util::future::join_all((0..12).map(|_| app.post(&path, &token, &body))).await;
    let mut statuses = BTreeMap::new();
    for res in &results {
        *statuses.entry(res.status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([(204, 1), (422, 11)]),
        "{results:?}"
    );
}

both_backends!(
    approved_requests_become_grants_with_githubs_shape,
    revoking_a_grant_is_204_once_then_422,
    a_bulk_revocation_is_all_or_nothing,
    grants_need_their_own_permission_and_organization,
    concurrent_revocations_of_one_grant_have_exactly_one_winner,
);
