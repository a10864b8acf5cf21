//! What rules see of a request, and how it becomes Cedar's entities and context. The values
//! Cedar cannot compute itself (the highest level asked, whether all of it is read-only,
//! whether any repository is private) are computed here, before evaluation.

use chrono::{DateTime, SecondsFormat, Utc};
use patgate_domain::policy::PolicyStack;
use patgate_domain::{AccessLevel, RepositorySelection, RequestedPermissions};
use serde::{Deserialize, Serialize};

/// A request as rules see it. Test cases of a rule set are written in this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// The request's id; `0` for a test case.
    #[serde(default)]
    pub id: i64,
    pub owner: Owner,
    #[serde(default = "default_token_name")]
    pub token_name: String,
    /// `all`, `subset` or `none`.
    pub repository_selection: String,
    /// The repositories listed, for `subset`.
    #[serde(default)]
    pub repositories: Vec<Repository>,
    #[serde(default)]
    pub permissions: RequestedPermissions,
    /// When the token expires; `None` when it never does.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The token's lifetime in whole days (`None` when it never expires). A test case may give
    /// this instead of `expires_at`.
    #[serde(default)]
    pub lifetime_days: Option<u64>,
    /// When the request was filed; a test case's default is the evaluation's time.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resubmission: bool,
}

fn default_token_name() -> String {
    "token".to_owned()
}

/// The token's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub login: String,
    /// `owner` or `member`.
    #[serde(default = "member")]
    pub role: String,
    #[serde(default)]
    pub site_admin: bool,
    /// How many of the owner's requests review rules approved in the last 24 hours.
    #[serde(default)]
    pub automatic_approvals_last_day: i64,
    /// … and in the last 7 days.
    #[serde(default)]
    pub automatic_approvals_last_week: i64,
}

fn member() -> String {
    "member".to_owned()
}

/// A repository listed by a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub name: String,
    #[serde(default)]
    pub private: bool,
}

/// What the evaluation knows besides the request: the organization, the time and its policy.
#[derive(Debug, Clone)]
pub struct Situation {
    pub org_login: String,
    pub now: DateTime<Utc>,
    pub policy: PolicyStack,
}

/// Why a value of [`Facts`] is not one rules can be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error("repository_selection must be all, subset or none, not {0:?}")]
    Selection(String),
    #[error("role must be owner or member, not {0:?}")]
    Role(String),
    #[error("{0}")]
    Cedar(String),
}

impl Facts {
    pub fn selection(&self) -> Result<RepositorySelection, FactsError> {
        RepositorySelection::parse(&self.repository_selection)
            .ok_or_else(|| FactsError::Selection(self.repository_selection.clone()))
    }

    /// The lifetime in days: given, or from the filing to the expiry.
    pub fn lifetime(&self, now: DateTime<Utc>) -> Option<u64> {
        if self.lifetime_days.is_some() {
            return self.lifetime_days;
        }
        let created = self.created_at.unwrap_or(now).timestamp();
        patgate_domain::policy::lifetime_days(created, self.expires_at.map(|e| e.timestamp()))
    }

    /// The expiry: given, or the filing's time plus the lifetime.
    pub fn expiry(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expires_at.or_else(|| {
            let days = i64::try_from(self.lifetime_days?).ok()?;
            self.created_at
                .unwrap_or(now)
                .checked_add_signed(chrono::TimeDelta::try_days(days)?)
        })
    }

    /// Whether the owner is an owner of the organization.
    pub fn by_owner(&self) -> bool {
        self.owner.role == "owner"
    }

    /// The highest level asked for, if anything is asked.
    pub fn highest_level(&self) -> Option<AccessLevel> {
        self.permissions.entries().map(|(_, level)| level).max()
    }

    pub(crate) fn check(&self) -> Result<(), FactsError> {
        self.selection()?;
        if self.owner.role != "owner" && self.owner.role != "member" {
            return Err(FactsError::Role(self.owner.role.clone()));
        }
        Ok(())
    }
}

/// Cedar's `datetime("…")` text of a time.
pub(crate) fn datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) mod cedar {
    //! The request as Cedar's entities, request and context.

    use std::collections::BTreeMap;
    use std::str::FromStr;

    use cedar_policy::{
        Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request,
        RestrictedExpression as X,
    };

    use super::{datetime, Facts, FactsError, Situation};
    use crate::index::Reads;
    use crate::kept::Kept;

    /// The schema's entity types, parsed once: parsing a type's name costs as much as
    /// building the entity.
    const KINDS: [&str; 5] = [
        "Organization",
        "User",
        "TokenRequest",
        "Repository",
        "Action",
    ];

    fn uid(kind: &str, id: &str) -> Result<EntityUid, FactsError> {
        static PARSED: std::sync::OnceLock<Vec<Option<EntityTypeName>>> =
            std::sync::OnceLock::new();
        let parsed = PARSED.get_or_init(|| {
            KINDS
                .iter()
                .map(|k| EntityTypeName::from_str(k).ok())
                .collect()
        });
        let known = KINDS.iter().position(|k| *k == kind);
        let kind = match known.and_then(|at| parsed.get(at).cloned().flatten()) {
            Some(parsed) => parsed,
            None => EntityTypeName::from_str(kind).map_err(|e| FactsError::Cedar(e.to_string()))?,
        };
        Ok(EntityUid::from_type_name_and_id(kind, EntityId::new(id)))
    }

    fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> X {
        X::new_set(values.into_iter().map(|v| X::new_string(v.to_owned())))
    }

    /// Cedar's `datetime("…")` of a time. Building one parses the function's name, which
    /// costs more than the rest of an evaluation's values together, so the values built are
    /// kept, a few thousand at most (the time of the evaluation recurs at every evaluation
    /// within its second, and a dry-run's requests share many expiries).
    fn datetime_value(text: &str) -> X {
        static KEPT: std::sync::OnceLock<Kept<String, X>> = std::sync::OnceLock::new();
        KEPT.get_or_init(|| Kept::new(4_096))
            .get_or(text, || X::new_datetime(text))
    }

    fn long(value: i64) -> X {
        X::new_long(value)
    }

    fn cedar_error(e: impl std::fmt::Display) -> FactsError {
        FactsError::Cedar(e.to_string())
    }

    /// The entities, and the request for `action` (`deny` or `approve`), of one evaluation.
    pub(crate) struct Prepared {
        pub(crate) entities: Entities,
        principal: EntityUid,
        resource: EntityUid,
        context: Context,
    }

    impl Prepared {
        /// The entities and context of `facts`, with only the attributes `reads` names (all of
        /// them when `None`): a value no rule reads is not built.
        pub(crate) fn new(
            facts: &Facts,
            situation: &Situation,
            reads: Option<&Reads>,
        ) -> Result<Self, FactsError> {
            facts.check()?;
            let wants = |name: &str| reads.is_none_or(|r| r.attribute(name));
            let org = uid("Organization", &situation.org_login)?;
            let principal = uid("User", &facts.owner.login)?;
            let request_key = if facts.id > 0 {
                facts.id.to_string()
            } else {
                "case".to_owned()
            };
            let resource = uid("TokenRequest", &request_key)?;

            let mut org_attrs = Vec::new();
            if wants("login") {
                org_attrs.push((
                    "login".to_owned(),
                    X::new_string(situation.org_login.clone()),
                ));
            }
            let mut owner_attrs = Vec::new();
            if wants("login") {
                owner_attrs.push(("login".to_owned(), X::new_string(facts.owner.login.clone())));
            }
            if wants("role") {
                owner_attrs.push(("role".to_owned(), X::new_string(facts.owner.role.clone())));
            }
            if wants("site_admin") {
                owner_attrs.push(("site_admin".to_owned(), X::new_bool(facts.owner.site_admin)));
            }
            let mut entities = vec![
                Entity::new_with_tags(org.clone(), org_attrs, [], []).map_err(cedar_error)?,
                Entity::new_with_tags(principal.clone(), owner_attrs, [], [])
                    .map_err(cedar_error)?,
            ];

            let listed = facts.selection()?.lists_repositories();
            let repositories: &[super::Repository] = if listed { &facts.repositories } else { &[] };
            let repository_entities = reads.is_none_or(|r| r.repositories());
            let mut repo_uids = Vec::with_capacity(repositories.len());
            if repository_entities {
                for repo in repositories {
                    let repo_uid = uid("Repository", &repo.name)?;
                    if repo_uids.contains(&repo_uid) {
                        continue;
                    }
                    let mut attrs = Vec::new();
                    if wants("name") {
                        attrs.push(("name".to_owned(), X::new_string(repo.name.clone())));
                    }
                    if wants("private") {
                        attrs.push(("private".to_owned(), X::new_bool(repo.private)));
                    }
                    entities.push(
                        Entity::new_with_tags(repo_uid.clone(), attrs, [org.clone()], [])
                            .map_err(cedar_error)?,
                    );
                    repo_uids.push(repo_uid);
                }
            }

            // One level per name: the higher, when a name is asked in two groups.
            let mut levels = BTreeMap::new();
            for (name, level) in facts.permissions.entries() {
                let held = levels.entry(name.to_owned()).or_insert(level);
                *held = (*held).max(level);
            }
            let highest = facts.highest_level();
            let now = situation.now;
            let now_text = datetime(now);
            let mut attrs: Vec<(String, X)> = Vec::new();
            let mut put = |name: &str, value: &dyn Fn() -> X| {
                if wants(name) {
                    attrs.push((name.to_owned(), value()));
                }
            };
            put("token_name", &|| X::new_string(facts.token_name.clone()));
            put("repository_selection", &|| {
                X::new_string(facts.repository_selection.clone())
            });
            put("repositories", &|| {
                X::new_set(repo_uids.iter().cloned().map(X::new_entity_uid))
            });
            put("repository_names", &|| {
                strings(repositories.iter().map(|r| r.name.as_str()))
            });
            put("any_private_repository", &|| {
                X::new_bool(repositories.iter().any(|r| r.private))
            });
            put("organization_permissions", &|| {
                strings(facts.permissions.organization.keys().map(String::as_str))
            });
            put("repository_permissions", &|| {
                strings(facts.permissions.repository.keys().map(String::as_str))
            });
            put("other_permissions", &|| {
                strings(facts.permissions.other.keys().map(String::as_str))
            });
            put("permissions", &|| {
                X::new_set(
                    levels
                        .iter()
                        .map(|(name, level)| X::new_string(format!("{name}:{level}"))),
                )
            });
            put("highest_level", &|| {
                X::new_string(highest.map_or("none", |l| l.as_str()).to_owned())
            });
            put("read_only", &|| {
                X::new_bool(highest.is_none_or(|l| l == patgate_domain::AccessLevel::Read))
            });
            put("created_at", &|| match facts.created_at {
                Some(at) if datetime(at) != now_text => datetime_value(&datetime(at)),
                _ => datetime_value(&now_text),
            });
            put("resubmission", &|| X::new_bool(facts.resubmission));
            if let Some(days) = facts.lifetime(now) {
                put("lifetime_days", &|| {
                    long(i64::try_from(days).unwrap_or(i64::MAX))
                });
            }
            if let Some(expiry) = facts.expiry(now) {
                put("expires_at", &|| datetime_value(&datetime(expiry)));
            }
            let tags: Vec<(String, X)> = if reads.is_none_or(Reads::tags) {
                levels
                    .iter()
                    .map(|(name, level)| (name.clone(), X::new_string(level.as_str().to_owned())))
                    .collect()
            } else {
                Vec::new()
            };
            entities.push(
                Entity::new_with_tags(resource.clone(), attrs, [org], tags).map_err(cedar_error)?,
            );
            // Built here to the schema's shape, so not checked against it again at every
            // evaluation (a set's rules were validated strictly against it when saved).
            let entities = Entities::from_entities(entities, None).map_err(cedar_error)?;

            let policy = situation.policy.effective();
            let record = |fields: Vec<(&str, X)>| {
                X::new_record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)))
                    .map_err(cedar_error)
            };
            let mut context = Vec::new();
            if wants("now") {
                context.push(("now".to_owned(), datetime_value(&now_text)));
            }
            if wants("policy") {
                context.push((
                    "policy".to_owned(),
                    record(vec![
                        (
                            "max_lifetime_days",
                            long(i64::from(policy.fine_grained_max_days)),
                        ),
                        ("approval_required", X::new_bool(policy.approval_required)),
                        (
                            "exempt_administrators",
                            X::new_bool(policy.exempt_administrators),
                        ),
                    ])?,
                ));
            }
            if wants("owner_automatic_approvals") {
                context.push((
                    "owner_automatic_approvals".to_owned(),
                    record(vec![
                        ("last_day", long(facts.owner.automatic_approvals_last_day)),
                        ("last_week", long(facts.owner.automatic_approvals_last_week)),
                    ])?,
                ));
            }
            let context = Context::from_pairs(context).map_err(cedar_error)?;
            Ok(Self {
                entities,
                principal,
                resource,
                context,
            })
        }

        pub(crate) fn request(&self, action: &str) -> Result<Request, FactsError> {
            Request::new(
                self.principal.clone(),
                uid("Action", action)?,
                self.resource.clone(),
                self.context.clone(),
                None,
            )
            .map_err(cedar_error)
        }
    }
}
