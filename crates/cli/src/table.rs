//! Plain-text tables for people: a header row, left-aligned columns two spaces apart.

use patgate_client::types::{
    MinimalRepository, PatGrant, PatGrantRequest, SimpleUser, TokenPermissions,
};

/// Renders `rows` under `headers`, each column as wide as its widest cell. Control characters
/// in cells (a reason may span lines) become spaces, so that one row stays one line.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let lines: Vec<Vec<String>> = std::iter::once(&header)
        .chain(rows)
        .map(|row| row.iter().map(|cell| one_line(cell)).collect())
        .collect();
    let mut widths = vec![0; headers.len()];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, (cell, width)) in line.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn one_line(cell: &str) -> String {
    cell.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `organization` then `repository` then `other` permissions, each sorted, as `name:level`.
pub fn permissions(p: &TokenPermissions) -> String {
    let scopes = [&p.organization, &p.repository, &p.other];
    let mut parts = Vec::new();
    for scope in scopes.into_iter().flatten() {
        let mut entries: Vec<(&String, &String)> = scope.iter().collect();
        entries.sort();
        parts.extend(
            entries
                .into_iter()
                .map(|(name, level)| format!("{name}:{level}")),
        );
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

fn or_dash(value: Option<&String>) -> String {
    value.map_or_else(|| "-".to_owned(), Clone::clone)
}

/// The columns requests and grants share; `when` names the time of the filing or the grant.
const fn token_headers(when: &'static str) -> [&'static str; 8] {
    [
        "ID",
        "OWNER",
        "TOKEN",
        "TOKEN ID",
        "REPOSITORIES",
        "PERMISSIONS",
        when,
        "LAST USED",
    ]
}

pub const REQUEST_HEADERS: [&str; 8] = token_headers("CREATED");
pub const GRANT_HEADERS: [&str; 8] = token_headers("GRANTED");

/// A row under [`token_headers`]: `ids` are the item's and its token's, `times` the filing or
/// grant and the token's last use.
fn token_row(
    ids: (i64, i64),
    owner: &SimpleUser,
    token_name: &str,
    selection: &str,
    permissions: &TokenPermissions,
    times: (&str, Option<&String>),
) -> Vec<String> {
    vec![
        ids.0.to_string(),
        owner.login.clone(),
        token_name.to_owned(),
        ids.1.to_string(),
        selection.to_owned(),
        self::permissions(permissions),
        times.0.to_owned(),
        or_dash(times.1),
    ]
}

pub fn request_row(r: &PatGrantRequest) -> Vec<String> {
    let times = (r.created_at.as_str(), r.token_last_used_at.as_ref());
    let ids = (r.id, r.token_id);
    token_row(
        ids,
        &r.owner,
        &r.token_name,
        &r.repository_selection,
        &r.permissions,
        times,
    )
}

pub fn grant_row(g: &PatGrant) -> Vec<String> {
    let times = (g.access_granted_at.as_str(), g.token_last_used_at.as_ref());
    let ids = (g.id, g.token_id);
    token_row(
        ids,
        &g.owner,
        &g.token_name,
        &g.repository_selection,
        &g.permissions,
        times,
    )
}

pub const REPOSITORY_HEADERS: [&str; 3] = ["REPOSITORY", "VISIBILITY", "ID"];

pub fn repository_row(r: &MinimalRepository) -> Vec<String> {
    vec![r.full_name.clone(), r.visibility.clone(), r.id.to_string()]
}

/// One request in full, as `label: value` lines.
pub fn request_details(r: &PatGrantRequest) -> String {
    let expires = match (&r.token_expires_at, r.token_expired) {
        (_, true) => format!("{} (expired)", or_dash(r.token_expires_at.as_ref())),
        (Some(at), false) => at.clone(),
        (None, false) => "never".to_owned(),
    };
    let rows = [
        ("Request", r.id.to_string()),
        ("Owner", r.owner.login.clone()),
        ("Token", format!("{} (id {})", r.token_name, r.token_id)),
        ("Created", r.created_at.clone()),
        ("Expires", expires),
        ("Last used", or_dash(r.token_last_used_at.as_ref())),
        ("Reason", or_dash(r.reason.as_ref())),
        ("Permissions", permissions(&r.permissions)),
        ("Repositories", r.repository_selection.clone()),
    ];
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:<width$}  {}\n", one_line(value)))
        .collect()
}

/// A rules dry-run: the pending requests whose outcome would change, the grants the rules
/// would deny, and the rules nothing matched.
pub fn dry_run(run: &patgate_client::types::DryRunDto) -> String {
    let outcome = |d: &patgate_client::types::RuleDecisionDto| {
        if d.rules.is_empty() {
            d.outcome.to_string()
        } else {
            format!("{} [{}]", d.outcome, d.rules.join(", "))
        }
    };
    let rows: Vec<Vec<String>> = run
        .requests
        .iter()
        .filter(|r| r.changed)
        .map(|r| {
            vec![
                r.pat_request_id.to_string(),
                r.current.as_ref().map_or_else(|| "-".to_owned(), outcome),
                outcome(&r.candidate),
            ]
        })
        .collect();
    let mut text = format!(
        "{} of {} pending requests would change (rules in force: version {}, {})\n",
        run.changed, run.pending, run.current_version, run.current_mode
    );
    if !rows.is_empty() {
        text.push_str(&render(&["REQUEST", "IN FORCE", "CANDIDATE"], &rows));
    }
    if !run.grants_refused.is_empty() {
        let grants: Vec<Vec<String>> = run
            .grants_refused
            .iter()
            .map(|g| {
                vec![
                    g.grant_id.to_string(),
                    g.pat_request_id.to_string(),
                    g.rules.join(", "),
                ]
            })
            .collect();
        text.push_str(&format!(
            "{} of {} active grants would be denied (rules never revoke them):\n",
            run.grants_refused.len(),
            run.grants_checked
        ));
        text.push_str(&render(&["GRANT", "REQUEST", "RULES"], &grants));
    }
    if !run.unmatched_rules.is_empty() {
        text.push_str(&format!(
            "rules that match no case and no pending request: {}\n",
            run.unmatched_rules.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(row: &[&str]) -> Vec<String> {
        row.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let out = render(
            &["ID", "OWNER", "PERMISSIONS"],
            &[
                cells(&["7", "alice", "issues:read"]),
                cells(&["1234", "bob", "-"]),
            ],
        );
        assert_eq!(
            out,
            "ID    OWNER  PERMISSIONS\n\
             7     alice  issues:read\n\
             1234  bob    -\n"
        );
    }

    #[test]
    fn an_empty_list_is_the_header_alone() {
        assert_eq!(render(&["ID", "OWNER"], &[]), "ID  OWNER\n");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let out = render(&["A", "B"], &[cells(&["zoë", "x"]), cells(&["abcd", "y"])]);
        assert_eq!(out, "A     B\nzoë   x\nabcd  y\n");
    }

    #[test]
    fn a_multi_line_cell_stays_on_one_row() {
        let out = render(&["ID", "REASON"], &[cells(&["1", "two\nlines\there"])]);
        assert_eq!(out, "ID  REASON\n1   two lines here\n");
    }

    #[test]
    fn permissions_read_organization_first_then_sorted() {
        let map = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        let p = TokenPermissions {
            organization: map(&[("members", "read")]),
            repository: map(&[("metadata", "read"), ("issues", "write")]),
            other: None,
        };
        assert_eq!(permissions(&p), "members:read issues:write metadata:read");
        assert_eq!(permissions(&TokenPermissions::default()), "-");
    }
}
