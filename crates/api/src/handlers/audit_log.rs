//! `GET /orgs/{org}/audit-log`: the organization's token governance as GitHub's audit log shows it, with GitHub's `personal_access_token.*` actions, `phrase` search and cursor paging.

use actix_web::{get, HttpRequest};
use patgate_domain::Operation;
use patgate_persistence::audit::{self, FeedCursor, FeedEvent, FeedQuery};
use patgate_persistence::directory;
use serde_json::Value;
use utoipa::IntoParams;

use super::errors::NotFoundErrors;
use super::params::OrgPath;
use super::{Call, Reply};
use crate::audit_feed::{
    actions_of, cursor_of, event_json, page_cursor, parse_phrase, ActorName, Phrase,
};
use crate::error::{ApiError, FieldError, ValidationError as ValidationBody};
use crate::pagination::{invalid_request, link_url, ok_with_link, query_pairs, read_page};

/// What a page of the feed asks for.
struct Params {
    phrase: Phrase,
    /// `git` events only: patgate has none.
    git_only: bool,
    ascending: bool,
    cursor: Option<FeedCursor>,
    per_page: i64,
}

/// The feed's parameters, as documented; [`parse`] reads them.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query; parse reads it")]
struct FeedParams {
    /// A search phrase, e.g. `action:personal_access_token.access_granted actor:reviewer[bot] created:>=2026-01-01`
    phrase: Option<String>,
    /// `web` (default), `git` or `all`; patgate has only web events
    include: Option<String>,
    /// A cursor from the Link header: the page after it
    after: Option<String>,
    /// A cursor from the Link header: the page before it
    before: Option<String>,
    /// `desc` (default, newest first) or `asc`
    order: Option<String>,
    /// Results per page (max 100)
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<i64>,
}

fn bad(field: &str, message: &str) -> FieldError {
    FieldError::new("AuditLog", field, "invalid", message)
}

fn parse(query: &str) -> Result<Params, ApiError> {
    let pairs = query_pairs(query);
    let value = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut errors = Vec::new();
    let phrase = parse_phrase(value("phrase").unwrap_or(""))
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let git_only = match value("include").unwrap_or("web") {
        "web" | "all" => false,
        "git" => true,
        _ => {
            errors.push(bad("include", "include must be web, git or all"));
            false
        }
    };
    let ascending = match value("order").unwrap_or("desc") {
        "desc" => false,
        "asc" => true,
        _ => {
            errors.push(bad("order", "order must be asc or desc"));
            false
        }
    };
    let cursor = page_cursor(value("after").unwrap_or(""), value("before").unwrap_or(""))
        .map_err(|e| errors.push(e))
        .unwrap_or(None);
    // The shared reader of `per_page` (lowered to 100, 422 below 1); `page` is not this
    // list's, and is ignored as any unknown parameter.
    let sizes: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k == "per_page")
        .cloned()
        .collect();
    let per_page = read_page(&sizes, &mut errors).per_page;
    if !errors.is_empty() {
        return Err(invalid_request(errors));
    }
    Ok(Params {
        phrase,
        git_only,
        ascending,
        cursor,
        per_page,
    })
}

/// The feed's query, or `None` when the phrase names an actor or user patgate does not know
/// (nothing can match).
fn feed_query(
    conn: &mut patgate_persistence::DbConnection,
    org_id: i64,
    p: &Params,
) -> Result<Option<FeedQuery>, ApiError> {
    let mut actions = p.phrase.actions.clone();
    let mut q = FeedQuery {
        org_id,
        cursor: p.cursor,
        ascending: p.ascending,
        limit: p.per_page + 1,
        ..FeedQuery::default()
    };
    if let Some(actor) = &p.phrase.actor {
        actions.retain(actions_of(actor));
        match actor {
            ActorName::Bot(slug) => match directory::app_by_slug(conn, slug)? {
                Some(app) => q.app_id = Some(app.id),
                None => return Ok(None),
            },
            ActorName::User(login) => match directory::user_id_by_login(conn, login)? {
                Some(id) => q.owner_id = Some(id),
                None => return Ok(None),
            },
        }
    }
    if let Some(login) = &p.phrase.user {
        match directory::user_id_by_login(conn, login)? {
            Some(id) if q.owner_id.is_none_or(|o| o == id) => q.owner_id = Some(id),
            _ => return Ok(None),
        }
    }
    if actions.is_empty() {
        return Ok(None);
    }
    q.actions = actions.into_iter().map(str::to_owned).collect();
    q.from = p.phrase.from;
    q.until = p.phrase.until;
    Ok(Some(q))
}

/// GitHub's `Link` for a cursor-paginated list: `next` and `prev` carry the cursors of the
/// page's last and first events, `first` empty cursors; there is no `last`.
fn link(
    base: &str,
    path: &str,
    query: &str,
    next: Option<String>,
    prev: Option<String>,
    first: bool,
) -> Option<String> {
    let url = |after: &str, before: &str| {
        link_url(base, path, query, &[("after", after), ("before", before)])
    };
    let mut links = Vec::new();
    if let Some(after) = next {
        links.push(format!("<{}>; rel=\"next\"", url(&after, "")));
    }
    if first {
        links.push(format!("<{}>; rel=\"first\"", url("", "")));
    }
    if let Some(before) = prev {
        links.push(format!("<{}>; rel=\"prev\"", url("", &before)));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

/// Get the audit log for an organization
///
/// The organization's personal access token events with GitHub's `personal_access_token.*`
/// actions and `audit-log-event` fields: `request_created`, `access_granted`,
/// `request_denied`, `request_cancelled` and `access_revoked`. `phrase` searches with
/// `action:`, `-action:`, `operation:`, `actor:`, `user:` and `created:`; `order` is `desc`
/// (default) or `asc`; pages follow the `after` and `before` cursors of the `Link` header.
/// patgate's own trail, with every change, is `GET /orgs/{org}/personal-access-token-audit-log`.
/// Needs `organization_administration: read`.
#[utoipa::path(
    operation_id = "orgs/get-audit-log", tag = "orgs",
    params(OrgPath, FeedParams),
    responses(
        (status = 200, description = "Response", body = Vec<Object>,
            headers(("Link" = String, description = "Cursor pagination links (next, first, prev)"))),
        NotFoundErrors,
        (status = 422, description = "Invalid phrase, cursor or parameter", body = ValidationBody),
    ),
    security(("installation_token" = []))
)]
#[get("/orgs/{org}/audit-log")]
pub async fn get_audit_log(call: Call<OrgPath>, req: HttpRequest) -> Reply {
    let params = parse(req.query_string());
    let (login, page, params) = call
        .in_org(Operation::ReadAudit)
        .read(move |conn, org| {
            let p = params?;
            let query = if p.git_only {
                None
            } else {
                feed_query(conn, org.id, &p)?
            };
            let events = match query {
                Some(q) => audit::feed(conn, &q)?,
                None => Vec::new(),
            };
            Ok((org.login, events, p))
        })
        .await?;
    let (events, more) = trim(page, &params);
    let backwards = matches!(params.cursor, Some(FeedCursor::Before(..)));
    let paged = params.cursor.is_some();
    let (next, prev) = match (events.first(), events.last()) {
        (Some(first), Some(last)) => (
            (if backwards { paged } else { more }).then(|| cursor_of(last)),
            (if backwards { more } else { paged }).then(|| cursor_of(first)),
        ),
        _ => (None, None),
    };
    let link = link(
        &call.state.base_url,
        req.path(),
        req.query_string(),
        next,
        prev,
        paged,
    );
    let body: Vec<Value> = events.iter().map(|e| event_json(e, &login)).collect();
    Ok(ok_with_link(link).json(body))
}

/// The page without the one event read past it, and whether there was one: past the end of
/// the page in the feed's order, or before its start when reading back from a `before`.
fn trim(mut events: Vec<FeedEvent>, p: &Params) -> (Vec<FeedEvent>, bool) {
    let per_page = usize::try_from(p.per_page).unwrap_or(usize::MAX);
    let more = events.len() > per_page;
    if more {
        if matches!(p.cursor, Some(FeedCursor::Before(..))) {
            events.remove(0);
        } else {
            events.truncate(per_page);
        }
    }
    (events, more)
}
