//! Test cases carried by a rule set: a request and the outcome (and deciding rules) expected.
//! They run on every save and dry-run; a failing case refuses the save.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::compile::RuleSet;
use crate::decide::{Decision, Outcome};
use crate::facts::{Facts, Situation};

/// Most cases a rule set may carry.
pub const MAX_CASES: usize = 500;

/// A named request and what the rules should make of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub request: Facts,
    pub expect: Expectation,
}

/// The outcome a case expects, and optionally the rules that decide it (in any order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
}

/// How a case went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    pub expected: Expectation,
    pub decision: Decision,
}

/// Why a list of cases cannot be carried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CasesError {
    #[error("a rule set carries at most {MAX_CASES} cases")]
    TooMany,
    #[error("case {index}: a name is 1 to 200 characters")]
    Name { index: usize },
    #[error("case {name:?} is named twice")]
    Duplicate { name: String },
    #[error("case {name:?}: {message}")]
    Request { name: String, message: String },
    #[error("case {name:?} expects rule {rule:?}, which the rule set does not have")]
    UnknownRule { name: String, rule: String },
}

/// Checks the cases against the rule set: names, requests, and the rules they name.
pub fn check(set: &RuleSet, cases: &[Case]) -> Result<(), CasesError> {
    if cases.len() > MAX_CASES {
        return Err(CasesError::TooMany);
    }
    let mut names = BTreeSet::new();
    for (index, case) in cases.iter().enumerate() {
        if !(1..=200).contains(&case.name.chars().count()) {
            return Err(CasesError::Name { index });
        }
        if !names.insert(case.name.as_str()) {
            return Err(CasesError::Duplicate {
                name: case.name.clone(),
            });
        }
        case.request.check().map_err(|e| CasesError::Request {
            name: case.name.clone(),
            message: e.to_string(),
        })?;
        for rule in case.expect.rules.iter().flatten() {
            if set.rule(rule).is_none() {
                return Err(CasesError::UnknownRule {
                    name: case.name.clone(),
                    rule: rule.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Runs every case.
pub fn run(set: &RuleSet, cases: &[Case], situation: &Situation) -> Vec<CaseResult> {
    cases
        .iter()
        .map(|case| {
            let decision = set.decide(&case.request, situation);
            let rules_match = case.expect.rules.as_ref().is_none_or(|expected| {
                let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
                let actual: BTreeSet<&str> = decision.rules.iter().map(String::as_str).collect();
                expected == actual
            });
            CaseResult {
                name: case.name.clone(),
                passed: decision.outcome == case.expect.outcome && rules_match,
                expected: case.expect.clone(),
                decision,
            }
        })
        .collect()
}

/// The rules that matched none of `decisions`, in source order.
pub fn unmatched<'a>(
    set: &RuleSet,
    decisions: impl IntoIterator<Item = &'a Decision>,
) -> Vec<String> {
    let mut matched = BTreeSet::new();
    for d in decisions {
        matched.extend(d.matched.iter().map(String::as_str));
    }
    set.rules()
        .iter()
        .filter(|r| !matched.contains(r.id.as_str()))
        .map(|r| r.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::tests::{facts, situation};
    use patgate_domain::AccessLevel;

    const RULES: &str = r#"
@id("approve-read") @reason("Read-only access is approved.")
permit (principal, action == Action::"approve", resource) when { resource.read_only };
@id("deny-admin") @reason("No admin.")
permit (principal, action == Action::"deny", resource) when { resource.highest_level == "admin" };
@id("never") @reason("Unused.")
permit (principal, action == Action::"deny", resource) when { resource.token_name == "never" };
"#;

    fn case(name: &str, level: AccessLevel, outcome: Outcome, rules: Option<&[&str]>) -> Case {
        Case {
            name: name.to_owned(),
            request: facts(level, 30),
            expect: Expectation {
                outcome,
                rules: rules.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
            },
        }
    }

    #[test]
    fn cases_pass_and_fail_on_outcome_and_rules() {
        let set = RuleSet::compile(RULES).expect("valid");
        let cases = [
            case(
                "read",
                AccessLevel::Read,
                Outcome::Approved,
                Some(&["approve-read"]),
            ),
            case("admin", AccessLevel::Admin, Outcome::Denied, None),
            case("wrong outcome", AccessLevel::Write, Outcome::Approved, None),
            case(
                "wrong rule",
                AccessLevel::Admin,
                Outcome::Denied,
                Some(&["never"]),
            ),
        ];
        check(&set, &cases).expect("well formed");
        let passed: Vec<bool> = run(&set, &cases, &situation())
            .iter()
            .map(|r| r.passed)
            .collect();
        assert_eq!(passed, [true, true, false, false]);
    }

    #[test]
    fn rules_no_case_matched_are_named() {
        let set = RuleSet::compile(RULES).expect("valid");
        let cases = [case("read", AccessLevel::Read, Outcome::Approved, None)];
        let results = run(&set, &cases, &situation());
        assert_eq!(
            unmatched(&set, results.iter().map(|r| &r.decision)),
            ["deny-admin", "never"]
        );
    }

    #[test]
    fn malformed_cases_are_refused() {
        let set = RuleSet::compile(RULES).expect("valid");
        let twice = [
            case("a", AccessLevel::Read, Outcome::Approved, None),
            case("a", AccessLevel::Read, Outcome::Approved, None),
        ];
        assert!(matches!(
            check(&set, &twice),
            Err(CasesError::Duplicate { .. })
        ));
        let unknown = [case(
            "a",
            AccessLevel::Read,
            Outcome::Approved,
            Some(&["nope"]),
        )];
        assert!(matches!(
            check(&set, &unknown),
            Err(CasesError::UnknownRule { .. })
        ));
        let mut bad = case("a", AccessLevel::Read, Outcome::Approved, None);
        bad.request.repository_selection = "some".to_owned();
        assert!(matches!(
            check(&set, &[bad]),
            Err(CasesError::Request { .. })
        ));
    }
}
