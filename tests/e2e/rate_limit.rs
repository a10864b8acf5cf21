//! GitHub's primary rate limit: each installation and each app has its own hourly budget, every
//! counted answer says where it stands in `X-RateLimit-*` headers, and a request past the
//! budget gets 403 with GitHub's message and `X-RateLimit-Remaining: 0`.

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

const LIST: &str = REQUESTS_PATH;

/// The five headers, as numbers where they are numbers.
fn quota(res: &Response) -> Option<(i64, i64, i64, i64, String)> {
    let number = |name: &str| res.header(name)?.parse::<i64>().ok();
    Some((
        number("x-ratelimit-limit")?,
        number("x-ratelimit-remaining")?,
        number("x-ratelimit-used")?,
        number("x-ratelimit-reset")?,
        res.header("x-ratelimit-resource")?.to_owned(),
    ))
}

async fn every_installation_and_app_has_its_hourly_budget(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &["--expiry-interval", "0", "--rate-limit-per-hour", "3"],
    );
    // The app's JWT: looking its installation up and the token exchange count against the app.
    let jwt = app_jwt(REVIEWER);
    let installation = app.installation_id(REVIEWER).await;
    let res = app.exchange(installation, &jwt, &json!({})).await;
    res.assert_status(StatusCode::CREATED);
    let (limit, remaining, used, _, resource) = quota(&res).expect("headers on the exchange");
    assert_eq!(
        (limit, remaining, used, resource.as_str()),
        (3, 1, 2, "core")
    );
    let token = res.json["token"].as_str().expect("token").to_owned();

    let now = now();
    let mut resets = Vec::new();
    for expected_used in 1..=3 {
        let res = app.get(LIST, &token).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let (limit, remaining, used, reset, _) = quota(&res).expect("headers");
        assert_eq!(
            (limit, remaining, used),
            (3, 3 - expected_used, expected_used)
        );
        assert!(
            reset > now && reset <= now + 3601,
            "reset {reset}, now {now}"
        );
        resets.push(reset);
    }
    assert!(
        resets.windows(2).all(|w| w[0] == w[1]),
        "one window: {resets:?}"
    );
    let refused = app.get(LIST, &token).await;
    refused.assert_error(
        StatusCode::FORBIDDEN,
        &format!("API rate limit exceeded for installation ID {installation}."),
    );
    let (_, remaining, used, reset, _) = quota(&refused).expect("headers on the refusal");
    assert_eq!((remaining, used, reset), (0, 3, resets[0]));

    // The access check is not counted, and says nothing of the budget.
    let res = app.post(CHECK_PATH, &token, &metadata_question(1)).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(quota(&res), None);
    // Another installation (of another app) has a budget of its own.
    let reader = app.token_for(READER).await;
    let res = app.get(LIST, &reader).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(quota(&res).map(|q| q.2), Some(1));
    // A bad credential has no caller to count against: 401 without the headers.
    let res = app.get(LIST, "ghs_not-a-token").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert_eq!(quota(&res), None);
    // The reviewer app's own budget: one request left, then refused.
    let res = app.get("/app", &jwt).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(quota(&res).map(|q| q.1), Some(0));
    let res = app.get("/app", &jwt).await;
    let app_id = res.json["message"].as_str().map(str::to_owned);
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(
        app_id.is_some_and(|m| m.starts_with("API rate limit exceeded for app ID ")),
        "{}",
        res.body
    );
}

/// Without a setting, GitHub's 5,000 an hour; `0` turns the limit and its headers off.
async fn the_default_budget_is_githubs_and_zero_turns_it_off(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token_for(REVIEWER).await;
    let res = app.get(LIST, &token).await;
    assert_eq!(quota(&res).map(|q| (q.0, q.1)), Some((5000, 4999)));

    let unlimited = TestApp::spawn_with(
        backend,
        &["--expiry-interval", "0", "--rate-limit-per-hour", "0"],
    );
    let token = unlimited.token_for(REVIEWER).await;
    let res = unlimited.get(LIST, &token).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(quota(&res), None);
}

both_backends!(
    every_installation_and_app_has_its_hourly_budget,
    the_default_budget_is_githubs_and_zero_turns_it_off,
);

/// Three instances on one PostgreSQL share an installation's hourly budget: together they let
/// through its limit, plus at most what the others let through within one exchange interval,
/// then all refuse it, with the same `X-RateLimit-*` figures.
#[tokio::test]
async fn three_instances_on_postgresql_share_one_budget() {
    const LIMIT: i64 = 30;
    let (seeded_dir, database_url) = TestApp::prepare(Backend::Postgres);
    // One signing key for all three, as a deployment has.
    let key = patgate_api::keys::generate_ed25519_pem().expect("key");
    let instances: Vec<TestApp> = (0..3)
        .map(|n| {
            let dir = std::env::temp_dir().join(format!(
                "patgate-e2e-shared-limit-{}-{n}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("dir");
            std::fs::write(dir.join("signing-key.pem"), &key).expect("the shared key");
            TestApp::start_with(
                dir,
                database_url.clone(),
                &[
                    "--expiry-interval",
                    "0",
                    "--rate-limit-per-hour",
                    "30",
                    "--rate-limit-sync-ms",
                    "50",
                ],
            )
        })
        .collect();
    let installation = instances[0].installation_id(REVIEWER).await;
    let res = instances[0]
        .exchange(installation, &app_jwt(REVIEWER), &json!({}))
        .await;
    res.assert_status(StatusCode::CREATED);
    let token = res.json["token"].as_str().expect("token").to_owned();

    let mut admitted = 0;
    for n in 0..(3 * LIMIT) {
        let res = instances[usize::try_from(n).expect("n") % 3]
            .get(LIST, &token)
            .await;
        match res.status {
            StatusCode::OK => admitted += 1,
            StatusCode::FORBIDDEN => {}
            other => panic!("{other}: {}", res.body),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // One exchange interval (50 ms) holds at most three of these requests, one per instance.
    assert!(
        (LIMIT..=LIMIT + 5).contains(&admitted),
        "{admitted} admitted in all for a limit of {LIMIT}"
    );

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut seen = Vec::new();
    for app in &instances {
        let res = app.get(LIST, &token).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        let (limit, remaining, used, reset, _) = quota(&res).expect("headers");
        assert_eq!((limit, remaining), (LIMIT, 0));
        seen.push((used, reset));
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "the instances agree: {seen:?}"
    );
    let _ = std::fs::remove_dir_all(&seeded_dir);
}
