//! For random requests and random rule sets: an automatic approval never exceeds the policy's
//! limits, and a rule set with a matching deny rule never approves.

use chrono::{TimeZone, Utc};
use patgate_domain::policy::{PolicySettings, PolicyStack};
use patgate_domain::{AccessLevel, RequestedPermissions};
use patgate_rules::{hard_limits, Facts, Outcome, Owner, Repository, RuleSet, Situation};
use proptest::prelude::*;

/// A condition as Cedar text, and the same condition evaluated in Rust.
#[derive(Debug, Clone, Copy)]
enum Condition {
    Always,
    ReadOnly,
    Admin,
    LongerThan(u64),
    AnyPrivate,
    ByOwner,
    AllRepositories,
    ApprovalsToday(i64),
    WritesContents,
    /// Guards the index files rules under, alone or before another condition.
    Login(&'static str, bool),
    ListsRepository(&'static str, bool),
    AsksPermission(&'static str),
}

const LOGINS: [&str; 2] = ["octocat", "hubot"];
const REPOSITORIES: [&str; 3] = ["docs", "api", "web"];
const PERMISSIONS: [&str; 3] = ["contents", "issues", "administration"];

impl Condition {
    fn cedar(self) -> String {
        match self {
            Self::Always => "true".to_owned(),
            Self::ReadOnly => "resource.read_only".to_owned(),
            Self::Admin => "resource.highest_level == \"admin\"".to_owned(),
            Self::LongerThan(n) => {
                format!("resource has lifetime_days && resource.lifetime_days > {n}")
            }
            Self::AnyPrivate => "resource.any_private_repository".to_owned(),
            Self::ByOwner => "principal.role == \"owner\"".to_owned(),
            Self::AllRepositories => "resource.repository_selection == \"all\"".to_owned(),
            Self::ApprovalsToday(n) => {
                format!("context.owner_automatic_approvals.last_day >= {n}")
            }
            Self::WritesContents => {
                "resource.hasTag(\"contents\") && resource.getTag(\"contents\") == \"write\""
                    .to_owned()
            }
            Self::Login(login, read_only) => format!(
                "principal.login == \"{login}\"{}",
                if read_only {
                    " && resource.read_only"
                } else {
                    ""
                }
            ),
            Self::ListsRepository(name, private) => format!(
                "resource.repository_names.contains(\"{name}\"){}",
                if private {
                    " && resource.any_private_repository"
                } else {
                    ""
                }
            ),
            Self::AsksPermission(name) => format!("resource.hasTag(\"{name}\")"),
        }
    }

    fn holds(self, f: &Facts) -> bool {
        let highest = f.permissions.entries().map(|(_, l)| l).max();
        let listed = f.repository_selection == "subset";
        match self {
            Self::Always => true,
            Self::ReadOnly => highest.is_none_or(|l| l == AccessLevel::Read),
            Self::Admin => highest == Some(AccessLevel::Admin),
            Self::LongerThan(n) => f.lifetime_days.is_some_and(|d| d > n),
            Self::AnyPrivate => listed && f.repositories.iter().any(|r| r.private),
            Self::ByOwner => f.owner.role == "owner",
            Self::AllRepositories => f.repository_selection == "all",
            Self::ApprovalsToday(n) => f.owner.automatic_approvals_last_day >= n,
            Self::WritesContents => {
                let levels = f.permissions.entries().filter(|(k, _)| *k == "contents");
                levels.map(|(_, l)| l).max() == Some(AccessLevel::Write)
            }
            Self::Login(login, read_only) => {
                f.owner.login == login && (!read_only || Self::ReadOnly.holds(f))
            }
            Self::ListsRepository(name, private) => {
                listed
                    && f.repositories.iter().any(|r| r.name == name)
                    && (!private || Self::AnyPrivate.holds(f))
            }
            Self::AsksPermission(name) => f.permissions.entries().any(|(k, _)| k == name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deny,
    Approve,
    LeaveForPeople,
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        Just(Condition::Always),
        Just(Condition::ReadOnly),
        Just(Condition::Admin),
        (1u64..400).prop_map(Condition::LongerThan),
        Just(Condition::AnyPrivate),
        Just(Condition::ByOwner),
        Just(Condition::AllRepositories),
        (0i64..5).prop_map(Condition::ApprovalsToday),
        Just(Condition::WritesContents),
        (proptest::sample::select(&LOGINS[..]), any::<bool>())
            .prop_map(|(l, r)| Condition::Login(l, r)),
        (proptest::sample::select(&REPOSITORIES[..]), any::<bool>())
            .prop_map(|(n, p)| Condition::ListsRepository(n, p)),
        proptest::sample::select(&PERMISSIONS[..]).prop_map(Condition::AsksPermission),
    ]
}

fn rule() -> impl Strategy<Value = (Kind, Condition)> {
    (
        prop_oneof![
            Just(Kind::Deny),
            Just(Kind::Approve),
            Just(Kind::LeaveForPeople)
        ],
        condition(),
    )
}

fn level() -> impl Strategy<Value = AccessLevel> {
    prop_oneof![
        Just(AccessLevel::Read),
        Just(AccessLevel::Write),
        Just(AccessLevel::Admin)
    ]
}

fn facts() -> impl Strategy<Value = Facts> {
    (
        proptest::collection::btree_map(
            prop_oneof![
                "[a-z]{1,8}",
                proptest::sample::select(&PERMISSIONS[..]).prop_map(str::to_owned)
            ],
            level(),
            0..4,
        ),
        proptest::option::of(level()),
        prop_oneof![Just("all"), Just("subset"), Just("none")],
        proptest::collection::vec(
            (
                proptest::sample::select(&REPOSITORIES[..]).prop_map(str::to_owned),
                any::<bool>(),
            ),
            0..4,
        ),
        proptest::option::of(0u64..500),
        any::<bool>(),
        0i64..6,
        proptest::sample::select(&LOGINS[..]),
    )
        .prop_map(
            |(repository, contents, selection, repos, lifetime, owner, approvals, login)| {
                let mut permissions = RequestedPermissions {
                    repository,
                    ..RequestedPermissions::default()
                };
                if let Some(level) = contents {
                    permissions.repository.insert("contents".to_owned(), level);
                }
                Facts {
                    id: 1,
                    owner: Owner {
                        login: login.to_owned(),
                        role: if owner { "owner" } else { "member" }.to_owned(),
                        site_admin: false,
                        automatic_approvals_last_day: approvals,
                        automatic_approvals_last_week: approvals,
                    },
                    token_name: "t".to_owned(),
                    repository_selection: selection.to_owned(),
                    repositories: repos
                        .into_iter()
                        .map(|(name, private)| Repository { name, private })
                        .collect(),
                    permissions,
                    expires_at: None,
                    lifetime_days: lifetime,
                    created_at: None,
                    resubmission: false,
                }
            },
        )
}

fn source(rules: &[(Kind, Condition)]) -> String {
    rules
        .iter()
        .enumerate()
        .map(|(i, (kind, condition))| {
            let (effect, action) = match kind {
                Kind::Deny => ("permit", "deny"),
                Kind::Approve => ("permit", "approve"),
                Kind::LeaveForPeople => ("forbid", "approve"),
            };
            format!(
                "@id(\"r{i}\") @reason(\"rule {i}\")\n{effect} (principal, action == Action::\"{action}\", resource) when {{ {} }};\n",
                condition.cedar()
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn only_the_rules_a_request_can_match_are_evaluated_and_the_decision_is_cedars(
        rules in proptest::collection::vec(rule(), 0..12),
        facts in facts(),
    ) {
        let set = RuleSet::compile(&source(&rules)).expect("generated rules are valid");
        let situation = Situation {
            org_login: "octo-org".to_owned(),
            now: Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).single().expect("time"),
            policy: PolicyStack::default(),
        };
        let every = set.decide_every_rule(&facts, &situation);
        prop_assert_eq!(set.decide(&facts, &situation), every.clone());
        prop_assert_eq!(&every.matched, &rules
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| c.holds(&facts))
            .map(|(i, _)| format!("r{i}"))
            .collect::<std::collections::BTreeSet<_>>());
    }

    #[test]
    fn rules_never_approve_past_a_deny_or_the_policy(
        rules in proptest::collection::vec(rule(), 0..8),
        facts in facts(),
        max_days in proptest::option::of(1u32..=366),
        exempt in any::<bool>(),
    ) {
        let set = RuleSet::compile(&source(&rules)).expect("generated rules are valid");
        let situation = Situation {
            org_login: "octo-org".to_owned(),
            now: Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).single().expect("time"),
            policy: PolicyStack {
                enterprise: None,
                organization: PolicySettings {
                    fine_grained_max_days: max_days,
                    exempt_administrators: Some(exempt),
                    ..PolicySettings::default()
                },
            },
        };
        let decision = set.decide(&facts, &situation);
        prop_assert!(decision.error.is_none(), "{decision:?}");

        let deny_matches = rules
            .iter()
            .any(|(kind, condition)| *kind == Kind::Deny && condition.holds(&facts));
        if deny_matches {
            prop_assert_eq!(decision.outcome, Outcome::Denied);
        }
        if decision.outcome == Outcome::Approved {
            prop_assert!(hard_limits(&facts, &situation).is_empty());
            let max = u64::from(max_days.unwrap_or(366));
            let exempted = exempt && facts.owner.role == "owner";
            prop_assert!(exempted || facts.lifetime_days.is_some_and(|d| d <= max));
            // Some approve rule matched and no leave-for-people rule did.
            prop_assert!(rules.iter().any(|(k, c)| *k == Kind::Approve && c.holds(&facts)));
            prop_assert!(!rules.iter().any(|(k, c)| *k == Kind::LeaveForPeople && c.holds(&facts)));
        }
    }
}
