//! The state machines of a token's request (pending → approved | denied | cancelled | expired) and of a grant (active → revoked | expired).

use std::fmt;

/// Where a request stands. Every state but `Pending` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
    Cancelled,
    Expired,
}

/// What can happen to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEvent {
    /// A reviewer approved it: the request becomes a grant.
    Approve,
    /// A reviewer denied it.
    Deny,
    /// The token's owner withdrew it (the token was deleted or regenerated).
    Cancel,
    /// The token expired, or the request waited too long.
    Expire,
}

/// A transition the state machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} a request that is {from}")]
pub struct TransitionError {
    pub from: RequestState,
    pub event: RequestEvent,
}

impl RequestState {
    pub const ALL: [RequestState; 5] = [
        Self::Pending,
        Self::Approved,
        Self::Denied,
        Self::Cancelled,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_final(self) -> bool {
        self != Self::Pending
    }

    /// The state after `event`, or why the event is not allowed now.
    pub fn apply(self, event: RequestEvent) -> Result<RequestState, TransitionError> {
        match (self, event) {
            (Self::Pending, RequestEvent::Approve) => Ok(Self::Approved),
            (Self::Pending, RequestEvent::Deny) => Ok(Self::Denied),
            (Self::Pending, RequestEvent::Cancel) => Ok(Self::Cancelled),
            (Self::Pending, RequestEvent::Expire) => Ok(Self::Expired),
            (from, event) => Err(TransitionError { from, event }),
        }
    }

    /// Whether reaching this state creates a grant (exactly one, on approval).
    pub fn creates_grant(self) -> bool {
        self == Self::Approved
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::Approved => "already approved",
            Self::Denied => "already denied",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        })
    }
}

impl RequestEvent {
    /// The event a review action causes.
    pub fn from_review(action: crate::ReviewAction) -> Self {
        match action {
            crate::ReviewAction::Approve => Self::Approve,
            crate::ReviewAction::Deny => Self::Deny,
        }
    }
}

impl fmt::Display for RequestEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
        })
    }
}

/// Where a grant stands. Only `Active` grants give access; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantState {
    Active,
    Revoked,
    Expired,
}

/// What can happen to a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEvent {
    Revoke,
    Expire,
}

impl GrantState {
    pub const ALL: [GrantState; 3] = [Self::Active, Self::Revoked, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_final(self) -> bool {
        self != Self::Active
    }

    /// The state after `event`, or `None` when the grant already ended.
    pub fn apply(self, event: GrantEvent) -> Option<GrantState> {
        match (self, event) {
            (Self::Active, GrantEvent::Revoke) => Some(Self::Revoked),
            (Self::Active, GrantEvent::Expire) => Some(Self::Expired),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_request_can_go_to_every_final_state() {
        use RequestEvent::*;
        assert_eq!(
            RequestState::Pending.apply(Approve),
            Ok(RequestState::Approved)
        );
        assert_eq!(RequestState::Pending.apply(Deny), Ok(RequestState::Denied));
        assert_eq!(
            RequestState::Pending.apply(Cancel),
            Ok(RequestState::Cancelled)
        );
        assert_eq!(
            RequestState::Pending.apply(Expire),
            Ok(RequestState::Expired)
        );
    }

    #[test]
    fn refusals_say_what_the_request_already_is() {
        let err = RequestState::Approved
            .apply(RequestEvent::Deny)
            .expect_err("final");
        assert_eq!(
            err.to_string(),
            "cannot deny a request that is already approved"
        );
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
        for s in GrantState::ALL {
            assert_eq!(GrantState::parse(s.as_str()), Some(s));
        }
        assert_eq!(RequestState::parse("Pending"), None);
    }
}
