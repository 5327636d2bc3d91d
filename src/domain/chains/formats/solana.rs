//! Solana: a 32-byte ed25519 public key in plain base58 (case-sensitive).

use crate::domain::chains::address::{AddressError, AddressKind, Parsed};
use crate::domain::chains::chain::Chain;
use crate::domain::chains::encoding::base58;

const KEY_LEN: usize = 32;

pub(crate) fn parse(input: &str) -> Result<Parsed, AddressError> {
    let key = base58::decode(input, bs58::Alphabet::BITCOIN)?;
    if key.len() != KEY_LEN {
        return Err(AddressError::WrongLength {
            what: "Solana public key",
            expected: format!("{KEY_LEN} bytes"),
            found: key.len(),
        });
    }
    // Base58 of a fixed-length key is one-to-one, so this equals the input.
    let canonical = base58::encode(&key, bs58::Alphabet::BITCOIN);
    Ok(Parsed::plain(
        Chain::Sol,
        canonical,
        AddressKind::SolanaAccount,
    ))
}
