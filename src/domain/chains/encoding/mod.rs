//! Encodings shared by the address formats.

pub(crate) mod base58;
pub(crate) mod cashaddr;
pub(crate) mod monero_base58;
