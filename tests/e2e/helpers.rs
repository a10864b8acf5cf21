//! `TestApp`: a seeded, running server process, plus credentials and typed request helpers.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body against both backends, as `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )+
    };
}

pub const ORG: &str = "acme";
pub const OTHER_ORG: &str = "globex";
/// Installation on `acme` with write on requests and grants.
pub const REVIEWER: &str = "Iv1.reviewer";
/// Installation on `acme` with read on requests only.
pub const READER: &str = "Iv1.reader";
/// Installation on `acme` without any token permission.
pub const BYSTANDER: &str = "Iv1.bystander";
/// Installation on `globex` with write on requests.
pub const OUTSIDER: &str = "Iv1.outsider";
/// Installation on `acme` of the token issuer (intake write).
pub const ISSUER: &str = "Iv1.issuer";
pub const OWNERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
pub const REPOS: [&str; 5] = ["api", "web", "infra", "docs", "Hello-World"];
/// Pending requests of `acme` in the fixture.
pub const REQUESTS: usize = 40;

/// `acme`'s token requests, its grants and its issuer's intake.
pub const REQUESTS_PATH: &str = "/orgs/acme/personal-access-token-requests";
pub const GRANTS_PATH: &str = "/orgs/acme/personal-access-tokens";
pub const INTAKE_PATH: &str = "/orgs/acme/personal-access-token-intake/requests";

/// `acme`'s access checks, token policy and audit trail.
pub mod governance {
    pub const CHECK_PATH: &str = "/orgs/acme/personal-access-token-access-checks";
    pub const POLICY_PATH: &str = "/orgs/acme/personal-access-token-policy";
    pub const AUDIT_PATH: &str = "/orgs/acme/personal-access-token-audit-log";
}
pub use governance::*;

/// The RSA private key (PKCS#8 PEM) registered for every fixture app, made once per process.
pub fn app_private_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| patgate_api::keys::generate_rsa_private_pem().expect("RSA key"))
}

/// A second RSA key that no app has registered.
pub fn stranger_private_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| patgate_api::keys::generate_rsa_private_pem().expect("RSA key"))
}

/// Request number `i` of the fixture: owner, repositories, permissions and last use vary.
pub fn fixture_request(i: usize) -> Value {
    let owner = OWNERS[i % OWNERS.len()];
    let selection = ["none", "all", "subset"][i % 3];
    let repositories: Vec<&str> = if selection == "subset" {
        vec![REPOS[i % REPOS.len()], REPOS[(i + 1) % REPOS.len()]]
    } else {
        vec![]
    };
    let repository = match i % 4 {
        0 => json!({"metadata": "read", "issues": "read"}),
        1 => json!({"metadata": "read", "issues": "write"}),
        2 => json!({"metadata": "read", "contents": "write"}),
        _ => json!({"metadata": "read"}),
    };
    json!({
        "org": ORG,
        "owner": owner,
        "token": format!("token-{i}"),
        "reason": format!("reason {i}"),
        "repository_selection": selection,
        "repositories": repositories,
        "permissions": {"organization": {"members": "read"}, "repository": repository},
        // Two requests share each timestamp so that the id tie-break is exercised.
        "created_at": format!("2026-01-01T{:02}:{:02}:00Z", 10 + i / 2 / 60, (i / 2) % 60),
    })
}

/// Last use of fixture token `i`: never for every fifth, else a day in January 2026.
pub fn fixture_last_used(i: usize) -> Option<String> {
    (!i.is_multiple_of(5)).then(|| format!("2026-01-{:02}T12:00:00Z", 1 + i % 28))
}

fn fixture_seed() -> Value {
    let public = patgate_api::keys::rsa_public_pem(app_private_key()).expect("public key");
    let app = |slug: &str, client_id: &str| json!({"slug": slug, "name": slug, "client_id": client_id, "owner": ORG, "public_key_pem": public});
    // Every installation subscribes to the token-request webhook; only apps with a webhook
    // configured (and the permission to read requests) receive it.
    let install = |app: &str, org: &str, perms: Value| json!({"app": app, "org": org, "permissions": perms, "events": ["personal_access_token_request"]});
    let mut tokens = Vec::new();
    let mut requests = Vec::new();
    for i in 0..REQUESTS {
        tokens.push(json!({
            "owner": OWNERS[i % OWNERS.len()],
            "name": format!("token-{i}"),
            "expires_at": if i % 6 == 5 { Some("2025-06-01T00:00:00Z") } else { None },
            "last_used_at": fixture_last_used(i),
        }));
        requests.push(fixture_request(i));
    }
    // Requests of the other organization, which acme's installations must never see.
    for i in 0..3 {
        tokens.push(json!({"owner": "eve", "name": format!("globex-{i}")}));
        requests.push(json!({
            "org": OTHER_ORG, "owner": "eve", "token": format!("globex-{i}"),
            "repository_selection": "subset", "repositories": ["secret"],
            "permissions": {"repository": {"contents": "read"}},
        }));
    }
    let mut repositories: Vec<Value> = REPOS
        .iter()
        .map(|r| json!({"org": ORG, "name": r}))
        .collect();
    repositories.push(json!({"org": OTHER_ORG, "name": "secret"}));
    let mut users: Vec<Value> = OWNERS.iter().map(|o| json!({"login": o})).collect();
    users.push(json!({"login": "eve"}));
    json!({
        "organizations": [{"login": ORG, "name": "Acme"}, {"login": OTHER_ORG}],
        "users": users,
        "repositories": repositories,
        "apps": [
            app("reviewer", REVIEWER), app("reader", READER),
            app("bystander", BYSTANDER), app("outsider", OUTSIDER), app("issuer", ISSUER),
        ],
        "installations": [
            install("reviewer", ORG, json!({
                "organization_personal_access_token_requests": "write",
                "organization_personal_access_tokens": "write",
                "organization_administration": "write",
                "organization_hooks": "write",
                "organization_personal_access_token_review_rules": "write",
                "members": "read",
            })),
            install("issuer", ORG, json!({"organization_personal_access_token_intake": "write"})),
            install("reader", ORG, json!({
                "organization_personal_access_token_requests": "read",
                "organization_hooks": "read",
                "organization_personal_access_token_review_rules": "read",
            })),
            install("bystander", ORG, json!({"members": "read"})),
            install("outsider", OTHER_ORG, json!({
                "organization_personal_access_token_requests": "write",
                "organization_administration": "read",
                "organization_hooks": "write",
            })),
        ],
        "tokens": tokens,
        "requests": requests,
    })
}

/// `patgate seed` of `seed` (written to `name` in `dir`) into the database, asserting success.
pub fn seed_into(dir: &std::path::Path, database_url: &str, name: &str, seed: &Value) {
    let path = dir.join(name);
    std::fs::write(&path, seed.to_string()).expect("write seed");
    let out = run_cli(
        dir,
        database_url,
        &["seed", path.to_str().expect("utf-8 path")],
    );
    assert!(
        out.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_patgate")
}

/// A running server with the fixture loaded. The process is killed on drop.
pub struct TestApp {
    pub base: String,
    pub dir: PathBuf,
    pub database_url: String,
    child: Child,
    client: reqwest::Client,
}

impl TestApp {
    /// Kills the server with SIGKILL, as a crash would, leaving its data directory.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends the server signal `name` (`TERM`, `INT`), as an orchestrator or a person would.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -s {name} failed");
    }

    /// Waits for the server to exit, at most `bound`; its exit status.
    pub async fn exit_status(&mut self, bound: std::time::Duration) -> std::process::ExitStatus {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return status;
            }
            assert!(
                start.elapsed() < bound,
                "the server still runs after {bound:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "patgate-e2e-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `patgate --data-dir DIR --database-url URL <args>`, run to completion.
pub fn run_cli(dir: &std::path::Path, database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .arg("--data-dir")
        .arg(dir)
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .env("PATGATE_LOG", "warn")
        .output()
        .expect("run patgate")
}

impl TestApp {
    /// Seeds the fixture into a fresh database of `backend` and starts the server.
    pub async fn spawn(backend: Backend) -> TestApp {
        let (dir, database_url) = Self::prepare(backend);
        Self::start(dir, database_url)
    }

    /// Seeds the fixture into a fresh database of `backend` and starts the server with extra
    /// `serve` arguments.
    pub fn spawn_with(backend: Backend, extra: &[&str]) -> TestApp {
        let (dir, database_url) = Self::prepare(backend);
        Self::start_with(dir, database_url, extra)
    }

    /// Seeds the fixture into a fresh database; returns the data directory and database URL.
    pub fn prepare(backend: Backend) -> (PathBuf, String) {
        let dir = temp_dir();
        let database_url = match backend {
            Backend::Sqlite => dir.join("patgate.db").display().to_string(),
            Backend::Postgres => patgate_testkit::PgCluster::shared().create_database(),
        };
        seed_into(&dir, &database_url, "seed.json", &fixture_seed());
        (dir, database_url)
    }

    /// Seeds the fixture into the fresh database `database_url` (one of a cluster of the
    /// test's own, say); returns a new data directory and the URL.
    pub fn prepare_on(database_url: String) -> (PathBuf, String) {
        let dir = temp_dir();
        seed_into(&dir, &database_url, "seed.json", &fixture_seed());
        (dir, database_url)
    }

    /// Starts the server on an already prepared data directory and database, with expiry
    /// sweeps off so that the fixture stays as seeded.
    pub fn start(dir: PathBuf, database_url: String) -> TestApp {
        Self::start_with(dir, database_url, &["--expiry-interval", "0"])
    }

    /// Starts the server with extra `serve` arguments.
    pub fn start_with(dir: PathBuf, database_url: String, extra: &[&str]) -> TestApp {
        Self::start_logging(dir, database_url, extra, &[("PATGATE_LOG", "warn")], None)
    }

    /// Starts the server with extra `serve` arguments and environment, its standard error
    /// written to `log` (inherited without one).
    pub fn start_logging(
        dir: PathBuf,
        database_url: String,
        extra: &[&str],
        env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> TestApp {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::inherit(),
        };
        let mut child = Command::new(binary())
            .arg("--data-dir")
            .arg(&dir)
            .arg("--database-url")
            .arg(&database_url)
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "2"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start patgate");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        TestApp {
            base,
            dir,
            database_url,
            child,
            client: reqwest::Client::builder()
                .user_agent("patgate-e2e")
                .build()
                .expect("client"),
        }
    }

    /// The server's signing key, to mint tokens the tests need (expired ones, for instance).
    pub fn server_keys(&self) -> patgate_api::keys::ServerKeys {
        let pem = std::fs::read_to_string(self.dir.join("signing-key.pem")).expect("signing key");
        patgate_api::keys::ServerKeys::from_pem(&pem).expect("valid key")
    }

    /// A raw request with an optional `Authorization` header value.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        Response::read(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(&format!("Bearer {token}")), None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// A request with `token` as the bearer credential and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Response {
        let text = body.map(Value::to_string);
        self.send(
            method,
            path,
            Some(&format!("Bearer {token}")),
            text.as_deref(),
        )
        .await
    }

    /// A PUT with `If-Match` (or without it, for `None`).
    pub async fn put_if_match(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .put(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            req = req.header("If-Match", tag);
        }
        Response::read(req.send().await.expect("request")).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.call(Method::DELETE, path, token, None).await
    }

    /// A `POST` without a body.
    pub async fn post_nothing(&self, path: &str, token: &str) -> Response {
        self.call(Method::POST, path, token, None).await
    }

    /// `GET path`, asserting the 200.
    pub async fn get_ok(&self, path: &str, token: &str) -> Response {
        let res = self.get(path, token).await;
        res.assert_status(StatusCode::OK);
        res
    }

    /// `acme`'s audit trail that `query` selects.
    pub async fn audit(&self, token: &str, query: &str) -> Response {
        self.get(&format!("{AUDIT_PATH}?{query}"), token).await
    }

    /// The id of the newest active grant of fixture token `token_id`.
    pub async fn grant_of_token(&self, token: &str, token_id: i64) -> i64 {
        let grants = self
            .get(&format!("{GRANTS_PATH}?token_id={token_id}"), token)
            .await;
        grants.json[0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no grant of token {token_id}: {}", grants.body))
    }

    /// Reviews request `id` of `acme` with `body` (`{"action": ...}`); the answer.
    pub async fn post_review(
        &self,
        token: &str,
        id: impl std::fmt::Display,
        body: &Value,
    ) -> Response {
        self.post(&format!("{REQUESTS_PATH}/{id}"), token, body)
            .await
    }

    /// Reviews request `id` of `acme` with `body`, asserting the 204.
    pub async fn review(&self, token: &str, id: i64, body: &Value) {
        self.post_review(token, id, body)
            .await
            .assert_status(StatusCode::NO_CONTENT);
    }

    /// Approves request `id` of `acme`, asserting the 204.
    pub async fn approve(&self, token: &str, id: i64) {
        self.review(token, id, &json!({"action": "approve"})).await;
    }

    /// Revokes grant `id` of `acme` (with `reason`, if any), asserting the 204.
    pub async fn revoke(&self, token: &str, id: i64, reason: Option<&str>) {
        let mut body = json!({"action": "revoke"});
        if let Some(reason) = reason {
            body["reason"] = json!(reason);
        }
        self.revoke_grant(token, id, &body)
            .await
            .assert_status(StatusCode::NO_CONTENT);
    }

    /// Revokes grant `id` of `acme` with `body` (`{"action": "revoke", ...}`).
    pub async fn revoke_grant(&self, token: &str, id: i64, body: &Value) -> Response {
        self.post(&format!("{GRANTS_PATH}/{id}"), token, body).await
    }

    /// Files `body` through `acme`'s intake as the issuer, asserting `status`; the request's id.
    pub async fn file_as(&self, issuer: &str, body: &Value, status: StatusCode) -> i64 {
        let res = self.post(INTAKE_PATH, issuer, body).await;
        res.assert_status(status);
        res.id()
    }

    /// Seeds `seed` (written to `name` in the data directory) on top of the database.
    pub fn seed(&self, name: &str, seed: &Value) {
        seed_into(&self.dir, &self.database_url, name, seed);
    }

    /// An installation access token of the app with this client id (its first installation).
    pub async fn token_for(&self, client_id: &str) -> String {
        self.token_with(client_id, &json!({})).await
    }

    /// An installation access token asked for with `body` (e.g. narrowed permissions).
    pub async fn token_with(&self, client_id: &str, body: &Value) -> String {
        let installation = self.installation_id(client_id).await;
        let res = self.exchange(installation, &app_jwt(client_id), body).await;
        res.assert_status(StatusCode::CREATED);
        res.json["token"].as_str().expect("token").to_owned()
    }

    /// Exchanges the app's JWT for a token of `installation`, asked for with `body`.
    pub async fn exchange(&self, installation: i64, jwt: &str, body: &Value) -> Response {
        self.post(&exchange_path(installation), jwt, body).await
    }

    pub async fn installation_id(&self, client_id: &str) -> i64 {
        let res = self.get("/app/installations", &app_jwt(client_id)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.json[0]["id"].as_i64().expect("installation id")
    }

    /// Every pending request id of `acme`, newest first.
    pub async fn pending_ids(&self, token: &str) -> Vec<i64> {
        let res = self
            .get(
                &format!("/orgs/{ORG}/personal-access-token-requests?per_page=100"),
                token,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        ids(&res.json)
    }
}

/// Where an app exchanges its JWT for a token of `installation`.
pub fn exchange_path(installation: i64) -> String {
    format!("/app/installations/{installation}/access_tokens")
}

/// The access check of `token_id` for metadata read, which needs no repository.
pub fn metadata_question(token_id: i64) -> Value {
    json!({"token_id": token_id, "permission": "metadata", "level": "read"})
}

/// The `id` of every item of a JSON array.
pub fn ids(json: &Value) -> Vec<i64> {
    json.as_array()
        .expect("array")
        .iter()
        .map(|item| item["id"].as_i64().expect("id"))
        .collect()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub json: Value,
}

impl Response {
    async fn read(res: reqwest::Response) -> Response {
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.text().await.expect("body");
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            body,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it is another.
    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    /// The `id` of the JSON object answered.
    pub fn id(&self) -> i64 {
        self.json["id"].as_i64().expect("id")
    }

    /// The items of the JSON array answered.
    pub fn items(&self) -> &Vec<Value> {
        self.json.as_array().expect("array")
    }

    /// Asserts GitHub's 404 body.
    pub fn assert_not_found(&self) {
        self.assert_error(StatusCode::NOT_FOUND, "Not Found");
    }

    /// Asserts GitHub's 403 for an installation that lacks the permission.
    pub fn assert_not_accessible(&self) {
        self.assert_error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        );
    }

    /// Asserts the 403 of [`Self::assert_not_accessible`], naming the permission that would do.
    pub fn assert_forbidden(&self, accepted: &str) {
        self.assert_not_accessible();
        assert_eq!(
            self.header("x-accepted-github-permissions"),
            Some(accepted),
            "{}",
            self.body
        );
    }

    /// Asserts a 422 "Validation Failed", naming `what` was sent should it fail.
    pub fn assert_validation_failed(&self, what: &dyn std::fmt::Display) {
        assert_eq!(
            self.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            self.body
        );
        assert_eq!(self.json["message"], "Validation Failed");
    }

    /// Asserts a 422 whose first error names `field`.
    pub fn assert_invalid_field(&self, field: &str) {
        assert_eq!(
            self.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            self.body
        );
        assert_eq!(self.json["errors"][0]["field"], field, "{}", self.body);
    }

    /// The message of the first error.
    pub fn error_message(&self) -> &str {
        self.json["errors"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message: {}", self.body))
    }

    /// Asserts GitHub's error body: the status, the message, and the string `status` field.
    pub fn assert_error(&self, status: StatusCode, message: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.json["message"], message, "{}", self.body);
        assert_eq!(
            self.json["status"],
            status.as_u16().to_string(),
            "{}",
            self.body
        );
        assert!(
            self.json["documentation_url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{}",
            self.body
        );
    }
}

/// `serve` arguments written as one line: `args("--expiry-interval 0 --workers 2")`.
pub fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A filing by `zed` for token `token_id` (named `zed-{token_id}`, valid 30 days) asking
/// `permissions` on the repositories of `selection` (`repositories` for a subset).
pub fn zed_filing(
    token_id: i64,
    selection: &str,
    repositories: &[&str],
    permissions: Value,
) -> Value {
    let mut filing = json!({
        "owner": "zed",
        "token_id": token_id,
        "token_name": format!("zed-{token_id}"),
        "token_expires_at": in_days(30),
        "repository_selection": selection,
        "permissions": permissions,
    });
    if !repositories.is_empty() {
        filing["repositories"] = json!(repositories);
    }
    filing
}

/// Asserts what a listed request or grant shows of itself: `at` (a timestamp) in UTC, and its
/// repositories' URL under `list`.
pub fn assert_listed(item: &Value, at: &str, list: &str) {
    assert!(item[at].as_str().expect(at).ends_with('Z'));
    assert!(item["repositories_url"]
        .as_str()
        .expect("url")
        .ends_with(&format!("{list}/{}/repositories", item["id"])));
}

/// The URL of relation `rel` in a `Link` header.
pub fn link(header: &str, rel: &str) -> Option<String> {
    header.split(", ").find_map(|part| {
        let (url, r) = part.split_once("; ")?;
        (r == format!("rel=\"{rel}\"")).then(|| url.trim_matches(['<', '>']).to_owned())
    })
}

/// The `action` of every event of an audit trail page.
pub fn actions(json: &Value) -> Vec<&str> {
    json.as_array()
        .expect("array")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect()
}

/// The time `days` from now, as GitHub writes timestamps.
pub fn in_days(days: i64) -> String {
    in_seconds(days * 86_400)
}

/// The time `seconds` from now, as GitHub writes timestamps.
pub fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A port on loopback that nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// Waits, looking every 20 ms, until `done()` holds; fails past `bound`, saying `why()`.
pub async fn wait_until(
    bound: std::time::Duration,
    done: impl Fn() -> bool,
    why: impl Fn() -> String,
) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < bound, "{}", why());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Asks `path` every `every` until `done` holds for the answer; how long that took. Fails
/// past `bound`, showing the last answer.
pub async fn until_answer(
    app: &TestApp,
    path: &str,
    token: &str,
    bound: std::time::Duration,
    every: std::time::Duration,
    done: impl Fn(&Response) -> bool,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    loop {
        let res = app.get(path, token).await;
        if done(&res) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < bound,
            "not followed after {:?}: {} {}",
            start.elapsed(),
            res.status,
            res.body
        );
        tokio::time::sleep(every).await;
    }
}

/// Calls `probe` until `done` holds for its answer, at most 50 times 200 ms apart; the last
/// answer.
pub async fn retry<T, F>(mut probe: impl FnMut() -> F, done: impl Fn(&T) -> bool) -> T
where
    F: std::future::Future<Output = T>,
{
    let mut last = probe().await;
    for _ in 1..50 {
        if done(&last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        last = probe().await;
    }
    last
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An app JWT as `@octokit/auth-app` makes it, signed with the fixture key.
pub fn app_jwt(iss: &str) -> String {
    sign_app_jwt(
        &json!({"iat": now() - 30, "exp": now() + 570, "iss": iss}),
        app_private_key(),
    )
}

/// An RS256 JWT with arbitrary claims.
pub fn sign_app_jwt(claims: &Value, private_pem: &str) -> String {
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("RSA key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("sign")
}
