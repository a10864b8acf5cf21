//! patgate's rules with no I/O: validated names, permissions, the request and grant state machines, review validation and credential classification.

pub mod access;
pub mod credential;
pub mod intake;
pub mod names;
pub mod permissions;
pub mod policy;
pub mod review;
pub mod selection;
pub mod state;

pub use credential::{classify, parse_authorization, AuthScheme, Credential, CredentialKind};
pub use names::{EmailAddress, Login, NameError, RepoName, TokenName};
pub use permissions::{
    AccessLevel, NarrowError, Operation, PermissionFilter, PermissionSet, RequestedPermissions,
    ORG_ADMIN_PERMISSION, ORG_HOOKS_PERMISSION, PAT_GRANTS_PERMISSION, PAT_INTAKE_PERMISSION,
    PAT_REQUESTS_PERMISSION, REVIEW_RULES_PERMISSION,
};
pub use review::{
    Bulk, IdList, ReviewAction, ReviewReason, Revoking, Ruling, ValidationError, MAX_IDS,
    MAX_REASON_CHARS,
};
pub use selection::RepositorySelection;
pub use state::{GrantEvent, GrantState, RequestEvent, RequestState, TransitionError};
