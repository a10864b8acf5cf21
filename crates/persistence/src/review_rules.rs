//! An organization's review rules: immutable versions, the decisions rules make about requests
//! (at filing, and over the pending requests when a version is saved in enforce mode), and
//! the dry-run of a candidate. The rules themselves are `patgate_rules`; this module reads the
//! facts they see and records what they decided, in the caller's transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use patgate_domain::policy::{lifetime_days, PolicyStack};
use patgate_domain::ReviewAction;
use patgate_rules::kept::Kept;
use patgate_rules::{Decision, Facts, Mode, Outcome, Owner, Repository, RuleSet, Situation};
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::models::{self, PatRequest, Token, User};
use crate::schema::{
    organization_owners, organizations, pat_grants, pat_request_repositories, pat_requests,
    repositories, review_rule_decisions, review_rule_runs, review_rule_versions, tokens, users,
};
use crate::{literal, policy, requests, Page, StoreError, Total};

/// One saved version of an organization's rules.
#[derive(Debug, Clone, Queryable)]
#[diesel(table_name = review_rule_versions)]
pub struct RuleVersion {
    pub id: i64,
    pub org_id: i64,
    pub version: i64,
    pub mode: String,
    pub source: String,
    /// The test cases, as JSON.
    pub cases: String,
    pub sha256: String,
    pub app_id: Option<i64>,
    pub installation_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl RuleVersion {
    pub fn mode(&self) -> Mode {
        Mode::parse(&self.mode).unwrap_or(Mode::Off)
    }

    pub fn cases(&self) -> Result<Vec<patgate_rules::Case>, StoreError> {
        crate::json::parse("review rule cases", &self.cases)
    }
}

/// A recorded decision, with its explanation.
#[derive(Debug, Clone, Queryable)]
#[diesel(table_name = review_rule_decisions)]
pub struct DecisionRow {
    pub id: i64,
    pub org_id: i64,
    pub request_id: i64,
    pub owner_id: i64,
    pub version: i64,
    pub mode: String,
    pub outcome: String,
    pub acted: bool,
    /// [`Explanation`] as JSON.
    pub explanation: String,
    pub created_at: NaiveDateTime,
}

/// Why rules decided as they did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub rules: Vec<String>,
    pub reasons: Vec<String>,
    pub limits: Vec<String>,
    pub error: Option<String>,
}

impl DecisionRow {
    pub fn explanation(&self) -> Result<Explanation, StoreError> {
        crate::json::parse("review rule decision", &self.explanation)
    }
}

/// The version in force, if the organization ever saved one.
pub fn current(conn: &mut DbConnection, org_id: i64) -> Result<Option<RuleVersion>, StoreError> {
    Ok(review_rule_versions::table
        .filter(review_rule_versions::org_id.eq(org_id))
        .order(review_rule_versions::version.desc())
        .first(conn)
        .optional()?)
}

/// One version of the organization's rules.
pub fn version(
    conn: &mut DbConnection,
    org_id: i64,
    version: i64,
) -> Result<Option<RuleVersion>, StoreError> {
    Ok(review_rule_versions::table
        .filter(review_rule_versions::org_id.eq(org_id))
        .filter(review_rule_versions::version.eq(version))
        .first(conn)
        .optional()?)
}

/// The organization's versions, newest first.
pub fn list(
    conn: &mut DbConnection,
    org_id: i64,
    page: Page,
) -> Result<(Vec<RuleVersion>, Total), StoreError> {
    let rows = review_rule_versions::table
        .filter(review_rule_versions::org_id.eq(org_id))
        .order(review_rule_versions::version.desc())
        .offset(page.offset())
        .limit(page.per_page)
        .load(conn)?;
    let total: i64 = review_rule_versions::table
        .filter(review_rule_versions::org_id.eq(org_id))
        .count()
        .get_result(conn)?;
    Ok((rows, Total::Exact(total)))
}

/// A rule set compiled from a stored source, kept by the source's digest: a version is
/// compiled once per process, not at every filing.
pub fn compiled(version: &RuleVersion) -> Result<Arc<RuleSet>, StoreError> {
    compiled_source(&version.sha256, || Ok(version.source.clone()))
}

fn compiled_source(
    sha256: &str,
    source: impl FnOnce() -> Result<String, StoreError>,
) -> Result<Arc<RuleSet>, StoreError> {
    // A handful of organizations' versions at a time; an old one is compiled again if it is
    // ever needed.
    static KEPT: OnceLock<Kept<String, Arc<RuleSet>>> = OnceLock::new();
    KEPT.get_or_init(|| Kept::new(256)).get_or_try(sha256, || {
        let set = RuleSet::compile(&source()?).map_err(|problems| {
            StoreError::Corrupt(format!(
                "stored review rules {sha256} do not compile: {}",
                problems.first().map_or("", |p| p.message.as_str())
            ))
        })?;
        Ok(Arc::new(set))
    })
}

/// What a save expects to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// `If-Match: *`: whatever is current.
    Any,
    /// This version (0: none saved yet).
    Version(i64),
}

/// A version to save.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    pub org_id: i64,
    pub mode: Mode,
    pub source: &'a str,
    pub cases: &'a str,
    pub actor: (i64, i64),
    pub at: NaiveDateTime,
}

/// Why a save changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another version was saved since the one expected; the current one.
    #[error("stale: version {0} is current")]
    Stale(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_from_diesel!(SaveError);

/// The organization's rules lock, held to the end of the transaction: filings and batches of
/// a run share it, a save holds it alone. A save thus waits for the filings in flight and
/// then sees their requests, and a filing that waited for a save reads the version it saved.
/// On PostgreSQL a transaction-scoped advisory lock (no row is written); SQLite has one
/// writer at a time, which already gives the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Shared,
    Alone,
}

fn hold(conn: &mut DbConnection, org_id: i64, how: Hold) -> Result<(), StoreError> {
    /// The first key of the rules locks (the second is the organization's).
    const RULES_LOCK: i32 = 7_428_137;
    let DbConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    // Organizations whose ids differ only above 32 bits share a lock, which costs a wait,
    // never a wrong order.
    let key = (org_id ^ (org_id >> 32)) as i32;
    let function = match how {
        Hold::Shared => "pg_advisory_xact_lock_shared",
        Hold::Alone => "pg_advisory_xact_lock",
    };
    use diesel::connection::SimpleConnection;
    pg.batch_execute(&format!("SELECT {function}({RULES_LOCK}, {key})"))?;
    Ok(())
}

/// Saves a new immutable version if `expected` is still current, records it in the audit
/// trail, and in enforce mode starts the check of every pending request (replacing the run of
/// an older version); any other mode stops such a run.
pub fn save(
    conn: &mut DbConnection,
    expected: Expected,
    new: &NewVersion<'_>,
) -> Result<RuleVersion, SaveError> {
    hold(conn, new.org_id, Hold::Alone)?;
    let current: i64 = review_rule_versions::table
        .filter(review_rule_versions::org_id.eq(new.org_id))
        .select(diesel::dsl::max(review_rule_versions::version))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    if let Expected::Version(v) = expected {
        if v != current {
            return Err(SaveError::Stale(current));
        }
    }
    let sha256 = patgate_rules::sha256(new.source);
    let inserted = diesel::insert_into(review_rule_versions::table)
        .values((
            review_rule_versions::org_id.eq(new.org_id),
            review_rule_versions::version.eq(current + 1),
            review_rule_versions::mode.eq(new.mode.as_str()),
            review_rule_versions::source.eq(new.source),
            review_rule_versions::cases.eq(new.cases),
            review_rule_versions::sha256.eq(&sha256),
            review_rule_versions::app_id.eq(new.actor.0),
            review_rule_versions::installation_id.eq(new.actor.1),
            review_rule_versions::created_at.eq(new.at),
        ))
        .returning(review_rule_versions::all_columns)
        .get_result::<RuleVersion>(conn);
    let saved = match inserted {
        Ok(saved) => saved,
        // Another save took the number first.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => return Err(SaveError::Stale(current + 1)),
        Err(e) => return Err(e.into()),
    };
    let description = serde_json::json!({
        "version": saved.version,
        "mode": saved.mode,
        "sha256": saved.sha256,
    })
    .to_string();
    crate::audit::record(
        conn,
        &crate::audit::Entry {
            org_id: new.org_id,
            action: "review_rules.updated",
            subject_type: "review_rules",
            subject_id: new.org_id,
            app_id: Some(new.actor.0),
            installation_id: Some(new.actor.1),
            reason: Some(&description),
            at: new.at,
        },
    )?;
    diesel::delete(review_rule_runs::table.filter(review_rule_runs::org_id.eq(new.org_id)))
        .execute(conn)?;
    if new.mode == Mode::Enforce {
        let until: Option<i64> = pat_requests::table
            .filter(pat_requests::org_id.eq(new.org_id))
            .filter(pat_requests::status.eq(literal::Pending))
            .select(diesel::dsl::max(pat_requests::id))
            .first(conn)?;
        if let Some(until) = until {
            diesel::insert_into(review_rule_runs::table)
                .values((
                    review_rule_runs::org_id.eq(new.org_id),
                    review_rule_runs::version.eq(saved.version),
                    review_rule_runs::after_id.eq(0_i64),
                    review_rule_runs::until_id.eq(until),
                    review_rule_runs::app_id.eq(new.actor.0),
                    review_rule_runs::installation_id.eq(new.actor.1),
                    review_rule_runs::created_at.eq(new.at),
                ))
                .execute(conn)?;
        }
    }
    Ok(saved)
}

/// The latest decision rules made about a request.
pub fn latest_decision(
    conn: &mut DbConnection,
    request_id: i64,
) -> Result<Option<DecisionRow>, StoreError> {
    Ok(review_rule_decisions::table
        .filter(review_rule_decisions::request_id.eq(request_id))
        .order(review_rule_decisions::id.desc())
        .first(conn)
        .optional()?)
}

/// What rules see of the organization and the moment: its login, the time, its policy.
pub fn situation(
    conn: &mut DbConnection,
    org_id: i64,
    at: NaiveDateTime,
) -> Result<Situation, StoreError> {
    let policy = policy::stack(conn, org_id)?;
    let org_login: String = organizations::table
        .find(org_id)
        .select(organizations::login)
        .first(conn)?;
    Ok(Situation {
        org_login,
        now: at.and_utc(),
        policy,
    })
}

/// The facts rules see of each request, in the order given: the owner (login, role, recent
/// automatic approvals, counted only when `approvals_read`), the repositories listed, the
/// permissions, the token's lifetime. Four or five statements, whatever the number of requests.
pub fn facts_of(
    conn: &mut DbConnection,
    org_id: i64,
    requests: &[PatRequest],
    at: NaiveDateTime,
    approvals_read: bool,
) -> Result<Vec<Facts>, StoreError> {
    let mut owner_ids: Vec<i64> = requests.iter().map(|r| r.owner_id).collect();
    owner_ids.sort_unstable();
    owner_ids.dedup();
    let mut token_ids: Vec<i64> = requests.iter().map(|r| r.token_id).collect();
    token_ids.sort_unstable();
    token_ids.dedup();
    let request_ids: Vec<i64> = requests.iter().map(|r| r.id).collect();

    let owners: HashMap<i64, (String, bool)> = users::table
        .filter(users::id.eq_any(&owner_ids))
        .select((users::id, users::login, users::site_admin))
        .load::<(i64, String, bool)>(conn)?
        .into_iter()
        .map(|(id, login, admin)| (id, (login, admin)))
        .collect();
    let org_owners: Vec<i64> = organization_owners::table
        .filter(organization_owners::org_id.eq(org_id))
        .filter(organization_owners::user_id.eq_any(&owner_ids))
        .select(organization_owners::user_id)
        .load(conn)?;
    let tokens: HashMap<i64, (String, NaiveDateTime, Option<NaiveDateTime>)> = tokens::table
        .filter(tokens::id.eq_any(&token_ids))
        .select((
            tokens::id,
            tokens::name,
            tokens::created_at,
            tokens::expires_at,
        ))
        .load::<(i64, String, NaiveDateTime, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(id, name, created, expires)| (id, (name, created, expires)))
        .collect();
    let mut listed: BTreeMap<i64, Vec<Repository>> = BTreeMap::new();
    for (request_id, name, private) in pat_request_repositories::table
        .inner_join(repositories::table)
        .filter(pat_request_repositories::request_id.eq_any(&request_ids))
        .select((
            pat_request_repositories::request_id,
            repositories::name,
            repositories::private,
        ))
        .order((pat_request_repositories::request_id, repositories::name))
        .load::<(i64, String, bool)>(conn)?
    {
        listed
            .entry(request_id)
            .or_default()
            .push(Repository { name, private });
    }
    let approvals = if approvals_read {
        approvals_of(conn, &owner_ids, at)?
    } else {
        HashMap::new()
    };

    requests
        .iter()
        .map(|request| {
            let (login, site_admin) = owners.get(&request.owner_id).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("request {} has no owner", request.id))
            })?;
            let token = tokens.get(&request.token_id).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("request {} has no token", request.id))
            })?;
            facts(
                request,
                owner(
                    login,
                    site_admin,
                    org_owners.contains(&request.owner_id),
                    approvals.get(&request.owner_id).copied(),
                ),
                token,
                listed.remove(&request.id).unwrap_or_default(),
            )
        })
        .collect()
}

/// The owner as rules see them: `by_owner` when they own the organization, and their recent
/// automatic approvals (last day, last week) when counted.
fn owner(login: String, site_admin: bool, by_owner: bool, approvals: Option<(i64, i64)>) -> Owner {
    let (last_day, last_week) = approvals.unwrap_or_default();
    Owner {
        login,
        role: if by_owner { "owner" } else { "member" }.to_owned(),
        site_admin,
        automatic_approvals_last_day: last_day,
        automatic_approvals_last_week: last_week,
    }
}

/// How many of each owner's requests rules approved in the last day and the last week.
fn approvals_of(
    conn: &mut DbConnection,
    owner_ids: &[i64],
    at: NaiveDateTime,
) -> Result<HashMap<i64, (i64, i64)>, StoreError> {
    let day_ago = at - TimeDelta::days(1);
    let mut approvals: HashMap<i64, (i64, i64)> = HashMap::new();
    let counted = review_rule_decisions::table
        .filter(review_rule_decisions::owner_id.eq_any(owner_ids))
        .filter(review_rule_decisions::acted)
        .filter(review_rule_decisions::outcome.eq(literal::Approved))
        .filter(review_rule_decisions::created_at.gt(at - TimeDelta::days(7)))
        .select((
            review_rule_decisions::owner_id,
            review_rule_decisions::created_at,
        ))
        .load::<(i64, NaiveDateTime)>(conn)?;
    for (owner, when) in counted {
        let counts = approvals.entry(owner).or_default();
        counts.1 += 1;
        if when > day_ago {
            counts.0 += 1;
        }
    }
    Ok(approvals)
}

/// A request's facts from what is known of it: its owner, its token's name, creation and
/// expiry, and the repositories it lists.
fn facts(
    request: &PatRequest,
    owner: Owner,
    (token_name, created, expires): (String, NaiveDateTime, Option<NaiveDateTime>),
    repositories: Vec<Repository>,
) -> Result<Facts, StoreError> {
    Ok(Facts {
        id: request.id,
        owner,
        token_name,
        repository_selection: request.repository_selection.clone(),
        repositories,
        permissions: crate::json::parse("request permissions", &request.permissions)?,
        expires_at: expires.map(|e| e.and_utc()),
        lifetime_days: lifetime_days(
            created.and_utc().timestamp(),
            expires.map(|e| e.and_utc().timestamp()),
        ),
        created_at: Some(request.created_at.and_utc()),
        resubmission: request.permissions_added.is_some() || request.permissions_upgraded.is_some(),
    })
}

/// What rules did with a request.
#[derive(Debug, Clone)]
pub struct Applied {
    pub version: i64,
    pub mode: Mode,
    pub decision: Decision,
    /// Whether the decision became a review.
    pub acted: bool,
    /// The decision as recorded.
    pub row: DecisionRow,
}

/// What a filing already holds of its request, so that its rules read none of it again: the
/// owner, the token, and the repositories listed.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub owner: &'a User,
    pub token: &'a Token,
    pub repositories: &'a [models::Repository],
}

/// Runs the organization's rules over a request just filed or refiled, in the filing's
/// transaction, under the policy the filing was admitted by (`stack`): records the decision
/// (shadow or enforce), and in enforce mode approves or denies it as a review by the issuer's
/// installation on the rules' behalf. `None` when the organization has no rules in force.
///
/// One statement reads the version in force with the organization's login and the owner's
/// role; the source only when this process has not compiled it yet, the owner's recent
/// automatic approvals only when a rule reads them. The rest comes from the filing (`known`).
pub fn decide_filed(
    conn: &mut DbConnection,
    request: &PatRequest,
    known: Known<'_>,
    stack: &PolicyStack,
    actor: (i64, i64),
    at: NaiveDateTime,
) -> Result<Option<Applied>, StoreError> {
    let org_id = request.org_id;
    hold(conn, org_id, Hold::Shared)?;
    let head: Option<(i64, String, String, String, bool)> = review_rule_versions::table
        .inner_join(organizations::table)
        .filter(review_rule_versions::org_id.eq(org_id))
        .order(review_rule_versions::version.desc())
        .select((
            review_rule_versions::version,
            review_rule_versions::mode,
            review_rule_versions::sha256,
            organizations::login,
            diesel::dsl::exists(
                organization_owners::table
                    .filter(organization_owners::org_id.eq(org_id))
                    .filter(organization_owners::user_id.eq(request.owner_id)),
            ),
        ))
        .first(conn)
        .optional()?;
    let Some((version, mode, sha256, org_login, by_owner)) = head else {
        return Ok(None);
    };
    let mode = Mode::parse(&mode).unwrap_or(Mode::Off);
    if mode == Mode::Off {
        return Ok(None);
    }
    let set = compiled_source(&sha256, || {
        Ok(review_rule_versions::table
            .filter(review_rule_versions::org_id.eq(org_id))
            .filter(review_rule_versions::version.eq(version))
            .select(review_rule_versions::source)
            .first(conn)?)
    })?;
    let approvals = if set.reads_approvals() {
        approvals_of(conn, &[request.owner_id], at)?
            .get(&request.owner_id)
            .copied()
    } else {
        None
    };
    let mut repositories: Vec<Repository> = known
        .repositories
        .iter()
        .map(|r| Repository {
            name: r.name.clone(),
            private: r.private,
        })
        .collect();
    repositories.sort_by(|a, b| a.name.cmp(&b.name));
    repositories.dedup_by(|a, b| a.name == b.name);
    let facts = facts(
        request,
        owner(
            known.owner.login.clone(),
            known.owner.site_admin,
            by_owner,
            approvals,
        ),
        (
            known.token.name.clone(),
            known.token.created_at,
            known.token.expires_at,
        ),
        repositories,
    )?;
    let situation = Situation {
        org_login,
        now: at.and_utc(),
        policy: *stack,
    };
    let decision = set.decide(&facts, &situation);
    apply(conn, request, version, mode, decision, actor, at).map(Some)
}

/// Records a decision and, in enforce mode, makes it a review.
fn apply(
    conn: &mut DbConnection,
    request: &PatRequest,
    version: i64,
    mode: Mode,
    decision: Decision,
    actor: (i64, i64),
    at: NaiveDateTime,
) -> Result<Applied, StoreError> {
    let action = match decision.outcome {
        Outcome::Approved => Some(ReviewAction::Approve),
        Outcome::Denied => Some(ReviewAction::Deny),
        Outcome::Pending => None,
    };
    let acted = mode == Mode::Enforce && action.is_some();
    if let (true, Some(action)) = (acted, action) {
        let reason = decision.review_reason(version);
        let review = requests::Review {
            org_id: request.org_id,
            request_ids: &[request.id],
            action,
            reason: Some(&reason),
            app_id: actor.0,
            installation_id: actor.1,
            at,
            by_policy: false,
        };
        requests::review(conn, &review).map_err(|e| match e {
            requests::ReviewError::Store(e) => e,
            other => StoreError::Conflict(other.to_string()),
        })?;
    }
    let explanation = Explanation {
        rules: decision.rules.clone(),
        reasons: decision.reasons.clone(),
        limits: decision.limits.clone(),
        error: decision.error.clone(),
    };
    let row = diesel::insert_into(review_rule_decisions::table)
        .values((
            review_rule_decisions::org_id.eq(request.org_id),
            review_rule_decisions::request_id.eq(request.id),
            review_rule_decisions::owner_id.eq(request.owner_id),
            review_rule_decisions::version.eq(version),
            review_rule_decisions::mode.eq(mode.as_str()),
            review_rule_decisions::outcome.eq(decision.outcome.as_str()),
            review_rule_decisions::acted.eq(acted),
            review_rule_decisions::explanation
                .eq(crate::json::text("review rule decision", &explanation)?),
            review_rule_decisions::created_at.eq(at),
        ))
        .returning(review_rule_decisions::all_columns)
        .get_result(conn)?;
    Ok(Applied {
        version,
        mode,
        decision,
        acted,
        row,
    })
}

/// A run of a version over the pending requests, leased by this instance.
#[derive(Debug, Clone)]
pub struct Run {
    pub org_id: i64,
    pub version: i64,
    pub after_id: i64,
    pub until_id: i64,
    pub actor: (i64, i64),
}

/// Leases one unfinished run whose lease is free, for `lease`.
pub fn claim_run(
    conn: &mut DbConnection,
    at: NaiveDateTime,
    lease: TimeDelta,
) -> Result<Option<Run>, StoreError> {
    type Row = (i64, i64, i64, i64, Option<i64>, Option<i64>);
    let free = review_rule_runs::table
        .filter(
            review_rule_runs::leased_until
                .is_null()
                .or(review_rule_runs::leased_until.lt(at)),
        )
        .select((
            review_rule_runs::org_id,
            review_rule_runs::version,
            review_rule_runs::after_id,
            review_rule_runs::until_id,
            review_rule_runs::app_id,
            review_rule_runs::installation_id,
        ))
        .order(review_rule_runs::created_at)
        .first::<Row>(conn)
        .optional()?;
    let Some((org_id, version, after_id, until_id, app_id, installation_id)) = free else {
        return Ok(None);
    };
    // Taken only if no other instance took it since it was read.
    let taken = diesel::update(
        review_rule_runs::table
            .filter(review_rule_runs::org_id.eq(org_id))
            .filter(review_rule_runs::version.eq(version))
            .filter(
                review_rule_runs::leased_until
                    .is_null()
                    .or(review_rule_runs::leased_until.lt(at)),
            ),
    )
    .set(review_rule_runs::leased_until.eq(at + lease))
    .execute(conn)?;
    if taken == 0 {
        return Ok(None);
    }
    Ok(Some(Run {
        org_id,
        version,
        after_id,
        until_id,
        actor: (
            app_id.unwrap_or_default(),
            installation_id.unwrap_or_default(),
        ),
    }))
}

/// How far a batch of a run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More requests remain; the run's cursor moved.
    More { decided: usize },
    /// The run is finished (or was replaced by a newer version) and removed.
    Done { decided: usize },
}

/// Decides the next `batch` pending requests of the run, in this transaction, and moves its
/// cursor past them. A request reviewed meanwhile is skipped; a run whose version is no
/// longer the one in force ends.
pub fn run_batch(
    conn: &mut DbConnection,
    run: &Run,
    batch: i64,
    at: NaiveDateTime,
    lease: TimeDelta,
) -> Result<Progress, StoreError> {
    hold(conn, run.org_id, Hold::Shared)?;
    let head = current(conn, run.org_id)?;
    let still = head
        .as_ref()
        .filter(|v| v.version == run.version && v.mode() == Mode::Enforce);
    let Some(version) = still else {
        finish(conn, run)?;
        return Ok(Progress::Done { decided: 0 });
    };
    // The run's row is updated first: its lease is renewed, and on PostgreSQL the row lock
    // makes a second instance that took the run after a lapsed lease wait for this batch, then
    // read the cursor it moved.
    let cursor: Option<i64> = diesel::update(
        review_rule_runs::table
            .filter(review_rule_runs::org_id.eq(run.org_id))
            .filter(review_rule_runs::version.eq(run.version)),
    )
    .set(review_rule_runs::leased_until.eq(at + lease))
    .returning(review_rule_runs::after_id)
    .get_result(conn)
    .optional()?;
    let Some(after_id) = cursor else {
        return Ok(Progress::Done { decided: 0 });
    };
    // The cursor is the last request decided, in the index's order (filing time, then id).
    let pending: Vec<PatRequest> = pending_after(run.org_id, (after_id > 0).then_some(after_id))
        .filter(pat_requests::id.le(run.until_id))
        .limit(batch)
        .load(conn)?;
    let set = compiled(version)?;
    let situation = situation(conn, run.org_id, at)?;
    let facts = facts_of(conn, run.org_id, &pending, at, set.reads_approvals())?;
    let decisions = in_parallel(&facts, |f| set.decide(f, &situation));
    for (request, decision) in pending.iter().zip(decisions) {
        apply(
            conn,
            request,
            run.version,
            Mode::Enforce,
            decision,
            run.actor,
            at,
        )?;
    }
    let decided = pending.len();
    match pending.last() {
        Some(last) if i64::try_from(pending.len()).unwrap_or(i64::MAX) >= batch => {
            diesel::update(
                review_rule_runs::table
                    .filter(review_rule_runs::org_id.eq(run.org_id))
                    .filter(review_rule_runs::version.eq(run.version)),
            )
            .set(review_rule_runs::after_id.eq(last.id))
            .execute(conn)?;
            Ok(Progress::More { decided })
        }
        _ => {
            finish(conn, run)?;
            Ok(Progress::Done { decided })
        }
    }
}

fn finish(conn: &mut DbConnection, run: &Run) -> Result<(), StoreError> {
    diesel::delete(
        review_rule_runs::table
            .filter(review_rule_runs::org_id.eq(run.org_id))
            .filter(review_rule_runs::version.eq(run.version)),
    )
    .execute(conn)?;
    Ok(())
}

/// Whether a run is under way for the organization, and how far.
pub fn run_of(conn: &mut DbConnection, org_id: i64) -> Result<Option<(i64, i64, i64)>, StoreError> {
    Ok(review_rule_runs::table
        .filter(review_rule_runs::org_id.eq(org_id))
        .select((
            review_rule_runs::version,
            review_rule_runs::after_id,
            review_rule_runs::until_id,
        ))
        .first(conn)
        .optional()?)
}

/// One pending request in a dry-run: what the rules in force and the candidate decide.
#[derive(Debug, Clone)]
pub struct Compared {
    pub request_id: i64,
    pub current: Option<Decision>,
    pub candidate: Decision,
}

/// An active grant the candidate would have refused.
#[derive(Debug, Clone)]
pub struct Refused {
    pub grant_id: i64,
    pub request_id: i64,
    pub decision: Decision,
}

/// What a candidate rule set would do, with no side effect.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The version in force, if any (and its mode).
    pub current: Option<(i64, Mode)>,
    pub requests: Vec<Compared>,
    pub grants: Vec<Refused>,
    /// How many active grants were checked.
    pub grants_checked: usize,
    pub situation: Situation,
}

/// How many requests are read and decided at a time.
const CHUNK: i64 = 500;

/// `decide` over each of `facts`, spread over the machine's cores, in order. Rules are pure
/// computation; the facts were read beforehand, so no thread touches the database.
fn in_parallel<T: Send>(facts: &[Facts], decide: impl Fn(&Facts) -> T + Sync) -> Vec<T> {
    /// Fewer facts than this are decided on the calling thread.
    const WORTH_A_THREAD: usize = 64;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if threads < 2 || facts.len() < WORTH_A_THREAD {
        return facts.iter().map(&decide).collect();
    }
    let size = facts.len().div_ceil(threads.min(8));
    std::thread::scope(|scope| {
        let parts: Vec<_> = facts
            .chunks(size)
            .map(|part| scope.spawn(|| part.iter().map(&decide).collect::<Vec<T>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The organization's pending requests in the order of their index (`pat_requests_pending_created`:
/// filing time, then id), from the one after `after`: each chunk of a walk over them is a
/// range of the index, not a sort of every pending request.
fn pending_after(
    org_id: i64,
    after: Option<i64>,
) -> pat_requests::BoxedQuery<'static, crate::db::MultiBackend> {
    let query = pat_requests::table
        .filter(pat_requests::org_id.eq(org_id))
        .filter(pat_requests::status.eq(literal::Pending))
        .order((pat_requests::created_at, pat_requests::id))
        .into_boxed();
    match after {
        None => query,
        Some(id) => query.filter(crate::filters::from_row!(pat_requests, created_at, ">", id)),
    }
}

/// Calls `each` with the facts of every pending request of the organization, oldest first,
/// reading them [`CHUNK`] at a time.
fn for_each_pending(
    conn: &mut DbConnection,
    org_id: i64,
    at: NaiveDateTime,
    approvals_read: bool,
    mut each: impl FnMut(&[Facts]),
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let chunk: Vec<PatRequest> = pending_after(org_id, after).limit(CHUNK).load(conn)?;
        let Some(last) = chunk.last() else {
            return Ok(());
        };
        after = Some(last.id);
        each(&facts_of(conn, org_id, &chunk, at, approvals_read)?);
        if i64::try_from(chunk.len()).unwrap_or(i64::MAX) < CHUNK {
            return Ok(());
        }
    }
}

/// What `set` decides about each pending request of the organization; writes nothing.
pub fn decide_pending(
    conn: &mut DbConnection,
    org_id: i64,
    set: &RuleSet,
    at: NaiveDateTime,
) -> Result<Vec<Decision>, StoreError> {
    let situation = situation(conn, org_id, at)?;
    let mut decisions = Vec::new();
    for_each_pending(conn, org_id, at, set.reads_approvals(), |facts| {
        decisions.extend(in_parallel(facts, |f| set.decide(f, &situation)));
    })?;
    Ok(decisions)
}

/// Runs the candidate and the rules in force over every pending request of the organization,
/// and the candidate over its active grants; writes nothing.
pub fn dry_run(
    conn: &mut DbConnection,
    org_id: i64,
    candidate: &RuleSet,
    at: NaiveDateTime,
) -> Result<DryRun, StoreError> {
    let head = current(conn, org_id)?;
    let in_force = match &head {
        Some(v) if v.mode() != Mode::Off => Some(compiled(v)?),
        _ => None,
    };
    let situation = situation(conn, org_id, at)?;
    let approvals_read =
        candidate.reads_approvals() || in_force.as_ref().is_some_and(|set| set.reads_approvals());
    let mut requests = Vec::new();
    for_each_pending(conn, org_id, at, approvals_read, |facts| {
        requests.extend(in_parallel(facts, |f| Compared {
            request_id: f.id,
            current: in_force.as_ref().map(|set| set.decide(f, &situation)),
            candidate: candidate.decide(f, &situation),
        }));
    })?;
    // Read in filing order; answered in the order of their ids.
    requests.sort_unstable_by_key(|c| c.request_id);

    let mut grants = Vec::new();
    let mut grants_checked = 0;
    let mut after = None;
    loop {
        // In the order of `pat_grants_active_granted` (grant time, then id): each chunk a
        // range of the index.
        let mut query = pat_grants::table
            .inner_join(pat_requests::table)
            .filter(pat_grants::org_id.eq(org_id))
            .filter(pat_grants::status.eq(literal::Active))
            .order((pat_grants::access_granted_at, pat_grants::id))
            .limit(CHUNK)
            .select((pat_grants::id, pat_requests::all_columns))
            .into_boxed::<crate::db::MultiBackend>();
        if let Some(id) = after {
            query = query.filter(crate::filters::from_row!(
                pat_grants,
                access_granted_at,
                ">",
                id
            ));
        }
        let chunk: Vec<(i64, PatRequest)> = query.load(conn)?;
        let Some((last, _)) = chunk.last() else { break };
        after = Some(*last);
        let asked: Vec<PatRequest> = chunk.iter().map(|(_, r)| r.clone()).collect();
        let facts = facts_of(conn, org_id, &asked, at, candidate.reads_approvals())?;
        let decisions = in_parallel(&facts, |f| candidate.decide(f, &situation));
        for ((grant_id, request), decision) in chunk.iter().zip(decisions) {
            grants_checked += 1;
            if decision.outcome == Outcome::Denied {
                grants.push(Refused {
                    grant_id: *grant_id,
                    request_id: request.id,
                    decision,
                });
            }
        }
        if i64::try_from(chunk.len()).unwrap_or(i64::MAX) < CHUNK {
            break;
        }
    }
    grants.sort_unstable_by_key(|g| g.grant_id);
    Ok(DryRun {
        current: head.map(|v| (v.version, v.mode())),
        requests,
        grants,
        grants_checked,
        situation,
    })
}
