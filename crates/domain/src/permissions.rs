//! Permission levels, an installation's permission set, what each operation needs, and the permissions a token requests.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// App permission that covers reviewing fine-grained token requests (read: list, write: review).
pub const PAT_REQUESTS_PERMISSION: &str = "organization_personal_access_token_requests";
/// App permission that covers approved tokens, i.e. grants (read: list and check access,
/// write: revoke).
pub const PAT_GRANTS_PERMISSION: &str = "organization_personal_access_tokens";
/// App permission of the token issuer (write: file, refile and withdraw requests and report
/// last use; read: read verdicts). Distinct from reviewing.
pub const PAT_INTAKE_PERMISSION: &str = "organization_personal_access_token_intake";
/// GitHub's permission for organization settings (read: read the token policy and the audit
/// trail; write: change the policy).
pub const ORG_ADMIN_PERMISSION: &str = "organization_administration";
/// GitHub's permission for organization webhooks (read: list hooks and their deliveries;
/// write: create, change, delete, ping and redeliver).
pub const ORG_HOOKS_PERMISSION: &str = "organization_hooks";

/// patgate's permission for an organization's review rules (read: view them, their versions
/// and schema, and dry-run a candidate; write: save a version).
pub const REVIEW_RULES_PERMISSION: &str = "organization_personal_access_token_review_rules";

/// patgate's permission for the token policy of the enterprise an installation's organization
/// belongs to (read: read it; write: change it, which binds every organization of the
/// enterprise). GitHub sets enterprise policy in its web interface only.
pub const ENTERPRISE_POLICY_PERMISSION: &str = "enterprise_personal_access_token_policy";

/// A permission level, ordered so that a higher level includes the lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    Read,
    Write,
    Admin,
}

impl AccessLevel {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission key as GitHub spells them: lowercase ASCII letters, digits and `_`.
fn is_permission_key(key: &str) -> bool {
    (1..=100).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The permissions an installation (or a token issued for it) holds: key → level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, AccessLevel>")]
pub struct PermissionSet(BTreeMap<String, AccessLevel>);

impl TryFrom<BTreeMap<String, AccessLevel>> for PermissionSet {
    type Error = NarrowError;

    fn try_from(map: BTreeMap<String, AccessLevel>) -> Result<Self, NarrowError> {
        Self::from_pairs(map)
    }
}

/// Why a permission set could not be narrowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NarrowError {
    #[error("permissions not granted to this installation: {}", .0.join(", "))]
    NotGranted(Vec<String>),
    #[error("not a permission name: {0}")]
    BadKey(String),
}

impl PermissionSet {
    /// Builds a set from key/level pairs, refusing malformed keys.
    pub fn from_pairs<I, K>(pairs: I) -> Result<Self, NarrowError>
    where
        I: IntoIterator<Item = (K, AccessLevel)>,
        K: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (key, level) in pairs {
            let key = key.into();
            if !is_permission_key(&key) {
                return Err(NarrowError::BadKey(key));
            }
            map.insert(key, level);
        }
        Ok(Self(map))
    }

    /// Whether the set holds `key` at `level` or higher.
    pub fn allows(&self, key: &str, level: AccessLevel) -> bool {
        self.0.get(key).is_some_and(|held| *held >= level)
    }

    /// The subset asked for, if every key is held at the asked level or higher. A token may be
    /// narrowed, never widened. An empty request narrows nothing, as on GitHub: a client that
    /// sends `"permissions": {}` (PyGithub always does) gets everything the installation holds.
    pub fn narrow(&self, requested: &PermissionSet) -> Result<PermissionSet, NarrowError> {
        if requested.is_empty() {
            return Ok(self.clone());
        }
        let missing: Vec<String> = requested
            .0
            .iter()
            .filter(|(key, level)| !self.allows(key, **level))
            .map(|(key, level)| format!("{key}:{level}"))
            .collect();
        if missing.is_empty() {
            Ok(requested.clone())
        } else {
            Err(NarrowError::NotGranted(missing))
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, AccessLevel)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An operation of the API that needs an app permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListRequests,
    ReviewRequests,
    ListRequestRepositories,
    ListGrants,
    RevokeGrants,
    ListGrantRepositories,
    CheckAccess,
    SubmitRequests,
    ReadVerdicts,
    ReadPolicy,
    WritePolicy,
    ReadAudit,
    ReadHooks,
    WriteHooks,
    ReadEnterprisePolicy,
    WriteEnterprisePolicy,
    ReadReviewRules,
    WriteReviewRules,
}

impl Operation {
    /// The permission key and the lowest level the operation needs.
    pub fn required(self) -> (&'static str, AccessLevel) {
        match self {
            Self::ListRequests | Self::ListRequestRepositories => {
                (PAT_REQUESTS_PERMISSION, AccessLevel::Read)
            }
            Self::ReviewRequests => (PAT_REQUESTS_PERMISSION, AccessLevel::Write),
            Self::ListGrants | Self::ListGrantRepositories => {
                (PAT_GRANTS_PERMISSION, AccessLevel::Read)
            }
            Self::RevokeGrants => (PAT_GRANTS_PERMISSION, AccessLevel::Write),
            Self::CheckAccess => (PAT_GRANTS_PERMISSION, AccessLevel::Read),
            Self::SubmitRequests => (PAT_INTAKE_PERMISSION, AccessLevel::Write),
            Self::ReadVerdicts => (PAT_INTAKE_PERMISSION, AccessLevel::Read),
            Self::ReadPolicy | Self::ReadAudit => (ORG_ADMIN_PERMISSION, AccessLevel::Read),
            Self::WritePolicy => (ORG_ADMIN_PERMISSION, AccessLevel::Write),
            Self::ReadHooks => (ORG_HOOKS_PERMISSION, AccessLevel::Read),
            Self::WriteHooks => (ORG_HOOKS_PERMISSION, AccessLevel::Write),
            Self::ReadEnterprisePolicy => (ENTERPRISE_POLICY_PERMISSION, AccessLevel::Read),
            Self::WriteEnterprisePolicy => (ENTERPRISE_POLICY_PERMISSION, AccessLevel::Write),
            Self::ReadReviewRules => (REVIEW_RULES_PERMISSION, AccessLevel::Read),
            Self::WriteReviewRules => (REVIEW_RULES_PERMISSION, AccessLevel::Write),
        }
    }

    /// Whether `held` lets its holder perform this operation.
    pub fn is_allowed_by(self, held: &PermissionSet) -> bool {
        let (key, level) = self.required();
        held.allows(key, level)
    }
}

/// The permissions a fine-grained token asks of an organization, grouped as GitHub shows
/// them: `{"organization": {...}, "repository": {...}, "other": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedPermissions {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub organization: BTreeMap<String, AccessLevel>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub repository: BTreeMap<String, AccessLevel>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, AccessLevel>,
}

impl RequestedPermissions {
    /// Every (key, level) pair across the three groups.
    pub fn entries(&self) -> impl Iterator<Item = (&str, AccessLevel)> {
        self.organization
            .iter()
            .chain(&self.repository)
            .chain(&self.other)
            .map(|(k, v)| (k.as_str(), *v))
    }

    /// Whether every key is a well-formed permission name.
    pub fn is_well_formed(&self) -> bool {
        self.entries().all(|(k, _)| is_permission_key(k))
    }

    pub fn is_empty(&self) -> bool {
        self.organization.is_empty() && self.repository.is_empty() && self.other.is_empty()
    }

    /// What `self` asks for beyond `held`, GitHub's `permissions_added` (keys `held` lacks)
    /// and `permissions_upgraded` (keys `held` has at a lower level).
    pub fn beyond(
        &self,
        held: &RequestedPermissions,
    ) -> (RequestedPermissions, RequestedPermissions) {
        let mut added = RequestedPermissions::default();
        let mut upgraded = RequestedPermissions::default();
        let groups = [
            (
                &self.organization,
                &held.organization,
                &mut added.organization,
                &mut upgraded.organization,
            ),
            (
                &self.repository,
                &held.repository,
                &mut added.repository,
                &mut upgraded.repository,
            ),
            (
                &self.other,
                &held.other,
                &mut added.other,
                &mut upgraded.other,
            ),
        ];
        for (asked, had, add, up) in groups {
            for (key, level) in asked {
                match had.get(key) {
                    None => {
                        add.insert(key.clone(), *level);
                    }
                    Some(old) if old < level => {
                        up.insert(key.clone(), *level);
                    }
                    Some(_) => {}
                }
            }
        }
        (added, upgraded)
    }

    /// Whether the request asks for `key` at `level` or higher, in any group.
    pub fn allows(&self, key: &str, level: AccessLevel) -> bool {
        self.entries().any(|(k, l)| k == key && l >= level)
    }

    /// Whether the request asks for `filter`'s permission at exactly its level.
    pub fn matches(&self, filter: &PermissionFilter) -> bool {
        self.entries()
            .any(|(k, l)| k == filter.key && l == filter.level)
    }
}

/// The `permission` list filter, e.g. `issues_read`: a permission key and a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionFilter {
    pub key: String,
    pub level: AccessLevel,
}

impl PermissionFilter {
    /// Parses `<key>_<level>`; the level is the part after the last underscore.
    pub fn parse(raw: &str) -> Option<Self> {
        let (key, level) = raw.rsplit_once('_')?;
        let level = AccessLevel::parse(level)?;
        is_permission_key(key).then(|| Self {
            key: key.to_owned(),
            level,
        })
    }
}

impl fmt::Display for PermissionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.key, self.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, AccessLevel)]) -> PermissionSet {
        PermissionSet::from_pairs(pairs.iter().map(|(k, l)| (*k, *l))).expect("valid keys")
    }

    #[test]
    fn each_operation_needs_the_documented_permission() {
        use AccessLevel::*;
        let reader = set(&[(PAT_REQUESTS_PERMISSION, Read)]);
        assert!(Operation::ListRequests.is_allowed_by(&reader));
        assert!(Operation::ListRequestRepositories.is_allowed_by(&reader));
        assert!(!Operation::ReviewRequests.is_allowed_by(&reader));
        assert!(!Operation::ListGrants.is_allowed_by(&reader));
        let writer = set(&[
            (PAT_REQUESTS_PERMISSION, Write),
            (PAT_GRANTS_PERMISSION, Write),
        ]);
        for op in [
            Operation::ListRequests,
            Operation::ReviewRequests,
            Operation::ListGrants,
            Operation::RevokeGrants,
            Operation::ListGrantRepositories,
        ] {
            assert!(op.is_allowed_by(&writer), "{op:?}");
        }
        assert!(!Operation::ListRequests.is_allowed_by(&PermissionSet::default()));
    }

    #[test]
    fn narrowing_never_widens() {
        use AccessLevel::*;
        let held = set(&[("members", Read), (PAT_REQUESTS_PERMISSION, Write)]);
        let ask = set(&[(PAT_REQUESTS_PERMISSION, Read)]);
        assert_eq!(held.narrow(&ask), Ok(ask.clone()));
        assert_eq!(held.narrow(&PermissionSet::default()), Ok(held.clone()));
        let wider = set(&[("members", Write), ("issues", Read)]);
        assert_eq!(
            held.narrow(&wider),
            Err(NarrowError::NotGranted(vec![
                "issues:read".into(),
                "members:write".into()
            ]))
        );
    }

    #[test]
    fn permission_filters_split_at_the_last_underscore() {
        let f = PermissionFilter::parse("pull_requests_write").expect("valid");
        assert_eq!(
            (f.key.as_str(), f.level),
            ("pull_requests", AccessLevel::Write)
        );
        assert_eq!(f.to_string(), "pull_requests_write");
        assert_eq!(PermissionFilter::parse("issues"), None);
        assert_eq!(PermissionFilter::parse("issues_owner"), None);
        assert_eq!(PermissionFilter::parse("_read"), None);
        assert_eq!(PermissionFilter::parse("Issues_read"), None);
    }

    #[test]
    fn a_resubmission_reports_what_it_adds_and_upgrades() {
        let held: RequestedPermissions =
            serde_json::from_str(r#"{"repository":{"metadata":"read","issues":"read"}}"#)
                .expect("valid");
        let asked: RequestedPermissions = serde_json::from_str(
            r#"{"organization":{"members":"read"},"repository":{"metadata":"read","issues":"write"}}"#,
        )
        .expect("valid");
        let (added, upgraded) = asked.beyond(&held);
        assert_eq!(
            serde_json::to_string(&added).expect("json"),
            r#"{"organization":{"members":"read"}}"#
        );
        assert_eq!(
            serde_json::to_string(&upgraded).expect("json"),
            r#"{"repository":{"issues":"write"}}"#
        );
        let (added, upgraded) = held.beyond(&asked);
        assert!(added.is_empty() && upgraded.is_empty());
        assert!(asked.allows("issues", AccessLevel::Read));
        assert!(!held.allows("issues", AccessLevel::Write));
    }

    #[test]
    fn requested_permissions_round_trip_githubs_shape() {
        let json = r#"{"organization":{"members":"read"},"repository":{"metadata":"read","issues":"write"}}"#;
        let p: RequestedPermissions = serde_json::from_str(json).expect("parses");
        assert!(p.matches(&PermissionFilter::parse("issues_write").expect("valid")));
        assert!(!p.matches(&PermissionFilter::parse("issues_read").expect("valid")));
        let back = serde_json::to_string(&p).expect("serialises");
        assert_eq!(
            back,
            r#"{"organization":{"members":"read"},"repository":{"issues":"write","metadata":"read"}}"#
        );
    }
}
