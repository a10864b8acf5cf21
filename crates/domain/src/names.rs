//! Validated names: logins and repository names (GitHub's rules), token names and e-mail
//! addresses.

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

/// The check every name starts with: its length `len` (in bytes or characters, by the name's
/// rule) is neither 0 nor over `max`.
fn check_length(len: usize, max: usize) -> Result<(), NameError> {
    if len == 0 {
        return Err(NameError::Empty);
    }
    if len > max {
        return Err(NameError::TooLong { max });
    }
    Ok(())
}

/// A GitHub account login (user or organization): 1–39 ASCII letters, digits or hyphens,
/// not starting or ending with a hyphen. Keeps the spelling given; GitHub compares logins
/// case-insensitively, so compare and look up by [`Login::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Login(String);

impl Login {
    pub const MAX_LEN: usize = 39;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check_length(raw.len(), Self::MAX_LEN)?;
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
        check_length(raw.len(), Self::MAX_LEN)?;
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

/// A fine-grained token's name, as its issuer files it: 1–255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenName(String);

impl TokenName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check_length(raw.chars().count(), Self::MAX_CHARS)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain e-mail address (`local@domain`): at most 254 characters, one `@`, a dotted domain,
/// no spaces, quotes, commas, brackets or other characters that would need quoting in a
/// mail header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    /// The address, or `None` when it is not a plain one.
    pub fn parse(raw: &str) -> Option<Self> {
        let (local, domain) = raw.split_once('@')?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| {
                    c.is_ascii_graphic()
                        && !matches!(
                            c,
                            '"' | ',' | '<' | '>' | '@' | '(' | ')' | ';' | ':' | '[' | ']' | '\\'
                        )
                })
        };
        let dotted = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
        (raw.len() <= Self::MAX_LEN && plain(local) && plain(domain) && dotted)
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
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

    #[test]
    fn token_names_have_1_to_255_characters() {
        assert_eq!(
            TokenName::parse("ci").map(|n| n.as_str().to_owned()),
            Ok("ci".into())
        );
        assert_eq!(TokenName::parse(""), Err(NameError::Empty));
        assert!(
            TokenName::parse(&"é".repeat(255)).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(
            TokenName::parse(&"n".repeat(256)),
            Err(NameError::TooLong { max: 255 })
        );
    }

    #[test]
    fn e_mail_addresses_are_plain_local_at_dotted_domain() {
        assert!(EmailAddress::parse("octo.cat+ci@example.com").is_some());
        for bad in [
            "",
            "octocat",
            "@example.com",
            "octo@",
            "octo@localhost",
            "octo@example..com",
            "octo cat@example.com",
            "\"octo\"@example.com",
            "a@b@example.com",
            "Octo <octo@example.com>",
        ] {
            assert_eq!(EmailAddress::parse(bad), None, "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert_eq!(EmailAddress::parse(&long), None);
    }
}
