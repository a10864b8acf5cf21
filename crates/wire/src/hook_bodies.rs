//! The bodies of webhook configurations: an organization hook's create and update, and any
//! hook's `config` (also the app's `PATCH /app/hook/config`), as documented and as read, and
//! the [`HookChanges`] each one asks for.

use patgate_persistence::webhooks::{ContentType, HookChanges, ORG_HOOK_EVENTS};
use serde::de::{Deserializer, Error as _, Unexpected};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::Fault;

/// The fields to change; the others stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfigBody {
    /// An absolute `http` or `https` URL.
    #[schema(max_length = 2048, example = "https://ci.example.com/patgate")]
    #[serde(default, deserialize_with = "not_null")]
    pub url: Option<String>,
    /// `json` (default) or `form` (`payload=<JSON>`, URL-encoded).
    pub content_type: Option<String>,
    /// Signs each body (`X-Hub-Signature-256`); an empty string removes it.
    #[schema(max_length = 256)]
    pub secret: Option<String>,
    /// Only `"0"` (verify certificates) is accepted.
    #[schema(value_type = Option<String>)]
    pub insecure_ssl: Option<InsecureSsl>,
}

/// The body of `POST /orgs/{org}/hooks`; other fields are refused. Event names are `*` (all of
/// them), `personal_access_token_request`, `personal_access_token_request_notification` and
/// `personal_access_token_request_digest`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgHookBody {
    /// Must be `web`.
    #[schema(example = "web")]
    pub name: String,
    pub config: OrgHookConfigBody,
    /// The events the hook receives; default `["personal_access_token_request"]`.
    #[schema(example = json!(["personal_access_token_request"]))]
    pub events: Option<Vec<String>>,
    /// Whether deliveries are sent (default `true`).
    pub active: Option<bool>,
}

/// The body of `PATCH /orgs/{org}/hooks/{hook_id}`: the fields given change, the others stay.
/// Event names are `*` (all of them), `personal_access_token_request`,
/// `personal_access_token_request_notification` and `personal_access_token_request_digest`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgHookBody {
    pub config: Option<WebhookConfigBody>,
    /// Replaces the events the hook receives.
    pub events: Option<Vec<String>>,
    /// Events added to the hook's (after `events`).
    pub add_events: Option<Vec<String>>,
    /// Events removed from the hook's (after `add_events`); at least one must remain.
    pub remove_events: Option<Vec<String>>,
    pub active: Option<bool>,
    /// Must be `web` when given.
    pub name: Option<String>,
}

/// GitHub's `webhook-config` of a new hook; other fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgHookConfigBody {
    /// An absolute `http` or `https` URL, without credentials.
    #[schema(max_length = 2048, example = "https://ci.example.com/patgate")]
    pub url: String,
    /// `json` (default) or `form` (`payload=<JSON>`, URL-encoded).
    pub content_type: Option<String>,
    /// Signs each body (`X-Hub-Signature-256`); an empty string removes it.
    #[schema(max_length = 256)]
    pub secret: Option<String>,
    pub insecure_ssl: Option<InsecureSsl>,
}

/// Only `"0"` (or `0`) is accepted: certificates are always verified.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum InsecureSsl {
    Text(String),
    Number(f64),
}

/// An optional field that may be left out but not given as `null` (a hook's URL cannot be
/// unset): `null` is refused as a missing value.
fn not_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        Some(value) => Ok(Some(value)),
        None => Err(D::Error::invalid_type(Unexpected::Unit, &"a string")),
    }
}

/// An absolute `http(s)` URL with a host, without credentials in it.
pub fn check_url(url: &str) -> Result<(), Fault> {
    let bad = |why: &str| Fault::invalid("url", why);
    if url.len() > 2048 {
        return Err(bad("url must be at most 2048 characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("url must be an absolute http or https URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || url.chars().any(char::is_whitespace) {
        return Err(bad("url must name a host, without credentials or spaces"));
    }
    Ok(())
}

/// A `webhook-config`'s fields, whichever body carries them.
fn config(
    url: Option<String>,
    content_type: Option<String>,
    secret: Option<String>,
    insecure_ssl: Option<InsecureSsl>,
) -> Result<HookChanges, Fault> {
    if let Some(url) = &url {
        check_url(url)?;
    }
    let content_type = content_type
        .map(|kind| {
            ContentType::parse(&kind)
                .ok_or_else(|| Fault::invalid("content_type", "content_type must be json or form"))
        })
        .transpose()?;
    if secret.as_ref().is_some_and(|s| s.len() > 256) {
        return Err(Fault::invalid(
            "secret",
            "secret must be at most 256 characters",
        ));
    }
    let verified = match insecure_ssl {
        None => true,
        Some(InsecureSsl::Text(s)) => s == "0",
        Some(InsecureSsl::Number(n)) => n == 0.0,
    };
    if !verified {
        return Err(Fault::invalid(
            "insecure_ssl",
            "insecure_ssl must be \"0\": certificates are always verified",
        ));
    }
    Ok(HookChanges {
        url,
        content_type,
        secret,
        ..HookChanges::default()
    })
}

impl TryFrom<WebhookConfigBody> for HookChanges {
    type Error = Fault;

    fn try_from(body: WebhookConfigBody) -> Result<Self, Fault> {
        config(body.url, body.content_type, body.secret, body.insecure_ssl)
    }
}

impl TryFrom<OrgHookConfigBody> for HookChanges {
    type Error = Fault;

    fn try_from(body: OrgHookConfigBody) -> Result<Self, Fault> {
        config(
            Some(body.url),
            body.content_type,
            body.secret,
            body.insecure_ssl,
        )
    }
}

fn web(name: Option<&str>) -> Result<(), Fault> {
    match name {
        None | Some("web") => Ok(()),
        Some(_) => Err(Fault::invalid("name", "name must be \"web\"")),
    }
}

/// Event names an organization hook may receive, without repeats.
fn events(field: &str, names: Option<Vec<String>>) -> Result<Option<Vec<String>>, Fault> {
    let Some(names) = names else {
        return Ok(None);
    };
    let mut kept: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !ORG_HOOK_EVENTS.contains(&name.as_str()) {
            return Err(Fault::invalid(
                field,
                format!(
                    "{field} may only name these events: {}",
                    ORG_HOOK_EVENTS.join(", ")
                ),
            ));
        }
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    Ok(Some(kept))
}

/// `events`, which must name at least one event when given.
fn some_events(names: Option<Vec<String>>) -> Result<Option<Vec<String>>, Fault> {
    let names = events("events", names)?;
    if names.as_ref().is_some_and(Vec::is_empty) {
        return Err(Fault::invalid(
            "events",
            "events must name at least one event",
        ));
    }
    Ok(names)
}

impl TryFrom<CreateOrgHookBody> for HookChanges {
    type Error = Fault;

    fn try_from(body: CreateOrgHookBody) -> Result<Self, Fault> {
        web(Some(&body.name))?;
        Ok(Self {
            events: some_events(body.events)?,
            active: body.active,
            ..Self::try_from(body.config)?
        })
    }
}

impl TryFrom<UpdateOrgHookBody> for HookChanges {
    type Error = Fault;

    fn try_from(body: UpdateOrgHookBody) -> Result<Self, Fault> {
        web(body.name.as_deref())?;
        let config = body.config.map(Self::try_from).transpose()?;
        Ok(Self {
            events: some_events(body.events)?,
            add_events: events("add_events", body.add_events)?.unwrap_or_default(),
            remove_events: events("remove_events", body.remove_events)?.unwrap_or_default(),
            active: body.active,
            ..config.unwrap_or_default()
        })
    }
}
