//! Which rules can match a request, found before Cedar is asked. Cedar evaluates every policy
//! of a set for every request; most rules of a large set name one owner, one repository or
//! one permission before anything else, and cannot match a request that lacks it. Such a rule
//! is indexed by that name, and only the rules a request can match are evaluated.
//!
//! A rule is indexed by its guard, the leftmost condition of its first `when` clause, when
//! that condition is one of:
//! - `principal.login == "…"` or `principal.role == "…"` (either way round),
//! - `resource.repository_names.contains("…")`,
//! - `resource.hasTag("…")`.
//!
//! Cedar evaluates a rule's scope, then its clauses in order, and `&&` from left to right,
//! stopping at the first `false`; none of these conditions can fail. So a rule whose guard is
//! false evaluates to `false` without error, and leaving it out changes neither the decision
//! nor the rules reported. Every other rule is always evaluated. Each rule is also filed under
//! the actions its scope admits, so that a question about `deny` never evaluates the rules
//! about `approve`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::kept::Kept;

use cedar_policy::{Effect, Policy, PolicySet};
use serde_json::Value;

use crate::facts::Facts;

/// What the rules of a set read of a request: the attribute names they use (on any entity or
/// record, with `.` or `has`), whether they read permission tags, and whether they can reach a
/// repository entity. Only these values are built for an evaluation; a set whose rules cannot
/// be read in full reads everything.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reads {
    /// Every attribute (the rules could not be read).
    all: bool,
    attributes: BTreeSet<String>,
    tags: bool,
    repositories: bool,
}

impl Reads {
    fn everything() -> Self {
        Self {
            all: true,
            attributes: BTreeSet::new(),
            tags: true,
            repositories: true,
        }
    }

    pub(crate) fn attribute(&self, name: &str) -> bool {
        self.all || self.attributes.contains(name)
    }

    pub(crate) fn tags(&self) -> bool {
        self.tags
    }

    /// Whether repository entities are needed: a rule reads a repository's attributes (`name`,
    /// `private`), the request's `repositories`, or names a `Repository` itself.
    pub(crate) fn repositories(&self) -> bool {
        self.repositories
    }

    /// Adds what one rule, in its JSON form, reads.
    fn add(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match key.as_str() {
                        // Annotations are text for people, not conditions.
                        "annotations" => continue,
                        "." | "has" => {
                            if let Some(attr) = inner.get("attr").and_then(Value::as_str) {
                                self.attributes.insert(attr.to_owned());
                            }
                        }
                        "hasTag" | "getTag" => self.tags = true,
                        "type" if inner.as_str() == Some("Repository") => {
                            self.repositories = true;
                        }
                        _ => {}
                    }
                    self.add(inner);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.add(v)),
            Value::String(text) if text.contains("Repository") => self.repositories = true,
            _ => {}
        }
    }

    fn finish(&mut self) {
        if ["repositories", "name", "private"]
            .iter()
            .any(|a| self.attributes.contains(*a))
        {
            self.repositories = true;
        }
    }
}

/// The actions rules are asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Action {
    Deny,
    Approve,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Approve => "approve",
        }
    }
}

/// A name a rule needs the request to have before it can match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Guard {
    Login(String),
    Role(String),
    Repository(String),
    Permission(String),
}

/// One indexed rule.
#[derive(Debug, Clone)]
struct Entry {
    policy: Policy,
    permit: bool,
    deny: bool,
    approve: bool,
}

/// The rules of a set, by action and by guard.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    /// In source order.
    entries: Vec<Entry>,
    /// Rules without a guard, always evaluated.
    unguarded: Vec<usize>,
    /// Rules with a guard, by the name it needs: an owner's login, a repository, a permission.
    by_login: HashMap<String, Vec<usize>>,
    by_role: HashMap<String, Vec<usize>>,
    by_repository: HashMap<String, Vec<usize>>,
    by_permission: HashMap<String, Vec<usize>>,
    /// The sets asked, kept: requests alike ask for the same rules.
    kept: Arc<Kept<Chosen, Arc<PolicySet>>>,
    reads: Reads,
}

/// Rules chosen for a question: the action, whether permits only, and their positions.
type Chosen = (Action, bool, Vec<usize>);

/// How many chosen sets an index keeps at most.
const KEPT_AT_MOST: usize = 1_024;

impl Index {
    /// Indexes the rules, given in source order.
    pub(crate) fn new(policies: &[Policy]) -> Self {
        let mut index = Self {
            entries: Vec::with_capacity(policies.len()),
            unguarded: Vec::new(),
            by_login: HashMap::new(),
            by_role: HashMap::new(),
            by_repository: HashMap::new(),
            by_permission: HashMap::new(),
            kept: Arc::new(Kept::new(KEPT_AT_MOST)),
            reads: Reads::default(),
        };
        let mut reads = Some(Reads::default());
        for (at, policy) in policies.iter().enumerate() {
            let json = policy.to_json().ok();
            match (&json, &mut reads) {
                (Some(j), Some(r)) => r.add(j),
                _ => reads = None,
            }
            let (deny, approve) = json
                .as_ref()
                .map_or((true, true), |j| actions(j.get("action")));
            index.entries.push(Entry {
                policy: policy.clone(),
                permit: policy.effect() == Effect::Permit,
                deny,
                approve,
            });
            let (by, name) = match json.as_ref().and_then(guard) {
                Some(Guard::Login(name)) => (&mut index.by_login, name),
                Some(Guard::Role(name)) => (&mut index.by_role, name),
                Some(Guard::Repository(name)) => (&mut index.by_repository, name),
                Some(Guard::Permission(name)) => (&mut index.by_permission, name),
                None => {
                    index.unguarded.push(at);
                    continue;
                }
            };
            by.entry(name).or_default().push(at);
        }
        index.reads = match reads {
            Some(mut r) => {
                r.finish();
                r
            }
            None => Reads::everything(),
        };
        index
    }

    /// What the rules read of a request.
    pub(crate) fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The rules `facts` can match, by position in source order.
    pub(crate) fn candidates(&self, facts: &Facts, repositories_listed: bool) -> Vec<usize> {
        let mut found: BTreeSet<usize> = self.unguarded.iter().copied().collect();
        let mut add = |by: &HashMap<String, Vec<usize>>, name: &str| {
            if let Some(at) = by.get(name) {
                found.extend(at.iter().copied());
            }
        };
        add(&self.by_login, &facts.owner.login);
        add(&self.by_role, &facts.owner.role);
        if repositories_listed {
            for repo in &facts.repositories {
                add(&self.by_repository, &repo.name);
            }
        }
        for (name, _) in facts.permissions.entries() {
            add(&self.by_permission, name);
        }
        found.into_iter().collect()
    }

    /// The rules among `candidates` about `action`, all of them or their permits alone; `None`
    /// when there are none.
    pub(crate) fn about(
        &self,
        candidates: &[usize],
        action: Action,
        permits_only: bool,
    ) -> Option<Arc<PolicySet>> {
        let chosen = self.chosen(candidates, action, permits_only);
        if chosen.is_empty() {
            return None;
        }
        let key = (action, permits_only, chosen);
        Some(self.kept.get_or(&key, || Arc::new(self.set(&key.2))))
    }

    /// The positions among `candidates` of the rules about `action` (their permits alone).
    fn chosen(&self, candidates: &[usize], action: Action, permits_only: bool) -> Vec<usize> {
        candidates
            .iter()
            .copied()
            .filter(|at| {
                let e = &self.entries[*at];
                let asked = match action {
                    Action::Deny => e.deny,
                    Action::Approve => e.approve,
                };
                asked && (e.permit || !permits_only)
            })
            .collect()
    }

    fn set(&self, at: &[usize]) -> PolicySet {
        let mut set = PolicySet::new();
        for &i in at {
            // Ids are unique in a compiled set, so adding cannot fail.
            let _ = set.add(self.entries[i].policy.clone());
        }
        set
    }

    /// Whether a rule of that id is indexed.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.entries.iter().any(|e| e.policy.id().to_string() == id)
    }
}

/// Which actions a rule's scope admits, from its JSON form: `(deny, approve)`. Anything not
/// understood admits both (Cedar's own scope check then decides).
fn actions(scope: Option<&Value>) -> (bool, bool) {
    let Some(scope) = scope else {
        return (true, true);
    };
    let named = |e: &Value| -> Option<String> {
        (e.get("type")?.as_str()? == "Action").then(|| e.get("id")?.as_str().map(str::to_owned))?
    };
    let names: Option<Vec<String>> = match scope.get("op").and_then(Value::as_str) {
        Some("==") | Some("in") if scope.get("entity").is_some() => {
            scope.get("entity").and_then(named).map(|n| vec![n])
        }
        Some("in") => scope
            .get("entities")
            .and_then(Value::as_array)
            .and_then(|list| list.iter().map(named).collect()),
        _ => None,
    };
    match names {
        Some(names) => (
            names.iter().any(|n| n == Action::Deny.as_str()),
            names.iter().any(|n| n == Action::Approve.as_str()),
        ),
        None => (true, true),
    }
}

/// A rule's guard, from its JSON form: the leftmost condition of its first clause, when that
/// clause is a `when` and the condition is one of the indexed shapes.
fn guard(policy: &Value) -> Option<Guard> {
    let first = policy.get("conditions")?.as_array()?.first()?;
    if first.get("kind")?.as_str()? != "when" {
        return None;
    }
    let mut expr = first.get("body")?;
    while let Some(and) = expr.get("&&") {
        expr = and.get("left")?;
    }
    if let Some(eq) = expr.get("==") {
        let (left, right) = (eq.get("left")?, eq.get("right")?);
        let named = |attr: &Value, lit: &Value| -> Option<Guard> {
            match attribute(attr, "principal")? {
                "login" => Some(Guard::Login(string(lit)?)),
                "role" => Some(Guard::Role(string(lit)?)),
                _ => None,
            }
        };
        return named(left, right).or_else(|| named(right, left));
    }
    if let Some(contains) = expr.get("contains") {
        let on = contains.get("left")?;
        (attribute(on, "resource")? == "repository_names").then_some(())?;
        return Some(Guard::Repository(string(contains.get("right")?)?));
    }
    if let Some(has) = expr.get("hasTag") {
        (has.get("left")?.get("Var")?.as_str()? == "resource").then_some(())?;
        return Some(Guard::Permission(string(has.get("right")?)?));
    }
    None
}

/// `var.attr` → `attr`, when the expression is an attribute of the variable `var`.
fn attribute<'a>(expr: &'a Value, var: &str) -> Option<&'a str> {
    let dot = expr.get(".")?;
    (dot.get("left")?.get("Var")?.as_str()? == var).then_some(())?;
    dot.get("attr")?.as_str()
}

/// A string literal's value.
fn string(expr: &Value) -> Option<String> {
    expr.get("Value")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn policy(text: &str) -> Policy {
        Policy::from_str(text).expect("policy")
    }

    #[test]
    fn the_indexed_shapes_are_recognized() {
        let cases = [
            (
                r#"permit (principal, action == Action::"approve", resource) when { principal.login == "octocat" && resource.read_only };"#,
                Some(Guard::Login("octocat".into())),
            ),
            (
                r#"permit (principal, action, resource) when { "octocat" == principal.login };"#,
                Some(Guard::Login("octocat".into())),
            ),
            (
                r#"permit (principal, action == Action::"deny", resource) when { resource.repository_names.contains("secret") && resource.read_only && true };"#,
                Some(Guard::Repository("secret".into())),
            ),
            (
                r#"forbid (principal, action == Action::"approve", resource) when { resource.hasTag("administration") };"#,
                Some(Guard::Permission("administration".into())),
            ),
            // Not the leftmost condition, not a `when`, or another shape: not indexed.
            (
                r#"permit (principal, action, resource) when { resource.read_only && principal.login == "octocat" };"#,
                None,
            ),
            (
                r#"permit (principal, action, resource) unless { principal.login == "octocat" };"#,
                None,
            ),
            (
                r#"permit (principal, action, resource) when { principal.login == "a" || principal.login == "b" };"#,
                None,
            ),
            (
                r#"forbid (principal, action, resource) when { principal.role == "owner" && resource.any_private_repository };"#,
                Some(Guard::Role("owner".into())),
            ),
            (
                r#"permit (principal, action, resource) when { principal.site_admin == true };"#,
                None,
            ),
            (r#"permit (principal, action, resource);"#, None),
        ];
        for (text, expected) in cases {
            let json = policy(text).to_json().expect("json");
            assert_eq!(guard(&json), expected, "{text}");
        }
    }

    #[test]
    fn only_what_rules_read_is_built() {
        let set = [
            policy(
                r#"@id("a") @reason("Repository names and Repository entities are text here.")
permit (principal, action == Action::"deny", resource)
when { resource has lifetime_days && resource.lifetime_days > 90 && principal.role == "owner" };"#,
            ),
            policy(
                r#"forbid (principal, action == Action::"approve", resource) when { context.policy.approval_required };"#,
            ),
        ];
        let index = Index::new(&set);
        let reads = index.reads();
        for name in ["lifetime_days", "role", "policy", "approval_required"] {
            assert!(reads.attribute(name), "{name}");
        }
        for name in [
            "login",
            "expires_at",
            "now",
            "repository_names",
            "created_at",
        ] {
            assert!(!reads.attribute(name), "{name}");
        }
        assert!(!reads.tags() && !reads.repositories(), "{reads:?}");

        let tags = Index::new(&[policy(
            r#"permit (principal, action, resource) when { resource.hasTag("contents") };"#,
        )]);
        assert!(tags.reads().tags() && !tags.reads().repositories());
        for text in [
            r#"permit (principal, action, resource) when { resource.repositories.contains(Repository::"docs") };"#,
            r#"permit (principal, action, resource) when { Repository::"docs".private };"#,
            r#"permit (principal, action, resource) when { Repository::"docs" in Organization::"o" };"#,
        ] {
            let index = Index::new(&[policy(text)]);
            assert!(index.reads().repositories(), "{text}");
        }
    }

    #[test]
    fn rules_are_filed_under_the_actions_their_scope_admits() {
        let cases = [
            (
                r#"permit (principal, action == Action::"deny", resource);"#,
                (true, false),
            ),
            (
                r#"permit (principal, action == Action::"approve", resource);"#,
                (false, true),
            ),
            (
                r#"permit (principal, action in [Action::"approve"], resource);"#,
                (false, true),
            ),
            (
                r#"permit (principal, action in [Action::"deny", Action::"approve"], resource);"#,
                (true, true),
            ),
            (r#"permit (principal, action, resource);"#, (true, true)),
        ];
        for (text, expected) in cases {
            let json = policy(text).to_json().expect("json");
            assert_eq!(actions(json.get("action")), expected, "{text}");
        }
    }
}
