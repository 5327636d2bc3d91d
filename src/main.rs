//! The `tracewire` binary: parse the command line, load settings, dispatch.
use clap::Parser;
use tracewire::cli::{Cli, Command};
use tracewire::config::Settings;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    match command {
        Command::Openapi => {
            print!("{}", tracewire::openapi::document());
            Ok(())
        }
        Command::Pki(pki) => tracewire::cli::pki::run(pki),
        Command::Bench(command) => tracewire::cli::bench::run(command).await,
        Command::Partner(args) => tracewire::cli::partner::run(*args).await,
        Command::Watchlist(command) => tracewire::cli::watchlist::run(command).await,
        Command::Import(args) => {
            let summary = tracewire::cli::import::run(*args).await?;
            if !summary.rejected.is_empty() {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Screen(args) => match tracewire::cli::screen::run(*args).await {
            Ok(report) => std::process::exit(if report.matched() > 0 { 1 } else { 0 }),
            Err(error) => {
                eprintln!("error: {error:#}");
                std::process::exit(2);
            }
        },
        Command::Demo(args) => {
            tracewire::telemetry::init(&Settings::default().log);
            tracewire::cli::demo::run(args).await
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref())?;
            tracewire::telemetry::init(&settings.log);
            let db = tracewire::startup::open_database(&settings)?;
            drop(db);
            println!("database is up to date");
            Ok(())
        }
        Command::Audit(tracewire::cli::AuditCommand::Verify) => {
            let settings = Settings::load(cli.config.as_deref())?;
            tracewire::telemetry::init(&settings.log);
            let db = tracewire::startup::open_database(&settings)?;
            let mut conn = db.get()?;
            match tracewire::audit::verify(&mut conn)? {
                tracewire::audit::Verification::Intact { entries } => {
                    println!("audit log intact: {entries} entries");
                    Ok(())
                }
                tracewire::audit::Verification::Broken { seq, reason } => {
                    eprintln!("audit log broken at entry {seq}: {reason}");
                    std::process::exit(1);
                }
            }
        }
        Command::Admin(admin) => {
            let settings = Settings::load(cli.config.as_deref())?;
            tracewire::telemetry::init(&settings.log);
            tracewire::cli::admin::run(&settings, admin)
        }
        Command::Serve => {
            let settings = Settings::load(cli.config.as_deref())?;
            tracewire::telemetry::init(&settings.log);
            let app = tracewire::startup::Application::build(settings).await?;
            app.run_until_stopped().await?;
            Ok(())
        }
    }
}
