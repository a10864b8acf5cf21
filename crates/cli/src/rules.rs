//! `rules validate | dry-run | apply`: an organization's review rules, kept in a repository and
//! applied from a pipeline.

use std::path::Path;

use patgate_client::types::{
    CaseResultDto, DryRunBody, DryRunDto, ReviewRulesBody, RuleCase, RulesMode,
};
use serde::Serialize;

use crate::args::{RulesArgs, RulesCommand, RulesModeArg};
use crate::error::{call, CliError};
use crate::{output, table, Ctx};

pub async fn run(ctx: &Ctx, command: &RulesCommand) -> Result<(), CliError> {
    match command {
        RulesCommand::Validate(args) => validate(ctx, args).await,
        RulesCommand::DryRun(args) => dry_run(ctx, args).await,
        RulesCommand::Apply {
            rules,
            mode,
            if_match,
        } => apply(ctx, rules, *mode, if_match.as_deref()).await,
    }
}

/// The Cedar source and the cases (a JSON array) the arguments name.
fn read(args: &RulesArgs) -> Result<(String, Vec<RuleCase>), CliError> {
    let source = read_file(&args.file)?;
    let cases = match &args.cases {
        Some(path) => serde_json::from_str(&read_file(path)?).map_err(|e| {
            CliError::Usage(format!(
                "{}: not a JSON array of cases: {e}",
                path.display()
            ))
        })?,
        None => Vec::new(),
    };
    Ok((source, cases))
}

fn read_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

async fn try_candidate(ctx: &Ctx, args: &RulesArgs) -> Result<DryRunDto, CliError> {
    let (source, cases) = read(args)?;
    let body = DryRunBody { source, cases };
    let res = call(
        || format!("checking {}", args.file.display()),
        ctx.client.patgate_dry_run_review_rules(&ctx.org, &body),
    )
    .await?;
    Ok(res.into_inner())
}

/// The cases that failed, as lines; an error (exit 6) when there is any.
fn failed_cases(results: &[CaseResultDto]) -> Result<(), CliError> {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| {
            format!(
                "case {:?} expected {}, got {} [{}]",
                r.name,
                r.expected.outcome,
                r.decision.outcome,
                r.decision.rules.join(", ")
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Invalid(format!(
            "{} of {} cases failed:\n  {}",
            failed.len(),
            results.len(),
            failed.join("\n  ")
        )))
    }
}

#[derive(Debug, Serialize)]
struct Validated<'a> {
    valid: bool,
    rules: usize,
    cases: &'a [CaseResultDto],
    unmatched_rules: &'a [String],
}

/// Parses and validates the rules on the server (schema, ids, reasons) and runs their cases.
async fn validate(ctx: &Ctx, args: &RulesArgs) -> Result<(), CliError> {
    let run = try_candidate(ctx, args).await?;
    failed_cases(&run.case_results)?;
    if ctx.json {
        return output::json(&Validated {
            valid: true,
            rules: run.rules.len(),
            cases: &run.case_results,
            unmatched_rules: &run.unmatched_rules,
        });
    }
    let mut text = format!(
        "{}: {} rules valid, {} cases passed\n",
        args.file.display(),
        run.rules.len(),
        run.case_results.len()
    );
    if !run.unmatched_rules.is_empty() {
        text.push_str(&format!(
            "rules that match no case and no pending request: {}\n",
            run.unmatched_rules.join(", ")
        ));
    }
    output::print(&text)
}

/// What the candidate would change; exit 8 when any pending request's outcome would change.
async fn dry_run(ctx: &Ctx, args: &RulesArgs) -> Result<(), CliError> {
    let run = try_candidate(ctx, args).await?;
    failed_cases(&run.case_results)?;
    if ctx.json {
        output::json(&run)?;
    } else {
        output::print(&table::dry_run(&run))?;
    }
    if run.changed > 0 {
        return Err(CliError::Changes(format!(
            "{} of {} pending requests would change",
            run.changed, run.pending
        )));
    }
    Ok(())
}

/// Saves the rules as the next version, over the one in force (or the one `if_match` names).
async fn apply(
    ctx: &Ctx,
    args: &RulesArgs,
    mode: RulesModeArg,
    if_match: Option<&str>,
) -> Result<(), CliError> {
    let (source, cases) = read(args)?;
    let if_match = match if_match {
        Some(tag) => tag.to_owned(),
        None => {
            let current = call(
                || "reading the rules in force".to_owned(),
                ctx.client.patgate_get_review_rules(&ctx.org),
            )
            .await?;
            format!("\"v{}\"", current.into_inner().version)
        }
    };
    let body = ReviewRulesBody {
        mode: match mode {
            RulesModeArg::Off => RulesMode::Off,
            RulesModeArg::Shadow => RulesMode::Shadow,
            RulesModeArg::Enforce => RulesMode::Enforce,
        },
        source,
        cases,
    };
    let saved = call(
        || format!("saving {}", args.file.display()),
        ctx.client
            .patgate_set_review_rules(&ctx.org, &if_match, &body),
    )
    .await?
    .into_inner();
    if ctx.json {
        return output::json(&saved);
    }
    output::print(&format!(
        "saved version {} ({}), {} rules, {} cases passed\n",
        saved.version,
        saved.mode,
        saved.rules.len(),
        saved.case_results.as_ref().map_or(0, Vec::len)
    ))
}
