//! Throwaway PostgreSQL for tests: one real cluster per test process, fresh databases on demand.
//!
//! [`PgCluster::shared`] starts (on first use) a private PostgreSQL cluster from
//! the server binaries installed on this machine and [`PgCluster::create_database`]
//! hands out a new, empty database with a unique name for each caller:
//!
//! ```no_run
//! let url = patgate_testkit::PgCluster::shared().create_database();
//! assert!(url.starts_with("postgres://"));
//! ```
//!
//! # Where the binaries come from
//!
//! `initdb` and `pg_ctl` are looked up on `PATH` first, then in
//! `pg_config --bindir`, then in the highest-versioned `/usr/lib/postgresql/*/bin`
//! (Debian's layout). `psql`, used to create databases, is taken from the same
//! directory as the server binaries, else from `PATH`. If the server binaries
//! are missing, [`PgCluster::shared`] panics with [`INSTALL_HINT`]: tests that
//! need a database fail, they are never skipped.
//!
//! # The cluster
//!
//! The cluster lives in a fresh directory under [`std::env::temp_dir`] and
//! listens on `127.0.0.1` on a free port, with durability switched off
//! (`fsync=off`, ...) for speed and `trust` authentication for the `postgres`
//! user. Database URLs look like `postgres://postgres@127.0.0.1:PORT/NAME`,
//! with names `patgate_test_<pid>_<counter>`.
//!
//! When the tests run as root (as in CI containers), the directory is handed to
//! the `postgres` system user and `initdb`/`pg_ctl` are run through
//! `runuser -u postgres --`, because PostgreSQL refuses to run as root.
//!
//! # Shutdown
//!
//! Statics are never dropped, so right after start a detached reaper
//! (`/bin/sh -c`, in its own process group, with null stdio) is spawned: it polls
//! the test process's PID and, once that process is gone — normal exit, panic,
//! Ctrl-C or `SIGKILL` — stops the cluster with `pg_ctl -m immediate` and
//! deletes its directory.
//!
//! # Using an existing server instead
//!
//! If the environment variable `PATGATE_TEST_DATABASE_URL_BASE` is set (for
//! example `postgres://postgres@127.0.0.1:5432`, or with a password and query
//! parameters such as `postgres://user:secret@db:5432?sslmode=disable`), no
//! cluster is started: fresh databases are created on that server instead
//! (its user must be allowed to `CREATE DATABASE`), and only `psql` is needed
//! locally. Any database path in that URL is ignored. Databases created there
//! are not dropped afterwards.

mod binaries;

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binaries::{find_client, find_psql, find_server_binaries, ServerBinaries};

/// Error text used when PostgreSQL binaries are missing.
pub const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in `pg_config --bindir`. Install them with: apt-get update && apt-get install -y postgresql";

/// Environment variable naming an existing server to use instead of a throwaway cluster.
const BASE_URL_ENV: &str = "PATGATE_TEST_DATABASE_URL_BASE";

/// How many ports to try before giving up on starting the server.
const START_ATTEMPTS: usize = 3;

/// Server settings for tests: durability off, for speed.
const TEST_SETTINGS: &str = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off";

/// Server settings for benchmarks: PostgreSQL's durable defaults, more shared buffers.
const DURABLE_SETTINGS: &str = "-c shared_buffers=256MB";

/// Counter making database names unique within this process.
static DATABASE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A running throwaway cluster. One per test process.
#[derive(Debug)]
pub struct PgCluster {
    /// Server URL without a database path, e.g. `postgres://postgres@127.0.0.1:5432`.
    base_url: String,
    /// Query string (without `?`) appended to every URL; only for an external server.
    query: Option<String>,
    /// The `psql` binary used to create databases.
    psql: PathBuf,
    /// The cluster this process started; `None` when using an external server.
    local: Option<LocalCluster>,
}

/// A cluster started by this process.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "read by tests and shown by Debug; `reaper` keeps the handle of the detached process"
)]
struct LocalCluster {
    /// Temporary directory holding `data/`, the server log and the socket.
    dir: PathBuf,
    /// TCP port the server listens on (127.0.0.1 only).
    port: u16,
    /// The detached process that stops the cluster once this process exits.
    /// Never waited on: it must outlive this process.
    reaper: Child,
    /// `initdb` and `pg_ctl`, to stop and start the server again.
    bins: ServerBinaries,
    /// Whether `pg_ctl` runs as the `postgres` user.
    as_postgres: bool,
    /// The server settings it was started with.
    settings: &'static str,
}

impl PgCluster {
    /// The process-wide cluster, started on first use (std::sync::OnceLock). Panics with a clear message if it cannot start.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();
        match SHARED.get_or_init(PgCluster::from_env) {
            Ok(cluster) => cluster,
            Err(message) => panic!("patgate-testkit: no PostgreSQL for tests: {message}"),
        }
    }

    /// Creates a fresh, empty database with a unique name and returns its URL:
    /// postgres://postgres@127.0.0.1:PORT/NAME
    pub fn create_database(&self) -> String {
        const ATTEMPTS: usize = 50;
        let mut last_error = String::new();
        for _ in 0..ATTEMPTS {
            let name = format!(
                "patgate_test_{}_{}",
                std::process::id(),
                DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            match self.psql_admin(&format!("CREATE DATABASE {name}")) {
                Ok(()) => return self.url_for(&name),
                // A leftover from an earlier process with the same PID (external server).
                Err(e) if e.contains("already exists") => last_error = e,
                // Someone is connected to template1 (external server); wait and retry.
                Err(e) if e.contains("being accessed by other users") => {
                    last_error = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("patgate-testkit: could not create test database {name}: {e}"),
            }
        }
        panic!("patgate-testkit: could not create a test database after {ATTEMPTS} attempts: {last_error}")
    }

    /// The `psql` this cluster is managed with.
    pub fn psql(&self) -> &Path {
        &self.psql
    }

    /// `pgbench`, from the same installation as the server when this process started it:
    /// the benchmark's database-limit baseline.
    pub fn pgbench(&self) -> Result<PathBuf, String> {
        find_client("pgbench", find_server_binaries().as_ref()).ok_or_else(|| {
            "`pgbench` was not found beside the server binaries or on PATH. Install it with: \
             apt-get update && apt-get install -y postgresql"
                .to_owned()
        })
    }

    /// URL of the `postgres` maintenance database.
    pub fn admin_url(&self) -> String {
        self.url_for("postgres")
    }

    /// URL of database `name` on this server.
    fn url_for(&self, name: &str) -> String {
        match &self.query {
            Some(query) => format!("{}/{name}?{query}", self.base_url),
            None => format!("{}/{name}", self.base_url),
        }
    }

    /// Runs one SQL statement in the maintenance database with `psql`.
    fn psql_admin(&self, sql: &str) -> Result<(), String> {
        let mut command = Command::new(&self.psql);
        if self.local.is_some() {
            // Our own server: keep a developer's PGSSLMODE, PGOPTIONS, ... out of it.
            remove_pg_env(&mut command);
        }
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.admin_url())
            .arg("-c")
            .arg(sql);
        run(&mut command, "psql").map(drop)
    }

    /// Uses the server named by `PATGATE_TEST_DATABASE_URL_BASE` if set, else starts one.
    fn from_env() -> Result<PgCluster, String> {
        match std::env::var(BASE_URL_ENV) {
            Ok(raw) if !raw.trim().is_empty() => PgCluster::external(raw.trim()),
            _ => PgCluster::start_local(),
        }
    }

    /// Connects to an existing server given by its base URL.
    fn external(raw: &str) -> Result<PgCluster, String> {
        let (base_url, query) = parse_base_url(raw)
            .ok_or_else(|| format!("{BASE_URL_ENV}={raw:?} is not a postgres:// URL"))?;
        let psql = find_psql(None).ok_or_else(|| {
            format!(
                "`psql` was not found on PATH or in `pg_config --bindir` (needed with {BASE_URL_ENV}). \
                 Install it with: apt-get update && apt-get install -y postgresql-client"
            )
        })?;
        let cluster = PgCluster {
            base_url,
            query,
            psql,
            local: None,
        };
        cluster
            .psql_admin("SELECT 1")
            .map_err(|e| format!("cannot reach the server from {BASE_URL_ENV}: {e}"))?;
        Ok(cluster)
    }

    /// Starts a throwaway cluster of this process's own with PostgreSQL's durable defaults
    /// (`fsync`, `synchronous_commit` and `full_page_writes` on), as a production server
    /// runs, and 256 MB of shared buffers: for benchmarks, where the test settings would
    /// flatter every write. Stopped, like the shared one, when this process exits.
    pub fn start_durable() -> Result<PgCluster, String> {
        PgCluster::start_local_with(DURABLE_SETTINGS)
    }

    /// Starts a throwaway cluster of the caller's own, with the test settings, even when
    /// `PATGATE_TEST_DATABASE_URL_BASE` names an external server: for a test that stops and
    /// starts the server ([`PgCluster::stop_server`], [`PgCluster::start_server`]) under a
    /// running patgate, which the shared cluster's other users must not notice. Stopped, like
    /// the shared one, when this process exits.
    pub fn start_own() -> Result<PgCluster, String> {
        PgCluster::start_local()
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended and their connections
    /// closed), keeping its data, until [`PgCluster::start_server`]. Only for a cluster this
    /// process started.
    pub fn stop_server(&self) -> Result<(), String> {
        let local = self.own()?;
        let data = local.dir.join("data");
        let mut stop = pg_command(&local.bins.pg_ctl, local.as_postgres, &local.dir);
        stop.arg("-D").arg(&data).args(["-m", "fast", "-w", "stop"]);
        run(&mut stop, "pg_ctl stop").map(drop)
    }

    /// Starts the server again after [`PgCluster::stop_server`], on the same port, and waits
    /// until it accepts connections.
    pub fn start_server(&self) -> Result<(), String> {
        let local = self.own()?;
        let paths = (&*local.dir.join("data"), &*local.dir.join("log"));
        start_on(
            &local.bins,
            &local.dir,
            paths,
            local.as_postgres,
            local.port,
            local.settings,
        )
    }

    /// The cluster this process started, or why there is none.
    fn own(&self) -> Result<&LocalCluster, String> {
        self.local
            .as_ref()
            .ok_or_else(|| "an external server cannot be stopped or started".to_owned())
    }

    /// Starts a throwaway cluster in a new temporary directory, with its reaper.
    fn start_local() -> Result<PgCluster, String> {
        PgCluster::start_local_with(TEST_SETTINGS)
    }

    fn start_local_with(settings: &'static str) -> Result<PgCluster, String> {
        let bins = find_server_binaries().ok_or_else(|| INSTALL_HINT.to_owned())?;
        let psql = find_psql(Some(&bins)).ok_or_else(|| {
            format!(
                "`psql` was not found next to {} or on PATH. {INSTALL_HINT}",
                bins.pg_ctl.display()
            )
        })?;
        let as_postgres = is_root();
        let dir = create_temp_dir()?;
        match start_in(&bins, &dir, as_postgres, settings) {
            Ok((port, reaper)) => Ok(PgCluster {
                base_url: format!("postgres://postgres@127.0.0.1:{port}"),
                query: None,
                psql,
                local: Some(LocalCluster {
                    dir,
                    port,
                    reaper,
                    bins,
                    as_postgres,
                    settings,
                }),
            }),
            Err(e) => {
                // Best effort: the error is what matters to the caller.
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }
}

/// Runs `initdb` and `pg_ctl start` in `dir` and spawns the reaper; returns the port.
/// On error, no server is left running (the caller removes `dir`).
fn start_in(
    bins: &ServerBinaries,
    dir: &Path,
    as_postgres: bool,
    settings: &str,
) -> Result<(u16, Child), String> {
    if as_postgres {
        let mut chown = Command::new("chown");
        chown.arg("-R").arg("postgres:postgres").arg(dir);
        run(
            &mut chown,
            "chown (running as root, the cluster belongs to the `postgres` user)",
        )?;
    }
    let data = dir.join("data");
    let log = dir.join("log");
    init_cluster(bins, dir, &data, as_postgres)?;
    let mut errors = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        match start_on(bins, dir, (&data, &log), as_postgres, port, settings) {
            Ok(_) => {
                return match spawn_reaper(&bins.pg_ctl, &data, dir, as_postgres) {
                    Ok(reaper) => Ok((port, reaper)),
                    Err(e) => {
                        stop_now(&bins.pg_ctl, &data, dir, as_postgres);
                        Err(e)
                    }
                };
            }
            Err(e) => {
                errors.push(format!(
                    "port {port}: {e}\nserver log (tail):\n{}",
                    log_tail(&log)
                ));
                // A half-started server must not survive; ignore "not running".
                stop_now(&bins.pg_ctl, &data, dir, as_postgres);
            }
        }
    }
    Err(format!(
        "the server did not start after {START_ATTEMPTS} attempts:\n{}",
        errors.join("\n")
    ))
}

/// `initdb` of the cluster in `data`: trust authentication, user `postgres`, UTF-8, locale C.
fn init_cluster(
    bins: &ServerBinaries,
    dir: &Path,
    data: &Path,
    as_postgres: bool,
) -> Result<(), String> {
    let mut initdb = pg_command(&bins.initdb, as_postgres, dir);
    initdb
        .args([
            "-N",
            "--auth=trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "-D",
        ])
        .arg(data);
    run(&mut initdb, "initdb").map(|_| ())
}

/// `pg_ctl start` on `port`, listening on 127.0.0.1 and a socket in `dir`, logging to `log`.
fn start_on(
    bins: &ServerBinaries,
    dir: &Path,
    (data, log): (&Path, &Path),
    as_postgres: bool,
    port: u16,
    settings: &str,
) -> Result<(), String> {
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 {settings}",
        sh_quote(&dir.to_string_lossy())
    );
    let mut start = pg_command(&bins.pg_ctl, as_postgres, dir);
    start
        .arg("-w")
        .arg("-D")
        .arg(data)
        .arg("-l")
        .arg(log)
        .arg("-o")
        .arg(options)
        .arg("start");
    run(&mut start, "pg_ctl start").map(|_| ())
}

/// Spawns the detached reaper: it waits until this process is gone, then stops
/// the cluster (`-m immediate`) and removes `dir`.
fn spawn_reaper(
    pg_ctl: &Path,
    data: &Path,
    dir: &Path,
    as_postgres: bool,
) -> Result<Child, String> {
    const SCRIPT: &str = r#"trap '' HUP INT
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
if [ "$5" = runuser ]; then
  runuser -u postgres -- "$2" -D "$3" -m immediate -w stop
else
  "$2" -D "$3" -m immediate -w stop
fi
rm -rf "$4""#;
    // The reaper runs after this process is gone, when its PATH may no longer
    // make sense: look in the standard system directories first.
    let mut path = std::ffi::OsString::from("/usr/sbin:/usr/bin:/sbin:/bin");
    if let Some(inherited) = std::env::var_os("PATH") {
        path.push(":");
        path.push(inherited);
    }
    let mut command = Command::new("/bin/sh");
    remove_pg_env(&mut command);
    command
        .env("PATH", path)
        .arg("-c")
        .arg(SCRIPT)
        .arg("patgate-testkit-reaper") // $0
        .arg(std::process::id().to_string())
        .arg(pg_ctl)
        .arg(data)
        .arg(dir)
        .arg(if as_postgres { "runuser" } else { "direct" })
        .current_dir("/")
        // Null stdio: the test harness must see EOF on its pipes when the tests end.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Own process group: a Ctrl-C aimed at the tests must not kill the reaper.
        .process_group(0);
    command
        .spawn()
        .map_err(|e| format!("could not spawn the reaper (`sh`): {e}"))
}

/// Stops the cluster immediately, ignoring errors (used on failed starts).
fn stop_now(pg_ctl: &Path, data: &Path, dir: &Path, as_postgres: bool) {
    let mut stop = pg_command(pg_ctl, as_postgres, dir);
    stop.arg("-D")
        .arg(data)
        .args(["-m", "immediate", "-w", "stop"]);
    // Best effort: usually fails with "no server running", which is the goal.
    let _ = stop.output();
}

/// A command for a server binary: run through `runuser -u postgres --` when
/// `as_postgres`, in `cwd`, without the caller's `PG*` variables.
fn pg_command(program: &Path, as_postgres: bool, cwd: &Path) -> Command {
    let mut command = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    remove_pg_env(&mut command);
    command.current_dir(cwd);
    command
}

/// Removes every `PG*` variable (PGDATA, PGPORT, PGSSLMODE, ...) from the child's environment.
fn remove_pg_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            command.env_remove(key);
        }
    }
}

/// Runs `command` to completion with null stdin; errors carry its output.
fn run(command: &mut Command, what: &str) -> Result<Output, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {what} ({:?}): {e}", command.get_program()))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ))
    }
}

/// Whether this process runs as root, from `id -u` (no libc needed).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Creates a new, uniquely named, mode-0700 directory under the system temp dir.
fn create_temp_dir() -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    for attempt in 0..100u32 {
        let dir = base.join(format!(
            "patgate-pg-{}-{nanos:x}-{attempt}",
            std::process::id()
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| format!("could not chmod {}: {e}", dir.display()))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("could not create {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "could not create a unique directory under {}",
        base.display()
    ))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("could not find a free port: {e}"))
}

/// The last lines of the server log, for error messages.
fn log_tail(log: &Path) -> String {
    match fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        Err(e) => format!("(could not read {}: {e})", log.display()),
    }
}

/// Quotes `s` for `sh` (pg_ctl passes `-o` through the shell).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Splits `postgres://user@host:port[/db][?query]` into the URL without a
/// database path and the query; `None` if it is not a postgres URL.
fn parse_base_url(raw: &str) -> Option<(String, Option<String>)> {
    let (main, query) = match raw.split_once('?') {
        Some((main, query)) => (main, Some(query.to_owned()).filter(|q| !q.is_empty())),
        None => (raw, None),
    };
    let (scheme, rest) = main.split_once("://")?;
    if scheme != "postgres" && scheme != "postgresql" {
        return None;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return None;
    }
    Some((format!("{scheme}://{authority}"), query))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The external base URL loses any database path but keeps its query string.
    #[test]
    fn base_url_drops_database_and_keeps_query() {
        assert_eq!(
            parse_base_url("postgres://postgres@127.0.0.1:5432"),
            Some(("postgres://postgres@127.0.0.1:5432".to_owned(), None))
        );
        assert_eq!(
            parse_base_url("postgresql://u:p@db:5432/somedb/?sslmode=disable"),
            Some((
                "postgresql://u:p@db:5432".to_owned(),
                Some("sslmode=disable".to_owned())
            ))
        );
        assert_eq!(parse_base_url("mysql://x@y"), None);
        assert_eq!(parse_base_url("postgres:///db"), None);
    }

    /// Paths are quoted safely for the shell that pg_ctl runs.
    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(sh_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    /// Where file descriptor `fd` of process `pid` points, if `/proc` tells.
    fn fd_target(pid: u32, fd: u32) -> Option<PathBuf> {
        fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()
    }

    /// The shared cluster runs, its reaper is alive, and neither holds the harness pipes.
    #[test]
    fn shared_cluster_has_a_live_reaper_that_holds_no_pipes() {
        let cluster = PgCluster::shared();
        let Some(local) = &cluster.local else {
            return; // external server: nothing started, nothing to reap
        };
        assert!(local.dir.join("data").is_dir(), "data directory exists");
        assert!(cluster
            .admin_url()
            .ends_with(&format!(":{}/postgres", local.port)));
        let reaper = local.reaper.id();
        let alive = Command::new("kill")
            .args(["-0", &reaper.to_string()])
            .status()
            .expect("run kill -0");
        assert!(alive.success(), "reaper process is running");

        if Path::new("/proc/self/fd").is_dir() {
            // The reaper and the server must not keep the test harness's pipes open.
            for fd in 0..3 {
                assert_eq!(
                    fd_target(reaper, fd),
                    Some(PathBuf::from("/dev/null")),
                    "reaper fd {fd}"
                );
            }
            let pid_file = fs::read_to_string(local.dir.join("data/postmaster.pid"))
                .expect("read postmaster.pid");
            let postmaster: u32 = pid_file
                .lines()
                .next()
                .and_then(|l| l.trim().parse().ok())
                .expect("postmaster.pid starts with the PID");
            for fd in 0..3 {
                let target = fd_target(postmaster, fd).expect("postmaster fd");
                assert!(
                    !target.to_string_lossy().starts_with("pipe:"),
                    "postmaster fd {fd}: {target:?}"
                );
            }
        }
    }
}
