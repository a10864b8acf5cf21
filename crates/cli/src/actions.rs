//! What approve, deny and revoke share: the id limit, the `--dry-run` check, and the report.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::CliError;
use crate::output::{self, Listing};

/// One kind of change, with the words to report it.
#[derive(Debug)]
pub struct Action {
    pub name: &'static str,
    pub doing: &'static str,
    pub done: &'static str,
    pub noun: &'static str,
    pub nouns: &'static str,
    /// What every target must be for the change to be accepted.
    pub state: &'static str,
}

pub const APPROVE: Action = Action {
    name: "approve",
    doing: "approving",
    done: "Approved",
    noun: "request",
    nouns: "requests",
    state: "pending",
};

pub const DENY: Action = Action {
    name: "deny",
    doing: "denying",
    done: "Denied",
    ..APPROVE
};

pub const REVOKE: Action = Action {
    name: "revoke",
    doing: "revoking",
    done: "Revoked",
    noun: "grant",
    nouns: "grants",
    state: "active",
};

/// The bulk endpoints take at most this many ids.
pub const MAX_IDS: usize = 100;

/// Refuses more ids than one bulk call takes, before anything is sent.
pub fn check_count(ids: &[i64]) -> Result<(), CliError> {
    if ids.len() > MAX_IDS {
        Err(CliError::Usage(format!(
            "at most {MAX_IDS} ids at once ({} given)",
            ids.len()
        )))
    } else {
        Ok(())
    }
}

/// `--dry-run`: `found` (the listed items among `ids`) in the order of `ids`, or the error the
/// bulk endpoint would give if any id is unknown or not in the state the action needs.
pub fn check_found<T>(
    action: &Action,
    ids: &[i64],
    mut found: Vec<T>,
    id_of: fn(&T) -> i64,
) -> Result<Vec<T>, CliError> {
    let missing: Vec<i64> = ids
        .iter()
        .filter(|id| !found.iter().any(|item| id_of(item) == **id))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Invalid(format!(
            "cannot {}: these {} are unknown or no longer {}: {}",
            action.name,
            action.nouns,
            action.state,
            join(&missing)
        )));
    }
    found.sort_by_key(|item| ids.iter().position(|id| *id == id_of(item)));
    Ok(found)
}

fn join(ids: &[i64]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// "request 4" or "3 requests: 4, 5, 6".
fn targets(action: &Action, ids: &[i64]) -> String {
    match ids {
        [id] => format!("{} {id}", action.noun),
        _ => format!("{} {}: {}", ids.len(), action.nouns, join(ids)),
    }
}

/// Reports a change, or with `would_change` (`--dry-run`) the items it would change: a
/// result object in JSON, else the items' table and a sentence.
pub fn report<T: Serialize>(
    as_json: bool,
    action: &Action,
    ids: &[i64],
    reason: Option<&str>,
    would_change: Option<&Listing<'_, T>>,
) -> Result<(), CliError> {
    if as_json {
        let mut result = Map::new();
        result.insert("action".into(), action.name.into());
        result.insert("ids".into(), ids.into());
        if let Some(reason) = reason {
            result.insert("reason".into(), reason.into());
        }
        result.insert("dry_run".into(), would_change.is_some().into());
        if let Some(listing) = would_change {
            let items =
                serde_json::to_value(listing.items).map_err(|e| CliError::Output(e.into()))?;
            result.insert(action.nouns.into(), items);
        }
        return output::json(&Value::Object(result));
    }
    let because = reason.map_or_else(String::new, |r| format!(" Reason: {r:?}."));
    match would_change {
        Some(listing) => output::print(&format!(
            "{}Dry run: would {} {}.{because} Nothing was changed.\n",
            listing.table(),
            action.name,
            targets(action, ids)
        )),
        None => output::print(&format!(
            "{} {}.{because}\n",
            action.done,
            targets(action, ids)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_a_bulk_call_takes_is_a_usage_error() {
        assert!(check_count(&[1; MAX_IDS]).is_ok());
        let err = check_count(&[1; MAX_IDS + 1]).expect_err("refused");
        assert!(matches!(err, CliError::Usage(_)), "{err:?}");
    }

    #[test]
    fn a_dry_run_names_the_ids_that_would_be_refused() {
        let found = check_found(&APPROVE, &[3, 1], vec![1, 3], |n| *n).expect("all found");
        assert_eq!(found, vec![3, 1], "in the order given");
        let err = check_found(&REVOKE, &[1, 2, 9], vec![1], |n| *n).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "cannot revoke: these grants are unknown or no longer active: 2, 9"
        );
        assert_eq!(err.exit(), crate::error::Exit::Invalid);
    }

    #[test]
    fn one_target_or_several() {
        assert_eq!(targets(&DENY, &[4]), "request 4");
        assert_eq!(targets(&DENY, &[4, 5]), "2 requests: 4, 5");
        assert_eq!(targets(&REVOKE, &[7]), "grant 7");
    }
}
