//! Query plans: the statements `list_pending` really sends, captured and EXPLAINed, use an index on `pat_requests` rather than a full scan.

use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamp};
use diesel::sqlite::Sqlite;
use patgate_persistence::requests::{self, ListFilter};
use patgate_persistence::schema::{
    installations, pat_request_permissions, pat_request_repositories, pat_requests, repositories,
    tokens, users,
};
use patgate_persistence::starts::Starts;
use patgate_persistence::{Backend, Db, DbConnection, Page, StoreError};

use crate::common::{app, org, t, write};

const ORGS: usize = 20;
const TOKENS: usize = 150;
const REPOS: usize = 10;
#[rustfmt::skip]
const PERMISSIONS: [&str; 10] = [
    "issues_read", "issues_write", "contents_read", "contents_write", "metadata_read",
    "pull_requests_read", "pull_requests_write", "members_read", "administration_write", "actions_read",
];
const CHUNK: usize = 500;

/// The organization whose lists are explained (one in the middle).
const LISTED: usize = 7;

/// What was seeded: every organization's id, and the ids of a few tokens.
#[derive(Debug)]
struct Seeded {
    org_ids: Vec<i64>,
    token_ids: Vec<i64>,
}

/// 20 organizations, 150 users with one token each, 10 repositories per organization, and
/// per organization one pending and one closed request per token (6000 requests), with
/// their repository and permission rows; all in one transaction.
fn seed(db: &Db) -> Seeded {
    write(db, |c| {
        let app = app(c)?;
        let mut org_ids = Vec::new();
        for o in 0..ORGS {
            org_ids.push(org(c, &format!("org-{o}"), &app)?.id());
        }
        let new_users: Vec<_> = (0..TOKENS)
            .map(|u| {
                let login = format!("user-{u}");
                (
                    users::login.eq(login.clone()),
                    users::login_key.eq(login),
                    users::site_admin.eq(false),
                    users::created_at.eq(t(0)),
                )
            })
            .collect();
        insert_chunks!(c, users::table, new_users, CHUNK);
        let user_ids: Vec<i64> = users::table.order(users::id).select(users::id).load(c)?;
        let new_tokens: Vec<_> = user_ids
            .iter()
            .enumerate()
            .map(|(k, owner_id)| {
                let last_used = (k % 5 != 0).then(|| t(i64::try_from(k).expect("small") * 10));
                (
                    tokens::owner_id.eq(*owner_id),
                    tokens::name.eq("laptop"),
                    tokens::last_used_at.eq(last_used),
                    tokens::created_at.eq(t(0)),
                )
            })
            .collect();
        insert_chunks!(c, tokens::table, new_tokens, CHUNK);
        let toks: Vec<(i64, i64, Option<NaiveDateTime>)> = tokens::table
            .order(tokens::id)
            .select((tokens::id, tokens::owner_id, tokens::last_used_at))
            .load(c)?;

        let mut new_repos = Vec::new();
        for org_id in &org_ids {
            for r in 0..REPOS {
                let name = format!("repo-{r}");
                new_repos.push((
                    repositories::org_id.eq(*org_id),
                    repositories::name.eq(name.clone()),
                    repositories::name_key.eq(name),
                    repositories::private.eq(true),
                    repositories::created_at.eq(t(0)),
                ));
            }
        }
        insert_chunks!(c, repositories::table, new_repos, CHUNK);

        let mut new_requests = Vec::new();
        for (o, org_id) in org_ids.iter().enumerate() {
            for (k, (token_id, owner_id, last_used)) in toks.iter().enumerate() {
                let base = i64::try_from(o * TOKENS + k).expect("small");
                for (status, minutes) in [
                    (if k % 2 == 0 { "approved" } else { "denied" }, base),
                    ("pending", 100_000 + (base * 7919) % 50_000),
                ] {
                    new_requests.push((
                        pat_requests::org_id.eq(*org_id),
                        pat_requests::token_id.eq(*token_id),
                        pat_requests::owner_id.eq(*owner_id),
                        pat_requests::status.eq(status),
                        pat_requests::repository_selection.eq(["all", "subset", "none"][k % 3]),
                        pat_requests::permissions
                            .eq(r#"{"repository":{"issues":"read","contents":"read"}}"#),
                        pat_requests::created_at.eq(t(minutes)),
                        pat_requests::token_last_used_at.eq(*last_used),
                    ));
                }
            }
        }
        insert_chunks!(c, pat_requests::table, new_requests, CHUNK);

        let rows: Vec<(i64, i64, i64, String)> = pat_requests::table
            .order(pat_requests::id)
            .select((
                pat_requests::id,
                pat_requests::org_id,
                pat_requests::token_id,
                pat_requests::repository_selection,
            ))
            .load(c)?;
        let repo_rows: Vec<(i64, i64)> = repositories::table
            .order(repositories::id)
            .select((repositories::id, repositories::org_id))
            .load(c)?;
        let mut permission_rows = Vec::new();
        let mut repository_rows = Vec::new();
        for (id, org_id, token_id, selection) in &rows {
            let k = usize::try_from(*token_id).expect("positive id");
            for p in [k % 10, (k + 3) % 10, (k + 7) % 10] {
                permission_rows.push((
                    pat_request_permissions::request_id.eq(*id),
                    pat_request_permissions::org_id.eq(*org_id),
                    pat_request_permissions::permission.eq(PERMISSIONS[p]),
                ));
            }
            if selection == "subset" {
                let of_org: Vec<i64> = repo_rows
                    .iter()
                    .filter(|(_, o)| o == org_id)
                    .map(|(r, _)| *r)
                    .collect();
                for r in [k % REPOS, (k + 4) % REPOS] {
                    repository_rows.push((
                        pat_request_repositories::request_id.eq(*id),
                        pat_request_repositories::repository_id.eq(of_org[r]),
                    ));
                }
            }
        }
        insert_chunks!(c, pat_request_permissions::table, permission_rows, CHUNK);
        insert_chunks!(c, pat_request_repositories::table, repository_rows, CHUNK);
        Ok(Seeded {
            org_ids,
            token_ids: toks.iter().map(|(id, _, _)| *id).collect(),
        })
    })
}

/// The filters whose plans are checked, named (each on the first page, but the third page).
fn filters(seeded: &Seeded) -> Vec<(&'static str, ListFilter, Page)> {
    let first = Page {
        page: 1,
        per_page: 30,
    };
    let tokens = &seeded.token_ids;
    let filter = |set: &dyn Fn(&mut ListFilter)| {
        let mut filter = ListFilter::default();
        set(&mut filter);
        filter
    };
    let mut named: Vec<(&'static str, ListFilter, Page)> = [
        ("no filter", filter(&|_| {})),
        ("ascending", filter(&|f| f.ascending = true)),
        (
            "owners",
            filter(&|f| f.owner_keys = vec!["user-3".into(), "user-42".into()]),
        ),
        (
            "one owner",
            filter(&|f| f.owner_keys = vec!["user-42".into()]),
        ),
        (
            "token ids",
            filter(&|f| {
                f.token_ids = vec![tokens[1], tokens[17], tokens[99], tokens[120], tokens[149]];
            }),
        ),
        (
            "last used before",
            filter(&|f| f.last_used_before = Some(t(300))),
        ),
        (
            "last used after",
            filter(&|f| f.last_used_after = Some(t(1200))),
        ),
        (
            "permission",
            filter(&|f| f.permission = Some("issues_read".into())),
        ),
        (
            "repository",
            filter(&|f| f.repository_key = Some("repo-3".into())),
        ),
        (
            "owners and permission",
            filter(&|f| {
                f.owner_keys = vec!["user-3".into(), "user-42".into(), "user-77".into()];
                f.permission = Some("issues_write".into());
            }),
        ),
        (
            "repository and last used before",
            filter(&|f| {
                f.repository_key = Some("repo-5".into());
                f.last_used_before = Some(t(700));
            }),
        ),
        (
            "every filter",
            ListFilter {
                owner_keys: vec!["user-3".into(), "user-8".into()],
                repository_key: Some("repo-3".into()),
                permission: Some("issues_write".into()),
                last_used_before: Some(t(1400)),
                last_used_after: Some(t(10)),
                token_ids: tokens[..40].to_vec(),
                ascending: true,
            },
        ),
    ]
    .into_iter()
    .map(|(name, filter)| (name, filter, first))
    .collect();
    let third = Page {
        page: 3,
        per_page: 30,
    };
    named.insert(2, ("third page", ListFilter::default(), third));
    named
}

/// Runs `f` on `conn` and returns its result with the SQL statements it sent (with their
/// binds, as diesel displays them).
pub(crate) fn capture<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> T,
) -> (T, Vec<String>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(query.to_string());
        }
    });
    let result = f(conn);
    conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    let statements = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (result, statements)
}

/// The SQL statements (with their binds, as diesel displays them) that `list_pending` sends.
fn captured_statements(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &ListFilter,
    page: Page,
) -> Vec<String> {
    let (listed, statements) = capture(conn, |c| {
        requests::list_pending(c, org_id, filter, page, &Starts::none())
    });
    let (views, total) = listed.expect("list_pending");
    assert!(
        total.count() > 0 && !views.is_empty(),
        "the filter {filter:?} selects something"
    );
    // The cost of a page must not grow with the list: within the list, a bounded window is
    // read (`COUNT_AHEAD_PAGES`) instead of counting every matching row.
    assert!(
        !statements.iter().any(|s| s.contains("COUNT(*)")),
        "a page within the list counts no rows: {statements:?}"
    );
    statements
}

/// A bind value as diesel displays it after `-- binds: `.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Bool(bool),
    Int(i64),
    Text(String),
    Time(NaiveDateTime),
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

/// Splits a displayed statement into its SQL and its binds.
pub(crate) fn split_binds(displayed: &str) -> (String, Vec<Bind>) {
    let (sql, binds) = displayed
        .rsplit_once(" -- binds: ")
        .unwrap_or_else(|| panic!("no binds in {displayed}"));
    let inner = binds
        .trim()
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or_else(|| panic!("binds are not a list: {binds}"));
    (
        sql.to_owned(),
        top_level(inner).iter().map(|b| parse_bind(b)).collect(),
    )
}

/// The comma-separated items of a list, ignoring commas inside brackets and strings.
fn top_level(list: &str) -> Vec<String> {
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut current) = (0, false, String::new());
    for ch in list.chars() {
        match ch {
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    if !current.trim().is_empty() {
        items.push(current.trim().to_owned());
    }
    items
}

fn parse_bind(raw: &str) -> Bind {
    if let Some(list) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let items = top_level(list);
        return if items.iter().all(|i| i.starts_with('"')) {
            Bind::Texts(items.iter().map(|i| unquote(i)).collect())
        } else {
            Bind::Ints(
                items
                    .iter()
                    .map(|i| i.parse().unwrap_or_else(|_| panic!("bind {i} in {raw}")))
                    .collect(),
            )
        };
    }
    if raw.starts_with('"') {
        return Bind::Text(unquote(raw));
    }
    if let Ok(n) = raw.parse() {
        return Bind::Int(n);
    }
    if let Ok(b) = raw.parse() {
        return Bind::Bool(b);
    }
    Bind::Time(
        raw.parse()
            .unwrap_or_else(|e| panic!("unexpected bind {raw}: {e}")),
    )
}

fn unquote(raw: &str) -> String {
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a string bind: {raw}"));
    assert!(!inner.contains('\\'), "escapes are not expected: {raw}");
    inner.to_owned()
}

#[derive(Debug, QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(Debug, QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// `$init` (an SQL query) boxed for backend `$db` as `$query`, with `$binds` bound in order:
/// the scalar binds both backends take, then the arms `$arrays` (on `$query`) for arrays.
macro_rules! bind_all {
    ($query:ident = $init:expr, $db:ty, $binds:expr, { $($arrays:tt)* }) => {{
        let mut $query: BoxedSqlQuery<'_, $db, _> = $init.into_boxed();
        for bind in $binds {
            $query = match bind.clone() {
                Bind::Bool(v) => $query.bind::<Bool, _>(v),
                Bind::Int(v) => $query.bind::<BigInt, _>(v),
                Bind::Text(v) => $query.bind::<Text, _>(v),
                Bind::Time(v) => $query.bind::<Timestamp, _>(v),
                $($arrays)*
            };
        }
        $query
    }};
}

/// The plan of `sql` with its `binds`: SQLite's `EXPLAIN QUERY PLAN` details, PostgreSQL's
/// `EXPLAIN` lines.
pub(crate) fn explain(conn: &mut DbConnection, sql: &str, binds: &[Bind]) -> Vec<String> {
    match conn {
        DbConnection::Sqlite(conn) => {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            bind_all!(query = diesel::sql_query(&explain), Sqlite, binds, {
                other => panic!("SQLite statements have no array binds: {other:?}"),
            })
            .load::<SqlitePlanLine>(conn)
            .unwrap_or_else(|e| panic!("{explain}: {e}"))
            .into_iter()
            .map(|l| l.detail)
            .collect()
        }
        DbConnection::Postgresql(conn) => {
            let explain = format!("EXPLAIN (FORMAT TEXT) {sql}");
            bind_all!(query = diesel::sql_query(&explain), Pg, binds, {
                Bind::Ints(v) => query.bind::<Array<BigInt>, _>(v),
                Bind::Texts(v) => query.bind::<Array<Text>, _>(v),
            })
            .load::<PgPlanLine>(conn)
            .unwrap_or_else(|e| panic!("{explain}: {e}"))
            .into_iter()
            .map(|l| l.line)
            .collect()
        }
    }
}

/// Plan lines that read the whole of `table` (or the whole of one of its indexes), but for
/// the lines `skip` passes over.
///
/// SQLite: `SEARCH table ...` is a bounded lookup; any `SCAN table`, even
/// `USING (COVERING) INDEX`, reads the table or a whole index, for every organization.
/// PostgreSQL: a `Seq Scan on table`, or an index scan on it without an `Index Cond`
/// (a full index scan used for its order).
pub(crate) fn full_scans_of(
    backend: Backend,
    table: &str,
    plan: &[String],
    skip: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut found = Vec::new();
    for (i, line) in plan.iter().enumerate() {
        if skip(line) {
            continue;
        }
        let full = match backend {
            Backend::Sqlite => line.trim().starts_with(&format!("SCAN {table}")),
            Backend::Postgres => {
                let index_scan = (line.contains("Index Scan") || line.contains("Index Only Scan"))
                    && line.contains(&format!(" on {table} "));
                line.contains(&format!("Seq Scan on {table}"))
                    || (index_scan
                        && !plan
                            .get(i + 1)
                            .is_some_and(|next| next.trim().starts_with("Index Cond:")))
            }
        };
        if full {
            found.push(line.clone());
        }
    }
    found
}

/// Plan lines that read the whole of `pat_requests` (or the whole of one of its indexes).
fn full_scans(backend: Backend, plan: &[String]) -> Vec<String> {
    full_scans_of(backend, "pat_requests", plan, |_| false)
}

/// Filters whose page SQLite reads in list order from an index, with no sort.
const WALKED_IN_ORDER: [&str; 8] = [
    "no filter",
    "ascending",
    "third page",
    "one owner",
    "last used before",
    "last used after",
    "permission",
    "repository",
];

/// Filters whose walk SQLite must make in the list's index alone: the columns they test are
/// carried in it (migration `2026-11-24-000007_covering_list_indexes`), so no row is read
/// from the table until the page's own rows are loaded.
const WALKED_IN_THE_INDEX: [&str; 3] = ["repository", "last used before", "last used after"];

/// The plan of a statement as diesel displays it (SQL, then its binds).
pub(crate) fn plan_of(conn: &mut DbConnection, displayed: &str) -> Vec<String> {
    let (sql, binds) = split_binds(displayed);
    explain(conn, &sql, &binds)
}

/// The offending plans `find` reports on `db`: for SQLite both before statistics (a new
/// database has none, and the plans must already be right) and after `ANALYZE`; for
/// PostgreSQL after it.
pub(crate) fn before_and_after_analyze(db: &Db, find: impl Fn(&str) -> Vec<String>) -> Vec<String> {
    let mut offending = Vec::new();
    if db.backend() == Backend::Sqlite {
        offending.extend(find("before ANALYZE"));
    }
    let mut conn = db.conn().expect("a pooled connection");
    conn.batch_execute("ANALYZE")
        .map_err(StoreError::from)
        .expect("ANALYZE");
    drop(conn);
    offending.extend(find("after ANALYZE"));
    offending
}

/// Explains every statement `list_pending` sends for each filter; returns the offending plans.
fn offending_plans(db: &Db, seeded: &Seeded, stage: &str) -> Vec<String> {
    let org_id = seeded.org_ids[LISTED];
    let mut conn = db.conn().expect("a pooled connection");
    let conn: &mut DbConnection = &mut conn;
    let mut offending = Vec::new();
    for (name, filter, page) in filters(seeded) {
        // The count behind `rel="last"` far from the end (kept until the data changes) walks
        // the same index as the page: EXPLAINed with the same rules but the sort's.
        let (counted, counts) = capture(conn, |c| requests::count_pending(c, org_id, &filter));
        assert!(
            counted.expect("count_pending") > 0,
            "{name} counts something"
        );
        for displayed in counts {
            if !displayed.starts_with("SELECT") {
                continue;
            }
            let plan = plan_of(conn, &displayed);
            let hashes = plan.iter().any(|l| l.contains("hashed SubPlan"));
            if hashes || !full_scans(db.backend(), &plan).is_empty() {
                offending.push(format!(
                    "{stage} / {name} (count):\n{displayed}\n{}",
                    plan.join("\n")
                ));
            }
        }
        for displayed in captured_statements(conn, org_id, &filter, page) {
            if !displayed.starts_with("SELECT") {
                continue;
            }
            let plan = plan_of(conn, &displayed);
            if std::env::var_os("PATGATE_SHOW_PLANS").is_some() {
                eprintln!("--- {stage} / {name}\n{displayed}\n{}\n", plan.join("\n"));
            }
            // SQLite must walk these lists in their order and stop when the page (and the
            // pages counted ahead) are full, not collect every match and sort it: that grows
            // with the list.
            let sorts = db.backend() == Backend::Sqlite
                && WALKED_IN_ORDER.contains(&name)
                && plan.iter().any(|l| l.contains("TEMP B-TREE FOR ORDER BY"));
            let window = displayed.starts_with("SELECT `pat_requests`.`id` FROM `pat_requests`");
            let reads_rows = db.backend() == Backend::Sqlite
                && WALKED_IN_THE_INDEX.contains(&name)
                && window
                && !plan
                    .iter()
                    .any(|l| l.starts_with("SEARCH pat_requests USING COVERING INDEX"));
            // PostgreSQL must probe per row walked, not hash every row a subquery matches in
            // the organization first: that grows with the data (the repository filter's
            // `OFFSET 0`, crates/persistence/src/filters.rs).
            let hashes = plan.iter().any(|l| l.contains("hashed SubPlan"));
            if sorts || reads_rows || hashes || !full_scans(db.backend(), &plan).is_empty() {
                offending.push(format!(
                    "{stage} / {name}:\n{displayed}\n{}",
                    plan.join("\n")
                ));
            }
        }
    }
    offending
}

fn the_list_queries_use_an_index_for_every_common_filter(db: &Db) {
    let seeded = seed(db);
    let offending = before_and_after_analyze(db, |stage| offending_plans(db, &seeded, stage));
    assert!(
        offending.is_empty(),
        "full scans of pat_requests:\n\n{}",
        offending.join("\n\n")
    );
}
both_backends!(the_list_queries_use_an_index_for_every_common_filter);

/// The N+1 guard: a page costs the same number of statements whatever its size, and few.
fn a_page_costs_a_fixed_number_of_statements_whatever_its_size(db: &Db) {
    let seeded = seed(db);
    let mut conn = db.conn().expect("a pooled connection");
    let org = seeded.org_ids[0];
    for (name, filter, _) in filters(&seeded) {
        let small = captured_statements(
            &mut conn,
            org,
            &filter,
            Page {
                page: 1,
                per_page: 2,
            },
        );
        let large = captured_statements(
            &mut conn,
            org,
            &filter,
            Page {
                page: 1,
                per_page: 100,
            },
        );
        assert_eq!(
            small.len(),
            large.len(),
            "{name}: statements grow with the page size:\n{large:#?}"
        );
        assert!(
            large.len() <= 4,
            "{name}: {} statements:\n{large:#?}",
            large.len()
        );
    }
}
both_backends!(a_page_costs_a_fixed_number_of_statements_whatever_its_size);

/// Reviews pick their requests by primary key: with `org_id = ?` and `status = ?` beside the
/// ids, SQLite (without statistics) would walk every pending request of the organization.
fn a_bulk_review_updates_its_requests_by_primary_key(db: &Db) {
    let seeded = seed(db);
    let org_id = seeded.org_ids[LISTED];
    let mut conn = db.conn().expect("a pooled connection");
    let conn: &mut DbConnection = &mut conn;
    let ids: Vec<i64> = pat_requests::table
        .filter(pat_requests::org_id.eq(org_id))
        .filter(pat_requests::status.eq("pending"))
        .select(pat_requests::id)
        .order(pat_requests::id)
        .limit(3)
        .load(conn)
        .expect("pending requests");
    assert_eq!(ids.len(), 3);
    let (app_id, installation_id): (i64, i64) = installations::table
        .filter(installations::org_id.eq(org_id))
        .select((installations::app_id, installations::id))
        .first(conn)
        .expect("the organization's installation");
    let (reviewed, statements) = capture(conn, |c| {
        requests::review(
            c,
            &requests::Review {
                by_policy: false,
                org_id,
                request_ids: &ids,
                action: patgate_domain::ReviewAction::Deny,
                reason: None,
                app_id,
                installation_id,
                at: t(1),
            },
        )
    });
    reviewed.expect("the review");
    let mut checked = 0;
    for displayed in statements
        .iter()
        .filter(|s| s.starts_with("UPDATE") || s.starts_with("SELECT"))
    {
        let (sql, binds) = split_binds(displayed);
        let plan = explain(conn, &sql, &binds);
        let touches_requests = sql.contains("FROM `pat_requests`")
            || sql.contains("FROM \"pat_requests\"")
            || sql.starts_with("UPDATE");
        if !touches_requests {
            continue;
        }
        let by_key = plan
            .iter()
            .any(|l| l.contains("INTEGER PRIMARY KEY") || l.contains("pat_requests_pkey"));
        assert!(
            by_key,
            "not by primary key:\n{displayed}\n{}",
            plan.join("\n")
        );
        checked += 1;
    }
    // A review that succeeds reads nothing before its update (the reason for a refusal is
    // read only when the update misses a request).
    assert!(checked >= 1, "the update was checked: {statements:#?}");
}
both_backends!(a_bulk_review_updates_its_requests_by_primary_key);
