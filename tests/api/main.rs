//! Integration tests: each starts the real server on random ports with
//! certificates made by rcgen, and talks HTTPS (mutual TLS) to it.
//!
//! Tests that touch storage run once on SQLite and, when
//! `TRACEWIRE_TEST_DATABASE_URL` is set, once more on PostgreSQL (each in
//! its own schema), through the `on_both_backends!` macro.
mod forwarded;
mod helpers;
mod hub_power;

mod admin;
mod alerts;
mod audit;
mod changes;
mod cli;
mod disclosure;
mod errors;
mod http_parser;
mod ingest;
mod input_limits;
mod key_encryption;
mod misp;
mod opencti;
mod operations;
mod outage;
mod partner_issuers;
mod private_screening;
mod process;
mod rate_limits;
mod receiver;
mod records;
mod replicas;
mod schema_fuzz;
mod screening;
mod shutdown;
mod sightings;
mod storage;
mod tablespace_full;
mod taxii;
mod taxii_clients;
mod tls;
mod tls_reload;
mod tokens;
mod webhooks;
