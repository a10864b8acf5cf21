//! The installation-token path of authentication does no database work, and verifies a token's signature once: a cached token is checked against memory only (expiry, revocation, suspension).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test;
use patgate_api::auth::cache::TokenCache;
use patgate_api::auth::revocation::Revocations;
use patgate_api::keys::{generate_ed25519_pem, InstallationClaims, ServerKeys};
use patgate_api::{build_app, AppState};
use patgate_persistence::{Db, PoolOptions};

/// A database with no tables: every query fails, so any database work shows as a 500.
fn unusable_db() -> Db {
    let options = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    Db::connect(":memory:", &options).expect("in-memory SQLite")
}

fn keys() -> Arc<ServerKeys> {
    Arc::new(ServerKeys::from_pem(&generate_ed25519_pem().expect("key")).expect("key"))
}

fn state(
    keys: Arc<ServerKeys>,
    tokens: Arc<TokenCache>,
    revocations: Arc<Revocations>,
) -> AppState {
    AppState {
        db: unusable_db(),
        keys,
        tokens,
        revocations,
        responses: Arc::new(patgate_api::responses::ResponseCache::new(0)),
        limits: Arc::new(patgate_api::rate_limit::RateLimiter::new(0)),
        readiness: Arc::default(),
        base_url: "http://patgate.test".to_owned(),
    }
}

/// Fresh keys, behind a server with an empty token cache and no revocations.
fn fresh() -> (Arc<ServerKeys>, AppState) {
    let keys = keys();
    let state = state(
        Arc::clone(&keys),
        Arc::new(TokenCache::default()),
        Arc::new(Revocations::default()),
    );
    (keys, state)
}

fn token(keys: &ServerKeys, jti: &str, lifetime: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    keys.issue(InstallationClaims {
        iss: String::new(),
        aud: String::new(),
        sub: "7".to_owned(),
        app: 3,
        inst: 7,
        org: 5,
        perms: BTreeMap::new(),
        iat: now,
        exp: now + lifetime,
        jti: jti.to_owned(),
    })
    .expect("issue")
}

async fn status(state: &AppState, path: &str, token: &str) -> StatusCode {
    let app = test::init_service(build_app(state.clone())).await;
    let req = test::TestRequest::get()
        .uri(path)
        .insert_header(("User-Agent", "patgate-test"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    test::call_service(&app, req).await.status()
}

#[actix_web::test]
async fn an_installation_token_is_authenticated_without_the_database() {
    let (keys, state) = fresh();
    let token = token(&keys, "j1", 3600);
    // A miss (verified now) and a hit, both without a query.
    assert_eq!(status(&state, "/", &token).await, StatusCode::OK);
    assert_eq!(status(&state, "/", &token).await, StatusCode::OK);
    assert_eq!(state.tokens.len(), 1);
    // The database really is unusable: a route that reads it fails.
    assert_eq!(
        status(&state, "/orgs/acme/personal-access-token-requests", &token).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[actix_web::test]
async fn a_cached_token_is_not_verified_again_but_is_checked_every_time() {
    let signer = keys();
    let tokens = Arc::new(TokenCache::default());
    let revocations = Arc::new(Revocations::default());
    let first = state(
        Arc::clone(&signer),
        Arc::clone(&tokens),
        Arc::clone(&revocations),
    );
    let cached = token(&signer, "cached", 3600);
    let uncached = token(&signer, "uncached", 3600);
    assert_eq!(status(&first, "/", &cached).await, StatusCode::OK);

    // The same cache behind a server whose key verifies nothing this signer made: the cached
    // token passes (its signature is not checked again), the other does not.
    let stranger = state(keys(), Arc::clone(&tokens), Arc::clone(&revocations));
    assert_eq!(status(&stranger, "/", &cached).await, StatusCode::OK);
    assert_eq!(
        status(&stranger, "/", &uncached).await,
        StatusCode::UNAUTHORIZED
    );

    // Revocation and suspension are checked on a hit.
    revocations.set_suspended(7, true, 1);
    assert_eq!(status(&stranger, "/", &cached).await, StatusCode::FORBIDDEN);
    revocations.set_suspended(7, false, 2);
    assert_eq!(status(&stranger, "/", &cached).await, StatusCode::OK);
    revocations.revoke("cached", chrono::Utc::now().timestamp() + 3600);
    assert_eq!(
        status(&stranger, "/", &cached).await,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn an_expired_token_is_refused_on_a_hit() {
    let (keys, state) = fresh();
    // Expires within two seconds; in the cache after the first request.
    let token = token(&keys, "short", 2);
    assert_eq!(status(&state, "/", &token).await, StatusCode::OK);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(state.tokens.len(), 1);
    assert_eq!(status(&state, "/", &token).await, StatusCode::UNAUTHORIZED);
}
