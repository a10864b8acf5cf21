//! `grants list | revoke`.

use patgate_client::types::{GrantActionName, PatGrant, UpdatePatAccessesBody};

use crate::actions::{self, REVOKE};
use crate::args::{GrantsCommand, RevokeArgs};
use crate::error::{call, CliError};
use crate::{table, Ctx};

pub async fn run(ctx: &Ctx, command: &GrantsCommand) -> Result<(), CliError> {
    match command {
        GrantsCommand::List(args) => list(ctx, args).await,
        GrantsCommand::Revoke(args) => revoke(ctx, args).await,
    }
}

crate::lists::filtered_list!(
    "grants",
    PatGrant,
    orgs_list_pat_grants,
    table::GRANT_HEADERS,
    table::grant_row
);

/// Revokes through the bulk endpoint; with `--dry-run`, checks that each grant is active and
/// reports instead.
async fn revoke(ctx: &Ctx, args: &RevokeArgs) -> Result<(), CliError> {
    let reason = args.reason.as_deref();
    if args.dry_run {
        let found = find(ctx, &REVOKE, &args.ids).await?;
        return actions::report(ctx.json, &REVOKE, &args.ids, reason, Some(&listing(&found)));
    }
    let bad_reason = |e: patgate_client::types::error::ConversionError| {
        CliError::Usage(format!("--reason: {e}"))
    };
    let body = UpdatePatAccessesBody {
        action: GrantActionName::Revoke,
        pat_ids: args.ids.clone(),
        reason: reason.map(str::parse).transpose().map_err(bad_reason)?,
    };
    call(
        || "revoking grants".to_owned(),
        ctx.client.orgs_update_pat_accesses(&ctx.org, &body),
    )
    .await?;
    actions::report::<PatGrant>(ctx.json, &REVOKE, &args.ids, reason, None)
}
