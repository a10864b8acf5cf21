//! The servers under test: the real `patgate` binary, and the baseline (this binary's
//! `baseline` subcommand) that answers every request with the same stored bytes.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::load::{request, Connection};

/// A child server process, killed when dropped.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    /// From spawn to the first successful response.
    pub startup: Duration,
}

impl Server {
    /// Starts `patgate serve` on a free port against `database_url` and waits until it answers.
    pub async fn patgate(
        binary: &Path,
        database_url: &str,
        data_dir: &Path,
        workers: usize,
        log: &Path,
        extra: &[&str],
    ) -> Result<Server, String> {
        let port = free_port()?;
        let metrics = free_port()?;
        let mut command = Command::new(binary);
        command
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--database-url")
            .arg(database_url)
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--workers")
            .arg(workers.to_string())
            // Counted as in production, never refused: a run makes millions of requests
            // with one installation token.
            .args(["--rate-limit-per-hour", &u32::MAX.to_string()])
            // Metrics recorded as in production, served on a port of their own.
            .args(["--metrics-bind", &format!("127.0.0.1:{metrics}")])
            .args(extra);
        Server::spawn(command, port, log).await
    }

    /// Starts the baseline server serving `body_file` with `link` as its Link header.
    pub async fn baseline(
        body_file: &Path,
        link: &str,
        workers: usize,
        log: &Path,
    ) -> Result<Server, String> {
        let port = free_port()?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command
            .arg("baseline")
            .arg(format!("127.0.0.1:{port}"))
            .arg(workers.to_string())
            .arg(body_file)
            .arg(link);
        Server::spawn(command, port, log).await
    }

    async fn spawn(mut command: Command, port: u16, log: &Path) -> Result<Server, String> {
        let log_file = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = Server {
            addr,
            child,
            startup: Duration::ZERO,
        };
        let probe = request("GET", "/", None, None);
        loop {
            let mut conn = Connection::new(addr);
            if let Ok(response) = conn.send(&probe).await {
                if response.status == 200 {
                    server.startup = started.elapsed();
                    return Ok(server);
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "the server exited with {status}; see {}",
                    log.display()
                ));
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "the server did not answer within 60 s; see {}",
                    log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Resident memory now and at its peak, in MB (Linux's VmRSS and VmHWM).
    pub fn memory_mb(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// `patgate` next to this binary (both are built by `make bench`).
pub fn patgate_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.with_file_name("patgate");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it first (make bench does: cargo build --release --bin patgate)",
            path.display()
        ))
    }
}

/// Runs `patgate` with `args` against `database_url` and waits for it to succeed.
pub fn patgate_command(
    binary: &Path,
    database_url: &str,
    data_dir: &Path,
    args: &[&str],
) -> Result<(), String> {
    let output = Command::new(binary)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "patgate {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The baseline: a minimal actix-web server answering every request with the stored bytes.
pub fn run_baseline(args: &[String]) -> Result<(), String> {
    let [bind, workers, body_file, link] = args else {
        return Err("usage: patgate-bench baseline BIND WORKERS BODY_FILE LINK".into());
    };
    let workers: usize = workers.parse().map_err(|_| "WORKERS must be a number")?;
    let body = actix_web::web::Bytes::from(std::fs::read(body_file).map_err(|e| e.to_string())?);
    let link = link.clone();
    actix_web::rt::System::new()
        .block_on(async move {
            actix_web::HttpServer::new(move || {
                let body = body.clone();
                let link = link.clone();
                actix_web::App::new().default_service(actix_web::web::to(move || {
                    let body = body.clone();
                    let link = link.clone();
                    async move {
                        let mut response = actix_web::HttpResponse::Ok();
                        response.content_type("application/json; charset=utf-8");
                        if !link.is_empty() {
                            response.insert_header(("link", link));
                        }
                        response.body(body)
                    }
                }))
            })
            .workers(workers)
            .bind(bind.as_str())?
            .run()
            .await
        })
        .map_err(|e| e.to_string())
}
