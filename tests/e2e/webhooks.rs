//! GitHub's `personal_access_token_request` webhook: each action arrives once, signed, with a
//! payload that GitHub's own schemas accept; a receiver that was down gets every event once it
//! is back; deliveries can be listed and redelivered over the API; several instances deliver
//! each event once, and an instance killed mid-delivery loses nothing. Organization hooks get
//! the same events, the owner's notices and the daily digest.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::both_backends;
use crate::helpers::*;

const SECRET: &str = "It's a Secret to Everybody";
const APP_DELIVERIES: &str = "/app/hook/deliveries";
const APP_BACKLOG: &str = "/app/hook/backlog";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// A webhook receiver on loopback: records every request and answers with `status` (0: hang
/// without answering).
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").await.expect("bind")).await
    }

    async fn on(listener: TcpListener) -> Receiver {
        let receiver = Receiver {
            addr: listener.local_addr().expect("address"),
            got: Arc::new(Mutex::new(Vec::new())),
            status: Arc::new(AtomicU16::new(200)),
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let r = r.clone();
                tokio::spawn(async move {
                    let _ = r.serve(stream).await;
                });
            }
        });
        receiver
    }

    async fn serve(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).await?;
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).await?;
            let status = self.status.load(Ordering::SeqCst);
            self.got
                .lock()
                .expect("lock")
                .push(Received { headers, body });
            if status == 0 {
                // Never answer: the sender's time-out (or death) decides.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
            reader.get_mut().write_all(reply.as_bytes()).await?;
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until `n` requests have arrived (failing past `bound`); then a moment more, to
    /// catch any that should not come.
    async fn wait_for(&self, n: usize, bound: Duration) -> Vec<Received> {
        let why = || {
            format!(
                "{} of {n} deliveries after {bound:?}",
                self.received().len()
            )
        };
        wait_until(bound, || self.received().len() >= n, why).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.received()
    }
}

/// Checks `value` against a schema of GitHub's webhook components: `$ref`, `type` (with
/// `null`), `enum`, `properties`, `required`, `additionalProperties` and `items`; formats are
/// annotations. Returns what does not conform, with its path.
fn conform(schemas: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return conform(schemas, &schemas[name], value, path, errors);
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = allowed
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"));
        if !fits {
            errors.push(format!("{path}: {actual} where {allowed:?} is expected"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            errors.push(format!("{path}: {value} is not one of {options:?}"));
        }
    }
    if let Value::Object(map) = value {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(name) {
                errors.push(format!("{path}.{name}: required but missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in map {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => conform(schemas, sub, item, &format!("{path}.{key}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{path}.{key}: not allowed"));
                    }
                    Some(sub @ Value::Object(_)) => {
                        conform(schemas, sub, item, &format!("{path}.{key}"), errors);
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conform(schemas, sub, item, &format!("{path}[{i}]"), errors);
        }
    }
}

/// Asserts that `payload` is what GitHub's schema for its action accepts.
fn assert_githubs_shape(payload: &Value) {
    static SCHEMAS: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        let text = include_str!("github-webhook-schemas.json");
        serde_json::from_str::<Value>(text).expect("schemas")["schemas"].clone()
    });
    let action = payload["action"].as_str().expect("an action");
    let name = format!("webhook-personal-access-token-request-{action}");
    assert!(schemas.get(&name).is_some(), "no schema for {action}");
    let mut errors = Vec::new();
    conform(schemas, &schemas[&name], payload, "$", &mut errors);
    assert!(errors.is_empty(), "{action}: {errors:#?}\n{payload:#}");
}

/// `X-Hub-Signature-256` as GitHub computes it, checked here with the crypto library directly.
fn assert_signed(r: &Received) {
    let hex = r
        .header("x-hub-signature-256")
        .strip_prefix("sha256=")
        .expect("a sha256= signature");
    let tag: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    assert!(
        aws_lc_rs::hmac::verify(&key, &r.body, &tag).is_ok(),
        "bad signature on {}",
        r.header("x-github-delivery")
    );
}

async fn configure_hook(app: &TestApp, client_id: &str, url: &str) {
    let res = app
        .patch(
            "/app/hook/config",
            &app_jwt(client_id),
            &json!({"url": url, "secret": SECRET, "content_type": "json"}),
        )
        .await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["url"], url);
    assert_eq!(res.json["secret"], "********", "the secret is never shown");
}

/// A filing for token `token_id`, asking for metadata on `api`.
fn filing(token_id: i64) -> Value {
    let permissions = json!({"repository": {"metadata": "read"}});
    let mut filing = zed_filing(token_id, "subset", &["api", "web"], permissions);
    filing["reason"] = json!("ci");
    filing
}

async fn file(app: &TestApp, issuer: &str, token_id: i64) -> i64 {
    app.file_as(issuer, &filing(token_id), StatusCode::CREATED)
        .await
}

/// What [`every_action`] sends as request events: each action once.
fn every_action_once(approved: i64, denied: i64, cancelled: i64) -> BTreeMap<(String, i64), usize> {
    [
        ("created", approved),
        ("created", denied),
        ("created", cancelled),
        ("approved", approved),
        ("denied", denied),
        ("cancelled", cancelled),
    ]
    .into_iter()
    .map(|(a, id)| ((a.to_owned(), id), 1))
    .collect()
}

/// Asserts an owner's notice of `action` for `zed` with `reason`, its text giving the reason.
fn assert_notice(p: &Value, action: &str, reason: &str) {
    assert_eq!(p["notification"]["reason"], reason);
    assert_eq!(p["notification"]["recipient"]["login"], "zed");
    assert!(p["notification"]["text"]
        .as_str()
        .is_some_and(|t| t.contains(&format!("Reason: {reason}"))));
    assert!(p["notification"]["subject"]
        .as_str()
        .is_some_and(|t| t.contains(&format!("was {action}"))));
}

/// The app hook's backlog, asking as the app `client_id`.
async fn app_backlog(app: &TestApp, client_id: &str) -> Response {
    app.get(APP_BACKLOG, &app_jwt(client_id)).await
}

/// Files three requests (for tokens `first`, `first + 1` and `first + 2`), approves the
/// first, denies the second ("Too broad") and withdraws the third: every action once. Returns
/// their ids.
async fn every_action(app: &TestApp, issuer: &str, reviewer: &str, first: i64) -> (i64, i64, i64) {
    let approved = file(app, issuer, first).await;
    let denied = file(app, issuer, first + 1).await;
    let cancelled = file(app, issuer, first + 2).await;
    app.approve(reviewer, approved).await;
    app.review(
        reviewer,
        denied,
        &json!({"action": "deny", "reason": "Too broad"}),
    )
    .await;
    let res = app
        .delete(&format!("{INTAKE_PATH}/{cancelled}"), issuer)
        .await;
    assert!(res.status.is_success(), "{}", res.body);
    (approved, denied, cancelled)
}

/// Files, approves, denies and cancels; every action's webhook arrives once, signed, in
/// GitHub's shape, and the deliveries API shows and redelivers them.
async fn each_action_arrives_once_signed_in_githubs_shape(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(backend).await;
    configure_hook(&app, REVIEWER, &receiver.url()).await;
    let issuer = app.token_for(ISSUER).await;
    let reviewer = app.token_for(REVIEWER).await;
    let (approved, denied, cancelled) = every_action(&app, &issuer, &reviewer, 9201).await;

    let got = receiver.wait_for(6, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 6, "each event once");
    let mut seen: BTreeMap<(String, i64), usize> = BTreeMap::new();
    let mut guids = std::collections::HashSet::new();
    for r in &got {
        assert_eq!(r.header("x-github-event"), "personal_access_token_request");
        assert!(r.header("user-agent").starts_with("GitHub-Hookshot/"));
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(
            r.header("x-github-hook-installation-target-type"),
            "integration"
        );
        assert!(
            guids.insert(r.header("x-github-delivery").to_owned()),
            "GUIDs are unique"
        );
        assert_signed(r);
        let payload = r.json();
        assert_githubs_shape(&payload);
        let action = payload["action"].as_str().expect("action").to_owned();
        let id = payload["personal_access_token_request"]["id"]
            .as_i64()
            .expect("id");
        *seen.entry((action, id)).or_default() += 1;
        assert_eq!(payload["organization"]["login"], "acme");
        assert_eq!(
            payload["personal_access_token_request"]["repository_count"],
            2
        );
    }
    assert_eq!(seen, every_action_once(approved, denied, cancelled));
    // The reviewer's bot sends approvals; the owner sends what the owner did.
    for r in &got {
        let p = r.json();
        let sender = p["sender"]["login"].as_str().unwrap_or_default().to_owned();
        match p["action"].as_str() {
            Some("approved" | "denied") => assert_eq!(sender, "reviewer[bot]"),
            _ => assert_eq!(sender, "zed"),
        }
    }

    // The deliveries API shows them, newest first; one can be sent again with its GUID.
    let jwt = app_jwt(REVIEWER);
    let list = app
        .get(&format!("{APP_DELIVERIES}?per_page=100"), &jwt)
        .await;
    list.assert_status(StatusCode::OK);
    let items = list.items().clone();
    assert_eq!(items.len(), 6);
    assert!(items
        .iter()
        .all(|d| d["status"] == "OK" && d["status_code"] == 200));
    let first = &items[5];
    let one_path = format!("{APP_DELIVERIES}/{}", first["id"]);
    let one = app.get(&one_path, &jwt).await;
    one.assert_status(StatusCode::OK);
    assert_eq!(one.json["guid"], first["guid"]);
    assert_githubs_shape(&one.json["request"]["payload"]);
    app.post_nothing(&format!("{one_path}/attempts"), &jwt)
        .await
        .assert_status(StatusCode::ACCEPTED);
    let got = receiver.wait_for(7, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 7);
    assert_eq!(
        got[6].header("x-github-delivery"),
        first["guid"].as_str().unwrap_or("?")
    );
    // Another app's deliveries are not this app's.
    app.get(&one_path, &app_jwt(READER))
        .await
        .assert_not_found();
    let backlog = app_backlog(&app, REVIEWER).await;
    assert_eq!(backlog.json["pending"], 0, "{}", backlog.body);
    assert_eq!(backlog.json["failed"], 0, "{}", backlog.body);
}

/// Events made while the receiver refuses connections, then while it answers 503, all arrive
/// once it is back.
async fn a_receiver_down_then_up_gets_every_event(backend: Backend) {
    // A port nothing listens on yet.
    let port = free_port();
    let app = TestApp::spawn_with(
        backend,
        &args("--expiry-interval 0 --webhook-poll-ms 50 --webhook-retry-base-ms 100"),
    );
    configure_hook(&app, REVIEWER, &format!("http://127.0.0.1:{port}/hook")).await;
    let issuer = app.token_for(ISSUER).await;
    let mut ids = Vec::new();
    for token in 9301..9306 {
        ids.push(file(&app, &issuer, token).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jwt = app_jwt(REVIEWER);
    let list = app.get(APP_DELIVERIES, &jwt).await;
    let items = list.items();
    assert_eq!(items.len(), 5);
    assert!(
        items
            .iter()
            .all(|d| d["state"] == "pending" && d["attempts"].as_i64() >= Some(1)),
        "tried and waiting: {}",
        list.body
    );
    let backlog = app.get(APP_BACKLOG, &jwt).await;
    assert_eq!(backlog.json["pending"], 5, "{}", backlog.body);

    // Up, but failing: 503 is retried too.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind");
    let receiver = Receiver::on(listener).await;
    receiver.status.store(503, Ordering::SeqCst);
    receiver.wait_for(5, Duration::from_secs(10)).await;
    receiver.status.store(200, Ordering::SeqCst);
    let start = Instant::now();
    loop {
        let ok: std::collections::HashSet<String> = receiver
            .received()
            .iter()
            .filter(|r| r.json()["action"] == "created")
            .map(|r| r.header("x-github-delivery").to_owned())
            .collect();
        let backlog = app.get(APP_BACKLOG, &jwt).await;
        if backlog.json["pending"] == 0 {
            assert_eq!(ok.len(), 5, "every event, each under its own GUID");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            backlog.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = app.get(APP_DELIVERIES, &jwt).await;
    assert!(
        list.items()
            .iter()
            .all(|d| d["state"] == "delivered" && d["status"] == "OK"),
        "{}",
        list.body
    );
}

/// Rolled back changes send nothing: a review that fails validation leaves no delivery.
async fn a_refused_change_sends_nothing(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(backend).await;
    configure_hook(&app, REVIEWER, &receiver.url()).await;
    let reviewer = app.token_for(REVIEWER).await;
    let pending = app.pending_ids(&reviewer).await;
    // A bulk review naming one unknown id changes nothing at all.
    app.post(
        REQUESTS_PATH,
        &reviewer,
        &json!({"pat_request_ids": [pending[0], 999_999], "action": "approve"}),
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.received().is_empty());
    // A valid one sends its events.
    app.approve(&reviewer, pending[0]).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["action"], "approved");
}

/// A URL that is not an absolute http(s) URL is refused, and changes nothing.
async fn a_bad_webhook_url_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let jwt = app_jwt(REVIEWER);
    for url in [
        "ftp://x/y",
        "not a url",
        "http://user:pw@host/",
        "http:///nohost",
    ] {
        let res = app
            .patch("/app/hook/config", &jwt, &json!({ "url": url }))
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            res.body
        );
        assert_eq!(res.json["errors"][0]["field"], "url");
    }
    app.patch("/app/hook/config", &jwt, &json!({"content_type": "json"}))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.get("/app/hook/config", &jwt).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["url"], Value::Null);
}

/// Three instances on one PostgreSQL deliver 1,000 events: every one of them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_postgresql_deliver_a_thousand_events_once_each() {
    let receiver = Receiver::start().await;
    let (dir, url) = TestApp::prepare(Backend::Postgres);
    let args = ["--expiry-interval", "0", "--webhook-poll-ms", "20"];
    let instances = [
        TestApp::start_with(dir.clone(), url.clone(), &args),
        TestApp::start_with(dir.clone(), url.clone(), &args),
        TestApp::start_with(dir, url, &args),
    ];
    configure_hook(&instances[0], REVIEWER, &receiver.url()).await;
    let issuer = instances[0].token_for(ISSUER).await;
    let mut ids = Vec::new();
    let tokens: Vec<i64> = (10_000..11_000).collect();
    for chunk in tokens.chunks(8) {
        let filings = chunk.iter().enumerate().map(|(i, token)| {
            let app = &instances[i % instances.len()];
            file(app, &issuer, *token)
        });
        ids.extend(futures_util::future::join_all(filings).await);
    }
    let got = receiver.wait_for(1000, Duration::from_secs(120)).await;
    assert_eq!(got.len(), 1000, "no duplicate");
    let guids: std::collections::HashSet<&str> =
        got.iter().map(|r| r.header("x-github-delivery")).collect();
    assert_eq!(guids.len(), 1000);
    let mut delivered: Vec<i64> = got
        .iter()
        .map(|r| {
            r.json()["personal_access_token_request"]["id"]
                .as_i64()
                .unwrap_or(0)
        })
        .collect();
    delivered.sort_unstable();
    ids.sort_unstable();
    assert_eq!(delivered, ids, "no loss");
}

/// An instance killed with SIGKILL while a receiver holds its delivery loses nothing: once the
/// lease ends, the next instance sends it again, under the same GUID.
async fn an_instance_killed_mid_delivery_loses_nothing(backend: Backend) {
    let receiver = Receiver::start().await;
    let (dir, url) = TestApp::prepare(backend);
    let args = args(
        "--expiry-interval 0 --webhook-poll-ms 50 --webhook-timeout-ms 5000 --webhook-lease-ms 6000",
    );
    let mut first = TestApp::start_with(dir.clone(), url.clone(), &args);
    configure_hook(&first, REVIEWER, &receiver.url()).await;
    let issuer = first.token_for(ISSUER).await;
    receiver.status.store(0, Ordering::SeqCst);
    let held = file(&first, &issuer, 9401).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    first.kill();
    receiver.status.store(200, Ordering::SeqCst);
    let second = TestApp::start_with(dir, url, &args);
    let more = file(&second, &issuer, 9402).await;
    let got = receiver.wait_for(3, Duration::from_secs(20)).await;
    let by_request = |id: i64| -> Vec<&Received> {
        got.iter()
            .filter(|r| r.json()["personal_access_token_request"]["id"] == id)
            .collect()
    };
    let again = by_request(held);
    assert_eq!(again.len(), 2, "sent, then sent again after the crash");
    assert_eq!(
        again[0].header("x-github-delivery"),
        again[1].header("x-github-delivery"),
        "under the same GUID, for the receiver to de-duplicate"
    );
    assert_eq!(by_request(more).len(), 1);
    let backlog = app_backlog(&second, REVIEWER).await;
    assert_eq!(backlog.json["pending"], 0, "{}", backlog.body);
}

/// Creates an acme hook (as the reviewer, which holds `organization_hooks: write`) that
/// receives `events`; its id.
async fn create_org_hook(app: &TestApp, token: &str, url: &str, events: &[&str]) -> i64 {
    app.post(
        "/orgs/acme/hooks",
        token,
        &json!({
            "name": "web",
            "config": {"url": url, "secret": SECRET, "content_type": "json"},
            "events": events,
        }),
    )
    .await
    .assert_status(StatusCode::CREATED)
    .id()
}

/// The `personal_access_token_request` part of a notice, as GitHub's event would carry it.
fn as_event(notice: &Value) -> Value {
    let mut event = json!({
        "action": notice["action"],
        "personal_access_token_request": notice["personal_access_token_request"],
        "organization": notice["organization"],
        "sender": notice["sender"],
    });
    if let Some(installation) = notice.get("installation") {
        event["installation"] = installation.clone();
    }
    event
}

/// An organization hook is pinged when created, then gets every request event in GitHub's
/// shape and the owner's notices (with a denial's reason), each once and signed, to its own
/// hook id; its deliveries are listed under the hook.
async fn an_org_hook_gets_the_events_and_the_owners_notices(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    let hook = create_org_hook(
        &app,
        &reviewer,
        &receiver.url(),
        &[
            "personal_access_token_request",
            "personal_access_token_request_notification",
        ],
    )
    .await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let ping = &got[0];
    assert_eq!(ping.header("x-github-event"), "ping");
    assert_signed(ping);
    assert_eq!(ping.header("x-github-hook-id"), hook.to_string());
    assert_eq!(
        ping.header("x-github-hook-installation-target-type"),
        "organization"
    );
    let body = ping.json();
    assert_eq!(body["hook_id"], hook);
    assert_eq!(body["hook"]["type"], "Organization");
    assert_eq!(body["hook"]["config"]["secret"], "********");
    assert!(body["zen"].as_str().is_some_and(|z| !z.is_empty()));

    let issuer = app.token_for(ISSUER).await;
    let (approved, denied, cancelled) = every_action(&app, &issuer, &reviewer, 9701).await;

    let got = receiver.wait_for(9, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 9, "a ping, six events and two notices");
    let mut events: BTreeMap<(String, i64), usize> = BTreeMap::new();
    let mut notices: BTreeMap<String, Value> = BTreeMap::new();
    for r in &got[1..] {
        assert_signed(r);
        assert_eq!(r.header("x-github-hook-id"), hook.to_string());
        let p = r.json();
        let action = p["action"].as_str().expect("action").to_owned();
        let id = p["personal_access_token_request"]["id"]
            .as_i64()
            .expect("id");
        match r.header("x-github-event") {
            "personal_access_token_request" => {
                assert_githubs_shape(&p);
                *events.entry((action, id)).or_default() += 1;
            }
            "personal_access_token_request_notification" => {
                assert_githubs_shape(&as_event(&p));
                assert!(notices.insert(action, p).is_none(), "each notice once");
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(events, every_action_once(approved, denied, cancelled));
    assert_eq!(
        notices.keys().collect::<Vec<_>>(),
        ["approved", "denied"],
        "a notice for each review, none for filing or withdrawing"
    );
    let denial = &notices["denied"];
    assert_eq!(denial["personal_access_token_request"]["id"], denied);
    assert_notice(denial, "denied", "Too broad");
    assert_eq!(notices["approved"]["notification"]["reason"], Value::Null);

    let deliveries = format!("/orgs/acme/hooks/{hook}/deliveries?per_page=100");
    let list = app.get_ok(&deliveries, &reviewer).await;
    let items = list.items();
    assert_eq!(items.len(), 9, "{}", list.body);
    assert!(items.iter().all(|d| d["status"] == "OK"), "{}", list.body);
    // The app hook of no app is involved: the app deliveries stay empty.
    let apps = app.get(APP_DELIVERIES, &app_jwt(REVIEWER)).await;
    assert_eq!(apps.json, json!([]), "{}", apps.body);

    // Revoking the approved token's access notifies its owner, with the reason; GitHub's
    // request event has no revocation, so no `personal_access_token_request` goes out.
    let grant = app.grant_of_token(&reviewer, 9701).await;
    app.revoke(&reviewer, grant, Some("Left the team")).await;
    let got = receiver.wait_for(10, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 10, "one more: the revocation notice");
    let revoked = &got[9];
    assert_signed(revoked);
    assert_eq!(
        revoked.header("x-github-event"),
        "personal_access_token_request_notification"
    );
    let p = revoked.json();
    assert_eq!(p["action"], "revoked");
    assert_eq!(p["personal_access_token_request"]["id"], approved);
    assert_notice(&p, "revoked", "Left the team");
    assert_eq!(p["sender"]["type"], "Bot", "the revoking app acted");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 10, "nothing else");
}

/// A filing that needs no approval is granted at once and, as on GitHub (whose request events
/// are for organizations that require approval), sends no `personal_access_token_request`
/// event and no owner's notice to app or organization hooks; the audit trail records it as
/// `request.auto_approved`. A later revocation of that access still notifies.
async fn an_auto_approved_filing_sends_what_github_sends(backend: Backend) {
    let receiver = Receiver::start().await;
    let org_receiver = Receiver::start().await;
    let app = TestApp::spawn(backend).await;
    configure_hook(&app, REVIEWER, &receiver.url()).await;
    let reviewer = app.token_for(REVIEWER).await;
    create_org_hook(&app, &reviewer, &org_receiver.url(), &["*"]).await;
    org_receiver.wait_for(1, Duration::from_secs(10)).await;
    let approval = |setting: &str| json!({ "fine_grained_approval": setting });
    app.put(POLICY_PATH, &reviewer, &approval("not_required"))
        .await
        .assert_status(StatusCode::OK);
    let issuer = app.token_for(ISSUER).await;
    let res = app.post(INTAKE_PATH, &issuer, &filing(9901)).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json["status"], "approved");
    let (request, grant) = (res.id(), res.json["grant_id"].as_i64().expect("grant"));
    // A reviewed filing afterwards shows the hooks are live: only its events arrive.
    app.put(POLICY_PATH, &reviewer, &approval("required"))
        .await
        .assert_status(StatusCode::OK);
    let pending = file(&app, &issuer, 9902).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let org_got = org_receiver.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    for r in receiver
        .received()
        .iter()
        .chain(org_receiver.received().iter().skip(1))
    {
        let p = r.json();
        assert_eq!(p["action"], "created", "{p}");
        assert_eq!(p["personal_access_token_request"]["id"], pending, "{p}");
    }
    assert_eq!((got.len(), org_got.len()), (1, 2));
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(
        org_receiver.received().len(),
        2,
        "the ping and the created event"
    );

    let audit = app
        .audit(
            &reviewer,
            &format!("subject_id={request}&subject_type=request"),
        )
        .await;
    assert_eq!(
        actions(&audit.json),
        ["request.auto_approved"],
        "{}",
        audit.body
    );

    app.revoke(&reviewer, grant, None).await;
    let org_got = org_receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        org_got[2].header("x-github-event"),
        "personal_access_token_request_notification"
    );
    assert_eq!(org_got[2].json()["action"], "revoked");
}

/// A hook that does not subscribe to an event does not get it, and an inactive hook gets
/// nothing.
async fn an_org_hook_gets_only_what_it_subscribes_to(backend: Backend) {
    let receiver = Receiver::start().await;
    let quiet = Receiver::start().await;
    let app = TestApp::spawn(backend).await;
    let reviewer = app.token_for(REVIEWER).await;
    create_org_hook(
        &app,
        &reviewer,
        &receiver.url(),
        &["personal_access_token_request_notification"],
    )
    .await;
    let off = create_org_hook(&app, &reviewer, &quiet.url(), &["*"]).await;
    quiet.wait_for(1, Duration::from_secs(10)).await;
    app.patch(
        &format!("/orgs/acme/hooks/{off}"),
        &reviewer,
        &json!({"active": false}),
    )
    .await
    .assert_status(StatusCode::OK);
    let issuer = app.token_for(ISSUER).await;
    let id = file(&app, &issuer, 9801).await;
    app.approve(&reviewer, id).await;
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let events: Vec<&str> = got.iter().map(|r| r.header("x-github-event")).collect();
    assert_eq!(
        events,
        ["ping", "personal_access_token_request_notification"],
        "no request events for a hook subscribed to notices only"
    );
    assert_eq!(
        quiet.received().len(),
        1,
        "only the ping, before it was turned off"
    );
}

/// With a 2-second digest period and several instances on one database, a hook subscribed to
/// the digest gets it once per period, listing acme's pending requests oldest first, without
/// any mail server configured.
async fn the_digest_reaches_subscribed_org_hooks_once_per_period(backend: Backend) {
    let receiver = Receiver::start().await;
    let (dir, url) = TestApp::prepare(backend);
    let args =
        args("--expiry-interval 0 --digest-period-secs 2 --webhook-poll-ms 50 --mail-poll-ms 50");
    let first = TestApp::start_with(dir.clone(), url.clone(), &args);
    let reviewer = first.token_for(REVIEWER).await;
    create_org_hook(
        &first,
        &reviewer,
        &receiver.url(),
        &["personal_access_token_request_digest"],
    )
    .await;
    let more = if backend == Backend::Postgres { 2 } else { 1 };
    let others: Vec<TestApp> = (0..more)
        .map(|_| TestApp::start_with(dir.clone(), url.clone(), &args))
        .collect();
    tokio::time::sleep(Duration::from_secs(7)).await;
    drop(others);
    drop(first);
    let mut periods: BTreeMap<String, usize> = BTreeMap::new();
    for r in receiver.received() {
        if r.header("x-github-event") != "personal_access_token_request_digest" {
            continue;
        }
        assert_signed(&r);
        let p = r.json();
        assert_eq!(p["action"], "pending");
        assert_eq!(p["organization"]["login"], "acme");
        let digest = &p["digest"];
        let requests = digest["requests"].as_array().expect("requests");
        assert!(!requests.is_empty());
        assert_eq!(
            digest["pending_count"].as_u64(),
            u64::try_from(requests.len()).ok()
        );
        let created: Vec<&str> = requests
            .iter()
            .map(|x| x["created_at"].as_str().unwrap_or(""))
            .collect();
        assert!(created.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        assert!(requests[0]["repositories_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/repositories")));
        *periods
            .entry(digest["period_start"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    assert!(periods.len() >= 2, "one digest per period: {periods:?}");
    assert!(
        periods.values().all(|n| *n == 1),
        "each period's digest once: {periods:?}"
    );
}

both_backends!(
    each_action_arrives_once_signed_in_githubs_shape,
    an_instance_killed_mid_delivery_loses_nothing,
    a_receiver_down_then_up_gets_every_event,
    a_refused_change_sends_nothing,
    a_bad_webhook_url_is_refused,
    an_org_hook_gets_the_events_and_the_owners_notices,
    an_auto_approved_filing_sends_what_github_sends,
    an_org_hook_gets_only_what_it_subscribes_to,
    the_digest_reaches_subscribed_org_hooks_once_per_period,
);
