//! Tron: base58check of the byte 0x41 and a 20-byte account (`T...`).
//! The hex form `41` + 40 hex digits is accepted too. The 20 bytes are the
//! same kind of account as on EVM chains, hence the shared `evm:` link key.

use crate::domain::chains::address::{AddressError, AddressKind, Parsed};
use crate::domain::chains::encoding::base58;
use crate::domain::chains::formats::evm::{evm_link_key, parse_hex20};

const VERSION: u8 = 0x41;
const PAYLOAD_LEN: usize = 21;

pub(crate) fn parse(input: &str) -> Result<Parsed, AddressError> {
    let payload = match input.strip_prefix("41") {
        Some(digits) if input.len() == 2 * PAYLOAD_LEN => {
            let lower = parse_hex20(digits, 2)?;
            let mut payload = vec![VERSION];
            payload.extend(hex::decode(lower).map_err(|e| AddressError::Malformed {
                encoding: "hex",
                reason: e.to_string(),
            })?);
            payload
        }
        _ => base58::decode_check(input, bs58::Alphabet::BITCOIN)?,
    };
    if payload.len() != PAYLOAD_LEN {
        return Err(AddressError::WrongLength {
            what: "Tron address payload",
            expected: format!("{PAYLOAD_LEN} bytes"),
            found: payload.len(),
        });
    }
    let account = match payload.split_first() {
        Some((&VERSION, account)) => account,
        _ => {
            return Err(AddressError::UnknownVersion {
                version: format!("0x{}", hex::encode(payload.get(..1).unwrap_or_default())),
                chain: crate::domain::chains::Chain::Trx,
            })
        }
    };
    Ok(Parsed {
        canonical: base58::encode_check(&payload, bs58::Alphabet::BITCOIN),
        kind: AddressKind::TronAccount,
        extra: None,
        link_key: evm_link_key(&hex::encode(account)),
    })
}
