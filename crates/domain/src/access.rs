//! The access check's rule: may this token act on the organization (and repository) with
//! this permission now, and if not, why. [`decide`] is the whole rule; it asks a [`Facts`]
//! source for what it needs, in the order it needs it, so that a store reads only that
//! (the policy only for an active grant, the repository only when one is asked about).

use crate::policy::PolicyViolation;
use crate::{AccessLevel, GrantState, RequestState, RequestedPermissions};

/// The answer: allowed through a grant, or refused with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Allowed {
        grant_id: i64,
    },
    /// The token never asked this organization (or is unknown).
    NoGrant,
    Pending {
        request_id: i64,
    },
    Denied {
        request_id: i64,
    },
    Cancelled {
        request_id: i64,
    },
    Revoked {
        grant_id: i64,
    },
    Expired,
    /// The policy blocks the token (it is not revoked: lifting the policy restores access).
    Policy(PolicyViolation),
    /// The grant does not reach this repository.
    Repository {
        grant_id: i64,
    },
    /// The grant does not hold this permission at this level.
    Permission {
        grant_id: i64,
    },
    /// A classic token, which needs no grant, and the policy lets it through.
    ClassicAllowed,
}

/// What is asked of a fine-grained token's access.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub permission: &'a str,
    pub level: AccessLevel,
    /// Whether a repository is named (its reach is then asked of the facts).
    pub repository: bool,
}

/// The token's latest grant in the organization.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: i64,
    /// `None` for a state the store does not know.
    pub state: Option<GrantState>,
    /// Whether the token has expired by now.
    pub token_expired: bool,
    pub permissions: RequestedPermissions,
}

/// Where the facts come from; each is asked at most once, and only when the rule needs it.
pub trait Facts {
    type Error;
    /// The token's latest grant in the organization, if any.
    fn latest_grant(&mut self) -> Result<Option<Grant>, Self::Error>;
    /// The token's latest request in the organization: its id and state (`None` for a state
    /// the store does not know).
    fn latest_request(&mut self) -> Result<Option<(i64, Option<RequestState>)>, Self::Error>;
    /// Whether the organization's policy admits the token now.
    fn policy(&mut self) -> Result<Result<(), PolicyViolation>, Self::Error>;
    /// Whether the grant reaches the repository asked about.
    fn reaches_repository(&mut self, grant: &Grant) -> Result<bool, Self::Error>;
}

/// The answer for a fine-grained token.
pub fn decide<F: Facts>(ask: Ask<'_>, facts: &mut F) -> Result<Answer, F::Error> {
    let Some(grant) = facts.latest_grant()? else {
        return why_no_grant(facts);
    };
    if grant.token_expired {
        return Ok(Answer::Expired);
    }
    if grant.state != Some(GrantState::Active) {
        // A request filed after the grant ended says more than the old grant does.
        if let pending @ Answer::Pending { .. } = why_no_grant(facts)? {
            return Ok(pending);
        }
        return Ok(match grant.state {
            Some(GrantState::Expired) => Answer::Expired,
            _ => Answer::Revoked { grant_id: grant.id },
        });
    }
    if let Err(violation) = facts.policy()? {
        return Ok(Answer::Policy(violation));
    }
    if !grant.permissions.allows(ask.permission, ask.level) {
        return Ok(Answer::Permission { grant_id: grant.id });
    }
    if ask.repository && !facts.reaches_repository(&grant)? {
        return Ok(Answer::Repository { grant_id: grant.id });
    }
    Ok(Answer::Allowed { grant_id: grant.id })
}

/// The answer for a classic token, which needs no grant: the policy decides.
pub fn decide_classic(policy: Result<(), PolicyViolation>) -> Answer {
    match policy {
        Ok(()) => Answer::ClassicAllowed,
        Err(violation) => Answer::Policy(violation),
    }
}

/// Without a grant, the token's latest request says why.
fn why_no_grant<F: Facts>(facts: &mut F) -> Result<Answer, F::Error> {
    Ok(match facts.latest_request()? {
        None => Answer::NoGrant,
        Some((request_id, state)) => match state {
            Some(RequestState::Pending) => Answer::Pending { request_id },
            Some(RequestState::Denied) => Answer::Denied { request_id },
            Some(RequestState::Cancelled) => Answer::Cancelled { request_id },
            Some(RequestState::Expired) => Answer::Expired,
            // Approved always has a grant; reaching here means data was changed by hand.
            _ => Answer::NoGrant,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyLevel;
    use std::convert::Infallible;

    /// Facts as plain values, counting what was asked.
    #[derive(Default)]
    struct Known {
        grant: Option<Grant>,
        request: Option<(i64, Option<RequestState>)>,
        policy: Option<PolicyViolation>,
        reaches: bool,
        asked_policy: bool,
        asked_repository: bool,
    }

    impl Facts for Known {
        type Error = Infallible;
        fn latest_grant(&mut self) -> Result<Option<Grant>, Infallible> {
            Ok(self.grant.clone())
        }
        fn latest_request(&mut self) -> Result<Option<(i64, Option<RequestState>)>, Infallible> {
            Ok(self.request)
        }
        fn policy(&mut self) -> Result<Result<(), PolicyViolation>, Infallible> {
            self.asked_policy = true;
            Ok(self.policy.map_or(Ok(()), Err))
        }
        fn reaches_repository(&mut self, _: &Grant) -> Result<bool, Infallible> {
            self.asked_repository = true;
            Ok(self.reaches)
        }
    }

    fn grant(state: GrantState) -> Grant {
        let permissions: RequestedPermissions =
            serde_json::from_str(r#"{"repository":{"contents":"read"}}"#).expect("permissions");
        Grant {
            id: 7,
            state: Some(state),
            token_expired: false,
            permissions,
        }
    }

    fn ask(repository: bool) -> Ask<'static> {
        Ask {
            permission: "contents",
            level: AccessLevel::Read,
            repository,
        }
    }

    fn decided(facts: &mut Known, a: Ask<'_>) -> Answer {
        match decide(a, facts) {
            Ok(answer) => answer,
            Err(never) => match never {},
        }
    }

    #[test]
    fn an_active_grant_with_the_permission_allows_and_reads_the_repository_only_if_asked() {
        let mut facts = Known {
            grant: Some(grant(GrantState::Active)),
            reaches: true,
            ..Known::default()
        };
        assert_eq!(
            decided(&mut facts, ask(false)),
            Answer::Allowed { grant_id: 7 }
        );
        assert!(facts.asked_policy && !facts.asked_repository);
        assert_eq!(
            decided(&mut facts, ask(true)),
            Answer::Allowed { grant_id: 7 }
        );
        facts.reaches = false;
        assert_eq!(
            decided(&mut facts, ask(true)),
            Answer::Repository { grant_id: 7 }
        );
    }

    #[test]
    fn a_higher_level_or_another_permission_is_refused() {
        let mut facts = Known {
            grant: Some(grant(GrantState::Active)),
            ..Known::default()
        };
        let write = Ask {
            level: AccessLevel::Write,
            ..ask(false)
        };
        assert_eq!(
            decided(&mut facts, write),
            Answer::Permission { grant_id: 7 }
        );
        let other = Ask {
            permission: "issues",
            ..ask(false)
        };
        assert_eq!(
            decided(&mut facts, other),
            Answer::Permission { grant_id: 7 }
        );
    }

    #[test]
    fn the_policy_blocks_an_active_grant_and_is_not_read_for_an_ended_one() {
        let violation = PolicyViolation::FineGrainedRestricted(PolicyLevel::Organization);
        let mut facts = Known {
            grant: Some(grant(GrantState::Active)),
            policy: Some(violation),
            ..Known::default()
        };
        assert_eq!(decided(&mut facts, ask(false)), Answer::Policy(violation));
        let mut ended = Known {
            grant: Some(grant(GrantState::Revoked)),
            ..Known::default()
        };
        assert_eq!(
            decided(&mut ended, ask(false)),
            Answer::Revoked { grant_id: 7 }
        );
        assert!(!ended.asked_policy);
    }

    #[test]
    fn an_expired_token_or_grant_is_expired_and_a_newer_pending_request_says_more() {
        let mut token_gone = Known {
            grant: Some(Grant {
                token_expired: true,
                ..grant(GrantState::Active)
            }),
            ..Known::default()
        };
        assert_eq!(decided(&mut token_gone, ask(false)), Answer::Expired);
        let mut grant_gone = Known {
            grant: Some(grant(GrantState::Expired)),
            ..Known::default()
        };
        assert_eq!(decided(&mut grant_gone, ask(false)), Answer::Expired);
        grant_gone.request = Some((9, Some(RequestState::Pending)));
        assert_eq!(
            decided(&mut grant_gone, ask(false)),
            Answer::Pending { request_id: 9 }
        );
    }

    #[test]
    fn without_a_grant_the_latest_request_says_why() {
        let cases = [
            (None, Answer::NoGrant),
            (
                Some((3, Some(RequestState::Pending))),
                Answer::Pending { request_id: 3 },
            ),
            (
                Some((3, Some(RequestState::Denied))),
                Answer::Denied { request_id: 3 },
            ),
            (
                Some((3, Some(RequestState::Cancelled))),
                Answer::Cancelled { request_id: 3 },
            ),
            (Some((3, Some(RequestState::Expired))), Answer::Expired),
            (Some((3, Some(RequestState::Approved))), Answer::NoGrant),
            (Some((3, None)), Answer::NoGrant),
        ];
        for (request, expected) in cases {
            let mut facts = Known {
                request,
                ..Known::default()
            };
            assert_eq!(decided(&mut facts, ask(false)), expected, "{request:?}");
        }
    }

    #[test]
    fn a_classic_token_is_decided_by_the_policy_alone() {
        assert_eq!(decide_classic(Ok(())), Answer::ClassicAllowed);
        let violation = PolicyViolation::FineGrainedRestricted(PolicyLevel::Organization);
        assert_eq!(decide_classic(Err(violation)), Answer::Policy(violation));
    }
}
