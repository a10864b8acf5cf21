//! Token policy: whether fine-grained and classic tokens may reach an organization, whether fine-grained tokens need approval, and how long tokens may live; what an enterprise's policy decides binds its organizations.

use std::fmt;

/// Longest a fine-grained token may live unless a policy says otherwise, in days.
pub const DEFAULT_FINE_GRAINED_MAX_DAYS: u32 = 366;
/// The largest lifetime a policy may set, in days, as on GitHub (1–366).
pub const MAX_LIFETIME_DAYS: u32 = 366;

/// One level's settings (an enterprise's or an organization's). `None` leaves the decision to
/// the level below (an enterprise's organizations) or to the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicySettings {
    pub fine_grained_allowed: Option<bool>,
    pub approval_required: Option<bool>,
    pub classic_allowed: Option<bool>,
    pub fine_grained_max_days: Option<u32>,
    pub classic_max_days: Option<u32>,
    /// Whether the organization's owners' tokens are exempt from the lifetime limits.
    pub exempt_administrators: Option<bool>,
}

/// The policy in force for an organization, every question answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectivePolicy {
    pub fine_grained_allowed: bool,
    pub approval_required: bool,
    pub classic_allowed: bool,
    pub fine_grained_max_days: u32,
    pub classic_max_days: Option<u32>,
    pub exempt_administrators: bool,
}

impl Default for EffectivePolicy {
    /// What an organization gets with no policy of its own or of an enterprise: fine-grained
    /// tokens allowed with approval, classic tokens allowed, fine-grained tokens at most 366
    /// days.
    fn default() -> Self {
        Self {
            fine_grained_allowed: true,
            approval_required: true,
            classic_allowed: true,
            fine_grained_max_days: DEFAULT_FINE_GRAINED_MAX_DAYS,
            classic_max_days: None,
            exempt_administrators: false,
        }
    }
}

/// Which rule of a policy refused something; displayed as the reason given to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("fine-grained personal access tokens are restricted by the {0} policy")]
    FineGrainedRestricted(PolicyLevel),
    #[error("personal access tokens (classic) are restricted by the {0} policy")]
    ClassicRestricted(PolicyLevel),
    #[error(
        "the token's lifetime of {days} days exceeds the {level} policy's maximum of {max} days"
    )]
    LifetimeTooLong {
        level: PolicyLevel,
        days: u64,
        max: u32,
    },
    #[error("a token without an expiry date exceeds the {level} policy's maximum lifetime of {max} days")]
    NoExpiry { level: PolicyLevel, max: u32 },
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyLevel {
    Enterprise,
    Organization,
    /// Neither set the rule: patgate's default applies.
    Default,
}

impl fmt::Display for PolicyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enterprise => "enterprise",
            Self::Organization => "organization",
            Self::Default => "default",
        })
    }
}

/// Why an organization's settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{field} cannot loosen the enterprise policy: {detail}")]
    LoosensEnterprise { field: &'static str, detail: String },
    /// The enterprise decided the setting for its organizations (allowed, restricted,
    /// approval required or disabled): only "allow organizations to configure" leaves it to
    /// them.
    #[error(
        "{field} is set by the enterprise policy ({detail}); organizations cannot override it"
    )]
    SetByEnterprise { field: &'static str, detail: String },
    #[error("{field} must be between 1 and {MAX_LIFETIME_DAYS} days")]
    BadLifetime { field: &'static str },
}

impl PolicyError {
    /// The setting the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::LoosensEnterprise { field, .. }
            | Self::SetByEnterprise { field, .. }
            | Self::BadLifetime { field } => field,
        }
    }
}

/// The kind of token a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    FineGrained,
    Classic,
}

/// What the policy says about a fine-grained token's request for access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeDecision {
    /// Refused outright.
    Refused(PolicyViolation),
    /// Granted without review (approval not required).
    Granted,
    /// Waits for a reviewer.
    Pending,
}

fn lifetime_ok(days: u32) -> bool {
    (1..=MAX_LIFETIME_DAYS).contains(&days)
}

impl PolicySettings {
    /// Checks the lifetimes' ranges.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.fine_grained_max_days.is_some_and(|d| !lifetime_ok(d)) {
            return Err(PolicyError::BadLifetime {
                field: "fine_grained_max_lifetime_days",
            });
        }
        if self.classic_max_days.is_some_and(|d| !lifetime_ok(d)) {
            return Err(PolicyError::BadLifetime {
                field: "classic_max_lifetime_days",
            });
        }
        Ok(())
    }

    /// Checks that an organization's settings stay within its enterprise's: a setting the
    /// enterprise decided (fine-grained tokens allowed or restricted, approval required or
    /// disabled, classic tokens allowed or restricted, administrators exempt or not) cannot be
    /// set otherwise, as on GitHub where only "allow organizations to configure" leaves the
    /// choice to them; and no lifetime may exceed the enterprise's.
    pub fn check_within(&self, enterprise: &PolicySettings) -> Result<(), PolicyError> {
        type Switch = fn(&PolicySettings) -> Option<bool>;
        const SWITCHES: [(&str, Switch, &str, &str); 4] = [
            (
                "fine_grained_tokens",
                |p| p.fine_grained_allowed,
                "the enterprise allows fine-grained tokens",
                "the enterprise restricts fine-grained tokens",
            ),
            (
                "fine_grained_approval",
                |p| p.approval_required,
                "the enterprise requires approval",
                "the enterprise disables approval",
            ),
            (
                "classic_tokens",
                |p| p.classic_allowed,
                "the enterprise allows classic tokens",
                "the enterprise restricts classic tokens",
            ),
            (
                "exempt_administrators",
                |p| p.exempt_administrators,
                "the enterprise exempts administrators",
                "the enterprise does not exempt administrators",
            ),
        ];
        type Days = fn(&PolicySettings) -> Option<u32>;
        const LIFETIMES: [(&str, Days); 2] = [
            ("fine_grained_max_lifetime_days", |p| {
                p.fine_grained_max_days
            }),
            ("classic_max_lifetime_days", |p| p.classic_max_days),
        ];
        for (field, get, yes, no) in SWITCHES {
            if let (Some(e), Some(o)) = (get(enterprise), get(self)) {
                if e != o {
                    let detail = (if e { yes } else { no }).to_owned();
                    return Err(PolicyError::SetByEnterprise { field, detail });
                }
            }
        }
        for (field, get) in LIFETIMES {
            if let (Some(max), Some(days)) = (get(enterprise), get(self)) {
                if days > max {
                    let detail = format!("the enterprise allows at most {max} days");
                    return Err(PolicyError::LoosensEnterprise { field, detail });
                }
            }
        }
        Ok(())
    }
}

/// A setting with the level that decided it, for refusals that name their policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<T> {
    pub value: T,
    pub level: Option<PolicyLevel>,
}

/// The enterprise's and the organization's settings together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyStack {
    pub enterprise: Option<PolicySettings>,
    pub organization: PolicySettings,
}

impl PolicyStack {
    fn pick<T: Copy>(
        &self,
        field: impl Fn(&PolicySettings) -> Option<T>,
        enterprise_wins: impl Fn(T) -> bool,
        default: T,
    ) -> Resolved<T> {
        let ent = self.enterprise.as_ref().and_then(&field);
        let org = field(&self.organization);
        match (ent, org) {
            (Some(e), _) if enterprise_wins(e) => Resolved {
                value: e,
                level: Some(PolicyLevel::Enterprise),
            },
            (_, Some(o)) => Resolved {
                value: o,
                level: Some(PolicyLevel::Organization),
            },
            (Some(e), None) => Resolved {
                value: e,
                level: Some(PolicyLevel::Enterprise),
            },
            (None, None) => Resolved {
                value: default,
                level: None,
            },
        }
    }

    // What the enterprise set binds its organizations, either way (GitHub: "organizations
    // cannot override"); what it left unset, they decide.

    fn fine_grained_allowed(&self) -> Resolved<bool> {
        let d = EffectivePolicy::default();
        self.pick(|p| p.fine_grained_allowed, |_| true, d.fine_grained_allowed)
    }

    fn approval_required(&self) -> Resolved<bool> {
        let d = EffectivePolicy::default();
        self.pick(|p| p.approval_required, |_| true, d.approval_required)
    }

    fn classic_allowed(&self) -> Resolved<bool> {
        let d = EffectivePolicy::default();
        self.pick(|p| p.classic_allowed, |_| true, d.classic_allowed)
    }

    fn exempt_administrators(&self) -> Resolved<bool> {
        let d = EffectivePolicy::default();
        self.pick(
            |p| p.exempt_administrators,
            |_| true,
            d.exempt_administrators,
        )
    }

    /// The lower of the two maxima, with the level it comes from.
    fn max_days(
        &self,
        field: impl Fn(&PolicySettings) -> Option<u32>,
        default: Option<u32>,
    ) -> Resolved<Option<u32>> {
        let ent = self.enterprise.as_ref().and_then(&field);
        let org = field(&self.organization);
        match (ent, org) {
            (Some(e), Some(o)) if o < e => Resolved {
                value: Some(o),
                level: Some(PolicyLevel::Organization),
            },
            (Some(e), _) => Resolved {
                value: Some(e),
                level: Some(PolicyLevel::Enterprise),
            },
            (None, Some(o)) => Resolved {
                value: Some(o),
                level: Some(PolicyLevel::Organization),
            },
            (None, None) => Resolved {
                value: default,
                level: None,
            },
        }
    }

    fn fine_grained_max_days(&self) -> Resolved<u32> {
        let r = self.max_days(
            |p| p.fine_grained_max_days,
            Some(DEFAULT_FINE_GRAINED_MAX_DAYS),
        );
        Resolved {
            value: r.value.unwrap_or(DEFAULT_FINE_GRAINED_MAX_DAYS),
            level: r.level,
        }
    }

    fn classic_max_days(&self) -> Resolved<Option<u32>> {
        self.max_days(|p| p.classic_max_days, None)
    }

    /// The policy in force: what the enterprise set binds, organizations decide what it left
    /// unset (or fall back to the default), and the lower lifetime applies.
    pub fn effective(&self) -> EffectivePolicy {
        EffectivePolicy {
            fine_grained_allowed: self.fine_grained_allowed().value,
            approval_required: self.approval_required().value,
            classic_allowed: self.classic_allowed().value,
            fine_grained_max_days: self.fine_grained_max_days().value,
            classic_max_days: self.classic_max_days().value,
            exempt_administrators: self.exempt_administrators().value,
        }
    }

    /// Whether a token of `kind` whose lifetime is `lifetime_days` (None: never expires) may
    /// reach the organization at all; the refusal names the rule and its level. An owner of the
    /// organization (`by_owner`) is not held to the lifetime limits when the policy exempts
    /// administrators.
    pub fn admits(
        &self,
        kind: TokenKind,
        lifetime_days: Option<u64>,
        by_owner: bool,
    ) -> Result<(), PolicyViolation> {
        let level = |r: Option<PolicyLevel>| r.unwrap_or(PolicyLevel::Default);
        let max = match kind {
            TokenKind::FineGrained => {
                let allowed = self.fine_grained_allowed();
                if !allowed.value {
                    return Err(PolicyViolation::FineGrainedRestricted(level(allowed.level)));
                }
                let max = self.fine_grained_max_days();
                Resolved {
                    value: Some(max.value),
                    level: max.level,
                }
            }
            TokenKind::Classic => {
                let allowed = self.classic_allowed();
                if !allowed.value {
                    return Err(PolicyViolation::ClassicRestricted(level(allowed.level)));
                }
                self.classic_max_days()
            }
        };
        if by_owner && self.exempt_administrators().value {
            return Ok(());
        }
        match (max.value, lifetime_days) {
            (Some(max_days), None) => Err(PolicyViolation::NoExpiry {
                level: level(max.level),
                max: max_days,
            }),
            (Some(max_days), Some(days)) if days > u64::from(max_days) => {
                Err(PolicyViolation::LifetimeTooLong {
                    level: level(max.level),
                    days,
                    max: max_days,
                })
            }
            _ => Ok(()),
        }
    }

    /// What happens to a fine-grained token's request for access; `by_owner`: the token
    /// belongs to an owner of the organization.
    pub fn decide_intake(&self, lifetime_days: Option<u64>, by_owner: bool) -> IntakeDecision {
        match self.admits(TokenKind::FineGrained, lifetime_days, by_owner) {
            Err(violation) => IntakeDecision::Refused(violation),
            Ok(()) if self.approval_required().value => IntakeDecision::Pending,
            Ok(()) => IntakeDecision::Granted,
        }
    }
}

/// Whole days from `created` to `expires` (both Unix seconds), rounded up; `None` when the
/// token never expires.
pub fn lifetime_days(created: i64, expires: Option<i64>) -> Option<u64> {
    expires.map(|e| {
        let secs = e.saturating_sub(created).max(0) as u64;
        secs.div_ceil(86_400)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(settings: PolicySettings) -> PolicyStack {
        PolicyStack {
            enterprise: None,
            organization: settings,
        }
    }

    #[test]
    fn defaults_allow_fine_grained_tokens_with_approval_for_at_most_366_days() {
        let stack = PolicyStack::default();
        assert_eq!(stack.effective(), EffectivePolicy::default());
        assert_eq!(
            stack.decide_intake(Some(30), false),
            IntakeDecision::Pending
        );
        assert_eq!(
            stack.decide_intake(Some(367), false),
            IntakeDecision::Refused(PolicyViolation::LifetimeTooLong {
                level: PolicyLevel::Default,
                days: 367,
                max: 366
            })
        );
        assert!(matches!(
            stack.decide_intake(None, false),
            IntakeDecision::Refused(PolicyViolation::NoExpiry { .. })
        ));
        assert_eq!(stack.admits(TokenKind::Classic, None, false), Ok(()));
    }

    #[test]
    fn an_organization_may_drop_approval_or_restrict_tokens() {
        let no_approval = org(PolicySettings {
            approval_required: Some(false),
            ..Default::default()
        });
        assert_eq!(
            no_approval.decide_intake(Some(10), false),
            IntakeDecision::Granted
        );
        let restricted = org(PolicySettings {
            fine_grained_allowed: Some(false),
            ..Default::default()
        });
        assert_eq!(
            restricted.decide_intake(Some(10), false),
            IntakeDecision::Refused(PolicyViolation::FineGrainedRestricted(
                PolicyLevel::Organization
            ))
        );
        let no_classic = org(PolicySettings {
            classic_allowed: Some(false),
            ..Default::default()
        });
        assert_eq!(
            no_classic.admits(TokenKind::Classic, Some(1), false),
            Err(PolicyViolation::ClassicRestricted(
                PolicyLevel::Organization
            ))
        );
    }

    #[test]
    fn the_enterprise_bounds_its_organizations() {
        let enterprise = PolicySettings {
            fine_grained_allowed: Some(true),
            approval_required: Some(true),
            classic_allowed: Some(false),
            fine_grained_max_days: Some(90),
            classic_max_days: None,
            exempt_administrators: None,
        };
        let loosening = PolicySettings {
            approval_required: Some(false),
            ..Default::default()
        };
        // What the enterprise allows binds too: an organization cannot restrict it.
        let restricting = PolicySettings {
            fine_grained_allowed: Some(false),
            ..Default::default()
        };
        for (settings, setting) in [
            (loosening, "fine_grained_approval"),
            (restricting, "fine_grained_tokens"),
        ] {
            assert!(
                matches!(
                    settings.check_within(&enterprise),
                    Err(PolicyError::SetByEnterprise { field, .. }) if field == setting
                ),
                "{setting}"
            );
        }
        let longer = PolicySettings {
            fine_grained_max_days: Some(100),
            ..Default::default()
        };
        assert!(longer.check_within(&enterprise).is_err());
        let shorter = PolicySettings {
            fine_grained_max_days: Some(30),
            ..Default::default()
        };
        assert_eq!(shorter.check_within(&enterprise), Ok(()));
        // Even settings stored before the enterprise tightened cannot loosen it.
        let stack = PolicyStack {
            enterprise: Some(enterprise),
            organization: loosening,
        };
        assert_eq!(
            stack.decide_intake(Some(10), false),
            IntakeDecision::Pending
        );
        assert_eq!(
            stack.decide_intake(Some(91), false),
            IntakeDecision::Refused(PolicyViolation::LifetimeTooLong {
                level: PolicyLevel::Enterprise,
                days: 91,
                max: 90
            })
        );
        assert_eq!(
            stack.admits(TokenKind::Classic, Some(1), false),
            Err(PolicyViolation::ClassicRestricted(PolicyLevel::Enterprise))
        );
        let tighter = PolicyStack {
            enterprise: Some(enterprise),
            organization: shorter,
        };
        assert_eq!(tighter.effective().fine_grained_max_days, 30);
    }

    #[test]
    fn organizations_inherit_the_enterprises_opt_in() {
        let opted_out = PolicySettings {
            fine_grained_allowed: Some(false),
            ..Default::default()
        };
        let stack = PolicyStack {
            enterprise: Some(opted_out),
            organization: PolicySettings::default(),
        };
        assert!(!stack.effective().fine_grained_allowed);
        let opted_in = PolicySettings {
            fine_grained_allowed: Some(true),
            approval_required: Some(false),
            ..Default::default()
        };
        let stack = PolicyStack {
            enterprise: Some(opted_in),
            organization: PolicySettings::default(),
        };
        assert!(stack.effective().fine_grained_allowed);
        assert!(!stack.effective().approval_required);
        // What the enterprise decided binds, even against settings stored before it did.
        let stack = PolicyStack {
            enterprise: Some(opted_in),
            organization: PolicySettings {
                approval_required: Some(true),
                fine_grained_allowed: Some(false),
                ..Default::default()
            },
        };
        assert!(!stack.effective().approval_required);
        assert!(stack.effective().fine_grained_allowed);
        // What it left to its organizations, they decide.
        let stack = PolicyStack {
            enterprise: Some(PolicySettings::default()),
            organization: PolicySettings {
                approval_required: Some(false),
                fine_grained_allowed: Some(false),
                ..Default::default()
            },
        };
        assert!(!stack.effective().approval_required);
        assert!(!stack.effective().fine_grained_allowed);
    }

    #[test]
    fn exempt_administrators_lifts_the_lifetime_limits_for_owners_only() {
        let stack = org(PolicySettings {
            fine_grained_max_days: Some(30),
            classic_max_days: Some(30),
            exempt_administrators: Some(true),
            ..Default::default()
        });
        assert_eq!(stack.decide_intake(None, true), IntakeDecision::Pending);
        assert_eq!(
            stack.decide_intake(Some(300), true),
            IntakeDecision::Pending
        );
        assert!(matches!(
            stack.decide_intake(Some(300), false),
            IntakeDecision::Refused(PolicyViolation::LifetimeTooLong { .. })
        ));
        assert_eq!(stack.admits(TokenKind::Classic, None, true), Ok(()));
        // Not the access rules: a restriction still refuses an owner's token.
        let restricted = org(PolicySettings {
            fine_grained_allowed: Some(false),
            exempt_administrators: Some(true),
            ..Default::default()
        });
        assert!(matches!(
            restricted.decide_intake(Some(1), true),
            IntakeDecision::Refused(PolicyViolation::FineGrainedRestricted(_))
        ));
        let not_exempt = org(PolicySettings {
            fine_grained_max_days: Some(30),
            ..Default::default()
        });
        assert!(matches!(
            not_exempt.decide_intake(Some(300), true),
            IntakeDecision::Refused(PolicyViolation::LifetimeTooLong { .. })
        ));
    }

    #[test]
    fn lifetimes_are_limited_to_githubs_range() {
        for (days, ok) in [(0, false), (1, true), (366, true), (367, false)] {
            let settings = PolicySettings {
                fine_grained_max_days: Some(days),
                ..Default::default()
            };
            assert_eq!(settings.validate().is_ok(), ok, "{days}");
        }
    }

    #[test]
    fn lifetimes_round_up_to_whole_days() {
        assert_eq!(lifetime_days(0, None), None);
        assert_eq!(lifetime_days(0, Some(1)), Some(1));
        assert_eq!(lifetime_days(0, Some(86_400)), Some(1));
        assert_eq!(lifetime_days(0, Some(86_401)), Some(2));
        assert_eq!(lifetime_days(100, Some(50)), Some(0));
    }
}
