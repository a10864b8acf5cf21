//! Rotating the key that signs installation tokens across three instances on one PostgreSQL,
//! one instance restarted at a time, under load: add the new key as accepted, make it the
//! signer, retire the old one. No request is refused with 401 on the way; once the old key is
//! retired, what it signed is refused.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// A data directory of its own for one instance (removed with it).
fn instance_dir(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patgate-e2e-rotation-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn key_file(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        patgate_api::keys::generate_ed25519_pem().expect("a key"),
    )
    .expect("key file");
    path.display().to_string()
}

/// What every instance shares: where they are, the tokens handed out so far, and what the load
/// saw.
#[derive(Default)]
struct Fleet {
    bases: Mutex<Vec<String>>,
    tokens: Mutex<Vec<String>>,
    requests: AtomicUsize,
    refused: Mutex<Vec<String>>,
}

/// Asks a list page of a random instance with a random token until told to stop; any 401 is
/// kept (a connection refused by an instance being stopped is not a refusal).
async fn load(fleet: Arc<Fleet>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let (base, token) = {
            let bases = fleet.bases.lock().expect("bases");
            let tokens = fleet.tokens.lock().expect("tokens");
            (
                bases[n % bases.len()].clone(),
                tokens[(n / 3) % tokens.len()].clone(),
            )
        };
        let sent = client
            .get(format!("{base}{REQUESTS_PATH}?per_page=1"))
            .bearer_auth(&token)
            .header("user-agent", "patgate-e2e")
            .send()
            .await;
        if let Ok(res) = sent {
            fleet.requests.fetch_add(1, Ordering::SeqCst);
            if res.status() == StatusCode::UNAUTHORIZED {
                let body = res.text().await.unwrap_or_default();
                fleet
                    .refused
                    .lock()
                    .expect("refused")
                    .push(format!("{base}: {body}"));
            }
        }
    }
}

/// A token from the instance at `base` (signed by its signer).
async fn token_from(app: &TestApp) -> String {
    let installation = app.installation_id(REVIEWER).await;
    let res = app
        .exchange(installation, &app_jwt(REVIEWER), &json!({}))
        .await;
    res.assert_status(StatusCode::CREATED);
    res.json["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn the_signing_key_rotates_across_three_instances_without_a_401() {
    let (seeded_dir, database_url) = TestApp::prepare(Backend::Postgres);
    let keys = seeded_dir.join("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    let (old, new) = (key_file(&keys, "old.pem"), key_file(&keys, "new.pem"));
    let start = |n: usize, keys: &[&str]| {
        let mut args = vec!["--expiry-interval", "0", "--rate-limit-per-hour", "0"];
        args.extend_from_slice(keys);
        TestApp::start_with(instance_dir(n), database_url.clone(), &args)
    };

    let mut instances: Vec<TestApp> = (0..3)
        .map(|n| start(n, &["--signing-key-file", &old]))
        .collect();
    let fleet = Arc::new(Fleet::default());
    *fleet.bases.lock().expect("bases") = instances.iter().map(|i| i.base.clone()).collect();
    let signed_by_old = token_from(&instances[0]).await;
    fleet
        .tokens
        .lock()
        .expect("tokens")
        .push(signed_by_old.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = (0..4)
        .map(|_| tokio::spawn(load(Arc::clone(&fleet), Arc::clone(&stop))))
        .collect();

    // Two rolling restarts, one instance at a time, each new instance handing out a token:
    // the new key accepted beside the old signer, then the new key signing.
    for (round, keys) in [
        ["--signing-key-file", &old, "--accepted-key-files", &new],
        ["--signing-key-file", &new, "--accepted-key-files", &old],
    ]
    .iter()
    .enumerate()
    {
        for slot in 0..instances.len() {
            let fresh = start(3 * (round + 1) + slot, keys.as_slice());
            let token = token_from(&fresh).await;
            {
                let mut bases = fleet.bases.lock().expect("bases");
                bases[slot] = fresh.base.clone();
            }
            fleet.tokens.lock().expect("tokens").push(token);
            // The old instance stops after the new one takes its place.
            instances[slot] = fresh;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for l in loads {
        l.await.expect("load");
    }
    let refused = fleet.refused.lock().expect("refused").clone();
    assert!(
        refused.is_empty(),
        "{} requests refused during the rotation, the first: {:?}",
        refused.len(),
        refused.iter().take(3).collect::<Vec<_>>()
    );
    let requests = fleet.requests.load(Ordering::SeqCst);
    assert!(requests > 100, "the load ran: {requests} requests");

    // Retired: the old key's tokens are refused, the new key's are not.
    let retired = start(100, &["--signing-key-file", &new]);
    let signed_by_new = token_from(&retired).await;
    assert_eq!(
        retired.get(REQUESTS_PATH, &signed_by_new).await.status,
        StatusCode::OK
    );
    assert_eq!(
        retired.get(REQUESTS_PATH, &signed_by_old).await.status,
        StatusCode::UNAUTHORIZED
    );
    drop(instances);
    let _ = std::fs::remove_dir_all(&seeded_dir);
}
