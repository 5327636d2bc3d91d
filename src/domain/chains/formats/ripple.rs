//! XRP Ledger addresses: classic `r...` (base58check in the Ripple
//! alphabet of 0x00 and a 20-byte account id), with an optional destination
//! tag written `r...?dt=123` or `r...:123`; and X-addresses (XLS-5d), which
//! pack the account and tag into one string and are reduced to the classic
//! address plus tag.

use bs58::Alphabet;

use crate::domain::chains::address::{AddressError, AddressExtra, AddressKind, Parsed};
use crate::domain::chains::chain::Chain;
use crate::domain::chains::encoding::base58;

const ALPHABET: &Alphabet = Alphabet::RIPPLE;
const ACCOUNT_VERSION: u8 = 0x00;
const ACCOUNT_LEN: usize = 20;
const X_MAINNET: [u8; 2] = [0x05, 0x44];
const X_TESTNET: [u8; 2] = [0x04, 0x93];
/// Prefix (2) + account (20) + flags (1) + tag (8, little-endian, 32 bits used).
const X_LEN: usize = 31;

pub(crate) fn parse(input: &str) -> Result<Parsed, AddressError> {
    let (address, tag_text) = split_tag(input);
    let suffix_tag = tag_text.map(parse_tag).transpose()?;
    let (account, x_tag) = if address.starts_with(['X', 'T']) {
        decode_x_address(address)?
    } else {
        (decode_classic(address)?, None)
    };
    let tag = match (x_tag, suffix_tag) {
        (Some(_), Some(_)) => return Err(AddressError::DuplicateTag),
        (x, suffix) => x.or(suffix),
    };
    let mut payload = Vec::with_capacity(1 + ACCOUNT_LEN);
    payload.push(ACCOUNT_VERSION);
    payload.extend_from_slice(&account);
    let canonical = base58::encode_check(&payload, ALPHABET);
    let link_key = format!("xrp:{canonical}");
    Ok(Parsed {
        canonical,
        kind: AddressKind::RippleAccount,
        extra: tag.map(AddressExtra::DestinationTag),
        link_key,
    })
}

/// Splits `r...?dt=123` or `r...:123` into address and tag text.
fn split_tag(input: &str) -> (&str, Option<&str>) {
    if let Some((address, tag)) = input.split_once("?dt=") {
        (address, Some(tag))
    } else if let Some((address, tag)) = input.split_once(':') {
        (address, Some(tag))
    } else {
        (input, None)
    }
}

fn parse_tag(text: &str) -> Result<u32, AddressError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::DestinationTag(text.to_string()));
    }
    text.parse()
        .map_err(|_| AddressError::DestinationTag(text.to_string()))
}

fn decode_classic(address: &str) -> Result<Vec<u8>, AddressError> {
    let payload = base58::decode_check(address, ALPHABET)?;
    match payload.split_first() {
        Some((&ACCOUNT_VERSION, account)) if account.len() == ACCOUNT_LEN => Ok(account.to_vec()),
        Some((&ACCOUNT_VERSION, account)) => Err(AddressError::WrongLength {
            what: "XRP account id",
            expected: format!("{ACCOUNT_LEN} bytes"),
            found: account.len(),
        }),
        _ => Err(AddressError::UnknownVersion {
            version: format!("0x{}", hex::encode(payload.get(..1).unwrap_or_default())),
            chain: Chain::Xrp,
        }),
    }
}

fn decode_x_address(address: &str) -> Result<(Vec<u8>, Option<u32>), AddressError> {
    let data = base58::decode_check(address, ALPHABET)?;
    if data.len() != X_LEN {
        return Err(AddressError::WrongLength {
            what: "X-address data",
            expected: format!("{X_LEN} bytes"),
            found: data.len(),
        });
    }
    let (prefix, rest) = data.split_at(2);
    if prefix == X_TESTNET {
        return Err(AddressError::XAddressTestnet);
    }
    if prefix != X_MAINNET {
        return Err(AddressError::XAddress("unknown network prefix"));
    }
    let (account, rest) = rest.split_at(ACCOUNT_LEN);
    let (&flag, tag_bytes) = rest
        .split_first()
        .ok_or(AddressError::XAddress("missing flags"))?;
    let mut tag_le = [0u8; 4];
    tag_le.copy_from_slice(tag_bytes.get(..4).unwrap_or(&[0; 4]));
    let reserved_zero = tag_bytes
        .get(4..)
        .is_some_and(|r| r.iter().all(|&b| b == 0));
    let tag = match flag {
        0 if tag_bytes.iter().all(|&b| b == 0) => None,
        0 => {
            return Err(AddressError::XAddress(
                "tag bytes set while the no-tag flag is given",
            ))
        }
        1 if reserved_zero => Some(u32::from_le_bytes(tag_le)),
        1 => return Err(AddressError::XAddress("64-bit tags are not supported")),
        _ => return Err(AddressError::XAddress("unknown flags byte")),
    };
    Ok((account.to_vec(), tag))
}
