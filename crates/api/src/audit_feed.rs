//! GitHub's organization audit log, as `GET /orgs/{org}/audit-log` shows it: which of patgate's audit actions are which `personal_access_token.*` action, the `phrase` search, the cursors, and each event's fields.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use patgate_persistence::audit::{FeedCursor, FeedEvent};
use serde_json::{json, Value};

use crate::error::FieldError;

const RESOURCE: &str = "AuditLog";

/// Who GitHub names as the actor of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    /// The token's owner (filing, withdrawing; granting when no approval is needed).
    Owner,
    /// The app that reviewed or revoked.
    App,
}

/// One of patgate's audit actions, as GitHub's audit log records it.
struct Mapping {
    patgate: &'static str,
    github: &'static str,
    operation: &'static str,
    actor: Actor,
}

/// Every patgate action the feed shows. Expiries, superseded grants and policy or setting
/// changes have no `personal_access_token.*` action of GitHub's: they are in patgate's own
/// trail only.
const MAPPINGS: [Mapping; 7] = [
    Mapping {
        patgate: "request.created",
        github: "personal_access_token.request_created",
        operation: "create",
        actor: Actor::Owner,
    },
    Mapping {
        patgate: "request.updated",
        github: "personal_access_token.request_created",
        operation: "create",
        actor: Actor::Owner,
    },
    Mapping {
        patgate: "request.approved",
        github: "personal_access_token.access_granted",
        operation: "create",
        actor: Actor::App,
    },
    Mapping {
        patgate: "request.auto_approved",
        github: "personal_access_token.access_granted",
        operation: "create",
        actor: Actor::Owner,
    },
    Mapping {
        patgate: "request.denied",
        github: "personal_access_token.request_denied",
        operation: "modify",
        actor: Actor::App,
    },
    Mapping {
        patgate: "request.cancelled",
        github: "personal_access_token.request_cancelled",
        operation: "remove",
        actor: Actor::Owner,
    },
    Mapping {
        patgate: "grant.revoked",
        github: "personal_access_token.access_revoked",
        operation: "remove",
        actor: Actor::App,
    },
];

fn mapping(patgate: &str) -> Option<&'static Mapping> {
    MAPPINGS.iter().find(|m| m.patgate == patgate)
}

/// Who `actor:` names: an app's bot (`slug[bot]`) or a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorName {
    Bot(String),
    User(String),
}

/// What a `phrase` asks for, before its names are looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phrase {
    /// patgate's actions that pass the `action:` and `operation:` terms.
    pub actions: Vec<&'static str>,
    pub actor: Option<ActorName>,
    /// `user:`: events about this user's tokens.
    pub user: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

fn bad(field: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(RESOURCE, field, "invalid", message)
}

/// Splits a phrase into terms at spaces, keeping quoted values (`country:"United States"`)
/// whole.
fn terms(phrase: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in phrase.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether GitHub's `action:` value selects `github_action`: the action itself, or a prefix
/// of it ending at a dot (`action:personal_access_token`).
fn action_matches(value: &str, github_action: &str) -> bool {
    github_action == value
        || github_action
            .strip_prefix(value)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The first second of a day, or a time as given.
fn time_of(value: &str) -> Option<(NaiveDateTime, bool)> {
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Some((day.and_time(NaiveTime::MIN), true));
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| (t.naive_utc(), false))
}

/// `created:` values: a day or time, `>=`, `>`, `<=`, `<` one, or a range `a..b`. A day
/// covers all of its seconds.
fn created(value: &str) -> Option<(Option<NaiveDateTime>, Option<NaiveDateTime>)> {
    let end_of = |(t, day): (NaiveDateTime, bool)| {
        if day {
            t + chrono::Duration::days(1) - chrono::Duration::seconds(1)
        } else {
            t
        }
    };
    let second = chrono::Duration::seconds(1);
    if let Some((a, b)) = value.split_once("..") {
        let from = if a == "*" { None } else { Some(time_of(a)?.0) };
        let until = if b == "*" {
            None
        } else {
            Some(end_of(time_of(b)?))
        };
        return Some((from, until));
    }
    if let Some(v) = value.strip_prefix(">=") {
        return Some((Some(time_of(v)?.0), None));
    }
    if let Some(v) = value.strip_prefix("<=") {
        return Some((None, Some(end_of(time_of(v)?))));
    }
    if let Some(v) = value.strip_prefix('>') {
        return Some((Some(end_of(time_of(v)?) + second), None));
    }
    if let Some(v) = value.strip_prefix('<') {
        return Some((None, Some(time_of(v)?.0 - second)));
    }
    let t = time_of(value)?;
    Some((Some(t.0), Some(end_of(t))))
}

/// Parses GitHub's audit log search phrase. Supported: `action:` (and `-action:`),
/// `operation:` (and `-operation:`), `actor:`, `user:` and `created:`; anything else is
/// refused, naming what is supported.
pub fn parse_phrase(phrase: &str) -> Result<Phrase, FieldError> {
    let mut out = Phrase {
        actions: MAPPINGS.iter().map(|m| m.patgate).collect(),
        ..Phrase::default()
    };
    let mut wanted: Option<Vec<&'static str>> = None;
    for term in terms(phrase) {
        let (negated, term) = match term.strip_prefix('-') {
            Some(rest) => (true, rest.to_owned()),
            None => (false, term),
        };
        let (qualifier, value) = qualified(&term)?;
        match (qualifier, negated) {
            ("action" | "operation", true) => {
                out.actions
                    .retain(|a| !mapping(a).is_some_and(|m| picks(qualifier, value, m)));
            }
            ("action" | "operation", false) => {
                let chosen = MAPPINGS.iter().filter(|m| picks(qualifier, value, m));
                // Several positive terms of one kind widen the choice, as GitHub's do.
                wanted
                    .get_or_insert_with(Vec::new)
                    .extend(chosen.map(|m| m.patgate));
            }
            ("actor", false) => {
                out.actor = Some(match value.strip_suffix("[bot]") {
                    Some(slug) => ActorName::Bot(slug.to_owned()),
                    None => ActorName::User(value.to_owned()),
                });
            }
            ("user", false) => out.user = Some(value.to_owned()),
            ("created", false) => {
                let (from, until) = created(value).ok_or_else(|| {
                    bad(
                        "phrase",
                        format!("created:{value} is not a date (YYYY-MM-DD or ISO 8601), a comparison with one (>=, >, <=, <) or a range (a..b)"),
                    )
                })?;
                out.from = from.or(out.from);
                out.until = until.or(out.until);
            }
            (q, true) if ["actor", "user", "created"].contains(&q) => {
                return Err(bad("phrase", format!("-{q}: is not supported")));
            }
            (q, _) => {
                return Err(bad(
                    "phrase",
                    format!(
                        "{q}: is not supported; use action:, operation:, actor:, user: or created:"
                    ),
                ))
            }
        }
    }
    if let Some(wanted) = wanted {
        out.actions.retain(|a| wanted.contains(a));
    }
    Ok(out)
}

/// A term's qualifier and its value, which may not be empty.
fn qualified(term: &str) -> Result<(&str, &str), FieldError> {
    let Some((qualifier, value)) = term.split_once(':') else {
        return Err(bad(
            "phrase",
            format!(
                "{term:?} has no qualifier; use action:, operation:, actor:, user: or created:"
            ),
        ));
    };
    if value.is_empty() {
        return Err(bad("phrase", format!("{qualifier}: needs a value")));
    }
    Ok((qualifier, value))
}

/// Whether an `action:` or `operation:` term with this value names the mapping.
fn picks(qualifier: &str, value: &str, m: &Mapping) -> bool {
    match qualifier {
        "action" => action_matches(value, m.github),
        _ => m.operation == value,
    }
}

/// The actions an actor can have made: a bot reviews and revokes, a token's owner files,
/// withdraws, and is granted at once.
pub fn actions_of(actor: &ActorName) -> impl Fn(&&'static str) -> bool + '_ {
    move |a| {
        let by = mapping(a).map(|m| m.actor);
        match actor {
            ActorName::Bot(_) => by == Some(Actor::App),
            ActorName::User(_) => by == Some(Actor::Owner),
        }
    }
}

/// An opaque cursor naming an event (its time and id), as GitHub's `after`/`before`.
pub fn cursor_of(e: &FeedEvent) -> String {
    format!(
        "v1_{}_{}",
        e.event.created_at.and_utc().timestamp(),
        e.event.id
    )
}

/// Reads a cursor given as `after` or `before`.
pub fn read_cursor(value: &str, field: &str) -> Result<(NaiveDateTime, i64), FieldError> {
    let parsed = value.strip_prefix("v1_").and_then(|rest| {
        let (secs, id) = rest.split_once('_')?;
        let t = chrono::DateTime::from_timestamp(secs.parse().ok()?, 0)?.naive_utc();
        Some((t, id.parse().ok()?))
    });
    parsed.ok_or_else(|| bad(field, format!("{field} is not a cursor this server gave")))
}

/// The cursor of a page query: `after` or `before`, not both.
pub fn page_cursor(after: &str, before: &str) -> Result<Option<FeedCursor>, FieldError> {
    match (after.is_empty(), before.is_empty()) {
        (true, true) => Ok(None),
        (false, true) => {
            let (t, id) = read_cursor(after, "after")?;
            Ok(Some(FeedCursor::After(t, id)))
        }
        (true, false) => {
            let (t, id) = read_cursor(before, "before")?;
            Ok(Some(FeedCursor::Before(t, id)))
        }
        (false, false) => Err(bad("before", "give after or before, not both")),
    }
}

/// GitHub's `audit-log-event` for one of patgate's events.
pub fn event_json(e: &FeedEvent, org_login: &str) -> Value {
    let Some(m) = mapping(&e.event.action) else {
        return Value::Null;
    };
    let ms = e.event.created_at.and_utc().timestamp_millis();
    let (actor, actor_id, bot) = match (m.actor, &e.app_slug, e.event.app_id) {
        (Actor::App, Some(slug), Some(id)) => (format!("{slug}[bot]"), id, true),
        _ => (e.owner.login.clone(), e.owner.id, false),
    };
    let mut body = json!({
        "@timestamp": ms,
        "_document_id": format!("patgate-{:016x}", e.event.id),
        "action": m.github,
        "actor": actor,
        "actor_id": actor_id,
        "actor_is_bot": bot,
        "created_at": ms,
        "operation_type": m.operation,
        "org": org_login,
        "org_id": e.event.org_id,
        "user": e.owner.login,
        "user_id": e.owner.id,
        "programmatic_access_type": "Fine-grained personal access token",
        "user_programmatic_access_id": e.request.token_id,
        "user_programmatic_access_name": e.token_name,
        "user_programmatic_access_request_id": e.request.id,
        "repository_selection": e.request.repository_selection,
    });
    if let Some(reason) = e.event.reason.as_deref().filter(|r| !r.is_empty()) {
        body["reason"] = json!(reason);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn actions_select_by_name_prefix_and_negation() {
        let all = parse_phrase("").expect("empty phrase");
        assert_eq!(all.actions.len(), MAPPINGS.len());
        let granted = parse_phrase("action:personal_access_token.access_granted").expect("ok");
        assert_eq!(
            granted.actions,
            ["request.approved", "request.auto_approved"]
        );
        let prefix = parse_phrase("action:personal_access_token").expect("ok");
        assert_eq!(prefix.actions.len(), MAPPINGS.len());
        assert!(parse_phrase("action:personal_access")
            .expect("ok")
            .actions
            .is_empty());
        let not_created =
            parse_phrase("-action:personal_access_token.request_created").expect("ok");
        assert!(!not_created.actions.contains(&"request.created"));
        assert!(!not_created.actions.contains(&"request.updated"));
        assert_eq!(not_created.actions.len(), MAPPINGS.len() - 2);
        let two = parse_phrase(
            "action:personal_access_token.request_denied action:personal_access_token.access_revoked",
        )
        .expect("ok");
        assert_eq!(two.actions, ["request.denied", "grant.revoked"]);
        let removals = parse_phrase("operation:remove").expect("ok");
        assert_eq!(removals.actions, ["request.cancelled", "grant.revoked"]);
    }

    #[test]
    fn created_takes_days_times_comparisons_and_ranges() {
        let day = parse_phrase("created:2026-01-02").expect("ok");
        assert_eq!(
            (day.from, day.until),
            (
                Some(t("2026-01-02 00:00:00")),
                Some(t("2026-01-02 23:59:59"))
            )
        );
        let range = parse_phrase("created:2026-01-01..2026-01-31").expect("ok");
        assert_eq!(
            (range.from, range.until),
            (
                Some(t("2026-01-01 00:00:00")),
                Some(t("2026-01-31 23:59:59"))
            )
        );
        let after = parse_phrase("created:>2026-01-01").expect("ok");
        assert_eq!(after.from, Some(t("2026-01-02 00:00:00")));
        let before = parse_phrase("created:<2026-01-01").expect("ok");
        assert_eq!(before.until, Some(t("2025-12-31 23:59:59")));
        let since = parse_phrase("created:>=2026-01-01T10:00:00Z").expect("ok");
        assert_eq!(since.from, Some(t("2026-01-01 10:00:00")));
        assert!(parse_phrase("created:yesterday").is_err());
    }

    #[test]
    fn actors_users_and_unknown_terms() {
        let bot = parse_phrase("actor:reviewer[bot]").expect("ok");
        assert_eq!(bot.actor, Some(ActorName::Bot("reviewer".into())));
        let user = parse_phrase("actor:alice user:bob").expect("ok");
        assert_eq!(user.actor, Some(ActorName::User("alice".into())));
        assert_eq!(user.user.as_deref(), Some("bob"));
        for bad in ["repo:acme/api", "hello", "-actor:alice", "action:"] {
            let err = parse_phrase(bad).expect_err(bad);
            assert_eq!(err.field, "phrase", "{bad}");
        }
        assert_eq!(
            terms("country:\"United States\" action:x"),
            ["country:United States", "action:x"]
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let (time, id) = read_cursor("v1_1767225600_42", "after").expect("cursor");
        assert_eq!((time, id), (t("2026-01-01 00:00:00"), 42));
        for bad in ["", "42", "v1_x_1", "v1_1_", "v2_1_1"] {
            assert!(read_cursor(bad, "after").is_err(), "{bad}");
        }
        assert!(page_cursor("v1_1_1", "v1_1_2").is_err());
        assert_eq!(page_cursor("", "").expect("none"), None);
    }
}
