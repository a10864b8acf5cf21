//! The text of each notification, by e-mail or webhook: a review or revocation notice, and an
//! organization's digest of pending requests.

use chrono::NaiveDateTime;
use patgate_persistence::contents::{Digest, Notice};

pub use patgate_persistence::contents::DIGEST_LIMIT;

/// The subject and body of a notice: a review of the owner's request, or a revocation of the
/// access it was granted.
pub fn notice_text(n: &Notice) -> (String, String) {
    let when = n.event.created_at.format("%Y-%m-%d %H:%M");
    let (subject, mut body) = if n.event.action == "grant.revoked" {
        (
            format!(
                "[patgate] {}: access of your token \"{}\" was revoked",
                n.org.login, n.token.name
            ),
            format!(
                "Hello {},\n\nThe organization {} revoked the access it had granted to your fine-grained personal access token \"{}\" (request #{}) on {when} UTC. The token can no longer reach the organization's resources; file a new request if you still need access.\n",
                n.owner.login, n.org.login, n.token.name, n.request.id,
            ),
        )
    } else {
        let verb = if n.event.action == "request.approved" {
            "approved"
        } else {
            "denied"
        };
        (
            format!(
                "[patgate] {}: your request for token \"{}\" was {verb}",
                n.org.login, n.token.name
            ),
            format!(
                "Hello {},\n\nThe organization {} {verb} request #{} of your fine-grained personal access token \"{}\" on {when} UTC.\n",
                n.owner.login, n.org.login, n.request.id, n.token.name,
            ),
        )
    };
    if let Some(reason) = n.event.reason.as_deref().filter(|r| !r.is_empty()) {
        body.push_str(&format!("\nReason: {reason}\n"));
    }
    (subject, body)
}

/// The subject and body of an organization's digest of the period starting at `period`.
pub fn digest_text(d: &Digest, base_url: &str, period: NaiveDateTime) -> (String, String) {
    let count = d.pending_count;
    let plural = if count == 1 { "" } else { "s" };
    let org = &d.org.login;
    let subject = format!(
        "[patgate] {org}: {count} pending token request{plural} ({} UTC)",
        period.format("%Y-%m-%d %H:%M:%S")
    );
    let now = patgate_persistence::now();
    let mut body = format!(
        "{count} fine-grained personal access token request{plural} wait for a review in {org}, oldest first:\n\n"
    );
    for item in &d.pending {
        body.push_str(&format!(
            "- #{} {} / \"{}\", waiting {}\n  {base_url}/orgs/{org}/personal-access-token-requests/{}/repositories\n",
            item.request_id,
            item.owner,
            item.token_name,
            age(now - item.created_at),
            item.request_id,
        ));
    }
    let more = count - i64::try_from(d.pending.len()).unwrap_or(count);
    if more > 0 {
        body.push_str(&format!(
            "\n... and {more} more: {base_url}/orgs/{org}/personal-access-token-requests\n"
        ));
    }
    (subject, body)
}

/// `3 days`, `5 hours`, `12 minutes`.
fn age(d: chrono::Duration) -> String {
    let (n, unit) = if d.num_days() >= 1 {
        (d.num_days(), "day")
    } else if d.num_hours() >= 1 {
        (d.num_hours(), "hour")
    } else {
        (d.num_minutes().max(0), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_unit() {
        assert_eq!(age(chrono::Duration::minutes(1)), "1 minute");
        assert_eq!(age(chrono::Duration::minutes(150)), "2 hours");
        assert_eq!(age(chrono::Duration::days(3)), "3 days");
    }
}
