//! The command line: where the API is, who the app is, and one command.

use std::num::NonZeroU64;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use patgate_client::types::{
    OrgsListPatGrantRequestsDirection, OrgsListPatGrantRequestsSort, OrgsListPatGrantsDirection,
    OrgsListPatGrantsSort,
};

const EXIT_CODES: &str = "\
Exit codes:
  0  done (with --dry-run: would be done)
  2  usage error
  3  authentication refused (HTTP 401, unusable private key, app JWT refused)
  4  forbidden (HTTP 403: the installation lacks the permission)
  5  not found (HTTP 404: unknown organization, installation, request or grant)
  6  validation failed (HTTP 422, e.g. a request that is no longer pending)
  7  any other server or network error, including rate limiting
  8  rules dry-run: the outcome of a pending request would change
  9  rules apply: another version was saved since the one If-Match names (HTTP 412)

Environment: PATGATE_URL, PATGATE_ORG, PATGATE_APP_ID, PATGATE_INSTALLATION_ID,
PATGATE_PRIVATE_KEY_FILE, or PATGATE_PRIVATE_KEY holding the PEM itself.";

/// Lists, reviews and revokes fine-grained personal access token requests and grants of an
/// organization, as a GitHub App installation. See docs/CLI.md.
#[derive(Debug, Parser)]
#[command(name = "patgate-ci", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the command's name.
#[derive(Debug, Args)]
pub struct Global {
    /// Base URL of the API.
    #[arg(
        long,
        env = "PATGATE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub base_url: String,
    /// Organization whose requests and grants to act on (required).
    #[arg(long, env = "PATGATE_ORG", global = true)]
    pub org: Option<String>,
    /// The app's id or client id (required).
    #[arg(long, env = "PATGATE_APP_ID", global = true)]
    pub app_id: Option<String>,
    /// File holding the app's RSA private key (PEM). Without it, the environment variable
    /// PATGATE_PRIVATE_KEY may hold the PEM itself.
    #[arg(
        long,
        value_name = "FILE",
        env = "PATGATE_PRIVATE_KEY_FILE",
        global = true
    )]
    pub private_key: Option<PathBuf>,
    /// The app's installation on the organization; looked up from the organization when omitted.
    #[arg(long, env = "PATGATE_INSTALLATION_ID", global = true)]
    pub installation_id: Option<i64>,
    /// Print the API's JSON on stdout instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Report each page fetched on stderr (the default when stderr is a terminal).
    #[arg(long, global = true)]
    pub progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pending requests: list, show, approve, deny.
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Active grants (approved requests): list, revoke.
    #[command(subcommand)]
    Grants(GrantsCommand),
    /// Review rules: validate, dry-run, apply.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rule file (schema, ids, reasons) and run its cases; changes nothing.
    Validate(RulesArgs),
    /// Show what a rule file would decide about every pending request, beside the rules in
    /// force, and the active grants it would deny; changes nothing. Exit 8 when any pending
    /// request's outcome would change.
    DryRun(RulesArgs),
    /// Save a rule file as the next version of the organization's rules.
    Apply {
        #[command(flatten)]
        rules: RulesArgs,
        /// off (not evaluated), shadow (decisions recorded, nothing acted on) or enforce.
        #[arg(long, value_enum)]
        mode: RulesModeArg,
        /// The ETag of the version this replaces (e.g. "v3"); by default the version in force
        /// is read first.
        #[arg(long, value_name = "ETAG")]
        if_match: Option<String>,
    },
}

/// A rule file and its cases.
#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    /// The rules, in Cedar.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A JSON array of test cases carried with the rules.
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesModeArg {
    Off,
    Shadow,
    Enforce,
}

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// List pending requests, newest first unless --direction asc.
    List(ListArgs),
    /// Show one pending request and every repository it asks for.
    Show {
        /// The request's id.
        id: i64,
    },
    /// Approve pending requests: one id uses the single review endpoint, several the bulk
    /// endpoint (all of them or none).
    Approve(ReviewArgs),
    /// Deny pending requests: one id uses the single review endpoint, several the bulk
    /// endpoint (all of them or none).
    Deny(ReviewArgs),
}

#[derive(Debug, Subcommand)]
pub enum GrantsCommand {
    /// List active grants, newest first unless --direction asc.
    List(ListArgs),
    /// Revoke grants through the bulk endpoint (all of them or none).
    Revoke(RevokeArgs),
}

/// The list endpoints' filters and paging.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only tokens of these owners (logins, up to 10); repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_name = "LOGIN")]
    pub owner: Vec<String>,
    /// Only tokens that can reach this repository (its name), including tokens for all.
    #[arg(long, value_name = "NAME")]
    pub repository: Option<String>,
    /// Only tokens that ask for this permission at this level, e.g. issues_write.
    #[arg(long, value_name = "NAME_LEVEL")]
    pub permission: Option<String>,
    /// Only tokens last used before this time (YYYY-MM-DDTHH:MM:SSZ).
    #[arg(long, value_name = "TIME")]
    pub last_used_before: Option<String>,
    /// Only tokens last used after this time (YYYY-MM-DDTHH:MM:SSZ).
    #[arg(long, value_name = "TIME")]
    pub last_used_after: Option<String>,
    /// Only these token ids (up to 50); repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub token_id: Vec<NonZeroU64>,
    /// The property to sort by.
    #[arg(long, value_enum)]
    pub sort: Option<Sort>,
    /// The sort direction (the API's default is desc).
    #[arg(long, value_enum)]
    pub direction: Option<Direction>,
    /// Results per page, 1 to 100 (the API's default is 30; 100 with --all).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<NonZeroU64>::new().range(1..=100))]
    pub per_page: Option<NonZeroU64>,
    /// The page to fetch (with --all: the first page to fetch).
    #[arg(long)]
    pub page: Option<NonZeroU64>,
    /// Follow the Link header's rel="next" to the last page.
    #[arg(long)]
    pub all: bool,
}

impl ListArgs {
    /// No filter, 100 per page: every item, for --dry-run and `show`.
    pub fn everything() -> ListArgs {
        ListArgs {
            owner: Vec::new(),
            repository: None,
            permission: None,
            last_used_before: None,
            last_used_after: None,
            token_id: Vec::new(),
            sort: None,
            direction: None,
            per_page: Some(crate::pages::MAX_PER_PAGE),
            page: None,
            all: true,
        }
    }

    /// The owners as the generated client takes them, `None` when not filtered.
    pub fn owners(&self) -> Option<Vec<String>> {
        (!self.owner.is_empty()).then(|| self.owner.clone())
    }

    /// The token ids as the generated client takes them, `None` when not filtered.
    pub fn token_ids(&self) -> Option<Vec<String>> {
        (!self.token_id.is_empty()).then(|| self.token_id.iter().map(ToString::to_string).collect())
    }

    /// Results per page: as given, else the API's largest page when following every page.
    pub fn page_size(&self) -> Option<NonZeroU64> {
        self.per_page
            .or_else(|| self.all.then_some(crate::pages::MAX_PER_PAGE))
    }
}

#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    /// Request ids (1 to 100); separate with spaces or commas.
    #[arg(required = true, value_delimiter = ',', value_name = "ID")]
    pub ids: Vec<i64>,
    /// The reason, shown to the token's owner (at most 1024 characters).
    #[arg(long, value_parser = parse_reason)]
    pub reason: Option<String>,
    /// Check that every id is a pending request and print what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RevokeArgs {
    /// Grant ids (1 to 100); separate with spaces or commas.
    #[arg(required = true, value_delimiter = ',', value_name = "ID")]
    pub ids: Vec<i64>,
    /// The reason, sent to the tokens' owners (at most 1024 characters).
    #[arg(long, value_parser = parse_reason)]
    pub reason: Option<String>,
    /// Check that every id is an active grant and print what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The API's limit on a review reason.
pub const MAX_REASON_CHARS: usize = 1024;

fn parse_reason(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_REASON_CHARS {
        Err(format!("at most {MAX_REASON_CHARS} characters"))
    } else {
        Ok(value.to_owned())
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sort {
    #[value(name = "created_at")]
    CreatedAt,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Direction {
    Asc,
    Desc,
}

/// One of our enums into one of the generated client's (one per list operation), variant by
/// variant.
macro_rules! same_variants {
    ($from:ident => $to:ty { $($variant:ident),+ }) => {
        impl From<$from> for $to {
            fn from(value: $from) -> Self {
                match value {
                    $($from::$variant => Self::$variant,)+
                }
            }
        }
    };
}

same_variants!(Sort => OrgsListPatGrantRequestsSort { CreatedAt });
same_variants!(Sort => OrgsListPatGrantsSort { CreatedAt });
same_variants!(Direction => OrgsListPatGrantRequestsDirection { Asc, Desc });
same_variants!(Direction => OrgsListPatGrantsDirection { Asc, Desc });

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn owners_and_token_ids_are_repeatable_or_comma_separated() {
        let cli = Cli::try_parse_from([
            "patgate-ci",
            "requests",
            "list",
            "--owner",
            "alice,bob",
            "--owner",
            "carol",
            "--token-id",
            "4,5",
            "--token-id",
            "6",
        ])
        .expect("parses");
        let Command::Requests(RequestsCommand::List(list)) = cli.command else {
            panic!("not requests list");
        };
        assert_eq!(
            list.owners(),
            Some(vec!["alice".into(), "bob".into(), "carol".into()])
        );
        assert_eq!(
            list.token_ids(),
            Some(vec!["4".into(), "5".into(), "6".into()])
        );
    }

    #[test]
    fn global_options_may_follow_the_command() {
        let cli = Cli::try_parse_from(["patgate-ci", "grants", "list", "--org", "acme", "--json"])
            .expect("parses");
        assert_eq!(cli.global.org.as_deref(), Some("acme"));
        assert!(cli.global.json);
    }

    #[test]
    fn usage_errors_are_refused_by_the_parser() {
        for args in [
            vec!["patgate-ci", "requests", "approve"],
            vec!["patgate-ci", "requests", "list", "--per-page", "101"],
            vec!["patgate-ci", "requests", "list", "--direction", "sideways"],
            vec!["patgate-ci", "grants", "revoke", "x"],
        ] {
            let err = Cli::try_parse_from(&args).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        let err = Cli::try_parse_from(["patgate-ci", "requests", "deny", "1", "--reason", &long])
            .expect_err("refused");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn all_pages_are_fetched_100_at_a_time_unless_told() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["patgate-ci", "grants", "list"];
            args.extend(extra);
            match Cli::try_parse_from(args).expect("parses").command {
                Command::Grants(GrantsCommand::List(list)) => list.page_size(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["--all"]), NonZeroU64::new(100));
        assert_eq!(parse(&["--all", "--per-page", "5"]), NonZeroU64::new(5));
    }
}
