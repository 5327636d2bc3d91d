//! Bitcoin Cash: cashaddr (canonical) and legacy base58check addresses.
//!
//! Every form is stored as the prefixed, lower-case cashaddr of a plain
//! (non-token-aware) P2PKH/P2SH address, so legacy, bare, upper-case and
//! token-aware forms of one address are one record.

use crate::domain::chains::address::{AddressError, AddressKind, Parsed};
use crate::domain::chains::chain::Chain;
use crate::domain::chains::encoding::cashaddr;
use crate::domain::chains::formats::utxo::decode_legacy;

const PREFIX: &str = "bitcoincash";

/// Hash sizes in bytes, indexed by the low 3 bits of the version byte.
const HASH_SIZES: [usize; 8] = [20, 24, 28, 32, 40, 48, 56, 64];

/// Cashaddr type numbers (bits 3-6 of the version byte).
const TYPE_P2PKH: u8 = 0;
const TYPE_P2SH: u8 = 1;
const TYPE_TOKEN_P2PKH: u8 = 2;
const TYPE_TOKEN_P2SH: u8 = 3;

pub(crate) fn parse(chain: Chain, input: &str) -> Result<Parsed, AddressError> {
    let (kind, hash) = if looks_like_cashaddr(input) {
        decode_cashaddr(chain, input)?
    } else {
        let (kind, payload) = decode_legacy(chain, input)?;
        // The legacy version prefix is one byte for Bitcoin Cash.
        (kind, payload.get(1..).unwrap_or_default().to_vec())
    };
    let canonical = encode(kind, &hash);
    Ok(Parsed::plain(chain, canonical, kind))
}

/// Cashaddr strings have a `:` prefix separator or start with the type
/// character (`q`/`p`, token-aware `z`/`r`); legacy ones start with 1 or 3.
fn looks_like_cashaddr(input: &str) -> bool {
    input.contains(':')
        || input
            .bytes()
            .next()
            .is_some_and(|b| matches!(b.to_ascii_lowercase(), b'q' | b'p' | b'z' | b'r'))
}

fn decode_cashaddr(chain: Chain, input: &str) -> Result<(AddressKind, Vec<u8>), AddressError> {
    let payload = cashaddr::decode(input, PREFIX, chain)?;
    let Some((&version, hash)) = payload.split_first() else {
        return Err(AddressError::WrongLength {
            what: "cashaddr payload",
            expected: "a version byte and a hash".to_string(),
            found: 0,
        });
    };
    if version & 0x80 != 0 {
        return Err(AddressError::CashAddrVersion(version));
    }
    let kind = match (version >> 3) & 0x0f {
        TYPE_P2PKH | TYPE_TOKEN_P2PKH => AddressKind::P2pkh,
        TYPE_P2SH | TYPE_TOKEN_P2SH => AddressKind::P2sh,
        _ => return Err(AddressError::CashAddrVersion(version)),
    };
    let expected = HASH_SIZES[usize::from(version & 0x07)];
    if hash.len() != expected {
        return Err(AddressError::WrongLength {
            what: "cashaddr hash",
            expected: format!("{expected} bytes (from version byte 0x{version:02x})"),
            found: hash.len(),
        });
    }
    Ok((kind, hash.to_vec()))
}

/// The canonical cashaddr of a plain P2PKH/P2SH `hash`.
fn encode(kind: AddressKind, hash: &[u8]) -> String {
    let type_bits = if kind == AddressKind::P2sh {
        TYPE_P2SH
    } else {
        TYPE_P2PKH
    };
    // `hash` came from a valid address, so its length is in the table.
    let size_bits = HASH_SIZES
        .iter()
        .position(|&n| n == hash.len())
        .unwrap_or(0) as u8;
    let mut payload = Vec::with_capacity(hash.len() + 1);
    payload.push((type_bits << 3) | size_bits);
    payload.extend_from_slice(hash);
    cashaddr::encode(PREFIX, &payload)
}
