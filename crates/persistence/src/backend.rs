//! Which database a URL names.

use crate::StoreError;

/// Which database a URL names: `postgres://` or `postgresql://` is PostgreSQL; a plain path
/// or `sqlite://path` is a SQLite file. Any other `scheme://` is refused, so that a mistyped
/// PostgreSQL URL is reported instead of becoming a SQLite file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend and the location to open: the URL itself for PostgreSQL, the file path for
    /// SQLite.
    pub fn parse_url(url: &str) -> Result<(Self, String), StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok((Self::Postgres, url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok((Self::Sqlite, path.to_owned()));
        }
        match url.split_once("://") {
            Some((scheme, _)) => Err(StoreError::Connect(format!(
                "unsupported database URL scheme {scheme:?}: use postgres://… for PostgreSQL, or a file path (optionally sqlite://…) for SQLite"
            ))),
            None if url.is_empty() => Err(StoreError::Connect("the database URL is empty".into())),
            None => Ok((Self::Sqlite, url.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}
