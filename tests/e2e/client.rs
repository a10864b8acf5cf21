//! The progenitor client generated from openapi/openapi-3.0.json drives a whole review against the real server.

use patgate_client::types::{
    GrantActionName, ReviewActionName, ReviewPatGrantRequestBody, UpdatePatAccessBody,
};
use patgate_client::Client;

use crate::both_backends;
use crate::helpers::*;

/// The generated client, sending the reviewer's installation token and a User-Agent (both
/// required by the API, as by GitHub's) on every request.
fn client_for(app: &TestApp, token: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut auth =
        reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
    auth.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, auth);
    let http = reqwest::Client::builder()
        .user_agent("patgate-e2e-client")
        .default_headers(headers)
        .build()
        .expect("reqwest client");
    Client::new_with_client(&app.base, http)
}

/// A review with `action` and an optional reason.
fn review(action: ReviewActionName, reason: Option<&str>) -> ReviewPatGrantRequestBody {
    ReviewPatGrantRequestBody {
        action,
        reason: reason.map(|r| r.parse().expect("reason")),
    }
}

async fn the_generated_client_reviews_lists_grants_and_revokes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let client = client_for(&app, &token);

    let owners = vec!["alice".to_owned()];
    let per_page = std::num::NonZeroU64::new(100);
    let list_alices = || async {
        client
            .orgs_list_pat_grant_requests(
                ORG,
                None,
                None,
                None,
                Some(&owners),
                None,
                per_page,
                None,
                None,
                None,
                None,
            )
            .await
            .expect("list requests")
            .into_inner()
    };
    let pending = list_alices().await;
    assert_eq!(pending.len(), REQUESTS / OWNERS.len());
    assert!(pending.iter().all(|r| r.owner.login == "alice"));
    let (approved, denied) = (&pending[0], &pending[1]);

    let res = client
        .orgs_review_pat_grant_request(ORG, approved.id, &review(ReviewActionName::Approve, None))
        .await
        .expect("approve");
    assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    client
        .orgs_review_pat_grant_request(
            ORG,
            denied.id,
            &review(ReviewActionName::Deny, Some("Access is too broad.")),
        )
        .await
        .expect("deny");

    // Reviewing again is refused with GitHub's error body, decoded by the client.
    let err = client
        .orgs_review_pat_grant_request(ORG, denied.id, &review(ReviewActionName::Approve, None))
        .await
        .expect_err("already denied");
    match err {
        patgate_client::Error::ErrorResponse(body) => {
            assert_eq!(body.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(body.message, "This request is already denied");
        }
        other => panic!("unexpected error: {other}"),
    }

    let still_pending = list_alices().await;
    let ids: Vec<i64> = still_pending.iter().map(|r| r.id).collect();
    assert_eq!(ids, pending[2..].iter().map(|r| r.id).collect::<Vec<_>>());

    let list_grants = || {
        client.orgs_list_pat_grants(
            ORG, None, None, None, None, None, per_page, None, None, None, None,
        )
    };
    let grants = list_grants().await.expect("list grants").into_inner();
    let grant = grants
        .iter()
        .find(|g| g.token_id == approved.token_id)
        .expect("the approval is a grant");
    assert_eq!(grant.owner.login, "alice");
    assert!(grants.iter().all(|g| g.token_id != denied.token_id));

    let res = client
        .orgs_update_pat_access(
            ORG,
            grant.id,
            &UpdatePatAccessBody {
                action: GrantActionName::Revoke,
                reason: Some("No longer needed".parse().expect("a reason")),
            },
        )
        .await
        .expect("revoke");
    assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    let grants = list_grants().await.expect("list grants").into_inner();
    assert!(grants.iter().all(|g| g.id != grant.id));
}

both_backends!(the_generated_client_reviews_lists_grants_and_revokes);
