//! Answers kept in memory for repeated reads: the same bytes as a fresh read, never stale after
//! a write here, followed within the poll interval when another instance writes, never served
//! past a token's expiry, and never to a caller who may not see them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = "/orgs/acme/personal-access-token-requests?per_page=5&sort=created_at";
const GRANTS: &str = GRANTS_PATH;
const CHECK: &str = CHECK_PATH;
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

/// `GET path`, or `POST path` with `body`.
async fn read(app: &TestApp, path: &str, token: &str, body: Option<&Value>) -> Response {
    match body {
        Some(body) => app.post(path, token, body).await,
        None => app.get(path, token).await,
    }
}

/// Asks `path` until `done` holds for the answer; how long that took. Fails past the bound.
async fn until(
    app: &TestApp,
    path: &str,
    token: &str,
    done: impl Fn(&Response) -> bool,
) -> Duration {
    let every = Duration::from_millis(10);
    until_answer(app, path, token, PROPAGATION_BOUND, every, done).await
}

/// A kept answer is byte for byte what an instance that keeps nothing reads from the store:
/// body, `Link` and content type.
async fn a_kept_answer_is_what_a_fresh_read_gives(backend: Backend) {
    let (dir, url) = TestApp::prepare(backend);
    // One public base URL, so that both write the same links.
    let base = "--expiry-interval 0 --base-url https://patgate.test";
    let keeping = TestApp::start_with(dir.clone(), url.clone(), &args(base));
    let fresh = TestApp::start_with(dir, url, &args(&format!("{base} --response-cache-mb 0")));
    let token = keeping.token_for(REVIEWER).await;
    // Both instances write once as they start (the digest period); a commit seen from another
    // connection makes kept answers stale. Settle first: a warm-up page is kept once those
    // writes are behind.
    let warm_up = "/orgs/acme/personal-access-token-requests?per_page=1";
    until(&keeping, warm_up, &token, kept).await;
    let check = metadata_question(1001);
    for (path, body) in [
        (LIST, None),
        (GRANTS, None),
        (
            "/orgs/acme/personal-access-token-requests/1/repositories",
            None,
        ),
        (CHECK, Some(&check)),
    ] {
        let first = read(&keeping, path, &token, body).await;
        assert_eq!(first.status, StatusCode::OK, "{path}: {}", first.body);
        let again = read(&keeping, path, &token, body).await;
        let fresh_read = read(&fresh, path, &token, body).await;
        assert!(
            !kept(&first) && kept(&again) && !kept(&fresh_read),
            "{path}: kept only the second time"
        );
        assert_eq!(shown(&again), shown(&first), "{path}");
        assert_eq!(shown(&again), shown(&fresh_read), "{path}");
    }
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
    a.approve(&token, listed[0]).await;
    let read = a.get(LIST, &token).await;
    assert!(!kept(&read), "the write dropped the kept list here");
    let after = ids(&read.json);
    assert!(!after.contains(&listed[0]), "stale here: {after:?}");
    let took = until(&b, LIST, &token, |res| !ids(&res.json).contains(&listed[0])).await;
    eprintln!("the review reached the other instance's kept list in {took:?}");
    // And the other way round.
    b.approve(&token, listed[1]).await;
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
    app.file_as(&issuer, &filing, StatusCode::CREATED).await;
    let list = "/orgs/acme/personal-access-token-requests?token_id=9100";
    let question = metadata_question(9100);
    let shown_expired = |res: &Response| res.json[0]["token_expired"].clone();
    for _ in 0..3 {
        assert_eq!(shown_expired(&app.get(list, &reviewer).await), json!(false));
        let answer = app.post(CHECK, &reviewer, &question).await;
        assert_eq!(answer.json["reason"], "pending", "{}", answer.body);
    }
    let id = ids(&app.get(list, &reviewer).await.json)[0];
    app.approve(&reviewer, id).await;
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
    let bystander = app.token_for(BYSTANDER).await;
    let check = metadata_question(1001);
    for (token, status) in [
        (&reviewer, StatusCode::OK),
        (&reviewer, StatusCode::OK),
        (&bystander, StatusCode::FORBIDDEN),
    ] {
        for (path, body) in [(LIST, None), (CHECK, Some(&check))] {
            read(&app, path, token, body).await.assert_status(status);
        }
    }
    let outsider = app.token_for(OUTSIDER).await;
    app.get(LIST, &outsider).await.assert_not_found();
    let res: Value = app.get(LIST, &reviewer).await.json;
    assert_eq!(ids(&res).len(), 5);
}

both_backends!(
    a_kept_answer_is_what_a_fresh_read_gives,
    a_write_shows_at_once_here_and_within_the_poll_interval_elsewhere,
    a_kept_answer_is_not_served_past_a_token_expiry,
    a_kept_answer_still_checks_who_asks,
);
