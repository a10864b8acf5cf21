//! Integration tests: once a test process is gone, its cluster is stopped and its directory removed.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use patgate_testkit::PgCluster;

mod common;
use common::psql;

/// Set in the child process to the way it should end: `exit` or `hang` (killed by the parent).
const CHILD_ENV: &str = "PATGATE_TESTKIT_REAPER_CHILD";
/// Prefix of the line in which the child reports its cluster.
const MARKER: &str = "REAPER_CHILD_CLUSTER";
/// The helper test run in the child process.
const CHILD_TEST: &str = "child_process_starts_a_cluster";

/// What the child reports about the cluster it started.
#[derive(Debug)]
struct ChildCluster {
    /// PID of the postmaster.
    postmaster: u32,
    /// The cluster's temporary directory (parent of the data directory).
    dir: PathBuf,
}

/// Helper run in a child process: starts a cluster, reports it, then exits or waits to be killed.
#[test]
#[ignore = "helper: run in a child process by the other tests in this file"]
fn child_process_starts_a_cluster() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let admin = PgCluster::shared().admin_url();
    let data = psql(&admin, "show data_directory");
    let pid_file = std::fs::read_to_string(Path::new(&data).join("postmaster.pid"))
        .expect("read postmaster.pid");
    let postmaster = pid_file
        .lines()
        .next()
        .expect("postmaster.pid has a first line");
    println!("{MARKER} {postmaster} {data}");
    std::io::stdout().flush().expect("flush stdout");
    if mode == "hang" {
        // Wait to be killed; give up eventually so a broken parent cannot leave us behind.
        std::thread::sleep(Duration::from_secs(120));
        panic!("child was not killed by the parent test within 120s");
    }
}

/// Kills and reaps the child process when dropped, so a failing test leaves nothing behind.
#[derive(Debug)]
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    /// Kills the child (an error means it already ended) and reaps it.
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts this test binary again, running only the helper test, in `mode`.
fn spawn_child(mode: &str) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            CHILD_TEST,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        // Always exercise a throwaway cluster, even if the suite uses an external server.
        .env_remove("PATGATE_TEST_DATABASE_URL_BASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test process")
}

/// Parses the child's report, if `line` holds one.
fn parse_report(line: &str) -> Option<ChildCluster> {
    // libtest prints "test NAME ... " before the output on the same line.
    let (_, rest) = line.split_once(MARKER)?;
    let rest = rest.trim();
    let (pid, data) = rest.split_once(' ')?;
    Some(ChildCluster {
        postmaster: pid.parse().ok()?,
        dir: Path::new(data).parent()?.to_path_buf(),
    })
}

/// Whether process `pid` exists and is not a zombie.
fn process_alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // State is the first field after the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    } else {
        Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// Waits until the postmaster is gone and the directory removed; panics after a timeout.
fn assert_cleaned_up(cluster: &ChildCluster) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while process_alive(cluster.postmaster) || cluster.dir.exists() {
        assert!(
            Instant::now() < deadline,
            "cluster not cleaned up 30s after its process ended: postmaster {} alive: {}, {} exists: {}",
            cluster.postmaster,
            process_alive(cluster.postmaster),
            cluster.dir.display(),
            cluster.dir.exists()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// After a test process exits normally, its cluster is stopped and its directory removed.
#[test]
fn cluster_is_stopped_after_the_process_exits() {
    let output = spawn_child("exit")
        .wait_with_output()
        .expect("wait for child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cluster = stdout
        .lines()
        .find_map(parse_report)
        .unwrap_or_else(|| panic!("no report from child: {stdout}"));
    assert_cleaned_up(&cluster);
}

/// After a test process is killed with SIGKILL, its cluster is stopped and its directory removed.
#[test]
fn cluster_is_stopped_after_the_process_is_killed() {
    let mut child = KillOnDrop(spawn_child("hang"));
    let stdout = child.0.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let cluster = loop {
        match lines.next() {
            Some(line) => {
                if let Some(cluster) = parse_report(&line.expect("read child stdout")) {
                    break cluster;
                }
            }
            None => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.0.stderr.take() {
                    pipe.read_to_string(&mut stderr).expect("read child stderr");
                }
                panic!("child ended without a report: {stderr}");
            }
        }
    };
    assert!(
        process_alive(cluster.postmaster),
        "cluster runs while its process lives"
    );
    child.0.kill().expect("SIGKILL the child");
    child.0.wait().expect("reap the child");
    assert_cleaned_up(&cluster);
}
