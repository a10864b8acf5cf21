//! Validated logins and repository names, following GitHub's naming rules.

use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    #[error("contains a character that is not allowed")]
    BadCharacter,
    #[error("must not start or end with a hyphen")]
    EdgeHyphen,
}

/// A GitHub account login (user or organization): 1–39 ASCII letters, digits or hyphens,
/// not starting or ending with a hyphen. Keeps the spelling given; GitHub compares logins
/// case-insensitively, so compare and look up by [`Login::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Login(String);

impl Login {
    pub const MAX_LEN: usize = 39;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(NameError::TooLong { max: Self::MAX_LEN });
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(NameError::BadCharacter);
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err(NameError::EdgeHyphen);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for lookups.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository name: 1–100 ASCII letters, digits, `.`, `-` or `_`, and not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName(String);

impl RepoName {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(NameError::TooLong { max: Self::MAX_LEN });
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
        if !raw.bytes().all(allowed) || raw == "." || raw == ".." {
            return Err(NameError::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for lookups (GitHub repository names are case-insensitive).
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_follow_github_rules() {
        assert!(Login::parse("octo-org").is_ok());
        assert_eq!(Login::parse(""), Err(NameError::Empty));
        assert_eq!(Login::parse("-octo"), Err(NameError::EdgeHyphen));
        assert_eq!(Login::parse("octo cat"), Err(NameError::BadCharacter));
        assert_eq!(
            Login::parse(&"a".repeat(40)),
            Err(NameError::TooLong { max: 39 })
        );
        assert_eq!(
            Login::parse("OctoOrg").map(|l| l.key()),
            Ok("octoorg".into())
        );
    }

    #[test]
    fn repository_names_follow_github_rules() {
        assert!(RepoName::parse("Hello-World.rs_2").is_ok());
        assert_eq!(RepoName::parse(".."), Err(NameError::BadCharacter));
        assert_eq!(RepoName::parse("a/b"), Err(NameError::BadCharacter));
        assert_eq!(
            RepoName::parse(&"r".repeat(101)),
            Err(NameError::TooLong { max: 100 })
        );
    }
}
