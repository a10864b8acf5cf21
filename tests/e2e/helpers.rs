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
                "members": "read",
            })),
            install("issuer", ORG, json!({"organization_personal_access_token_intake": "write"})),
            install("reader", ORG, json!({
                "organization_personal_access_token_requests": "read",
                "organization_hooks": "read",
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

    /// Seeds the fixture into a fresh database; returns the data directory and database URL.
    pub fn prepare(backend: Backend) -> (PathBuf, String) {
        let dir = temp_dir();
        let database_url = match backend {
            Backend::Sqlite => dir.join("patgate.db").display().to_string(),
            Backend::Postgres => patgate_testkit::PgCluster::shared().create_database(),
        };
        let seed_path = dir.join("seed.json");
        std::fs::write(&seed_path, fixture_seed().to_string()).expect("write seed");
        let out = run_cli(
            &dir,
            &database_url,
            &["seed", seed_path.to_str().expect("utf-8 path")],
        );
        assert!(
            out.status.success(),
            "seed failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, database_url)
    }

    /// Starts the server on an already prepared data directory and database, with expiry
    /// sweeps off so that the fixture stays as seeded.
    pub fn start(dir: PathBuf, database_url: String) -> TestApp {
        Self::start_with(dir, database_url, &["--expiry-interval", "0"])
    }

    /// Starts the server with extra `serve` arguments.
    pub fn start_with(dir: PathBuf, database_url: String, extra: &[&str]) -> TestApp {
        let mut child = Command::new(binary())
            .arg("--data-dir")
            .arg(&dir)
            .arg("--database-url")
            .arg(&database_url)
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "2"])
            .args(extra)
            .env("PATGATE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
        self.send(
            Method::POST,
            path,
            Some(&format!("Bearer {token}")),
            Some(&body.to_string()),
        )
        .await
    }

    /// An installation access token of the app with this client id (its first installation).
    pub async fn token_for(&self, client_id: &str) -> String {
        self.token_with(client_id, &json!({})).await
    }

    /// An installation access token asked for with `body` (e.g. narrowed permissions).
    pub async fn token_with(&self, client_id: &str, body: &Value) -> String {
        let jwt = app_jwt(client_id);
        let installation = self.installation_id(client_id).await;
        let res = self
            .post(
                &format!("/app/installations/{installation}/access_tokens"),
                &jwt,
                body,
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.json["token"].as_str().expect("token").to_owned()
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
