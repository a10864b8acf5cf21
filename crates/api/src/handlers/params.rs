//! The parameters the operations share. A path struct is both what the handler's
//! [`super::Call`] extracts (`call: Call<HookPath>`, then `call.path.hook_id`) and the
//! documentation of the path's parameters (`params(HookPath)` in the handler's
//! `#[utoipa::path]`). A path id that is not an integer is 404, as on every route
//! (`PathConfig` in `build_app`).

use serde::Deserialize;
use utoipa::IntoParams;

use super::InOrg;

/// Declares path structs: each field is a path segment of that name, documented by the string
/// after it (the parameter's description in the OpenAPI document).
macro_rules! path_params {
    ($($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty = $description:literal),* })+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Deserialize, IntoParams)]
            #[into_params(parameter_in = Path)]
            pub struct $name {
                $(#[doc = $description] pub $field: $ty,)*
            }
        )+
    };
}

/// Declares path structs under `/orgs/{org}/`: `org` first, then the fields given, as
/// [`path_params`] does; each names its organization ([`InOrg`]).
macro_rules! org_paths {
    ($($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty = $description:literal),* })+) => {
        $(
            path_params! {
                $(#[$doc])*
                $name {
                    org: String = "The organization name (not case sensitive)"
                    $(, $field: $ty = $description)*
                }
            }

            impl InOrg for $name {
                fn org(&self) -> &str {
                    &self.org
                }
            }
        )+
    };
}

org_paths! {
    /// `/orgs/{org}/…`.
    OrgPath {}
    /// `/orgs/{org}/hooks/{hook_id}…`.
    HookPath { hook_id: i64 = "The unique identifier of the hook." }
    /// `/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}…`.
    HookDeliveryPath {
        hook_id: i64 = "The unique identifier of the hook.",
        delivery_id: i64 = "The delivery's id"
    }
    /// `/orgs/{org}/personal-access-token-requests/{pat_request_id}…`.
    PatRequestPath { pat_request_id: i64 = "Unique identifier of the request" }
    /// `/orgs/{org}/personal-access-token-intake/requests/{pat_request_id}`.
    FiledRequestPath { pat_request_id: i64 = "The request's id" }
    /// `/orgs/{org}/personal-access-tokens/{pat_id}/repositories`.
    PatGrantPath { pat_id: i64 = "Unique identifier of the fine-grained personal access token." }
    /// `/orgs/{org}/personal-access-token-review-rules/versions/{version}`.
    RulesVersionPath { version: i64 = "The version's number" }
    /// `/orgs/{org}/personal-access-tokens/{pat_id}` (GitHub words its `pat_id` so).
    PatAccessPath { pat_id: i64 = "The unique identifier of the fine-grained personal access token." }
}

path_params! {
    /// `/app/hook/deliveries/{delivery_id}…`.
    DeliveryPath { delivery_id: i64 = "The delivery's id" }
    /// `/app/installations/{installation_id}…`.
    InstallationPath { installation_id: i64 = "The unique identifier of the installation" }
    /// `/enterprises/{enterprise}/…`.
    EnterprisePath { enterprise: String = "The enterprise's slug (not case sensitive)" }
}

/// `per_page` and `page` of the lists paged by number. Documents only: the handlers read them
/// with [`crate::pagination::page_from_query`], for GitHub's 422.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; page_from_query reads it")]
pub struct PageParams {
    /// Results per page (max 100)
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<i64>,
    /// Page number
    #[param(minimum = 1)]
    page: Option<i64>,
}
