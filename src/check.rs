//! `patgate check`: what an operator runs before a rollout (or a probe of a deployment's
//! configuration): the configuration, the database (reachable, migrations current), the
//! signing key and, when one is configured, the SMTP server. Nothing is created or changed:
//! no database file, no key, no migration.

use std::time::Duration;

use patgate_persistence::{Backend, Db, PoolOptions};

use crate::config::Settings;

/// One check and how it went: what was found, or why it failed.
#[derive(Debug)]
pub struct Checked {
    pub name: &'static str,
    pub outcome: Result<String, String>,
}

/// How long the database and the SMTP server have to answer.
const TIME_OUT: Duration = Duration::from_secs(5);

/// Runs every check, in order; the database's checks only once it is reachable.
pub async fn run(settings: &Settings) -> Vec<Checked> {
    let mut checked = vec![Checked {
        name: "configuration",
        outcome: crate::validate(settings)
            .map(|()| "valid".to_owned())
            .map_err(|e| patgate_api::error::error_chain(&e)),
    }];
    match database(settings) {
        Ok(db) => {
            checked.push(Checked {
                name: "database",
                outcome: Ok(format!("reachable ({})", db.backend().as_str())),
            });
            checked.push(Checked {
                name: "migrations",
                outcome: migrations(&db),
            });
        }
        Err(e) => checked.push(Checked {
            name: "database",
            outcome: Err(e),
        }),
    }
    checked.push(Checked {
        name: "signing key",
        outcome: signing_key(settings),
    });
    checked.push(Checked {
        name: "smtp",
        outcome: match settings.notifications.reachable().await {
            Ok(Some(())) => Ok("reachable".to_owned()),
            Ok(None) => Ok("not configured (no e-mail is sent)".to_owned()),
            Err(e) => Err(e),
        },
    });
    checked
}

/// The database, connected without creating it: a SQLite file must exist already.
fn database(settings: &Settings) -> Result<Db, String> {
    let (backend, path) = Backend::parse_url(&settings.database_url)
        .map_err(|e| patgate_api::error::error_chain(&e))?;
    if backend == Backend::Sqlite && !std::path::Path::new(&path).exists() {
        return Err(format!(
            "no SQLite database at {path} (`patgate migrate` creates it)"
        ));
    }
    Db::connect(
        &settings.database_url,
        &PoolOptions {
            max_size: 1,
            connection_timeout: TIME_OUT,
        },
    )
    .map_err(|e| patgate_api::error::error_chain(&e))
}

fn migrations(db: &Db) -> Result<String, String> {
    let pending = db
        .pending_migrations()
        .map_err(|e| patgate_api::error::error_chain(&e))?;
    if pending.is_empty() {
        Ok("current".to_owned())
    } else {
        Err(format!(
            "{} not applied ({}); `patgate migrate` applies them",
            pending.len(),
            pending.join(", ")
        ))
    }
}

fn signing_key(settings: &Settings) -> Result<String, String> {
    let path = &settings.signing_key_file;
    if !path.exists() {
        return Err(format!(
            "{} does not exist: `serve` would create a new one, and every instance of one deployment must share one",
            path.display()
        ));
    }
    let keys = patgate_api::keys::ServerKeys::load_ring(path, &settings.accepted_key_files)
        .map_err(|e| patgate_api::error::error_chain(&e))?;
    let mut ids = keys.key_ids();
    let signer = ids.next().unwrap_or_default();
    let accepted: Vec<&str> = ids.collect();
    Ok(if accepted.is_empty() {
        format!("{} signs (key {signer})", path.display())
    } else {
        format!(
            "{} signs (key {signer}); also accepted: key {}",
            path.display(),
            accepted.join(", key ")
        )
    })
}
