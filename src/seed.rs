//! The seed file: organizations, users, repositories, apps with public keys, installations, tokens and requests, loaded idempotently in one transaction.

use patgate_persistence::Touches;
use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDateTime};
use patgate_api::dto::lifecycle::PolicySettingsDto;
use patgate_domain::policy::PolicySettings;
use patgate_domain::{
    AccessLevel, EmailAddress, Login, PermissionSet, RepoName, RepositorySelection,
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

fn login(raw: &str, what: &str) -> Result<Login, SeedError> {
    Login::parse(raw).map_err(|e| SeedError::Invalid(format!("{what} {raw:?} {e}")))
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
        if let Some(id) = self.orgs.get(&key) {
            return Ok(*id);
        }
        let org = store::find_org(conn, login)?
            .ok_or_else(|| SeedError::Invalid(format!("unknown organization {login:?}")))?;
        self.orgs.insert(key, org.id);
        Ok(org.id)
    }

    fn user(&mut self, conn: &mut DbConnection, login: &str) -> Result<i64, SeedError> {
        let key = login.to_ascii_lowercase();
        if let Some(id) = self.users.get(&key) {
            return Ok(*id);
        }
        let user = store::find_user(conn, login)?
            .ok_or_else(|| SeedError::Invalid(format!("unknown user {login:?}")))?;
        self.users.insert(key, user.id);
        Ok(user.id)
    }

    fn repo(&mut self, conn: &mut DbConnection, org_id: i64, name: &str) -> Result<i64, SeedError> {
        let key = (org_id, name.to_ascii_lowercase());
        if let Some(id) = self.repos.get(&key) {
            return Ok(*id);
        }
        let repo = store::find_repo(conn, org_id, name)?
            .ok_or_else(|| SeedError::Invalid(format!("unknown repository {name:?}")))?;
        self.repos.insert(key, repo.id);
        Ok(repo.id)
    }

    fn app(&mut self, conn: &mut DbConnection, slug: &str) -> Result<i64, SeedError> {
        if let Some(id) = self.apps.get(slug) {
            return Ok(*id);
        }
        let app = store::find_app(conn, slug)?
            .ok_or_else(|| SeedError::Invalid(format!("unknown app {slug:?}")))?;
        self.apps.insert(slug.to_owned(), app.id);
        Ok(app.id)
    }

    fn token(
        &mut self,
        conn: &mut DbConnection,
        owner_id: i64,
        name: &str,
    ) -> Result<patgate_persistence::models::Token, SeedError> {
        let key = (owner_id, name.to_owned());
        if let Some(token) = self.tokens.get(&key) {
            return Ok(token.clone());
        }
        let token = store::find_token(conn, owner_id, name)?
            .ok_or_else(|| SeedError::Invalid(format!("unknown token {name:?}")))?;
        self.tokens.insert(key, token.clone());
        Ok(token)
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
        if let Some(p) = &e.policy {
            if policy_store::settings_of(conn, owner)?.is_none() {
                let settings = PolicySettings::from(p);
                settings
                    .validate()
                    .map_err(|err| SeedError::Invalid(format!("enterprise {:?}: {err}", e.slug)))?;
                policy_store::save(conn, owner, &settings, now)?;
            }
        }
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
        let l = login(&o.login, "organization")?;
        let org = store::ensure_org(conn, l.as_str(), o.name.as_deref(), now)?;
        names.orgs.insert(l.key(), org.id);
        if let Some(slug) = &o.enterprise {
            let enterprise = policy_store::find_enterprise(conn, slug)?
                .ok_or_else(|| SeedError::Invalid(format!("unknown enterprise {slug:?}")))?;
            policy_store::join_enterprise(conn, org.id, enterprise.id)?;
        }
        let owner = Owner::Organization(org.id);
        if let Some(p) = &o.policy {
            if policy_store::settings_of(conn, owner)?.is_none() {
                let settings = PolicySettings::from(p);
                let bound = policy_store::stack(conn, org.id)?.enterprise;
                let checked = settings.validate().and_then(|()| match &bound {
                    Some(enterprise) => settings.check_within(enterprise),
                    None => Ok(()),
                });
                checked.map_err(|err| {
                    SeedError::Invalid(format!("organization {:?}: {err}", o.login))
                })?;
                policy_store::save(conn, owner, &settings, now)?;
            }
        }
    }
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
        let l = login(&u.login, "user")?;
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
        let name = RepoName::parse(&r.name)
            .map_err(|e| SeedError::Invalid(format!("repository {:?} {e}", r.name)))?;
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
        TokenName::parse(&t.name)
            .map_err(|e| SeedError::Invalid(format!("token name {:?} {e}", t.name)))?;
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
