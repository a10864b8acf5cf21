//! What a token issuer and a resource server send, every field checked: a token's request as
//! it is filed, a report of a token's use, and a question about a token's access.

use chrono::NaiveDateTime;

use crate::{
    AccessLevel, EmailAddress, Login, RepoName, RepositorySelection, RequestedPermissions,
    ReviewReason, TokenName,
};

/// A token's request for access as its issuer files it. That the repositories are the
/// organization's, and what the policy says, are decided when it is filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFiling {
    pub owner: Login,
    /// Replaces the address known for the owner, where the review's notice goes.
    pub owner_email: Option<EmailAddress>,
    /// The token's id as the issuer knows it (positive).
    pub token_id: i64,
    pub token_name: TokenName,
    pub token_expires_at: Option<NaiveDateTime>,
    pub selection: RepositorySelection,
    /// Listed exactly when the selection is `subset` (1 to 500).
    pub repositories: Vec<RepoName>,
    pub permissions: RequestedPermissions,
    /// The owner's reason, shown to reviewers.
    pub reason: Option<ReviewReason>,
}

/// A token's last use; `None` is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UseReport {
    pub token_id: i64,
    pub last_used_at: Option<NaiveDateTime>,
}

/// May a token act with this permission at this level now (on this repository)?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessQuery {
    pub token: QueriedToken,
    /// A permission name, e.g. `contents`.
    pub permission: String,
    pub level: AccessLevel,
    pub repository: Option<RepoName>,
}

/// The token an access question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueriedToken {
    /// Answered from its grant.
    FineGrained { token_id: i64 },
    /// Answered from the policy alone, by its lifetime.
    Classic {
        created_at: NaiveDateTime,
        expires_at: Option<NaiveDateTime>,
    },
}
