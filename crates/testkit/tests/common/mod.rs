//! What the testkit's integration tests share.

use std::process::Command;

/// Runs `sql` against `url` with `psql` and returns its unaligned output; panics on failure.
pub fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        output.status.success(),
        "psql -d {url} -c {sql:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
