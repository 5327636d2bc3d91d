//! The `tracewire` command line: `serve`, `migrate`, `demo`, `admin …`,
//! `pki …`, `openapi`. Each subcommand's logic lives in its own module.
pub mod admin;
pub mod bench;
pub mod bench_alerts;
pub mod bench_console;
pub mod demo;
pub mod demo_alerts;
pub mod demo_browser;
pub mod demo_records;
pub mod import;
pub mod partner;
pub mod pki;
pub mod progress;
pub mod screen;
pub mod watchlist;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tracewire",
    version,
    about = "Inter-organization intelligence-sharing API for cryptocurrency indicators (mutual TLS + JWT)"
)]
pub struct Cli {
    /// Configuration file (TOML). Without it, ./tracewire.toml is read when present.
    /// Every key can be overridden by TRACEWIRE_<SECTION>__<KEY> variables.
    #[arg(long, global = true, env = "TRACEWIRE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain; report the first broken link (exit status 1).
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API (mutual TLS) and operations listeners. The default command.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create (or reuse) a demo deployment: a dev CA, server and partner
    /// certificates, three partner organizations and a hub with API clients;
    /// write demo.json; print working curl lines; start the server.
    Demo(demo::DemoArgs),
    /// Send a CSV, JSON-lines or OFAC list file to a server as your
    /// organization, in atomic batches, with a progress bar and a summary of
    /// accepted and rejected lines (exit status 2 when lines were rejected);
    /// or MISP events (a .json file or a MISP feed directory) and STIX 2.1
    /// bundles, as STIX over TAXII, with a summary of accepted and rejected
    /// objects.
    Import(Box<import::ImportArgs>),
    /// Screen addresses from a file or standard input, privately by default
    /// (only hash prefixes leave this machine; --plain sends the addresses),
    /// with a progress bar, a summary and a report (table, CSV or JSON
    /// lines). Exit status 0: nothing matched; 1: something matched; 2: error.
    Screen(Box<screen::ScreenArgs>),
    /// Your organization's view of the hub: what is registered under it,
    /// the admin history that concerns it, its communities' members, and
    /// confirming credentials the hub added (over the API, as a partner).
    Partner(Box<partner::PartnerArgs>),
    /// Your organization's watchlist: upload a CSV or list of addresses
    /// (atomic batches of up to 10,000, with a progress bar and a summary;
    /// exit status 2 when lines were rejected), or count its entries.
    #[command(subcommand)]
    Watchlist(watchlist::WatchlistCommand),
    /// Measure a running server over mutual TLS + JWT: ingest, single
    /// lookups beside GET /v1/whoami, bulk screening (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print the OpenAPI 3.1 document.
    Openapi,
    /// Administer partners on this server's database (organizations,
    /// certificates, API clients, communities, signing keys).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Issue certificates for real deployments: a CA, server and client
    /// certificates, revocation lists.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
}
