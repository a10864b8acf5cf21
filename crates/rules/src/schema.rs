//! The Cedar schema every rule set is validated against, served as it is by
//! `GET …/personal-access-token-review-rules/schema`.

use std::sync::OnceLock;

use cedar_policy::Schema;

/// The schema's version: it changes when an attribute is added, renamed or removed.
pub const SCHEMA_VERSION: u32 = 1;

/// What a rule can see of a request, in Cedar's schema format.
pub const SCHEMA: &str = r#"// patgate review rules, schema version 1.
//
// A rule is a Cedar policy with an @id and a @reason. It asks one of two questions about a
// pending request (the resource), filed by a token whose owner is the principal:
//   permit (principal, action == Action::"deny", resource) when { ... };     deny it
//   permit (principal, action == Action::"approve", resource) when { ... };  approve it
//   forbid (principal, action == Action::"approve", resource) when { ... };  leave it for people
// Any matching deny rule denies; otherwise a matching approve rule approves unless a
// "leave for people" rule matches; otherwise the request stays pending.

// The organization the request asks to reach.
entity Organization = {
  login: String,
};

// A repository of the organization that the request names.
entity Repository in [Organization] = {
  name: String,
  private: Bool,
};

// The token's owner.
entity User = {
  login: String,
  // "owner" or "member": the owner's role in the organization.
  role: String,
  site_admin: Bool,
};

// The request. Its tags are the permissions asked for, by name, with the level asked:
//   resource.hasTag("contents") && resource.getTag("contents") == "write"
// (a name asked in two groups carries the higher level).
entity TokenRequest in [Organization] = {
  token_name: String,
  // "all", "subset" or "none".
  repository_selection: String,
  // The repositories listed, for "subset" (empty otherwise).
  repositories: Set<Repository>,
  repository_names: Set<String>,
  // Whether any repository listed is private.
  any_private_repository: Bool,
  // Permission names asked for, by group.
  organization_permissions: Set<String>,
  repository_permissions: Set<String>,
  other_permissions: Set<String>,
  // Every permission asked for as "name:level", e.g. "contents:read".
  permissions: Set<String>,
  // The highest level asked for: "none", "read", "write" or "admin".
  highest_level: String,
  // Whether every permission asked for is at "read".
  read_only: Bool,
  // The token's lifetime in whole days, and when it expires; absent when it never expires.
  lifetime_days?: Long,
  expires_at?: datetime,
  // When the request was filed.
  created_at: datetime,
  // Whether the token already holds access and asks for more.
  resubmission: Bool,
} tags String;

type Policy = {
  // The longest lifetime the organization's policy allows fine-grained tokens, in days.
  max_lifetime_days: Long,
  approval_required: Bool,
  exempt_administrators: Bool,
};

type AutomaticApprovals = {
  last_day: Long,
  last_week: Long,
};

action "deny", "approve" appliesTo {
  principal: [User],
  resource: [TokenRequest],
  context: {
    // The time of the evaluation.
    now: datetime,
    // The organization's policy in force.
    policy: Policy,
    // How many of the owner's requests review rules approved in the last 24 hours and 7 days.
    owner_automatic_approvals: AutomaticApprovals,
  },
};
"#;

/// The schema, parsed once.
pub fn schema() -> &'static Schema {
    static SCHEMA_PARSED: OnceLock<Schema> = OnceLock::new();
    SCHEMA_PARSED.get_or_init(|| {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).expect("the review rules schema parses");
        schema
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parses_without_warnings() {
        let (_, warnings) = Schema::from_cedarschema_str(SCHEMA).expect("parses");
        assert_eq!(warnings.count(), 0);
        assert!(SCHEMA.contains(&format!("schema version {SCHEMA_VERSION}")));
    }
}
