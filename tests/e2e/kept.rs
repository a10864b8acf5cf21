//! Answers kept in memory for repeated reads: the same bytes as a fresh read, never stale after
//! a write here, followed within the poll interval when another instance writes, never served
//! past a token's expiry, and never to a caller who may not see them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = "/orgs/acme/personal-access-token-requests?per_page=5&sort=created_at";
const GRANTS: &str = "/orgs/acme/personal-access-tokens";
const CHECK: &str = "/orgs/acme/personal-access-token-access-checks";
const INTAKE: &str = "/orgs/acme/personal-access-token-intake/requests";
/// How long another instance may take to follow a write: the poll interval (20 ms), with room
/// for a slow test machine.
const PROPAGATION_BOUND: Duration = Duration::from_secs(2);

/// Whether the answer came from memory (debug builds say so).
fn kept(res: &Response) -> bool {
    res.header(patgate_api::responses::KEPT_HEADER) == Some("1")
}

/// The headers a kept answer must carry as the fresh one did.
fn shown(res: &Response) -> (StatusCode, Option<&str>, Option<&str>, &str) {
    (
        res.status,
        res.header("content-type"),
        res.header("link"),
        res.body.as_str(),
    )
}

async fn approve(app: &TestApp, token: &str, id: i64) {
    let res = app
        .post(
            &format!("/orgs/acme/personal-access-token-requests/{id}"),
            token,
            &json!({"action": "approve"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
}

/// Asks `path` until `done` holds for the answer; how long that took. Fails past the bound.
async fn until(
    app: &TestApp,
    path: &str,
    token: &str,
    done: impl Fn(&Response) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let res = app.get(path, token).await;
        if done(&res) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < PROPAGATION_BOUND,
            "not followed after {:?}: {}",
            start.elapsed(),
            res.body
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A kept answer is byte for byte what an instance that keeps nothing reads from the store:
/// body, `Link` and content type.
async fn a_kept_answer_is_what_a_fresh_read_gives(backend: Backend) {
    let (dir, url) = TestApp::prepare(backend);
    // One public base URL, so that both write the same links.
    let base = [
        "--expiry-interval",
        "0",
        "--base-url",
        "https://patgate.test",
    ];
    let keeping = TestApp::start_with(dir.clone(), url.clone(), &base);
    let fresh = TestApp::start_with(
        dir,
        url,
        &[&base[..], &["--response-cache-mb", "0"]].concat(),
    );
    let token = keeping.token_for(REVIEWER).await;
    let check = json!({"token_id": 1001, "permission": "metadata", "level": "read"}).to_string();
    for path in [
        LIST,
        GRANTS,
        "/orgs/acme/personal-access-token-requests/1/repositories",
    ] {
        let first = keeping.get(path, &token).await;
        assert_eq!(first.status, StatusCode::OK, "{path}: {}", first.body);
        let again = keeping.get(path, &token).await;
        let read = fresh.get(path, &token).await;
        assert!(
            !kept(&first) && kept(&again) && !kept(&read),
            "{path}: kept only the second time"
        );
        assert_eq!(shown(&again), shown(&first), "{path}");
        assert_eq!(shown(&again), shown(&read), "{path}");
    }
    let auth = format!("Bearer {token}");
    let first = keeping
        .send(reqwest::Method::POST, CHECK, Some(&auth), Some(&check))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = keeping
        .send(reqwest::Method::POST, CHECK, Some(&auth), Some(&check))
        .await;
    let read = fresh
        .send(reqwest::Method::POST, CHECK, Some(&auth), Some(&check))
        .await;
    assert!(
        !kept(&first) && kept(&again) && !kept(&read),
        "the check kept the second time"
    );
    assert_eq!(shown(&again), shown(&first));
    assert_eq!(shown(&again), shown(&read));
}

/// A review shows in the reviewing instance's next answer, and in the other instance's within
/// its poll interval, though both kept the list before.
async fn a_write_shows_at_once_here_and_within_the_poll_interval_elsewhere(backend: Backend) {
    let (dir, url) = TestApp::prepare(backend);
    let a = TestApp::start(dir.clone(), url.clone());
    let b = TestApp::start(dir, url);
    let token = a.token_for(REVIEWER).await;
    let before = a.get(LIST, &token).await;
    let listed = ids(&before.json);
    assert_eq!(listed.len(), 5, "{}", before.body);
    for app in [&a, &b, &a, &b] {
        assert_eq!(ids(&app.get(LIST, &token).await.json), listed);
    }
    assert!(
        kept(&b.get(LIST, &token).await),
        "b keeps the list before the write"
    );
    approve(&a, &token, listed[0]).await;
    let read = a.get(LIST, &token).await;
    assert!(!kept(&read), "the write dropped the kept list here");
    let after = ids(&read.json);
    assert!(!after.contains(&listed[0]), "stale here: {after:?}");
    let took = until(&b, LIST, &token, |res| !ids(&res.json).contains(&listed[0])).await;
    eprintln!("the review reached the other instance's kept list in {took:?}");
    // And the other way round.
    approve(&b, &token, listed[1]).await;
    assert!(!ids(&b.get(LIST, &token).await.json).contains(&listed[1]));
    until(&a, LIST, &token, |res| !ids(&res.json).contains(&listed[1])).await;
}

/// `token_expired` and the access check turn at the token's expiry with no write at all
/// (expiry sweeps are off): a kept answer is not served past it.
async fn a_kept_answer_is_not_served_past_a_token_expiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let issuer = app.token_for(ISSUER).await;
    let reviewer = app.token_for(REVIEWER).await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(5);
    let filing = json!({
        "owner": "zed",
        "token_id": 9100,
        "token_name": "brief",
        "token_expires_at": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "repository_selection": "all",
        "permissions": {"repository": {"metadata": "read"}},
    });
    let res = app.post(INTAKE, &issuer, &filing).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let list = "/orgs/acme/personal-access-token-requests?token_id=9100";
    let question = json!({"token_id": 9100, "permission": "metadata", "level": "read"});
    let shown_expired = |res: &Response| res.json[0]["token_expired"].clone();
    for _ in 0..3 {
        assert_eq!(shown_expired(&app.get(list, &reviewer).await), json!(false));
        let answer = app.post(CHECK, &reviewer, &question).await;
        assert_eq!(answer.json["reason"], "pending", "{}", answer.body);
    }
    let id = ids(&app.get(list, &reviewer).await.json)[0];
    approve(&app, &reviewer, id).await;
    let grants = "/orgs/acme/personal-access-tokens?token_id=9100";
    for _ in 0..3 {
        assert_eq!(
            shown_expired(&app.get(grants, &reviewer).await),
            json!(false)
        );
        let answer = app.post(CHECK, &reviewer, &question).await;
        assert_eq!(answer.json["allowed"], true, "{}", answer.body);
    }
    let wait = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1100)).await;
    let res = app.get(grants, &reviewer).await;
    assert_eq!(shown_expired(&res), json!(true), "{}", res.body);
    let answer = app.post(CHECK, &reviewer, &question).await;
    assert_eq!(
        (
            answer.json["allowed"].clone(),
            answer.json["reason"].clone()
        ),
        (json!(false), json!("expired")),
        "{}",
        answer.body
    );
}

/// What was kept for one caller is not given to a caller without the permission (403), nor to
/// another organization's installation (404).
async fn a_kept_answer_still_checks_who_asks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    for _ in 0..2 {
        let res = app.get(LIST, &reviewer).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let res = app
            .post(
                CHECK,
                &reviewer,
                &json!({"token_id": 1001, "permission": "metadata", "level": "read"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let bystander = app.token_for(BYSTANDER).await;
    let res = app.get(LIST, &bystander).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = app
        .post(
            CHECK,
            &bystander,
            &json!({"token_id": 1001, "permission": "metadata", "level": "read"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let outsider = app.token_for(OUTSIDER).await;
    app.get(LIST, &outsider)
        .await
        .assert_error(StatusCode::NOT_FOUND, "Not Found");
    let res: Value = app.get(LIST, &reviewer).await.json;
    assert_eq!(ids(&res).len(), 5);
}

both_backends!(
    a_kept_answer_is_what_a_fresh_read_gives,
    a_write_shows_at_once_here_and_within_the_poll_interval_elsewhere,
    a_kept_answer_is_not_served_past_a_token_expiry,
    a_kept_answer_still_checks_who_asks,
);
