//! Listing requests: order, every filter in every form clients send, `Link` paging, and a request's repositories.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = REQUESTS_PATH;

/// The fixture index `i` of a listed request (its token is named `token-{i}`).
fn index(item: &Value) -> usize {
    item["token_name"]
        .as_str()
        .and_then(|n| n.strip_prefix("token-"))
        .and_then(|n| n.parse().ok())
        .expect("fixture token name")
}

fn indexes(json: &Value) -> Vec<usize> {
    json.as_array().expect("array").iter().map(index).collect()
}

/// Fixture indexes matching `keep`, in the default order (newest first).
fn expected(keep: impl Fn(usize) -> bool) -> Vec<usize> {
    (0..REQUESTS).rev().filter(|i| keep(*i)).collect()
}

/// The listed request of fixture index `i` in `all` (a whole list).
fn item_of(all: &Response, i: usize) -> &Value {
    all.items()
        .iter()
        .find(|item| index(item) == i)
        .expect("listed")
}

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<usize> {
    let res = app
        .get(&format!("{LIST}?per_page=100&{query}"), token)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.body);
    indexes(&res.json)
}

async fn requests_are_listed_newest_first_with_githubs_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let res = app.get(LIST, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(indexes(&res.json), expected(|_| true)[..30].to_vec());
    let item = &res.json[0];
    let i = index(item);
    assert_eq!(item["owner"]["login"], OWNERS[i % OWNERS.len()]);
    assert_eq!(item["owner"]["type"], "User");
    assert_eq!(item["reason"], format!("reason {i}"));
    assert_eq!(
        item["repository_selection"],
        ["none", "all", "subset"][i % 3]
    );
    assert_eq!(item["permissions"]["organization"]["members"], "read");
    assert_listed(item, "created_at", LIST);
    for field in [
        "token_id",
        "token_name",
        "token_expired",
        "token_expires_at",
        "token_last_used_at",
    ] {
        assert!(item.get(field).is_some(), "missing {field}");
    }
    // Expired tokens are flagged; never-used tokens have a null last use.
    let all = app.get(&format!("{LIST}?per_page=100"), &token).await;
    for item in all.json.as_array().expect("array") {
        let i = index(item);
        assert_eq!(item["token_expired"], i % 6 == 5, "token {i}");
        assert_eq!(
            item["token_last_used_at"].is_null(),
            fixture_last_used(i).is_none(),
            "token {i}"
        );
    }
    assert_eq!(list(&app, &token, "direction=asc").await, {
        let mut v = expected(|_| true);
        v.reverse();
        v
    });
}

/// Follows `rel="next"` links from the first page; returns every page's items.
async fn walk(app: &TestApp, token: &str, first: &str) -> Vec<Vec<usize>> {
    let mut pages = Vec::new();
    let mut next = Some(format!("{}{first}", app.base));
    while let Some(url) = next {
        let path = url.strip_prefix(&app.base).expect("same server").to_owned();
        let res = app.get(&path, token).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        pages.push(indexes(&res.json));
        next = res.header("link").and_then(|l| link(l, "next"));
        assert!(pages.len() <= 20, "runaway paging");
    }
    pages
}

async fn every_page_is_reachable_through_link_headers_without_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let pages = walk(&app, &token, &format!("{LIST}?per_page=7")).await;
    assert_eq!(pages.len(), 6);
    assert!(pages[..5].iter().all(|p| p.len() == 7));
    assert_eq!(pages[5].len(), 5);
    let flat: Vec<usize> = pages.concat();
    assert_eq!(flat, expected(|_| true));
    assert_eq!(flat.iter().collect::<BTreeSet<_>>().len(), REQUESTS);

    let first = app.get(&format!("{LIST}?per_page=7"), &token).await;
    let header = first.header("link").expect("link on page 1");
    assert!(link(header, "prev").is_none() && link(header, "first").is_none());
    assert!(link(header, "last")
        .expect("last")
        .ends_with("per_page=7&page=6"));
    let middle = app
        .get(
            &format!("{LIST}?per_page=7&page=3&owner=alice,bob,carol,dave"),
            &token,
        )
        .await;
    let header = middle.header("link").expect("link on page 3");
    for (rel, page) in [("first", 1), ("prev", 2), ("next", 4), ("last", 6)] {
        let url = link(header, rel).unwrap_or_else(|| panic!("no {rel}"));
        assert!(url.ends_with(&format!("page={page}")), "{rel}: {url}");
        assert!(
            url.contains("owner=alice%2Cbob%2Ccarol%2Cdave"),
            "{rel} keeps the filter: {url}"
        );
    }
    let last = app.get(&format!("{LIST}?per_page=7&page=6"), &token).await;
    let header = last.header("link").expect("link on last page");
    assert!(link(header, "next").is_none() && link(header, "last").is_none());
    let beyond = app.get(&format!("{LIST}?per_page=7&page=9"), &token).await;
    assert_eq!(beyond.json, serde_json::json!([]));
    // Everything on one page: no Link header.
    let whole = app.get(&format!("{LIST}?per_page=100"), &token).await;
    assert!(whole.header("link").is_none());
    // per_page above 100 is lowered to 100, as GitHub does.
    let capped = app.get(&format!("{LIST}?per_page=1000"), &token).await;
    assert_eq!(capped.status, StatusCode::OK);
}

/// The page number `rel` points at.
fn page_of_rel(header: &str, rel: &str) -> Option<usize> {
    link(header, rel)?.rsplit_once("page=")?.1.parse().ok()
}

async fn every_page_names_the_last_page_however_far_it_is(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let issues_read = expected(|i| i.is_multiple_of(4)).len();
    // One row a page: page 1 is 40 pages from the end, more than a page reads ahead.
    for (query, total) in [
        ("per_page=1", REQUESTS),
        ("per_page=1&permission=issues_read", issues_read),
        ("per_page=1&owner=alice,bob", REQUESTS / 2),
        ("per_page=1&direction=asc", REQUESTS),
    ] {
        for page in [1, 2, total / 2, total - 1] {
            let res = app
                .get(&format!("{LIST}?{query}&page={page}"), &token)
                .await;
            assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.body);
            let header = res.header("link").expect("link");
            assert_eq!(
                page_of_rel(header, "last"),
                Some(total),
                "{query} page {page}: {header}"
            );
            assert_eq!(
                page_of_rel(header, "next"),
                Some(page + 1),
                "{query}: {header}"
            );
            let first = (page > 1).then_some(1);
            assert_eq!(page_of_rel(header, "first"), first, "{query}: {header}");
            assert_eq!(
                page_of_rel(header, "prev"),
                page.checked_sub(1).filter(|p| *p > 0)
            );
        }
    }
    // A review changes the count at once: the last page moves.
    let id = app.pending_ids(&token).await[0];
    let res = app
        .post(
            &format!("{LIST}/{id}"),
            &token,
            &serde_json::json!({"action": "deny"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res = app.get(&format!("{LIST}?per_page=1"), &token).await;
    let header = res.header("link").expect("link");
    assert_eq!(page_of_rel(header, "last"), Some(REQUESTS - 1), "{header}");
}

async fn owners_may_be_given_in_every_array_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let want = expected(|i| i % 4 < 2);
    for query in [
        "owner=alice,bob",
        "owner[]=alice&owner[]=bob",
        "owner%5B%5D=alice&owner%5B%5D=bob",
        "owner=alice&owner=bob",
        "owner=ALICE,Bob",
    ] {
        assert_eq!(list(&app, &token, query).await, want, "{query}");
    }
    assert_eq!(
        list(&app, &token, "owner=nobody").await,
        Vec::<usize>::new()
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("user{i}")).collect();
    let res = app
        .get(&format!("{LIST}?owner={}", eleven.join(",")), &token)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json["errors"][0]["field"], "owner");
}

async fn token_ids_repository_permission_and_last_use_filter_the_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let all = app.get(&format!("{LIST}?per_page=100"), &token).await;
    let token_id = |i: usize| item_of(&all, i)["token_id"].as_i64().expect("token_id");
    let query = format!("token_id={},{}", token_id(3), token_id(7));
    assert_eq!(list(&app, &token, &query).await, vec![7, 3]);
    let query = format!("token_id[]={}&token_id[]={}", token_id(3), token_id(7));
    assert_eq!(list(&app, &token, &query).await, vec![7, 3]);
    let fifty_one: Vec<String> = (1..=51).map(|n| n.to_string()).collect();
    let res = app
        .get(&format!("{LIST}?token_id={}", fifty_one.join(",")), &token)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);

    // Tokens reaching `api`: every `all` request and the `subset` ones listing it.
    let reaches_api = |i: usize| i % 3 == 1 || (i % 3 == 2 && (i.is_multiple_of(5) || i % 5 == 4));
    assert_eq!(
        list(&app, &token, "repository=api").await,
        expected(reaches_api)
    );
    assert_eq!(
        list(&app, &token, "repository=API").await,
        expected(reaches_api)
    );
    assert_eq!(
        list(&app, &token, "repository=secret").await,
        Vec::<usize>::new()
    );

    assert_eq!(
        list(&app, &token, "permission=issues_read").await,
        expected(|i| i.is_multiple_of(4))
    );
    assert_eq!(
        list(&app, &token, "permission=issues_write").await,
        expected(|i| i % 4 == 1)
    );
    assert_eq!(
        list(&app, &token, "permission=members_read").await,
        expected(|_| true)
    );
    assert_eq!(
        list(&app, &token, "permission=members_write").await,
        Vec::<usize>::new()
    );

    let used = |i: usize| fixture_last_used(i).map(|_| 1 + i % 28);
    assert_eq!(
        list(&app, &token, "last_used_before=2026-01-10T00:00:00Z").await,
        expected(|i| used(i).is_some_and(|d| d <= 9))
    );
    assert_eq!(
        list(&app, &token, "last_used_after=2026-01-20T00:00:00Z").await,
        expected(|i| used(i).is_some_and(|d| d >= 20))
    );
    assert_eq!(
        list(
            &app,
            &token,
            "owner=carol&permission=contents_write&repository=web&direction=asc"
        )
        .await,
        {
            let reaches_web =
                |i: usize| i % 3 == 1 || (i % 3 == 2 && (i % 5 == 1 || i.is_multiple_of(5)));
            let mut v = expected(|i| i % 4 == 2 && reaches_web(i));
            v.reverse();
            v
        }
    );
}

async fn malformed_query_parameters_are_422_and_reported_together(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let res = app
        .get(&format!("{LIST}?sort=updated_at&direction=sideways&last_used_before=yesterday&permission=issues&per_page=0&token_id=abc"), &token)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.json["message"], "Invalid request");
    let fields: BTreeSet<&str> = res.json["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        [
            "direction",
            "last_used_before",
            "per_page",
            "permission",
            "sort",
            "token_id"
        ]
        .into_iter()
        .collect()
    );
    let res = app.get(&format!("{LIST}?page=-1"), &token).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
}

async fn a_requests_repositories_follow_its_selection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let all = app.get(&format!("{LIST}?per_page=100"), &token).await;
    let by_index = |i: usize| item_of(&all, i)["id"].as_i64().expect("id");
    // 2 is a subset request for REPOS[2] and REPOS[3].
    let res = app
        .get(&format!("{LIST}/{}/repositories", by_index(2)), &token)
        .await;
    res.assert_status(StatusCode::OK);
    let names: BTreeSet<&str> = res
        .items()
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, [REPOS[2], REPOS[3]].into_iter().collect());
    assert_eq!(res.json[0]["owner"]["login"], ORG);
    assert_eq!(res.json[0]["owner"]["type"], "Organization");
    assert!(res.json[0]["full_name"]
        .as_str()
        .expect("full_name")
        .starts_with("acme/"));
    // 1 asks for all repositories; 0 for none.
    let res = app
        .get(
            &format!("{LIST}/{}/repositories?per_page=2", by_index(1)),
            &token,
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.items().len(), 2);
    assert!(res
        .header("link")
        .is_some_and(|l| l.contains("rel=\"last\"")));
    let res = app
        .get(&format!("{LIST}/{}/repositories", by_index(0)), &token)
        .await;
    assert_eq!(res.json, serde_json::json!([]));
    for path in [
        format!("{LIST}/999999/repositories"),
        format!("{LIST}/abc/repositories"),
    ] {
        let res = app.get(&path, &token).await;
        res.assert_not_found();
    }
    // globex's requests do not exist for acme.
    let outsider = app.token_for(OUTSIDER).await;
    let theirs = app
        .get("/orgs/globex/personal-access-token-requests", &outsider)
        .await;
    let their_id = ids(&theirs.json)[0];
    let res = app
        .get(&format!("{LIST}/{their_id}/repositories"), &token)
        .await;
    res.assert_not_found();
}

both_backends!(
    requests_are_listed_newest_first_with_githubs_shape,
    every_page_is_reachable_through_link_headers_without_duplicates,
    every_page_names_the_last_page_however_far_it_is,
    owners_may_be_given_in_every_array_form,
    token_ids_repository_permission_and_last_use_filter_the_list,
    malformed_query_parameters_are_422_and_reported_together,
    a_requests_repositories_follow_its_selection,
);
