//! Bitcoin and the chains that copy its address formats: base58check with a
//! version prefix (P2PKH/P2SH), and segwit bech32/bech32m where the chain
//! has a segwit prefix.

use bech32::primitives::decode::{
    CharError, ChecksumError, SegwitHrpstring, SegwitHrpstringError, UncheckedHrpstring,
    UncheckedHrpstringError,
};
use bech32::{Bech32, Bech32m};

use crate::domain::chains::address::{reject_mixed_case, AddressError, AddressKind, Parsed};
use crate::domain::chains::chain::Chain;
use crate::domain::chains::encoding::base58;

/// Length of a P2PKH/P2SH hash (HASH160).
const HASH_LEN: usize = 20;

pub(crate) fn parse(chain: Chain, input: &str) -> Result<Parsed, AddressError> {
    if let Some(hrp) = chain.spec().segwit_hrp {
        if starts_with_ignore_case(input, hrp) && input.as_bytes().get(hrp.len()) == Some(&b'1') {
            return parse_segwit(chain, hrp, input);
        }
    }
    let (kind, payload) = match decode_legacy(chain, input) {
        Ok(decoded) => decoded,
        Err(error) => return Err(segwit_prefix_error(chain, input).unwrap_or(error)),
    };
    let canonical = base58::encode_check(&payload, bs58::Alphabet::BITCOIN);
    // A chain with two versions for one kind (Litecoin P2SH: 0x32 `M…` and
    // the older 0x05 `3…`) links both spellings under its first version.
    let versions = chain.spec().base58_versions;
    let preferred = versions.iter().find(|(_, k)| *k == kind).map(|(v, _)| *v);
    let version_len = versions.first().map_or(1, |(v, _)| v.len());
    let mut parsed = Parsed::plain(chain, canonical, kind);
    if let Some(preferred) = preferred.filter(|v| payload.get(..version_len) != Some(*v)) {
        let mut linked = preferred.to_vec();
        linked.extend_from_slice(payload.get(version_len..).unwrap_or_default());
        parsed.link_key = format!(
            "{}:{}",
            chain.id(),
            base58::encode_check(&linked, bs58::Alphabet::BITCOIN)
        );
    }
    Ok(parsed)
}

/// Decodes a base58check address of `chain`: returns its kind and the
/// payload (version prefix and 20-byte hash).
pub(crate) fn decode_legacy(
    chain: Chain,
    input: &str,
) -> Result<(AddressKind, Vec<u8>), AddressError> {
    let payload = base58::decode_check(input, bs58::Alphabet::BITCOIN)?;
    let versions = chain.spec().base58_versions;
    let version_len = versions.first().map_or(1, |(v, _)| v.len());
    let Some((version, hash)) = payload.split_at_checked(version_len) else {
        return Err(wrong_hash_length(0));
    };
    let kind = versions
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| AddressError::UnknownVersion {
            version: format!("0x{}", hex::encode(version)),
            chain,
        })?;
    if hash.len() != HASH_LEN {
        return Err(wrong_hash_length(hash.len()));
    }
    Ok((kind, payload))
}

fn wrong_hash_length(found: usize) -> AddressError {
    AddressError::WrongLength {
        what: "address hash",
        expected: format!("{HASH_LEN} bytes"),
        found,
    }
}

fn starts_with_ignore_case(input: &str, prefix: &str) -> bool {
    input
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// If `input` is a valid segwit string with another prefix (e.g. testnet
/// `tb1...`), the error to report instead of the base58 one.
fn segwit_prefix_error(chain: Chain, input: &str) -> Option<AddressError> {
    let expected = chain.spec().segwit_hrp?;
    let decoded = SegwitHrpstring::new(input).ok()?;
    Some(AddressError::WrongPrefix {
        found: decoded.hrp().to_lowercase(),
        expected,
        chain,
    })
}

fn parse_segwit(chain: Chain, hrp: &'static str, input: &str) -> Result<Parsed, AddressError> {
    reject_mixed_case(input, "bech32")?;
    let decoded = SegwitHrpstring::new(input).map_err(|e| segwit_error(input, e))?;
    let found = decoded.hrp().to_lowercase();
    if found != hrp {
        return Err(AddressError::WrongPrefix {
            found,
            expected: hrp,
            chain,
        });
    }
    let version = decoded.witness_version().to_u8();
    let program_len = decoded.byte_iter().len();
    let kind = match (version, program_len) {
        (0, 20) => AddressKind::P2wpkh,
        (0, 32) => AddressKind::P2wsh,
        (1, 32) => AddressKind::P2tr,
        (version, _) => AddressKind::WitnessUnknown { version },
    };
    // Bech32 is case-insensitive and otherwise one-to-one: lower case is canonical.
    let canonical = input.to_ascii_lowercase();
    Ok(Parsed::plain(chain, canonical, kind))
}

fn segwit_error(input: &str, error: SegwitHrpstringError) -> AddressError {
    match error {
        SegwitHrpstringError::Unchecked(UncheckedHrpstringError::Char(CharError::MixedCase)) => {
            AddressError::MixedCase { encoding: "bech32" }
        }
        SegwitHrpstringError::Unchecked(UncheckedHrpstringError::Char(CharError::InvalidChar(
            c,
        ))) => AddressError::InvalidCharacter {
            character: c,
            position: input.rfind(c).unwrap_or(0),
            encoding: "bech32",
        },
        SegwitHrpstringError::NoData => AddressError::Malformed {
            encoding: "bech32",
            reason: "empty data section".to_string(),
        },
        SegwitHrpstringError::TooLong(len) => AddressError::WrongLength {
            what: "segwit address",
            expected: "at most 90 characters".to_string(),
            found: len,
        },
        SegwitHrpstringError::InvalidWitnessVersion(fe) => AddressError::WitnessVersion(fe.to_u8()),
        SegwitHrpstringError::Padding(_) => AddressError::Padding { encoding: "bech32" },
        SegwitHrpstringError::WitnessLength(e) => AddressError::WitnessProgram(e.to_string()),
        SegwitHrpstringError::Checksum(ChecksumError::InvalidResidue) => checksum_error(input),
        other => AddressError::Malformed {
            encoding: "bech32",
            reason: other.to_string(),
        },
    }
}

/// Tells a wrong checksum variant (BIP-350: v0 uses bech32, v1+ bech32m)
/// from a plain wrong checksum.
fn checksum_error(input: &str) -> AddressError {
    let Ok(unchecked) = UncheckedHrpstring::new(input) else {
        return AddressError::Bech32Checksum;
    };
    // Six characters or fewer are all checksum: there is no witness version.
    if unchecked.data_part_ascii().len() <= 6 {
        return AddressError::Malformed {
            encoding: "bech32",
            reason: "empty data section".to_string(),
        };
    }
    let Some(version) = unchecked.witness_version().map(|v| v.to_u8()) else {
        return AddressError::Bech32Checksum;
    };
    if version == 0 && unchecked.has_valid_checksum::<Bech32m>() {
        AddressError::Bech32Variant {
            version,
            expected: "bech32",
        }
    } else if version != 0 && unchecked.has_valid_checksum::<Bech32>() {
        AddressError::Bech32Variant {
            version,
            expected: "bech32m",
        }
    } else {
        AddressError::Bech32Checksum
    }
}
