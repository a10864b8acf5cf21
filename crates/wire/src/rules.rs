//! Wire shapes of an organization's review rules: versions, the body of a save and of a
//! dry-run, test cases and their results, decisions with their explanation, and the schema.

use patgate_rules::{Case, CaseResult, Decision, Mode, Rule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::lifecycle::AuditActor;
use crate::{Fault, TokenPermissions};

/// `off` (rules are not evaluated), `shadow` (decisions are recorded, nothing is acted on) or
/// `enforce` (decisions are reviews).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RulesMode {
    Off,
    Shadow,
    Enforce,
}

impl From<RulesMode> for Mode {
    fn from(m: RulesMode) -> Self {
        match m {
            RulesMode::Off => Mode::Off,
            RulesMode::Shadow => Mode::Shadow,
            RulesMode::Enforce => Mode::Enforce,
        }
    }
}

/// `approved`, `denied` or `pending` (left for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleOutcome {
    Approved,
    Denied,
    Pending,
}

/// The token's owner in a test case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCaseOwner {
    #[schema(example = "octocat")]
    pub login: String,
    /// `owner` or `member` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_admin: Option<bool>,
    /// The owner's automatic approvals in the last 24 hours (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_approvals_last_day: Option<i64>,
    /// … and in the last 7 days (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_approvals_last_week: Option<i64>,
}

/// A repository listed by a test case's request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCaseRepository {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
}

/// The request of a test case: what rules see of a request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCaseRequest {
    pub owner: RuleCaseOwner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
    /// `all`, `subset` or `none`.
    #[schema(example = "subset")]
    pub repository_selection: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<RuleCaseRepository>,
    #[serde(default)]
    pub permissions: TokenPermissions,
    /// The token's lifetime in days; omitted: it never expires (unless `expires_at` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_days: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resubmission: Option<bool>,
}

/// What a test case expects.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleExpectation {
    pub outcome: RuleOutcome,
    /// The rules expected to decide, in any order; omitted: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<String>>,
}

/// A named test case carried by a rule set: it runs on every save and dry-run, and a failing
/// case refuses the save.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCase {
    #[schema(example = "members read public docs")]
    pub name: String,
    pub request: RuleCaseRequest,
    pub expect: RuleExpectation,
}

impl TryFrom<&RuleCase> for Case {
    type Error = String;

    /// The shapes are the same but for defaults: the case as the rules crate reads it.
    fn try_from(dto: &RuleCase) -> Result<Self, String> {
        let value = serde_json::to_value(dto).map_err(|e| e.to_string())?;
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
}

impl From<&Case> for RuleCase {
    fn from(case: &Case) -> Self {
        let f = &case.request;
        Self {
            name: case.name.clone(),
            request: RuleCaseRequest {
                owner: RuleCaseOwner {
                    login: f.owner.login.clone(),
                    role: (f.owner.role != "member").then(|| f.owner.role.clone()),
                    site_admin: f.owner.site_admin.then_some(true),
                    automatic_approvals_last_day: (f.owner.automatic_approvals_last_day != 0)
                        .then_some(f.owner.automatic_approvals_last_day),
                    automatic_approvals_last_week: (f.owner.automatic_approvals_last_week != 0)
                        .then_some(f.owner.automatic_approvals_last_week),
                },
                token_name: Some(f.token_name.clone()),
                repository_selection: f.repository_selection.clone(),
                repositories: f
                    .repositories
                    .iter()
                    .map(|r| RuleCaseRepository {
                        name: r.name.clone(),
                        private: r.private.then_some(true),
                    })
                    .collect(),
                permissions: TokenPermissions::from(&f.permissions),
                lifetime_days: f.lifetime_days,
                expires_at: f.expires_at.map(|t| crate::timestamp(t.naive_utc())),
                resubmission: f.resubmission.then_some(true),
            },
            expect: RuleExpectation {
                outcome: outcome(case.expect.outcome),
                rules: case.expect.rules.clone(),
            },
        }
    }
}

fn outcome(o: patgate_rules::Outcome) -> RuleOutcome {
    match o {
        patgate_rules::Outcome::Approved => RuleOutcome::Approved,
        patgate_rules::Outcome::Denied => RuleOutcome::Denied,
        patgate_rules::Outcome::Pending => RuleOutcome::Pending,
    }
}

/// The body of a save: the mode, the Cedar source and the test cases.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRulesBody {
    pub mode: RulesMode,
    /// The rules, in Cedar; see `…/review-rules/schema`.
    pub source: String,
    #[serde(default)]
    pub cases: Vec<RuleCase>,
}

/// A rule set to try: the Cedar source and its test cases.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunBody {
    pub source: String,
    #[serde(default)]
    pub cases: Vec<RuleCase>,
}

/// A checked candidate: its source, and its cases as the rules crate reads them.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub mode: Mode,
    pub source: String,
    pub cases: Vec<Case>,
}

fn candidate(mode: Mode, source: String, cases: &[RuleCase]) -> Result<Candidate, Fault> {
    let cases = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Case::try_from(c).map_err(|e| Fault::invalid("cases", format!("cases[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Candidate {
        mode,
        source,
        cases,
    })
}

impl TryFrom<ReviewRulesBody> for Candidate {
    type Error = Fault;

    fn try_from(body: ReviewRulesBody) -> Result<Self, Fault> {
        candidate(body.mode.into(), body.source, &body.cases)
    }
}

impl TryFrom<DryRunBody> for Candidate {
    type Error = Fault;

    fn try_from(body: DryRunBody) -> Result<Self, Fault> {
        candidate(Mode::Enforce, body.source, &body.cases)
    }
}

/// One rule of a set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleDto {
    pub id: String,
    pub reason: String,
    /// `permit` or `forbid`.
    pub effect: String,
    /// Where it starts in the source.
    pub line: u32,
}

impl From<&Rule> for RuleDto {
    fn from(r: &Rule) -> Self {
        Self {
            id: r.id.clone(),
            reason: r.reason.clone(),
            effect: r.effect.to_owned(),
            line: r.line,
        }
    }
}

/// What rules decided, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleDecisionDto {
    pub outcome: RuleOutcome,
    /// The deciding rules: the deny rules that matched, the approve rules that matched, or the
    /// rules that left the request for people.
    pub rules: Vec<String>,
    /// Their reasons, in the same order (a denial's are sent to the token's owner).
    pub reasons: Vec<String>,
    /// The hard limits of the organization's policy that kept an approval from happening.
    pub limits: Vec<String>,
    /// The evaluation error that left the request pending (rules fail closed).
    pub error: Option<String>,
}

impl From<&Decision> for RuleDecisionDto {
    fn from(d: &Decision) -> Self {
        Self::from(d.clone())
    }
}

impl From<Decision> for RuleDecisionDto {
    fn from(d: Decision) -> Self {
        Self {
            outcome: outcome(d.outcome),
            rules: d.rules,
            reasons: d.reasons,
            limits: d.limits,
            error: d.error,
        }
    }
}

/// How a test case went.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseResultDto {
    pub name: String,
    pub passed: bool,
    pub expected: RuleExpectation,
    pub decision: RuleDecisionDto,
}

impl From<&CaseResult> for CaseResultDto {
    fn from(r: &CaseResult) -> Self {
        Self {
            name: r.name.clone(),
            passed: r.passed,
            expected: RuleExpectation {
                outcome: outcome(r.expected.outcome),
                rules: r.expected.rules.clone(),
            },
            decision: RuleDecisionDto::from(&r.decision),
        }
    }
}

/// What the pending requests are being checked against after a save in enforce mode.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleRunDto {
    pub version: i64,
    /// The last request checked: requests are checked in the order they were filed (then by
    /// id), and those filed before this one are done; 0 before the first batch.
    pub after_id: i64,
    /// The newest request pending at the save: requests with a higher id were filed after it
    /// and decided by this version at their filing.
    pub until_id: i64,
}

/// One version of an organization's review rules. Version 0 is the organization's state before
/// its first save: mode `off`, no rules.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewRulesDto {
    pub version: i64,
    pub mode: RulesMode,
    pub source: String,
    /// SHA-256 of `source`, hex.
    pub sha256: String,
    pub cases: Vec<RuleCase>,
    /// The app and installation that saved it.
    pub saved_by: Option<AuditActor>,
    pub saved_at: Option<String>,
    /// The rules of the set, in source order.
    pub rules: Vec<RuleDto>,
    /// The check of the pending requests under way (current version in enforce mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RuleRunDto>,
    /// In the answer of a save: how the cases went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_results: Option<Vec<CaseResultDto>>,
    /// In the answer of a save: the rules that matched no case and no pending request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmatched_rules: Option<Vec<String>>,
}

/// A pending request in a dry-run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunRequestDto {
    pub pat_request_id: i64,
    /// What the rules in force decide (`null` without rules in force).
    pub current: Option<RuleDecisionDto>,
    pub candidate: RuleDecisionDto,
    /// Whether the outcome would change.
    pub changed: bool,
}

/// An active grant the candidate would have denied. Rules never revoke a grant; this lists
/// them for people to decide.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunGrantDto {
    pub grant_id: i64,
    pub pat_request_id: i64,
    pub rules: Vec<String>,
    pub reasons: Vec<String>,
}

/// What a candidate rule set would do. Nothing is written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRunDto {
    /// The version in force (0: none).
    pub current_version: i64,
    pub current_mode: RulesMode,
    pub pending: usize,
    /// How many pending requests' outcome would change.
    pub changed: usize,
    pub requests: Vec<DryRunRequestDto>,
    pub grants_checked: usize,
    pub grants_refused: Vec<DryRunGrantDto>,
    pub rules: Vec<RuleDto>,
    pub case_results: Vec<CaseResultDto>,
    /// Rules of the candidate that matched no case and no pending request.
    pub unmatched_rules: Vec<String>,
}

/// The schema rules are validated against.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RulesSchemaDto {
    /// `cedar`: Cedar's schema format.
    pub format: String,
    pub version: u32,
    /// The actions a rule may ask about: `deny`, `approve`.
    pub actions: Vec<String>,
    pub schema: String,
}

/// What review rules decided about a request, shown with the request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AutomaticReviewDto {
    /// `review-rules`: the system reviewer.
    pub reviewer: String,
    pub version: i64,
    pub mode: RulesMode,
    /// Whether the decision became a review (enforce mode, approved or denied).
    pub acted: bool,
    pub outcome: RuleOutcome,
    /// The deciding rules.
    pub rules: Vec<String>,
    /// Their reasons.
    pub reasons: Vec<String>,
    /// The policy's hard limits that kept an approval from happening.
    pub limits: Vec<String>,
    /// The evaluation error that left the request pending.
    pub error: Option<String>,
    pub decided_at: String,
}

/// The name of the system reviewer for decisions made by review rules.
pub const RULES_REVIEWER: &str = "review-rules";

impl AutomaticReviewDto {
    /// A recorded decision as shown with its request; `None` if its explanation is unreadable.
    pub fn of(row: &patgate_persistence::review_rules::DecisionRow) -> Option<Self> {
        let explanation = row.explanation().ok()?;
        Some(Self {
            reviewer: RULES_REVIEWER.to_owned(),
            version: row.version,
            mode: RulesMode::of(Mode::parse(&row.mode)?),
            acted: row.acted,
            outcome: RuleOutcome::parse(&row.outcome),
            rules: explanation.rules,
            reasons: explanation.reasons,
            limits: explanation.limits,
            error: explanation.error,
            decided_at: crate::timestamp(row.created_at),
        })
    }
}

impl RulesMode {
    pub fn of(mode: Mode) -> Self {
        match mode {
            Mode::Off => Self::Off,
            Mode::Shadow => Self::Shadow,
            Mode::Enforce => Self::Enforce,
        }
    }
}

impl RuleOutcome {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            _ => Self::Pending,
        }
    }
}
