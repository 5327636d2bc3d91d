//! One parser per address [`crate::domain::chains::Family`]. Each takes trimmed, non-empty,
//! bounded input and returns the canonical form, kind, extra and link key.

pub(crate) mod bitcoin_cash;
pub(crate) mod evm;
pub(crate) mod monero;
pub(crate) mod ripple;
pub(crate) mod solana;
pub(crate) mod tron;
pub(crate) mod utxo;
