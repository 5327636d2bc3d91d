//! Ethereum-style addresses: `0x` and 40 hex digits, with the EIP-55
//! mixed-case checksum checked when the input is mixed case.

use sha3::{Digest, Keccak256};

use crate::domain::chains::address::{AddressError, AddressKind, Parsed};

const HEX_LEN: usize = 40;

pub(crate) fn parse(input: &str) -> Result<Parsed, AddressError> {
    let digits = input
        .strip_prefix("0x")
        .or_else(|| input.strip_prefix("0X"))
        .ok_or(AddressError::MissingHexPrefix)?;
    let lower = parse_hex20(digits, 2)?;
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    if has_upper && has_lower && eip55_digits(&lower) != digits {
        return Err(AddressError::Eip55Mismatch);
    }
    Ok(Parsed {
        canonical: format!("0x{lower}"),
        kind: AddressKind::EvmAccount,
        extra: None,
        link_key: evm_link_key(&lower),
    })
}

/// Checks that `digits` is 40 hex digits and returns them in lower case.
/// `offset` is the position of `digits` in the input, for error messages.
pub(crate) fn parse_hex20(digits: &str, offset: usize) -> Result<String, AddressError> {
    if let Some((i, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(AddressError::InvalidCharacter {
            character: c,
            position: offset + i,
            encoding: "hex",
        });
    }
    if digits.len() != HEX_LEN {
        return Err(AddressError::WrongLength {
            what: "EVM address",
            expected: format!("{HEX_LEN} hex digits after 0x"),
            found: digits.len(),
        });
    }
    Ok(digits.to_ascii_lowercase())
}

/// The link key shared by all EVM chains and Tron: `evm:<40 lowercase hex>`.
pub(crate) fn evm_link_key(lower_hex: &str) -> String {
    format!("evm:{lower_hex}")
}

/// The EIP-55 form of 40 lowercase hex digits (without `0x`): a letter is
/// upper case when the matching nibble of keccak-256(lowercase hex) is >= 8.
pub(crate) fn eip55_digits(lower_hex: &str) -> String {
    let hash = Keccak256::digest(lower_hex.as_bytes());
    lower_hex
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let byte = hash.get(i / 2).copied().unwrap_or(0);
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}
