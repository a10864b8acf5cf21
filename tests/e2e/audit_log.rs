//! `GET /orgs/{org}/audit-log`: GitHub's audit log shape for token governance, its `phrase` search, order and cursor paging through `Link`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const LOG: &str = "/orgs/acme/audit-log";

fn filing(token_id: i64) -> Value {
    zed_filing(
        token_id,
        "none",
        &[],
        json!({"organization": {"members": "read"}}),
    )
}

/// zed files three requests; the reviewer approves one ("ok"), denies one ("too broad"); the
/// issuer withdraws the third; the reviewer revokes the approved one's grant ("left").
async fn history(app: &TestApp) -> (String, Vec<i64>) {
    let issuer = app.token_for(ISSUER).await;
    let reviewer = app.token_for(REVIEWER).await;
    let mut ids = Vec::new();
    for token in [8801, 8802, 8803] {
        ids.push(
            app.file_as(&issuer, &filing(token), StatusCode::CREATED)
                .await,
        );
    }
    for (id, body) in [
        (ids[0], json!({"action": "approve", "reason": "ok"})),
        (ids[1], json!({"action": "deny", "reason": "too broad"})),
    ] {
        app.review(&reviewer, id, &body).await;
    }
    let res = app
        .delete(&format!("{INTAKE_PATH}/{}", ids[2]), &issuer)
        .await;
    assert!(res.status.is_success(), "{}", res.body);
    let grant = app.grant_of_token(&reviewer, 8801).await;
    app.revoke(&reviewer, grant, Some("left")).await;
    (reviewer, ids)
}

fn query(phrase: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("phrase", phrase);
    format!("{LOG}?{}", s.finish())
}

/// The URL of relation `rel` in a `Link` header, relative to the server.
fn rel(res: &Response, base: &str, rel: &str) -> Option<String> {
    link(res.header("link")?, rel).map(|url| url.trim_start_matches(base).to_owned())
}

/// The `_document_id` of every event of a page.
fn documents(res: &Response) -> Vec<String> {
    res.items()
        .iter()
        .map(|e| e["_document_id"].as_str().expect("id").to_owned())
        .collect()
}

async fn token_events_have_githubs_actions_and_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (reviewer, ids) = history(&app).await;

    let res = app.get(&query("user:zed"), &reviewer).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        actions(&res.json),
        [
            "personal_access_token.access_revoked",
            "personal_access_token.request_cancelled",
            "personal_access_token.request_denied",
            "personal_access_token.access_granted",
            "personal_access_token.request_created",
            "personal_access_token.request_created",
            "personal_access_token.request_created",
        ],
        "newest first: {}",
        res.body
    );
    let granted = &res.json[3];
    assert_eq!(granted["actor"], "reviewer[bot]");
    assert_eq!(granted["actor_is_bot"], true);
    assert_eq!(granted["user"], "zed");
    assert_eq!(granted["org"], ORG);
    assert_eq!(granted["operation_type"], "create");
    assert_eq!(granted["user_programmatic_access_name"], "zed-8801");
    assert_eq!(granted["user_programmatic_access_request_id"], ids[0]);
    assert_eq!(granted["reason"], "ok");
    assert!(granted["@timestamp"]
        .as_i64()
        .is_some_and(|ms| ms > 1_700_000_000_000));
    assert_eq!(granted["@timestamp"], granted["created_at"]);
    let created = &res.json[6];
    assert_eq!(created["actor"], "zed", "the owner files the request");
    assert_eq!(created["actor_is_bot"], false);
    assert_eq!(res.json[0]["reason"], "left");
    assert_eq!(res.json[0]["operation_type"], "remove");
    let documents: BTreeSet<String> = documents(&res).into_iter().collect();
    assert_eq!(documents.len(), 7);

    // phrase: action (exact, prefix, negated), operation, actor (bot or user), created.
    for (phrase, want) in [
        (
            "user:zed action:personal_access_token.access_granted",
            vec!["personal_access_token.access_granted"],
        ),
        (
            "actor:reviewer[bot] user:zed -action:personal_access_token.access_revoked",
            vec![
                "personal_access_token.request_denied",
                "personal_access_token.access_granted",
            ],
        ),
        (
            "actor:zed operation:remove",
            vec!["personal_access_token.request_cancelled"],
        ),
        ("user:zed action:personal_access_token.request", vec![]),
        ("actor:nobody-we-know", vec![]),
        ("actor:no-such-app[bot]", vec![]),
    ] {
        let res = app.get(&query(phrase), &reviewer).await;
        assert_eq!(res.status, StatusCode::OK, "{phrase}: {}", res.body);
        assert_eq!(actions(&res.json), want, "{phrase}");
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let res = app
        .get(&query(&format!("user:zed created:{today}")), &reviewer)
        .await;
    assert_eq!(actions(&res.json).len(), 7, "{}", res.body);
    let res = app
        .get(&query(&format!("user:zed created:>={tomorrow}")), &reviewer)
        .await;
    assert_eq!(res.json, json!([]));
    // Ascending is the same events, oldest first; git events: none.
    let res = app
        .get(&format!("{}&order=asc", query("user:zed")), &reviewer)
        .await;
    assert_eq!(
        res.json[0]["action"],
        "personal_access_token.request_created"
    );
    let res = app
        .get(&format!("{}&include=git", query("user:zed")), &reviewer)
        .await;
    assert_eq!(res.json, json!([]));
}

async fn pages_follow_cursors_both_ways(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (reviewer, _) = history(&app).await;
    let first = format!("{}&per_page=2", query("user:zed"));
    let mut url = Some(first.clone());
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut last = None;
    while let Some(u) = url {
        let res = app.get(&u, &reviewer).await;
        assert_eq!(res.status, StatusCode::OK, "{u}: {}", res.body);
        assert!(
            rel(&res, &app.base, "last").is_none(),
            "cursor lists name no last page"
        );
        if pages.is_empty() {
            assert!(
                rel(&res, &app.base, "prev").is_none() && rel(&res, &app.base, "first").is_none()
            );
        } else {
            assert!(rel(&res, &app.base, "first").is_some_and(|f| f.contains("after=&before=")));
        }
        pages.push(documents(&res));
        url = rel(&res, &app.base, "next");
        assert!(pages.len() <= 5, "runaway paging");
        last = Some(res);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 1]);
    let all: BTreeSet<&String> = pages.iter().flatten().collect();
    assert_eq!(all.len(), 7, "every event once");
    // Back from the last page through `prev`, the same pages in reverse.
    let mut back = Vec::new();
    let mut url = rel(last.as_ref().expect("a last page"), &app.base, "prev");
    while let Some(u) = url {
        let res = app.get(&u, &reviewer).await;
        assert_eq!(res.status, StatusCode::OK, "{u}: {}", res.body);
        back.push(documents(&res));
        url = rel(&res, &app.base, "prev");
        assert!(back.len() <= 5, "runaway paging");
    }
    back.reverse();
    assert_eq!(back, pages[..3].to_vec());
}

async fn bad_parameters_are_422_and_callers_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    for (q, field) in [
        (query("repo:acme/api"), "phrase"),
        (query("created:soon"), "phrase"),
        (format!("{LOG}?include=everything"), "include"),
        (format!("{LOG}?order=sideways"), "order"),
        (format!("{LOG}?after=xyz"), "after"),
        (format!("{LOG}?after=v1_1_1&before=v1_1_2"), "before"),
        (format!("{LOG}?per_page=0"), "per_page"),
    ] {
        let res = app.get(&q, &reviewer).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            res.body
        );
        assert_eq!(res.json["errors"][0]["field"], field, "{q}: {}", res.body);
    }
    // organization_administration: read is needed; another organization is not found.
    let reader = app.token_for(READER).await;
    app.get(LOG, &reader).await.assert_not_accessible();
    let outsider = app.token_for(OUTSIDER).await;
    app.get(LOG, &outsider).await.assert_not_found();
}

both_backends!(
    token_events_have_githubs_actions_and_fields,
    pages_follow_cursors_both_ways,
    bad_parameters_are_422_and_callers_are_checked,
);
