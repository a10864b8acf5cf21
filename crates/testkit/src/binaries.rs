//! Locating the PostgreSQL server and client binaries on this machine.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Absolute paths of the server binaries needed to run a throwaway cluster.
#[derive(Debug, Clone)]
pub(crate) struct ServerBinaries {
    /// Path of `initdb`.
    pub(crate) initdb: PathBuf,
    /// Path of `pg_ctl`.
    pub(crate) pg_ctl: PathBuf,
}

/// Finds `initdb` and `pg_ctl`: on `PATH` first, then in `pg_config --bindir`,
/// then in the highest-versioned `/usr/lib/postgresql/*/bin`.
pub(crate) fn find_server_binaries() -> Option<ServerBinaries> {
    if let (Some(initdb), Some(pg_ctl)) = (find_on_path("initdb"), find_on_path("pg_ctl")) {
        return Some(ServerBinaries {
            initdb: resolve(&initdb),
            pg_ctl: resolve(&pg_ctl),
        });
    }
    fallback_bindirs().into_iter().find_map(|dir| {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        (is_executable(&initdb) && is_executable(&pg_ctl)).then(|| ServerBinaries {
            initdb: resolve(&initdb),
            pg_ctl: resolve(&pg_ctl),
        })
    })
}

/// Finds `psql`, preferring the directory of the given server binaries (so the
/// client matches the server), then `PATH`, then the fallback bindirs.
pub(crate) fn find_psql(server: Option<&ServerBinaries>) -> Option<PathBuf> {
    find_client("psql", server)
}

/// Finds the client program `name` (`psql`, `pgbench`) the way [`find_psql`] does.
pub(crate) fn find_client(name: &str, server: Option<&ServerBinaries>) -> Option<PathBuf> {
    let beside_server = server
        .into_iter()
        .flat_map(|s| [s.pg_ctl.parent(), s.initdb.parent()])
        .flatten()
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p));
    beside_server.or_else(|| find_on_path(name)).or_else(|| {
        fallback_bindirs()
            .into_iter()
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    })
}

/// Candidate bindirs when the binaries are not on `PATH`: `pg_config --bindir`
/// first, then `/usr/lib/postgresql/<version>/bin`, highest version first.
fn fallback_bindirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = pg_config_bindir() {
        dirs.push(dir);
    }
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = parse_version(&entry.file_name().to_string_lossy())?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    dirs.extend(versioned.into_iter().map(|(_, dir)| dir));
    dirs
}

/// Output of `pg_config --bindir`, if `pg_config` exists and succeeds.
fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Parses a directory name such as `15` or `9.6` into comparable numbers.
pub(crate) fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// First executable named `name` in the directories of `PATH`.
fn find_on_path(name: impl AsRef<OsStr>) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name.as_ref()))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a regular file (after following symlinks) with an execute bit.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolves symlinks (e.g. `/usr/local/bin/initdb` -> `/usr/lib/postgresql/15/bin/initdb`)
/// so sibling binaries can be found; keeps the path as is if that fails.
fn resolve(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version directory names compare numerically, not as strings.
    #[test]
    fn versions_parse_and_order_numerically() {
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("bin"), None);
        assert!(parse_version("10") > parse_version("9.6"));
    }
}
