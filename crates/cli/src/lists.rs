//! The two filtered lists, requests and grants: walking their pages, printing them, and finding ids among them.

/// Defines, in the calling module, for one of the generated client's filtered list operations
/// (both take the same filters in the same order; only their item and enum types differ):
/// - `listing(items)`: the items with their table's headers and row;
/// - `walk(ctx, args, paging, on_page)`: the items that match `args`, page by page;
/// - `list(ctx, args)`: prints the pages `args` asks for, as a table or JSON;
/// - `find(ctx, action, ids)`: the items among `ids`, in that order, read from every page, or
///   the error the bulk endpoint would give (for `--dry-run`).
macro_rules! filtered_list {
    ($what:literal, $item:ty, $operation:ident, $headers:expr, $row:path) => {
        fn listing(items: &[$item]) -> $crate::output::Listing<'_, $item> {
            $crate::output::Listing {
                items,
                headers: &$headers,
                row: $row,
            }
        }

        async fn walk(
            ctx: &$crate::Ctx,
            args: &$crate::args::ListArgs,
            paging: $crate::pages::Paging,
            on_page: impl FnMut(Vec<$item>) -> std::ops::ControlFlow<()>,
        ) -> Result<(), $crate::error::CliError> {
            let (owners, token_ids) = (args.owners(), args.token_ids());
            let fetch = |page| {
                ctx.client.$operation(
                    &ctx.org,
                    args.direction.map(Into::into),
                    args.last_used_after.as_deref(),
                    args.last_used_before.as_deref(),
                    owners.as_ref(),
                    page,
                    args.page_size(),
                    args.permission.as_deref(),
                    args.repository.as_deref(),
                    args.sort.map(Into::into),
                    token_ids.as_ref(),
                )
            };
            $crate::pages::walk($what, paging, fetch, on_page).await
        }

        async fn list(
            ctx: &$crate::Ctx,
            args: &$crate::args::ListArgs,
        ) -> Result<(), $crate::error::CliError> {
            let mut items = Vec::new();
            let keep = $crate::pages::keep_all(&mut items);
            walk(ctx, args, ctx.paging(args), keep).await?;
            $crate::output::list(ctx.json, &listing(&items))
        }

        async fn find(
            ctx: &$crate::Ctx,
            action: &$crate::actions::Action,
            ids: &[i64],
        ) -> Result<Vec<$item>, $crate::error::CliError> {
            let wanted: std::collections::BTreeSet<i64> = ids.iter().copied().collect();
            let mut found: Vec<$item> = Vec::new();
            let gather = $crate::pages::gather(&wanted, &mut found, |item| item.id);
            let everything = $crate::args::ListArgs::everything();
            let paging = $crate::pages::Paging::everything(ctx.progress);
            walk(ctx, &everything, paging, gather).await?;
            $crate::actions::check_found(action, ids, found, |item| item.id)
        }
    };
}

pub(crate) use filtered_list;
