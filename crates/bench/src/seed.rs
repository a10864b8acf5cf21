//! Realistic bulk data, generated inside the database by `INSERT … SELECT` over a series
//! (PostgreSQL's `generate_series`, a recursive CTE on SQLite), so that a million rows take
//! seconds. Every value is a fixed function of the row number, so runs are repeatable and
//! the data grows in stages: stage boundaries only add rows.
//!
//! Shape: 1,000 organizations, 20,000 users, 50,000 repositories (50 per organization).
//! For each n in 1..=N a token n, an "open" request (odd id 2n-1: 70% pending, 20% denied,
//! 10% cancelled) and an approved request (even id 2n) with its grant n (90% active, 10%
//! revoked). So N requests in review, N grants, 2N rows in `pat_requests`. Organization 1
//! (`org-1`, the benchmarked one) holds 10% of everything; the rest is spread over the
//! other 999. 30% of requests name a subset of 1–3 repositories, 40% all, 30% none; six
//! permission mixes; 1 token in 7 never used, 1 in 5 never expires.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

/// Organizations, users and repositories in every run.
pub const ORGS: i64 = 1_000;
pub const USERS: i64 = 20_000;
pub const REPOS_PER_ORG: i64 = 50;
/// The organization the benchmark's installation belongs to.
pub const BENCH_ORG: &str = "org-1";

/// The permission mixes requests ask for: (JSON as stored, permission filter rows).
const MIXES: [(&str, &[&str]); 6] = [
    (
        r#"{"organization":{},"repository":{"contents":"read","metadata":"read"},"other":{}}"#,
        &["contents_read", "metadata_read"],
    ),
    (
        r#"{"organization":{},"repository":{"contents":"write","metadata":"read","pull_requests":"write"},"other":{}}"#,
        &["contents_write", "metadata_read", "pull_requests_write"],
    ),
    (
        r#"{"organization":{},"repository":{"issues":"write","metadata":"read"},"other":{}}"#,
        &["issues_write", "metadata_read"],
    ),
    (
        r#"{"organization":{"members":"read"},"repository":{"metadata":"read"},"other":{}}"#,
        &["members_read", "metadata_read"],
    ),
    (
        r#"{"organization":{},"repository":{"actions":"read","contents":"read","metadata":"read"},"other":{}}"#,
        &["actions_read", "contents_read", "metadata_read"],
    ),
    (
        r#"{"organization":{"administration":"read"},"repository":{"metadata":"read","workflows":"write"},"other":{}}"#,
        &["administration_read", "metadata_read", "workflows_write"],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A connection to the benchmark database, either backend.
pub enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Db {
    pub fn open(backend: Backend, url: &str) -> Result<Self, String> {
        match backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(url).map_err(|e| e.to_string())?;
                // A bulk load with the server stopped: no journal (the server turns WAL back
                // on when it opens the file), and a page cache that holds the indexes, which
                // random organization ids fill all over.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
                     PRAGMA cache_size = -2000000; PRAGMA temp_store = MEMORY;",
                )
                .map_err(|e| e.to_string())?;
                Ok(Db::Sqlite(conn))
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
                // A bulk load with the server stopped: the triggers that tell running
                // instances what changed (one notification per row) have no one to tell.
                conn.batch_execute("SET session_replication_role = replica")
                    .map_err(|e| e.to_string())?;
                Ok(Db::Postgres(conn))
            }
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn execute(&mut self, sql: &str) -> Result<(), String> {
        let result = match self {
            Db::Sqlite(c) => c.batch_execute(sql),
            Db::Postgres(c) => c.batch_execute(sql),
        };
        result.map_err(|e| format!("{e}\nin: {}", sql.chars().take(300).collect::<String>()))
    }

    /// The ids the query selects (one BIGINT column named `id`).
    pub fn ids(&mut self, sql: &str) -> Result<Vec<i64>, String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        let rows: Vec<Row> = match self {
            Db::Sqlite(c) => diesel::sql_query(sql).load(c),
            Db::Postgres(c) => diesel::sql_query(sql).load(c),
        }
        .map_err(|e| format!("{e}\nin: {sql}"))?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Runs `f` in one transaction.
    fn transaction(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.execute("BEGIN")?;
        match f(self) {
            Ok(()) => self.execute("COMMIT"),
            Err(e) => {
                let _ = self.execute("ROLLBACK");
                Err(e)
            }
        }
    }

    /// `FROM` source of the integers `from..=to` as column `n`.
    fn series(&self, from: i64, to: i64) -> String {
        match self.backend() {
            Backend::Postgres => format!("generate_series({from}::bigint, {to}::bigint) AS s(n)"),
            Backend::Sqlite => format!(
                "(WITH RECURSIVE s(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM s WHERE n < {to}) SELECT n FROM s) AS s"
            ),
        }
    }

    /// A timestamp `seconds` (an SQL integer expression) after `base` (`YYYY-MM-DD`).
    fn at(&self, base: &str, seconds: &str) -> String {
        match self.backend() {
            Backend::Postgres => {
                format!("(TIMESTAMP '{base} 00:00:00' + ({seconds}) * INTERVAL '1 second')")
            }
            Backend::Sqlite => {
                format!("datetime('{base} 00:00:00', '+' || ({seconds}) || ' seconds')")
            }
        }
    }
}

/// Organizations, users and repositories: the part that does not grow.
pub fn seed_directory(db: &mut Db) -> Result<(), String> {
    let now = db.at("2025-06-01", "0");
    let orgs = db.series(1, ORGS);
    let users = db.series(1, USERS);
    let repos = db.series(1, ORGS * REPOS_PER_ORG);
    db.transaction(|db| {
        db.execute(&format!(
            "INSERT INTO organizations (id, login, login_key, name, created_at) \
             SELECT n, 'org-' || n, 'org-' || n, 'Organization ' || n, {now} FROM {orgs}"
        ))?;
        db.execute(&format!(
            "INSERT INTO users (id, login, login_key, name, email, site_admin, created_at) \
             SELECT n, 'user-' || n, 'user-' || n, 'User ' || n, 'user-' || n || '@example.com', FALSE, {now} FROM {users}"
        ))?;
        db.execute(&format!(
            "INSERT INTO repositories (id, org_id, name, name_key, private, created_at) \
             SELECT n, (n - 1) / {REPOS_PER_ORG} + 1, 'repo-' || ((n - 1) % {REPOS_PER_ORG} + 1), \
                    'repo-' || ((n - 1) % {REPOS_PER_ORG} + 1), TRUE, {now} FROM {repos}"
        ))
    })
}

/// Adds rows n in `from..=to`: tokens, requests, grants and their repositories and
/// permissions (see the module documentation for the shape).
pub fn seed_stage(db: &mut Db, from: i64, to: i64) -> Result<(), String> {
    let rows = StageRows::new(db, from, to);
    db.transaction(|db| {
        rows.insert_tokens_requests_and_grants(db)?;
        rows.insert_repositories(db)?;
        rows.insert_permissions(db)
    })
}

/// A stage's rows: its series of n, and each column as an SQL expression of n.
struct StageRows {
    series: String,
    org: &'static str,
    owner: String,
    expires: String,
    last_used: String,
    created_open: String,
    created_approved: String,
    reviewed_open: String,
    granted: String,
    ended: String,
    selection: &'static str,
    /// The permissions JSON of n's mix.
    mix_case: String,
    /// The open request's status.
    status: &'static str,
    /// `(mix, permission)` rows for a `VALUES` list.
    mix_rows: String,
}

impl StageRows {
    fn new(db: &Db, from: i64, to: i64) -> Self {
        let mix_case = {
            let mut case = String::from("(CASE (n / 10) % 6");
            for (i, (json, _)) in MIXES.iter().enumerate() {
                case.push_str(&format!(" WHEN {i} THEN '{json}'"));
            }
            case.push_str(" END)");
            case
        };
        let mix_rows: Vec<String> = MIXES
            .iter()
            .enumerate()
            .flat_map(|(i, (_, perms))| perms.iter().map(move |p| format!("({i}, '{p}')")))
            .collect();
        StageRows {
            series: db.series(from, to),
            org: "(CASE WHEN n % 10 = 0 THEN 1 ELSE (n * 2654435761) % 999 + 2 END)",
            owner: format!("((n * 7919) % {USERS} + 1)"),
            expires: format!(
                "(CASE WHEN (n / 10) % 5 = 0 THEN NULL ELSE {} END)",
                db.at("2027-01-01", "(n * 7907) % 31536000")
            ),
            last_used: format!(
                "(CASE WHEN (n / 10) % 7 = 0 THEN NULL ELSE {} END)",
                db.at("2026-08-01", "(n * 104729) % 7776000")
            ),
            created_open: db.at("2026-01-01", "n * 10"),
            created_approved: db.at("2026-01-01", "n * 10 + 5"),
            reviewed_open: db.at("2026-01-01", "n * 10 + 3600"),
            granted: db.at("2026-01-01", "n * 10 + 3605"),
            ended: db.at("2026-06-01", "n"),
            selection: "(CASE WHEN (n / 100) % 10 < 3 THEN 'subset' WHEN (n / 100) % 10 < 7 THEN 'all' ELSE 'none' END)",
            mix_case,
            status: "(CASE WHEN (n / 10) % 10 < 7 THEN 'pending' WHEN (n / 10) % 10 < 9 THEN 'denied' ELSE 'cancelled' END)",
            mix_rows: mix_rows.join(", "),
        }
    }

    /// Token n, its open request 2n-1, its approved request 2n and that one's grant n.
    fn insert_tokens_requests_and_grants(&self, db: &mut Db) -> Result<(), String> {
        let StageRows {
            series,
            org,
            owner,
            expires,
            last_used,
            created_open,
            created_approved,
            reviewed_open,
            granted,
            ended,
            selection,
            mix_case,
            status,
            ..
        } = self;
        db.execute(&format!(
            "INSERT INTO tokens (id, owner_id, name, expires_at, last_used_at, created_at) \
             SELECT n, {owner}, 'token-' || n, {expires}, {last_used}, {created_open} FROM {series}"
        ))?;
        db.execute(&format!(
            "INSERT INTO pat_requests (id, org_id, token_id, owner_id, status, reason, repository_selection, \
                                       permissions, created_at, reviewed_at, token_expires_at, token_last_used_at) \
             SELECT 2 * n - 1, {org}, n, {owner}, {status}, \
                    CASE WHEN n % 3 = 0 THEN NULL ELSE 'Needed for the release pipeline (' || n || ')' END, \
                    {selection}, {mix_case}, {created_open}, \
                    CASE WHEN (n / 10) % 10 < 7 THEN NULL ELSE {reviewed_open} END, {expires}, {last_used} \
             FROM {series}"
        ))?;
        db.execute(&format!(
            "INSERT INTO pat_requests (id, org_id, token_id, owner_id, status, reason, repository_selection, \
                                       permissions, created_at, reviewed_at, token_expires_at, token_last_used_at) \
             SELECT 2 * n, {org}, n, {owner}, 'approved', NULL, {selection}, {mix_case}, {created_approved}, \
                    {granted}, {expires}, {last_used} \
             FROM {series}"
        ))?;
        db.execute(&format!(
            "INSERT INTO pat_grants (id, org_id, request_id, token_id, owner_id, status, repository_selection, \
                                     permissions, access_granted_at, ended_at, token_expires_at, token_last_used_at) \
             SELECT n, {org}, 2 * n, n, {owner}, \
                    CASE WHEN (n / 10) % 10 = 9 THEN 'revoked' ELSE 'active' END, {selection}, {mix_case}, \
                    {granted}, CASE WHEN (n / 10) % 10 = 9 THEN {ended} ELSE NULL END, {expires}, {last_used} \
             FROM {series}"
        ))
    }

    /// The repositories of n's requests: both name the same 1–3 of the organization's.
    fn insert_repositories(&self, db: &mut Db) -> Result<(), String> {
        let StageRows { series, org, .. } = self;
        db.execute(&format!(
            "INSERT INTO pat_request_repositories (request_id, repository_id) \
             SELECT 2 * n - k.odd, ({org} - 1) * {REPOS_PER_ORG} + (n + j.j * 17) % {REPOS_PER_ORG} + 1 \
             FROM {series} CROSS JOIN (SELECT 0 AS j UNION ALL SELECT 1 UNION ALL SELECT 2) AS j \
                  CROSS JOIN (SELECT 0 AS odd UNION ALL SELECT 1) AS k \
             WHERE (n / 100) % 10 < 3 AND j.j <= (n / 10) % 3"
        ))
    }

    /// The permission filter rows of n's requests, from their mix.
    fn insert_permissions(&self, db: &mut Db) -> Result<(), String> {
        let StageRows {
            series,
            org,
            mix_rows,
            ..
        } = self;
        db.execute(&format!(
            "WITH m(mix, permission) AS (VALUES {mix_rows}) \
             INSERT INTO pat_request_permissions (request_id, org_id, permission) \
             SELECT 2 * n - k.odd, {org}, m.permission \
             FROM {series} CROSS JOIN (SELECT 0 AS odd UNION ALL SELECT 1) AS k \
                  JOIN m ON m.mix = (n / 10) % 6"
        ))
    }
}

/// After bulk loading: sequences past the explicit ids (PostgreSQL), planner statistics.
pub fn finish(db: &mut Db) -> Result<(), String> {
    match db.backend() {
        Backend::Postgres => {
            for table in [
                "organizations",
                "users",
                "repositories",
                "tokens",
                "pat_requests",
                "pat_grants",
            ] {
                db.execute(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                ))?;
            }
            db.execute(&format!(
                "SELECT setval(pg_get_serial_sequence('pat_requests', 'id'), \
                 GREATEST((SELECT max(id) FROM pat_requests), {FILED_IDS_FROM}))"
            ))?;
            // What autovacuum would do shortly after a load of this size.
            db.execute("VACUUM ANALYZE")
        }
        Backend::Sqlite => {
            db.execute(&format!(
                "UPDATE sqlite_sequence SET seq = max(seq, {FILED_IDS_FROM}) WHERE name = 'pat_requests'"
            ))?;
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}

/// Where the ids of requests filed through the server during a stage start: past any stage's
/// seeded ids (2N), so that seeding a later stage never collides with them.
const FILED_IDS_FROM: i64 = 1_000_000_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_rows_match_the_stored_json() {
        for (json, rows) in MIXES {
            let value: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
            let mut expected: Vec<String> = Vec::new();
            for group in ["organization", "repository", "other"] {
                for (key, level) in value[group].as_object().expect("group").iter() {
                    expected.push(format!("{key}_{}", level.as_str().expect("level")));
                }
            }
            expected.sort();
            let mut rows: Vec<String> = rows.iter().map(|s| (*s).to_owned()).collect();
            rows.sort();
            assert_eq!(rows, expected, "{json}");
        }
    }
}
