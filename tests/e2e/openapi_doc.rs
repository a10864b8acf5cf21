//! The committed OpenAPI document is what the code generates, and every operation is documented as integrators need.

use std::collections::BTreeSet;

use serde_json::Value;

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json exists");
    let generated = patgate_api::openapi_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    );
}

#[test]
fn the_committed_openapi_3_0_document_is_up_to_date() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/openapi-3.0.json"
    ))
    .expect("openapi/openapi-3.0.json exists");
    let generated = patgate_api::openapi_json_30();
    assert!(
        committed == generated,
        "openapi/openapi-3.0.json is stale: run `make openapi` and commit the result"
    );
}

/// Every place a 3.1-only construct could hide: `type` arrays or `"null"`, a `null` branch,
/// `$ref` with siblings (ignored by 3.0 readers), keys 3.0 does not know.
fn assert_openapi_3_0(value: &Value, at: &str) {
    match value {
        Value::Object(map) => {
            match map.get("type") {
                Some(Value::String(t)) => assert_ne!(t, "null", "{at}: type null"),
                Some(Value::Array(_)) => panic!("{at}: a type array"),
                _ => {}
            }
            if map.contains_key("$ref") {
                assert_eq!(map.len(), 1, "{at}: $ref with siblings");
            }
            for key in ["propertyNames", "const", "contentMediaType", "prefixItems"] {
                assert!(!map.contains_key(key), "{at}: 3.1-only key {key}");
            }
            for (key, child) in map {
                assert_openapi_3_0(child, &format!("{at}/{key}"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_openapi_3_0(item, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

#[test]
fn the_openapi_3_0_document_is_3_0_3_without_null_types() {
    let text = patgate_api::openapi_json_30();
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["info"]["license"].get("identifier").is_none());
    assert!(!text.contains(r#""null""#), "a \"null\" remains");
    assert_openapi_3_0(&doc, "");
    let ops = operations(&doc);
    assert_eq!(ops.len(), 54);
    for (method, path, op) in ops {
        for (status, response) in op["responses"].as_object().expect("responses") {
            assert!(
                response["description"].is_string(),
                "{method} {path} {status}: no description"
            );
        }
    }
    // Nullable fields stay nullable, in 3.0's words.
    let grant = &doc["components"]["schemas"]["PatGrant"]["properties"];
    assert_eq!(grant["token_expires_at"]["nullable"], true);
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            out.push((method.clone(), path.clone(), op));
        }
    }
    out
}

#[test]
fn every_operation_has_an_id_a_tag_security_and_error_responses() {
    let doc: Value = serde_json::from_str(&patgate_api::openapi_json()).expect("JSON");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let ops = operations(&doc);
    assert_eq!(
        ops.len(),
        54,
        "operations: {:?}",
        ops.iter().map(|o| &o.1).collect::<Vec<_>>()
    );
    let mut ids = BTreeSet::new();
    for (method, path, op) in ops {
        let what = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no operationId"));
        assert!(
            ids.insert(id.to_owned()),
            "{what}: duplicate operationId {id}"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{what}: no tag"
        );
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no security"));
        for requirement in security {
            for name in requirement.as_object().expect("requirement").keys() {
                assert!(schemes.contains_key(name), "{what}: unknown scheme {name}");
            }
        }
        let responses = op["responses"].as_object().expect("responses");
        assert!(responses.contains_key("401"), "{what}: no 401 response");
        assert!(
            responses.keys().any(|s| s.starts_with('4') && s != "401"),
            "{what}: no other error response"
        );
        for (status, response) in responses {
            assert!(
                response["description"].is_string(),
                "{what} {status}: no description"
            );
        }
    }
}

#[test]
fn operation_ids_match_githubs() {
    let doc: Value = serde_json::from_str(&patgate_api::openapi_json()).expect("JSON");
    // Method, path and GitHub's operationId, one operation a line.
    let expected = [
        "get /orgs/{org}/personal-access-tokens orgs/list-pat-grants",
        "post /orgs/{org}/personal-access-tokens orgs/update-pat-accesses",
        "post /orgs/{org}/personal-access-tokens/{pat_id} orgs/update-pat-access",
        "get /orgs/{org}/personal-access-tokens/{pat_id}/repositories orgs/list-pat-grant-repositories",
        "get /orgs/{org}/personal-access-token-requests orgs/list-pat-grant-requests",
        "post /orgs/{org}/personal-access-token-requests orgs/review-pat-grant-requests-in-bulk",
        "post /orgs/{org}/personal-access-token-requests/{pat_request_id} orgs/review-pat-grant-request",
        "get /orgs/{org}/personal-access-token-requests/{pat_request_id}/repositories orgs/list-pat-grant-request-repositories",
        "post /app/installations/{installation_id}/access_tokens apps/create-installation-access-token",
        "get /app/installations/{installation_id} apps/get-installation",
        "get /orgs/{org}/installation apps/get-org-installation",
        "get /app/installations apps/list-installations",
        "get /app apps/get-authenticated",
        "put /app/installations/{installation_id}/suspended apps/suspend-installation",
        "delete /app/installations/{installation_id}/suspended apps/unsuspend-installation",
        "delete /installation/token apps/revoke-installation-access-token",
        "get /orgs/{org}/hooks orgs/list-webhooks",
        "post /orgs/{org}/hooks orgs/create-webhook",
        "get /orgs/{org}/hooks/{hook_id} orgs/get-webhook",
        "patch /orgs/{org}/hooks/{hook_id} orgs/update-webhook",
        "delete /orgs/{org}/hooks/{hook_id} orgs/delete-webhook",
        "get /orgs/{org}/hooks/{hook_id}/config orgs/get-webhook-config-for-org",
        "patch /orgs/{org}/hooks/{hook_id}/config orgs/update-webhook-config-for-org",
        "get /orgs/{org}/hooks/{hook_id}/deliveries orgs/list-webhook-deliveries",
        "get /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id} orgs/get-webhook-delivery",
        "post /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts orgs/redeliver-webhook-delivery",
        "post /orgs/{org}/hooks/{hook_id}/pings orgs/ping-webhook",
    ];
    for line in expected {
        let [method, path, id] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("not three words: {line}");
        };
        assert_eq!(
            doc["paths"][path][method]["operationId"], id,
            "{method} {path}"
        );
    }
}

/// The API reference is served from the binary itself, with the document it renders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_is_served_offline_at_docs() {
    use crate::helpers::{Backend, TestApp};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = reqwest::Client::builder()
        .user_agent("e2e")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: &str| client.get(format!("{}{path}", app.base)).send();
    let text = |path: &'static str| async move {
        get(path).await.expect(path).text().await.expect("text")
    };
    let res = get("/docs").await.expect("docs");
    assert_eq!(res.status(), reqwest::StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/docs/");
    let page = text("/docs/").await;
    assert!(page.contains("swagger-ui"), "{page}");
    // Every asset the page loads comes from this server, not a CDN.
    assert!(
        !page.contains("https://"),
        "the page loads something from the internet: {page}"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let res = get(asset).await.expect("asset");
        assert_eq!(res.status(), reqwest::StatusCode::OK, "{asset}");
    }
    let initializer = text("/docs/swagger-initializer.js").await;
    assert!(initializer.contains("/docs/openapi.json"), "{initializer}");
    let doc: Value = get("/docs/openapi.json")
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    let committed: Value = serde_json::from_str(&patgate_api::openapi_json()).expect("json");
    assert_eq!(doc, committed);
}
