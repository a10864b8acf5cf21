//! Reviewing requests: single and bulk, all-or-nothing, validation, and concurrent reviewers.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = REQUESTS_PATH;

/// A running fixture, the reviewer's token and the pending requests, newest first.
async fn pending_requests(backend: Backend) -> (TestApp, String, Vec<i64>) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&token).await;
    (app, token, pending)
}

/// Asserts a 422 whose message names `id`.
fn assert_names(res: &Response, id: i64) {
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let message = res.json["message"].as_str().expect("message");
    assert!(message.contains(&id.to_string()), "{}", res.body);
}

async fn approving_and_denying_remove_a_request_from_the_pending_list(backend: Backend) {
    let (app, token, pending) = pending_requests(backend).await;
    let (a, b) = (pending[0], pending[1]);
    let approve = json!({"action": "approve"});
    let res = app.post_review(&token, a, &approve).await;
    res.assert_status(StatusCode::NO_CONTENT);
    assert!(res.body.is_empty());
    app.review(
        &token,
        b,
        &json!({"action": "deny", "reason": "Access is too broad."}),
    )
    .await;
    let now_pending = app.pending_ids(&token).await;
    assert_eq!(now_pending, pending[2..].to_vec());

    for (id, body, status, message) in [
        (
            a.to_string(),
            json!({"action": "deny"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "This request is already approved",
        ),
        (
            b.to_string(),
            approve.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "This request is already denied",
        ),
        (
            "999999".to_owned(),
            approve.clone(),
            StatusCode::NOT_FOUND,
            "Not Found",
        ),
        (
            "abc".to_owned(),
            approve.clone(),
            StatusCode::NOT_FOUND,
            "Not Found",
        ),
    ] {
        let res = app.post_review(&token, &id, &body).await;
        res.assert_error(status, message);
    }
}

async fn a_bulk_review_answers_202_and_changes_every_request(backend: Backend) {
    let (app, token, pending) = pending_requests(backend).await;
    let ids: Vec<i64> = pending[..5].to_vec();
    let res = app
        .post(
            LIST,
            &token,
            &json!({"pat_request_ids": ids, "action": "deny", "reason": "Not now"}),
        )
        .await;
    res.assert_status(StatusCode::ACCEPTED);
    assert_eq!(res.json, json!({}));
    assert_eq!(app.pending_ids(&token).await, pending[5..].to_vec());
    let hundred: Vec<i64> = pending[5..].to_vec();
    let res = app
        .post(
            LIST,
            &token,
            &json!({"pat_request_ids": hundred, "action": "approve"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert!(app.pending_ids(&token).await.is_empty());
}

async fn a_bulk_review_naming_an_unknown_or_reviewed_id_changes_nothing(backend: Backend) {
    let (app, token, pending) = pending_requests(backend).await;
    let reviewed = pending[0];
    app.approve(&token, reviewed).await;
    let before = app.pending_ids(&token).await;

    let res = app
        .post(
            LIST,
            &token,
            &json!({"pat_request_ids": [pending[1], 999999, pending[2]], "action": "approve"}),
        )
        .await;
    assert_names(&res, 999999);
    assert_eq!(res.json["errors"][0]["code"], "missing");

    let res = app
        .post(
            LIST,
            &token,
            &json!({"pat_request_ids": [pending[1], reviewed, pending[2]], "action": "deny"}),
        )
        .await;
    assert_names(&res, reviewed);
    let message = res.json["message"].as_str().expect("message");
    assert!(!message.contains(&pending[1].to_string()), "{message}");

    // globex's request is unknown to acme.
    let outsider = app.token_for(OUTSIDER).await;
    let theirs = ids(&app
        .get("/orgs/globex/personal-access-token-requests", &outsider)
        .await
        .json);
    let res = app
        .post(
            LIST,
            &token,
            &json!({"pat_request_ids": [pending[1], theirs[0]], "action": "deny"}),
        )
        .await;
    res.assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(app.pending_ids(&token).await, before, "nothing changed");
    assert_eq!(
        ids(&app
            .get("/orgs/globex/personal-access-token-requests", &outsider)
            .await
            .json),
        theirs
    );
}

async fn malformed_review_bodies_get_githubs_errors(backend: Backend) {
    let (app, token, pending) = pending_requests(backend).await;
    let one = format!("{LIST}/{}", pending[0]);
    let auth = format!("Bearer {token}");
    for (path, body, message) in [
        (&one, "{\"action\": ", "Problems parsing JSON"),
        (&one, "", "Problems parsing JSON"),
        (&one, "[\"approve\"]", "Body should be a JSON object"),
        (
            &LIST.to_owned(),
            "\"approve\"",
            "Body should be a JSON object",
        ),
    ] {
        let res = app.send(Method::POST, path, Some(&auth), Some(body)).await;
        res.assert_error(StatusCode::BAD_REQUEST, message);
    }
    let long = "x".repeat(1025);
    let too_many: Vec<i64> = (1..=101).collect();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (&one, json!({}), "action", "missing_field"),
        (&one, json!({"action": "revoke"}), "action", "invalid"),
        (&one, json!({"action": 1}), "action", "invalid"),
        (
            &one,
            json!({"action": "deny", "reason": long}),
            "reason",
            "invalid",
        ),
        (
            &one,
            json!({"action": "deny", "reason": 5}),
            "reason",
            "invalid",
        ),
        (
            LIST,
            json!({"action": "approve"}),
            "pat_request_ids",
            "missing_field",
        ),
        (
            LIST,
            json!({"action": "approve", "pat_request_ids": []}),
            "pat_request_ids",
            "invalid",
        ),
        (
            LIST,
            json!({"action": "approve", "pat_request_ids": too_many}),
            "pat_request_ids",
            "invalid",
        ),
        (
            LIST,
            json!({"action": "approve", "pat_request_ids": [pending[0], pending[0]]}),
            "pat_request_ids",
            "invalid",
        ),
        (
            LIST,
            json!({"action": "approve", "pat_request_ids": ["1"]}),
            "pat_request_ids",
            "invalid",
        ),
        (
            LIST,
            json!({"action": "approve", "pat_request_ids": "1,2"}),
            "pat_request_ids",
            "invalid",
        ),
        (
            LIST,
            json!({"action": "approve", "pat_request_ids": [0]}),
            "pat_request_ids",
            "invalid",
        ),
        (
            LIST,
            json!({"action": "maybe", "pat_request_ids": [pending[0]]}),
            "action",
            "invalid",
        ),
    ];
    for (path, body, field, code) in cases {
        let res = app.post(path, &token, &body).await;
        res.assert_validation_failed(&body);
        assert_eq!(res.json["status"], "422");
        assert!(res.json["documentation_url"].is_string());
        assert_eq!(
            res.json["errors"][0]["field"], field,
            "{body}: {}",
            res.body
        );
        assert_eq!(res.json["errors"][0]["code"], code, "{body}: {}", res.body);
    }
    // The message of a shape problem is the documented one (docs/API-DESIGN.md, error.rs).
    let res = app.post(&one, &token, &json!({"action": "maybe"})).await;
    assert_eq!(
        res.json["errors"][0]["message"],
        "action: unknown variant `maybe`, expected `approve` or `deny`"
    );
    // Exactly 1024 characters is allowed.
    app.review(
        &token,
        pending[0],
        &json!({"action": "deny", "reason": "é".repeat(1024)}),
    )
    .await;
    let huge = format!(
        "{{\"action\":\"deny\",\"reason\":\"{}\"}}",
        "x".repeat(100_000)
    );
    let res = app
        .send(
            Method::POST,
            &format!("{LIST}/{}", pending[1]),
            Some(&auth),
            Some(&huge),
        )
        .await;
    res.assert_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body is larger than 65536 bytes",
    );
    assert_eq!(
        app.pending_ids(&token).await,
        pending[1..].to_vec(),
        "only the valid review changed anything"
    );
}

async fn twenty_concurrent_reviews_of_one_request_have_exactly_one_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let target = app.pending_ids(&token).await[0];
    let path = format!("{LIST}/{target}");
    let bodies: Vec<Value> = (0..20)
        .map(|n| {
            let action = if n % 2 == 0 { "approve" } else { "deny" };
            json!({"action": action, "reason": format!("reviewer {n}")})
        })
        .collect();
    let calls = bodies.iter().map(|body| app.post(&path, &token, body));
    let results = futures_util::future::join_all(calls).await;
    let mut statuses = BTreeMap::new();
    for res in &results {
        *statuses.entry(res.status.as_u16()).or_insert(0) += 1;
        if res.status == StatusCode::UNPROCESSABLE_ENTITY {
            let message = res.json["message"].as_str().expect("message");
            assert!(message.starts_with("This request is already "), "{message}");
        }
    }
    assert_eq!(
        statuses,
        BTreeMap::from([(204, 1), (422, 19)]),
        "{results:?}"
    );
    assert!(!app.pending_ids(&token).await.contains(&target));
}

async fn concurrent_bulk_reviews_over_shared_ids_are_all_or_nothing(backend: Backend) {
    let (app, token, pending) = pending_requests(backend).await;
    // Eight overlapping windows of five ids: each id is named by up to five calls.
    let windows: Vec<Vec<i64>> = (0..8).map(|w| pending[w * 3..w * 3 + 5].to_vec()).collect();
    let bodies: Vec<Value> = windows
        .iter()
        .map(|ids| json!({"pat_request_ids": ids, "action": "approve"}))
        .collect();
    let calls = bodies.iter().map(|body| app.post(LIST, &token, body));
    let results = futures_util::future::join_all(calls).await;
    let mut reviewed = std::collections::BTreeSet::new();
    for (ids, res) in windows.iter().zip(&results) {
        match res.status {
            StatusCode::ACCEPTED => {
                for id in ids {
                    assert!(reviewed.insert(*id), "{id} approved twice");
                }
            }
            StatusCode::UNPROCESSABLE_ENTITY => {}
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert!(!reviewed.is_empty());
    let still: std::collections::BTreeSet<i64> =
        app.pending_ids(&token).await.into_iter().collect();
    for id in pending.iter().take(26) {
        assert_eq!(still.contains(id), !reviewed.contains(id), "request {id}");
    }
}

both_backends!(
    approving_and_denying_remove_a_request_from_the_pending_list,
    a_bulk_review_answers_202_and_changes_every_request,
    a_bulk_review_naming_an_unknown_or_reviewed_id_changes_nothing,
    malformed_review_bodies_get_githubs_errors,
    twenty_concurrent_reviews_of_one_request_have_exactly_one_winner,
    concurrent_bulk_reviews_over_shared_ids_are_all_or_nothing,
);
