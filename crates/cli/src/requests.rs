//! `requests list | show | approve | deny`.

use patgate_client::types::{
    MinimalRepository, PatGrantRequest, ReviewActionName, ReviewPatGrantRequestBody,
    ReviewPatGrantRequestsInBulkBody,
};
use serde::Serialize;

use crate::actions::{self, Action, APPROVE, DENY};
use crate::args::{RequestsCommand, ReviewArgs};
use crate::error::{call, CliError};
use crate::output::{self, Listing};
use crate::pages::{self, Paging, MAX_PER_PAGE};
use crate::{table, Ctx};

pub async fn run(ctx: &Ctx, command: &RequestsCommand) -> Result<(), CliError> {
    match command {
        RequestsCommand::List(args) => list(ctx, args).await,
        RequestsCommand::Show { id } => show(ctx, *id).await,
        RequestsCommand::Approve(args) => {
            review(ctx, &APPROVE, ReviewActionName::Approve, args).await
        }
        RequestsCommand::Deny(args) => review(ctx, &DENY, ReviewActionName::Deny, args).await,
    }
}

crate::lists::filtered_list!(
    "requests",
    PatGrantRequest,
    orgs_list_pat_grant_requests,
    table::REQUEST_HEADERS,
    table::request_row
);

#[derive(Debug, Serialize)]
struct Shown<'a> {
    request: &'a PatGrantRequest,
    repositories: &'a [MinimalRepository],
}

/// The request (found among the pending ones) and every repository it asks for. The
/// repositories come first: an unknown id is a 404 there, before the list is searched.
async fn show(ctx: &Ctx, id: i64) -> Result<(), CliError> {
    let what = format!("the repositories of request {id}");
    let fetch = |page| {
        ctx.client
            .orgs_list_pat_grant_request_repositories(&ctx.org, id, page, Some(MAX_PER_PAGE))
    };
    let repositories = pages::collect(&what, Paging::everything(ctx.progress), fetch).await?;
    let request = find(ctx, &APPROVE, &[id])
        .await
        .map_err(|e| match e {
            CliError::Invalid(_) => CliError::NotFound(format!(
                "request {id} is not pending: only pending requests can be shown"
            )),
            other => other,
        })?
        .pop()
        .ok_or_else(|| CliError::NotFound(format!("request {id} is not pending")))?;
    if ctx.json {
        return output::json(&Shown {
            request: &request,
            repositories: &repositories,
        });
    }
    let repos = Listing {
        items: &repositories,
        headers: &table::REPOSITORY_HEADERS,
        row: table::repository_row,
    };
    output::print(&format!(
        "{}\n{}",
        table::request_details(&request),
        repos.table()
    ))
}

/// Approves or denies: one id through the single review endpoint, several through the bulk
/// endpoint; with `--dry-run`, checks that each is pending and reports instead.
async fn review(
    ctx: &Ctx,
    action: &Action,
    decision: ReviewActionName,
    args: &ReviewArgs,
) -> Result<(), CliError> {
    let reason = args.reason.as_deref();
    if args.dry_run {
        let found = find(ctx, action, &args.ids).await?;
        return actions::report(ctx.json, action, &args.ids, reason, Some(&listing(&found)));
    }
    let bad_reason = |e: patgate_client::types::error::ConversionError| {
        CliError::Usage(format!("--reason: {e}"))
    };
    if let [id] = args.ids[..] {
        let body = ReviewPatGrantRequestBody {
            action: decision,
            reason: reason.map(str::parse).transpose().map_err(bad_reason)?,
        };
        call(
            || format!("{} request {id}", action.doing),
            ctx.client
                .orgs_review_pat_grant_request(&ctx.org, id, &body),
        )
        .await?;
    } else {
        let body = ReviewPatGrantRequestsInBulkBody {
            action: decision,
            pat_request_ids: args.ids.clone(),
            reason: reason.map(str::parse).transpose().map_err(bad_reason)?,
        };
        call(
            || format!("{} requests", action.doing),
            ctx.client
                .orgs_review_pat_grant_requests_in_bulk(&ctx.org, &body),
        )
        .await?;
    }
    actions::report::<PatGrantRequest>(ctx.json, action, &args.ids, reason, None)
}
