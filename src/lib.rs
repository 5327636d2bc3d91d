//! tracewire: an inter-organization intelligence-sharing API for
//! cryptocurrency indicators, over mutual TLS plus JWT.
//!
//! Where things live:
//! - [`config`]: typed settings from `tracewire.toml` and `TRACEWIRE_*` variables.
//! - [`startup`]: the one composition root ([`startup::Application`]), used by
//!   `main` and by the integration tests alike.
//! - [`domain`]: validated domain types (organization ids, scopes, …).
//! - [`auth`]: mutual-TLS identity, JWT issuing/verification, the `Caller` extractor.
//! - [`storage`]: the database pool (SQLite or PostgreSQL) and every SQL query.
//! - [`api`]: HTTP handlers, one module per resource, plus the operations listener.
//! - [`console`]: the analyst console, server-rendered pages under `/console/`.
//! - [`error`]: the one place where errors become RFC 9457 problem documents.
//! - [`pki`]: certificate authority helpers (the `pki` and `demo` commands, and tests).
pub mod access;
pub mod alerts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod console;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod import;
pub mod metrics;
pub mod misp;
pub mod openapi;
pub mod partners;
pub mod pki;
pub mod records;
pub mod screening;
pub mod startup;
pub mod stix;
pub mod storage;
pub mod taxii;
pub mod telemetry;
