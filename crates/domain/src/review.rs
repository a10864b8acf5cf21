//! Validation of review input: the action, the reason, and lists of ids.

use std::collections::BTreeSet;

/// Most ids one bulk call may name.
pub const MAX_IDS: usize = 100;
/// Longest review reason, in characters.
pub const MAX_REASON_CHARS: usize = 1024;

/// What a reviewer decides about a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAction {
    Approve,
    Deny,
}

impl ReviewAction {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "approve" => Ok(Self::Approve),
            "deny" => Ok(Self::Deny),
            _ => Err(ValidationError::UnknownAction(
                raw.chars().take(64).collect(),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// A reviewer's reason, at most [`MAX_REASON_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewReason(String);

impl ReviewReason {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if len > MAX_REASON_CHARS {
            return Err(ValidationError::ReasonTooLong { len });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// 1 to [`MAX_IDS`] distinct positive ids, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdList(Vec<i64>);

impl IdList {
    pub fn parse(ids: Vec<i64>) -> Result<Self, ValidationError> {
        if ids.is_empty() {
            return Err(ValidationError::NoIds);
        }
        if ids.len() > MAX_IDS {
            return Err(ValidationError::TooManyIds { len: ids.len() });
        }
        if let Some(bad) = ids.iter().find(|id| **id <= 0) {
            return Err(ValidationError::BadId(*bad));
        }
        let mut seen = BTreeSet::new();
        let dups: BTreeSet<i64> = ids
            .iter()
            .filter(|id| !seen.insert(**id))
            .copied()
            .collect();
        if !dups.is_empty() {
            return Err(ValidationError::DuplicateIds(dups.into_iter().collect()));
        }
        Ok(Self(ids))
    }

    pub fn as_slice(&self) -> &[i64] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A reviewer's ruling: approve or deny, with a reason told to the token's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruling {
    pub action: ReviewAction,
    pub reason: Option<ReviewReason>,
}

/// A revocation: its reason, told to the token's owner (revoking is its only action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoking {
    pub reason: Option<ReviewReason>,
}

/// One command over several requests or grants, applied to all of them or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bulk<T> {
    pub ids: IdList,
    pub each: T,
}

/// Why review input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("action must be one of: approve, deny (got {0:?})")]
    UnknownAction(String),
    #[error("reason is {len} characters long; the maximum is {MAX_REASON_CHARS}")]
    ReasonTooLong { len: usize },
    #[error("at least one id is required")]
    NoIds,
    #[error("{len} ids given; the maximum is {MAX_IDS}")]
    TooManyIds { len: usize },
    #[error("ids must be positive integers (got {0})")]
    BadId(i64),
    #[error("ids must be distinct; repeated: {0:?}")]
    DuplicateIds(Vec<i64>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_exactly_approve_or_deny() {
        assert_eq!(ReviewAction::parse("approve"), Ok(ReviewAction::Approve));
        assert_eq!(ReviewAction::parse("deny"), Ok(ReviewAction::Deny));
        assert!(ReviewAction::parse("Approve").is_err());
        assert!(ReviewAction::parse("revoke").is_err());
    }

    #[test]
    fn reasons_are_limited_in_characters_not_bytes() {
        assert!(ReviewReason::parse(&"é".repeat(1024)).is_ok());
        assert_eq!(
            ReviewReason::parse(&"a".repeat(1025)),
            Err(ValidationError::ReasonTooLong { len: 1025 })
        );
    }

    #[test]
    fn id_lists_hold_one_to_a_hundred_distinct_positive_ids() {
        assert_eq!(IdList::parse(vec![]), Err(ValidationError::NoIds));
        assert!(IdList::parse((1..=100).collect()).is_ok());
        assert_eq!(
            IdList::parse((1..=101).collect()),
            Err(ValidationError::TooManyIds { len: 101 })
        );
        assert_eq!(IdList::parse(vec![3, 0]), Err(ValidationError::BadId(0)));
        assert_eq!(
            IdList::parse(vec![4, 5, 4, 5, 6]),
            Err(ValidationError::DuplicateIds(vec![4, 5]))
        );
    }
}
