//! The body and headers of each webhook delivery, rendered when it is sent: GitHub's
//! `personal_access_token_request` (`action`, `personal_access_token_request` with
//! `permissions_added`, `_upgraded` and `_result`, `organization`, `sender`, `installation`),
//! and patgate's owner notice (`personal_access_token_request_notification`), daily digest
//! (`personal_access_token_request_digest`) and `ping`.

use chrono::NaiveDateTime;
use patgate_domain::{RepositorySelection, RequestedPermissions};
use patgate_persistence::contents::{self, Content, Digest, EventContext, Notice};
use patgate_persistence::models::{App, Organization};
use patgate_persistence::webhooks::{Delivery, OrgWebhook, NOTIFICATION_EVENT};
use patgate_persistence::{directory, DbConnection, StoreError};
use serde_json::{json, Value};

use crate::text::{digest_text, notice_text};
use patgate_wire::hooks::OrgHook;
use patgate_wire::{timestamp, SimpleUser, TokenPermissions};

/// A delivery as it is sent now: the body, and the event headers that go with it (the
/// signature aside).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub payload: Value,
    pub headers: Vec<(&'static str, String)>,
}

/// Reads what `delivery` shows and renders it.
pub fn render(
    conn: &mut DbConnection,
    base: &str,
    delivery: &Delivery,
) -> Result<Rendered, StoreError> {
    let payload = match contents::content(conn, delivery)? {
        Content::Request(ctx) => {
            let reviewer = match ctx.event.app_id {
                Some(id) => directory::app_by_id(conn, id)?,
                None => None,
            };
            if delivery.event == NOTIFICATION_EVENT {
                notification(base, delivery, &ctx, reviewer.as_ref())
            } else {
                payload(base, delivery, &ctx, reviewer.as_ref())
            }
        }
        Content::Digest {
            digest,
            period_start,
        } => digest_payload(base, &digest, period_start),
        Content::Ping { hook, org } => ping(base, &hook, &org)?,
    };
    Ok(Rendered {
        payload,
        headers: headers(delivery),
    })
}

/// `X-GitHub-Event`, `X-GitHub-Delivery` and the hook's identity: an app's (target type
/// `integration`) or an organization hook's (target type `organization`).
pub fn headers(d: &Delivery) -> Vec<(&'static str, String)> {
    let (hook, target, kind) = match (d.hook_id, d.app_id) {
        (Some(hook), _) => (hook, d.org_id.unwrap_or_default(), "organization"),
        (None, app) => (
            app.unwrap_or_default(),
            app.unwrap_or_default(),
            "integration",
        ),
    };
    vec![
        ("X-GitHub-Event", d.event.clone()),
        ("X-GitHub-Delivery", d.guid.clone()),
        ("X-GitHub-Hook-ID", hook.to_string()),
        ("X-GitHub-Hook-Installation-Target-ID", target.to_string()),
        ("X-GitHub-Hook-Installation-Target-Type", kind.to_owned()),
    ]
}

fn permissions(raw: Option<&str>) -> Option<RequestedPermissions> {
    serde_json::from_str(raw?).ok()
}

fn group(p: &RequestedPermissions) -> Value {
    serde_json::to_value(TokenPermissions::from(p)).unwrap_or_else(|_| json!({}))
}

/// The app's bot user, as GitHub shows an app acting (`slug[bot]`, type `Bot`).
fn bot(base: &str, app: &App) -> Value {
    let login = format!("{}[bot]", app.slug);
    serde_json::to_value(SimpleUser::of_login(base, &login, app.id, "Bot"))
        .unwrap_or_else(|_| json!({}))
}

/// The payload of `delivery`; `reviewer` is the app whose review the event records, if any
/// (the sender of `approved` and `denied`; the token's owner sends `created` and `cancelled`).
pub fn payload(
    base: &str,
    delivery: &Delivery,
    ctx: &EventContext,
    reviewer: Option<&App>,
) -> Value {
    let org = &ctx.org;
    let sender = sender(base, delivery, ctx, reviewer);
    let mut body = json!({
        "action": delivery.action,
        "personal_access_token_request": request_object(base, ctx),
        "organization": organization(base, org),
        "sender": sender,
    });
    with_installation(&mut body, delivery, ctx);
    body
}

/// Adds `installation`: for an app's delivery, the installation it is for; for an organization
/// hook's, the installation whose call made the event (the reviewer's, or the issuer's), if
/// any.
fn with_installation(body: &mut Value, delivery: &Delivery, ctx: &EventContext) {
    if let Some(id) = delivery.installation_id.or(ctx.event.installation_id) {
        body["installation"] = json!({"id": id, "node_id": format!("I_{id:x}")});
    }
}

/// Who acted: the reviewing (or revoking) app's bot for `approved`, `denied` and `revoked`, the
/// token's owner otherwise.
fn sender(base: &str, delivery: &Delivery, ctx: &EventContext, reviewer: Option<&App>) -> Value {
    match reviewer {
        Some(app) if matches!(delivery.action.as_str(), "approved" | "denied" | "revoked") => {
            bot(base, app)
        }
        _ => serde_json::to_value(SimpleUser::of_user(base, &ctx.owner)).unwrap_or_default(),
    }
}

/// GitHub's `personal-access-token-request` object of a webhook.
fn request_object(base: &str, ctx: &EventContext) -> Value {
    let r = &ctx.request;
    let requested = permissions(Some(&r.permissions)).unwrap_or_default();
    // A first filing adds everything it asks for; a refiling says what it adds and upgrades.
    let added = permissions(r.permissions_added.as_deref()).unwrap_or_else(|| requested.clone());
    let upgraded = permissions(r.permissions_upgraded.as_deref()).unwrap_or_default();
    let now = chrono::Utc::now().naive_utc();
    let subset = RepositorySelection::parse(&r.repository_selection)
        .is_some_and(RepositorySelection::lists_repositories);
    let org = &ctx.org;
    let owner = serde_json::to_value(SimpleUser::of_user(base, &ctx.owner)).unwrap_or_default();
    json!({
            "id": r.id,
            "owner": owner,
            "permissions_added": group(&added),
            "permissions_upgraded": group(&upgraded),
            "permissions_result": group(&requested),
            "repository_selection": r.repository_selection,
            "repository_count": subset.then_some(ctx.repository_count),
            "repositories": subset.then(|| {
                ctx.repositories
                    .iter()
                    .map(|repo| json!({
                        "id": repo.id,
                        "node_id": format!("R_{:x}", repo.id),
                        "name": repo.name,
                        "full_name": format!("{}/{}", org.login, repo.name),
                        "private": repo.private,
                    }))
                    .collect::<Vec<_>>()
            }),
            "created_at": timestamp(r.created_at),
            "token_id": ctx.token.id,
            "token_name": ctx.token.name,
            "token_expired": r.token_expires_at.is_some_and(|t| t <= now),
            "token_expires_at": r.token_expires_at.map(timestamp),
            "token_last_used_at": r.token_last_used_at.map(timestamp),
    })
}

/// GitHub's `organization-simple-webhooks`.
fn organization(base: &str, org: &Organization) -> Value {
    let org_url = format!("{base}/orgs/{}", org.login);
    json!({
            "login": org.login,
            "id": org.id,
            "node_id": format!("O_{:x}", org.id),
            "url": org_url,
            "repos_url": format!("{org_url}/repos"),
            "events_url": format!("{org_url}/events"),
            "hooks_url": format!("{org_url}/hooks"),
            "issues_url": format!("{org_url}/issues"),
            "members_url": format!("{org_url}/members{{/member}}"),
            "public_members_url": format!("{org_url}/public_members{{/member}}"),
            "avatar_url": format!("{base}/avatars/{}", org.login),
            "description": org.description,
    })
}

/// The token owner's notice of a review, for organizations that route notifications to their
/// own systems: to whom, the subject and text the e-mail has, the reason of a denial, and the
/// request as GitHub's event shows it.
fn notification(
    base: &str,
    delivery: &Delivery,
    ctx: &EventContext,
    reviewer: Option<&App>,
) -> Value {
    let notice = Notice {
        event: ctx.event.clone(),
        request: ctx.request.clone(),
        token: ctx.token.clone(),
        owner: ctx.owner.clone(),
        org: ctx.org.clone(),
    };
    let (subject, text) = notice_text(&notice);
    let mut recipient =
        serde_json::to_value(SimpleUser::of_user(base, &ctx.owner)).unwrap_or_default();
    recipient["email"] = json!(ctx.owner.email.as_deref().filter(|e| !e.trim().is_empty()));
    let mut body = json!({
        "action": delivery.action,
        "notification": {
            "recipient": recipient,
            "subject": subject,
            "text": text,
            "reason": ctx.event.reason.as_deref().filter(|r| !r.is_empty()),
            "reviewed_at": timestamp(ctx.event.created_at),
        },
        "personal_access_token_request": request_object(base, ctx),
        "organization": organization(base, &ctx.org),
        "sender": sender(base, delivery, ctx, reviewer),
    });
    with_installation(&mut body, delivery, ctx);
    body
}

/// An organization's digest of pending requests (action `pending`): how many, the oldest
/// first with links, the owners an e-mail digest goes to, and the e-mail's subject and text.
fn digest_payload(base: &str, digest: &Digest, period_start: NaiveDateTime) -> Value {
    let org = &digest.org.login;
    let (subject, text) = digest_text(digest, base, period_start);
    let requests: Vec<Value> = digest
        .pending
        .iter()
        .map(|item| {
            json!({
                "id": item.request_id,
                "owner": item.owner,
                "token_name": item.token_name,
                "created_at": timestamp(item.created_at),
                "repositories_url": format!(
                    "{base}/orgs/{org}/personal-access-token-requests/{}/repositories",
                    item.request_id
                ),
            })
        })
        .collect();
    let owners: Vec<Value> = digest
        .recipients
        .iter()
        .map(|u| json!({"login": u.login, "email": u.email}))
        .collect();
    json!({
        "action": "pending",
        "digest": {
            "period_start": timestamp(period_start),
            "pending_count": digest.pending_count,
            "requests": requests,
            "requests_url": format!("{base}/orgs/{org}/personal-access-token-requests"),
            "owners": owners,
            "subject": subject,
            "text": text,
        },
        "organization": organization(base, &digest.org),
    })
}

/// GitHub's `ping`: a zen line, the hook, and its organization.
fn ping(base: &str, hook: &OrgWebhook, org: &Organization) -> Result<Value, StoreError> {
    const ZEN: [&str; 5] = [
        "Keep it logically awesome.",
        "Approve what is asked, no more.",
        "Every event arrives once.",
        "Anything added dilutes everything else.",
        "Practicality beats purity.",
    ];
    let zen = ZEN[usize::try_from(hook.id.rem_euclid(5)).unwrap_or(0)];
    Ok(json!({
        "zen": zen,
        "hook_id": hook.id,
        "hook": OrgHook::of(base, &org.login, hook)?,
        "organization": organization(base, org),
    }))
}
