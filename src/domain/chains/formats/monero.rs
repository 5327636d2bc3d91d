//! Monero mainnet addresses: Monero base58 of
//! `prefix || spend key (32) || view key (32) [|| payment id (8)] || checksum (4)`,
//! the checksum being the first 4 bytes of keccak-256 of what precedes it.
//!
//! Standard (prefix 18) and subaddresses (42) are kept as they are;
//! integrated addresses (19) are reduced to their standard address, with the
//! payment id moved to [`AddressExtra::PaymentId`].

use sha3::{Digest, Keccak256};

use crate::domain::chains::address::{AddressError, AddressExtra, AddressKind, Parsed};
use crate::domain::chains::encoding::monero_base58;

const STANDARD: u8 = 18;
const INTEGRATED: u8 = 19;
const SUBADDRESS: u8 = 42;
const KEYS_LEN: usize = 64;
const PAYMENT_ID_LEN: usize = 8;
const CHECKSUM_LEN: usize = 4;

pub(crate) fn parse(input: &str) -> Result<Parsed, AddressError> {
    let data = monero_base58::decode(input).map_err(AddressError::MoneroBase58)?;
    if data.len() <= CHECKSUM_LEN {
        return Err(wrong_length(data.len(), 1 + KEYS_LEN + CHECKSUM_LEN));
    }
    let (body, checksum) = data.split_at(data.len() - CHECKSUM_LEN);
    if Keccak256::digest(body).get(..CHECKSUM_LEN) != Some(checksum) {
        return Err(AddressError::MoneroChecksum);
    }
    let (&prefix, rest) = body.split_first().ok_or(AddressError::MoneroChecksum)?;
    let (kind, payment_id) = match prefix {
        STANDARD | SUBADDRESS => {
            if rest.len() != KEYS_LEN {
                return Err(wrong_length(data.len(), 1 + KEYS_LEN + CHECKSUM_LEN));
            }
            let kind = if prefix == STANDARD {
                AddressKind::MoneroStandard
            } else {
                AddressKind::MoneroSubaddress
            };
            (kind, None)
        }
        INTEGRATED => {
            if rest.len() != KEYS_LEN + PAYMENT_ID_LEN {
                return Err(wrong_length(
                    data.len(),
                    1 + KEYS_LEN + PAYMENT_ID_LEN + CHECKSUM_LEN,
                ));
            }
            (
                AddressKind::MoneroStandard,
                rest.get(KEYS_LEN..).map(hex::encode),
            )
        }
        other => return Err(AddressError::MoneroPrefix(u64::from(other))),
    };
    let keys = rest.get(..KEYS_LEN).unwrap_or_default();
    for (name, key) in [("spend", keys.get(..32)), ("view", keys.get(32..))] {
        let point = key.and_then(|k| {
            curve25519_dalek::edwards::CompressedEdwardsY::from_slice(k)
                .ok()?
                .decompress()
        });
        if point.is_none() {
            return Err(AddressError::MoneroKey(name));
        }
    }
    let standard_prefix = if kind == AddressKind::MoneroSubaddress {
        SUBADDRESS
    } else {
        STANDARD
    };
    let canonical = encode(standard_prefix, keys, &[]);
    let link_key = format!("xmr:{canonical}");
    Ok(Parsed {
        canonical,
        kind,
        extra: payment_id.map(AddressExtra::PaymentId),
        link_key,
    })
}

/// Encodes an address from its prefix, the two public keys and an optional
/// payment id, adding the keccak-256 checksum.
pub(crate) fn encode(prefix: u8, keys: &[u8], payment_id: &[u8]) -> String {
    let mut data = Vec::with_capacity(1 + keys.len() + payment_id.len() + CHECKSUM_LEN);
    data.push(prefix);
    data.extend_from_slice(keys);
    data.extend_from_slice(payment_id);
    let hash = Keccak256::digest(&data);
    data.extend_from_slice(hash.get(..CHECKSUM_LEN).unwrap_or_default());
    monero_base58::encode(&data)
}

fn wrong_length(found: usize, expected: usize) -> AddressError {
    AddressError::WrongLength {
        what: "Monero address data",
        expected: format!("{expected} bytes"),
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two valid public keys: the ed25519 base point and its double.
    fn valid_keys() -> Vec<u8> {
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
        let mut keys = B.compress().to_bytes().to_vec();
        keys.extend_from_slice((B + B).compress().as_bytes());
        keys
    }

    #[test]
    fn keys_off_the_curve_are_refused() {
        // y = 2 is not the y-coordinate of any ed25519 point.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert!(curve25519_dalek::edwards::CompressedEdwardsY(off_curve)
            .decompress()
            .is_none());
        let valid = valid_keys();
        assert!(parse(&encode(STANDARD, &valid, &[])).is_ok());
        let mut bad_spend = off_curve.to_vec();
        bad_spend.extend_from_slice(&valid[32..]);
        let mut bad_view = valid[..32].to_vec();
        bad_view.extend_from_slice(&off_curve);
        for (keys, name) in [(&bad_spend, "spend"), (&bad_view, "view")] {
            for prefix in [STANDARD, SUBADDRESS] {
                assert_eq!(
                    parse(&encode(prefix, keys, &[])).err(),
                    Some(AddressError::MoneroKey(name))
                );
            }
            assert_eq!(
                parse(&encode(INTEGRATED, keys, &[9; 8])).err(),
                Some(AddressError::MoneroKey(name))
            );
        }
    }

    #[test]
    fn integrated_address_reduces_to_its_standard_address() {
        let keys = valid_keys();
        let standard = encode(STANDARD, &keys, &[]);
        let integrated = encode(INTEGRATED, &keys, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(standard.len(), 95);
        assert_eq!(integrated.len(), 106);
        let parsed = parse(&integrated).ok();
        assert_eq!(
            parsed.as_ref().map(|p| p.canonical.as_str()),
            Some(standard.as_str())
        );
        assert_eq!(
            parsed.and_then(|p| p.extra),
            Some(AddressExtra::PaymentId("0102030405060708".to_string()))
        );
    }
}
