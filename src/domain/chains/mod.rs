//! Chain registry and address parsing for shared cryptocurrency indicators.
//!
//! The crate follows "parse, don't validate": the only way to get a
//! [`ChainAddress`] is [`ChainAddress::parse`] (or [`parse_asset_address`]),
//! which checks the address against the rules of its chain and stores it in
//! one canonical form. Two inputs that denote the same address therefore give
//! equal values, and [`ChainAddress::link_keys`] gives the keys under which
//! the same underlying account is found across chains and encodings.
//!
//! * [`chain`]: the registry of supported chains ([`Chain`]).
//! * [`address`]: [`ChainAddress`], its kinds and [`AddressError`].
//! * [`asset`]: asset tickers (as used by sanctions lists) mapped to chains.

pub mod address;
pub mod asset;
pub mod chain;
mod encoding;
mod formats;

pub use address::{AddressError, AddressExtra, AddressKind, ChainAddress};
pub use asset::{asset_chains, lookup_forms, parse_asset_address};
pub use chain::{Chain, Family};
