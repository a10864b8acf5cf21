//! An organization's webhooks (`/orgs/{org}/hooks`): GitHub's shapes through create, list,
//! get, update and delete; validation; who may read and change them; another organization's
//! hooks stay hidden; pings, deliveries, redeliveries and the backlog.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

const HOOKS: &str = "/orgs/acme/hooks";
const EVENT: &str = "personal_access_token_request";
const NOTIFICATION: &str = "personal_access_token_request_notification";
const DIGEST: &str = "personal_access_token_request_digest";
/// Nothing listens there: attempts fail at once and the deliveries stay pending (the first
/// retry is seconds away), so what the API shows of them does not move during a test.
const URL: &str = "http://127.0.0.1:9/acme-hook";

/// Creates a hook of `acme` with `body`, asserting the 201; the hook and its id.
async fn create(app: &TestApp, token: &str, body: &Value) -> (Value, i64) {
    let res = app.post(HOOKS, token, body).await;
    res.assert_status(StatusCode::CREATED);
    (res.json.clone(), res.id())
}

/// A running fixture, the reviewer's token and a hook of `acme` on [`URL`] with its id.
async fn with_a_hook(backend: Backend, config: Value) -> (TestApp, String, Value, i64) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let (hook, id) = create(&app, &token, &json!({"name": "web", "config": config})).await;
    (app, token, hook, id)
}

fn hook_path(id: i64) -> String {
    format!("{HOOKS}/{id}")
}

/// `rest` below the hook's path (`deliveries`, `backlog`, `config`, `pings`).
fn hook_part(id: i64, rest: &str) -> String {
    format!("{HOOKS}/{id}/{rest}")
}

/// Asserts a 422 "Validation Failed" naming `field` of `resource` with `code`.
fn assert_invalid(res: &Response, resource: &str, field: &str, code: &str) {
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    let error = &res.json["errors"][0];
    assert_eq!(error["resource"], resource, "{}", res.body);
    assert_eq!(error["field"], field, "{}", res.body);
    assert_eq!(error["code"], code, "{}", res.body);
    assert!(error["message"].is_string(), "{}", res.body);
}

fn is_timestamp(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z'))
}

async fn a_hook_goes_through_create_list_get_update_and_delete_in_githubs_shapes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let res = app
        .post(
            HOOKS,
            &token,
            &json!({
                "name": "web",
                "config": {"url": URL, "content_type": "json", "secret": "s3cr3t-value", "insecure_ssl": "0"},
                "events": [NOTIFICATION, EVENT, NOTIFICATION],
                "active": true,
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert!(!res.body.contains("s3cr3t-value"), "{}", res.body);
    let hook = res.json.clone();
    let id = hook["id"].as_i64().expect("id");
    let url = format!("{}/orgs/acme/hooks/{id}", app.base);
    assert_eq!(res.header("location"), Some(url.as_str()));
    assert_eq!(hook["url"], url);
    assert_eq!(hook["ping_url"], format!("{url}/pings"));
    assert_eq!(hook["deliveries_url"], format!("{url}/deliveries"));
    assert_eq!(hook["name"], "web");
    assert_eq!(hook["type"], "Organization");
    assert_eq!(hook["events"], json!([NOTIFICATION, EVENT]));
    assert_eq!(hook["active"], true);
    assert_eq!(
        hook["config"],
        json!({"url": URL, "content_type": "json", "insecure_ssl": "0", "secret": "********"})
    );
    assert!(is_timestamp(&hook["created_at"]), "{hook}");
    assert!(is_timestamp(&hook["updated_at"]), "{hook}");

    // The defaults: GitHub's insecure_ssl may also be the number 0.
    let (second, second_id) = create(
        &app,
        &token,
        &json!({"name": "web", "config": {"url": "http://127.0.0.1:9/b", "insecure_ssl": 0}}),
    )
    .await;
    assert_eq!(second["events"], json!([EVENT]));
    assert_eq!(second["active"], true);
    assert_eq!(
        second["config"],
        json!({"url": "http://127.0.0.1:9/b", "content_type": "json", "insecure_ssl": "0"})
    );

    // Oldest first, paginated.
    let res = app.get(HOOKS, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(ids(&res.json), vec![id, second_id]);
    assert_eq!(res.json[0], hook);
    assert!(res.header("link").is_none());
    let res = app.get(&format!("{HOOKS}?per_page=1"), &token).await;
    assert_eq!(ids(&res.json), vec![id]);
    let link = res.header("link").expect("Link header");
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=2>; rel=\"last\""), "{link}");
    let res = app.get(&format!("{HOOKS}?per_page=1&page=2"), &token).await;
    assert_eq!(ids(&res.json), vec![second_id]);
    assert!(res
        .header("link")
        .is_some_and(|l| l.contains("rel=\"prev\"")));
    let res = app.get(&format!("{HOOKS}?per_page=zero"), &token).await;
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request");
    assert_eq!(res.json["errors"][0]["field"], "per_page", "{}", res.body);

    let res = app.get(&hook_path(id), &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json, hook);

    // Fields left out stay as they are.
    let res = app
        .patch(
            &hook_path(id),
            &token,
            &json!({
                "active": false,
                "add_events": [DIGEST, EVENT],
                "remove_events": [NOTIFICATION],
                "config": {"content_type": "form"},
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json["events"], json!([EVENT, DIGEST]));
    assert_eq!(res.json["active"], false);
    assert_eq!(
        res.json["config"],
        json!({"url": URL, "content_type": "form", "insecure_ssl": "0", "secret": "********"})
    );
    assert_eq!(res.json["created_at"], hook["created_at"]);
    let res = app
        .patch(
            &hook_path(id),
            &token,
            &json!({"name": "web", "events": ["*"], "config": {"secret": ""}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json["events"], json!(["*"]));
    assert_eq!(res.json["active"], false);
    assert!(res.json["config"].get("secret").is_none(), "{}", res.body);
    let res = app.get(&hook_path(id), &token).await;
    assert_eq!(res.json["events"], json!(["*"]));

    // The configuration on its own.
    let config = hook_part(id, "config");
    let res = app.get(&config, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.json,
        json!({"url": URL, "content_type": "form", "insecure_ssl": "0"})
    );
    let moved = "http://127.0.0.1:9/moved?via=patgate";
    let res = app
        .patch(
            &config,
            &token,
            &json!({"url": moved, "secret": "another", "content_type": "json"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.json,
        json!({"url": moved, "content_type": "json", "insecure_ssl": "0", "secret": "********"})
    );
    let res = app.get(&hook_path(id), &token).await;
    assert_eq!(res.json["config"]["url"], moved);
    assert_eq!(res.json["events"], json!(["*"]));

    let res = app.delete(&hook_path(id), &token).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert!(res.body.is_empty());
    let res = app.get(&hook_path(id), &token).await;
    res.assert_not_found();
    let res = app.get(&config, &token).await;
    res.assert_not_found();
    let res = app.delete(&hook_path(id), &token).await;
    res.assert_not_found();
    let res = app.get(HOOKS, &token).await;
    assert_eq!(ids(&res.json), vec![second_id]);
}

async fn every_invalid_body_is_a_422_naming_the_field_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let config = json!({"url": URL});
    let long_secret = "s".repeat(257);
    let creates = [
        (json!({"config": config}), "name", "missing_field"),
        (
            json!({"name": "email", "config": config}),
            "name",
            "invalid",
        ),
        (json!({"name": "web"}), "config", "missing_field"),
        (json!({"name": "web", "config": "x"}), "config", "invalid"),
        (json!({"name": "web", "config": {}}), "url", "missing_field"),
        (
            json!({"name": "web", "config": {"url": 7}}),
            "url",
            "invalid",
        ),
        (
            json!({"name": "web", "config": {"url": "ftp://example.com/"}}),
            "url",
            "invalid",
        ),
        (
            json!({"name": "web", "config": {"url": "https://user:pw@example.com/"}}),
            "url",
            "invalid",
        ),
        (
            json!({"name": "web", "config": {"url": URL, "content_type": "xml"}}),
            "content_type",
            "invalid",
        ),
        (
            json!({"name": "web", "config": {"url": URL, "secret": long_secret}}),
            "secret",
            "invalid",
        ),
        (
            json!({"name": "web", "config": {"url": URL, "insecure_ssl": "1"}}),
            "insecure_ssl",
            "invalid",
        ),
        (
            json!({"name": "web", "config": {"url": URL, "insecure_ssl": 1}}),
            "insecure_ssl",
            "invalid",
        ),
        (
            json!({"name": "web", "config": {"url": URL, "username": "u"}}),
            "username",
            "invalid",
        ),
        (
            json!({"name": "web", "config": config, "events": []}),
            "events",
            "invalid",
        ),
        (
            json!({"name": "web", "config": config, "events": ["push"]}),
            "events",
            "invalid",
        ),
        (
            json!({"name": "web", "config": config, "events": EVENT}),
            "events",
            "invalid",
        ),
        (
            json!({"name": "web", "config": config, "active": "yes"}),
            "active",
            "invalid",
        ),
        (
            json!({"name": "web", "config": config, "add_events": [EVENT]}),
            "add_events",
            "invalid",
        ),
        (
            json!({"name": "web", "config": config, "color": "red"}),
            "color",
            "invalid",
        ),
    ];
    for (body, field, code) in &creates {
        let res = app.post(HOOKS, &token, body).await;
        assert_invalid(&res, "Hook", field, code);
    }
    let res = app.post_nothing(HOOKS, &token).await;
    res.assert_error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    for raw in ["{", "[]", "null"] {
        let res = app
            .send(
                Method::POST,
                HOOKS,
                Some(&format!("Bearer {token}")),
                Some(raw),
            )
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{raw:?}: {}", res.body);
    }
    let res = app.get(HOOKS, &token).await;
    assert_eq!(res.json, json!([]), "a refused create left a hook");

    let (hook, id) = create(
        &app,
        &token,
        &json!({"name": "web", "config": {"url": URL, "secret": "kept"}}),
    )
    .await;
    let updates = [
        (json!({"config": {"url": ""}}), "url", "invalid"),
        (json!({"config": {"url": null}}), "url", "missing_field"),
        (json!({"config": {"url": "https://a@b/"}}), "url", "invalid"),
        (
            json!({"config": {"content_type": "xml"}}),
            "content_type",
            "invalid",
        ),
        (
            json!({"config": {"insecure_ssl": "1"}}),
            "insecure_ssl",
            "invalid",
        ),
        (json!({"config": []}), "config", "invalid"),
        (json!({"events": []}), "events", "invalid"),
        (json!({"events": ["*", "ping"]}), "events", "invalid"),
        (json!({"add_events": ["push"]}), "add_events", "invalid"),
        (
            json!({"remove_events": [EVENT]}),
            "remove_events",
            "invalid",
        ),
        (json!({"name": "email"}), "name", "invalid"),
        (json!({"active": 1}), "active", "invalid"),
        (json!({"url": URL}), "url", "invalid"),
    ];
    for (body, field, code) in &updates {
        let res = app.patch(&hook_path(id), &token, body).await;
        assert_invalid(&res, "Hook", field, code);
    }
    let res = app
        .send(
            Method::PATCH,
            &hook_path(id),
            Some(&format!("Bearer {token}")),
            Some("{\"active\": tru"),
        )
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    let config_path = hook_part(id, "config");
    let config_updates = [
        (json!({"url": "not a url"}), "url", "invalid"),
        (json!({"url": null}), "url", "missing_field"),
        (json!({"content_type": "xml"}), "content_type", "invalid"),
        (json!({"secret": long_secret}), "secret", "invalid"),
        (json!({"insecure_ssl": "1"}), "insecure_ssl", "invalid"),
        (json!({"events": [EVENT]}), "events", "invalid"),
    ];
    for (body, field, code) in &config_updates {
        let res = app.patch(&config_path, &token, body).await;
        assert_invalid(&res, "HookConfig", field, code);
    }
    let res = app.get(&hook_path(id), &token).await;
    assert_eq!(res.json, hook, "a refused update changed the hook");
}

async fn reading_needs_hooks_read_and_changing_needs_hooks_write(backend: Backend) {
    let (app, reviewer, hook, id) = with_a_hook(backend, json!({ "url": URL })).await;
    let deliveries = hook_part(id, "deliveries");
    let res = app.get(&deliveries, &reviewer).await;
    let delivery = ids(&res.json)[0];

    let reader = app.token_for(READER).await;
    for path in [
        HOOKS.to_owned(),
        hook_path(id),
        hook_part(id, "config"),
        deliveries.clone(),
        format!("{deliveries}/{delivery}"),
        hook_part(id, "backlog"),
    ] {
        let res = app.get(&path, &reader).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    }
    let valid = json!({"name": "web", "config": {"url": URL}});
    let writes = [
        (Method::POST, HOOKS.to_owned(), Some(valid.clone())),
        // The permission is checked before the body.
        (
            Method::POST,
            HOOKS.to_owned(),
            Some(json!({"name": "nope"})),
        ),
        (Method::PATCH, hook_path(id), Some(json!({"active": false}))),
        (
            Method::PATCH,
            hook_part(id, "config"),
            Some(json!({"url": "https://x.example/"})),
        ),
        (Method::DELETE, hook_path(id), None),
        (Method::POST, hook_part(id, "pings"), None),
        (
            Method::POST,
            format!("{deliveries}/{delivery}/attempts"),
            None,
        ),
    ];
    for (method, path, body) in &writes {
        let res = app.call(method.clone(), path, &reader, body.as_ref()).await;
        res.assert_forbidden("organization_hooks=write");
    }

    let bystander = app.token_for(BYSTANDER).await;
    let res = app.get(HOOKS, &bystander).await;
    res.assert_forbidden("organization_hooks=read");
    let res = app.get(&hook_path(id), &bystander).await;
    res.assert_forbidden("organization_hooks=read");
    let res = app.get(&hook_part(id, "backlog"), &bystander).await;
    res.assert_forbidden("organization_hooks=read");
    let res = app.post(HOOKS, &bystander, &valid).await;
    res.assert_forbidden("organization_hooks=write");

    // Nothing changed: one hook, as created, with its one ping.
    let res = app.get(HOOKS, &reviewer).await;
    assert_eq!(res.json, json!([hook]));
    let res = app.get(&deliveries, &reviewer).await;
    assert_eq!(ids(&res.json), vec![delivery]);
}

async fn another_organizations_installation_sees_none_of_acmes_hooks(backend: Backend) {
    let (app, reviewer, hook, id) = with_a_hook(backend, json!({ "url": URL })).await;
    let delivery = ids(&app.get(&hook_part(id, "deliveries"), &reviewer).await.json)[0];

    let outsider = app.token_for(OUTSIDER).await;
    let valid = json!({"name": "web", "config": {"url": URL}});
    for org in [ORG, OTHER_ORG] {
        let hook = format!("/orgs/{org}/hooks/{id}");
        let mut calls = vec![
            (Method::GET, hook.clone(), None),
            (Method::PATCH, hook.clone(), Some(json!({"active": false}))),
            (Method::DELETE, hook.clone(), None),
            (Method::GET, format!("{hook}/config"), None),
            (
                Method::PATCH,
                format!("{hook}/config"),
                Some(json!({"url": URL})),
            ),
            (Method::GET, format!("{hook}/deliveries"), None),
            (Method::GET, format!("{hook}/deliveries/{delivery}"), None),
            (
                Method::POST,
                format!("{hook}/deliveries/{delivery}/attempts"),
                None,
            ),
            (Method::POST, format!("{hook}/pings"), None),
            (Method::GET, format!("{hook}/backlog"), None),
        ];
        if org == ORG {
            calls.push((Method::GET, HOOKS.to_owned(), None));
            calls.push((Method::POST, HOOKS.to_owned(), Some(valid.clone())));
        }
        for (method, path, body) in &calls {
            let res = app
                .call(method.clone(), path, &outsider, body.as_ref())
                .await;
            res.assert_not_found();
        }
    }

    // The outsider's own hook is just as hidden from acme.
    let theirs = app.post("/orgs/globex/hooks", &outsider, &valid).await;
    theirs.assert_status(StatusCode::CREATED);
    let theirs_id = theirs.id();
    assert_eq!(
        theirs.json["url"],
        format!("{}/orgs/globex/hooks/{theirs_id}", app.base)
    );
    let res = app.get("/orgs/globex/hooks", &outsider).await;
    assert_eq!(ids(&res.json), vec![theirs_id]);
    for path in [
        hook_path(theirs_id),
        hook_part(theirs_id, "deliveries"),
        hook_part(theirs_id, "backlog"),
        hook_path(999_999),
    ] {
        let res = app.get(&path, &reviewer).await;
        res.assert_not_found();
    }
    // A delivery of one hook is not reachable through another hook of the same organization.
    let (_, other_id) = create(
        &app,
        &reviewer,
        &json!({"name": "web", "config": {"url": URL}, "active": false}),
    )
    .await;
    let res = app
        .get(
            &hook_part(other_id, &format!("deliveries/{delivery}")),
            &reviewer,
        )
        .await;
    res.assert_not_found();

    // acme's hook is untouched.
    let res = app.get(HOOKS, &reviewer).await;
    assert_eq!(ids(&res.json), vec![id, other_id]);
    assert_eq!(res.json[0], hook);
}

async fn deliveries_pings_redeliveries_and_the_backlog_of_a_hook(backend: Backend) {
    let (app, token, _, id) = with_a_hook(backend, json!({"url": URL, "secret": "shh"})).await;
    let deliveries = hook_part(id, "deliveries");
    let backlog = hook_part(id, "backlog");

    // Creating an active hook queues a ping.
    let res = app.get(&deliveries, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let items = res.json.as_array().expect("array").clone();
    assert_eq!(items.len(), 1, "{}", res.body);
    let ping = &items[0];
    assert_eq!(ping["event"], "ping");
    assert_eq!(ping["action"], Value::Null);
    assert_eq!(ping["redelivery"], false);
    assert_eq!(ping["installation_id"], Value::Null);
    assert_eq!(ping["guid"].as_str().map(str::len), Some(36));
    let ping_id = ping["id"].as_i64().expect("id");
    let res = app.get(&format!("{deliveries}/{ping_id}"), &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json["id"], ping_id);
    assert_eq!(res.json["event"], "ping");
    let headers = &res.json["request"]["headers"];
    assert_eq!(headers["X-GitHub-Event"], "ping");
    assert_eq!(headers["X-GitHub-Delivery"], ping["guid"]);
    assert_eq!(headers["X-GitHub-Hook-ID"], id.to_string());
    assert_eq!(
        headers["X-GitHub-Hook-Installation-Target-Type"],
        "organization"
    );
    let payload = &res.json["request"]["payload"];
    assert_eq!(payload["hook_id"], id);
    assert_eq!(payload["hook"]["id"], id);
    assert_eq!(payload["hook"]["config"]["secret"], "********");
    assert_eq!(payload["organization"]["login"], "acme");
    assert!(!res.body.contains("shh\""), "{}", res.body);
    let res = app.get(&format!("{deliveries}/999999"), &token).await;
    res.assert_not_found();

    // Nothing listens at the URL: the ping waits to be retried.
    let res = app.get(&backlog, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json["pending"], 1, "{}", res.body);
    assert_eq!(res.json["failed"], 0, "{}", res.body);
    assert!(is_timestamp(&res.json["oldest_pending_at"]), "{}", res.body);
    assert!(res.json["lag_seconds"].as_i64().is_some_and(|s| s >= 0));

    // A ping on demand.
    let res = app.post_nothing(&hook_part(id, "pings"), &token).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res = app.get(&deliveries, &token).await;
    let listed = ids(&res.json);
    assert_eq!(listed.len(), 2, "{}", res.body);
    assert_eq!(listed[1], ping_id, "newest first");
    assert_eq!(res.json[0]["event"], "ping");
    assert_ne!(res.json[0]["guid"], ping["guid"]);
    let res = app.get(&backlog, &token).await;
    assert_eq!(res.json["pending"], 2, "{}", res.body);

    // A redelivery is a new delivery with the same GUID.
    let res = app
        .post_nothing(&format!("{deliveries}/{ping_id}/attempts"), &token)
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.json, json!({}));
    let res = app.get(&deliveries, &token).await;
    assert_eq!(res.json.as_array().map(Vec::len), Some(3), "{}", res.body);
    let copy = &res.json[0];
    assert_ne!(copy["id"], ping_id);
    assert_eq!(copy["guid"], ping["guid"]);
    assert_eq!(copy["redelivery"], true);
    assert_eq!(copy["event"], "ping");
    let res = app.get(&backlog, &token).await;
    assert_eq!(res.json["pending"], 3, "{}", res.body);
    let res = app
        .post_nothing(&format!("{deliveries}/999999/attempts"), &token)
        .await;
    res.assert_not_found();

    // Paginated like every list.
    let res = app.get(&format!("{deliveries}?per_page=2"), &token).await;
    assert_eq!(res.json.as_array().map(Vec::len), Some(2));
    assert!(res
        .header("link")
        .is_some_and(|l| l.contains("page=2>; rel=\"next\"")));
    let res = app
        .get(&format!("{deliveries}?per_page=2&page=2"), &token)
        .await;
    assert_eq!(ids(&res.json), vec![ping_id]);

    // An inactive hook is not pinged on creation.
    let (_, quiet_id) = create(
        &app,
        &token,
        &json!({"name": "web", "config": {"url": URL}, "active": false}),
    )
    .await;
    let res = app.get(&hook_part(quiet_id, "deliveries"), &token).await;
    assert_eq!(res.json, json!([]));
    let res = app.get(&hook_part(quiet_id, "backlog"), &token).await;
    assert_eq!(res.json["pending"], 0, "{}", res.body);
    assert_eq!(res.json["oldest_pending_at"], Value::Null);

    // Deleting the hook deletes its deliveries.
    let res = app.delete(&hook_path(id), &token).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    for path in [
        deliveries.clone(),
        format!("{deliveries}/{ping_id}"),
        backlog.clone(),
    ] {
        let res = app.get(&path, &token).await;
        res.assert_not_found();
    }
    let redeliver = format!("{deliveries}/{ping_id}/attempts");
    app.post_nothing(&redeliver, &token)
        .await
        .assert_not_found();
}

both_backends!(
    a_hook_goes_through_create_list_get_update_and_delete_in_githubs_shapes,
    every_invalid_body_is_a_422_naming_the_field_and_changes_nothing,
    reading_needs_hooks_read_and_changing_needs_hooks_write,
    another_organizations_installation_sees_none_of_acmes_hooks,
    deliveries_pings_redeliveries_and_the_backlog_of_a_hook,
);
