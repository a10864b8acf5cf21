//! `patgate-ci`: lists, reviews and revokes an organization's token requests and grants from CI pipelines, as a GitHub App installation, through the generated client.

pub mod actions;
pub mod args;
pub mod auth;
pub mod error;
pub mod grants;
pub mod link;
mod lists;
pub mod output;
pub mod pages;
pub mod requests;
pub mod rules;
pub mod table;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use patgate_client::Client;

use crate::args::{Cli, Command, GrantsCommand, ListArgs, RequestsCommand};
use crate::auth::AppCredentials;
use crate::error::{CliError, Exit};
use crate::pages::Paging;

/// Environment variable holding the app's private key PEM itself (rather than a file).
pub const PRIVATE_KEY_ENV: &str = "PATGATE_PRIVATE_KEY";

/// Parses the command line, runs the command, prints any error on stderr as
/// `patgate-ci: <message>`, and returns the documented exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's codes: 0 for --help and --version, 2 for usage errors.
            let code = u8::try_from(e.exit_code()).unwrap_or(Exit::Usage as u8);
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // One crypto backend is compiled in; installing it by name keeps a feature change
    // elsewhere in the build from becoming a panic at the first signature.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("patgate-ci: cannot start the async runtime: {e}");
            return Exit::Failed.into();
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => Exit::Done.into(),
        Err(e) => {
            eprintln!("patgate-ci: {}", error::chain(&e));
            for detail in e.details() {
                eprintln!("patgate-ci:   - {detail}");
            }
            e.exit().into()
        }
    }
}

/// What every command needs: the authenticated client and the organization.
#[derive(Debug)]
pub struct Ctx {
    pub client: Client,
    pub org: String,
    pub json: bool,
    pub progress: bool,
}

impl Ctx {
    /// The pages a list command asked for.
    pub fn paging(&self, args: &ListArgs) -> Paging {
        Paging {
            first: args.page,
            all: args.all,
            progress: self.progress,
        }
    }
}

/// Checks the command line, authenticates as the installation, and runs the command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    let org = required(global.org.as_deref(), "--org (or PATGATE_ORG)")?;
    let app_id = required(global.app_id.as_deref(), "--app-id (or PATGATE_APP_ID)")?;
    if let Some(ids) = cli.command.ids() {
        actions::check_count(ids)?;
    }
    let key_pem = std::env::var(PRIVATE_KEY_ENV)
        .ok()
        .filter(|pem| !pem.trim().is_empty());
    let creds = AppCredentials::load(app_id.to_owned(), global.private_key.as_deref(), key_pem)?;
    let client =
        auth::installation_client(&global.base_url, &creds, org, global.installation_id).await?;
    let ctx = Ctx {
        client,
        org: org.to_owned(),
        json: global.json,
        progress: global.progress || std::io::stderr().is_terminal(),
    };
    match &cli.command {
        Command::Requests(command) => requests::run(&ctx, command).await,
        Command::Grants(command) => grants::run(&ctx, command).await,
        Command::Rules(command) => rules::run(&ctx, command).await,
    }
}

fn required<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str, CliError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| CliError::Usage(format!("missing {what}")))
}

impl Command {
    /// The ids an action command acts on.
    fn ids(&self) -> Option<&[i64]> {
        match self {
            Command::Requests(RequestsCommand::Approve(a) | RequestsCommand::Deny(a)) => {
                Some(&a.ids)
            }
            Command::Grants(GrantsCommand::Revoke(a)) => Some(&a.ids),
            _ => None,
        }
    }
}
