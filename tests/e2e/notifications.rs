//! E-mail notifications against an SMTP server the test runs on loopback: a review reaches
//! the token owner (a denial with its reason), a rolled-back change sends nothing, an owner
//! without an address gets nothing, a refusing or absent server gets the message once it is
//! back, and each organization's digest goes out once per period however many instances run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::both_backends;
use crate::helpers::*;

/// One message the server accepted.
#[derive(Debug, Clone)]
struct Mail {
    to: Vec<String>,
    /// The message as sent, headers unfolded and the body decoded.
    text: String,
}

impl Mail {
    fn header(&self, name: &str) -> &str {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.text
            .lines()
            .take_while(|l| !l.is_empty())
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map_or("", |l| l[prefix.len()..].trim())
    }

    fn subject(&self) -> &str {
        self.header("Subject")
    }

    fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

/// Unfolds headers and decodes quoted-printable (what lettre uses for long lines).
fn decode(data: &str) -> String {
    let unfolded = data.replace("\r\n ", " ").replace("\r\n\t", " ");
    let qp = unfolded
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable");
    if !qp {
        return unfolded;
    }
    let bytes = unfolded.replace("=\r\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The next line with its ending, or `None` at the end of the stream.
async fn next_line(reader: &mut (impl AsyncBufReadExt + Unpin)) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    Ok((reader.read_line(&mut line).await? > 0).then_some(line))
}

/// A minimal SMTP server on loopback: records every message it accepts; while `refuse` is
/// set, it answers `451` to each recipient, as a server that cannot take mail for now.
#[derive(Clone)]
struct SmtpServer {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Mail>>>,
    refuse: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        Self::on(TcpListener::bind("127.0.0.1:0").await.expect("bind"), false)
    }

    fn on(listener: TcpListener, refuse: bool) -> SmtpServer {
        let server = SmtpServer {
            addr: listener.local_addr().expect("address"),
            got: Arc::new(Mutex::new(Vec::new())),
            refuse: Arc::new(AtomicBool::new(refuse)),
            refused: Arc::new(AtomicUsize::new(0)),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.serve(stream).await;
                });
            }
        });
        server
    }

    async fn serve(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        write.write_all(b"220 test ESMTP\r\n").await?;
        let mut to = Vec::new();
        loop {
            let Some(line) = next_line(&mut reader).await? else {
                return Ok(());
            };
            let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 test\r\n",
                "MAIL" => {
                    to.clear();
                    b"250 OK\r\n"
                }
                "RCPT" if self.refuse.load(Ordering::SeqCst) => {
                    self.refused.fetch_add(1, Ordering::SeqCst);
                    b"451 4.3.0 try again later\r\n"
                }
                "RCPT" => {
                    let address = line.trim_end()[8..].trim_matches(|c| c == '<' || c == '>');
                    to.push(address.to_owned());
                    b"250 OK\r\n"
                }
                "DATA" => {
                    write.write_all(b"354 go ahead\r\n").await?;
                    let mut data = String::new();
                    loop {
                        let Some(l) = next_line(&mut reader).await? else {
                            return Ok(());
                        };
                        if l == ".\r\n" {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    }
                    self.got.lock().expect("lock").push(Mail {
                        to: std::mem::take(&mut to),
                        text: decode(&data),
                    });
                    b"250 OK queued\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"250 OK\r\n",
            };
            write.write_all(reply).await?;
        }
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    fn received(&self) -> Vec<Mail> {
        self.got.lock().expect("lock").clone()
    }

    /// The review notices received so far (digests left out).
    fn notices(&self) -> Vec<Mail> {
        self.received()
            .into_iter()
            .filter(|m| m.subject().contains("your request") || m.subject().contains("your token"))
            .collect()
    }

    /// Waits until `n` notices have arrived (failing past `bound`); then a moment more, to
    /// catch any that should not come.
    async fn wait_for_notices(&self, n: usize, bound: Duration) -> Vec<Mail> {
        let arrived = || self.notices().len() >= n;
        wait_until(bound, arrived, || {
            let (got, all) = (self.notices().len(), self.received());
            format!("{got} of {n} notices after {bound:?}: {all:?}")
        })
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        self.notices()
    }
}

/// Owners and addresses on top of the fixture: alice, bob and dave have an address, carol has
/// none; acme is owned by dave and carol, globex by eve.
fn owners_seed() -> Value {
    json!({
        "organizations": [
            {"login": ORG, "owners": ["dave", "carol"]},
            {"login": OTHER_ORG, "owners": ["eve"]},
        ],
        "users": [
            {"login": "alice", "email": "alice@example.com"},
            {"login": "bob", "email": "bob@example.com"},
            {"login": "dave", "email": "dave@example.com"},
            {"login": "eve", "email": "eve@example.com"},
        ],
    })
}

/// The fixture with owners and addresses; returns the data directory and database URL.
fn prepare(backend: Backend) -> (std::path::PathBuf, String) {
    let (dir, url) = TestApp::prepare(backend);
    seed_into(&dir, &url, "owners.json", &owners_seed());
    (dir, url)
}

fn start(dir: std::path::PathBuf, url: String, smtp: &str, extra: &[&str]) -> TestApp {
    let mut serve = args("--expiry-interval 0 --mail-poll-ms 50 --mail-retry-base-ms 100");
    serve.extend_from_slice(&[
        "--smtp-url",
        smtp,
        "--mail-from",
        "patgate <patgate@example.org>",
    ]);
    serve.extend_from_slice(extra);
    TestApp::start_with(dir, url, &serve)
}

/// A running instance and the reviewer's token, with the first pending request of each owner.
struct Reviewing {
    app: TestApp,
    token: String,
    first: BTreeMap<String, i64>,
}

impl Reviewing {
    async fn on(app: TestApp) -> Reviewing {
        let token = app.token_for(REVIEWER).await;
        let all = format!("{REQUESTS_PATH}?per_page=100&direction=asc");
        let res = app.get_ok(&all, &token).await;
        let mut first = BTreeMap::new();
        for r in res.items() {
            let owner = r["owner"]["login"].as_str().expect("owner").to_owned();
            first.entry(owner).or_insert(r["id"].as_i64().expect("id"));
        }
        Reviewing { app, token, first }
    }

    /// Reviews the first request of `owner` with `body`.
    async fn review(&self, owner: &str, body: Value) {
        self.app.review(&self.token, self.first[owner], &body).await;
    }

    /// The organization's audit trail that `query` selects, asserting the 200.
    async fn audit(&self, query: &str) -> Response {
        let res = self.app.audit(&self.token, query).await;
        res.assert_status(StatusCode::OK);
        res
    }
}

/// A server on loopback and an instance mailing to it.
async fn reviewing_with_smtp(backend: Backend) -> (SmtpServer, Reviewing) {
    let smtp = SmtpServer::start().await;
    let (dir, url) = prepare(backend);
    let reviewing = Reviewing::on(start(dir, url, &smtp.url(), &[])).await;
    (smtp, reviewing)
}

/// Approving alice's request and denying bob's mails each of them, the denial with its reason;
/// carol, without an address, gets nothing for hers.
async fn a_review_reaches_the_owner_and_a_denial_its_reason(backend: Backend) {
    let (smtp, r) = reviewing_with_smtp(backend).await;
    r.review("alice", json!({"action": "approve"})).await;
    r.review(
        "bob",
        json!({"action": "deny", "reason": "Too broad: ask for one repository"}),
    )
    .await;
    r.review("carol", json!({"action": "approve"})).await;
    let got = smtp.wait_for_notices(2, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let to = |who: &str| -> Vec<&Mail> { got.iter().filter(|m| m.to == [who]).collect() };
    let (to_alice, to_bob) = (to("alice@example.com"), to("bob@example.com"));
    assert_eq!((to_alice.len(), to_bob.len()), (1, 1), "{got:?}");
    assert!(
        to_alice[0].subject().contains("was approved"),
        "{:?}",
        to_alice[0]
    );
    assert!(to_alice[0]
        .body()
        .contains(&format!("request #{}", r.first["alice"])));
    assert!(!to_alice[0].body().contains("Reason:"));
    assert!(
        to_bob[0].subject().contains("was denied"),
        "{:?}",
        to_bob[0]
    );
    assert!(
        to_bob[0]
            .body()
            .contains("Reason: Too broad: ask for one repository"),
        "{:?}",
        to_bob[0]
    );
    assert_eq!(to_bob[0].header("From"), "patgate <patgate@example.org>");
    assert!(to_bob[0]
        .header("Message-ID")
        .starts_with("<patgate-notification-"));
    // Nothing ever went to an owner without an address.
    assert!(smtp
        .received()
        .iter()
        .all(|m| m.to.iter().all(|t| !t.contains("carol"))));
}

/// A bulk review that fails as a whole sends nothing; a valid one sends its notice.
async fn a_rolled_back_change_sends_nothing(backend: Backend) {
    let (smtp, r) = reviewing_with_smtp(backend).await;
    let ids = json!([r.first["alice"], r.first["bob"], 999_999]);
    r.app
        .post(
            REQUESTS_PATH,
            &r.token,
            &json!({"pat_request_ids": ids, "action": "deny", "reason": "no"}),
        )
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtp.notices().is_empty(), "{:?}", smtp.notices());
    r.review("alice", json!({"action": "approve"})).await;
    let got = smtp.wait_for_notices(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].to, ["alice@example.com"]);
}

/// A server that is down, then refuses with `451`, gets the notice once it takes mail again;
/// once only.
async fn a_refusing_mail_server_gets_the_message_once_it_is_back(backend: Backend) {
    // A port nothing listens on yet.
    let port = free_port();
    let (dir, url) = prepare(backend);
    let r = Reviewing::on(start(dir, url, &format!("smtp://127.0.0.1:{port}"), &[])).await;
    r.review(
        "bob",
        json!({"action": "deny", "reason": "expired project"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The organization's backlog shows the notice waiting, and for how long.
    let backlog = "/orgs/acme/personal-access-token-notifications/backlog";
    let waiting = r.app.get(backlog, &r.token).await;
    waiting.assert_status(StatusCode::OK);
    // The notice, and the digest a fresh deployment sends for the current period.
    assert_eq!(
        (
            waiting.json["pending"].clone(),
            waiting.json["failed"].clone()
        ),
        (json!(2), json!(0)),
        "{}",
        waiting.body
    );
    assert!(
        waiting.json["oldest_pending_at"].is_string(),
        "{}",
        waiting.body
    );
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind");
    let smtp = SmtpServer::on(listener, true);
    let retried = || smtp.refused.load(Ordering::SeqCst) >= 2;
    wait_until(Duration::from_secs(15), retried, || {
        "never retried".to_owned()
    })
    .await;
    assert!(smtp.notices().is_empty());
    smtp.refuse.store(false, Ordering::SeqCst);
    let got = smtp.wait_for_notices(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(smtp.notices().len(), 1, "{got:?}");
    assert_eq!(got[0].to, ["bob@example.com"]);
    assert!(got[0].body().contains("Reason: expired project"));
    // Read access to the organization's administration is needed, as for its audit trail.
    let reader = r.app.token_for(READER).await;
    r.app
        .get(backlog, &reader)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let start = Instant::now();
    loop {
        let sent = r.app.get(backlog, &r.token).await;
        if sent.json["pending"] == 0 {
            assert_eq!(sent.json["lag_seconds"], 0, "{}", sent.body);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{}", sent.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The digests received, by (organization, period): how many times each arrived.
fn digests(smtp: &SmtpServer) -> BTreeMap<String, Vec<Mail>> {
    let mut by_subject: BTreeMap<String, Vec<Mail>> = BTreeMap::new();
    for m in smtp.received() {
        if m.subject().contains("pending token request") {
            by_subject
                .entry(m.subject().to_owned())
                .or_default()
                .push(m);
        }
    }
    by_subject
}

/// With a 2-second period and several instances on one database, each organization's digest
/// arrives once per period: to its owners with an address, listing the pending requests
/// oldest first with a link to each.
async fn the_digest_goes_out_once_per_organization_per_period(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let (dir, url) = prepare(backend);
    let instances = if backend == Backend::Postgres { 3 } else { 2 };
    let apps: Vec<TestApp> = (0..instances)
        .map(|_| {
            start(
                dir.clone(),
                url.clone(),
                &smtp.url(),
                &["--digest-period-secs", "2"],
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(7)).await;
    drop(apps);
    let got = digests(&smtp);
    let acme: Vec<&String> = got.keys().filter(|s| s.contains("acme:")).collect();
    let globex: Vec<&String> = got.keys().filter(|s| s.contains("globex:")).collect();
    assert!(acme.len() >= 3, "one digest per period: {:?}", got.keys());
    assert!(globex.len() >= 3, "one digest per period: {:?}", got.keys());
    for (subject, mails) in &got {
        assert_eq!(mails.len(), 1, "{subject} arrived {} times", mails.len());
    }
    for subject in &acme {
        let mail = &got[*subject][0];
        assert_eq!(mail.to, ["dave@example.com"], "carol has no address");
        assert!(subject.contains(&format!("{REQUESTS} pending token requests")));
        let ids: Vec<i64> = mail
            .body()
            .lines()
            .filter_map(|l| l.strip_prefix("- #"))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(ids.len(), REQUESTS, "{}", mail.body());
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
        assert!(mail.body().contains(&format!(
            "/orgs/acme/personal-access-token-requests/{}/repositories",
            ids[0]
        )));
        assert!(mail.body().contains("- #1 alice / \"token-0\", waiting "));
    }
    for subject in &globex {
        assert_eq!(got[*subject][0].to, ["eve@example.com"]);
        assert!(subject.contains("3 pending token requests"));
    }
}

/// Without an SMTP server nothing is sent, and a notice queued meanwhile is not sent later.
async fn without_an_smtp_server_notices_are_skipped(backend: Backend) {
    let (dir, url) = prepare(backend);
    let mut unmailed = Reviewing::on(TestApp::start_with(
        dir.clone(),
        url.clone(),
        &["--expiry-interval", "0", "--mail-poll-ms", "50"],
    ))
    .await;
    unmailed.review("alice", json!({"action": "approve"})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Killed, not dropped: the data directory stays for the next instance.
    unmailed.app.kill();
    let smtp = SmtpServer::start().await;
    let r = Reviewing::on(start(dir, url, &smtp.url(), &[])).await;
    r.review("bob", json!({"action": "approve"})).await;
    let got = smtp.wait_for_notices(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].to, ["bob@example.com"]);
}

/// The issuer may give the owner's address when it files (`owner_email`): a new owner is then
/// told of the review there. A malformed address is refused and files nothing.
async fn the_issuer_gives_the_owners_address_when_it_files(backend: Backend) {
    let (smtp, r) = reviewing_with_smtp(backend).await;
    let issuer = r.app.token_for(ISSUER).await;
    let filing = |email: &str| {
        json!({
            "owner": "newcomer",
            "owner_email": email,
            "token_id": 9901,
            "token_name": "newcomer-ci",
            "token_expires_at": in_days(30),
            "repository_selection": "all",
            "permissions": {"repository": {"metadata": "read"}},
        })
    };
    for bad in [
        "no-at-sign",
        "a@b",
        "two words@example.com",
        "x@example.com, y@example.com",
    ] {
        let res = r.app.post(INTAKE_PATH, &issuer, &filing(bad)).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            res.body
        );
        res.assert_invalid_field("owner_email");
    }
    let res = r
        .app
        .get(&format!("{REQUESTS_PATH}?owner=newcomer"), &r.token)
        .await;
    assert_eq!(res.json, json!([]), "nothing filed: {}", res.body);
    let id = r
        .app
        .file_as(
            &issuer,
            &filing("newcomer@example.com"),
            StatusCode::CREATED,
        )
        .await;
    r.app
        .review(
            &r.token,
            id,
            &json!({"action": "deny", "reason": "Use the shared bot"}),
        )
        .await;
    let got = smtp.wait_for_notices(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].to, ["newcomer@example.com"]);
    assert!(
        got[0].body().contains("Reason: Use the shared bot"),
        "{:?}",
        got[0]
    );
}

/// An organization that routes its notifications elsewhere turns e-mail off: its reviews are
/// no longer mailed until it turns e-mail on again; each change is in its audit trail. Bad
/// bodies are refused and change nothing; reading and setting need
/// `organization_administration`.
async fn an_organization_can_turn_email_off(backend: Backend) {
    let (smtp, r) = reviewing_with_smtp(backend).await;
    let path = "/orgs/acme/personal-access-token-notifications/settings";
    let res = r.app.get(path, &r.token).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json, json!({"email": true}));
    let put = |body: Value| {
        let r = &r;
        async move { r.app.put(path, &r.token, &body).await }
    };
    for bad in [
        json!({"email": "no"}),
        json!({}),
        json!({"email": false, "sms": true}),
    ] {
        let res = put(bad.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            res.body
        );
    }
    let reader = r.app.token_for(READER).await;
    r.app.get(path, &reader).await.assert_not_accessible();
    assert_eq!(r.app.get(path, &r.token).await.json, json!({"email": true}));

    let res = put(json!({"email": false})).await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json, json!({"email": false}));
    r.review("alice", json!({"action": "approve"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtp.notices().is_empty(), "{:?}", smtp.notices());

    let res = put(json!({"email": true})).await;
    assert_eq!(res.json, json!({"email": true}));
    r.review("bob", json!({"action": "deny", "reason": "No"}))
        .await;
    let got = smtp.wait_for_notices(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].to,
        ["bob@example.com"],
        "alice's approval was not mailed later"
    );

    let audit = r.audit("subject_type=notifications").await;
    let reasons: Vec<&str> = audit
        .items()
        .iter()
        .map(|e| {
            assert_eq!(e["action"], "notifications.updated");
            e["reason"].as_str().unwrap_or("")
        })
        .collect();
    assert_eq!(
        reasons,
        [r#"{"email":true}"#, r#"{"email":false}"#],
        "newest first"
    );

    // A seed file sets it only for an organization without a setting: acme keeps its own,
    // globex takes the file's.
    r.app.seed(
        "email-off.json",
        &json!({"organizations": [
            {"login": ORG, "email_notifications": false},
            {"login": OTHER_ORG, "email_notifications": false},
        ]}),
    );
    assert_eq!(r.app.get(path, &r.token).await.json, json!({"email": true}));
    let outsider = r.app.token_for(OUTSIDER).await;
    let globex = r
        .app
        .get(
            "/orgs/globex/personal-access-token-notifications/settings",
            &outsider,
        )
        .await;
    assert_eq!(globex.json, json!({"email": false}), "{}", globex.body);
}

/// Revoking a grant mails its owner, with the reason when one is given (`action` alone stays
/// valid, as on GitHub); the reason is in the audit trail; a reason too long, or not text,
/// is refused and revokes nothing.
async fn a_revocation_reaches_the_owner_with_its_reason(backend: Backend) {
    let (smtp, r) = reviewing_with_smtp(backend).await;
    r.review("alice", json!({"action": "approve"})).await;
    r.review("bob", json!({"action": "approve"})).await;
    smtp.wait_for_notices(2, Duration::from_secs(15)).await;
    let grant_of = |owner: &'static str| {
        let r = &r;
        async move {
            let res = r
                .app
                .get(
                    &format!("{GRANTS_PATH}?owner={owner}&per_page=100"),
                    &r.token,
                )
                .await;
            res.assert_status(StatusCode::OK);
            res.json[0]["id"].as_i64().expect("a grant")
        }
    };
    let (alice, bob) = (grant_of("alice").await, grant_of("bob").await);
    for bad in [
        json!({"action": "revoke", "reason": "x".repeat(1025)}),
        json!({"action": "revoke", "reason": 7}),
    ] {
        let res = r.app.revoke_grant(&r.token, alice, &bad).await;
        res.assert_invalid_field("reason");
    }
    let still = r
        .app
        .get(&format!("{GRANTS_PATH}?owner=alice"), &r.token)
        .await;
    assert!(
        still.items().iter().any(|g| g["id"] == alice),
        "a refused revocation revokes nothing"
    );
    r.app
        .revoke_grant(
            &r.token,
            alice,
            &json!({"action": "revoke", "reason": "Leaving the project"}),
        )
        .await
        .assert_status(StatusCode::NO_CONTENT);
    r.app
        .post(
            GRANTS_PATH,
            &r.token,
            &json!({"action": "revoke", "pat_ids": [bob]}),
        )
        .await
        .assert_status(StatusCode::ACCEPTED);

    let got = smtp.wait_for_notices(4, Duration::from_secs(15)).await;
    let revoked: Vec<&Mail> = got
        .iter()
        .filter(|m| m.subject().contains("was revoked"))
        .collect();
    assert_eq!(revoked.len(), 2, "{got:?}");
    let to = |who: &str| revoked.iter().find(|m| m.to == [who]).expect(who);
    let (to_alice, to_bob) = (to("alice@example.com"), to("bob@example.com"));
    assert!(
        to_alice.body().contains("Reason: Leaving the project"),
        "{to_alice:?}"
    );
    assert!(
        to_alice.body().contains("revoked the access"),
        "{to_alice:?}"
    );
    assert!(!to_bob.body().contains("Reason:"), "{to_bob:?}");

    let audit = r.audit("action=grant.revoked").await;
    let reasons: BTreeMap<i64, Value> = audit
        .items()
        .iter()
        .map(|e| (e["subject_id"].as_i64().expect("id"), e["reason"].clone()))
        .collect();
    assert_eq!(reasons[&alice], "Leaving the project");
    assert_eq!(reasons[&bob], Value::Null);
}

both_backends!(
    a_review_reaches_the_owner_and_a_denial_its_reason,
    a_revocation_reaches_the_owner_with_its_reason,
    a_rolled_back_change_sends_nothing,
    a_refusing_mail_server_gets_the_message_once_it_is_back,
    the_digest_goes_out_once_per_organization_per_period,
    without_an_smtp_server_notices_are_skipped,
    the_issuer_gives_the_owners_address_when_it_files,
    an_organization_can_turn_email_off,
);
