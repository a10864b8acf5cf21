//! `make bench`: seeds realistic data in stages (10k, 100k, 1M requests and grants) into
//! SQLite and a throwaway PostgreSQL, drives the real `patgate` server with concurrent
//! keep-alive connections, measures a baseline server serving the same bytes from memory in
//! the same run, and writes BENCHMARKS.md (tables) and benchmarks/throughput.svg (plot).
//!
//! Settings (environment): BENCH_SECONDS (measured seconds per scenario, default 5),
//! BENCH_WARMUP (default 1), BENCH_CONNECTIONS (default 32), BENCH_WORKERS (server worker
//! threads, default 2), BENCH_ROWS (stages, default 10000,100000,1000000), BENCH_BACKENDS
//! (default sqlite,postgres), BENCH_OUT (default BENCHMARKS.md), BENCH_READ_ONLY=1 (skip the
//! scenarios that change data). `patgate-bench report` rewrites BENCHMARKS.md and the plot from
//! the last run's target/bench/results.json without measuring again.

mod limit;
mod load;
mod report;
mod seed;
mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use load::{request, Connection, RequestMaker, RunStats};
use report::{Measurement, Report, StageInfo};
use seed::{Backend, Db, BENCH_ORG};
use server::Server;

/// The raw measurements of the last run, from which `patgate-bench report` redoes the tables.
const RESULTS: &str = "target/bench/results.json";
/// The plot the report links.
const PLOT: &str = "benchmarks/throughput.svg";
/// PostgreSQL's plans of the benchmarked statements, at the largest size.
const EXPLAIN: &str = "benchmarks/explain-postgres.md";

/// What a run is configured with.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub seconds: f64,
    pub warmup: f64,
    pub connections: usize,
    pub workers: usize,
    pub stages: Vec<i64>,
    pub backends: Vec<Backend>,
    pub out: PathBuf,
    /// Skip the scenarios that change data (reviews, revocations), e.g. to profile the server
    /// on the seeded data afterwards.
    pub read_only: bool,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={v:?} is not valid")),
                _ => Ok(default),
            }
        }
        let stages: Vec<i64> = var("BENCH_ROWS", "10000,100000,1000000".to_owned())?
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("bad BENCH_ROWS entry {s:?}"))
            })
            .collect::<Result<_, _>>()?;
        if stages.is_empty() || stages.windows(2).any(|w| w[0] >= w[1]) || stages[0] < 1000 {
            return Err("BENCH_ROWS must be increasing sizes of at least 1000".into());
        }
        let backends = var("BENCH_BACKENDS", "sqlite,postgres".to_owned())?
            .split(',')
            .map(|s| match s.trim() {
                "sqlite" => Ok(Backend::Sqlite),
                "postgres" => Ok(Backend::Postgres),
                other => Err(format!("unknown backend {other:?} in BENCH_BACKENDS")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Config {
            seconds: var("BENCH_SECONDS", 5.0)?,
            warmup: var("BENCH_WARMUP", 1.0)?,
            connections: var("BENCH_CONNECTIONS", 32)?,
            workers: var("BENCH_WORKERS", 2)?,
            stages,
            backends,
            out: PathBuf::from(var("BENCH_OUT", "BENCHMARKS.md".to_owned())?),
            read_only: var("BENCH_READ_ONLY", 0u8)? == 1,
        })
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("baseline") => server::run_baseline(&args[1..]),
        Some("report") => Report::load(Path::new(RESULTS)).and_then(|report| {
            let out = report.out().to_owned();
            report.write(&out, Path::new(PLOT))
        }),
        Some("load") => load_only(&args[1..]),
        None => run(),
        Some(other) => Err(format!(
            "unknown argument {other:?}: run without arguments (settings come from BENCH_* variables)"
        )),
    };
    if let Err(e) = result {
        eprintln!("patgate-bench: {e}");
        std::process::exit(1);
    }
}

/// `patgate-bench load ADDR PATH TOKEN SECONDS`: the load generator alone, GETs of `PATH` with
/// the configured connections for `SECONDS`, to profile a server started by hand (e.g. with
/// `perf record -p`).
fn load_only(args: &[String]) -> Result<(), String> {
    let [addr, path, token, seconds] = args else {
        return Err("usage: patgate-bench load ADDR PATH TOKEN SECONDS".to_owned());
    };
    let config = Config::from_env()?;
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let seconds: f64 = seconds.parse().map_err(|e| format!("{seconds}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let stats = runtime.block_on(load::run(
        addr,
        config.connections,
        Duration::from_secs_f64(config.warmup),
        Duration::from_secs_f64(seconds),
        200,
        fixed(request("GET", path, Some(token), None)),
    ));
    print_stats(path, &stats);
    Ok(())
}

fn run() -> Result<(), String> {
    let config = Config::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let work = PathBuf::from("target/bench");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let binary = server::patgate_binary()?;
    let mut report = Report::new(config.clone());
    for backend in config.backends.clone() {
        runtime.block_on(bench_backend(&config, backend, &binary, &work, &mut report))?;
        // Kept after each backend, so that `patgate-bench report` can redo the tables.
        report.save(Path::new(RESULTS))?;
    }
    report.write(&config.out, Path::new(PLOT))?;
    println!("wrote {}, {PLOT} and {RESULTS}", config.out.display());
    Ok(())
}

/// Where one backend's database lives, and how to reach it.
struct Target {
    backend: Backend,
    /// The `patgate` binary the servers run.
    binary: PathBuf,
    url: String,
    data_dir: PathBuf,
    /// The throwaway PostgreSQL (kept running while this lives), whose pgbench and psql
    /// measure the database limit.
    cluster: Option<patgate_testkit::PgCluster>,
}

/// An empty database for `backend` (a throwaway PostgreSQL, or a file for SQLite), in a
/// fresh directory of `work`.
fn prepare(backend: Backend, binary: &Path, work: &Path) -> Result<Target, String> {
    let dir = work.join(match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (url, cluster) = match backend {
        Backend::Sqlite => (dir.join("patgate.db").display().to_string(), None),
        Backend::Postgres => {
            let cluster = patgate_testkit::PgCluster::start_durable()?;
            (cluster.create_database(), Some(cluster))
        }
    };
    Ok(Target {
        backend,
        binary: binary.to_owned(),
        url,
        data_dir: dir,
        cluster,
    })
}

/// The benchmark's app and its installation on the benchmarked organization.
struct Fixture {
    app_id: i64,
    installation_id: i64,
    /// The app's installation on `org-2`, which files requests there (review rules' cost at
    /// filing is measured away from the benchmarked organization's data).
    filer_installation_id: i64,
    private_pem: String,
}

impl Fixture {
    /// The benchmark's installation on the benchmarked organization (id 1), as the
    /// database-limit statements bind it.
    fn actor(&self) -> limit::Actor {
        limit::Actor {
            org_id: 1,
            app_id: self.app_id,
            installation_id: self.installation_id,
        }
    }

    /// The token exchange request: the installation's token for a fresh app JWT.
    fn token_exchange(&self) -> Result<Vec<u8>, String> {
        self.token_exchange_for(self.installation_id)
    }

    /// The token exchange request of one of the app's installations.
    fn token_exchange_for(&self, installation_id: i64) -> Result<Vec<u8>, String> {
        let jwt =
            patgate_api::keys::app_jwt(&self.app_id.to_string(), &self.private_pem, now_secs())
                .map_err(|e| e.to_string())?;
        Ok(request(
            "POST",
            &format!("/app/installations/{installation_id}/access_tokens"),
            Some(&jwt),
            None,
        ))
    }
}

/// Seeds what every size shares: the directory, and the benchmark's app and installation.
fn seed_shared(target: &Target) -> Result<Fixture, String> {
    let mut db = Db::open(target.backend, &target.url)?;
    seed::seed_directory(&mut db)?;
    seed_fixture(target, &mut db)
}

/// The benchmark's app and installation, seeded with `patgate seed`.
fn seed_fixture(target: &Target, db: &mut Db) -> Result<Fixture, String> {
    let private_pem = patgate_api::keys::generate_rsa_private_pem().map_err(|e| e.to_string())?;
    let public_pem = patgate_api::keys::rsa_public_pem(&private_pem).map_err(|e| e.to_string())?;
    let file = target.data_dir.join("fixture.json");
    let fixture = serde_json::json!({
        "apps": [{
            "slug": "bench-reviewer",
            "name": "Benchmark reviewer",
            "client_id": "Iv1.benchreviewer",
            "public_key_pem": public_pem,
        }],
        "installations": [{
            "app": "bench-reviewer",
            "org": BENCH_ORG,
            "permissions": {
                "organization_personal_access_token_requests": "write",
                "organization_personal_access_tokens": "write",
                "organization_personal_access_token_review_rules": "read",
            },
        }, {
            "app": "bench-reviewer",
            "org": FILING_ORG,
            "permissions": {
                "organization_personal_access_token_intake": "write",
                "organization_personal_access_token_review_rules": "write",
            },
        }],
    });
    std::fs::write(&file, fixture.to_string()).map_err(|e| e.to_string())?;
    // Kept beside the database, to try the seeded server by hand (`patgate app-jwt`).
    std::fs::write(target.data_dir.join("bench-app.pem"), &private_pem)
        .map_err(|e| e.to_string())?;
    let file_arg = file.display().to_string();
    server::patgate_command(
        &target.binary,
        &target.url,
        &target.data_dir,
        &["seed", &file_arg],
    )?;
    let app_id = first(db.ids("SELECT id FROM apps WHERE slug = 'bench-reviewer'")?)?;
    let installation_id = first(db.ids(&format!(
        "SELECT id FROM installations WHERE app_id = {app_id} AND org_id = 1"
    ))?)?;
    let filer_installation_id = first(db.ids(&format!(
        "SELECT id FROM installations WHERE app_id = {app_id} AND org_id = 2"
    ))?)?;
    Ok(Fixture {
        app_id,
        installation_id,
        filer_installation_id,
        private_pem,
    })
}

fn first(ids: Vec<i64>) -> Result<i64, String> {
    ids.first()
        .copied()
        .ok_or_else(|| "the fixture was not seeded".to_owned())
}

/// One backend: seeds it stage by stage and, after each stage, measures the server on it
/// (`bench_stage`) into `report`.
async fn bench_backend(
    config: &Config,
    backend: Backend,
    binary: &Path,
    work: &Path,
    report: &mut Report,
) -> Result<(), String> {
    println!("== {}", backend.name());
    let target = prepare(backend, binary, work)?;
    server::patgate_command(binary, &target.url, &target.data_dir, &["migrate"])?;
    let started = Instant::now();
    let fixture = seed_shared(&target)?;
    let mut seeded_to = 0;
    let last = *config.stages.last().unwrap_or(&0);
    for &rows in &config.stages {
        // A new connection for each load, with the load's settings (the server is stopped,
        // and no other connection is open: SQLite leaves WAL only with the file to itself).
        let mut db = Db::open(backend, &target.url)?;
        // The first size's time includes the directory and the fixture.
        let since = if seeded_to == 0 {
            started
        } else {
            Instant::now()
        };
        let seed_time = seed_rows(&mut db, seeded_to, rows, since)?;
        seeded_to = rows;
        let (server, first_start) = start_settled(config, &target, rows).await?;
        let startup = server.startup;
        let (stage, (rss, peak)) = bench_stage(
            config,
            &target,
            &mut db,
            &fixture,
            server,
            rows,
            rows == last,
        )
        .await?;
        report.stage(StageInfo {
            backend,
            rows,
            seed_seconds: seed_time.as_secs_f64(),
            startup_ms: ms(startup),
            first_start_ms: ms(first_start),
            rss_mb: rss,
            peak_rss_mb: peak,
        });
        for m in stage {
            report.measurement(m);
        }
    }
    Ok(())
}

/// Seeds the rows past `from` up to `to`, and says how long it took since `since`.
fn seed_rows(db: &mut Db, from: i64, to: i64, since: Instant) -> Result<Duration, String> {
    seed::seed_stage(db, from + 1, to)?;
    seed::finish(db)?;
    let seed_time = since.elapsed();
    println!(
        "  seeded {to} requests and grants (+{} rows) in {:.1} s",
        to - from,
        seed_time.as_secs_f64()
    );
    Ok(seed_time)
}

/// The server on the data just loaded, started twice: the first start after a bulk load
/// does one-time work (SQLite: back to WAL on a file just written without a journal); a
/// deployment restarts on a settled database. The second server, and the first's start-up.
async fn start_settled(
    config: &Config,
    target: &Target,
    rows: i64,
) -> Result<(Server, Duration), String> {
    let log = target.data_dir.join(format!("server-{rows}.log"));
    let first = start_patgate(config, target, &log, &[]).await?;
    let first_start = first.startup;
    drop(first);
    let server = start_patgate(config, target, &log, &[]).await?;
    println!(
        "  server answered {:.0} ms after a restart ({:.0} ms on its first start after the load)",
        ms(server.startup),
        ms(first_start)
    );
    Ok((server, first_start))
}

/// `patgate serve` on the target's database with the configured workers, logging to `log`.
async fn start_patgate(
    config: &Config,
    target: &Target,
    log: &Path,
    extra: &[&str],
) -> Result<Server, String> {
    Server::patgate(
        &target.binary,
        &target.url,
        &target.data_dir,
        config.workers,
        log,
        extra,
    )
    .await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A scenario: a name, the status it expects, and how to build its requests.
struct Scenario {
    name: &'static str,
    expect: u16,
    /// Concurrent connections; 0 for the configured number.
    connections: usize,
    make: RequestMaker,
}

/// `request` with a header of filler, so that it is `len` bytes long: the unauthenticated
/// request then costs the server the same bytes to read and parse as the authenticated one,
/// and the difference between them is the credential's check alone.
fn padded(request: Vec<u8>, len: usize) -> Vec<u8> {
    const NAME: &[u8] = b"X-Bench-Padding: ";
    let end = request.len() - 2; // before the blank line that ends the headers
    let filler = len.saturating_sub(request.len() + NAME.len() + 2);
    let mut out = Vec::with_capacity(len.max(request.len()));
    out.extend_from_slice(&request[..end]);
    out.extend_from_slice(NAME);
    out.extend(std::iter::repeat_n(b'x', filler));
    out.extend_from_slice(b"\r\n\r\n");
    out
}

fn fixed(bytes: Vec<u8>) -> RequestMaker {
    Arc::new(move |_| Some(bytes.clone()))
}

/// Requests built from `per_request` consecutive ids of `ids`, each used once.
fn consuming(
    ids: Vec<i64>,
    per_request: usize,
    build: impl Fn(&[i64]) -> Vec<u8> + Send + Sync + 'static,
) -> RequestMaker {
    Arc::new(move |seq| {
        let start = usize::try_from(seq).ok()?.checked_mul(per_request)?;
        let chunk = ids.get(start..start + per_request)?;
        Some(build(chunk))
    })
}

/// Requests built from the ids of `ids` in turn, cycling.
fn cycling(ids: Vec<i64>, build: impl Fn(i64) -> Vec<u8> + Send + Sync + 'static) -> RequestMaker {
    Arc::new(move |seq| {
        let i = usize::try_from(seq).ok()? % ids.len().max(1);
        ids.get(i).map(|id| build(*id))
    })
}

/// A scenario of the same GET, answered with 200.
fn get(name: &'static str, connections: usize, path: &str, token: Option<&str>) -> Scenario {
    Scenario {
        name,
        expect: 200,
        connections,
        make: fixed(request("GET", path, token, None)),
    }
}

/// The benchmarked organization's requests.
fn requests_path() -> String {
    format!("/orgs/{BENCH_ORG}/personal-access-token-requests")
}

/// One stage, measured: the scenarios on the server as deployed, the baseline serving list
/// page 1's bytes from memory, then, with that server stopped (its background work with
/// it), the reads again on a server that keeps no answers in memory. `full` (the largest
/// size) adds every other endpoint. Also gives the first server's memory (RSS, peak) in MB.
async fn bench_stage(
    config: &Config,
    target: &Target,
    db: &mut Db,
    fixture: &Fixture,
    server: Server,
    rows: i64,
    full: bool,
) -> Result<(Vec<Measurement>, (f64, f64)), String> {
    let token = installation_token(&server, fixture).await?;
    // The writes' inputs, the database limit's set apart first (from the end of each list).
    let writes = full && !config.read_only;
    let mut inputs = WriteInputs::read(db, writes)?;
    let write_limits = if writes {
        inputs.set_apart(write_limits(config, target.backend))
    } else {
        Vec::new()
    };
    let scenarios = stage_scenarios(config, db, fixture, Some(&token), full, inputs)?;
    let page = save_list_page(&server, &token, target, rows).await?;
    let mut results = Vec::new();
    let peak_rss = run_scenarios(config, target, &server, rows, scenarios, "", &mut results).await;
    // The memory targets are about serving the load: read before the review rules' dry-runs,
    // whose answers list every pending request of the organization.
    let memory = server.memory_mb();
    if !config.read_only {
        bench_rules(config, target, &server, fixture, &token, rows, &mut results).await?;
        println!(
            "  server peak RSS after the review rules' scenarios: {:.0} MB",
            server.memory_mb().1
        );
    }
    results.push(bench_baseline(config, target, rows, &page, &token).await?);
    println!("  server RSS under load: {peak_rss:.0} MB");
    // Stopped before the reads from the store, so that no outbox work or expiry sweep of it
    // runs beside them.
    drop(server);
    bench_from_store(config, target, db, fixture, rows, full, &mut results).await?;
    let mut limits: Vec<(limit::Limit, Vec<i64>)> = read_limits(config, db)?
        .into_iter()
        .map(|l| (l, Vec::new()))
        .collect();
    if full {
        let tokens = access_check_tokens(db)?;
        limits.push((
            limit::Limit {
                scenario: "access check",
                connections: config.connections,
                work: limit::Work::Access {
                    repository: "repo-1",
                },
                per_connection: 0,
                without_triggers: false,
                inputs: tokens.len(),
            },
            tokens,
        ));
    }
    limits.extend(write_limits);
    bench_limits(
        config,
        target,
        db,
        fixture,
        rows,
        full,
        &limits,
        &mut results,
    )?;
    Ok((results, memory))
}

/// The organization the review rules' filings go to (`org-2`, id 2).
const FILING_ORG: &str = "org-2";
/// Rules in the benchmark's rule set.
const RULES: usize = 100;
/// Dry-runs timed at each size, after one warm-up.
const DRY_RUNS: usize = 5;

/// A rule set of [`RULES`] rules, none of which decides the benchmark's filings. Most name an
/// owner, a role, a repository or a permission first (approve rules on owners, deny rules on
/// repository names, rules on organization owners' private repositories, rules that leave
/// requests for people on permissions), as a large set's rules do, and are left out of a
/// filing that lacks the name; seven are evaluated at every filing (a member's): five on
/// lifetimes, which name nothing first, and two on the permissions the filings ask for.
fn rule_set() -> String {
    (0..RULES)
        .map(|i| match i {
            4 => format!(
                "@id(\"contents-write-{i}\") @reason(\"Writing contents is reviewed by people.\")\nforbid (principal, action == Action::\"approve\", resource) when {{ resource.hasTag(\"contents\") && resource.getTag(\"contents\") == \"write\" }};\n"
            ),
            14 => format!(
                "@id(\"metadata-admin-{i}\") @reason(\"Metadata is never administered by tokens.\")\npermit (principal, action == Action::\"deny\", resource) when {{ resource.hasTag(\"metadata\") && resource.getTag(\"metadata\") == \"admin\" }};\n"
            ),
            _ if i % 20 == 9 => format!(
                "@id(\"lifetime-{i}\") @reason(\"Tokens live {} days at most.\")\npermit (principal, action == Action::\"deny\", resource) when {{ resource has lifetime_days && resource.lifetime_days > {} }};\n",
                90 + i,
                90 + i
            ),
            _ if i % 20 == 19 => format!(
                "@id(\"owners-private-{i}\") @reason(\"Owners' tokens on private repositories are reviewed by people.\")\nforbid (principal, action == Action::\"approve\", resource) when {{ principal.role == \"owner\" && resource.any_private_repository }};\n"
            ),
            _ => match i % 5 {
                0 | 1 => format!(
                    "@id(\"deny-{i}\") @reason(\"Repository secret-{i} is off limits.\")\npermit (principal, action == Action::\"deny\", resource) when {{ resource.repository_names.contains(\"secret-{i}\") }};\n"
                ),
                2 | 3 => format!(
                    "@id(\"approve-{i}\") @reason(\"Trusted owner {i}.\")\npermit (principal, action == Action::\"approve\", resource) when {{ principal.login == \"trusted-{i}\" && resource.read_only }};\n"
                ),
                _ => format!(
                    "@id(\"people-{i}\") @reason(\"Permission perm_{i} is reviewed by people.\")\nforbid (principal, action == Action::\"approve\", resource) when {{ resource.hasTag(\"perm_{i}\") }};\n"
                ),
            },
        })
        .collect()
}

/// `PUT` of the filing organization's review rules over whatever version is in force.
async fn save_rules(server: &Server, token: &str, mode: &str, source: &str) -> Result<(), String> {
    let body = serde_json::json!({"mode": mode, "source": source}).to_string();
    let path = format!("/orgs/{FILING_ORG}/personal-access-token-review-rules");
    let put = request("PUT", &path, Some(token), Some(&body));
    let text = String::from_utf8_lossy(&put).replacen(
        "User-Agent: patgate-bench\r\n",
        "User-Agent: patgate-bench\r\nIf-Match: *\r\n",
        1,
    );
    let answer = Connection::new(server.addr)
        .send(text.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!(
            "saving review rules answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    Ok(())
}

/// Filings of new tokens' requests to the filing organization, each with a token id of its
/// own from `first`.
fn filings(name: &'static str, connections: usize, first: i64, token: &str) -> Scenario {
    let token = token.to_owned();
    let path = format!("/orgs/{FILING_ORG}/personal-access-token-intake/requests");
    // Each token expires at a second of its own, as tokens created at different times do.
    let expires = chrono::Utc::now() + chrono::Duration::days(30);
    Scenario {
        name,
        expect: 201,
        connections,
        make: consuming((first..first + 400_000).collect(), 1, move |ids| {
            let expires =
                (expires + chrono::Duration::seconds(ids[0] - first)).format("%Y-%m-%dT%H:%M:%SZ");
            let body = format!(
                r#"{{"owner":"bench-filer","token_id":{},"token_name":"filed-{}","token_expires_at":"{expires}","repository_selection":"subset","repositories":["repo-2"],"permissions":{{"repository":{{"contents":"read","metadata":"read"}}}},"reason":"for the benchmark"}}"#,
                ids[0], ids[0]
            );
            request("POST", &path, Some(&token), Some(&body))
        }),
    }
}

/// What review rules cost: the issuer's filings without rules and with a rule set of
/// [`RULES`] in shadow mode (every rule evaluated, the decision recorded, nothing acted on),
/// on `org-2`; and the dry-run of that set over the benchmarked organization's pending
/// requests and active grants (which writes nothing).
async fn bench_rules(
    config: &Config,
    target: &Target,
    server: &Server,
    fixture: &Fixture,
    token: &str,
    rows: i64,
    results: &mut Vec<Measurement>,
) -> Result<(), String> {
    let answer = Connection::new(server.addr)
        .send(&fixture.token_exchange_for(fixture.filer_installation_id)?)
        .await
        .map_err(|e| e.to_string())?;
    let filer = answer.json()["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the filer's token exchange answered {}", answer.status))?;
    // Token ids of their own at each size: a filing of a known token would change nothing.
    let base = 10_000_000_000 + rows * 100;
    let source = rule_set();
    // Each pair measured back to back, without rules then with them, so that what the
    // database has become in between (the filings' rows, the outboxes' work) weighs on both.
    let pairs = [
        (
            ("file a request, 1 connection", 1, base),
            ("file a request, 100 rules, 1 connection", 1, base + 400_000),
        ),
        (
            ("file a request", 0, base + 800_000),
            ("file a request, 100 rules", 0, base + 1_200_000),
        ),
    ];
    for (without, with) in pairs {
        save_rules(server, &filer, "off", "").await?;
        let (name, connections, first) = without;
        let scenario = vec![filings(name, connections, first, &filer)];
        run_scenarios(config, target, server, rows, scenario, "", results).await;
        save_rules(server, &filer, "shadow", &source).await?;
        let (name, connections, first) = with;
        let scenario = vec![filings(name, connections, first, &filer)];
        run_scenarios(config, target, server, rows, scenario, "", results).await;
    }
    let dry_run = request(
        "POST",
        &format!("/orgs/{BENCH_ORG}/personal-access-token-review-rules/dry-run"),
        Some(token),
        Some(&serde_json::json!({"source": source}).to_string()),
    );
    // Timed one after another rather than in a window: at the largest sizes one dry-run takes
    // longer than a scenario's window. The first call is the warm-up, and tells how much a
    // dry-run decides at this size (the reviews measured before decided some of the
    // organization's pending requests).
    let mut connection = Connection::new(server.addr);
    let answer = connection.send(&dry_run).await.map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("the dry-run answered {}", answer.status));
    }
    let count = |field: &str| answer.json()[field].as_u64().unwrap_or(0);
    let inputs = report::DryRunInputs {
        pending: count("pending"),
        grants: count("grants_checked"),
    };
    let mut micros = Vec::with_capacity(DRY_RUNS);
    let started = Instant::now();
    let mut errors = 0;
    for _ in 0..DRY_RUNS {
        let sent = Instant::now();
        match connection.send(&dry_run).await {
            Ok(a) if a.status == 200 => {
                micros.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX))
            }
            _ => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    micros.sort_unstable();
    let stats = RunStats {
        ok: micros.len() as u64,
        errors,
        first_error: None,
        throughput: micros.len() as f64 / elapsed,
        p50_ms: load::percentile(&micros, 0.50),
        p99_ms: load::percentile(&micros, 0.99),
        p999_ms: load::percentile(&micros, 0.999),
        exhausted: false,
    };
    println!(
        "  {:<40} {} runs  p50 {:>7.2} ms  ({} pending, {} grants)",
        "dry-run of 100 rules", DRY_RUNS, stats.p50_ms, inputs.pending, inputs.grants
    );
    results.push(Measurement {
        backend: target.backend,
        rows,
        scenario: "dry-run of 100 rules".to_owned(),
        stats,
        inputs: Some(inputs),
    });
    Ok(())
}

/// The inputs of the write scenarios: pending requests of the benchmarked organization, and
/// active grants of its tokens that have no pending request (approving a token's pending
/// request supersedes its grant, so the reviews must not take the revocations' inputs).
struct WriteInputs {
    pending: Vec<i64>,
    active: Vec<i64>,
}

impl WriteInputs {
    fn read(db: &mut Db, writes: bool) -> Result<Self, String> {
        if !writes {
            return Ok(Self {
                pending: Vec::new(),
                active: Vec::new(),
            });
        }
        Ok(Self {
            pending: db.ids(
                "SELECT id FROM pat_requests WHERE org_id = 1 AND status = 'pending' ORDER BY id",
            )?,
            active: db.ids(
                "SELECT g.id AS id FROM pat_grants g WHERE g.org_id = 1 AND g.status = 'active' \
                 AND NOT EXISTS (SELECT 1 FROM pat_requests r WHERE r.org_id = 1 AND r.token_id = g.token_id AND r.status = 'pending') \
                 ORDER BY g.id DESC",
            )?,
        })
    }

    /// Takes each limit's inputs from the end of its list, never more than an eighth of what
    /// is left (fewer transactions when the data is small): the rest is the server's.
    fn set_apart(&mut self, limits: Vec<limit::Limit>) -> Vec<(limit::Limit, Vec<i64>)> {
        limits
            .into_iter()
            .filter_map(|mut l| {
                let list = match l.work {
                    limit::Work::Revoke => &mut self.active,
                    _ => &mut self.pending,
                };
                let per_transaction = l.ids_per_transaction() * l.connections;
                let available = l.ids_needed().min(list.len() / 8);
                l.per_connection = available / per_transaction.max(1);
                if l.per_connection == 0 {
                    return None;
                }
                let keep = list.len() - l.ids_needed();
                Some((l, list.split_off(keep)))
            })
            .collect()
    }
}

/// The database limits of the writes: as many transactions as the server's scenarios run
/// in a few seconds, each with its own inputs; on PostgreSQL also the single review with the
/// session's triggers off, to show what the schema's triggers cost.
fn write_limits(config: &Config, backend: Backend) -> Vec<limit::Limit> {
    use limit::{Limit, Work};
    let c = config.connections;
    let mut limits = vec![
        Limit {
            scenario: "single review",
            connections: c,
            work: Work::Approve,
            per_connection: 60,
            without_triggers: false,
            inputs: 0,
        },
        Limit {
            scenario: "single review, 1 connection",
            connections: 1,
            work: Work::Approve,
            per_connection: 600,
            without_triggers: false,
            inputs: 0,
        },
        Limit {
            scenario: "bulk review of 100",
            connections: c,
            work: Work::Deny(100),
            per_connection: 4,
            without_triggers: false,
            inputs: 0,
        },
        Limit {
            scenario: "bulk review of 100, 1 connection",
            connections: 1,
            work: Work::Deny(100),
            per_connection: 40,
            without_triggers: false,
            inputs: 0,
        },
        Limit {
            scenario: "single review, without triggers",
            connections: c,
            work: Work::Approve,
            per_connection: 60,
            without_triggers: true,
            inputs: 0,
        },
        Limit {
            scenario: "single review, 1 connection, without triggers",
            connections: 1,
            work: Work::Approve,
            per_connection: 600,
            without_triggers: true,
            inputs: 0,
        },
        Limit {
            scenario: "revoke a grant",
            connections: c,
            work: Work::Revoke,
            per_connection: 60,
            without_triggers: false,
            inputs: 0,
        },
        Limit {
            scenario: "revoke a grant, 1 connection",
            connections: 1,
            work: Work::Revoke,
            per_connection: 600,
            without_triggers: false,
            inputs: 0,
        },
    ];
    // The variants without triggers are PostgreSQL's (its change notifications are triggers).
    limits.retain(|l| !l.without_triggers || backend == Backend::Postgres);
    limits
}

/// The database limits of the list pages measured from the store, with the server's page
/// windows (`patgate_persistence::COUNT_AHEAD_PAGES`).
fn read_limits(config: &Config, db: &mut Db) -> Result<Vec<limit::Limit>, String> {
    use limit::{Filter, Limit, Work};
    use patgate_persistence::{COUNT_AHEAD_PAGES, COUNT_AHEAD_PAGES_PROBED};
    let window = |ahead: i64| 30 * (ahead + 1) + 1;
    let deep = (deep_page(db)? - 1) * 30;
    // The server keeps where the deep page begins once a read has found it
    // (crates/persistence/src/starts.rs), and reads it from there: so does its limit.
    let deep_start = db
        .ids(&format!("SELECT id FROM pat_requests WHERE org_id = 1 AND status = 'pending' ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET {deep}"))?
        .first()
        .copied();
    let lists = [
        ("list requests, page 1", 0, Filter::None, COUNT_AHEAD_PAGES),
        (
            "list requests, deep page",
            deep,
            Filter::None,
            COUNT_AHEAD_PAGES,
        ),
        (
            "list requests by owner",
            0,
            Filter::Owner("user-19191"),
            COUNT_AHEAD_PAGES,
        ),
        (
            "list requests by permission",
            0,
            Filter::Permission("contents_read"),
            COUNT_AHEAD_PAGES_PROBED,
        ),
        (
            "list requests by repository",
            0,
            Filter::Repository("repo-1"),
            COUNT_AHEAD_PAGES_PROBED,
        ),
        (
            "list requests by last use",
            0,
            Filter::LastUsedBefore("2026-09-01 00:00:00"),
            COUNT_AHEAD_PAGES_PROBED,
        ),
    ];
    Ok(lists
        .into_iter()
        .map(|(scenario, offset, filter, ahead)| Limit {
            scenario,
            connections: config.connections,
            work: Work::Page {
                window: window(ahead),
                offset,
                filter,
                start: if offset > 0 { deep_start } else { None },
            },
            per_connection: 0,
            without_triggers: false,
            inputs: 0,
        })
        .collect())
}

/// The database limit of each scenario in `limits`, measured with the server stopped: on
/// PostgreSQL with pgbench, on SQLite with a loop of prepared statements. At the largest
/// size, PostgreSQL's plans of every statement (`EXPLAIN (ANALYZE, BUFFERS)`) are written
/// beside the report.
#[allow(
    clippy::too_many_arguments,
    reason = "one stage's context, passed through"
)]
fn bench_limits(
    config: &Config,
    target: &Target,
    db: &mut Db,
    fixture: &Fixture,
    rows: i64,
    full: bool,
    limits: &[(limit::Limit, Vec<i64>)],
    results: &mut Vec<Measurement>,
) -> Result<(), String> {
    let actor = fixture.actor();
    let times = (config.warmup, config.seconds);
    let with_inputs: Vec<(limit::Limit, Vec<i64>)> = limits
        .iter()
        .filter(|(_, ids)| !ids.is_empty())
        .cloned()
        .collect();
    if !with_inputs.is_empty() {
        limit::load_inputs(db, &with_inputs)?;
    }
    let dir = target.data_dir.join("limit");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut plans = String::new();
    for (l, ids) in limits {
        let stats = match (&target.cluster, target.backend) {
            (Some(cluster), Backend::Postgres) => {
                if full {
                    let plan = limit::explain_pg(
                        cluster.psql(),
                        &target.url,
                        l,
                        actor,
                        "Denied by the benchmark",
                    )?;
                    plans.push_str(&format!("## {}\n\n```text\n{plan}```\n\n", l.scenario));
                }
                limit::run_pgbench(&cluster.pgbench()?, &target.url, &dir, l, actor, times)?
            }
            _ => limit::run_sqlite(&target.url, ids, l, actor, config.workers, times)?,
        };
        let name = format!("{}{}", l.scenario, report::LIMIT);
        print_stats(&name, &stats);
        results.push(Measurement {
            backend: target.backend,
            rows,
            scenario: name,
            stats,
            inputs: None,
        });
    }
    if !with_inputs.is_empty() {
        limit::drop_inputs(db)?;
    }
    if !plans.is_empty() {
        let file = Path::new(EXPLAIN);
        std::fs::write(
            file,
            format!(
                "# PostgreSQL plans of the benchmarked statements, at {rows} requests and grants\n\n\
                 Generated by `make bench` (crates/bench/src/limit.rs): each scenario's statements, as\n\
                 its database limit sends them, under `EXPLAIN (ANALYZE, BUFFERS)` in a transaction\n\
                 that is rolled back.\n\n{plans}"
            ),
        )
        .map_err(|e| e.to_string())?;
        println!("  wrote {EXPLAIN}");
    }
    Ok(())
}

/// The scenarios of a stage on the server as deployed: the lists and, when `full`, every
/// other endpoint (only those that change nothing with BENCH_READ_ONLY=1).
fn stage_scenarios(
    config: &Config,
    db: &mut Db,
    fixture: &Fixture,
    token: Option<&str>,
    full: bool,
    inputs: WriteInputs,
) -> Result<Vec<Scenario>, String> {
    let mut scenarios = list_scenarios(db, token)?;
    if full {
        let mut more = full_scenarios(db, fixture, token, inputs)?;
        if config.read_only {
            more.retain(|s| s.expect == 200);
        }
        scenarios.extend(more);
    }
    Ok(scenarios)
}

/// List page 1 as the server answers it, which the baseline serves.
struct Page {
    /// The body, saved for the baseline to read.
    body_file: PathBuf,
    /// The Link header.
    link: String,
}

/// Asks `server` for list page 1 and saves its body beside the database.
async fn save_list_page(
    server: &Server,
    token: &str,
    target: &Target,
    rows: i64,
) -> Result<Page, String> {
    let mut conn = Connection::new(server.addr);
    let page = conn
        .send(&list_page_1(Some(token)))
        .await
        .map_err(|e| e.to_string())?;
    if page.status != 200 {
        return Err(format!("list page 1 answered {}", page.status));
    }
    let body_file = target.data_dir.join(format!("page-{rows}.json"));
    std::fs::write(&body_file, &page.body).map_err(|e| e.to_string())?;
    Ok(Page {
        body_file,
        link: page.header("link").unwrap_or("").to_owned(),
    })
}

/// The request for list page 1, of 30.
fn list_page_1(token: Option<&str>) -> Vec<u8> {
    request(
        "GET",
        &format!("{}?per_page=30", requests_path()),
        token,
        None,
    )
}

/// The baseline: a minimal server answering list page 1's request with the very bytes of
/// `page`, from memory.
async fn bench_baseline(
    config: &Config,
    target: &Target,
    rows: i64,
    page: &Page,
    token: &str,
) -> Result<Measurement, String> {
    let log = target.data_dir.join("baseline.log");
    let baseline = Server::baseline(&page.body_file, &page.link, config.workers, &log).await?;
    let stats = measure(
        config,
        baseline.addr,
        config.connections,
        200,
        fixed(list_page_1(Some(token))),
    )
    .await;
    print_stats("baseline (same bytes from memory)", &stats);
    Ok(Measurement {
        backend: target.backend,
        rows,
        scenario: report::BASELINE.to_owned(),
        stats,
        inputs: None,
    })
}

/// The same reads on a server that keeps no answers in memory: what each costs the store.
async fn bench_from_store(
    config: &Config,
    target: &Target,
    db: &mut Db,
    fixture: &Fixture,
    rows: i64,
    full: bool,
    results: &mut Vec<Measurement>,
) -> Result<(), String> {
    let log = target.data_dir.join(format!("server-{rows}-store.log"));
    let store = start_patgate(config, target, &log, &["--response-cache-mb", "0"]).await?;
    let token = installation_token(&store, fixture).await?;
    let mut reads = list_scenarios(db, Some(&token))?;
    if full {
        reads.push(access_check(
            "access check",
            0,
            access_check_tokens(db)?,
            Some(token.clone()),
        ));
    }
    run_scenarios(
        config,
        target,
        &store,
        rows,
        reads,
        report::FROM_STORE,
        results,
    )
    .await;
    Ok(())
}

/// The list requests measured at every size.
fn list_scenarios(db: &mut Db, token: Option<&str>) -> Result<Vec<Scenario>, String> {
    let base = requests_path();
    let deep_page = deep_page(db)?;
    let lists = [
        ("list requests, page 1", String::new()),
        ("list requests, deep page", format!("&page={deep_page}")),
        ("list requests by owner", "&owner=user-19191".to_owned()),
        (
            "list requests by permission",
            "&permission=contents_read".to_owned(),
        ),
        (
            "list requests by repository",
            "&repository=repo-1".to_owned(),
        ),
        (
            "list requests by last use",
            "&last_used_before=2026-09-01T00:00:00Z".to_owned(),
        ),
    ];
    Ok(lists
        .into_iter()
        .map(|(name, filter)| get(name, 0, &format!("{base}?per_page=30{filter}"), token))
        .collect())
}

/// The deep page measured: the middle of the benchmarked organization's pending requests.
fn deep_page(db: &mut Db) -> Result<i64, String> {
    let pending =
        db.ids("SELECT count(*) AS id FROM pat_requests WHERE org_id = 1 AND status = 'pending'")?;
    Ok((pending.first().copied().unwrap_or(0) / 30 / 2).max(2))
}

/// Runs `scenarios` against `server`, naming each measurement with `suffix`; the peak RSS
/// seen between them.
async fn run_scenarios(
    config: &Config,
    target: &Target,
    server: &Server,
    rows: i64,
    scenarios: Vec<Scenario>,
    suffix: &str,
    results: &mut Vec<Measurement>,
) -> f64 {
    let mut peak_rss: f64 = 0.0;
    for scenario in scenarios {
        let connections = if scenario.connections == 0 {
            config.connections
        } else {
            scenario.connections
        };
        let stats = measure(
            config,
            server.addr,
            connections,
            scenario.expect,
            scenario.make,
        )
        .await;
        peak_rss = peak_rss.max(server.memory_mb().0);
        let name = format!("{}{suffix}", scenario.name);
        print_stats(&name, &stats);
        results.push(Measurement {
            backend: target.backend,
            rows,
            scenario: name,
            stats,
            inputs: None,
        });
    }
    peak_rss
}

/// One load run at `addr` with the configured warm-up and measured seconds.
async fn measure(
    config: &Config,
    addr: std::net::SocketAddr,
    connections: usize,
    expect: u16,
    make: RequestMaker,
) -> RunStats {
    load::run(
        addr,
        connections,
        Duration::from_secs_f64(config.warmup),
        Duration::from_secs_f64(config.seconds),
        expect,
        make,
    )
    .await
}

/// Every other endpoint, measured once, at the largest size: reads, then authentication,
/// then writes (last: they use up pending requests and active grants).
fn full_scenarios(
    db: &mut Db,
    fixture: &Fixture,
    token: Option<&str>,
    inputs: WriteInputs,
) -> Result<Vec<Scenario>, String> {
    let mut scenarios = read_scenarios(db, token)?;
    scenarios.extend(authentication_scenarios(fixture, token)?);
    scenarios.extend(write_scenarios(inputs, token));
    Ok(scenarios)
}

/// The other reads: list grants, a request's repositories, the access check (also at one
/// connection) and list page 1 at one connection.
fn read_scenarios(db: &mut Db, token: Option<&str>) -> Result<Vec<Scenario>, String> {
    let subset = db.ids(
        "SELECT id FROM pat_requests WHERE org_id = 1 AND status = 'pending' AND repository_selection = 'subset' ORDER BY id LIMIT 1000",
    )?;
    let grant_tokens = access_check_tokens(db)?;
    let owned = token.map(str::to_owned);
    let repositories = requests_path();
    Ok(vec![
        get(
            "list grants, page 1",
            0,
            &format!("/orgs/{BENCH_ORG}/personal-access-tokens?per_page=30"),
            token,
        ),
        Scenario {
            name: "repositories of a request",
            expect: 200,
            connections: 0,
            make: cycling(subset, move |id| {
                request(
                    "GET",
                    &format!("{repositories}/{id}/repositories"),
                    owned.as_deref(),
                    None,
                )
            }),
        },
        access_check(
            "access check",
            0,
            grant_tokens.clone(),
            token.map(str::to_owned),
        ),
        access_check(
            "access check, 1 connection",
            1,
            grant_tokens,
            token.map(str::to_owned),
        ),
        get(
            "list requests, page 1, 1 connection",
            1,
            &format!("{}?per_page=30", requests_path()),
            token,
        ),
    ])
}

/// What authentication costs: the token exchange, and GET / with and without a token (the
/// one without padded to the same length).
fn authentication_scenarios(
    fixture: &Fixture,
    token: Option<&str>,
) -> Result<Vec<Scenario>, String> {
    Ok(vec![
        Scenario {
            name: "token exchange",
            expect: 201,
            connections: 0,
            make: fixed(fixture.token_exchange()?),
        },
        Scenario {
            name: "GET / unauthenticated",
            expect: 200,
            connections: 0,
            make: fixed(padded(
                request("GET", "/", None, None),
                request("GET", "/", token, None).len(),
            )),
        },
        get("GET / authenticated", 0, "/", token),
    ])
}

/// The writes: single and bulk reviews of pending requests and revocations of active
/// grants. Writes use up their inputs: each run gets its own share. The runs with one
/// connection give the latency of the operation itself; with 32 connections, latency is
/// mostly queueing (Little's law: 32 in flight / throughput).
fn write_scenarios(inputs: WriteInputs, token: Option<&str>) -> Vec<Scenario> {
    let reviews = shares(&inputs.pending, &[20, 5, 45, 30]);
    let revocations = shares(&inputs.active, &[70, 30]);
    let writes: [(&'static str, usize, &[i64], Write); 6] = [
        ("single review", 0, &reviews[0], Write::SingleReview),
        (
            "single review, 1 connection",
            1,
            &reviews[1],
            Write::SingleReview,
        ),
        ("bulk review of 100", 0, &reviews[2], Write::BulkReview),
        (
            "bulk review of 100, 1 connection",
            1,
            &reviews[3],
            Write::BulkReview,
        ),
        ("revoke a grant", 0, &revocations[0], Write::Revoke),
        (
            "revoke a grant, 1 connection",
            1,
            &revocations[1],
            Write::Revoke,
        ),
    ];
    writes
        .into_iter()
        .map(|(name, connections, ids, write)| {
            write.scenario(name, connections, ids.to_vec(), token.map(str::to_owned))
        })
        .collect()
}

/// `ids` cut in consecutive parts, in proportion to `shares`.
fn shares(ids: &[i64], shares: &[usize]) -> Vec<Vec<i64>> {
    let total: usize = shares.iter().sum();
    let mut out = Vec::new();
    let mut from = 0;
    for share in shares {
        let to = (from + ids.len() * share / total).min(ids.len());
        out.push(ids[from..to].to_vec());
        from = to;
    }
    out
}

/// The tokens the access check asks about in turn: a thousand with active grants.
fn access_check_tokens(db: &mut Db) -> Result<Vec<i64>, String> {
    db.ids(
        "SELECT token_id AS id FROM pat_grants WHERE org_id = 1 AND status = 'active' ORDER BY id LIMIT 1000",
    )
}

fn access_check(
    name: &'static str,
    connections: usize,
    tokens: Vec<i64>,
    token: Option<String>,
) -> Scenario {
    Scenario {
        name,
        expect: 200,
        connections,
        make: cycling(tokens, move |id| {
            request(
                "POST",
                &format!("/orgs/{BENCH_ORG}/personal-access-token-access-checks"),
                token.as_deref(),
                Some(&format!(
                    r#"{{"token_id":{id},"permission":"metadata","level":"read","repository":"repo-1"}}"#
                )),
            )
        }),
    }
}

/// A scenario of POSTs that each use up `per_request` ids of `ids`; `build` gives the path
/// and the body for them.
fn posting(
    name: &'static str,
    connections: usize,
    expect: u16,
    ids: Vec<i64>,
    per_request: usize,
    token: Option<String>,
    build: impl Fn(&[i64]) -> (String, String) + Send + Sync + 'static,
) -> Scenario {
    Scenario {
        name,
        expect,
        connections,
        make: consuming(ids, per_request, move |ids| {
            let (path, body) = build(ids);
            request("POST", &path, token.as_deref(), Some(&body))
        }),
    }
}

/// The writes measured, each using up its own share of ids.
#[derive(Debug, Clone, Copy)]
enum Write {
    /// Approves one pending request.
    SingleReview,
    /// Denies 100 pending requests at once.
    BulkReview,
    /// Revokes one active grant.
    Revoke,
}

impl Write {
    /// A scenario of these writes, each on the next of `ids`.
    fn scenario(
        self,
        name: &'static str,
        connections: usize,
        ids: Vec<i64>,
        token: Option<String>,
    ) -> Scenario {
        match self {
            Write::SingleReview => posting(name, connections, 204, ids, 1, token, |ids| {
                (
                    format!("{}/{}", requests_path(), ids[0]),
                    r#"{"action":"approve"}"#.to_owned(),
                )
            }),
            Write::BulkReview => posting(name, connections, 202, ids, 100, token, |ids| {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                (
                    requests_path(),
                    format!(
                        r#"{{"pat_request_ids":[{}],"action":"deny","reason":"Denied by the benchmark"}}"#,
                        list.join(",")
                    ),
                )
            }),
            Write::Revoke => posting(name, connections, 204, ids, 1, token, |ids| {
                (
                    format!("/orgs/{BENCH_ORG}/personal-access-tokens/{}", ids[0]),
                    r#"{"action":"revoke"}"#.to_owned(),
                )
            }),
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// An installation token from `server`, to authenticate the scenarios with.
async fn installation_token(server: &Server, fixture: &Fixture) -> Result<String, String> {
    let mut conn = Connection::new(server.addr);
    let response = conn
        .send(&fixture.token_exchange()?)
        .await
        .map_err(|e| e.to_string())?;
    response.json()["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "token exchange answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            )
        })
}

fn print_stats(name: &str, s: &RunStats) {
    println!(
        "  {name:<36} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  p99.9 {:>6.2} ms{}{}",
        s.throughput,
        s.p50_ms,
        s.p99_ms,
        s.p999_ms,
        if s.errors > 0 {
            format!(
                "  {} errors ({})",
                s.errors,
                s.first_error.as_deref().unwrap_or("")
            )
        } else {
            String::new()
        },
        if s.exhausted {
            "  (ran out of inputs)"
        } else {
            ""
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_padded_request_is_as_long_as_asked_and_still_one_request() {
        let plain = request("GET", "/", None, None);
        let with_token = request("GET", "/", Some(&"t".repeat(500)), None);
        let padded = padded(plain, with_token.len());
        assert_eq!(padded.len(), with_token.len());
        let text = String::from_utf8(padded).expect("text");
        assert!(text.ends_with("x\r\n\r\n"), "{text}");
        assert_eq!(text.matches("\r\n\r\n").count(), 1);
        assert!(text.contains("X-GitHub-Api-Version: 2022-11-28\r\nX-Bench-Padding: x"));
    }
}
