//! `patgate`: serve the API, migrate, seed, run the demo, print the OpenAPI document.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use patgate::config::{Cli, Command, Settings};
use patgate::{check, demo, open_db, seed, Application};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PATGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    if cli.global.log_format == "json" {
        // One object per line: time, level, target, the message and every field at the top.
        logs.json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        // Colours only for a person watching; a log file or collector gets plain text.
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("patgate: {}", patgate_api::error::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Openapi { spec_version } => {
            if spec_version == "3.0" {
                print!("{}", patgate_api::openapi_json_30());
            } else {
                print!("{}", patgate_api::openapi_json());
            }
            Ok(())
        }
        Command::Check(args) => {
            let settings = Settings::new(&cli.global, Some(args));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let checked = runtime.block_on(check::run(&settings));
            let mut failed = 0;
            for c in &checked {
                match &c.outcome {
                    Ok(found) => println!("ok    {}: {found}", c.name),
                    Err(why) => {
                        failed += 1;
                        println!("FAIL  {}: {why}", c.name);
                    }
                }
            }
            if failed > 0 {
                return Err(format!("{failed} of {} checks failed", checked.len()).into());
            }
            Ok(())
        }
        Command::Migrate => {
            let db = open_db(&Settings::new(&cli.global, None))?;
            println!("migrations up to date ({})", db.backend().as_str());
            Ok(())
        }
        Command::Seed { file } => {
            let db = open_db(&Settings::new(&cli.global, None))?;
            let loaded = seed::load(&db, &seed::read(file)?)?;
            println!(
                "seeded {} organizations, {} apps, {} installations, {} requests",
                loaded.organizations, loaded.apps, loaded.installations, loaded.requests
            );
            Ok(())
        }
        Command::AppJwt {
            app_id,
            private_key,
        } => {
            let pem = std::fs::read_to_string(private_key)?;
            println!(
                "{}",
                patgate_api::keys::app_jwt(app_id, &pem, chrono::Utc::now().timestamp())?
            );
            Ok(())
        }
        Command::Serve(args) => serve(Settings::new(&cli.global, Some(args)), None),
        Command::Demo(args) => {
            let mut settings = Settings::new(&cli.global, Some(args));
            // The demo runs alone, behind no load balancer: nothing to wait for on Ctrl-C.
            if args.shutdown_grace_ms.is_none() {
                settings.shutdown_grace = std::time::Duration::ZERO;
            }
            serve(settings, Some(cli.global.data_dir.clone()))
        }
    }
}

/// Serves; with `demo_dir`, first seeds the demo and writes its files there.
fn serve(settings: Settings, demo_dir: Option<std::path::PathBuf>) -> Result<()> {
    let db = open_db(&settings)?;
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async move {
        let app = Application::build(&settings, db.clone())?;
        if let Some(dir) = demo_dir {
            write_demo(&db, &dir, app.base_url())?;
        }
        // The first line on stdout tells scripts and tests where the server listens.
        println!("listening on http://{}", app.local_addr());
        tracing::info!(
            base_url = app.base_url(),
            backend = db.backend().as_str(),
            "serving"
        );
        app.run_until_stopped().await?;
        Ok(())
    })
}

/// The demo's review rules in shadow mode, saved once (a restarted demo keeps its versions).
fn seed_rules(db: &patgate_persistence::Db, actor: (i64, i64)) -> Result<()> {
    use patgate_persistence::review_rules::{self, Expected, NewVersion};
    let cases = demo::rules_cases().to_string();
    let org_id = patgate_persistence::directory::org_by_login(&mut *db.conn()?, demo::ORG)?
        .ok_or("demo organization missing after seeding")?
        .id;
    let new = NewVersion {
        org_id,
        mode: patgate_rules::Mode::Shadow,
        source: demo::RULES,
        cases: &cases,
        actor,
        at: patgate_persistence::now(),
    };
    db.write(
        patgate_persistence::Touches::Org(org_id),
        |conn| match review_rules::save(conn, Expected::Version(0), &new) {
            Ok(_) | Err(review_rules::SaveError::Stale(_)) => Ok(()),
            Err(review_rules::SaveError::Store(e)) => Err(e),
        },
    )?;
    Ok(())
}

fn write_demo(db: &patgate_persistence::Db, dir: &std::path::Path, base_url: &str) -> Result<()> {
    let key_path = demo::key_path(dir);
    let private = demo::app_private_key(&key_path)?;
    let public = patgate_api::keys::rsa_public_pem(&private)?;
    seed::load(db, &demo::seed(&public))?;
    let mut conn = db.conn()?;
    let (inst, _) = patgate_persistence::directory::app_by_issuer(&mut conn, demo::APP_CLIENT_ID)?
        .and_then(|app| {
            patgate_persistence::directory::installation_for_org(&mut conn, app.id, demo::ORG)
                .ok()
                .flatten()
        })
        .ok_or("demo installation missing after seeding")?;
    let (issuer, _) =
        patgate_persistence::directory::app_by_issuer(&mut conn, demo::ISSUER_CLIENT_ID)?
            .and_then(|app| {
                patgate_persistence::directory::installation_for_org(&mut conn, app.id, demo::ORG)
                    .ok()
                    .flatten()
            })
            .ok_or("demo issuer installation missing after seeding")?;
    seed_rules(db, (inst.app_id, inst.id))?;
    let key_abs = std::fs::canonicalize(&key_path)?;
    let info = demo::DemoInfo {
        base_url: base_url.to_owned(),
        org: demo::ORG.to_owned(),
        app_id: inst.app_id,
        client_id: demo::APP_CLIENT_ID.to_owned(),
        installation_id: inst.id,
        private_key_path: key_abs.display().to_string(),
        issuer_app_id: issuer.app_id,
        issuer_installation_id: issuer.id,
    };
    std::fs::write(
        dir.join("demo.json"),
        serde_json::to_string_pretty(&info)? + "\n",
    )?;
    eprintln!("{}", demo::example(&info));
    Ok(())
}
