//! Base58 and base58check (double SHA-256 checksum) through the `bs58`
//! crate, with its errors turned into [`AddressError`]s.

use bs58::Alphabet;

use crate::domain::chains::address::{char_at, AddressError};

/// Decodes base58check: returns the payload (version prefix included,
/// checksum removed).
pub(crate) fn decode_check(
    input: &str,
    alphabet: &'static Alphabet,
) -> Result<Vec<u8>, AddressError> {
    bs58::decode(input)
        .with_alphabet(alphabet)
        .with_check(None)
        .into_vec()
        .map_err(|e| map_error(input, e))
}

/// Decodes plain base58 (no checksum).
pub(crate) fn decode(input: &str, alphabet: &'static Alphabet) -> Result<Vec<u8>, AddressError> {
    bs58::decode(input)
        .with_alphabet(alphabet)
        .into_vec()
        .map_err(|e| map_error(input, e))
}

/// Encodes `payload` (version prefix included) as base58check.
pub(crate) fn encode_check(payload: &[u8], alphabet: &'static Alphabet) -> String {
    bs58::encode(payload)
        .with_alphabet(alphabet)
        .with_check()
        .into_string()
}

/// Encodes plain base58.
pub(crate) fn encode(payload: &[u8], alphabet: &'static Alphabet) -> String {
    bs58::encode(payload).with_alphabet(alphabet).into_string()
}

fn map_error(input: &str, error: bs58::decode::Error) -> AddressError {
    use bs58::decode::Error;
    match error {
        Error::InvalidCharacter { character, index } => AddressError::InvalidCharacter {
            character,
            position: index,
            encoding: "base58",
        },
        Error::NonAsciiCharacter { index } => AddressError::InvalidCharacter {
            character: char_at(input, index),
            position: index,
            encoding: "base58",
        },
        Error::InvalidChecksum { .. } => AddressError::Base58Checksum,
        Error::NoChecksum => AddressError::WrongLength {
            what: "base58check data",
            expected: "at least 4 bytes".to_string(),
            found: 0,
        },
        other => AddressError::Malformed {
            encoding: "base58",
            reason: other.to_string(),
        },
    }
}
