//! Walking a list page by page, following `Link: rel="next"`, with progress on stderr.

use std::collections::BTreeSet;
use std::future::Future;
use std::num::NonZeroU64;
use std::ops::ControlFlow;

use patgate_client::ResponseValue;

use crate::error::{call, CliError, ClientError};
use crate::link;

/// The largest page the API serves.
pub const MAX_PER_PAGE: NonZeroU64 = NonZeroU64::new(100).expect("non-zero");

/// Which pages to fetch.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// The first page to fetch (the API's default, 1, when `None`).
    pub first: Option<NonZeroU64>,
    /// Follow `rel="next"` to the end, rather than stop after the first page.
    pub all: bool,
    /// Report each page on stderr.
    pub progress: bool,
}

impl Paging {
    /// Every page from the first.
    pub fn everything(progress: bool) -> Paging {
        Paging {
            first: None,
            all: true,
            progress,
        }
    }
}

/// Fetches pages with `fetch(page)`, handing each to `on_page`, until the list ends, `paging`
/// says stop, or `on_page` breaks. The next page is the one the response's `Link` header
/// names as `rel="next"`; a link that does not move forward ends the walk.
pub async fn walk<T, F, Fut>(
    what: &str,
    paging: Paging,
    mut fetch: F,
    mut on_page: impl FnMut(Vec<T>) -> ControlFlow<()>,
) -> Result<(), CliError>
where
    F: FnMut(Option<NonZeroU64>) -> Fut,
    Fut: Future<Output = Result<ResponseValue<Vec<T>>, ClientError>>,
{
    let mut page = paging.first;
    let mut fetched = 0_u64;
    let mut rows = 0_usize;
    loop {
        let res = call(|| format!("listing {what}"), fetch(page)).await?;
        let next = link::next_page(res.headers());
        let items = res.into_inner();
        fetched += 1;
        rows += items.len();
        if paging.progress {
            eprintln!("patgate-ci: {what}: page {fetched}, {rows} rows");
        }
        if on_page(items).is_break() || !paging.all {
            return Ok(());
        }
        let current = page.map_or(1, NonZeroU64::get);
        match next {
            Some(n) if n.get() > current => page = Some(n),
            _ => return Ok(()),
        }
    }
}

/// Every item of the pages `paging` selects.
pub async fn collect<T, F, Fut>(what: &str, paging: Paging, fetch: F) -> Result<Vec<T>, CliError>
where
    F: FnMut(Option<NonZeroU64>) -> Fut,
    Fut: Future<Output = Result<ResponseValue<Vec<T>>, ClientError>>,
{
    let mut all = Vec::new();
    walk(what, paging, fetch, keep_all(&mut all)).await?;
    Ok(all)
}

/// A page handler that keeps every item.
pub fn keep_all<T>(all: &mut Vec<T>) -> impl FnMut(Vec<T>) -> ControlFlow<()> + '_ {
    |items| {
        all.extend(items);
        ControlFlow::Continue(())
    }
}

/// A page handler that keeps the items whose id is in `wanted` and stops once all are found.
pub fn gather<'a, T>(
    wanted: &'a BTreeSet<i64>,
    found: &'a mut Vec<T>,
    id_of: fn(&T) -> i64,
) -> impl FnMut(Vec<T>) -> ControlFlow<()> + 'a {
    move |items| {
        found.extend(
            items
                .into_iter()
                .filter(|item| wanted.contains(&id_of(item))),
        );
        if found.len() >= wanted.len() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}
