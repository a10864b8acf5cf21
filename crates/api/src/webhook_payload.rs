//! The body of GitHub's `personal_access_token_request` webhook, built from a delivery's event:
//! `action`, `personal_access_token_request` (with `permissions_added`, `_upgraded` and
//! `_result`), `organization`, `sender` and `installation`.

use patgate_domain::RequestedPermissions;
use patgate_persistence::models::App;
use patgate_persistence::webhooks::{Delivery, EventContext};
use serde_json::{json, Value};

use crate::dto::{timestamp, SimpleUser, TokenPermissions};

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
    let r = &ctx.request;
    let requested = permissions(Some(&r.permissions)).unwrap_or_default();
    // A first filing adds everything it asks for; a refiling says what it adds and upgrades.
    let added = permissions(r.permissions_added.as_deref()).unwrap_or_else(|| requested.clone());
    let upgraded = permissions(r.permissions_upgraded.as_deref()).unwrap_or_default();
    let now = chrono::Utc::now().naive_utc();
    let subset = r.repository_selection == "subset";
    let org = &ctx.org;
    let org_url = format!("{base}/orgs/{}", org.login);
    let owner = serde_json::to_value(SimpleUser::of_user(base, &ctx.owner)).unwrap_or_default();
    let sender = match reviewer {
        Some(app) if matches!(delivery.action.as_str(), "approved" | "denied") => bot(base, app),
        _ => owner.clone(),
    };
    json!({
        "action": delivery.action,
        "personal_access_token_request": {
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
        },
        "organization": {
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
        },
        "sender": sender,
        "installation": {
            "id": delivery.installation_id,
            "node_id": format!("I_{:x}", delivery.installation_id),
        },
    })
}
