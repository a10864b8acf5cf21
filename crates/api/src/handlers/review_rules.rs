//! `/orgs/{org}/personal-access-token-review-rules`: an organization's review rules as code
//! (Cedar), their immutable versions, the schema they are validated against, and the dry-run of
//! a candidate.

use actix_web::http::header;
use actix_web::{get, post, put, HttpRequest, HttpResponse};
use patgate_domain::Operation;
use patgate_persistence::review_rules::{self, Expected, NewVersion, RuleVersion, SaveError};
use patgate_persistence::{DbConnection, Touches};
use patgate_rules::{cases, CaseResult, Decision, Outcome, Problem, RuleSet, Situation};

use super::errors::{MalformedJson, NotFoundErrors, PageErrors};
use super::params::{OrgPath, PageParams, RulesVersionPath};
use super::{page_json, Call, Reply};
use crate::body::{self, RawBody};
use crate::dto::lifecycle::AuditActor;
use crate::dto::rules::{
    Candidate, CaseResultDto, DryRunBody, DryRunDto, DryRunGrantDto, DryRunRequestDto,
    ReviewRulesBody, ReviewRulesDto, RuleCase, RuleDecisionDto, RuleDto, RuleRunDto, RulesMode,
    RulesSchemaDto,
};
use crate::dto::timestamp;
use crate::error::{ApiError, BasicError, FieldError, ValidationError as ValidationBody};
use crate::pagination::page_from_query;

const RESOURCE: &str = "ReviewRules";

/// The `ETag` of a version (`"v0"` before the first save).
fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// What `If-Match` says the save replaces; required.
fn expected(req: &HttpRequest) -> Result<Expected, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Err(ApiError::PreconditionRequired(
            "If-Match is required: send the ETag of the version this replaces (\"v0\" before the first save), or *".to_owned(),
        ));
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value == "*" {
        return Ok(Expected::Any);
    }
    let tag = value.trim_start_matches("W/").trim_matches('"');
    tag.strip_prefix('v')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .map(Expected::Version)
        .ok_or_else(|| {
            ApiError::PreconditionFailed(format!(
                "If-Match {value} is not the ETag of a version of these rules"
            ))
        })
}

/// A 422 naming each problem of a source, with its line and column (the rule it concerns is
/// named in its message).
fn invalid_source(problems: Vec<Problem>) -> ApiError {
    ApiError::Unprocessable {
        message: "Validation Failed".to_owned(),
        errors: problems
            .into_iter()
            .map(|p| FieldError {
                line: p.line,
                column: p.column,
                ..FieldError::new(RESOURCE, "source", "invalid", p.message)
            })
            .collect(),
    }
}

/// A 422 for cases that are malformed or fail.
fn invalid_cases(messages: impl IntoIterator<Item = String>) -> ApiError {
    ApiError::Unprocessable {
        message: "Validation Failed".to_owned(),
        errors: messages
            .into_iter()
            .map(|m| FieldError::new(RESOURCE, "cases", "invalid", m))
            .collect(),
    }
}

fn describe(outcome: Outcome, rules: &[String]) -> String {
    if rules.is_empty() {
        outcome.as_str().to_owned()
    } else {
        format!("{} by [{}]", outcome.as_str(), rules.join(", "))
    }
}

/// The candidate compiled, its cases checked and run.
fn check(
    candidate: &Candidate,
    situation: &Situation,
) -> Result<(RuleSet, Vec<CaseResult>), ApiError> {
    let set = RuleSet::compile(&candidate.source).map_err(invalid_source)?;
    cases::check(&set, &candidate.cases).map_err(|e| invalid_cases([e.to_string()]))?;
    let results = cases::run(&set, &candidate.cases, situation);
    Ok((set, results))
}

/// The rules of `set` that matched none of its cases and none of `pending`'s decisions.
fn unmatched<'a>(
    set: &RuleSet,
    cases: &'a [CaseResult],
    pending: impl Iterator<Item = &'a Decision>,
) -> Vec<String> {
    cases::unmatched(set, cases.iter().map(|r| &r.decision).chain(pending))
}

fn version_dto(
    conn: &mut DbConnection,
    version: Option<&RuleVersion>,
    with_run: Option<i64>,
) -> Result<ReviewRulesDto, ApiError> {
    let Some(v) = version else {
        return Ok(ReviewRulesDto {
            version: 0,
            mode: RulesMode::Off,
            source: String::new(),
            sha256: patgate_rules::sha256(""),
            cases: Vec::new(),
            saved_by: None,
            saved_at: None,
            rules: Vec::new(),
            run: None,
            case_results: None,
            unmatched_rules: None,
        });
    };
    let set = review_rules::compiled(v)?;
    let run = match with_run {
        Some(org_id) => {
            review_rules::run_of(conn, org_id)?.map(|(version, after_id, until_id)| RuleRunDto {
                version,
                after_id,
                until_id,
            })
        }
        None => None,
    };
    Ok(ReviewRulesDto {
        version: v.version,
        mode: RulesMode::of(v.mode()),
        source: v.source.clone(),
        sha256: v.sha256.clone(),
        cases: v.cases()?.iter().map(RuleCase::from).collect(),
        saved_by: v.app_id.map(|app_id| AuditActor {
            app_id,
            installation_id: v.installation_id,
        }),
        saved_at: Some(timestamp(v.created_at)),
        rules: set.rules().iter().map(RuleDto::from).collect(),
        run,
        case_results: None,
        unmatched_rules: None,
    })
}

/// Get the review rules of an organization
///
/// The version in force: its number, mode (`off`, `shadow` or `enforce`), Cedar source, its
/// SHA-256, test cases, rules, who saved it and when, and the check of pending requests under
/// way after a save in enforce mode. `ETag` names the version (`"v0"`: none saved yet); send
/// it as `If-Match` to save the next. Needs
/// `organization_personal_access_token_review_rules: read`.
#[utoipa::path(
    operation_id = "patgate/get-review-rules", tag = "patgate", params(OrgPath),
    responses(
        (status = 200, description = "Response", body = ReviewRulesDto,
            headers(("ETag" = String, description = "The version, e.g. \"v3\""))),
        NotFoundErrors,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-review-rules")]
pub async fn get_review_rules(call: Call<OrgPath>) -> Reply {
    let dto = call
        .in_org(Operation::ReadReviewRules)
        .read(|conn, org| {
            let current = review_rules::current(conn, org.id)?;
            version_dto(conn, current.as_ref(), Some(org.id))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(dto.version)))
        .json(dto))
}

/// Save the review rules of an organization
///
/// Saves a new immutable version: the mode, the Cedar source (validated strictly against
/// `…/review-rules/schema`; every rule has a unique `@id` and a `@reason`) and the test cases,
/// which must all pass. `If-Match` must name the version in force (its `ETag`, or `*`): 412
/// when another version was saved since, 428 without it. In `enforce` mode every pending
/// request is then checked in the background; rules never revoke a grant. Saving an older
/// source again is how one rolls back. The answer adds how the cases went and the rules that
/// matched no case and no pending request. Recorded in the audit trail as
/// `review_rules.updated`. Needs `organization_personal_access_token_review_rules: write`.
#[utoipa::path(
    operation_id = "patgate/set-review-rules", tag = "patgate",
    params(OrgPath, ("If-Match" = String, Header, description = "The ETag of the version this replaces (\"v0\" before the first save), or *")),
    request_body = ReviewRulesBody,
    responses(
        (status = 200, description = "The version saved", body = ReviewRulesDto,
            headers(("ETag" = String, description = "The new version, e.g. \"v4\""))),
        NotFoundErrors, MalformedJson,
        (status = 412, description = "If-Match does not name the version in force", body = BasicError),
        (status = 422, description = "Invalid rules (each problem with its line and column), or cases that fail", body = ValidationBody),
        (status = 428, description = "If-Match is missing", body = BasicError),
    ),
    security(("installation_token" = []))
)]
#[put("/orgs/{org}/personal-access-token-review-rules")]
pub async fn set_review_rules(call: Call<OrgPath>, req: HttpRequest, payload: RawBody) -> Reply {
    let input = body::read::<ReviewRulesBody, Candidate>(&payload, RESOURCE);
    let expected = expected(&req);
    let actor = call.caller.actor();
    let saved = call
        .in_org(Operation::WriteReviewRules)
        .write(move |db, org| {
            let candidate = input?;
            let expected = expected?;
            let at = patgate_persistence::now();
            let situation = review_rules::situation(&mut **db.conn()?, org.id, at)?;
            let (set, results) = check(&candidate, &situation)?;
            let failed: Vec<String> = results
                .iter()
                .filter(|r| !r.passed)
                .map(|r| {
                    format!(
                        "case {:?} expected {}, got {}",
                        r.name,
                        describe(
                            r.expected.outcome,
                            r.expected.rules.as_deref().unwrap_or(&[])
                        ),
                        describe(r.decision.outcome, &r.decision.rules),
                    )
                })
                .collect();
            if !failed.is_empty() {
                return Err(invalid_cases(failed));
            }
            let cases_json = serde_json::to_string(&candidate.cases).map_err(ApiError::internal)?;
            let new = NewVersion {
                org_id: org.id,
                mode: candidate.mode,
                source: &candidate.source,
                cases: &cases_json,
                actor,
                at,
            };
            let saved = db.write(Touches::Org(org.id), |conn| {
                review_rules::save(conn, expected, &new).map_err(|e| match e {
                    SaveError::Stale(current) => ApiError::PreconditionFailed(format!(
                        "Version {current} is in force: read it again and retry with If-Match: {}",
                        etag(current)
                    )),
                    SaveError::Store(e) => e.into(),
                })
            })?;
            // Which rules matched no case and no pending request: read after the save.
            let mut pooled = db.conn()?;
            let conn = &mut **pooled;
            let pending = review_rules::decide_pending(conn, org.id, &set, at)?;
            let unmatched = unmatched(&set, &results, pending.iter());
            let mut dto = version_dto(conn, Some(&saved), Some(org.id))?;
            dto.case_results = Some(results.iter().map(CaseResultDto::from).collect());
            dto.unmatched_rules = Some(unmatched);
            Ok(dto)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(saved.version)))
        .json(saved))
}

/// List the versions of an organization's review rules
///
/// Every version saved, newest first. Needs
/// `organization_personal_access_token_review_rules: read`.
#[utoipa::path(
    operation_id = "patgate/list-review-rules-versions", tag = "patgate",
    params(OrgPath, PageParams),
    responses(
        (status = 200, description = "Response", body = Vec<ReviewRulesDto>,
            headers(("Link" = String, description = "Pagination links"))),
        NotFoundErrors, PageErrors,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-review-rules/versions")]
pub async fn list_review_rules_versions(call: Call<OrgPath>, req: HttpRequest) -> Reply {
    let page = page_from_query(req.query_string());
    let (page, total, items) = call
        .in_org(Operation::ReadReviewRules)
        .read(move |conn, org| {
            let page = page?;
            let (rows, total) = review_rules::list(conn, org.id, page)?;
            let items = rows
                .iter()
                .map(|v| version_dto(conn, Some(v), None))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((page, total, items))
        })
        .await?;
    Ok(page_json(&call.state, &req, page, total, &items))
}

/// Get a version of an organization's review rules
///
/// Needs `organization_personal_access_token_review_rules: read`.
#[utoipa::path(
    operation_id = "patgate/get-review-rules-version", tag = "patgate", params(RulesVersionPath),
    responses(
        (status = 200, description = "Response", body = ReviewRulesDto,
            headers(("ETag" = String, description = "The version, e.g. \"v3\""))),
        NotFoundErrors,
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-review-rules/versions/{version}")]
pub async fn get_review_rules_version(call: Call<RulesVersionPath>) -> Reply {
    let number = call.path.version;
    let dto = call
        .in_org(Operation::ReadReviewRules)
        .read(move |conn, org| {
            let v = review_rules::version(conn, org.id, number)?.ok_or(ApiError::NotFound)?;
            version_dto(conn, Some(&v), None)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(dto.version)))
        .json(dto))
}

/// Get the schema of review rules
///
/// The Cedar schema every rule set is validated against: what a rule sees of a request (its
/// owner, repositories, permissions as tags, lifetime and expiry) and the context (the time,
/// the organization's policy, the owner's recent automatic approvals). Needs
/// `organization_personal_access_token_review_rules: read`.
#[utoipa::path(
    operation_id = "patgate/get-review-rules-schema", tag = "patgate", params(OrgPath),
    responses((status = 200, description = "Response", body = RulesSchemaDto), NotFoundErrors),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/personal-access-token-review-rules/schema")]
pub async fn get_review_rules_schema(call: Call<OrgPath>) -> Reply {
    call.in_org(Operation::ReadReviewRules)
        .read(|_, _| Ok(()))
        .await?;
    Ok(HttpResponse::Ok().json(RulesSchemaDto {
        format: "cedar".to_owned(),
        version: patgate_rules::SCHEMA_VERSION,
        actions: vec!["deny".to_owned(), "approve".to_owned()],
        schema: patgate_rules::SCHEMA.to_owned(),
    }))
}

fn changed(current: Option<&Decision>, candidate: &Decision) -> bool {
    current.map_or(Outcome::Pending, |d| d.outcome) != candidate.outcome
}

/// Dry-run a candidate rule set
///
/// Runs the candidate's cases, then decides every pending request with the rules in force and
/// with the candidate, side by side with the deciding rules, and lists the active grants the
/// candidate would have denied (rules never revoke them). Writes nothing. Invalid rules → 422
/// with each problem's line and column. Needs
/// `organization_personal_access_token_review_rules: read`.
#[utoipa::path(
    operation_id = "patgate/dry-run-review-rules", tag = "patgate", params(OrgPath),
    request_body = DryRunBody,
    responses(
        (status = 200, description = "What the candidate would do", body = DryRunDto),
        NotFoundErrors, MalformedJson,
        (status = 422, description = "Invalid rules (each problem with its line and column) or malformed cases", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[post("/orgs/{org}/personal-access-token-review-rules/dry-run")]
pub async fn dry_run_review_rules(call: Call<OrgPath>, payload: RawBody) -> Reply {
    let input = body::read::<DryRunBody, Candidate>(&payload, RESOURCE);
    let dto = call
        .in_org(Operation::ReadReviewRules)
        .read(move |conn, org| {
            let candidate = input?;
            let at = patgate_persistence::now();
            let situation = review_rules::situation(conn, org.id, at)?;
            let (set, results) = check(&candidate, &situation)?;
            let run = review_rules::dry_run(conn, org.id, &set, at)?;
            let unmatched = unmatched(&set, &results, run.requests.iter().map(|c| &c.candidate));
            // Each decision moves into the answer: a dry-run over many pending requests holds
            // them once.
            let requests: Vec<DryRunRequestDto> = run
                .requests
                .into_iter()
                .map(|c| DryRunRequestDto {
                    pat_request_id: c.request_id,
                    changed: changed(c.current.as_ref(), &c.candidate),
                    current: c.current.map(RuleDecisionDto::from),
                    candidate: RuleDecisionDto::from(c.candidate),
                })
                .collect();
            let (current_version, current_mode) = run
                .current
                .map_or((0, RulesMode::Off), |(v, m)| (v, RulesMode::of(m)));
            Ok(DryRunDto {
                current_version,
                current_mode,
                pending: requests.len(),
                changed: requests.iter().filter(|r| r.changed).count(),
                requests,
                grants_checked: run.grants_checked,
                grants_refused: run
                    .grants
                    .into_iter()
                    .map(|g| DryRunGrantDto {
                        grant_id: g.grant_id,
                        pat_request_id: g.request_id,
                        rules: g.decision.rules,
                        reasons: g.decision.reasons,
                    })
                    .collect(),
                rules: set.rules().iter().map(RuleDto::from).collect(),
                case_results: results.iter().map(CaseResultDto::from).collect(),
                unmatched_rules: unmatched,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(dto))
}
