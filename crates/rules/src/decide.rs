//! What a rule set decides about one request: deny wins, then approve unless a rule leaves it
//! for people, else pending; any evaluation error leaves it pending (fail closed); and an
//! approval never passes the organization's hard limits, which stay outside the rules.

use std::collections::BTreeSet;

use cedar_policy::{Authorizer, Decision as CedarDecision, PolicySet};
use patgate_domain::policy::TokenKind;
use serde::{Deserialize, Serialize};

use crate::compile::RuleSet;
use crate::facts::cedar::Prepared;
use crate::facts::{Facts, Situation};
use crate::index::Action;

/// What rules make of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Approved,
    Denied,
    /// Left for people: no rule decided, a rule held it, a hard limit applied, or an error.
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Pending => "pending",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "pending" => Some(Self::Pending),
            _ => None,
        }
    }
}

/// A decision with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// The rules that decided, in source order: the deny rules that matched, the approve rules
    /// that matched, or the rules that left it for people.
    pub rules: Vec<String>,
    /// Their reasons, in the same order.
    pub reasons: Vec<String>,
    /// The hard limits that kept an approval from happening.
    pub limits: Vec<String>,
    /// The evaluation error that left the request pending.
    pub error: Option<String>,
    /// Every rule whose conditions matched, deciding or not.
    #[serde(skip)]
    pub matched: BTreeSet<String>,
}

impl Decision {
    fn pending() -> Self {
        Self {
            outcome: Outcome::Pending,
            rules: Vec::new(),
            reasons: Vec::new(),
            limits: Vec::new(),
            error: None,
            matched: BTreeSet::new(),
        }
    }

    fn failed(error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::pending()
        }
    }

    /// The text a review records: the version, the deciding rules and their reasons.
    pub fn review_reason(&self, version: i64) -> String {
        let mut text = format!("Review rules v{version}");
        if !self.rules.is_empty() {
            text.push_str(&format!(" [{}]", self.rules.join(", ")));
        }
        if !self.reasons.is_empty() {
            text.push_str(": ");
            text.push_str(&self.reasons.join(" "));
        }
        text
    }
}

/// What Cedar answered about one action: whether it is allowed, and the rules that decided
/// (the permits that matched when allowed, the forbids that matched when not).
struct Answer {
    allowed: bool,
    ids: Vec<String>,
}

impl Answer {
    /// The answer when no rule about the action can match.
    fn none() -> Self {
        Self {
            allowed: false,
            ids: Vec::new(),
        }
    }
}

impl RuleSet {
    /// Decides one request. Never fails: what cannot be evaluated stays pending, with the error.
    /// Only the rules the request can match are evaluated ([`crate::index`]).
    pub fn decide(&self, facts: &Facts, situation: &Situation) -> Decision {
        self.decide_among(facts, situation, true)
    }

    /// The same decision with every rule evaluated, as Cedar alone would: what the index must
    /// agree with (its property tests compare the two).
    #[doc(hidden)]
    pub fn decide_every_rule(&self, facts: &Facts, situation: &Situation) -> Decision {
        self.decide_among(facts, situation, false)
    }

    fn decide_among(&self, facts: &Facts, situation: &Situation, indexed: bool) -> Decision {
        if self.rules.is_empty() {
            return Decision::pending();
        }
        let listed = match facts.check().and_then(|()| facts.selection()) {
            Ok(selection) => selection.lists_repositories(),
            Err(e) => return Decision::failed(e.to_string()),
        };
        let candidates: Vec<usize> = if indexed {
            self.index.candidates(facts, listed)
        } else {
            (0..self.rules.len()).collect()
        };
        let deny_rules = self.index.about(&candidates, Action::Deny, false);
        let approve_rules = self.index.about(&candidates, Action::Approve, false);
        if deny_rules.is_none() && approve_rules.is_none() {
            // No rule can match: pending, without building anything for Cedar.
            return Decision::pending();
        }
        // Every value is built when every rule is evaluated: that path checks the other.
        let reads = indexed.then(|| self.index.reads());
        let prepared = match Prepared::new(facts, situation, reads) {
            Ok(p) => p,
            Err(e) => return Decision::failed(e.to_string()),
        };
        let deny = match ask(deny_rules.as_deref(), &prepared, Action::Deny) {
            Ok(r) => r,
            Err(e) => return Decision::failed(e),
        };
        let approve = match ask(approve_rules.as_deref(), &prepared, Action::Approve) {
            Ok(r) => r,
            Err(e) => return Decision::failed(e),
        };
        let mut matched: BTreeSet<String> = deny.ids.iter().chain(&approve.ids).cloned().collect();
        // A forbid hides the permits it overrides; they matched all the same.
        for (answer, action) in [(&deny, Action::Deny), (&approve, Action::Approve)] {
            if !answer.allowed && !answer.ids.is_empty() {
                let permits = self.index.about(&candidates, action, true);
                if let Ok(beneath) = ask(permits.as_deref(), &prepared, action) {
                    matched.extend(beneath.ids);
                }
            }
        }

        let mut decision = Decision {
            matched,
            ..Decision::pending()
        };
        let deciding = if deny.allowed {
            decision.outcome = Outcome::Denied;
            &deny
        } else if approve.allowed {
            decision.limits = hard_limits(facts, situation);
            if decision.limits.is_empty() {
                decision.outcome = Outcome::Approved;
            }
            &approve
        } else {
            // Left for people by the rules that forbade approving, or by none.
            &approve
        };
        let deciding: BTreeSet<&str> = deciding.ids.iter().map(String::as_str).collect();
        for rule in &self.rules {
            if deciding.contains(rule.id.as_str()) {
                decision.rules.push(rule.id.clone());
                decision.reasons.push(rule.reason.clone());
            }
        }
        decision
    }
}

/// Asks Cedar whether `rules` allow `action`; no rules allow nothing.
fn ask(rules: Option<&PolicySet>, prepared: &Prepared, action: Action) -> Result<Answer, String> {
    static AUTHORIZER: std::sync::OnceLock<Authorizer> = std::sync::OnceLock::new();
    let Some(rules) = rules else {
        return Ok(Answer::none());
    };
    let request = prepared
        .request(action.as_str())
        .map_err(|e| e.to_string())?;
    let response =
        AUTHORIZER
            .get_or_init(Authorizer::new)
            .is_authorized(&request, rules, &prepared.entities);
    let errors: Vec<String> = response
        .diagnostics()
        .errors()
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(Answer {
        allowed: response.decision() == CedarDecision::Allow,
        ids: response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect(),
    })
}

/// What the organization's policy refuses of this request, whatever the rules say: the
/// lifetime limits (unless the owner is exempt) and an expired token.
pub fn hard_limits(facts: &Facts, situation: &Situation) -> Vec<String> {
    let mut limits = Vec::new();
    let lifetime = facts.lifetime(situation.now);
    if let Err(violation) =
        situation
            .policy
            .admits(TokenKind::FineGrained, lifetime, facts.by_owner())
    {
        limits.push(violation.to_string());
    }
    if facts
        .expiry(situation.now)
        .is_some_and(|e| e <= situation.now)
    {
        limits.push("the token has expired".to_owned());
    }
    limits
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{TimeZone, Utc};
    use patgate_domain::policy::{PolicySettings, PolicyStack};
    use patgate_domain::{AccessLevel, RequestedPermissions};

    use super::*;
    use crate::facts::{Owner, Repository};

    pub(crate) fn situation() -> Situation {
        Situation {
            org_login: "octo-org".to_owned(),
            now: Utc
                .with_ymd_and_hms(2026, 12, 7, 12, 0, 0)
                .single()
                .expect("time"),
            policy: PolicyStack::default(),
        }
    }

    pub(crate) fn facts(level: AccessLevel, days: u64) -> Facts {
        let mut permissions = RequestedPermissions::default();
        permissions.repository.insert("contents".to_owned(), level);
        permissions
            .repository
            .insert("metadata".to_owned(), AccessLevel::Read);
        Facts {
            id: 7,
            owner: Owner {
                login: "octocat".to_owned(),
                role: "member".to_owned(),
                site_admin: false,
                automatic_approvals_last_day: 0,
                automatic_approvals_last_week: 0,
            },
            token_name: "ci".to_owned(),
            repository_selection: "subset".to_owned(),
            repositories: vec![Repository {
                name: "docs".to_owned(),
                private: false,
            }],
            permissions,
            expires_at: None,
            lifetime_days: Some(days),
            created_at: None,
            resubmission: false,
        }
    }

    const RULES: &str = r#"
@id("approve-read")
@reason("Read-only access to public repositories is approved.")
permit (principal, action == Action::"approve", resource)
when { resource.read_only && !resource.any_private_repository };

@id("deny-admin")
@reason("Admin access is never granted to tokens.")
permit (principal, action == Action::"deny", resource)
when { resource.highest_level == "admin" };

@id("deny-long")
@reason("Tokens may live 90 days at most.")
permit (principal, action == Action::"deny", resource)
when { resource has lifetime_days && resource.lifetime_days > 90 };

@id("people-for-owners")
@reason("Owners' tokens are reviewed by people.")
forbid (principal, action == Action::"approve", resource)
when { principal.role == "owner" };

@id("quota")
@reason("More than 3 automatic approvals a day are reviewed by people.")
forbid (principal, action == Action::"approve", resource)
when { context.owner_automatic_approvals.last_day >= 3 };
"#;

    fn rules() -> RuleSet {
        RuleSet::compile(RULES).expect("valid")
    }

    #[test]
    fn a_matching_approve_rule_approves_with_its_reason() {
        let d = rules().decide(&facts(AccessLevel::Read, 30), &situation());
        assert_eq!(d.outcome, Outcome::Approved, "{d:?}");
        assert_eq!(d.rules, ["approve-read"]);
        assert_eq!(
            d.reasons,
            ["Read-only access to public repositories is approved."]
        );
        assert!(d.error.is_none() && d.limits.is_empty());
    }

    #[test]
    fn every_matching_deny_rule_denies_with_every_reason_in_source_order() {
        let d = rules().decide(&facts(AccessLevel::Admin, 120), &situation());
        assert_eq!(d.outcome, Outcome::Denied);
        assert_eq!(d.rules, ["deny-admin", "deny-long"]);
        assert_eq!(d.reasons.len(), 2);
    }

    #[test]
    fn deny_wins_over_approve() {
        // Read-only and public, so approve-read matches too; the lifetime denies.
        let d = rules().decide(&facts(AccessLevel::Read, 120), &situation());
        assert_eq!(d.outcome, Outcome::Denied);
        assert_eq!(d.rules, ["deny-long"]);
        assert!(d.matched.contains("approve-read"));
    }

    #[test]
    fn a_leave_for_people_rule_keeps_an_approval_from_happening() {
        let mut f = facts(AccessLevel::Read, 30);
        f.owner.role = "owner".to_owned();
        let d = rules().decide(&f, &situation());
        assert_eq!(d.outcome, Outcome::Pending);
        assert_eq!(d.rules, ["people-for-owners"]);
        assert!(d.matched.contains("approve-read"), "{:?}", d.matched);
    }

    #[test]
    fn the_quota_counts_the_owners_recent_automatic_approvals() {
        let mut f = facts(AccessLevel::Read, 30);
        f.owner.automatic_approvals_last_day = 3;
        let d = rules().decide(&f, &situation());
        assert_eq!(
            (d.outcome, d.rules.as_slice()),
            (Outcome::Pending, &["quota".to_owned()][..])
        );
    }

    #[test]
    fn nothing_matching_leaves_it_pending_without_rules() {
        let d = rules().decide(&facts(AccessLevel::Write, 30), &situation());
        assert_eq!(d.outcome, Outcome::Pending);
        assert!(d.rules.is_empty() && d.error.is_none());
    }

    #[test]
    fn the_policy_limits_stay_outside_the_rules() {
        let set = RuleSet::compile(
            "@id(\"all\") @reason(\"everything\") permit (principal, action == Action::\"approve\", resource);",
        )
        .expect("valid");
        let mut s = situation();
        s.policy = PolicyStack {
            enterprise: None,
            organization: PolicySettings {
                fine_grained_max_days: Some(30),
                ..PolicySettings::default()
            },
        };
        let d = set.decide(&facts(AccessLevel::Read, 60), &s);
        assert_eq!(d.outcome, Outcome::Pending);
        assert_eq!(d.rules, ["all"]);
        assert_eq!(d.limits.len(), 1, "{d:?}");
        // An owner exempt from lifetime limits is not held to them.
        s.policy.organization.exempt_administrators = Some(true);
        let mut f = facts(AccessLevel::Read, 60);
        f.owner.role = "owner".to_owned();
        assert_eq!(set.decide(&f, &s).outcome, Outcome::Approved);
        // An expired token is never approved.
        let mut f = facts(AccessLevel::Read, 10);
        f.lifetime_days = None;
        f.expires_at = Some(s.now - chrono::TimeDelta::days(1));
        let d = set.decide(&f, &s);
        assert_eq!(d.outcome, Outcome::Pending);
        assert!(d.limits.iter().any(|l| l.contains("expired")), "{d:?}");
    }

    #[test]
    fn an_evaluation_error_fails_closed() {
        // Overflow is an evaluation error: the deny rule errors, and nothing is approved.
        let set = RuleSet::compile(
            r#"@id("overflow") @reason("r")
permit (principal, action == Action::"deny", resource)
when { resource has lifetime_days && resource.lifetime_days * 9223372036854775807 > 0 };
@id("all") @reason("everything") permit (principal, action == Action::"approve", resource);"#,
        )
        .expect("valid");
        let d = set.decide(&facts(AccessLevel::Read, 30), &situation());
        assert_eq!(d.outcome, Outcome::Pending, "{d:?}");
        assert!(
            d.error.as_deref().is_some_and(|e| e.contains("overflow")),
            "{d:?}"
        );
    }

    #[test]
    fn permission_tags_are_read_safely() {
        let set = RuleSet::compile(
            r#"@id("contents-write") @reason("r")
permit (principal, action == Action::"deny", resource)
when { resource.hasTag("contents") && resource.getTag("contents") == "write" };"#,
        )
        .expect("valid");
        assert_eq!(
            set.decide(&facts(AccessLevel::Write, 30), &situation())
                .outcome,
            Outcome::Denied
        );
        assert_eq!(
            set.decide(&facts(AccessLevel::Read, 30), &situation())
                .outcome,
            Outcome::Pending
        );
    }
}
