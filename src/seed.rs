//! The seed file: organizations, users, repositories, apps with public keys, installations, tokens and requests, loaded idempotently in one transaction.

use patgate_persistence::Touches;
use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime};
use patgate_api::dto::lifecycle::PolicySettingsDto;
use patgate_domain::policy::PolicySettings;
use patgate_domain::{
    AccessLevel, EmailAddress, Login, NameError, PermissionSet, RepoName, RepositorySelection,
    RequestedPermissions, ReviewAction, TokenName,
};
use patgate_persistence::models::{NewApp, NewInstallation, NewToken};
use patgate_persistence::policy::{self as policy_store, Owner};
use patgate_persistence::seed as store;
use patgate_persistence::{Db, DbConnection, StoreError};
use serde::Deserialize;

/// The whole file. Every section is optional; entities refer to each other by name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub enterprises: Vec<EnterpriseSeed>,
    #[serde(default)]
    pub organizations: Vec<OrgSeed>,
    #[serde(default)]
    pub users: Vec<UserSeed>,
    #[serde(default)]
    pub repositories: Vec<RepoSeed>,
    #[serde(default)]
    pub apps: Vec<AppSeed>,
    #[serde(default)]
    pub installations: Vec<InstallationSeed>,
    #[serde(default)]
    pub tokens: Vec<TokenSeed>,
    #[serde(default)]
    pub requests: Vec<RequestSeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSeed {
    pub login: String,
    pub name: Option<String>,
    /// The enterprise's slug, if the organization belongs to one.
    pub enterprise: Option<String>,
    /// The organization's token policy (as `PUT /orgs/{org}/personal-access-token-policy`).
    pub policy: Option<PolicySettingsDto>,
    /// Logins of the organization's owners, who receive the daily digest of pending requests.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Whether review notices and digests are e-mailed (default `true`); `false` for an
    /// organization that routes them elsewhere.
    pub email_notifications: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseSeed {
    pub slug: String,
    pub name: Option<String>,
    /// The enterprise's token policy, which binds its organizations.
    pub policy: Option<PolicySettingsDto>,
}

/// A review to apply to a seeded request when it is created.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSeed {
    /// `approve` or `deny`.
    pub action: String,
    /// The reviewing app's slug; its installation on the request's organization reviews.
    pub by: String,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSeed {
    pub org: String,
    pub name: String,
    #[serde(default = "yes")]
    pub private: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSeed {
    pub slug: String,
    pub name: String,
    pub client_id: String,
    /// Organization that owns the app.
    pub owner: Option<String>,
    /// The app's public key (PEM, `BEGIN PUBLIC KEY`).
    pub public_key_pem: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallationSeed {
    /// The app's slug.
    pub app: String,
    pub org: String,
    pub permissions: BTreeMap<String, AccessLevel>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default = "all")]
    pub repository_selection: String,
}

fn all() -> String {
    "all".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSeed {
    pub owner: String,
    pub name: String,
    /// RFC 3339 time, or absent for a token that never expires.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSeed {
    pub org: String,
    pub owner: String,
    /// The token's name (unique per owner).
    pub token: String,
    pub reason: Option<String>,
    /// `none`, `all` or `subset`.
    pub repository_selection: String,
    #[serde(default)]
    pub repositories: Vec<String>,
    pub permissions: RequestedPermissions,
    /// RFC 3339 time; default: now.
    pub created_at: Option<String>,
    /// A review applied while the request is pending (an approval makes a grant).
    pub review: Option<ReviewSeed>,
}

/// Why a seed file was refused; nothing is written when it is.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read {0}")]
    Read(String, #[source] std::io::Error),
    #[error("{0} is not a valid seed file")]
    Parse(String, #[source] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("database")]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for SeedError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

/// What was loaded.
#[derive(Debug, Default, Clone, Copy)]
pub struct Loaded {
    pub organizations: usize,
    pub apps: usize,
    pub installations: usize,
    pub requests: usize,
}

pub fn read(path: &Path) -> Result<SeedFile, SeedError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SeedError::Read(name.clone(), e))?;
    serde_json::from_str(&text).map_err(|e| SeedError::Parse(name, e))
}

fn time(raw: &Option<String>, what: &str) -> Result<Option<NaiveDateTime>, SeedError> {
    raw.as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| patgate_persistence::truncate(t.naive_utc()))
                .map_err(|_| SeedError::Invalid(format!("{what}: {s:?} is not an RFC 3339 time")))
        })
        .transpose()
}

/// A name checked by the domain's `parse`, refused as `{what} "{raw}" {why}`.
fn parse_name<T>(
    raw: &str,
    what: &str,
    parse: fn(&str) -> Result<T, NameError>,
) -> Result<T, SeedError> {
    parse(raw).map_err(|e| SeedError::Invalid(format!("{what} {raw:?} {e}")))
}

/// The value cached under `key`, else the one `find` looks up in the database (then cached);
/// refused as `unknown {what} "{name}"` when there is none.
fn resolve<K: Ord, V: Clone>(
    cache: &mut BTreeMap<K, V>,
    key: K,
    what: &str,
    name: &str,
    find: impl FnOnce() -> Result<Option<V>, StoreError>,
) -> Result<V, SeedError> {
    if let Some(value) = cache.get(&key) {
        return Ok(value.clone());
    }
    let value = find()?.ok_or_else(|| SeedError::Invalid(format!("unknown {what} {name:?}")))?;
    cache.insert(key, value.clone());
    Ok(value)
}

/// Loads the file in one transaction: all of it or none.
pub fn load(db: &Db, seed: &SeedFile) -> Result<Loaded, SeedError> {
    db.write(Touches::Everything, |conn| apply(conn, seed))
}

/// Resolves names to ids: entities of this file first, then what the database already holds.
struct Names {
    orgs: BTreeMap<String, i64>,
    users: BTreeMap<String, i64>,
    repos: BTreeMap<(i64, String), i64>,
    apps: BTreeMap<String, i64>,
    tokens: BTreeMap<(i64, String), patgate_persistence::models::Token>,
}

impl Names {
    fn org(&mut self, conn: &mut DbConnection, login: &str) -> Result<i64, SeedError> {
        let key = login.to_ascii_lowercase();
        resolve(&mut self.orgs, key, "organization", login, || {
            Ok(store::find_org(conn, login)?.map(|org| org.id))
        })
    }

    fn user(&mut self, conn: &mut DbConnection, login: &str) -> Result<i64, SeedError> {
        let key = login.to_ascii_lowercase();
        resolve(&mut self.users, key, "user", login, || {
            Ok(store::find_user(conn, login)?.map(|user| user.id))
        })
    }

    fn repo(&mut self, conn: &mut DbConnection, org_id: i64, name: &str) -> Result<i64, SeedError> {
        let key = (org_id, name.to_ascii_lowercase());
        resolve(&mut self.repos, key, "repository", name, || {
            Ok(store::find_repo(conn, org_id, name)?.map(|repo| repo.id))
        })
    }

    fn app(&mut self, conn: &mut DbConnection, slug: &str) -> Result<i64, SeedError> {
        resolve(&mut self.apps, slug.to_owned(), "app", slug, || {
            Ok(store::find_app(conn, slug)?.map(|app| app.id))
        })
    }

    fn token(
        &mut self,
        conn: &mut DbConnection,
        owner_id: i64,
        name: &str,
    ) -> Result<patgate_persistence::models::Token, SeedError> {
        let key = (owner_id, name.to_owned());
        resolve(&mut self.tokens, key, "token", name, || {
            store::find_token(conn, owner_id, name)
        })
    }
}

/// Reviews a freshly seeded request as the named app's installation on the organization.
fn apply_review(
    conn: &mut DbConnection,
    names: &mut Names,
    org_id: i64,
    request_id: i64,
    review: &ReviewSeed,
    at: NaiveDateTime,
) -> Result<(), SeedError> {
    let action = ReviewAction::parse(&review.action)
        .map_err(|e| SeedError::Invalid(format!("request review: {e}")))?;
    let app_id = names.app(conn, &review.by)?;
    let installation = patgate_persistence::directory::installation_of_org(conn, app_id, org_id)?
        .ok_or_else(|| {
        SeedError::Invalid(format!(
            "app {:?} is not installed on the request's organization",
            review.by
        ))
    })?;
    let ids = [request_id];
    patgate_persistence::requests::review(
        conn,
        &patgate_persistence::requests::Review {
            by_policy: false,
            org_id,
            request_ids: &ids,
            action,
            reason: review.reason.as_deref(),
            app_id,
            installation_id: installation.id,
            at,
        },
    )
    .map_err(|e| SeedError::Invalid(format!("request review: {e}")))?;
    Ok(())
}

fn apply(conn: &mut DbConnection, seed: &SeedFile) -> Result<Loaded, SeedError> {
    let now = patgate_persistence::now();
    let mut names = Names {
        orgs: BTreeMap::new(),
        users: BTreeMap::new(),
        repos: BTreeMap::new(),
        apps: BTreeMap::new(),
        tokens: BTreeMap::new(),
    };
    seed_enterprises(conn, seed, now)?;
    seed_organizations(conn, &mut names, seed, now)?;
    seed_users(conn, &mut names, seed, now)?;
    seed_memberships(conn, &mut names, seed, now)?;
    seed_repositories(conn, &mut names, seed, now)?;
    seed_apps(conn, &mut names, seed, now)?;
    seed_installations(conn, &mut names, seed, now)?;
    seed_tokens(conn, &mut names, seed, now)?;
    seed_requests(conn, &mut names, seed, now)?;
    Ok(Loaded {
        organizations: seed.organizations.len(),
        apps: seed.apps.len(),
        installations: seed.installations.len(),
        requests: seed.requests.len(),
    })
}

/// The enterprises, with their policies.
fn seed_enterprises(
    conn: &mut DbConnection,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    // Policies are created once: seeding again never undoes a change made over the API.
    for e in &seed.enterprises {
        let enterprise = policy_store::ensure_enterprise(conn, &e.slug, e.name.as_deref(), now)?;
        let owner = Owner::Enterprise(enterprise.id);
        let who = format!("enterprise {:?}", e.slug);
        seed_policy(conn, owner, e.policy.as_ref(), &who, |_| Ok(None), now)?;
    }
    Ok(())
}

/// The organizations, their enterprises and policies.
fn seed_organizations(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for o in &seed.organizations {
        let l = parse_name(&o.login, "organization", Login::parse)?;
        let org = store::ensure_org(conn, l.as_str(), o.name.as_deref(), now)?;
        names.orgs.insert(l.key(), org.id);
        if let Some(slug) = &o.enterprise {
            let enterprise = policy_store::find_enterprise(conn, slug)?
                .ok_or_else(|| SeedError::Invalid(format!("unknown enterprise {slug:?}")))?;
            policy_store::join_enterprise(conn, org.id, enterprise.id)?;
        }
        let owner = Owner::Organization(org.id);
        let who = format!("organization {:?}", o.login);
        let bound = |conn: &mut DbConnection| Ok(policy_store::stack(conn, org.id)?.enterprise);
        seed_policy(conn, owner, o.policy.as_ref(), &who, bound, now)?;
    }
    Ok(())
}

/// Saves `owner`'s policy from the file unless it has one already, checked on its own and
/// within the enterprise's that `bound` looks up; refused as `{who}: {why}`.
fn seed_policy(
    conn: &mut DbConnection,
    owner: Owner,
    policy: Option<&PolicySettingsDto>,
    who: &str,
    bound: impl FnOnce(&mut DbConnection) -> Result<Option<PolicySettings>, SeedError>,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    let Some(p) = policy else {
        return Ok(());
    };
    if policy_store::settings_of(conn, owner)?.is_some() {
        return Ok(());
    }
    let settings = PolicySettings::from(p);
    let bound = bound(conn)?;
    let checked = settings.validate().and_then(|()| match &bound {
        Some(enterprise) => settings.check_within(enterprise),
        None => Ok(()),
    });
    checked.map_err(|err| SeedError::Invalid(format!("{who}: {err}")))?;
    policy_store::save(conn, owner, &settings, now)?;
    Ok(())
}

/// The users; an address, when given, must be a plain one.
fn seed_users(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for u in &seed.users {
        let l = parse_name(&u.login, "user", Login::parse)?;
        if let Some(email) = u
            .email
            .as_deref()
            .filter(|e| EmailAddress::parse(e).is_none())
        {
            return Err(SeedError::Invalid(format!(
                "user {:?}: {email:?} is not a plain e-mail address (local@domain)",
                u.login
            )));
        }
        let user =
            store::ensure_user(conn, l.as_str(), u.name.as_deref(), u.email.as_deref(), now)?;
        names.users.insert(l.key(), user.id);
    }
    Ok(())
}

/// The organizations' owners and e-mail settings.
fn seed_memberships(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for o in &seed.organizations {
        let org = names.org(conn, &o.login)?;
        for owner in &o.owners {
            let user = names.user(conn, owner)?;
            patgate_persistence::notifications::add_owner(conn, org, user)?;
        }
        // As a policy: set only if the organization has no setting yet (one changed with `PUT`
        // is kept).
        if let Some(email) = o.email_notifications {
            if patgate_persistence::notifications::email_setting(conn, org)?.is_none() {
                patgate_persistence::notifications::set_email(conn, org, email, None, now)?;
            }
        }
    }
    Ok(())
}

/// The repositories.
fn seed_repositories(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for r in &seed.repositories {
        let name = parse_name(&r.name, "repository", RepoName::parse)?;
        let org = names.org(conn, &r.org)?;
        let repo = store::ensure_repo(conn, org, name.as_str(), r.private, now)?;
        names.repos.insert((org, name.key()), repo.id);
    }
    Ok(())
}

/// The apps, with their public keys.
fn seed_apps(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for a in &seed.apps {
        let owner = match a.owner.as_deref() {
            Some(o) => Some(names.org(conn, o)?),
            None => None,
        };
        patgate_api::keys::rsa_public_key_check(&a.public_key_pem).map_err(|_| {
            SeedError::Invalid(format!(
                "app {:?}: public_key_pem is not an RSA public key",
                a.slug
            ))
        })?;
        let app = store::ensure_app(
            conn,
            NewApp {
                slug: &a.slug,
                client_id: &a.client_id,
                name: &a.name,
                description: None,
                owner_org_id: owner,
                created_at: now,
                updated_at: now,
            },
            a.public_key_pem.trim(),
        )?;
        names.apps.insert(a.slug.clone(), app.id);
    }
    Ok(())
}

/// The apps' installations.
fn seed_installations(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for i in &seed.installations {
        let app_id = names.app(conn, &i.app)?;
        if !matches!(i.repository_selection.as_str(), "all" | "selected") {
            return Err(SeedError::Invalid(
                "installation repository_selection must be all or selected".into(),
            ));
        }
        let permissions = PermissionSet::from_pairs(i.permissions.clone())
            .map_err(|e| SeedError::Invalid(format!("installation permissions: {e}")))?;
        let permissions =
            serde_json::to_string(&permissions).map_err(|e| SeedError::Invalid(e.to_string()))?;
        let events =
            serde_json::to_string(&i.events).map_err(|e| SeedError::Invalid(e.to_string()))?;
        let org_id = names.org(conn, &i.org)?;
        store::ensure_installation(
            conn,
            NewInstallation {
                app_id,
                org_id,
                permissions: &permissions,
                events: &events,
                repository_selection: &i.repository_selection,
                created_at: now,
                updated_at: now,
            },
        )?;
    }
    Ok(())
}

/// The users' tokens.
fn seed_tokens(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for t in &seed.tokens {
        parse_name(&t.name, "token name", TokenName::parse)?;
        let owner_id = names.user(conn, &t.owner)?;
        let token = store::ensure_token(
            conn,
            NewToken {
                owner_id,
                name: &t.name,
                expires_at: time(&t.expires_at, "token expires_at")?,
                last_used_at: time(&t.last_used_at, "token last_used_at")?,
                created_at: now,
            },
        )?;
        names.tokens.insert((owner_id, t.name.clone()), token);
    }
    Ok(())
}

/// The requests, each reviewed as its seed says.
fn seed_requests(
    conn: &mut DbConnection,
    names: &mut Names,
    seed: &SeedFile,
    now: NaiveDateTime,
) -> Result<(), SeedError> {
    for r in &seed.requests {
        let org = names.org(conn, &r.org)?;
        let owner_id = names.user(conn, &r.owner)?;
        let token = names.token(conn, owner_id, &r.token)?;
        let selection = RepositorySelection::parse(&r.repository_selection).ok_or_else(|| {
            SeedError::Invalid("request repository_selection must be none, all or subset".into())
        })?;
        if selection.lists_repositories() == r.repositories.is_empty() {
            return Err(SeedError::Invalid(
                "a request lists repositories exactly when its selection is subset".into(),
            ));
        }
        if !r.permissions.is_well_formed() {
            return Err(SeedError::Invalid(
                "request permissions have a malformed name".into(),
            ));
        }
        let mut repository_ids = Vec::new();
        for name in &r.repositories {
            repository_ids.push(names.repo(conn, org, name)?);
        }
        let created_at = time(&r.created_at, "request created_at")?.unwrap_or(now);
        let request = store::ensure_pending_request(
            conn,
            &store::RequestSeed {
                org_id: org,
                token: &token,
                reason: r.reason.as_deref(),
                repository_selection: selection,
                repository_ids: &repository_ids,
                permissions: &r.permissions,
                created_at,
            },
        )?;
        if let Some(review) = &r.review {
            if request.status == patgate_domain::RequestState::Pending.as_str() {
                apply_review(conn, names, org, request.id, review, created_at)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use patgate_persistence::PoolOptions;
    use serde_json::{json, Value};

    /// A migrated SQLite database in a directory of its own, removed when dropped.
    struct TempDb {
        db: Db,
        dir: std::path::PathBuf,
    }

    impl TempDb {
        fn new(test: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("patgate-seed-{}-{test}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temporary directory");
            let url = dir.join("patgate.db").display().to_string();
            let db = Db::connect(&url, &PoolOptions::default()).expect("database");
            db.migrate().expect("migrations");
            Self { db, dir }
        }

        fn load(&self, seed: Value) -> Result<Loaded, SeedError> {
            load(
                &self.db,
                &serde_json::from_value(seed).expect("a seed file"),
            )
        }

        fn refusal(&self, seed: Value) -> String {
            match self.load(seed) {
                Err(SeedError::Invalid(message)) => message,
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn base() -> Value {
        json!({
            "organizations": [{"login": "Acme"}],
            "users": [{"login": "Alice"}],
            "repositories": [{"org": "ACME", "name": "Widget"}],
            "tokens": [{"owner": "ALICE", "name": "ci"}],
        })
    }

    #[test]
    fn names_resolve_case_insensitively_within_the_file_and_from_the_database() {
        let t = TempDb::new("resolve");
        let request = json!({
            "requests": [{"org": "acme", "owner": "alice", "token": "ci",
                          "repository_selection": "subset", "repositories": ["WIDGET"],
                          "permissions": {"repository": {"contents": "read"}}}],
        });
        let mut whole = base();
        whole["requests"] = request["requests"].clone();
        assert_eq!(t.load(whole).expect("loads").requests, 1);
        assert_eq!(t.load(request).expect("loads again").requests, 1);
    }

    #[test]
    fn an_unknown_name_is_refused_with_its_kind_and_spelling() {
        let t = TempDb::new("unknown");
        t.load(base()).expect("the base loads");
        let request = |token: &str, repositories: Value| {
            json!({"requests": [{"org": "acme", "owner": "alice", "token": token,
                                 "repository_selection": "subset", "repositories": repositories,
                                 "permissions": {"repository": {"contents": "read"}}}]})
        };
        let cases = [
            (
                json!({"repositories": [{"org": "Ghost", "name": "r"}]}),
                r#"unknown organization "Ghost""#,
            ),
            (
                json!({"tokens": [{"owner": "ghost", "name": "t"}]}),
                r#"unknown user "ghost""#,
            ),
            (
                json!({"installations": [{"app": "ghost", "org": "acme", "permissions": {}}]}),
                r#"unknown app "ghost""#,
            ),
            (
                request("nope", json!(["widget"])),
                r#"unknown token "nope""#,
            ),
            (
                request("ci", json!(["nope"])),
                r#"unknown repository "nope""#,
            ),
            (
                json!({"organizations": [{"login": "acme", "enterprise": "ghost"}]}),
                r#"unknown enterprise "ghost""#,
            ),
        ];
        for (seed, message) in cases {
            assert_eq!(t.refusal(seed), message);
        }
    }

    #[test]
    fn names_follow_the_domain_rules() {
        let t = TempDb::new("names");
        t.load(base()).expect("the base loads");
        let cases = [
            (
                json!({"organizations": [{"login": "-acme"}]}),
                r#"organization "-acme" must not start or end with a hyphen"#,
            ),
            (
                json!({"users": [{"login": "a b"}]}),
                r#"user "a b" contains a character that is not allowed"#,
            ),
            (
                json!({"repositories": [{"org": "acme", "name": ".."}]}),
                r#"repository ".." contains a character that is not allowed"#,
            ),
            (
                json!({"tokens": [{"owner": "alice", "name": ""}]}),
                r#"token name "" must not be empty"#,
            ),
        ];
        for (seed, message) in cases {
            assert_eq!(t.refusal(seed), message);
        }
    }

    #[test]
    fn a_policy_is_checked_when_first_seeded_and_never_overwritten() {
        let t = TempDb::new("policy");
        let seed = |enterprise: Value, organization: Value| {
            json!({
                "enterprises": [{"slug": "corp", "policy": enterprise}],
                "organizations": [{"login": "acme", "enterprise": "corp", "policy": organization}],
            })
        };
        assert_eq!(
            t.refusal(seed(
                json!({"fine_grained_max_lifetime_days": 0}),
                json!({})
            )),
            r#"enterprise "corp": fine_grained_max_lifetime_days must be between 1 and 366 days"#
        );
        assert_eq!(
            t.refusal(seed(json!({}), json!({"classic_max_lifetime_days": 400}))),
            r#"organization "acme": classic_max_lifetime_days must be between 1 and 366 days"#
        );
        let loosening = t.refusal(seed(
            json!({"fine_grained_approval": "required"}),
            json!({"fine_grained_approval": "not_required"}),
        ));
        assert!(
            loosening.starts_with(
                r#"organization "acme": fine_grained_approval is set by the enterprise policy"#
            ),
            "{loosening}"
        );
        t.load(seed(
            json!({"fine_grained_approval": "required"}),
            json!({"fine_grained_max_lifetime_days": 30}),
        ))
        .expect("valid policies load");
        // Seeding again keeps what is stored, so the file's policies are not checked again.
        t.load(seed(
            json!({"fine_grained_max_lifetime_days": 0}),
            json!({"fine_grained_approval": "not_required"}),
        ))
        .expect("stored policies are kept");
    }
}
