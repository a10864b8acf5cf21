//! The credential matrix: who may call what, and the status and body of every refusal.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = REQUESTS_PATH;

/// Every secured operation of the served OpenAPI document, its path filled in (`{org}` the
/// fixture's organization, `{enterprise}` any slug, every id 1), called without credentials:
/// 401 "Requires authentication". The list comes from the document, so an operation added
/// later is covered without anyone remembering to.
async fn every_secured_operation_without_credentials_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: serde_json::Value =
        serde_json::from_str(&patgate_api::openapi_json()).expect("the document");
    let mut called = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let secured = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
            });
            if !secured {
                continue;
            }
            let concrete = fill_path(path);
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let res = app.send(method.clone(), &concrete, None, Some("{}")).await;
            assert_eq!(
                res.status,
                StatusCode::UNAUTHORIZED,
                "{method} {concrete}: {}",
                res.body
            );
            res.assert_error(StatusCode::UNAUTHORIZED, "Requires authentication");
            called.push(format!("{method} {path}"));
        }
    }
    // Not vacuous: GitHub's eight request and grant operations alone are secured.
    assert!(
        called.len() >= 40,
        "only {} secured operations: {called:?}",
        called.len()
    );
}

/// A document path with its parameters filled in.
fn fill_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        out.push_str(match &rest[open + 1..close] {
            "org" => ORG,
            "enterprise" => "megacorp",
            _ => "1",
        });
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

async fn basic_auth_garbage_and_foreign_tokens_are_bad_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for auth in [
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer",
        "Bearer not-a-token",
        "Digest abc",
        "token ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        "Bearer ghs_eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    ] {
        let res = app.send(Method::GET, LIST, Some(auth), None).await;
        res.assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    // The same schemes are refused on the app endpoints, whatever credential follows them.
    for auth in [
        "Basic YWxpY2U6c2VjcmV0",
        "Basic ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "Digest abc",
    ] {
        let res = app.send(Method::GET, "/app", Some(auth), None).await;
        res.assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
}

async fn personal_oauth_user_and_refresh_tokens_are_refused_by_kind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body36 = "16C7e42F292c6912E7710c838347Ae178B4a";
    let fine = "github_pat_11ABCDEFG0123456789abc_0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI";
    let cases = [
        (
            format!("ghp_{body36}"),
            "Resource not accessible by personal access token",
        ),
        (
            fine.to_owned(),
            "Resource not accessible by personal access token",
        ),
        (
            format!("gho_{body36}"),
            "Resource not accessible by OAuth access token",
        ),
        (
            format!("ghu_{body36}"),
            "Resource not accessible by user access token",
        ),
        (
            format!("ghr_{body36}"),
            "Resource not accessible by refresh token",
        ),
    ];
    for (token, message) in cases {
        for scheme in ["Bearer", "token"] {
            let res = app
                .send(Method::GET, LIST, Some(&format!("{scheme} {token}")), None)
                .await;
            res.assert_error(StatusCode::FORBIDDEN, message);
        }
        let res = app.get("/app", &token).await;
        res.assert_error(StatusCode::FORBIDDEN, message);
    }
}

async fn installation_tokens_work_as_bearer_or_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    assert!(token.starts_with("ghs_"));
    for scheme in ["Bearer", "token", "TOKEN", "bearer"] {
        let res = app
            .send(Method::GET, LIST, Some(&format!("{scheme} {token}")), None)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{scheme}: {}", res.body);
    }
}

async fn forged_expired_and_foreign_installation_tokens_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    // Flip one character of the signature.
    let mut forged = token.clone();
    let last = forged.pop().expect("non-empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    // Claims changed without re-signing: more permissions, same signature.
    let parts: Vec<&str> = token.trim_start_matches("ghs_").split('.').collect();
    let tampered_claims = {
        let keys = app.server_keys();
        let minted = keys.verify(&token[4..]).expect("own token verifies");
        let mut claims = minted.clone();
        claims.org += 1;
        let other = keys.issue(claims).expect("issue");
        let other_parts: Vec<&str> = other.trim_start_matches("ghs_").split('.').collect();
        format!("ghs_{}.{}.{}", parts[0], other_parts[1], parts[2])
    };
    // Signed by a different server's key.
    let stranger = patgate_api::keys::ServerKeys::from_pem(
        &patgate_api::keys::generate_ed25519_pem().expect("key"),
    )
    .expect("key");
    let claims = app.server_keys().verify(&token[4..]).expect("verifies");
    let foreign = stranger.issue(claims.clone()).expect("issue");
    // Expired an hour ago, signed by this server.
    let mut old = claims.clone();
    old.iat -= 7200;
    old.exp = now() - 3600;
    let expired = app.server_keys().issue(old).expect("issue");
    // `alg: none` with the same claims.
    let none = format!("ghs_eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    for (what, bad) in [
        ("forged", forged),
        ("tampered", tampered_claims),
        ("foreign", foreign),
        ("expired", expired),
        ("alg none", none),
    ] {
        let res = app.get(LIST, &bad).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{what}: {}", res.body);
        res.assert_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
}

async fn an_app_jwt_cannot_call_organization_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app.get(LIST, &app_jwt(REVIEWER)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(res.json["message"]
        .as_str()
        .expect("message")
        .contains("installation access token"));
    // A JWT signed with an unregistered key is a bad credential, not the wrong kind.
    let forged = sign_app_jwt(
        &json!({"iat": now() - 30, "exp": now() + 500, "iss": REVIEWER}),
        stranger_private_key(),
    );
    let res = app.get(LIST, &forged).await;
    res.assert_error(
        StatusCode::UNAUTHORIZED,
        "A JSON web token could not be decoded",
    );
}

async fn an_installation_token_cannot_call_app_endpoints(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    for path in ["/app", "/app/installations", "/orgs/acme/installation"] {
        let res = app.get(path, &token).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {}", res.body);
    }
}

async fn app_jwts_follow_githubs_claim_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app_private_key();
    let t = now();
    let cases = [
        (json!({"iat": t - 30, "exp": t + 1200, "iss": REVIEWER}), "'Expiration time' claim ('exp') is too far in the future"),
        (json!({"iat": t - 700, "exp": t - 100, "iss": REVIEWER}), "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"),
        (json!({"iat": t - 30, "exp": "later", "iss": REVIEWER}), "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"),
        (json!({"iat": t + 300, "exp": t + 500, "iss": REVIEWER}), "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"),
        (json!({"iat": (t - 30) as f64 + 0.5, "exp": t + 500, "iss": REVIEWER}), "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"),
        (json!({"iat": t - 30, "exp": t + 500, "iss": "Iv1.nobody"}), "A JSON web token could not be decoded"),
        (json!({"iat": t - 30, "exp": t + 500}), "A JSON web token could not be decoded"),
    ];
    for (claims, message) in cases {
        let res = app.get("/app", &sign_app_jwt(&claims, key)).await;
        res.assert_error(StatusCode::UNAUTHORIZED, message);
    }
    // An unregistered key, an HS256 token keyed with the public key, and `alg: none`.
    let claims = json!({"iat": t - 30, "exp": t + 500, "iss": REVIEWER});
    let public = patgate_api::keys::rsa_public_pem(key).expect("public");
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("sign");
    let payload = sign_app_jwt(&claims, key)
        .split('.')
        .nth(1)
        .expect("payload")
        .to_owned();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    for bad in [sign_app_jwt(&claims, stranger_private_key()), hs256, none] {
        let res = app.get("/app", &bad).await;
        res.assert_error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        );
    }
    // A JWT must come as Bearer.
    let res = app
        .send(
            Method::GET,
            "/app",
            Some(&format!("token {}", app_jwt(REVIEWER))),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
}

async fn the_issuer_may_be_the_app_id_or_the_client_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app.get("/app", &app_jwt(REVIEWER)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let id = res.json["id"].as_i64().expect("id");
    let t = now();
    for iss in [json!(id), json!(id.to_string())] {
        let jwt = sign_app_jwt(
            &json!({"iat": t - 30, "exp": t + 500, "iss": iss}),
            app_private_key(),
        );
        let res = app.get("/app", &jwt).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.json["client_id"], REVIEWER);
    }
}

async fn permissions_are_enforced_per_operation_and_level(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token_for(READER).await;
    let res = app.get(LIST, &reader).await;
    res.assert_status(StatusCode::OK);
    let id = ids(&res.json)[0];
    let repositories = format!("{LIST}/{id}/repositories");
    app.get(&repositories, &reader)
        .await
        .assert_status(StatusCode::OK);
    app.post_review(&reader, id, &json!({"action": "approve"}))
        .await
        .assert_forbidden("organization_personal_access_token_requests=write");
    for body in [
        json!({"action": "deny", "pat_request_ids": [id]}),
        // The permission is checked before the body.
        json!({"action": "sideways"}),
    ] {
        app.post(LIST, &reader, &body).await.assert_not_accessible();
    }

    let bystander = app.token_for(BYSTANDER).await;
    app.get(LIST, &bystander)
        .await
        .assert_forbidden("organization_personal_access_token_requests=read");
    app.get(&repositories, &bystander)
        .await
        .assert_not_accessible();

    // The request is untouched.
    let reviewer = app.token_for(REVIEWER).await;
    assert!(app.pending_ids(&reviewer).await.contains(&id));
}

async fn another_organizations_installation_sees_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let id = app.pending_ids(&reviewer).await[0];
    let outsider = app.token_for(OUTSIDER).await;
    for path in [
        LIST.to_owned(),
        format!("{LIST}/{id}/repositories"),
        "/orgs/ACME/personal-access-token-requests".to_owned(),
        "/orgs/no-such-org/personal-access-token-requests".to_owned(),
    ] {
        let res = app.get(&path, &outsider).await;
        res.assert_error(StatusCode::NOT_FOUND, "Not Found");
    }
    app.post_review(&outsider, id, &json!({"action": "deny"}))
        .await
        .assert_not_found();
    for body in [
        json!({"action": "deny", "pat_request_ids": [id]}),
        // Invalid input changes nothing about that: the organization is checked first.
        json!({"action": "sideways"}),
    ] {
        app.post(LIST, &outsider, &body).await.assert_not_found();
    }
    app.get(&format!("{LIST}?direction=sideways"), &outsider)
        .await
        .assert_not_found();
    // Its own organization works, and shows only its own requests.
    let res = app
        .get("/orgs/globex/personal-access-token-requests", &outsider)
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.items().len(), 3);
    // And acme's request is still pending.
    assert!(app.pending_ids(&reviewer).await.contains(&id));
}

async fn github_header_rules_apply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{}{LIST}", app.base))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no User-Agent");
    let with = |version: &'static str| {
        client
            .get(format!("{}{LIST}", app.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("User-Agent", "e2e")
            .header("X-GitHub-Api-Version", version)
            .send()
    };
    assert_eq!(
        with("2022-11-28").await.expect("send").status(),
        StatusCode::OK
    );
    assert_eq!(
        with("2026-03-10").await.expect("send").status(),
        StatusCode::OK
    );
    let res = with("1999-01-01").await.expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // GitHub's body, word for word: `errors` is a sentence naming what was asked and what is
    // served, newest first.
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({
            "message": "Bad Request",
            "errors": "The version you specified in the \"X-GitHub-API-Version\" request header, \"1999-01-01\", is not a supported version. The following versions are currently supported: \"2026-03-10\" (most recent) and \"2022-11-28\".",
            "documentation_url": "https://docs.github.com/rest",
            "status": "400",
        })
    );
    let res = app.get(LIST, &token).await;
    let id = res
        .header("x-github-request-id")
        .expect("request id header");
    assert_eq!(id.len(), 16);
}

both_backends!(
    every_secured_operation_without_credentials_is_401,
    basic_auth_garbage_and_foreign_tokens_are_bad_credentials,
    personal_oauth_user_and_refresh_tokens_are_refused_by_kind,
    installation_tokens_work_as_bearer_or_token,
    forged_expired_and_foreign_installation_tokens_are_401,
    an_app_jwt_cannot_call_organization_endpoints,
    an_installation_token_cannot_call_app_endpoints,
    app_jwts_follow_githubs_claim_rules,
    the_issuer_may_be_the_app_id_or_the_client_id,
    permissions_are_enforced_per_operation_and_level,
    another_organizations_installation_sees_nothing,
    github_header_rules_apply,
);
