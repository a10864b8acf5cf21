//! A rule set's source, parsed and strictly validated against [`crate::schema`]: every rule
//! has a unique `@id` and a `@reason`, and every problem is reported with its line and column.

use std::collections::BTreeSet;
use std::str::FromStr;

use cedar_policy::{Effect, Policy, PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;
use serde::Serialize;

use crate::index::Index;
use crate::schema::schema;

/// Most rules a rule set may hold.
pub const MAX_RULES: usize = 1_000;
/// Longest a rule's `@reason` may be, in characters (the text a denied owner is sent).
pub const MAX_REASON_CHARS: usize = 1_024;

/// The annotations a rule may carry.
const ANNOTATIONS: [&str; 2] = ["id", "reason"];

/// One rule of a set: its id, its reason, and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: String,
    pub reason: String,
    /// `permit` or `forbid`.
    pub effect: &'static str,
    /// Where the rule starts in the source (1-based).
    pub line: u32,
}

/// Why a source is not a valid rule set, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub message: String,
    /// 1-based; absent when the problem is not at one place.
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The rule it concerns, when it has an id.
    pub rule: Option<String>,
}

/// A valid rule set, ready to evaluate.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The rules by action and by what they need of a request ([`Index`]).
    pub(crate) index: Index,
    pub(crate) rules: Vec<Rule>,
}

/// 1-based line and column of a byte offset.
fn position(source: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// A problem from a Cedar diagnostic, placed at its first label.
fn diagnosed(source: &str, d: &dyn Diagnostic, message: String, rule: Option<String>) -> Problem {
    let offset = d
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset());
    let (line, column) = match offset {
        Some(o) => {
            let (l, c) = position(source, o);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    Problem {
        message,
        line,
        column,
        rule,
    }
}

fn at(source: &str, offset: usize, message: String, rule: Option<String>) -> Problem {
    let (line, column) = position(source, offset);
    // The message names the rule it concerns.
    let message = match &rule {
        Some(r) if !message.contains(&format!("{r:?}")) => format!("rule {r:?}: {message}"),
        _ => message,
    };
    Problem {
        message,
        line: Some(line),
        column: Some(column),
        rule,
    }
}

fn valid_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    (1..=64).contains(&id.len())
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl RuleSet {
    /// Parses and validates `source`; every problem found, in source order.
    pub fn compile(source: &str) -> Result<Self, Vec<Problem>> {
        let parsed = match PolicySet::from_str(source) {
            Ok(set) => set,
            Err(errors) => {
                return Err(errors
                    .iter()
                    .map(|e| diagnosed(source, e, e.to_string(), None))
                    .collect())
            }
        };
        let mut problems = Vec::new();
        if parsed.templates().next().is_some() {
            problems.push(Problem {
                message: "templates (policies with ?principal or ?resource) are not rules"
                    .to_owned(),
                line: None,
                column: None,
                rule: None,
            });
        }
        // `PolicySet::from_str` names its policies policy0, policy1… in source order and
        // ignores `@id`: each rule is renamed from its annotation.
        let mut ordered: Vec<&Policy> = parsed.policies().collect();
        ordered.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        if ordered.len() > MAX_RULES {
            problems.push(Problem {
                message: format!("a rule set holds at most {MAX_RULES} rules"),
                line: None,
                column: None,
                rule: None,
            });
        }
        let mut seen = BTreeSet::new();
        let mut rules = Vec::with_capacity(ordered.len());
        let mut renamed = Vec::with_capacity(ordered.len());
        let mut cursor = 0;
        for policy in ordered {
            // Where the rule starts: its text, found after the previous rule's.
            let text = policy.to_string();
            let start = policy_start(source, cursor, &text);
            cursor = start + 1;
            let id = policy.annotation("id").map(str::to_owned);
            let name = id.clone();
            for (key, _) in policy.annotations() {
                if !ANNOTATIONS.contains(&key) {
                    problems.push(at(
                        source,
                        start,
                        format!("unknown annotation @{key}: a rule has @id and @reason only"),
                        name.clone(),
                    ));
                }
            }
            let Some(id) = id else {
                problems.push(at(
                    source,
                    start,
                    "every rule needs an @id(\"…\")".to_owned(),
                    None,
                ));
                continue;
            };
            if !valid_id(&id) {
                problems.push(at(
                    source,
                    start,
                    format!(
                        "@id {id:?} must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"
                    ),
                    Some(id.clone()),
                ));
            }
            if !seen.insert(id.clone()) {
                problems.push(at(
                    source,
                    start,
                    format!("@id {id:?} is used by an earlier rule"),
                    Some(id.clone()),
                ));
            }
            let reason = policy.annotation("reason").unwrap_or_default().trim();
            if reason.is_empty() {
                problems.push(at(
                    source,
                    start,
                    format!(
                        "rule {id:?} needs a @reason(\"…\"): the text that explains its decision"
                    ),
                    Some(id.clone()),
                ));
            } else if reason.chars().count() > MAX_REASON_CHARS {
                problems.push(at(
                    source,
                    start,
                    format!(
                        "the @reason of rule {id:?} is longer than {MAX_REASON_CHARS} characters"
                    ),
                    Some(id.clone()),
                ));
            }
            let (line, _) = position(source, start);
            rules.push(Rule {
                id: id.clone(),
                reason: reason.to_owned(),
                effect: match policy.effect() {
                    Effect::Permit => "permit",
                    Effect::Forbid => "forbid",
                },
                line,
            });
            renamed.push(policy.new_id(PolicyId::new(&id)));
        }
        if !problems.is_empty() {
            return Err(problems);
        }

        let mut policies = PolicySet::new();
        for policy in &renamed {
            policies.add(policy.clone()).map_err(|e| vec![plain(e)])?;
        }
        let result = Validator::new(schema().clone()).validate(&policies, ValidationMode::Strict);
        let mut problems: Vec<Problem> = result
            .validation_errors()
            .map(|e| {
                let rule = e.policy_id().to_string();
                diagnosed(source, e, format!("rule {rule:?}: {e}"), Some(rule))
            })
            .collect();
        problems.sort_by_key(|p| (p.line, p.column));
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            index: Index::new(&renamed),
            rules,
        })
    }

    /// The rules, in source order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The empty rule set: decides nothing.
    pub fn empty() -> Self {
        Self {
            index: Index::new(&[]),
            rules: Vec::new(),
        }
    }

    /// Whether any rule reads `context.owner_automatic_approvals`: when none does, the facts
    /// need not count them.
    pub fn reads_approvals(&self) -> bool {
        self.index.reads().attribute("owner_automatic_approvals")
    }
}

fn plain(e: impl std::fmt::Display) -> Problem {
    Problem {
        message: e.to_string(),
        line: None,
        column: None,
        rule: None,
    }
}

/// The byte offset where the policy whose text is `text` starts, at or after `from`.
fn policy_start(source: &str, from: usize, text: &str) -> usize {
    source
        .get(from..)
        .and_then(|rest| rest.find(text.trim()))
        .map_or(from, |i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
@id("deny-admin")
@reason("Admin access is reviewed by people.")
permit (principal, action == Action::"deny", resource)
when { resource.highest_level == "admin" };

@id("approve-read")
@reason("Read-only access is approved.")
permit (principal, action == Action::"approve", resource)
when { resource.read_only };
"#;

    #[test]
    fn a_valid_set_keeps_each_rule_with_its_id_reason_and_line() {
        let set = RuleSet::compile(GOOD).expect("valid");
        let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["deny-admin", "approve-read"]);
        assert_eq!(set.rules()[0].line, 2);
        assert_eq!(set.rules()[1].line, 7);
        assert_eq!(set.rules()[1].reason, "Read-only access is approved.");
        assert!(set.index.contains("deny-admin"));
    }

    #[test]
    fn a_syntax_error_is_placed_at_its_line_and_column() {
        let source = "@id(\"a\")\n@reason(\"r\")\npermit (principal, action, resource)\nwhen { resource.read_only &&& true };";
        let problems = RuleSet::compile(source).expect_err("invalid");
        assert_eq!(problems[0].line, Some(4), "{problems:?}");
        assert!(problems[0].column.is_some());
    }

    #[test]
    fn a_misspelled_attribute_is_refused_by_strict_validation_at_its_place() {
        let source = "@id(\"a\")\n@reason(\"r\")\npermit (principal, action == Action::\"approve\", resource)\nwhen { resource.read_olny };";
        let problems = RuleSet::compile(source).expect_err("invalid");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].rule.as_deref(), Some("a"));
        assert_eq!(problems[0].line, Some(4), "{problems:?}");
        assert_eq!(problems[0].column, Some(8), "{problems:?}");
    }

    #[test]
    fn unsafe_tag_access_is_refused() {
        let source = "@id(\"a\")\n@reason(\"r\")\npermit (principal, action == Action::\"approve\", resource)\nwhen { resource.getTag(\"contents\") == \"read\" };";
        let problems = RuleSet::compile(source).expect_err("invalid");
        assert_eq!(problems[0].line, Some(4), "{problems:?}");
    }

    #[test]
    fn ids_and_reasons_are_required_unique_and_alone() {
        let source = r#"
permit (principal, action == Action::"approve", resource);
@id("x") permit (principal, action == Action::"approve", resource);
@id("y") @reason("r") @owner("me") permit (principal, action == Action::"approve", resource);
@id("y") @reason("r") permit (principal, action == Action::"deny", resource);
@id("bad id") @reason("r") permit (principal, action == Action::"deny", resource);
"#;
        let problems = RuleSet::compile(source).expect_err("invalid");
        let lines: Vec<Option<u32>> = problems.iter().map(|p| p.line).collect();
        assert_eq!(
            lines,
            [Some(2), Some(3), Some(4), Some(5), Some(6)],
            "{problems:?}"
        );
        assert!(problems[0].message.contains("@id"));
        assert!(problems[1].message.contains("@reason"));
        assert!(problems[2].message.contains("@owner"));
        assert!(problems[3].message.contains("earlier rule"));
        assert!(problems[4].message.contains("letters"));
    }

    #[test]
    fn an_unknown_action_is_refused() {
        let source = "@id(\"a\") @reason(\"r\") permit (principal, action == Action::\"approve_all\", resource);";
        assert!(RuleSet::compile(source).is_err());
    }

    #[test]
    fn an_empty_source_is_an_empty_set() {
        assert!(RuleSet::compile("").expect("valid").rules().is_empty());
        assert!(RuleSet::compile("// nothing yet\n")
            .expect("valid")
            .rules()
            .is_empty());
    }
}
