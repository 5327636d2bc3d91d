//! CashAddr, the Bitcoin Cash address encoding
//! (spec: bitcoincash.org `spec/cashaddr.md`).
//!
//! `prefix:payload`, where the payload is base32 (bech32 alphabet) of a
//! version byte and a hash, followed by a 40-bit BCH-code checksum that also
//! covers the prefix.

use crate::domain::chains::address::{reject_mixed_case, AddressError};
use crate::domain::chains::chain::Chain;

/// The base32 alphabet (the same as bech32's).
const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Number of 5-bit checksum characters.
const CHECKSUM_LEN: usize = 8;

/// The checksum function of the spec: a BCH code over GF(2^5) evaluated
/// with 40-bit arithmetic. A valid string gives 0.
fn polymod(values: impl IntoIterator<Item = u8>) -> u64 {
    const GENERATORS: [u64; 5] = [
        0x98_f2bc_8e61,
        0x79_b76d_99e2,
        0xf3_3e5f_b3c4,
        0xae_2eab_e2a8,
        0x1e_4f43_e470,
    ];
    let mut c: u64 = 1;
    for d in values {
        let c0 = c >> 35;
        c = ((c & 0x07_ffff_ffff) << 5) ^ u64::from(d);
        for (bit, generator) in GENERATORS.iter().enumerate() {
            if (c0 >> bit) & 1 == 1 {
                c ^= generator;
            }
        }
    }
    c ^ 1
}

/// The checksum input: the prefix's low 5 bits per character, a 0 separator,
/// then the payload values.
fn checksum_input<'a>(prefix: &'a str, payload: &'a [u8]) -> impl Iterator<Item = u8> + 'a {
    prefix
        .bytes()
        .map(|b| b & 0x1f)
        .chain(std::iter::once(0))
        .chain(payload.iter().copied())
}

/// Regroups bits, e.g. 8-bit bytes to 5-bit values. With `pad` the last
/// group is zero-filled; without it, leftover bits must be fewer than
/// `from` and all zero (else `None`).
fn convert_bits(data: &[u8], from: u32, to: u32, pad: bool) -> Option<Vec<u8>> {
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let max = (1u32 << to) - 1;
    let mut out = Vec::with_capacity(data.len() * from as usize / to as usize + 1);
    for &value in data {
        let value = u32::from(value);
        if value >> from != 0 {
            return None;
        }
        acc = (acc << from) | value;
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & max) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & max) as u8);
        }
    } else if bits >= from || acc != 0 {
        return None;
    }
    Some(out)
}

/// Encodes `payload` (version byte and hash) as `prefix:...` in lower case.
pub(crate) fn encode(prefix: &str, payload: &[u8]) -> String {
    // Converting 8-bit bytes to 5 bits with padding cannot fail.
    let values = convert_bits(payload, 8, 5, true).unwrap_or_default();
    let checksum = polymod(checksum_input(prefix, &values).chain([0; CHECKSUM_LEN]));
    let mut out = String::with_capacity(prefix.len() + 1 + values.len() + CHECKSUM_LEN);
    out.push_str(prefix);
    out.push(':');
    for value in values {
        out.push(char::from(CHARSET[usize::from(value)]));
    }
    for i in (0..CHECKSUM_LEN).rev() {
        out.push(char::from(CHARSET[((checksum >> (5 * i)) & 0x1f) as usize]));
    }
    out
}

/// Decodes a cashaddr string, with or without its prefix (`expected_prefix`
/// is assumed when absent). Returns the payload bytes (version byte and hash).
pub(crate) fn decode(
    input: &str,
    expected_prefix: &'static str,
    chain: Chain,
) -> Result<Vec<u8>, AddressError> {
    reject_mixed_case(input, "cashaddr")?;
    let lower = input.to_ascii_lowercase();
    let (prefix, data, data_offset) = match lower.split_once(':') {
        Some((prefix, data)) => (prefix, data, prefix.len() + 1),
        None => (expected_prefix, lower.as_str(), 0),
    };
    if prefix != expected_prefix {
        return Err(AddressError::WrongPrefix {
            found: prefix.to_string(),
            expected: expected_prefix,
            chain,
        });
    }
    let mut values = Vec::with_capacity(data.len());
    for (i, c) in data.char_indices() {
        let value = CHARSET.iter().position(|&x| char::from(x) == c);
        match value {
            Some(v) => values.push(v as u8),
            None => {
                return Err(AddressError::InvalidCharacter {
                    character: c,
                    position: data_offset + i,
                    encoding: "cashaddr",
                });
            }
        }
    }
    if values.len() <= CHECKSUM_LEN {
        return Err(AddressError::WrongLength {
            what: "cashaddr payload",
            expected: "more than 8 characters".to_string(),
            found: values.len(),
        });
    }
    if polymod(checksum_input(prefix, &values)) != 0 {
        return Err(AddressError::CashAddrChecksum);
    }
    let payload = &values[..values.len() - CHECKSUM_LEN];
    convert_bits(payload, 5, 8, false).ok_or(AddressError::Padding {
        encoding: "cashaddr",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let payload = [0u8; 21];
        let text = encode("bitcoincash", &payload);
        assert_eq!(
            decode(&text, "bitcoincash", Chain::Bch).ok(),
            Some(payload.to_vec())
        );
    }

    #[test]
    fn bit_conversion_rejects_nonzero_padding() {
        assert_eq!(convert_bits(&[0b11111], 5, 8, false), None);
        assert_eq!(convert_bits(&[0xff], 8, 5, true), Some(vec![31, 28]));
    }
}
