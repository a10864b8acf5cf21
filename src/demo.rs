//! The demo data set behind `make run`: one organization, its members and repositories, a reviewer app with its private key on disk, and about fifty pending requests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use patgate_domain::{AccessLevel, RequestedPermissions};
use serde::Serialize;

use patgate_api::dto::lifecycle::{Access, Approval, PolicySettingsDto};

use crate::seed::{
    AppSeed, EnterpriseSeed, InstallationSeed, OrgSeed, RepoSeed, RequestSeed, ReviewSeed,
    SeedFile, TokenSeed, UserSeed,
};

pub const ORG: &str = "octo-org";
pub const APP_SLUG: &str = "patgate-demo-reviewer";
pub const APP_CLIENT_ID: &str = "Iv1.patgatedemo0001";
pub const ISSUER_SLUG: &str = "patgate-demo-issuer";
pub const ISSUER_CLIENT_ID: &str = "Iv1.patgatedemo0002";
pub const ENTERPRISE: &str = "octo-enterprise";
/// Requests filed pending in the demo (three of them by tokens that already expired); then
/// `GRANTED` approved ones.
const PENDING: usize = 53;
const GRANTED: usize = 12;
const OWNERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const REPOS: [&str; 8] = [
    "api",
    "web",
    "infra",
    "docs",
    "mobile",
    "billing",
    "search",
    "Hello-World",
];

/// The demo's review rules, saved in `shadow` mode: decisions are recorded with each request
/// and nothing is acted on until an owner switches them to `enforce`.
pub const RULES: &str = r#"// Members' read-only access to public repositories needs no person.
@id("approve-read-only-public")
@reason("Members' read-only access to public repositories is approved automatically.")
permit (principal, action == Action::"approve", resource)
when {
  principal.role == "member" && resource.read_only &&
  resource.repository_selection == "subset" && !resource.any_private_repository
};

// Admin permissions are never granted to tokens.
@id("deny-admin")
@reason("Tokens are never granted admin permissions; ask an organization owner instead.")
permit (principal, action == Action::"deny", resource)
when { resource.highest_level == "admin" };

// Long-lived tokens are refused with a reason the owner can act on.
@id("deny-long-lived")
@reason("Tokens may live at most 90 days: create one that expires sooner and ask again.")
permit (principal, action == Action::"deny", resource)
when { resource has lifetime_days && resource.lifetime_days > 90 };

// Everything else is left for people; infra and billing always are.
@id("people-review-infra")
@reason("Access to infra and billing is always reviewed by people.")
forbid (principal, action == Action::"approve", resource)
when { resource.repository_names.containsAny(["infra", "billing"]) };
"#;

/// The demo rules' test cases, as JSON.
pub fn rules_cases() -> serde_json::Value {
    let case = |name: &str,
                repos: serde_json::Value,
                perms: serde_json::Value,
                days: u64,
                outcome: &str,
                rules: &[&str]| {
        serde_json::json!({
            "name": name,
            "request": {"owner": {"login": "alice"}, "repository_selection": "subset",
                        "repositories": repos, "permissions": {"repository": perms},
                        "lifetime_days": days},
            "expect": {"outcome": outcome, "rules": rules},
        })
    };
    serde_json::json!([
        case(
            "read-only on docs is approved",
            serde_json::json!([{"name": "docs"}]),
            serde_json::json!({"contents": "read"}),
            30,
            "approved",
            &["approve-read-only-public"]
        ),
        case(
            "admin is denied",
            serde_json::json!([{"name": "docs"}]),
            serde_json::json!({"administration": "admin"}),
            30,
            "denied",
            &["deny-admin"]
        ),
        case(
            "a year is denied",
            serde_json::json!([{"name": "docs"}]),
            serde_json::json!({"contents": "read"}),
            365,
            "denied",
            &["deny-long-lived"]
        ),
        case(
            "infra waits for people",
            serde_json::json!([{"name": "infra"}]),
            serde_json::json!({"contents": "read"}),
            30,
            "pending",
            &["people-review-infra"]
        ),
        case(
            "writes wait for people",
            serde_json::json!([{"name": "docs"}]),
            serde_json::json!({"contents": "write"}),
            30,
            "pending",
            &[]
        ),
    ])
}

/// What `demo.json` holds: all a client needs to authenticate as the demo app.
#[derive(Debug, Serialize)]
pub struct DemoInfo {
    pub base_url: String,
    pub org: String,
    pub app_id: i64,
    pub client_id: String,
    pub installation_id: i64,
    pub private_key_path: String,
    /// The token issuer app (same private key).
    pub issuer_app_id: i64,
    pub issuer_installation_id: i64,
}

/// The app's private key at `path`, generated if the file does not exist yet.
pub fn app_private_key(path: &Path) -> Result<String, Box<dyn std::error::Error>> {
    if !path.exists() {
        let pem = patgate_api::keys::generate_rsa_private_pem()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &pem)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(std::fs::read_to_string(path)?)
}

fn perms(pairs: &[(&str, AccessLevel)]) -> BTreeMap<String, AccessLevel> {
    pairs.iter().map(|(k, l)| ((*k).to_owned(), *l)).collect()
}

/// The permissions the demo's `i`-th request asks for: repository ones unless it selects none.
fn permissions_of(i: usize, selection: &str) -> RequestedPermissions {
    use AccessLevel::*;
    let repo_perms = [
        perms(&[("metadata", Read), ("contents", Read)]),
        perms(&[("metadata", Read), ("issues", Write)]),
        perms(&[
            ("metadata", Read),
            ("pull_requests", Write),
            ("contents", Write),
        ]),
        perms(&[("metadata", Read), ("actions", Read)]),
    ];
    let org_perms = [
        BTreeMap::new(),
        perms(&[("members", Read)]),
        perms(&[("organization_projects", Admin)]),
    ];
    RequestedPermissions {
        organization: org_perms[i % org_perms.len()].clone(),
        repository: if selection == "none" {
            BTreeMap::new()
        } else {
            repo_perms[i % repo_perms.len()].clone()
        },
        other: BTreeMap::new(),
    }
}

/// The demo's `i`-th token and its request: pending for the first [`PENDING`], approved by
/// the reviewer app after; owners, lifetimes, selections and permissions vary with `i`.
fn token_and_request(i: usize, now: DateTime<Utc>) -> (TokenSeed, RequestSeed) {
    let owner = OWNERS[i % OWNERS.len()];
    let name = format!("{owner}-token-{i}");
    let expires = match i % 7 {
        // The granted tokens are valid, so that the access check allows them.
        _ if i >= PENDING => Some(now + Duration::days(60)),
        0 => None,
        // A few tokens that already expired: the expiry sweep moves their requests.
        3 if i < 21 => Some(now - Duration::days(2)),
        _ => Some(now + Duration::days(30 + i as i64)),
    };
    let last_used = (!i.is_multiple_of(3)).then(|| now - Duration::hours(i as i64 * 5));
    let token = TokenSeed {
        owner: owner.to_owned(),
        name: name.clone(),
        expires_at: expires.map(|t| t.to_rfc3339()),
        last_used_at: last_used.map(|t| t.to_rfc3339()),
    };
    let selection = ["none", "all", "subset"][i % 3];
    let repositories = if selection == "subset" {
        (0..1 + i % 3)
            .map(|k| REPOS[(i + k) % REPOS.len()].to_owned())
            .collect()
    } else {
        Vec::new()
    };
    let request = RequestSeed {
        org: ORG.to_owned(),
        owner: owner.to_owned(),
        token: name,
        reason: (!i.is_multiple_of(4)).then(|| format!("Needed for task #{}", 100 + i)),
        repository_selection: selection.to_owned(),
        repositories,
        permissions: permissions_of(i, selection),
        created_at: Some(
            (now - Duration::minutes(37 * (PENDING + GRANTED - i) as i64)).to_rfc3339(),
        ),
        // The last ones are approved by the reviewer app: the demo's active grants.
        review: (i >= PENDING).then(|| ReviewSeed {
            action: "approve".to_owned(),
            by: APP_SLUG.to_owned(),
            reason: None,
        }),
    };
    (token, request)
}

/// The demo as a seed file; `public_key_pem` is the app's key.
pub fn seed(public_key_pem: &str) -> SeedFile {
    use AccessLevel::*;
    let now = Utc::now();
    let (tokens, requests): (Vec<_>, Vec<_>) = (0..(PENDING + GRANTED))
        .map(|i| token_and_request(i, now))
        .unzip();
    SeedFile {
        enterprises: vec![EnterpriseSeed {
            slug: ENTERPRISE.to_owned(),
            name: Some("Octo Enterprise (demo)".to_owned()),
            policy: Some(PolicySettingsDto {
                fine_grained_max_lifetime_days: Some(365),
                ..Default::default()
            }),
        }],
        organizations: vec![OrgSeed {
            login: ORG.to_owned(),
            name: Some("Octo Org (demo)".to_owned()),
            enterprise: Some(ENTERPRISE.to_owned()),
            // Not the default: classic tokens restricted, fine-grained ones at most 180 days.
            policy: Some(PolicySettingsDto {
                fine_grained_tokens: Some(Access::Allowed),
                fine_grained_approval: Some(Approval::Required),
                classic_tokens: Some(Access::Restricted),
                fine_grained_max_lifetime_days: Some(180),
                classic_max_lifetime_days: None,
                exempt_administrators: None,
            }),
            owners: Vec::new(),
            email_notifications: None,
        }],
        users: OWNERS
            .iter()
            .map(|l| UserSeed {
                login: (*l).to_owned(),
                name: None,
                email: Some(format!("{l}@example.com")),
            })
            .collect(),
        repositories: REPOS
            .iter()
            .enumerate()
            .map(|(i, r)| RepoSeed {
                org: ORG.to_owned(),
                name: (*r).to_owned(),
                private: i % 4 != 3,
            })
            .collect(),
        apps: vec![
            AppSeed {
                slug: APP_SLUG.to_owned(),
                name: "patgate demo reviewer".to_owned(),
                client_id: APP_CLIENT_ID.to_owned(),
                owner: Some(ORG.to_owned()),
                public_key_pem: public_key_pem.to_owned(),
            },
            // The token issuer shares the demo key, so one key file drives both apps.
            AppSeed {
                slug: ISSUER_SLUG.to_owned(),
                name: "patgate demo token issuer".to_owned(),
                client_id: ISSUER_CLIENT_ID.to_owned(),
                owner: Some(ORG.to_owned()),
                public_key_pem: public_key_pem.to_owned(),
            },
        ],
        installations: vec![
            InstallationSeed {
                app: APP_SLUG.to_owned(),
                org: ORG.to_owned(),
                permissions: perms(&[
                    (patgate_domain::PAT_REQUESTS_PERMISSION, Write),
                    (patgate_domain::PAT_GRANTS_PERMISSION, Write),
                    (patgate_domain::ORG_ADMIN_PERMISSION, Write),
                    (patgate_domain::REVIEW_RULES_PERMISSION, Write),
                    ("members", Read),
                ]),
                events: vec!["personal_access_token_request".to_owned()],
                repository_selection: "all".to_owned(),
            },
            InstallationSeed {
                app: ISSUER_SLUG.to_owned(),
                org: ORG.to_owned(),
                permissions: perms(&[(patgate_domain::PAT_INTAKE_PERMISSION, Write)]),
                events: Vec::new(),
                repository_selection: "all".to_owned(),
            },
        ],
        tokens,
        requests,
    }
}

/// Where the demo files go.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-app.pem")
}

/// The copy-paste example printed after `patgate demo` starts.
pub fn example(info: &DemoInfo) -> String {
    format!(
        r#"
patgate demo is serving {base} (organization "{org}", app id {app}, installation {inst}).
Details: {dir}/demo.json

Try it with curl:
  JWT=$(cargo run -q -- app-jwt --app-id {app} --private-key {key})
  TOKEN=$(curl -s -X POST -H "Authorization: Bearer $JWT" {base}/app/installations/{inst}/access_tokens \
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -s -H "Authorization: Bearer $TOKEN" "{base}/orgs/{org}/personal-access-token-requests?per_page=5"
  curl -s -X POST -H "Authorization: Bearer $TOKEN" -d '{{"action":"deny","reason":"Too broad"}}' \
       {base}/orgs/{org}/personal-access-token-requests/1

Or with @octokit/rest + @octokit/auth-app:
  new Octokit({{ authStrategy: createAppAuth, baseUrl: "{base}",
                auth: {{ appId: {app}, privateKey: fs.readFileSync("{key}", "utf8"), installationId: {inst} }} }})
"#,
        base = info.base_url,
        org = info.org,
        app = info.app_id,
        inst = info.installation_id,
        key = info.private_key_path,
        dir = Path::new(&info.private_key_path)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    )
}
