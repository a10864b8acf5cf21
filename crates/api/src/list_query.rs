//! The list filters of the token endpoints, read from the raw query so that every array form clients send is understood: `owner=a,b`, `owner[]=a&owner[]=b`, `owner=a&owner=b`.

use chrono::{DateTime, NaiveDateTime};
use patgate_domain::{Login, PermissionFilter, RepoName};
use patgate_persistence::requests::ListFilter;
use patgate_persistence::Page;
use utoipa::IntoParams;

use crate::error::{ApiError, FieldError};
use crate::pagination::{invalid_request, query_pairs, read_page};

pub const MAX_OWNERS: usize = 10;
pub const MAX_TOKEN_IDS: usize = 50;

/// The query parameters of the list endpoints, as documented. (Parsing is done by
/// [`parse_list_query`]; this type exists for the OpenAPI document.)
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; parse_list_query reads it")]
pub struct ListParams {
    /// Results per page (max 100; larger values are lowered to 100).
    #[param(minimum = 1, maximum = 100, default = 30)]
    per_page: Option<i64>,
    /// Page number of the results to fetch.
    #[param(minimum = 1, maximum = 10000000, default = 1)]
    page: Option<i64>,
    /// The property by which to sort the results (default `created_at`).
    #[param(inline)]
    sort: Option<SortField>,
    /// The direction to sort the results by (default `desc`).
    #[param(inline)]
    direction: Option<Direction>,
    /// Only requests from these owners (logins; up to 10). Also accepted as `owner[]`, repeated
    /// or comma-separated.
    #[param(max_items = 10, style = Form, explode = false)]
    owner: Option<Vec<String>>,
    /// Only tokens that can reach this repository (its name), including tokens with access to
    /// all repositories.
    repository: Option<String>,
    /// Only tokens that ask for this permission at this level, e.g. `issues_read`.
    permission: Option<String>,
    /// Only tokens last used before this time (ISO 8601, `YYYY-MM-DDTHH:MM:SSZ`).
    last_used_before: Option<String>,
    /// Only tokens last used after this time (ISO 8601, `YYYY-MM-DDTHH:MM:SSZ`).
    last_used_after: Option<String>,
    /// Only these token ids (up to 50). Also accepted as `token_id[]`, repeated or
    /// comma-separated.
    #[param(max_items = 50, style = Form, explode = false)]
    token_id: Option<Vec<String>>,
}

#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "documents the query")]
enum SortField {
    CreatedAt,
}

#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[expect(dead_code, reason = "documents the query")]
enum Direction {
    Asc,
    Desc,
}

const RESOURCE: &str = "PersonalAccessTokenRequest";

fn bad(field: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(RESOURCE, field, "invalid", message)
}

fn parse_time(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDateTime> {
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => Some(patgate_persistence::truncate(t.naive_utc())),
        Err(_) => {
            errors.push(bad(
                field,
                format!("{field} must be an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ)"),
            ));
            None
        }
    }
}

/// Reads every filter, sort and page parameter; all problems are reported together as one 422.
pub fn parse_list_query(query: &str) -> Result<(ListFilter, Page), ApiError> {
    let pairs = query_pairs(query);
    let mut errors = Vec::new();
    let page = read_page(&pairs, &mut errors);
    let mut filter = ListFilter::default();
    let mut owners = Vec::new();
    let mut token_ids = Vec::new();
    for (key, value) in &pairs {
        match key.as_str() {
            "owner" | "owner[]" => owners.extend(split_list(value)),
            "token_id" | "token_id[]" => token_ids.extend(split_list(value)),
            "repository" => match RepoName::parse(value) {
                Ok(name) => filter.repository_key = Some(name.key()),
                Err(e) => errors.push(bad("repository", format!("repository {e}"))),
            },
            "permission" => match PermissionFilter::parse(value) {
                Some(p) => filter.permission = Some(p.to_string()),
                None => errors.push(bad(
                    "permission",
                    "permission must be a permission name and level, e.g. issues_read",
                )),
            },
            "last_used_before" => filter.last_used_before = parse_time(key, value, &mut errors),
            "last_used_after" => filter.last_used_after = parse_time(key, value, &mut errors),
            "sort" if value != "created_at" => {
                errors.push(bad("sort", "sort must be created_at"));
            }
            "direction" => match value.as_str() {
                "asc" => filter.ascending = true,
                "desc" => filter.ascending = false,
                _ => errors.push(bad("direction", "direction must be asc or desc")),
            },
            _ => {}
        }
    }
    read_owners(owners, &mut filter, &mut errors);
    read_token_ids(token_ids, &mut filter, &mut errors);
    if !errors.is_empty() {
        return Err(invalid_request(errors));
    }
    Ok((filter, page))
}

/// Parses the `owner` values into `filter.owner_keys`, at most [`MAX_OWNERS`] of them.
fn read_owners(owners: Vec<String>, filter: &mut ListFilter, errors: &mut Vec<FieldError>) {
    for owner in owners {
        match Login::parse(&owner) {
            Ok(login) => filter.owner_keys.push(login.key()),
            Err(e) => errors.push(bad("owner", format!("owner {owner:?} {e}"))),
        }
    }
    // Logins are case-insensitive: `alice` and `ALICE` are one owner.
    filter.owner_keys.sort();
    filter.owner_keys.dedup();
    if filter.owner_keys.len() > MAX_OWNERS {
        errors.push(bad(
            "owner",
            format!("at most {MAX_OWNERS} owners may be given"),
        ));
    }
}

/// Parses the `token_id` values into `filter.token_ids`, at most [`MAX_TOKEN_IDS`] of them.
fn read_token_ids(
    mut token_ids: Vec<String>,
    filter: &mut ListFilter,
    errors: &mut Vec<FieldError>,
) {
    token_ids.sort();
    token_ids.dedup();
    if token_ids.len() > MAX_TOKEN_IDS {
        errors.push(bad(
            "token_id",
            format!("at most {MAX_TOKEN_IDS} token ids may be given"),
        ));
    }
    for id in token_ids {
        match id.parse::<i64>() {
            Ok(n) if n > 0 => filter.token_ids.push(n),
            _ => errors.push(bad(
                "token_id",
                format!("token_id {id:?} is not a token id"),
            )),
        }
    }
}

fn split_list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_array_form_is_understood() {
        for q in [
            "owner=a,b",
            "owner[]=a&owner[]=b",
            "owner=a&owner=b",
            "owner%5B%5D=a%2Cb",
            "owner=A,b,a",
        ] {
            let (f, _) = parse_list_query(q).expect(q);
            assert_eq!(f.owner_keys, vec!["a", "b"], "{q}");
        }
    }

    #[test]
    fn one_owner_spelled_in_many_cases_counts_once_toward_the_limit() {
        let mut owners: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
        owners.extend(["U0".to_owned(), "U1".to_owned()]);
        let (f, _) = parse_list_query(&format!("owner={}", owners.join(","))).expect("ten owners");
        assert_eq!(f.owner_keys.len(), 10);
    }

    #[test]
    fn limits_are_enforced() {
        let owners: Vec<String> = (0..11).map(|i| format!("u{i}")).collect();
        assert!(parse_list_query(&format!("owner={}", owners.join(","))).is_err());
        let ids: Vec<String> = (1..=51).map(|i| i.to_string()).collect();
        assert!(parse_list_query(&format!("token_id={}", ids.join(","))).is_err());
        assert!(parse_list_query(&format!("token_id={}", ids[..50].join(","))).is_ok());
    }

    #[test]
    fn bad_values_are_all_reported() {
        let err =
            parse_list_query("sort=updated&direction=up&last_used_before=yesterday&permission=x")
                .expect_err("invalid");
        match err {
            ApiError::Unprocessable { errors, .. } => assert_eq!(errors.len(), 4),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn times_and_permissions_are_parsed() {
        let (f, page) = parse_list_query(
            "last_used_after=2024-01-02T03:04:05Z&permission=issues_read&direction=asc&per_page=5&page=2",
        )
        .expect("valid");
        assert_eq!(f.permission.as_deref(), Some("issues_read"));
        assert!(f.ascending);
        assert_eq!(
            f.last_used_after.map(|t| t.to_string()).as_deref(),
            Some("2024-01-02 03:04:05")
        );
        assert_eq!((page.page, page.per_page), (2, 5));
    }
}
