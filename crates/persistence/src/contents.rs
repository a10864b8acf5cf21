//! What a queued event shows, read when it is sent (and when a delivery is shown): a request
//! event's context, an owner's notice, an organization's digest, a ping's hook. The outbox
//! rows point at their audit event, period or hook; what they show is read here, as it is at
//! the time of sending.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use patgate_domain::RepositorySelection;

use crate::db::DbConnection;
use crate::models::{AuditEvent, Organization, PatRequest, Repository, Token, User};
use crate::notifications::{owners_with_email, Notification};
use crate::repositories::{self, Access};
use crate::schema::{
    audit_events, org_webhooks, organizations, pat_grants, pat_requests, tokens, users,
};
use crate::webhooks::{Delivery, OrgWebhook};
use crate::{Page, StoreError};

/// What a request event's payload is made of.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub event: AuditEvent,
    pub request: PatRequest,
    pub owner: User,
    pub token: Token,
    pub org: Organization,
    /// The repositories of a `subset` request (up to 1,000); empty otherwise.
    pub repositories: Vec<Repository>,
    pub repository_count: i64,
}

/// What a delivery's payload is made of, read when it is sent.
#[derive(Debug, Clone)]
pub enum Content {
    /// A request's event (`personal_access_token_request`), or the owner's notice of a review
    /// (`personal_access_token_request_notification`).
    Request(Box<EventContext>),
    /// The organization's digest of the period starting at `period_start`, listing at most
    /// [`DIGEST_LIMIT`] requests.
    Digest {
        digest: Digest,
        period_start: NaiveDateTime,
    },
    /// A ping: the hook and its organization.
    Ping { hook: OrgWebhook, org: Organization },
}

/// The most requests a digest lists; the rest are counted and linked to.
pub const DIGEST_LIMIT: i64 = 200;

/// Reads what `delivery`'s payload shows.
pub fn content(conn: &mut DbConnection, delivery: &Delivery) -> Result<Content, StoreError> {
    if let Some(event_id) = delivery.event_id {
        return Ok(Content::Request(Box::new(event_context(conn, event_id)?)));
    }
    let org_id = delivery.org_id.ok_or(StoreError::NotFound)?;
    if let Some(period_start) = delivery.period_start {
        let digest = digest(conn, org_id, DIGEST_LIMIT)?;
        return Ok(Content::Digest {
            digest,
            period_start,
        });
    }
    let hook_id = delivery.hook_id.ok_or(StoreError::NotFound)?;
    let hook: OrgWebhook = org_webhooks::table
        .find(hook_id)
        .select(OrgWebhook::as_select())
        .first(conn)?;
    let org: Organization = organizations::table.find(org_id).first(conn)?;
    Ok(Content::Ping { hook, org })
}

/// The request an event is about: its subject, or for a grant's event the request it granted.
pub(crate) fn request_of(
    conn: &mut DbConnection,
    event: &AuditEvent,
) -> Result<PatRequest, StoreError> {
    let request_id = if event.subject_type == "grant" {
        pat_grants::table
            .find(event.subject_id)
            .select(pat_grants::request_id)
            .first(conn)?
    } else {
        event.subject_id
    };
    Ok(pat_requests::table.find(request_id).first(conn)?)
}

/// Reads what a request event's payload shows: the event, its request as it is now, the owner,
/// the token, the organization and the repositories.
pub fn event_context(conn: &mut DbConnection, event_id: i64) -> Result<EventContext, StoreError> {
    let event: AuditEvent = audit_events::table.find(event_id).first(conn)?;
    let request = request_of(conn, &event)?;
    let owner: User = users::table.find(request.owner_id).first(conn)?;
    let token: Token = tokens::table.find(request.token_id).first(conn)?;
    let org: Organization = organizations::table.find(request.org_id).first(conn)?;
    let subset = RepositorySelection::parse(&request.repository_selection)
        .is_some_and(RepositorySelection::lists_repositories);
    let (repositories, repository_count) = if subset {
        let access = Access {
            org_id: request.org_id,
            request_id: request.id,
            repository_selection: &request.repository_selection,
        };
        repositories::repositories_of(
            conn,
            access,
            Page {
                page: 1,
                per_page: 1000,
            },
        )?
    } else {
        (Vec::new(), 0)
    };
    Ok(EventContext {
        event,
        request,
        owner,
        token,
        org,
        repositories,
        repository_count,
    })
}

/// What a notice tells: the review or revocation event (with its reason), the request, its
/// token and the organization.
#[derive(Debug, Clone)]
pub struct Notice {
    pub event: AuditEvent,
    pub request: PatRequest,
    pub token: Token,
    pub owner: User,
    pub org: Organization,
}

pub fn notice(conn: &mut DbConnection, n: &Notification) -> Result<Notice, StoreError> {
    let event_id = n.event_id.ok_or(StoreError::NotFound)?;
    let event: AuditEvent = audit_events::table.find(event_id).first(conn)?;
    let request = request_of(conn, &event)?;
    let token: Token = tokens::table.find(request.token_id).first(conn)?;
    let owner: User = users::table.find(request.owner_id).first(conn)?;
    let org: Organization = organizations::table.find(n.org_id).first(conn)?;
    Ok(Notice {
        event,
        request,
        token,
        owner,
        org,
    })
}

/// One pending request in a digest.
#[derive(Debug, Clone)]
pub struct PendingItem {
    pub request_id: i64,
    pub owner: String,
    pub token_name: String,
    pub created_at: NaiveDateTime,
}

/// What a digest shows, read when it is sent: its organization, the owners to send it to, how
/// many requests are pending, and the oldest of them, oldest first.
#[derive(Debug, Clone)]
pub struct Digest {
    pub org: Organization,
    pub recipients: Vec<User>,
    pub pending_count: i64,
    pub pending: Vec<PendingItem>,
}

/// The organization's digest, listing at most `limit` requests.
pub fn digest(conn: &mut DbConnection, org_id: i64, limit: i64) -> Result<Digest, StoreError> {
    let org: Organization = organizations::table.find(org_id).first(conn)?;
    let recipients = owners_with_email(conn, org_id)?;
    let pending_of_org = || {
        pat_requests::table
            .filter(pat_requests::org_id.eq(org_id))
            .filter(crate::filters::in_state!(
                pat_requests,
                patgate_domain::RequestState::Pending.as_str()
            ))
    };
    let pending_count: i64 = pending_of_org().count().get_result(conn)?;
    let rows: Vec<(i64, String, String, NaiveDateTime)> = pending_of_org()
        .inner_join(users::table)
        .inner_join(tokens::table)
        .order((pat_requests::created_at, pat_requests::id))
        .limit(limit)
        .select((
            pat_requests::id,
            users::login,
            tokens::name,
            pat_requests::created_at,
        ))
        .load(conn)?;
    let pending = rows
        .into_iter()
        .map(|(request_id, owner, token_name, created_at)| PendingItem {
            request_id,
            owner,
            token_name,
            created_at,
        })
        .collect();
    Ok(Digest {
        org,
        recipients,
        pending_count,
        pending,
    })
}
