//! The database-limit baseline: for each scenario that reaches the store, the statements the
//! server sends for one request, issued by a minimal program on the same data with as many
//! connections: `pgbench -M prepared` with a script on PostgreSQL, a loop of prepared
//! statements (rusqlite, with the server's pragmas) on SQLite. An endpoint's throughput over
//! its limit's is the share of what the database itself can do that the server gets.
//!
//! The statements are the server's, as PostgreSQL's statement log (`log_statement = all`)
//! shows them for one request of each kind, written out here with the same parameters. Two
//! liberties, neither of which lightens the minimal program's work: the first statement of a
//! write also takes its inputs from a table (`bench_limit_inputs`, one sequence per scenario,
//! each id used once), and the statements whose results the next ones use aggregate them into
//! one row, so that pgbench can bind them (`\gset`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::load::{percentile, RunStats};
use crate::seed::Db;

/// What a limit scenario does once per transaction.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    /// Approves one pending request, superseding its token's grant.
    Approve,
    /// Denies this many pending requests at once, with a reason.
    Deny(usize),
    /// Revokes one active grant.
    Revoke,
    /// The access check of a token with an active grant (one of the inputs, in turn): its
    /// latest grant with the token, the policy, and whether the grant reaches the repository.
    Access { repository: &'static str },
    /// One page of 30 pending requests: its id window (`window` rows from `offset`, or from
    /// the row `start` when the server keeps where the page begins), then the page's rows
    /// with their tokens and owners.
    Page {
        window: i64,
        offset: i64,
        filter: Filter,
        /// The id of the page's first row.
        start: Option<i64>,
    },
}

/// A list filter, as the server resolves and applies it.
#[derive(Debug, Clone, Copy)]
pub enum Filter {
    None,
    Owner(&'static str),
    Permission(&'static str),
    Repository(&'static str),
    LastUsedBefore(&'static str),
}

/// One limit scenario: the endpoint scenario it is the limit of, its connections, and for
/// writes how many transactions each connection runs (a write uses up its inputs).
#[derive(Debug, Clone)]
pub struct Limit {
    pub scenario: &'static str,
    pub connections: usize,
    pub work: Work,
    pub per_connection: usize,
    /// A variant on PostgreSQL with the session's triggers off (`session_replication_role =
    /// replica`): no foreign-key checks. What the schema's triggers cost the database, not a
    /// limit the server could reach.
    pub without_triggers: bool,
    /// How many inputs a read cycles through (the access check's tokens).
    pub inputs: usize,
}

/// The benchmark's own app and installation, and the organization, as the statements bind them.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub org_id: i64,
    pub app_id: i64,
    pub installation_id: i64,
}

/// When the statements say "now".
const NOW: &str = "2026-12-01 12:00:00";

impl Limit {
    /// Ids each transaction uses up (0 for reads).
    pub fn ids_per_transaction(&self) -> usize {
        match self.work {
            Work::Approve | Work::Revoke => 1,
            Work::Deny(n) => n,
            Work::Page { .. } | Work::Access { .. } => 0,
        }
    }

    /// Whether it only reads: run for a time, not for a count of transactions.
    pub fn reads(&self) -> bool {
        matches!(self.work, Work::Page { .. } | Work::Access { .. })
    }

    /// Ids the whole run uses up.
    pub fn ids_needed(&self) -> usize {
        self.ids_per_transaction() * self.connections * self.per_connection
    }

    /// The name under which the table of inputs and the sequence know this scenario.
    fn key(&self) -> String {
        self.scenario
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    }
}

/// Fills `bench_limit_inputs` with each write scenario's ids, in batches of one transaction's.
pub fn load_inputs(db: &mut Db, limits: &[(Limit, Vec<i64>)]) -> Result<(), String> {
    db.execute(
        "DROP TABLE IF EXISTS bench_limit_inputs; \
         CREATE TABLE bench_limit_inputs (scenario TEXT NOT NULL, batch BIGINT NOT NULL, id BIGINT NOT NULL, \
         PRIMARY KEY (scenario, batch, id))",
    )?;
    for (limit, ids) in limits {
        let per = limit.ids_per_transaction().max(1);
        let key = limit.key();
        for chunk in ids.chunks(10_000).enumerate() {
            let (n, part) = chunk;
            let values: Vec<String> = part
                .iter()
                .enumerate()
                .map(|(i, id)| format!("('{key}', {}, {id})", (n * 10_000 + i) / per + 1))
                .collect();
            db.execute(&format!(
                "INSERT INTO bench_limit_inputs (scenario, batch, id) VALUES {}",
                values.join(",")
            ))?;
        }
        if matches!(db, Db::Postgres(_)) {
            db.execute(&format!(
                "DROP SEQUENCE IF EXISTS bench_limit_{key}; CREATE SEQUENCE bench_limit_{key}"
            ))?;
        }
    }
    db.execute("ANALYZE bench_limit_inputs")
}

/// Drops what [`load_inputs`] made.
pub fn drop_inputs(db: &mut Db) -> Result<(), String> {
    db.execute("DROP TABLE IF EXISTS bench_limit_inputs")
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: pgbench scripts.

/// The columns the server reads for a list page's rows.
const VIEW_COLUMNS: &str = r#""pat_requests"."id", "pat_requests"."org_id", "pat_requests"."token_id", "pat_requests"."owner_id", "pat_requests"."status", "pat_requests"."reason", "pat_requests"."repository_selection", "pat_requests"."permissions", "pat_requests"."created_at", "pat_requests"."reviewed_at", "pat_requests"."token_expires_at", "pat_requests"."token_last_used_at", "pat_requests"."permissions_added", "pat_requests"."permissions_upgraded", "tokens"."id", "tokens"."name", "users"."id", "users"."login", "users"."login_key", "users"."site_admin""#;

const INSTALLATION_COLUMNS: &str = r#""installations"."id", "installations"."app_id", "installations"."org_id", "installations"."permissions", "installations"."events", "installations"."repository_selection", "installations"."suspended_at", "installations"."created_at", "installations"."updated_at""#;

const HOOK_COLUMNS: &str = r#""org_webhooks"."id", "org_webhooks"."org_id", "org_webhooks"."url", "org_webhooks"."secret", "org_webhooks"."content_type", "org_webhooks"."events", "org_webhooks"."active", "org_webhooks"."created_at", "org_webhooks"."updated_at""#;

const GRANT_COLUMNS: &str = r#""pat_grants"."id", "pat_grants"."org_id", "pat_grants"."request_id", "pat_grants"."token_id", "pat_grants"."owner_id", "pat_grants"."status", "pat_grants"."repository_selection", "pat_grants"."permissions", "pat_grants"."access_granted_at", "pat_grants"."ended_at", "pat_grants"."token_expires_at", "pat_grants"."token_last_used_at""#;

const TOKEN_COLUMNS: &str = r#""tokens"."id", "tokens"."owner_id", "tokens"."name", "tokens"."expires_at", "tokens"."last_used_at", "tokens"."created_at""#;

const POLICY_COLUMNS: &str = r#""token_policies"."id", "token_policies"."enterprise_id", "token_policies"."org_id", "token_policies"."fine_grained_allowed", "token_policies"."approval_required", "token_policies"."classic_allowed", "token_policies"."fine_grained_max_days", "token_policies"."classic_max_days", "token_policies"."updated_at", "token_policies"."exempt_administrators""#;

const AUDIT_COLUMNS: &str = r#""org_id", "action", "subject_type", "subject_id", "app_id", "installation_id", "reason", "created_at""#;

/// Who hears of a reviewed request: installations with an active app hook, the
/// organization's active hooks.
fn pg_audience(requests: bool) -> String {
    let mut s = String::new();
    if requests {
        s.push_str(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM (\"installations\" INNER JOIN \"app_webhooks\" ON (\"app_webhooks\".\"app_id\" = \"installations\".\"app_id\")) WHERE (((\"installations\".\"org_id\" = :org) AND (\"installations\".\"suspended_at\" IS NULL)) AND (\"app_webhooks\".\"active\" = :yes)) ORDER BY \"installations\".\"id\";\n"
        ));
    }
    s.push_str(&format!(
        "SELECT {HOOK_COLUMNS} FROM \"org_webhooks\" WHERE ((\"org_webhooks\".\"org_id\" = :org) AND (\"org_webhooks\".\"active\" = :yes)) ORDER BY \"org_webhooks\".\"id\";\n"
    ));
    s
}

/// The pgbench script of `limit`.
/// The announcement the server sends after each write's commit (`Db::write`): a transaction of
/// its own that does not wait for its WAL flush.
const PG_ANNOUNCE: &str = "BEGIN;\nSET LOCAL synchronous_commit = off;\nSELECT pg_notify('patgate_changes', :org::text);\nCOMMIT;\n";

pub fn pg_script(limit: &Limit) -> String {
    let key = limit.key();
    let pick = format!(
        "ARRAY(SELECT i.id FROM bench_limit_inputs i WHERE i.scenario = '{key}' AND i.batch = (SELECT nextval('bench_limit_{key}')))"
    );
    match limit.work {
        Work::Approve | Work::Deny(_) => {
            let approve = matches!(limit.work, Work::Approve);
            let (target, action, reason) = if approve {
                ("approved", "request.approved", "NULL")
            } else {
                ("denied", "request.denied", ":reason")
            };
            let mut s = format!(
                "BEGIN;\n\
                 WITH moved AS (UPDATE \"pat_requests\" SET \"status\" = '{target}', \"reviewed_at\" = :now WHERE (((\"pat_requests\".\"id\" = ANY({pick})) AND COALESCE(pat_requests.org_id, NULL) = :org) AND COALESCE(pat_requests.status, NULL) = :pending) RETURNING \"pat_requests\".\"id\") SELECT array_agg(id) AS ids FROM moved \\gset\n"
            );
            if approve {
                s.push_str(&format!(
                    "WITH ended AS (UPDATE \"pat_grants\" SET \"status\" = :revoked, \"ended_at\" = :now WHERE (((\"pat_grants\".\"org_id\" = :org) AND (\"pat_grants\".\"status\" = :active)) AND (\"pat_grants\".\"token_id\" = ANY(SELECT \"pat_requests\".\"token_id\" FROM \"pat_requests\" WHERE (\"pat_requests\".\"id\" = ANY(:ids))))) RETURNING \"pat_grants\".\"id\") SELECT array_agg(id) AS ended, count(*) AS ended_n FROM ended \\gset\n\
                     \\if :ended_n > 0\n\
                     INSERT INTO \"audit_events\" ({AUDIT_COLUMNS}) SELECT \"pat_grants\".\"org_id\", 'grant.superseded', 'grant', \"pat_grants\".\"id\", :app, :installation, NULL, :now FROM \"pat_grants\" WHERE (\"pat_grants\".\"id\" = ANY(:ended)) RETURNING \"audit_events\".\"id\", \"audit_events\".\"subject_id\";\n\
                     \\endif\n\
                     INSERT INTO \"pat_grants\" (\"org_id\", \"request_id\", \"token_id\", \"owner_id\", \"status\", \"repository_selection\", \"permissions\", \"access_granted_at\", \"token_expires_at\", \"token_last_used_at\") SELECT \"pat_requests\".\"org_id\", \"pat_requests\".\"id\", \"pat_requests\".\"token_id\", \"pat_requests\".\"owner_id\", 'active', \"pat_requests\".\"repository_selection\", \"pat_requests\".\"permissions\", :now, \"pat_requests\".\"token_expires_at\", \"pat_requests\".\"token_last_used_at\" FROM \"pat_requests\" WHERE (\"pat_requests\".\"id\" = ANY(:ids));\n"
                ));
            }
            s.push_str(&format!(
                "INSERT INTO \"pat_request_reviews\" (\"request_id\", \"org_id\", \"app_id\", \"installation_id\", \"action\", \"reason\", \"created_at\") SELECT \"pat_requests\".\"id\", \"pat_requests\".\"org_id\", :app, :installation, '{}', {reason}, :now FROM \"pat_requests\" WHERE (\"pat_requests\".\"id\" = ANY(:ids));\n\
                 INSERT INTO \"audit_events\" ({AUDIT_COLUMNS}) SELECT \"pat_requests\".\"org_id\", '{action}', 'request', \"pat_requests\".\"id\", :app, :installation, {reason}, :now FROM \"pat_requests\" WHERE (\"pat_requests\".\"id\" = ANY(:ids)) RETURNING \"audit_events\".\"id\", \"audit_events\".\"subject_id\";\n",
                if approve { "approve" } else { "deny" }
            ));
            s.push_str(&pg_audience(true));
            s.push_str("COMMIT;\n");
            s.push_str(PG_ANNOUNCE);
            s
        }
        Work::Revoke => {
            let mut s = format!(
                "BEGIN;\n\
                 WITH moved AS (UPDATE \"pat_grants\" SET \"status\" = :revoked, \"ended_at\" = :now WHERE (((\"pat_grants\".\"id\" = ANY({pick})) AND COALESCE(pat_grants.org_id, NULL) = :org) AND COALESCE(pat_grants.status, NULL) = :active) RETURNING \"pat_grants\".\"id\", \"pat_grants\".\"request_id\") SELECT array_agg(id) AS ids FROM moved \\gset\n\
                 INSERT INTO \"audit_events\" ({AUDIT_COLUMNS}) SELECT \"pat_grants\".\"org_id\", 'grant.revoked', 'grant', \"pat_grants\".\"id\", :app, :installation, NULL, :now FROM \"pat_grants\" WHERE (\"pat_grants\".\"id\" = ANY(:ids)) RETURNING \"audit_events\".\"id\", \"audit_events\".\"subject_id\";\n"
            );
            s.push_str(&pg_audience(false));
            s.push_str("COMMIT;\n");
            s.push_str(PG_ANNOUNCE);
            s
        }
        Work::Access { repository } => {
            format!(
                "\\set n random(1, :tokens)\n\
                 SELECT max(\"pat_grants\".\"id\") AS gid FROM \"pat_grants\" WHERE ((\"pat_grants\".\"org_id\" = :org) AND (\"pat_grants\".\"token_id\" = (SELECT i.id FROM bench_limit_inputs i WHERE i.scenario = '{key}' AND i.batch = :n))) \\gset\n\
                 SELECT {GRANT_COLUMNS}, {TOKEN_COLUMNS}, (\"pat_grants\".\"repository_selection\" = 'all')::int AS sel_all, (\"pat_grants\".\"repository_selection\" = 'subset')::int AS sel_subset, \"pat_grants\".\"request_id\" AS rid FROM (\"pat_grants\" INNER JOIN \"tokens\" ON (\"pat_grants\".\"token_id\" = \"tokens\".\"id\")) WHERE (\"pat_grants\".\"id\" = :gid) \\gset\n\
                 SELECT {POLICY_COLUMNS} FROM \"token_policies\" WHERE ((\"token_policies\".\"org_id\" = :org) OR (\"token_policies\".\"enterprise_id\" = ANY(SELECT \"organizations\".\"enterprise_id\" FROM \"organizations\" WHERE (\"organizations\".\"id\" = :org))));\n\
                 \\if :sel_all\n\
                 SELECT COUNT(*) FROM \"repositories\" WHERE ((\"repositories\".\"org_id\" = :org) AND (\"repositories\".\"name_key\" = '{repository}'));\n\
                 \\elif :sel_subset\n\
                 SELECT COUNT(*) FROM (\"repositories\" INNER JOIN \"pat_request_repositories\" ON (\"pat_request_repositories\".\"repository_id\" = \"repositories\".\"id\")) WHERE (((\"repositories\".\"org_id\" = :org) AND (\"repositories\".\"name_key\" = '{repository}')) AND (\"pat_request_repositories\".\"request_id\" = :rid));\n\
                 \\endif\n"
            )
        }
        Work::Page {
            window,
            offset,
            filter,
            start,
        } => {
            let mut s = String::new();
            let mut condition = pg_filter(filter, &mut s);
            let offset = match start {
                Some(id) => {
                    condition.push_str(&format!(" AND (pat_requests.created_at, pat_requests.id) <= ((SELECT s.created_at FROM pat_requests s WHERE s.id = {id}), {id})"));
                    0
                }
                None => offset,
            };
            s.push_str(&format!(
                "SELECT coalesce((array_agg(id))[1:30], '{{}}') AS page FROM (SELECT \"pat_requests\".\"id\" FROM \"pat_requests\" WHERE ((\"pat_requests\".\"org_id\" = :org) AND pat_requests.status = 'pending'{condition}) ORDER BY pat_requests.created_at DESC, pat_requests.id DESC LIMIT {window} OFFSET {offset}) w \\gset\n\
                 SELECT {VIEW_COLUMNS} FROM ((\"pat_requests\" INNER JOIN \"tokens\" ON (\"pat_requests\".\"token_id\" = \"tokens\".\"id\")) INNER JOIN \"users\" ON (\"users\".\"id\" = \"pat_requests\".\"owner_id\")) WHERE (\"pat_requests\".\"id\" = ANY(:page));\n"
            ));
            s
        }
    }
}

/// A filter's statement that resolves it (pushed on `s`), and its condition in the window
/// query.
fn pg_filter(filter: Filter, s: &mut String) -> String {
    match filter {
        Filter::None => String::new(),
        Filter::Owner(login) => {
            s.push_str(&format!(
                "SELECT coalesce(array_agg(\"users\".\"id\"), '{{}}') AS owners FROM \"users\" WHERE (\"users\".\"login_key\" = ANY(ARRAY['{login}'])) \\gset\n"
            ));
            " AND (\"pat_requests\".\"owner_id\" = ANY(:owners))".to_owned()
        }
        Filter::Permission(permission) => format!(" AND EXISTS (SELECT 1 FROM pat_request_permissions p WHERE p.request_id = pat_requests.id AND p.permission = '{permission}')"),
        Filter::Repository(name) => {
            s.push_str(&format!(
                "SELECT \"repositories\".\"id\" AS repository FROM \"repositories\" WHERE ((\"repositories\".\"org_id\" = :org) AND (\"repositories\".\"name_key\" = '{name}')) \\gset\n"
            ));
            " AND (pat_requests.repository_selection = 'all' OR EXISTS (SELECT 1 FROM pat_request_repositories rr WHERE rr.request_id = pat_requests.id AND rr.repository_id = :repository OFFSET 0))".to_owned()
        }
        Filter::LastUsedBefore(at) => {
            format!(" AND COALESCE(pat_requests.token_last_used_at, NULL) < '{at}'")
        }
    }
}

/// Runs `limit` with pgbench against `url`, its script and logs in `dir`; `seconds` for
/// reads (after `warmup`), a fixed count of transactions per connection for writes.
pub fn run_pgbench(
    pgbench: &Path,
    url: &str,
    dir: &Path,
    limit: &Limit,
    actor: Actor,
    (warmup, seconds): (f64, f64),
) -> Result<RunStats, String> {
    let script = dir.join(format!("{}.sql", limit.key()));
    std::fs::write(&script, pg_script(limit)).map_err(|e| e.to_string())?;
    let vars = [
        format!("org={}", actor.org_id),
        format!("app={}", actor.app_id),
        format!("installation={}", actor.installation_id),
        format!("now={NOW}"),
        "pending=pending".to_owned(),
        "active=active".to_owned(),
        "revoked=revoked".to_owned(),
        "yes=true".to_owned(),
        "reason=Denied by the benchmark".to_owned(),
        format!("tokens={}", limit.inputs.max(1)),
    ];
    let run = |duration: Option<f64>, log: Option<&Path>| -> Result<String, String> {
        let mut command = Command::new(pgbench);
        command
            .args(["-n", "-M", "prepared", "-j", "1"])
            .args(["-c", &limit.connections.to_string()])
            .arg("-f")
            .arg(&script);
        for v in &vars {
            command.arg("-D").arg(v);
        }
        match duration {
            Some(s) => command.args(["-T", &format!("{}", s.ceil().max(1.0))]),
            None => command.args(["-t", &limit.per_connection.to_string()]),
        };
        if limit.without_triggers {
            command.env("PGOPTIONS", "-c session_replication_role=replica");
        }
        if let Some(prefix) = log {
            command
                .arg("-l")
                .arg(format!("--log-prefix={}", prefix.display()));
        }
        command.arg(url);
        let out = command
            .output()
            .map_err(|e| format!("cannot run {}: {e}", pgbench.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "pgbench ({}) failed: {}\n{stdout}",
                limit.scenario,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(stdout)
    };
    let reads = limit.reads();
    if reads && warmup > 0.0 {
        run(Some(warmup), None)?;
    }
    let prefix = dir.join(format!("log-{}", limit.key()));
    clear_logs(dir, &prefix)?;
    let stdout = run(reads.then_some(seconds), Some(&prefix))?;
    let tps = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
        .ok_or_else(|| format!("pgbench printed no tps:\n{stdout}"))?;
    let mut micros = read_logs(dir, &prefix)?;
    Ok(stats(tps, &mut micros))
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of every statement of `limit`'s script, run once through
/// `psql` in a transaction that is rolled back (the input it picks is skipped, not used):
/// the plans and the buffers each statement touches, for the report.
pub fn explain_pg(
    psql: &Path,
    url: &str,
    limit: &Limit,
    actor: Actor,
    reason: &str,
) -> Result<String, String> {
    let mut sql = format!(
        "\\set org {}\n\\set app {}\n\\set installation {}\n\\set now '{NOW}'\n\\set pending pending\n\\set active active\n\\set revoked revoked\n\\set yes true\n\\set reason '{reason}'\n",
        actor.org_id, actor.app_id, actor.installation_id
    );
    for line in pg_script(limit).lines() {
        let line = psql_quoted(line);
        if line == "COMMIT;" {
            sql.push_str("ROLLBACK;\n");
        } else if line.starts_with("\\set n ") {
            sql.push_str("\\set n 1\n");
        } else if line.starts_with("\\if :'sel_all'") {
            sql.push_str("\\if :sel_all\n");
        } else if line.starts_with("\\elif") {
            sql.push_str("\\elif :sel_subset\n");
        } else if line.starts_with("\\if") {
            sql.push_str("\\if :has_ended\n");
        } else if line.starts_with('\\') || line == "BEGIN;" {
            sql.push_str(&line);
            sql.push('\n');
        } else if let Some(select) = line.strip_suffix(" \\gset") {
            if !select.contains("nextval") {
                sql.push_str(&format!("EXPLAIN (ANALYZE, BUFFERS) {select};\n"));
            }
            sql.push_str(&line.replace(
                "count(*) AS ended_n",
                "count(*) AS ended_n, count(*) > 0 AS has_ended",
            ));
            sql.push('\n');
        } else if explainable(&line) {
            sql.push_str(&format!("EXPLAIN (ANALYZE, BUFFERS) {line}\n"));
        } else {
            // `SET LOCAL` and the like: run, not explained.
            sql.push_str(&line);
            sql.push('\n');
        }
    }
    if limit.ids_per_transaction() > 0 {
        // The batch the rolled-back transaction picked is still to be used.
        sql.push_str(&format!(
            "SELECT setval('bench_limit_{}', 1, false) \\g /dev/null\n",
            limit.key()
        ));
    }
    let mut child = Command::new(psql)
        .args(["-X", "-q", "-e", "-v", "ON_ERROR_STOP=1", "-d", url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", psql.display()))?;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().ok_or("psql has no stdin")?;
        stdin.write_all(sql.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "EXPLAIN of {} failed: {}",
            limit.scenario,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether EXPLAIN takes the statement: queries and data changes, not settings.
fn explainable(statement: &str) -> bool {
    let first = statement
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"].contains(&first.as_str())
}

/// pgbench's `:name` parameters as psql's quoted interpolations `:'name'`.
fn psql_quoted(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == ':' && chars.peek() == Some(&':') {
            // A cast (`::int`), not a parameter.
            out.push(':');
            chars.next();
        } else if c == ':' && chars.peek().is_some_and(|n| n.is_ascii_lowercase()) {
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_lowercase() || n == '_' {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push_str(&format!("'{name}'"));
        }
    }
    out
}

/// Removes pgbench's logs of an earlier run with this prefix.
fn clear_logs(dir: &Path, prefix: &Path) -> Result<(), String> {
    for path in logs(dir, prefix)? {
        std::fs::remove_file(path).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn logs(dir: &Path, prefix: &Path) -> Result<Vec<PathBuf>, String> {
    let stem = prefix
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{stem}.")))
        })
        .collect())
}

/// Each transaction's latency in microseconds, from pgbench's per-transaction logs
/// (`client transaction latency_us script epoch us`).
fn read_logs(dir: &Path, prefix: &Path) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for path in logs(dir, prefix)? {
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        out.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok()),
        );
    }
    Ok(out)
}

/// The run's figures from its throughput and its transactions' latencies.
fn stats(throughput: f64, micros: &mut [u32]) -> RunStats {
    micros.sort_unstable();
    RunStats {
        ok: micros.len() as u64,
        errors: 0,
        first_error: None,
        throughput,
        p50_ms: percentile(micros, 0.50),
        p99_ms: percentile(micros, 0.99),
        p999_ms: percentile(micros, 0.999),
        exhausted: false,
    }
}

/// A duration in whole microseconds, as the load generator records latencies.
fn micros_of(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------
// SQLite: a loop of prepared statements.

/// The server's pragmas on every connection (crates/persistence/src/db.rs): its WAL is
/// copied back by a task beside it, not by the committing connection.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
     PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_mode = WAL;";

/// `?, ?, …` for `n` values.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn sqlite_err(e: rusqlite::Error) -> String {
    e.to_string()
}

/// Runs `limit` on the SQLite file at `path`: writes on one connection (SQLite has one
/// writer), as many transactions as pgbench would run; reads on `threads` connections, one
/// per thread, for `seconds` after `warmup`.
pub fn run_sqlite(
    path: &str,
    inputs: &[i64],
    limit: &Limit,
    actor: Actor,
    threads: usize,
    (warmup, seconds): (f64, f64),
) -> Result<RunStats, String> {
    match limit.work {
        Work::Page { .. } | Work::Access { .. } => {
            let mut handles = Vec::new();
            for thread in 0..threads.max(1) {
                let (path, limit, inputs) = (path.to_owned(), limit.clone(), inputs.to_vec());
                handles.push(std::thread::spawn(move || -> Result<Vec<u32>, String> {
                    let conn = open_sqlite(&path)?;
                    let mut n = thread;
                    let mut read = || {
                        n += 1;
                        match limit.work {
                            Work::Access { repository } => {
                                let token = inputs.get(n % inputs.len().max(1)).copied();
                                sqlite_access(&conn, actor, token.unwrap_or(0), repository)
                            }
                            _ => sqlite_page(&conn, &limit, actor),
                        }
                    };
                    let until = Instant::now() + Duration::from_secs_f64(warmup);
                    while Instant::now() < until {
                        read()?;
                    }
                    let mut micros = Vec::new();
                    let until = Instant::now() + Duration::from_secs_f64(seconds);
                    while Instant::now() < until {
                        let start = Instant::now();
                        read()?;
                        micros.push(micros_of(start.elapsed()));
                    }
                    Ok(micros)
                }));
            }
            let mut micros = Vec::new();
            for h in handles {
                micros.extend(h.join().map_err(|_| "a reader panicked".to_owned())??);
            }
            let throughput = micros.len() as f64 / seconds;
            Ok(stats(throughput, &mut micros))
        }
        _ => {
            let conn = open_sqlite(path)?;
            let per = limit.ids_per_transaction();
            let mut micros = Vec::new();
            let started = Instant::now();
            for ids in inputs.chunks(per).filter(|c| c.len() == per) {
                let start = Instant::now();
                sqlite_write(&conn, limit.work, ids, actor)?;
                micros.push(micros_of(start.elapsed()));
            }
            let throughput = micros.len() as f64 / started.elapsed().as_secs_f64();
            Ok(stats(throughput, &mut micros))
        }
    }
}

fn open_sqlite(path: &str) -> Result<rusqlite::Connection, String> {
    let conn = rusqlite::Connection::open(path).map_err(sqlite_err)?;
    conn.execute_batch(SQLITE_PRAGMAS).map_err(sqlite_err)?;
    Ok(conn)
}

/// Runs `f` on `sql` prepared once per connection (rusqlite's statement cache), as the
/// server's statements are prepared once by diesel's.
fn with_statement<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    f: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
) -> Result<T, String> {
    let mut statement = conn.prepare_cached(sql).map_err(sqlite_err)?;
    f(&mut statement).map_err(sqlite_err)
}

fn sqlite_ids(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<i64>, String> {
    with_statement(conn, sql, |s| {
        s.query_map(params, |row| row.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()
    })
}

fn sqlite_exec(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<usize, String> {
    // Statements with RETURNING give rows: step through them all.
    with_statement(conn, sql, |s| {
        let mut rows = s.query(params)?;
        let mut n = 0;
        while rows.next()?.is_some() {
            n += 1;
        }
        Ok(n)
    })
}

/// One write transaction of `work` on `ids`, as the server sends it on SQLite.
fn sqlite_write(
    conn: &rusqlite::Connection,
    work: Work,
    ids: &[i64],
    a: Actor,
) -> Result<(), String> {
    let n = ids.len();
    let m = marks(n);
    let mut with_ids: Vec<&dyn rusqlite::ToSql> = ids.iter().map(|i| i as _).collect();
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite_err)?;
    let (table, subject) = match work {
        Work::Revoke => ("pat_grants", "grant"),
        _ => ("pat_requests", "request"),
    };
    let (target, from) = match work {
        Work::Approve => ("approved", "pending"),
        Work::Deny(_) => ("denied", "pending"),
        _ => ("revoked", "active"),
    };
    let ended_column = if matches!(work, Work::Revoke) {
        "ended_at"
    } else {
        "reviewed_at"
    };
    let returning = if matches!(work, Work::Revoke) {
        format!("`{table}`.`id`, `{table}`.`request_id`")
    } else {
        format!("`{table}`.`id`")
    };
    let mut params: Vec<&dyn rusqlite::ToSql> = vec![&target, &NOW];
    params.extend(with_ids.iter().copied());
    params.push(&a.org_id);
    params.push(&from);
    sqlite_exec(
        conn,
        &format!("UPDATE `{table}` SET `status` = ?, `{ended_column}` = ? WHERE (((`{table}`.`id` IN ({m})) AND COALESCE({table}.org_id, NULL) = ?) AND COALESCE({table}.status, NULL) = ?) RETURNING {returning}"),
        &params,
    )?;
    let reason: Option<&str> = match work {
        Work::Deny(_) => Some("Denied by the benchmark"),
        _ => None,
    };
    if matches!(work, Work::Approve) {
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&"revoked", &NOW, &a.org_id, &"active"];
        params.extend(with_ids.iter().copied());
        let ended = sqlite_ids(
            conn,
            &format!("UPDATE `pat_grants` SET `status` = ?, `ended_at` = ? WHERE (((`pat_grants`.`org_id` = ?) AND (`pat_grants`.`status` = ?)) AND (`pat_grants`.`token_id` IN (SELECT `pat_requests`.`token_id` FROM `pat_requests` WHERE (`pat_requests`.`id` IN ({m}))))) RETURNING `pat_grants`.`id`"),
            &params,
        )?;
        if !ended.is_empty() {
            let no_reason: Option<String> = None;
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![
                &"grant.superseded",
                &"grant",
                &a.app_id,
                &a.installation_id,
                &no_reason,
                &NOW,
            ];
            params.extend(ended.iter().map(|i| i as &dyn rusqlite::ToSql));
            sqlite_exec(
                conn,
                &format!("INSERT INTO `audit_events` (`org_id`, `action`, `subject_type`, `subject_id`, `app_id`, `installation_id`, `reason`, `created_at`) SELECT `pat_grants`.`org_id`, ?, ?, `pat_grants`.`id`, ?, ?, ?, ? FROM `pat_grants` WHERE (`pat_grants`.`id` IN ({})) RETURNING `audit_events`.`id`, `audit_events`.`subject_id`", marks(ended.len())),
                &params,
            )?;
        }
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&NOW];
        params.extend(with_ids.iter().copied());
        sqlite_exec(
            conn,
            &format!("INSERT INTO `pat_grants` (`org_id`, `request_id`, `token_id`, `owner_id`, `status`, `repository_selection`, `permissions`, `access_granted_at`, `token_expires_at`, `token_last_used_at`) SELECT `pat_requests`.`org_id`, `pat_requests`.`id`, `pat_requests`.`token_id`, `pat_requests`.`owner_id`, 'active', `pat_requests`.`repository_selection`, `pat_requests`.`permissions`, ?, `pat_requests`.`token_expires_at`, `pat_requests`.`token_last_used_at` FROM `pat_requests` WHERE (`pat_requests`.`id` IN ({m}))"),
            &params,
        )?;
    }
    if !matches!(work, Work::Revoke) {
        let action = if matches!(work, Work::Approve) {
            "approve"
        } else {
            "deny"
        };
        let mut params: Vec<&dyn rusqlite::ToSql> =
            vec![&a.app_id, &a.installation_id, &action, &reason, &NOW];
        params.extend(with_ids.iter().copied());
        sqlite_exec(
            conn,
            &format!("INSERT INTO `pat_request_reviews` (`request_id`, `org_id`, `app_id`, `installation_id`, `action`, `reason`, `created_at`) SELECT `pat_requests`.`id`, `pat_requests`.`org_id`, ?, ?, ?, ?, ? FROM `pat_requests` WHERE (`pat_requests`.`id` IN ({m}))"),
            &params,
        )?;
    }
    let audit_action = match work {
        Work::Approve => "request.approved",
        Work::Deny(_) => "request.denied",
        _ => "grant.revoked",
    };
    let mut params: Vec<&dyn rusqlite::ToSql> = vec![
        &audit_action,
        &subject,
        &a.app_id,
        &a.installation_id,
        &reason,
        &NOW,
    ];
    params.append(&mut with_ids);
    sqlite_exec(
        conn,
        &format!("INSERT INTO `audit_events` (`org_id`, `action`, `subject_type`, `subject_id`, `app_id`, `installation_id`, `reason`, `created_at`) SELECT `{table}`.`org_id`, ?, ?, `{table}`.`id`, ?, ?, ?, ? FROM `{table}` WHERE (`{table}`.`id` IN ({m})) RETURNING `audit_events`.`id`, `audit_events`.`subject_id`"),
        &params,
    )?;
    if !matches!(work, Work::Revoke) {
        sqlite_exec(
            conn,
            &format!("SELECT {} FROM (`installations` INNER JOIN `app_webhooks` ON (`app_webhooks`.`app_id` = `installations`.`app_id`)) WHERE (((`installations`.`org_id` = ?) AND (`installations`.`suspended_at` IS NULL)) AND (`app_webhooks`.`active` = ?)) ORDER BY `installations`.`id`", INSTALLATION_COLUMNS.replace('"', "`")),
            &[&a.org_id, &true],
        )?;
    }
    sqlite_exec(
        conn,
        &format!("SELECT {} FROM `org_webhooks` WHERE ((`org_webhooks`.`org_id` = ?) AND (`org_webhooks`.`active` = ?)) ORDER BY `org_webhooks`.`id`", HOOK_COLUMNS.replace('"', "`")),
        &[&a.org_id, &true],
    )?;
    conn.execute_batch("COMMIT").map_err(sqlite_err)?;
    Ok(())
}

/// One list page as the server reads it on SQLite.
fn sqlite_page(conn: &rusqlite::Connection, limit: &Limit, a: Actor) -> Result<(), String> {
    let Work::Page {
        window,
        offset,
        filter,
        start,
    } = limit.work
    else {
        return Ok(());
    };
    let mut condition = String::new();
    let mut owners = Vec::new();
    let mut repository = None;
    match filter {
        Filter::None => {}
        Filter::Owner(login) => {
            owners = sqlite_ids(
                conn,
                "SELECT `users`.`id` FROM `users` WHERE (`users`.`login_key` IN (?))",
                &[&login],
            )?;
            condition = format!(
                " AND (`pat_requests`.`owner_id` IN ({}))",
                marks(owners.len())
            );
        }
        Filter::Permission(p) => {
            condition = format!(" AND EXISTS (SELECT 1 FROM pat_request_permissions p WHERE p.request_id = pat_requests.id AND p.permission = '{p}')");
        }
        Filter::Repository(name) => {
            repository = sqlite_ids(
                conn,
                "SELECT `repositories`.`id` FROM `repositories` WHERE ((`repositories`.`org_id` = ?) AND (`repositories`.`name_key` = ?))",
                &[&a.org_id, &name],
            )?
            .first()
            .copied();
            condition = " AND (pat_requests.repository_selection = 'all' OR EXISTS (SELECT 1 FROM pat_request_repositories rr WHERE rr.request_id = pat_requests.id AND rr.repository_id = ?))".to_owned();
        }
        Filter::LastUsedBefore(at) => {
            condition = format!(" AND COALESCE(pat_requests.token_last_used_at, NULL) < '{at}'");
        }
    }
    let offset = match start {
        Some(id) => {
            condition.push_str(&format!(
                " AND (pat_requests.created_at, pat_requests.id) <= ((SELECT s.created_at FROM pat_requests s WHERE s.id = {id}), {id})"
            ));
            0
        }
        None => offset,
    };
    let mut params: Vec<&dyn rusqlite::ToSql> = vec![&a.org_id];
    params.extend(owners.iter().map(|i| i as &dyn rusqlite::ToSql));
    if let Some(r) = &repository {
        params.push(r);
    }
    let mut ids = sqlite_ids(
        conn,
        &format!("SELECT `pat_requests`.`id` FROM `pat_requests` WHERE ((`pat_requests`.`org_id` = ?) AND pat_requests.status = 'pending'{condition}) ORDER BY pat_requests.created_at DESC, pat_requests.id DESC LIMIT {window} OFFSET {offset}"),
        &params,
    )?;
    ids.truncate(30);
    if ids.is_empty() {
        return Ok(());
    }
    let params: Vec<&dyn rusqlite::ToSql> = ids.iter().map(|i| i as _).collect();
    sqlite_exec(
        conn,
        &format!("SELECT {} FROM ((`pat_requests` INNER JOIN `tokens` ON (`pat_requests`.`token_id` = `tokens`.`id`)) INNER JOIN `users` ON (`users`.`id` = `pat_requests`.`owner_id`)) WHERE (`pat_requests`.`id` IN ({}))", VIEW_COLUMNS.replace('"', "`"), marks(ids.len())),
        &params,
    )?;
    Ok(())
}

/// One access check as the server reads it on SQLite: the token's latest grant with the token,
/// the policy, and, by the grant's repository selection, whether it reaches the repository.
fn sqlite_access(
    conn: &rusqlite::Connection,
    a: Actor,
    token: i64,
    repository: &str,
) -> Result<(), String> {
    let latest = sqlite_ids(
        conn,
        "SELECT max(`pat_grants`.`id`) FROM `pat_grants` WHERE ((`pat_grants`.`org_id` = ?) AND (`pat_grants`.`token_id` = ?))",
        &[&a.org_id, &token],
    )?;
    let Some(grant) = latest.first().copied() else {
        return Ok(());
    };
    let row: Option<(String, i64)> = with_statement(
        conn,
        &format!(
            "SELECT {}, {} FROM (`pat_grants` INNER JOIN `tokens` ON (`pat_grants`.`token_id` = `tokens`.`id`)) WHERE (`pat_grants`.`id` = ?)",
            GRANT_COLUMNS.replace('"', "`"),
            TOKEN_COLUMNS.replace('"', "`")
        ),
        |s| {
            let mut rows = s.query([grant])?;
            match rows.next()? {
                Some(r) => Ok(Some((r.get::<_, String>(6)?, r.get::<_, i64>(2)?))),
                None => Ok(None),
            }
        },
    )?;
    sqlite_exec(
        conn,
        &format!(
            "SELECT {} FROM `token_policies` WHERE ((`token_policies`.`org_id` = ?) OR (`token_policies`.`enterprise_id` IN (SELECT `organizations`.`enterprise_id` FROM `organizations` WHERE (`organizations`.`id` = ?))))",
            POLICY_COLUMNS.replace('"', "`")
        ),
        &[&a.org_id, &a.org_id],
    )?;
    match row {
        Some((selection, _)) if selection == "all" => {
            sqlite_ids(
                conn,
                "SELECT COUNT(*) FROM `repositories` WHERE ((`repositories`.`org_id` = ?) AND (`repositories`.`name_key` = ?))",
                &[&a.org_id, &repository],
            )?;
        }
        Some((selection, request)) if selection == "subset" => {
            sqlite_ids(
                conn,
                "SELECT COUNT(*) FROM (`repositories` INNER JOIN `pat_request_repositories` ON (`pat_request_repositories`.`repository_id` = `repositories`.`id`)) WHERE (((`repositories`.`org_id` = ?) AND (`repositories`.`name_key` = ?)) AND (`pat_request_repositories`.`request_id` = ?))",
                &[&a.org_id, &repository, &request],
            )?;
        }
        _ => {}
    }
    Ok(())
}
